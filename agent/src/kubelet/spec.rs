//! A Pod's spec turned into CRI configs: the sandbox (metadata, DNS, host
//! ports, namespaces, cgroup parent), each container (command, env, mounts,
//! resources, security context), the kubelet's managed `/etc/hosts`, the
//! image pull policy and pull-secret credentials. Pure functions: no IO
//! beyond what the caller hands in.

use std::collections::HashMap;

use base64::Engine;
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::env::ParsedQuantity;
use super::volumes::Mount;

/// The labels by which the kubelet (and we, at adoption) find a pod's sandboxes and containers.
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";
/// Annotation with the container's restart count, as the kubelet's.
pub const RESTART_COUNT_ANNOTATION: &str = "io.kubernetes.container.restartCount";

/// CPU period of the CFS quota, as the kubelet's default.
const CPU_PERIOD: i64 = 100_000;
const MIN_SHARES: i64 = 2;
const MIN_QUOTA: i64 = 1000;

/// What the sandbox config needs besides the pod.
#[derive(Debug, Clone)]
pub struct SandboxContext {
    pub log_directory: String,
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    /// The host's resolv.conf, for dnsPolicy Default (and ClusterFirst without cluster DNS).
    pub host_resolv_conf: String,
    /// The node's hostname, a hostNetwork pod's hostname.
    pub node_hostname: String,
}

/// The pod's QoS class, as the API computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl Qos {
    pub fn as_str(self) -> &'static str {
        match self {
            Qos::Guaranteed => "Guaranteed",
            Qos::Burstable => "Burstable",
            Qos::BestEffort => "BestEffort",
        }
    }
}

fn quantity(map: Option<&std::collections::BTreeMap<String, Quantity>>, name: &str) -> Option<ParsedQuantity> {
    map.and_then(|m| m.get(name)).and_then(|q| ParsedQuantity::parse(&q.0).ok())
}

