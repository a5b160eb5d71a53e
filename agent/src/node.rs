//! This host as a Node: its capacity (/proc/cpuinfo, /proc/meminfo, statvfs
//! of the data directory), nodeInfo (kernel, /etc/os-release), addresses,
//! k3s's labels, `--node-label`/`--node-taint` at registration, and the
//! kubelet's two heartbeats: the Lease in `kube-node-lease` every 10 s and
//! the status (conditions Ready, MemoryPressure, DiskPressure, PIDPressure)
//! every minute or when a condition changes. Runs no pods (issue 5). The
//! Lease renewal and the condition texts are shared with the hollow nodes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

pub use crate::eviction::Pressure;
use crate::eviction::{Observation, Observations, Signal, Thresholds};

/// The kubelet version bramble's nodes report.
pub const KUBELET_VERSION: &str = "v1.33.5+bramble";
/// How often the Lease is renewed, as the kubelet's default.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often the status is written when nothing changed (the kubelet's nodeStatusReportFrequency).
pub const STATUS_REPORT: Duration = Duration::from_secs(60);
/// The Lease's duration, the kubelet's default.
const LEASE_SECONDS: i32 = 40;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum NodeFlagError {
    #[error("--node-label {0:?}: expected key=value")]
    Label(String),
    #[error("--node-taint {0:?}: expected key[=value]:NoSchedule|PreferNoSchedule|NoExecute")]
    Taint(String),
}

/// Parses `key=value` labels.
pub fn parse_labels(flags: &[String]) -> Result<BTreeMap<String, String>, NodeFlagError> {
    flags
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(NodeFlagError::Label(f.clone())),
        })
        .collect()
}

/// Parses `key[=value]:Effect` taints, as kubectl and k3s write them.
pub fn parse_taints(flags: &[String]) -> Result<Vec<Taint>, NodeFlagError> {
    flags
        .iter()
        .map(|f| {
            let bad = || NodeFlagError::Taint(f.clone());
            let (kv, effect) = f.rsplit_once(':').ok_or_else(bad)?;
            if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                return Err(bad());
            }
            let (key, value) = match kv.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (kv, None),
            };
            if key.is_empty() {
                return Err(bad());
            }
            Ok(Taint { key: key.into(), value, effect: effect.into(), time_added: None })
        })
        .collect()
}

/// What the node is, as configured.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub name: String,
    pub internal_ips: Vec<IpAddr>,
    pub external_ips: Vec<IpAddr>,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// Whose free space is the node's ephemeral storage.
    pub data_dir: PathBuf,
    pub max_pods: u32,
    /// The container runtime as the kubelet reports it (`containerd://1.6.20`); empty for hollow nodes.
    pub runtime_version: String,
    /// The port of the node's kubelet API (`status.daemonEndpoints`); 0 for none.
    pub kubelet_port: u16,
    /// The hard eviction thresholds: the pressure conditions, and what allocatable holds back.
    pub thresholds: Thresholds,
}

/// What the host has, read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub hostname: String,
    pub cpus: u64,
    pub memory_bytes: u64,
    pub memory_available_bytes: u64,
    pub storage_bytes: u64,
    pub storage_free_bytes: u64,
    pub storage_inodes: u64,
    pub storage_inodes_free: u64,
    /// The filesystem of containerd's root (`<data-dir>/agent/containerd`), the kubelet's imagefs.
    pub imagefs_bytes: u64,
    pub imagefs_free_bytes: u64,
    pub imagefs_inodes: u64,
    pub imagefs_inodes_free: u64,
    pub processes: u64,
    pub pid_max: u64,
    pub kernel: String,
    pub os_image: String,
    pub machine_id: String,
    pub boot_id: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

