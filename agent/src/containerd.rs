//! The agent's containerd: either the one at `--container-runtime-endpoint`,
//! or Debian's containerd (1.6 or later) started with a generated config and
//! the agent's own root, state and socket, as k3s runs its embedded one. The
//! process is started in its own process group and is not killed with the
//! agent (k3s's `KillMode=process`: containers outlive the agent), and a
//! containerd already serving our socket is reused. Image import and the
//! registry configuration's contents belong to the `images` crate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cri::{self, Cri, CriError};
use crate::paths::AgentPaths;

/// The sandbox (pause) image; the `images` crate builds it and imports it
/// (`images::import::ensure_pause`).
pub const PAUSE_IMAGE: &str = images::pause::IMAGE;

/// How long containerd may take to answer CRI `Version` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ContainerdOptions {
    /// `--container-runtime-endpoint`: use this CRI socket and start nothing.
    pub endpoint: Option<PathBuf>,
    /// The containerd binary.
    pub binary: PathBuf,
    pub sandbox_image: String,
    /// `overlayfs` or `native`; `None` picks overlayfs when this host can use it.
    pub snapshotter: Option<String>,
    /// The CRI plugin's registry section (TOML, `[plugins."io.containerd.grpc.v1.cri".registry]`
    /// and below), as `images::registries::Registries::cri_registry_toml` renders it from
    /// registries.yaml; `None` points `config_path` at [`AgentPaths::containerd_certs_d`].
    pub registry_toml: Option<String>,
}