/// The QoS class: Guaranteed when every container has cpu and memory limits equal to their
/// requests, BestEffort when none has any, Burstable otherwise.
pub fn qos_class(pod: &Pod) -> Qos {
    let Some(spec) = &pod.spec else { return Qos::BestEffort };
    let all = spec.init_containers.iter().flatten().chain(&spec.containers);
    let mut any = false;
    let mut guaranteed = true;
    for c in all {
        let r = c.resources.as_ref();
        let requests = r.and_then(|r| r.requests.as_ref());
        let limits = r.and_then(|r| r.limits.as_ref());
        for name in ["cpu", "memory"] {
            let req = quantity(requests, name).map(|q| q.ceil_scaled(1000));
            let lim = quantity(limits, name).map(|q| q.ceil_scaled(1000));
            if req.is_some_and(|v| v > 0) || lim.is_some_and(|v| v > 0) {
                any = true;
            }
            match (req, lim) {
                (_, None) => guaranteed = false,
                (Some(req), Some(lim)) if req != lim => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => Qos::BestEffort,
        (true, true) => Qos::Guaranteed,
        (true, false) => Qos::Burstable,
    }
}

/// The pod's cgroup (cgroupfs driver): `/kubepods/pod<uid>` for Guaranteed pods,
/// `/kubepods/burstable/pod<uid>` and `/kubepods/besteffort/pod<uid>` otherwise, the kubelet's
/// layout. Pod-level limits are not set on it; each container carries its own.
pub fn cgroup_parent(pod: &Pod) -> String {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    match qos_class(pod) {
        Qos::Guaranteed => format!("/kubepods/pod{uid}"),
        Qos::Burstable => format!("/kubepods/burstable/pod{uid}"),
        Qos::BestEffort => format!("/kubepods/besteffort/pod{uid}"),
    }
}

pub fn host_network(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false)
}

/// The pod's hostname: the node's for hostNetwork pods, else `spec.hostname` or the pod name,
/// at most 63 characters and not ending in `-` or `.`.
pub fn pod_hostname(pod: &Pod, node_hostname: &str) -> String {
    if host_network(pod) {
        return node_hostname.to_string();
    }
    let name =
        pod.spec.as_ref().and_then(|s| s.hostname.clone()).or_else(|| pod.metadata.name.clone()).unwrap_or_default();
    let mut name: String = name.chars().take(63).collect();
    while name.ends_with(['-', '.']) {
        name.pop();
    }
    name
}

fn parse_resolv_conf(text: &str) -> cri::DnsConfig {
    let mut dns = cri::DnsConfig::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => dns.servers.extend(words.next().map(str::to_string)),
            Some("search") | Some("domain") => dns.searches = words.map(str::to_string).collect(),
            Some("options") => dns.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    dns
}

/// The sandbox's DNS configuration by dnsPolicy, merged with `spec.dnsConfig`.
pub fn dns_config(pod: &Pod, ctx: &SandboxContext) -> cri::DnsConfig {
    let spec = pod.spec.as_ref();
    let policy = spec.and_then(|s| s.dns_policy.as_deref()).unwrap_or("ClusterFirst");
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let cluster = || cri::DnsConfig {
        servers: ctx.cluster_dns.clone(),
        searches: vec![
            format!("{namespace}.svc.{}", ctx.cluster_domain),
            format!("svc.{}", ctx.cluster_domain),
            ctx.cluster_domain.clone(),
        ],
        options: vec!["ndots:5".into()],
    };
    let mut dns = match policy {
        "None" => cri::DnsConfig::default(),
        "ClusterFirstWithHostNet" if !ctx.cluster_dns.is_empty() => cluster(),
        // ClusterFirst on the host network is Default, as the kubelet's.
        "ClusterFirst" if !ctx.cluster_dns.is_empty() && !host_network(pod) => cluster(),
        _ => parse_resolv_conf(&ctx.host_resolv_conf),
    };
    if let Some(extra) = spec.and_then(|s| s.dns_config.as_ref()) {
        for server in extra.nameservers.iter().flatten() {
            if !dns.servers.contains(server) {
                dns.servers.push(server.clone());
            }
        }
        for search in extra.searches.iter().flatten() {
            if !dns.searches.contains(search) {
                dns.searches.push(search.clone());
            }
        }
        for option in extra.options.iter().flatten() {
            let text = match &option.value {
                Some(value) => format!("{}:{value}", option.name.as_deref().unwrap_or_default()),
                None => option.name.clone().unwrap_or_default(),
            };
            let key = text.split(':').next().unwrap_or_default().to_string();
            dns.options.retain(|o| o.split(':').next() != Some(key.as_str()));
            dns.options.push(text);
        }
    }
    dns
}

fn protocol(name: Option<&str>) -> i32 {
    match name {
        Some("UDP") => cri::Protocol::Udp as i32,
        Some("SCTP") => cri::Protocol::Sctp as i32,
        _ => cri::Protocol::Tcp as i32,
    }
}

fn namespace_options(pod: &Pod) -> cri::NamespaceOption {
    let spec = pod.spec.as_ref();
    let flag = |f: fn(&k8s_openapi::api::core::v1::PodSpec) -> Option<bool>| spec.and_then(f).unwrap_or(false);
    let pod_mode = cri::NamespaceMode::Pod as i32;
    let node = cri::NamespaceMode::Node as i32;
    cri::NamespaceOption {
        network: if flag(|s| s.host_network) { node } else { pod_mode },
        pid: if flag(|s| s.host_pid) {
            node
        } else if flag(|s| s.share_process_namespace) {
            pod_mode
        } else {
            cri::NamespaceMode::Container as i32
        },
        ipc: if flag(|s| s.host_ipc) { node } else { pod_mode },
        ..Default::default()
    }
}

/// The pod's identifying labels (CRI labels of its sandbox and containers).
pub fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    HashMap::from([
        (POD_NAME_LABEL.to_string(), pod.metadata.name.clone().unwrap_or_default()),
        (POD_NAMESPACE_LABEL.to_string(), pod.metadata.namespace.clone().unwrap_or_default()),
        (POD_UID_LABEL.to_string(), pod.metadata.uid.clone().unwrap_or_default()),
    ])
}