impl Host {
    pub fn read(data_dir: &Path) -> Host {
        let meminfo = read("/proc/meminfo");
        let nodefs = match rustix::fs::statvfs(data_dir) {
            Ok(s) => Fs::of(&s),
            Err(e) => {
                tracing::warn!(dir = %data_dir.display(), "cannot statvfs the data directory: {e}");
                Fs::default()
            }
        };
        let containerd_root = data_dir.join("agent").join("containerd");
        let imagefs = rustix::fs::statvfs(&containerd_root).map(|s| Fs::of(&s)).unwrap_or(nodefs);
        Host {
            hostname: read("/proc/sys/kernel/hostname"),
            cpus: cpu_count(&read("/proc/cpuinfo")),
            memory_bytes: meminfo_kib(&meminfo, "MemTotal") * 1024,
            memory_available_bytes: meminfo_kib(&meminfo, "MemAvailable") * 1024,
            storage_bytes: nodefs.bytes,
            storage_free_bytes: nodefs.free_bytes,
            storage_inodes: nodefs.inodes,
            storage_inodes_free: nodefs.inodes_free,
            imagefs_bytes: imagefs.bytes,
            imagefs_free_bytes: imagefs.free_bytes,
            imagefs_inodes: imagefs.inodes,
            imagefs_inodes_free: imagefs.inodes_free,
            processes: process_count(&read("/proc/loadavg")),
            pid_max: read("/proc/sys/kernel/pid_max").parse().unwrap_or(0),
            kernel: read("/proc/sys/kernel/osrelease"),
            os_image: os_image(&read("/etc/os-release")),
            machine_id: read("/etc/machine-id"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
        }
    }

    /// The eviction signals this host shows. Memory is MemAvailable (the kubelet
    /// subtracts the root cgroup's working set instead; both leave out reclaimable cache).
    pub fn observations(&self) -> Observations {
        let mut out = Observations::new();
        let mut add = |signal, capacity: u64, available: u64| {
            if capacity > 0 {
                out.insert(signal, Observation { capacity, available: available.min(capacity) });
            }
        };
        add(Signal::MemoryAvailable, self.memory_bytes, self.memory_available_bytes);
        add(Signal::NodefsAvailable, self.storage_bytes, self.storage_free_bytes);
        add(Signal::NodefsInodesFree, self.storage_inodes, self.storage_inodes_free);
        add(Signal::ImagefsAvailable, self.imagefs_bytes, self.imagefs_free_bytes);
        add(Signal::ImagefsInodesFree, self.imagefs_inodes, self.imagefs_inodes_free);
        add(Signal::PidAvailable, self.pid_max, self.pid_max.saturating_sub(self.processes));
        out
    }
}

/// Sizes of one filesystem, for an unprivileged user (`f_bavail`, `f_favail`).
#[derive(Debug, Clone, Copy, Default)]
struct Fs {
    bytes: u64,
    free_bytes: u64,
    inodes: u64,
    inodes_free: u64,
}

impl Fs {
    fn of(s: &rustix::fs::StatVfs) -> Fs {
        Fs {
            bytes: s.f_blocks * s.f_frsize,
            free_bytes: s.f_bavail * s.f_frsize,
            inodes: s.f_files,
            inodes_free: s.f_favail,
        }
    }
}

/// `processor` lines of /proc/cpuinfo; at least one.
fn cpu_count(cpuinfo: &str) -> u64 {
    let n = cpuinfo.lines().filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor")).count() as u64;
    n.max(1)
}

fn meminfo_kib(meminfo: &str, field: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The 4th field of /proc/loadavg is `running/total` tasks.
fn process_count(loadavg: &str) -> u64 {
    loadavg.split_whitespace().nth(3).and_then(|f| f.split_once('/')?.1.parse().ok()).unwrap_or(0)
}

fn os_image(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// Rust's name of the architecture as Go (and so Kubernetes) names it.
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        "riscv64" => "riscv64",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        other => other,
    }
}

/// The four conditions a kubelet posts; `transitions` keeps the earlier
/// transition times of conditions whose status did not change.
pub fn conditions(pressure: Pressure, transitions: &BTreeMap<String, (String, Time)>) -> Vec<NodeCondition> {
    let now = Time(Timestamp::now());
    let c = |type_: &str, status: &str, reason: &str, message: &str| {
        let since = match transitions.get(type_) {
            Some((s, t)) if s == status => t.clone(),
            _ => now.clone(),
        };
        NodeCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_heartbeat_time: Some(now.clone()),
            last_transition_time: Some(since),
        }
    };
    let memory = if pressure.memory {
        c("MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
    } else {
        c("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available")
    };
    let disk = if pressure.disk {
        c("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure")
    } else {
        c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
    };
    let pid = if pressure.pid {
        c("PIDPressure", "True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available")
    } else {
        c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available")
    };
    vec![memory, disk, pid, c("Ready", "True", "KubeletReady", "kubelet is posting ready status")]
}

/// The labels k3s's nodes carry, then `--node-label`s.
pub fn labels(config: &NodeConfig, arch: &str) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = [
        ("kubernetes.io/hostname", config.name.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", arch),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", arch),
        ("node.kubernetes.io/instance-type", "k3s"),
        ("beta.kubernetes.io/instance-type", "k3s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    labels.extend(config.labels.clone());
    labels
}

fn status(config: &NodeConfig, host: &Host, arch: &str, conditions: Vec<NodeCondition>) -> NodeStatus {
    let reserved = |signal, capacity| config.thresholds.reserved(signal, capacity);
    let memory_allocatable = host.memory_bytes.saturating_sub(reserved(Signal::MemoryAvailable, host.memory_bytes));
    let storage_allocatable = host.storage_bytes.saturating_sub(reserved(Signal::NodefsAvailable, host.storage_bytes));
    let capacity: BTreeMap<String, Quantity> = [
        ("cpu", host.cpus.to_string()),
        ("memory", format!("{}Ki", host.memory_bytes / 1024)),
        ("pods", config.max_pods.to_string()),
        ("ephemeral-storage", format!("{}Ki", host.storage_bytes / 1024)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v)))
    .collect();
    let allocatable: BTreeMap<String, Quantity> = [
        ("cpu", host.cpus.to_string()),
        ("memory", format!("{}Ki", memory_allocatable / 1024)),
        ("pods", config.max_pods.to_string()),
        ("ephemeral-storage", storage_allocatable.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v)))
    .collect();
    let mut addresses: Vec<NodeAddress> = config
        .internal_ips
        .iter()
        .map(|ip| NodeAddress { type_: "InternalIP".into(), address: ip.to_string() })
        .collect();
    addresses.extend(
        config.external_ips.iter().map(|ip| NodeAddress { type_: "ExternalIP".into(), address: ip.to_string() }),
    );
    addresses.push(NodeAddress { type_: "Hostname".into(), address: config.name.clone() });
    NodeStatus {
        capacity: Some(capacity),
        allocatable: Some(allocatable),
        addresses: Some(addresses),
        conditions: Some(conditions),
        daemon_endpoints: (config.kubelet_port != 0).then(|| NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: i32::from(config.kubelet_port) }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: arch.into(),
            boot_id: host.boot_id.clone(),
            container_runtime_version: config.runtime_version.clone(),
            kernel_version: host.kernel.clone(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: host.machine_id.clone(),
            operating_system: "linux".into(),
            os_image: host.os_image.clone(),
            system_uuid: String::new(),
            swap: None,
        }),
        ..Default::default()
    }
}

