//! The CNI plugins without the rest of bramble, for netd's own tests: link it as
//! `bramble-cni` or `loopback` and containerd (or a test) runs it as that plugin.
//! bramble's binary does the same from its `main`.

fn main() -> std::process::ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0).file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    std::process::ExitCode::from(u8::try_from(netd::plugin_main(&name)).unwrap_or(1))
}