/// RunPodSandbox's config.
pub fn sandbox_config(pod: &Pod, ctx: &SandboxContext, attempt: u32) -> cri::PodSandboxConfig {
    let spec = pod.spec.as_ref();
    let mut labels: HashMap<String, String> = pod.metadata.labels.clone().unwrap_or_default().into_iter().collect();
    labels.extend(pod_labels(pod));
    let annotations = pod.metadata.annotations.clone().unwrap_or_default().into_iter().collect();
    let port_mappings = spec
        .into_iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.is_some_and(|h| h > 0))
        .map(|p| cri::PortMapping {
            protocol: protocol(p.protocol.as_deref()),
            container_port: p.container_port,
            host_port: p.host_port.unwrap_or_default(),
            host_ip: p.host_ip.clone().unwrap_or_default(),
        })
        .collect();
    let psc = spec.and_then(|s| s.security_context.as_ref());
    let privileged = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
        .any(|c| c.security_context.as_ref().and_then(|sc| sc.privileged).unwrap_or(false));
    let sysctls = psc
        .and_then(|sc| sc.sysctls.as_ref())
        .map(|list| list.iter().map(|s| (s.name.clone(), s.value.clone())).collect())
        .unwrap_or_default();
    let security_context = cri::LinuxSandboxSecurityContext {
        namespace_options: Some(namespace_options(pod)),
        run_as_user: psc.and_then(|sc| sc.run_as_user).map(|value| cri::Int64Value { value }),
        run_as_group: psc.and_then(|sc| sc.run_as_group).map(|value| cri::Int64Value { value }),
        supplemental_groups: psc.and_then(|sc| sc.supplemental_groups.clone()).unwrap_or_default(),
        privileged,
        seccomp: Some(cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::Unconfined as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            attempt,
        }),
        // A hostNetwork sandbox shares the host's UTS namespace: it has no hostname of its own.
        hostname: if host_network(pod) { String::new() } else { pod_hostname(pod, &ctx.node_hostname) },
        log_directory: ctx.log_directory.clone(),
        dns_config: Some(dns_config(pod, ctx)),
        port_mappings,
        labels,
        annotations,
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent(pod),
            security_context: Some(security_context),
            sysctls,
            ..Default::default()
        }),
        windows: None,
    }
}

/// The kubelet's managed `/etc/hosts`: localhost lines, the pod's own name on its IP, and its
/// hostAliases; a hostNetwork pod gets the host's file.
pub fn hosts_file(
    pod: &Pod,
    pod_ip: Option<&str>,
    host_hosts: &str,
    node_hostname: &str,
    cluster_domain: &str,
) -> String {
    let spec = pod.spec.as_ref();
    let mut out = String::new();
    if host_network(pod) {
        out.push_str("# Kubernetes-managed hosts file (host network).\n");
        out.push_str(host_hosts);
        if !host_hosts.ends_with('\n') && !host_hosts.is_empty() {
            out.push('\n');
        }
    } else {
        out.push_str("# Kubernetes-managed hosts file.\n");
        out.push_str("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        out.push_str(
            "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
        );
        if let Some(ip) = pod_ip.filter(|ip| !ip.is_empty()) {
            let hostname = pod_hostname(pod, node_hostname);
            match spec.and_then(|s| s.subdomain.as_deref()).filter(|s| !s.is_empty()) {
                Some(sub) => {
                    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                    out.push_str(&format!("{ip}\t{hostname}.{sub}.{ns}.svc.{cluster_domain}\t{hostname}\n"));
                }
                None => out.push_str(&format!("{ip}\t{hostname}\n")),
            }
        }
    }
    let aliases = spec.and_then(|s| s.host_aliases.as_ref()).filter(|a| !a.is_empty());
    if let Some(aliases) = aliases {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            let names = alias.hostnames.clone().unwrap_or_default().join("\t");
            out.push_str(&format!("{}\t{names}\n", alias.ip));
        }
    }
    out
}