/// The Node as first registered.
pub fn node_object(config: &NodeConfig, host: &Host) -> Node {
    let arch = go_arch(std::env::consts::ARCH);
    let mut annotations = BTreeMap::new();
    annotations.insert("k3s.io/hostname".to_string(), host.hostname.clone());
    let ips = |ips: &[IpAddr]| ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(",");
    if !config.internal_ips.is_empty() {
        annotations.insert("k3s.io/internal-ip".into(), ips(&config.internal_ips));
    }
    if !config.external_ips.is_empty() {
        annotations.insert("k3s.io/external-ip".into(), ips(&config.external_ips));
    }
    Node {
        metadata: ObjectMeta {
            name: Some(config.name.clone()),
            labels: Some(labels(config, arch)),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!config.taints.is_empty()).then(|| config.taints.clone()),
            ..Default::default()
        }),
        status: Some(status(
            config,
            host,
            arch,
            conditions(config.thresholds.pressure(&host.observations()), &BTreeMap::new()),
        )),
    }
}

/// Renews (or creates) a node's Lease in `kube-node-lease`.
pub async fn renew_lease(leases: &Api<Lease>, name: &str, uid: &str) -> Result<(), kube::Error> {
    let renew = MicroTime(Timestamp::now());
    let patch = json!({"spec": {"renewTime": renew, "holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS}});
    match leases.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Err(kube::Error::Api(s)) if s.code == 404 => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    owner_references: Some(vec![OwnerReference {
                        api_version: "v1".into(),
                        kind: "Node".into(),
                        name: name.to_string(),
                        uid: uid.to_string(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(name.to_string()),
                    lease_duration_seconds: Some(LEASE_SECONDS),
                    renew_time: Some(renew),
                    ..Default::default()
                }),
            };
            leases.create(&PostParams::default(), &lease).await.map(|_| ())
        }
        other => other.map(|_| ()),
    }
}

/// Registers the node (or takes over the Node of an earlier run) and
/// returns its uid.
pub async fn register(client: &kube::Client, config: &NodeConfig) -> Result<String, kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let host = Host::read(&config.data_dir);
    let node = node_object(config, &host);
    let created = match nodes.create(&PostParams::default(), &node).await {
        Ok(n) => n,
        // Labels and taints apply at registration only, as k3s's do.
        Err(kube::Error::Api(s)) if s.code == 409 => nodes.get(&config.name).await?,
        Err(e) => return Err(e),
    };
    nodes.patch_status(&config.name, &PatchParams::default(), &Patch::Merge(&json!({"status": node.status}))).await?;
    tracing::info!(node = %config.name, "node registered");
    Ok(created.metadata.uid.unwrap_or_default())
}

/// Registers the node, then keeps its Lease and status fresh until the
/// process ends. Failed heartbeats are logged and retried on the next tick.
///
/// `pressure` is the kubelet's eviction manager's view (with its minimum
/// reclaim and transition period); without one, the thresholds are applied
/// to each reading as it is.
pub async fn run(
    client: kube::Client,
    config: NodeConfig,
    mut pressure: Option<tokio::sync::watch::Receiver<Pressure>>,
) -> Result<(), kube::Error> {
    let uid = register(&client, &config).await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    let arch = go_arch(std::env::consts::ARCH);
    let mut tick = tokio::time::interval(HEARTBEAT);
    let mut last_report = tokio::time::Instant::now();
    let mut reported = config.thresholds.pressure(&Host::read(&config.data_dir).observations());
    let mut transitions: BTreeMap<String, (String, Time)> = BTreeMap::new();
    let mut renew_at = tokio::time::Instant::now();
    loop {
        // A change of pressure is written at once; the Lease keeps its own beat.
        match pressure.as_mut() {
            Some(rx) => {
                tokio::select! {
                    _ = tick.tick() => {}
                    changed = rx.changed() => if changed.is_err() { pressure = None },
                }
            }
            None => {
                tick.tick().await;
            }
        }
        if tokio::time::Instant::now() >= renew_at {
            renew_at = tokio::time::Instant::now() + HEARTBEAT - Duration::from_millis(500);
            if let Err(e) = renew_lease(&leases, &config.name, &uid).await {
                tracing::warn!(node = %config.name, "cannot renew the node's lease: {e}");
            }
        }
        let host = Host::read(&config.data_dir);
        let seen = match pressure.as_ref() {
            Some(rx) => *rx.borrow(),
            None => config.thresholds.pressure(&host.observations()),
        };
        if seen == reported && last_report.elapsed() < STATUS_REPORT {
            continue;
        }
        let conditions = conditions(seen, &transitions);
        let status = status(&config, &host, arch, conditions.clone());
        match nodes.patch_status(&config.name, &PatchParams::default(), &Patch::Merge(&json!({"status": status}))).await
        {
            Ok(_) => {
                reported = seen;
                last_report = tokio::time::Instant::now();
                transitions = conditions
                    .into_iter()
                    .filter_map(|c| Some((c.type_, (c.status, c.last_transition_time?))))
                    .collect();
            }
            Err(e) => tracing::warn!(node = %config.name, "cannot update the node's status: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_files() {
        assert_eq!(cpu_count("processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\n"), 2);
        assert_eq!(cpu_count(""), 1);
        assert_eq!(meminfo_kib("MemTotal:        8000000 kB\nMemAvailable:    4000 kB\n", "MemTotal"), 8_000_000);
        assert_eq!(meminfo_kib("MemTotal:        8000000 kB\nMemAvailable:    4000 kB\n", "MemAvailable"), 4000);
        assert_eq!(process_count("0.10 0.20 0.30 2/345 6789"), 345);
        assert_eq!(
            os_image("NAME=Debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        let host = Host::read(Path::new("/"));
        assert!(host.cpus >= 1 && host.memory_bytes > 0 && host.storage_bytes > 0, "{host:?}");
    }

    #[test]
    fn flags() {
        let labels = parse_labels(&["a=b".into(), "bramble.dev/x=".into()]).expect("labels");
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["bramble.dev/x"], "");
        assert_eq!(parse_labels(&["nope".into()]), Err(NodeFlagError::Label("nope".into())));
        let taints =
            parse_taints(&["dedicated=gpu:NoSchedule".into(), "spot:PreferNoSchedule".into()]).expect("taints");
        assert_eq!(
            (taints[0].key.as_str(), taints[0].value.as_deref(), taints[0].effect.as_str()),
            ("dedicated", Some("gpu"), "NoSchedule")
        );
        assert_eq!((taints[1].key.as_str(), taints[1].value.as_deref()), ("spot", None));
        assert!(parse_taints(&["a=b:Sometimes".into()]).is_err());
        assert!(parse_taints(&["a=b".into()]).is_err());
    }

    fn host() -> Host {
        Host {
            hostname: "pi1".into(),
            cpus: 4,
            memory_bytes: 8 << 30,
            memory_available_bytes: 4 << 30,
            storage_bytes: 100 << 30,
            storage_free_bytes: 50 << 30,
            storage_inodes: 1 << 20,
            storage_inodes_free: 1 << 19,
            imagefs_bytes: 100 << 30,
            imagefs_free_bytes: 50 << 30,
            imagefs_inodes: 1 << 20,
            imagefs_inodes_free: 1 << 19,
            processes: 300,
            pid_max: 32768,
            kernel: "6.6.0".into(),
            os_image: "Debian".into(),
            machine_id: "m".into(),
            boot_id: "b".into(),
        }
    }

    #[test]
    fn the_node_object() {
        let config = NodeConfig {
            name: "worker-1".into(),
            internal_ips: vec!["192.168.1.20".parse().expect("ip")],
            external_ips: vec!["203.0.113.5".parse().expect("ip")],
            labels: [("zone".to_string(), "a".to_string())].into(),
            taints: parse_taints(&["k=v:NoSchedule".into()]).expect("taint"),
            data_dir: "/".into(),
            max_pods: 110,
            runtime_version: "containerd://1.6.20".into(),
            kubelet_port: 10250,
            thresholds: Thresholds::default(),
        };
        let node = node_object(&config, &host());
        let labels = node.metadata.labels.expect("labels");
        assert_eq!(labels["kubernetes.io/hostname"], "worker-1");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], go_arch(std::env::consts::ARCH));
        assert_eq!(labels["node.kubernetes.io/instance-type"], "k3s");
        assert_eq!(labels["zone"], "a");
        assert_eq!(node.spec.expect("spec").taints.expect("taints")[0].key, "k");
        let status = node.status.expect("status");
        let endpoints = status.daemon_endpoints.as_ref().and_then(|d| d.kubelet_endpoint.as_ref());
        assert_eq!(endpoints.map(|e| e.port), Some(10250));
        assert_eq!(
            status.node_info.as_ref().map(|i| i.container_runtime_version.as_str()),
            Some("containerd://1.6.20")
        );
        assert_eq!(status.capacity.as_ref().expect("capacity")["cpu"].0, "4");
        assert_eq!(status.capacity.as_ref().expect("capacity")["memory"].0, "8388608Ki");
        // k3s's thresholds hold back 5% of the disk and no memory.
        let allocatable = status.allocatable.as_ref().expect("allocatable");
        assert_eq!(allocatable["memory"].0, "8388608Ki");
        assert_eq!(allocatable["ephemeral-storage"].0, ((100u64 << 30) - (5u64 << 30)).to_string());
        let addresses: Vec<(String, String)> =
            status.addresses.expect("addresses").into_iter().map(|a| (a.type_, a.address)).collect();
        assert_eq!(
            addresses,
            [("InternalIP", "192.168.1.20"), ("ExternalIP", "203.0.113.5"), ("Hostname", "worker-1")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let info = status.node_info.expect("info");
        assert!(info.kubelet_version.starts_with("v1.3") && info.kubelet_version.ends_with("+bramble"));
        let conditions: Vec<(String, String)> =
            status.conditions.expect("conditions").into_iter().map(|c| (c.type_, c.status)).collect();
        assert_eq!(
            conditions,
            [("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False"), ("Ready", "True")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn pressure_follows_the_eviction_thresholds() {
        let k3s = Thresholds::default();
        assert_eq!(k3s.pressure(&host().observations()), Pressure::default());
        let low = Host {
            memory_available_bytes: 50 << 20,
            storage_free_bytes: 4 << 30,
            imagefs_free_bytes: 4 << 30,
            processes: 32000,
            ..host()
        };
        // k3s sets no memory or PID threshold.
        assert_eq!(k3s.pressure(&low.observations()), Pressure { disk: true, ..Default::default() });
        let all = Thresholds::parse(Some("memory.available<100Mi,nodefs.available<5%,pid.available<5%"), None)
            .expect("thresholds");
        assert_eq!(all.pressure(&low.observations()), Pressure { memory: true, disk: true, pid: true });
        // The containerd root's filesystem alone can be full.
        let images_full = Host { imagefs_free_bytes: 1 << 30, ..host() };
        assert_eq!(k3s.pressure(&images_full.observations()), Pressure { disk: true, ..Default::default() });
    }

    #[test]
    fn transition_times_are_kept_while_the_status_holds() {
        let first = conditions(Pressure::default(), &BTreeMap::new());
        let earlier = Time(Timestamp::UNIX_EPOCH);
        let kept: BTreeMap<String, (String, Time)> =
            first.iter().map(|c| (c.type_.clone(), (c.status.clone(), earlier.clone()))).collect();
        let second = conditions(Pressure { memory: true, ..Default::default() }, &kept);
        let by_type = |t: &str| second.iter().find(|c| c.type_ == t).and_then(|c| c.last_transition_time.clone());
        assert_eq!(by_type("Ready"), Some(earlier.clone()));
        assert_ne!(by_type("MemoryPressure"), Some(earlier));
    }
}