impl Default for ContainerdOptions {
    fn default() -> ContainerdOptions {
        ContainerdOptions {
            endpoint: None,
            binary: PathBuf::from("containerd"),
            sandbox_image: PAUSE_IMAGE.into(),
            snapshotter: None,
            registry_toml: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    #[error("writing containerd's configuration {path}: {source}")]
    Config {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("starting {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("containerd exited ({status}) before serving CRI; see {log}")]
    Exited { status: std::process::ExitStatus, log: PathBuf },
    #[error("containerd did not answer CRI Version on {socket} within {timeout:?}: {source}")]
    NotServing {
        socket: PathBuf,
        timeout: Duration,
        #[source]
        source: CriError,
    },
    #[error("CRI runtime at {socket}: {source}")]
    Cri {
        socket: PathBuf,
        #[source]
        source: CriError,
    },
}

/// A containerd serving CRI, and the client connected to it.
pub struct Containerd {
    pub socket: PathBuf,
    pub cri: Cri,
    /// containerd's version as CRI reports it (the node's `containerRuntimeVersion` is
    /// `containerd://<this>`).
    pub version: String,
    /// Set when this agent started containerd; dropping it leaves containerd running.
    child: Option<tokio::process::Child>,
}

impl std::fmt::Debug for Containerd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Containerd").field("socket", &self.socket).field("version", &self.version).finish()
    }
}

impl Containerd {
    /// Connects to the configured endpoint, to a containerd already serving our socket, or
    /// starts one and waits until its CRI plugin answers.
    pub async fn start(paths: &AgentPaths, opts: &ContainerdOptions) -> Result<Containerd, ContainerdError> {
        if let Some(endpoint) = &opts.endpoint {
            let (cri, version) =
                probe(endpoint).await.map_err(|source| ContainerdError::Cri { socket: endpoint.clone(), source })?;
            return Ok(Containerd { socket: endpoint.clone(), cri, version, child: None });
        }
        let socket = paths.containerd_socket();
        if socket.exists()
            && let Ok((cri, version)) = probe(&socket).await
        {
            tracing::info!(socket = %socket.display(), "reusing the containerd already serving");
            return Ok(Containerd { socket, cri, version, child: None });
        }
        let config_path = paths.containerd_config();
        let config = render_config(paths, opts, &Host::detect(paths), pick_stream_port());
        write_file(&config_path, &config)
            .map_err(|source| ContainerdError::Config { path: config_path.clone(), source })?;
        let log = paths.agent_dir.join("containerd").join("containerd.log");
        let mut child = spawn(&opts.binary, &config_path, &log)?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(ContainerdError::Exited { status, log });
            }
            match probe(&socket).await {
                Ok((cri, version)) => {
                    tracing::info!(socket = %socket.display(), %version, "containerd is serving");
                    return Ok(Containerd { socket, cri, version, child: Some(child) });
                }
                Err(source) if tokio::time::Instant::now() >= deadline => {
                    return Err(ContainerdError::NotServing { socket, timeout: START_TIMEOUT, source });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The process id of a containerd this agent started.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Whether this agent started containerd (rather than reusing one).
    pub fn started_here(&self) -> bool {
        self.child.is_some()
    }

    /// Stops a containerd this agent started (SIGTERM, then SIGKILL after `grace`), for tests and
    /// for uninstall. Running containers' shims survive, as with `systemctl stop containerd`.
    pub async fn stop(mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else { return };
        if let Some(pid) = child.id().and_then(|pid| rustix::process::Pid::from_raw(pid as i32)) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
}

async fn probe(socket: &Path) -> Result<(Cri, String), CriError> {
    let cri = cri::connect(socket).await?;
    let version = cri.version().await?;
    Ok((cri, version.runtime_version))
}

fn write_file(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(tmp, path)
}

fn spawn(binary: &Path, config: &Path, log: &Path) -> Result<tokio::process::Child, ContainerdError> {
    let err = |source| ContainerdError::Spawn { binary: binary.to_path_buf(), source };
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(err)?;
    let errors = out.try_clone().map_err(err)?;
    let mut command = tokio::process::Command::new(binary);
    command
        .arg("--config")
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(errors)
        // Its own process group: a Ctrl-C or a kill of the agent's group does not reach it.
        .process_group(0)
        .kill_on_drop(false);
    command.spawn().map_err(err)
}

/// What the generated config depends on besides paths and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The kernel can mount overlay with its upper directory under containerd's root.
    pub overlay: bool,
    /// We hold CAP_SYS_RESOURCE. Without it (some VMs and containers) a negative
    /// oom_score_adj cannot be set, and containerd must clamp the sandbox's -998 and the
    /// Guaranteed pods' -997 to its own score, or runc's init fails.
    pub sys_resource: bool,
}

/// CAP_SYS_RESOURCE's bit in the capability sets.
const CAP_SYS_RESOURCE: u32 = 24;

fn has_capability(bit: u32) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << bit) != 0)
}

/// overlayfs's `statfs` magic: an overlay upper directory cannot itself be on overlayfs.
const OVERLAYFS_SUPER_MAGIC: u64 = 0x794c_7630;

impl Host {
    fn detect(paths: &AgentPaths) -> Host {
        let listed = std::fs::read_to_string("/proc/filesystems")
            .map(|list| list.lines().any(|line| line.split_whitespace().last() == Some("overlay")))
            .unwrap_or(false);
        let _ = std::fs::create_dir_all(paths.containerd_root());
        let nested = rustix::fs::statfs(paths.containerd_root())
            .map(|st| st.f_type as u64 == OVERLAYFS_SUPER_MAGIC)
            .unwrap_or(false);
        Host { overlay: listed && !nested, sys_resource: has_capability(CAP_SYS_RESOURCE) }
    }
}

/// A port for CRI's streaming server. containerd 1.6 builds the exec/attach URLs from the
/// configured address, so port 0 would hand out `:0` URLs; ask the kernel for a free one.
fn pick_stream_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(10010)
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn path_str(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// containerd's config (version 2, which 1.6 and 1.7 read and 2.x migrates).
pub fn render_config(paths: &AgentPaths, opts: &ContainerdOptions, host: &Host, stream_port: u16) -> String {
    let snapshotter =
        opts.snapshotter.clone().unwrap_or_else(|| if host.overlay { "overlayfs" } else { "native" }.into());
    let registry = opts.registry_toml.clone().unwrap_or_else(|| {
        format!(
            "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = {}\n",
            path_str(&paths.containerd_certs_d())
        )
    });
    format!(
        r#"# Generated by bramble; rewritten at every agent start.
version = 2
root = {root}
state = {state}

[grpc]
  address = {socket}

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {sandbox}
  stream_server_address = "127.0.0.1"
  stream_server_port = "{stream_port}"
  enable_selinux = false
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  restrict_oom_score_adj = {restrict_oom}

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = {snapshotter}
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = {cni_bin}
  conf_dir = {cni_conf}

{registry}"#,
        root = path_str(&paths.containerd_root()),
        state = path_str(&paths.containerd_state()),
        socket = path_str(&paths.containerd_socket()),
        opt = path_str(&paths.containerd_root().join("opt")),
        sandbox = quote(&opts.sandbox_image),
        snapshotter = quote(&snapshotter),
        cni_bin = path_str(&paths.cni_bin_dir()),
        cni_conf = path_str(&paths.cni_conf_dir()),
        restrict_oom = !host.sys_resource,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_valid_toml_with_our_paths() {
        let paths =
            AgentPaths::new(Path::new("/var/lib/bramble"), Path::new("/run/bramble"), Path::new("/var/log/pods"));
        let text =
            render_config(&paths, &ContainerdOptions::default(), &Host { overlay: false, sys_resource: false }, 4242);
        let doc: toml::Table = toml::from_str(&text).expect("valid TOML");
        assert_eq!(doc["version"].as_integer(), Some(2));
        assert_eq!(doc["root"].as_str(), Some("/var/lib/bramble/agent/containerd"));
        assert_eq!(doc["grpc"]["address"].as_str(), Some("/run/bramble/containerd/containerd.sock"));
        let cri = &doc["plugins"]["io.containerd.grpc.v1.cri"];
        assert_eq!(cri["sandbox_image"].as_str(), Some(PAUSE_IMAGE));
        assert_eq!(cri["stream_server_port"].as_str(), Some("4242"));
        assert_eq!(cri["containerd"]["snapshotter"].as_str(), Some("native"));
        assert_eq!(cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"].as_bool(), Some(false));
        assert_eq!(cri["restrict_oom_score_adj"].as_bool(), Some(true));
        assert_eq!(cri["cni"]["conf_dir"].as_str(), Some("/var/lib/bramble/agent/etc/cni/net.d"));
        assert_eq!(cri["registry"]["config_path"].as_str(), Some("/var/lib/bramble/agent/etc/containerd/certs.d"));
    }

    #[test]
    fn overlay_when_the_host_has_it() {
        let paths = AgentPaths::new(Path::new("/d"), Path::new("/r"), Path::new("/l"));
        let text = render_config(&paths, &ContainerdOptions::default(), &Host { overlay: true, sys_resource: true }, 1);
        let doc: toml::Table = toml::from_str(&text).expect("valid TOML");
        let snapshotter = doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["snapshotter"].as_str();
        assert_eq!(snapshotter, Some("overlayfs"));
    }
}
