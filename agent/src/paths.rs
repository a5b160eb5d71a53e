//! Where the agent keeps its state. k3s keeps its agent state under
//! `<data-dir>/agent` and its runtime state under `/run/k3s`; bramble does the
//! same with `/run/bramble`. Tests running several nodes on one machine give
//! each its own run and pod-log directories.

use std::path::{Path, PathBuf};

/// The directories of one agent.
#[derive(Debug, Clone)]
pub struct AgentPaths {
    /// `<data-dir>/agent`.
    pub agent_dir: PathBuf,
    /// Runtime state that does not survive a reboot: `/run/bramble` by default.
    pub run_dir: PathBuf,
    /// The kubelet's pod log directory: `/var/log/pods` by default.
    pub pod_log_dir: PathBuf,
}

impl AgentPaths {
    pub fn new(data_dir: &Path, run_dir: &Path, pod_log_dir: &Path) -> AgentPaths {
        AgentPaths {
            agent_dir: data_dir.join("agent"),
            run_dir: run_dir.to_path_buf(),
            pod_log_dir: pod_log_dir.to_path_buf(),
        }
    }

    /// containerd's root (images, snapshots): `<data-dir>/agent/containerd`, as k3s.
    pub fn containerd_root(&self) -> PathBuf {
        self.agent_dir.join("containerd")
    }
    /// containerd's state directory.
    pub fn containerd_state(&self) -> PathBuf {
        self.run_dir.join("containerd")
    }
    /// The socket of the containerd the agent starts.
    pub fn containerd_socket(&self) -> PathBuf {
        self.run_dir.join("containerd").join("containerd.sock")
    }
    /// The generated containerd configuration, as k3s's `agent/etc/containerd/config.toml`.
    pub fn containerd_config(&self) -> PathBuf {
        self.agent_dir.join("etc").join("containerd").join("config.toml")
    }
    /// containerd's registry hosts directory (`config_path`), rendered from registries.yaml.
    pub fn containerd_certs_d(&self) -> PathBuf {
        self.agent_dir.join("etc").join("containerd").join("certs.d")
    }
    /// CNI plugin binaries (links to the bramble binary).
    pub fn cni_bin_dir(&self) -> PathBuf {
        self.agent_dir.join("cni").join("bin")
    }
    /// CNI network configuration.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.agent_dir.join("etc").join("cni").join("net.d")
    }
    /// CNI IP allocations (they survive restarts, as host-local's).
    pub fn cni_data_dir(&self) -> PathBuf {
        self.agent_dir.join("cni").join("networks")
    }
    /// Image archives imported at start, as k3s's `agent/images`.
    pub fn images_dir(&self) -> PathBuf {
        self.agent_dir.join("images")
    }
    /// Per-pod directories (volumes): `<data-dir>/agent/pods/<uid>`.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.agent_dir.join("pods").join(uid)
    }
    /// A container's log file, as the kubelet lays them out:
    /// `<pod-log-dir>/<namespace>_<name>_<uid>/<container>/<restart-count>.log`.
    pub fn container_log(&self, namespace: &str, name: &str, uid: &str, container: &str, restart: u32) -> PathBuf {
        self.pod_logs(namespace, name, uid).join(container).join(format!("{restart}.log"))
    }
    /// A pod's log directory (CRI's `log_directory` of the sandbox).
    pub fn pod_logs(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.pod_log_dir.join(format!("{namespace}_{name}_{uid}"))
    }
}
