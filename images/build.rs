//! Compiles `pause/pause.c` into a static, stripped binary for the target
//! architecture (and, on an x86_64 host that has `aarch64-linux-gnu-gcc`,
//! for arm64 too, so the pause archive can be a two-platform index).
//! It does not download or vendor a toolchain: a missing compiler fails the
//! build with a message naming the compiler it tried.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=pause/pause.c");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let host = env::var("HOST").expect("cargo sets HOST");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    let target_underscored = target.replace('-', "_");
    for var in [format!("CC_{target}"), format!("CC_{target_underscored}"), "TARGET_CC".to_string()] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let go_arch = go_arch(&arch).unwrap_or_else(|| panic!("pause: no Go architecture name for target arch {arch}"));
    let compiler = env::var(format!("CC_{target}"))
        .or_else(|_| env::var(format!("CC_{target_underscored}")))
        .or_else(|_| env::var("TARGET_CC"))
        .unwrap_or_else(|_| default_compiler(&arch, target == host).to_string());
    compile(&compiler, &out.join(format!("pause-{go_arch}")));

    // The second platform is a nice-to-have: built only when its cross
    // compiler is on PATH, otherwise an empty file tells lib code it is absent.
    let extra = out.join("pause-arm64-extra");
    if arch == "x86_64" && which("aarch64-linux-gnu-gcc") {
        compile("aarch64-linux-gnu-gcc", &extra);
    } else {
        std::fs::write(&extra, b"").expect("write OUT_DIR/pause-arm64-extra");
    }
    println!("cargo:rustc-env=BRAMBLE_PAUSE_GOARCH={go_arch}");
}

fn go_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        "arm" => Some("arm"),
        "riscv64" => Some("riscv64"),
        _ => None,
    }
}

fn default_compiler(arch: &str, native: bool) -> &'static str {
    match (arch, native) {
        (_, true) => "cc",
        ("aarch64", false) => "aarch64-linux-gnu-gcc",
        ("arm", false) => "arm-linux-gnueabihf-gcc",
        ("riscv64", false) => "riscv64-linux-gnu-gcc",
        _ => "cc",
    }
}

fn compile(compiler: &str, output: &Path) {
    let status = Command::new(compiler)
        .args(["-static", "-Os", "-s", "-Wall", "-Wextra", "-o"])
        .arg(output)
        .arg("pause/pause.c")
        .status()
        .unwrap_or_else(|e| panic!("pause: cannot run C compiler `{compiler}`: {e}"));
    assert!(status.success(), "pause: `{compiler}` failed to compile pause/pause.c ({status})");
}

fn which(program: &str) -> bool {
    env::var_os("PATH").is_some_and(|paths| env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