/// Whether an image must be pulled before a container starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// The container's pull policy, defaulted as the API does: Always for `:latest` or no tag
/// (and no digest), IfNotPresent otherwise.
/// An init container that keeps running beside the containers (`restartPolicy: Always`).
pub fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

pub fn pull_policy(container: &Container) -> PullPolicy {
    match container.image_pull_policy.as_deref() {
        Some("Always") => PullPolicy::Always,
        Some("Never") => PullPolicy::Never,
        Some("IfNotPresent") => PullPolicy::IfNotPresent,
        _ => {
            let image = container.image.as_deref().unwrap_or_default();
            if image.contains('@') {
                return PullPolicy::IfNotPresent;
            }
            let last = image.rsplit('/').next().unwrap_or(image);
            match last.split_once(':') {
                Some((_, "latest")) | None => PullPolicy::Always,
                Some(_) => PullPolicy::IfNotPresent,
            }
        }
    }
}

/// The registry host of an image reference (`docker.io` when it has none).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

fn normalise_registry(key: &str) -> String {
    let key = key.trim_start_matches("https://").trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.to_string(),
    }
}

/// The credentials for `image` in the pod's pull secrets (`.dockerconfigjson` or `.dockercfg`
/// contents), in the secrets' order; the kubelet tries each until a pull succeeds.
///
/// `server_address` stays empty, as the kubelet leaves it: containerd sends the
/// credentials only to a host equal to `server_address` parsed as a URL, so a
/// bare `127.0.0.1:5000` fails the pull ("parse server address"), `docker.io`
/// matches no host, and no mirror would ever get them. The secret's registry
/// is matched to the image's here instead.
pub fn pull_auths(image: &str, docker_configs: &[Vec<u8>]) -> Vec<cri::AuthConfig> {
    let registry = registry_of(image);
    let mut auths = Vec::new();
    for raw in docker_configs {
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(raw) else { continue };
        let entries = doc.get("auths").unwrap_or(&doc);
        let Some(entries) = entries.as_object() else { continue };
        for (key, entry) in entries {
            if normalise_registry(key) != registry {
                continue;
            }
            let text = |name: &str| entry.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let (mut username, mut password) = (text("username"), text("password"));
            let auth = text("auth");
            if username.is_empty()
                && !auth.is_empty()
                && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&auth)
                && let Some((u, p)) = String::from_utf8_lossy(&decoded).split_once(':')
            {
                username = u.to_string();
                password = p.to_string();
            }
            auths.push(cri::AuthConfig {
                username,
                password,
                server_address: String::new(),
                identity_token: text("identitytoken"),
                registry_token: text("registrytoken"),
                auth: String::new(),
            });
        }
    }
    auths
}

/// Everything a container config depends on besides the pod.
#[derive(Debug, Clone)]
pub struct ContainerContext<'a> {
    pub attempt: u32,
    pub image_ref: &'a str,
    pub env: &'a [(String, String)],
    pub mounts: &'a [Mount],
    /// Host path of the pod's managed hosts file (`None`: leave the image's).
    pub hosts_file: Option<&'a std::path::Path>,
    /// Host path of this container's termination message file.
    pub termination_log: &'a std::path::Path,
    /// The node's memory capacity in bytes (for the OOM score of Burstable pods).
    pub memory_capacity: u64,
    /// The image's user as CRI reports it (uid, or a name).
    pub image_uid: Option<i64>,
    pub image_user: &'a str,
}

/// Why a container cannot be created; shown as `CreateContainerConfigError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("container has runAsNonRoot and image will run as root (pod: \"{pod}\", container: {container})")]
    RunsAsRoot { pod: String, container: String },
    #[error(
        "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root (pod: \"{pod}\", container: {container})"
    )]
    NonNumericUser { user: String, pod: String, container: String },
}

/// The kubelet's default masked and read-only paths of unprivileged containers.
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// CPU shares, quota and memory limit from requests and limits, as the kubelet maps them.
pub fn linux_resources(pod: &Pod, container: &Container, memory_capacity: u64) -> cri::LinuxContainerResources {
    let r = container.resources.as_ref();
    let requests = r.and_then(|r| r.requests.as_ref());
    let limits = r.and_then(|r| r.limits.as_ref());
    let milli = |q: Option<ParsedQuantity>| q.map(|q| i64::try_from(q.ceil_scaled(1000)).unwrap_or(i64::MAX));
    let bytes = |q: Option<ParsedQuantity>| q.map(|q| i64::try_from(q.ceil_scaled(1)).unwrap_or(i64::MAX));
    let cpu_limit = milli(quantity(limits, "cpu"));
    let cpu_request = milli(quantity(requests, "cpu")).or(cpu_limit);
    let memory_limit = bytes(quantity(limits, "memory"));
    let memory_request = bytes(quantity(requests, "memory")).or(memory_limit);
    let cpu_shares = cpu_request.map(|m| (m * 1024 / 1000).max(MIN_SHARES)).unwrap_or(MIN_SHARES);
    let (cpu_quota, cpu_period) = match cpu_limit {
        Some(m) if m > 0 => ((m * CPU_PERIOD / 1000).max(MIN_QUOTA), CPU_PERIOD),
        _ => (0, 0),
    };
    let oom_score_adj = match qos_class(pod) {
        Qos::Guaranteed => -997,
        Qos::BestEffort => 1000,
        Qos::Burstable => {
            let request = memory_request.unwrap_or(0).max(0) as i128;
            let capacity = (memory_capacity.max(1)) as i128;
            let score = 1000 - (1000 * request) / capacity;
            score.clamp(3, 999) as i64
        }
    };
    cri::LinuxContainerResources {
        cpu_period,
        cpu_quota,
        cpu_shares,
        memory_limit_in_bytes: memory_limit.unwrap_or(0),
        oom_score_adj,
        ..Default::default()
    }
}

fn security_context(
    pod: &Pod,
    container: &Container,
    ctx: &ContainerContext<'_>,
) -> Result<cri::LinuxContainerSecurityContext, ConfigError> {
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let sc = container.security_context.as_ref();
    let run_as_user = sc.and_then(|s| s.run_as_user).or(psc.and_then(|s| s.run_as_user));
    let run_as_group = sc.and_then(|s| s.run_as_group).or(psc.and_then(|s| s.run_as_group));
    let non_root = sc.and_then(|s| s.run_as_non_root).or(psc.and_then(|s| s.run_as_non_root)).unwrap_or(false);
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    if non_root {
        let uid = match run_as_user {
            Some(uid) => Some(uid),
            None => match ctx.image_uid {
                Some(uid) => Some(uid),
                None if ctx.image_user.is_empty() => Some(0),
                None => {
                    return Err(ConfigError::NonNumericUser {
                        user: ctx.image_user.to_string(),
                        pod: pod_name,
                        container: container.name.clone(),
                    });
                }
            },
        };
        if uid == Some(0) {
            return Err(ConfigError::RunsAsRoot { pod: pod_name, container: container.name.clone() });
        }
    }
    let privileged = sc.and_then(|s| s.privileged).unwrap_or(false);
    let capabilities = sc.and_then(|s| s.capabilities.as_ref()).map(|caps| cri::Capability {
        add_capabilities: caps.add.clone().unwrap_or_default(),
        drop_capabilities: caps.drop.clone().unwrap_or_default(),
        add_ambient_capabilities: Vec::new(),
    });
    let seccomp_type = sc
        .and_then(|s| s.seccomp_profile.as_ref())
        .or(psc.and_then(|s| s.seccomp_profile.as_ref()))
        .map(|p| (p.type_.clone(), p.localhost_profile.clone().unwrap_or_default()));
    let seccomp = match seccomp_type {
        Some((kind, _)) if kind == "RuntimeDefault" => cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::RuntimeDefault as i32,
            ..Default::default()
        },
        Some((kind, path)) if kind == "Localhost" => cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::Localhost as i32,
            localhost_ref: path,
        },
        _ => cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::Unconfined as i32,
            ..Default::default()
        },
    };
    let (masked, readonly) = if privileged {
        (Vec::new(), Vec::new())
    } else {
        (MASKED_PATHS.iter().map(|p| p.to_string()).collect(), READONLY_PATHS.iter().map(|p| p.to_string()).collect())
    };
    Ok(cri::LinuxContainerSecurityContext {
        capabilities,
        privileged,
        namespace_options: Some(namespace_options(pod)),
        run_as_user: run_as_user.map(|value| cri::Int64Value { value }),
        run_as_group: run_as_group.map(|value| cri::Int64Value { value }),
        readonly_rootfs: sc.and_then(|s| s.read_only_root_filesystem).unwrap_or(false),
        supplemental_groups: psc.and_then(|s| s.supplemental_groups.clone()).unwrap_or_default(),
        no_new_privs: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
        masked_paths: masked,
        readonly_paths: readonly,
        seccomp: Some(seccomp),
        ..Default::default()
    })
}

/// CreateContainer's config. Kubernetes' `command` is the OCI entrypoint and `args` its cmd.
pub fn container_config(
    pod: &Pod,
    container: &Container,
    ctx: &ContainerContext<'_>,
) -> Result<cri::ContainerConfig, ConfigError> {
    let mut labels = pod_labels(pod);
    labels.insert(CONTAINER_NAME_LABEL.into(), container.name.clone());
    let annotations = HashMap::from([
        (RESTART_COUNT_ANNOTATION.to_string(), ctx.attempt.to_string()),
        (
            "io.kubernetes.container.terminationMessagePath".to_string(),
            container.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into()),
        ),
    ]);
    let mut mounts: Vec<cri::Mount> = ctx
        .mounts
        .iter()
        .map(|m| cri::Mount {
            container_path: m.container_path.clone(),
            host_path: m.host_path.to_string_lossy().into_owned(),
            readonly: m.readonly,
            ..Default::default()
        })
        .collect();
    let mounted = |path: &str, mounts: &[cri::Mount]| mounts.iter().any(|m| m.container_path == path);
    if let Some(hosts) = ctx.hosts_file
        && !mounted("/etc/hosts", &mounts)
    {
        mounts.push(cri::Mount {
            container_path: "/etc/hosts".into(),
            host_path: hosts.to_string_lossy().into_owned(),
            ..Default::default()
        });
    }
    let termination_path = container.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into());
    if !mounted(&termination_path, &mounts) {
        mounts.push(cri::Mount {
            container_path: termination_path,
            host_path: ctx.termination_log.to_string_lossy().into_owned(),
            ..Default::default()
        });
    }
    Ok(cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata { name: container.name.clone(), attempt: ctx.attempt }),
        image: Some(cri::ImageSpec {
            image: ctx.image_ref.to_string(),
            user_specified_image: container.image.clone().unwrap_or_default(),
            ..Default::default()
        }),
        command: container.command.clone().unwrap_or_default(),
        args: container.args.clone().unwrap_or_default(),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: ctx.env.iter().map(|(key, value)| cri::KeyValue { key: key.clone(), value: value.clone() }).collect(),
        mounts,
        labels,
        annotations,
        log_path: format!("{}/{}.log", container.name, ctx.attempt),
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(linux_resources(pod, container, ctx.memory_capacity)),
            security_context: Some(security_context(pod, container, ctx)?),
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn sandbox_ctx() -> SandboxContext {
        SandboxContext {
            log_directory: "/var/log/pods/shop_web_u-1".into(),
            cluster_dns: vec!["10.43.0.10".into()],
            cluster_domain: "cluster.local".into(),
            host_resolv_conf: "nameserver 192.168.1.1\nsearch lan\n".into(),
            node_hostname: "pi-1".into(),
        }
    }

    #[test]
    fn qos_classes() {
        let check = |resources: serde_json::Value, want: Qos| {
            let p = pod(json!({"containers": [{"name": "c", "resources": resources}]}));
            assert_eq!(qos_class(&p), want, "{resources}");
        };
        check(json!({}), Qos::BestEffort);
        check(json!({"requests": {"cpu": "100m"}}), Qos::Burstable);
        check(json!({"limits": {"cpu": "1", "memory": "1Gi"}}), Qos::Guaranteed);
        check(json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}), Qos::Burstable);
        check(
            json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}),
            Qos::Guaranteed,
        );
    }

    #[test]
    fn dns_by_policy() {
        let ctx = sandbox_ctx();
        let cluster = dns_config(&pod(json!({"containers": []})), &ctx);
        assert_eq!(cluster.servers, ["10.43.0.10"]);
        assert_eq!(cluster.searches, ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
        assert_eq!(cluster.options, ["ndots:5"]);
        let host_net = dns_config(&pod(json!({"containers": [], "hostNetwork": true})), &ctx);
        assert_eq!(host_net.servers, ["192.168.1.1"]);
        assert_eq!(host_net.searches, ["lan"]);
        let with_host = dns_config(
            &pod(json!({"containers": [], "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"})),
            &ctx,
        );
        assert_eq!(with_host.servers, ["10.43.0.10"]);
        let none = dns_config(
            &pod(json!({"containers": [], "dnsPolicy": "None",
                "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}})),
            &ctx,
        );
        assert_eq!(none.servers, ["1.1.1.1"]);
        assert_eq!(none.options, ["ndots:2", "edns0"]);
    }

    #[test]
    fn sandbox_has_labels_ports_and_namespaces() {
        let p = pod(json!({"hostNetwork": true, "containers": [{"name": "c", "ports": [
            {"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "UDP"}]}]}));
        let config = sandbox_config(&p, &sandbox_ctx(), 2);
        assert_eq!(config.labels[POD_UID_LABEL], "u-1");
        assert_eq!(config.labels[POD_NAME_LABEL], "web");
        assert_eq!(config.metadata.as_ref().unwrap().attempt, 2);
        assert_eq!(config.hostname, "");
        assert_eq!(config.port_mappings.len(), 1);
        assert_eq!(config.port_mappings[0].host_port, 8080);
        let linux = config.linux.unwrap();
        assert_eq!(linux.cgroup_parent, "/kubepods/besteffort/podu-1");
        let ns = linux.security_context.unwrap().namespace_options.unwrap();
        assert_eq!(ns.network, cri::NamespaceMode::Node as i32);
        assert_eq!(ns.pid, cri::NamespaceMode::Container as i32);
    }

    #[test]
    fn pull_policies() {
        let check = |image: &str, policy: Option<&str>, want: PullPolicy| {
            let c = Container {
                name: "c".into(),
                image: Some(image.into()),
                image_pull_policy: policy.map(Into::into),
                ..Default::default()
            };
            assert_eq!(pull_policy(&c), want, "{image} {policy:?}");
        };
        check("busybox", None, PullPolicy::Always);
        check("busybox:latest", None, PullPolicy::Always);
        check("busybox:1.36", None, PullPolicy::IfNotPresent);
        check("localhost:5000/busybox", None, PullPolicy::Always);
        check("localhost:5000/busybox:1", None, PullPolicy::IfNotPresent);
        check("busybox@sha256:abcd", None, PullPolicy::IfNotPresent);
        check("busybox:1", Some("Never"), PullPolicy::Never);
        check("busybox", Some("IfNotPresent"), PullPolicy::IfNotPresent);
    }

    #[test]
    fn pull_secret_auth_for_the_matching_registry() {
        let config = json!({"auths": {
            "https://index.docker.io/v1/": {"auth": base64::engine::general_purpose::STANDARD.encode("hub:pw")},
            "127.0.0.1:5000": {"username": "me", "password": "secret"},
        }});
        let raw = vec![serde_json::to_vec(&config).unwrap()];
        let local = pull_auths("127.0.0.1:5000/app:1", &raw);
        assert_eq!(local.len(), 1);
        assert_eq!((local[0].username.as_str(), local[0].password.as_str()), ("me", "secret"));
        assert_eq!(local[0].server_address, "", "containerd would refuse a bare host:port");
        let hub = pull_auths("library/busybox", &raw);
        assert_eq!((hub[0].username.as_str(), hub[0].password.as_str()), ("hub", "pw"));
        assert!(pull_auths("quay.io/x/y", &raw).is_empty());
    }

    #[test]
    fn hosts_file_has_the_pod_and_aliases() {
        let p = pod(json!({"containers": [], "subdomain": "db",
            "hostAliases": [{"ip": "10.0.0.9", "hostnames": ["a", "b"]}]}));
        let text = hosts_file(&p, Some("10.42.0.5"), "", "pi-1", "cluster.local");
        assert!(text.contains("10.42.0.5\tweb.db.shop.svc.cluster.local\tweb\n"), "{text}");
        assert!(text.contains("127.0.0.1\tlocalhost\n"));
        assert!(text.ends_with("# Entries added by HostAliases.\n10.0.0.9\ta\tb\n"), "{text}");
        let host =
            hosts_file(&pod(json!({"containers": [], "hostNetwork": true})), None, "127.0.0.1 me\n", "pi-1", "x");
        assert_eq!(host, "# Kubernetes-managed hosts file (host network).\n127.0.0.1 me\n");
    }

    fn container_ctx<'a>(termination: &'a std::path::Path) -> ContainerContext<'a> {
        ContainerContext {
            attempt: 3,
            image_ref: "sha256:abc",
            env: &[],
            mounts: &[],
            hosts_file: None,
            termination_log: termination,
            memory_capacity: 8 << 30,
            image_uid: Some(0),
            image_user: "",
        }
    }

    #[test]
    fn container_config_maps_command_resources_and_security() {
        let p = pod(
            json!({"containers": [{"name": "c", "image": "busybox:1", "command": ["sh"], "args": ["-c", "echo"],
            "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "250m"}},
            "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}]}),
        );
        let c = &p.spec.as_ref().unwrap().containers[0];
        let t = std::path::PathBuf::from("/pods/u-1/containers/c/3");
        let config = container_config(&p, c, &container_ctx(&t)).unwrap();
        assert_eq!(config.command, ["sh"]);
        assert_eq!(config.args, ["-c", "echo"]);
        assert_eq!(config.log_path, "c/3.log");
        assert_eq!(config.labels[CONTAINER_NAME_LABEL], "c");
        let linux = config.linux.unwrap();
        let r = linux.resources.unwrap();
        assert_eq!(
            (r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit_in_bytes),
            (256, 50_000, 100_000, 64 << 20)
        );
        let sc = linux.security_context.unwrap();
        assert_eq!(sc.run_as_user.unwrap().value, 1000);
        assert!(sc.no_new_privs);
        assert_eq!(sc.capabilities.unwrap().drop_capabilities, ["ALL"]);
        assert!(config.mounts.iter().any(|m| m.container_path == "/dev/termination-log"));
    }

    #[test]
    fn run_as_non_root_is_checked_against_the_image_user() {
        let p = pod(
            json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "c", "image": "busybox:1"}]}),
        );
        let c = &p.spec.as_ref().unwrap().containers[0];
        let t = std::path::PathBuf::from("/t");
        let err = container_config(&p, c, &container_ctx(&t)).unwrap_err();
        assert!(matches!(err, ConfigError::RunsAsRoot { .. }));
        let named = ContainerContext { image_uid: None, image_user: "nobody", ..container_ctx(&t) };
        assert!(matches!(container_config(&p, c, &named).unwrap_err(), ConfigError::NonNumericUser { .. }));
        let non_root = ContainerContext { image_uid: Some(65534), ..container_ctx(&t) };
        assert!(container_config(&p, c, &non_root).is_ok());
    }
}
