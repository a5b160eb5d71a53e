//! The kubelet's eviction manager. Every 10 s it reads the node's signals
//! ([`crate::eviction`]); while a hard threshold is crossed it first
//! reclaims what belongs to the node (unused images, for disk), then evicts
//! one pod at a time, ranked as the kubelet ranks them, until the signal is
//! back above its threshold plus the minimum reclaim. It also evicts a pod
//! whose emptyDir exceeds its `sizeLimit` or whose containers exceed their
//! `ephemeral-storage` limits, pressure or not. An evicted pod is killed at
//! once (1 s grace), and left in the API as Failed with reason `Evicted`, a
//! `DisruptionTarget` condition and a Warning event. The pressure it sees is
//! what the Node's conditions report, held for five minutes after the last
//! crossing (the kubelet's evictionPressureTransitionPeriod). Static and
//! critical pods (priority 2000000000 and above) are never evicted.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;
use tokio::time::{Duration, Instant};

use super::image_gc::{self, ImageGc};
use super::pod_worker::PodRuntime;
use crate::eviction::{Crossed, Pressure, Signal, Starved, Thresholds, format_bytes, parse_quantity};
use crate::node::Host;

/// How often signals are read (the kubelet's housekeeping interval).
pub const MONITOR: Duration = Duration::from_secs(10);
/// How long a pressure condition stays after its threshold was last crossed.
pub const TRANSITION: Duration = Duration::from_secs(300);
/// How long an eviction may take before the next pod is considered.
const CLEANUP_WAIT: Duration = Duration::from_secs(30);
/// Pods at or above this priority (system-cluster-critical and system-node-critical) stay.
const CRITICAL_PRIORITY: i32 = 2_000_000_000;

/// A pod as its worker last published it, for the eviction manager.
#[derive(Debug, Clone)]
pub struct ActivePod {
    pub pod: Pod,
    pub sandbox_id: Option<String>,
    /// Containers may run (not finished, not being evicted or deleted).
    pub running: bool,
}

/// What the worker of an evicted pod is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eviction {
    pub message: String,
    /// Set for node-pressure evictions: the pod gets a DisruptionTarget condition.
    pub disruption: bool,
}

/// One pod's use of the starved resource, for ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub uid: String,
    pub priority: i32,
    pub usage: u64,
    pub request: u64,
}

/// The kubelet's order: pods using more than they requested first, then the
/// lowest priority, then the largest use beyond the request.
pub fn rank(mut pods: Vec<Ranked>) -> Vec<Ranked> {
    pods.sort_by(|a, b| {
        let exceeds = |p: &Ranked| p.usage > p.request;
        exceeds(b)
            .cmp(&exceeds(a))
            .then(a.priority.cmp(&b.priority))
            .then((b.usage as i128 - b.request as i128).cmp(&(a.usage as i128 - a.request as i128)))
    });
    pods
}

/// What a pod uses, per container and per emptyDir.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodUse {
    /// Writable layer plus logs, by container name.
    pub container_disk: HashMap<String, u64>,
    pub container_memory: HashMap<String, u64>,
    /// Disk emptyDirs, by volume name.
    pub empty_dirs: HashMap<String, u64>,
}

impl PodUse {
    pub fn disk(&self) -> u64 {
        self.container_disk.values().sum::<u64>() + self.empty_dirs.values().sum::<u64>()
    }
    pub fn memory(&self) -> u64 {
        self.container_memory.values().sum()
    }
}

fn quantity(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Option<u64> {
    q.and_then(|q| parse_quantity(&q.0))
}

fn container_resource(pod: &Pod, name: &str, resource: &str, limits: bool) -> Option<u64> {
    let container = pod.spec.as_ref()?.containers.iter().find(|c| c.name == name)?;
    let resources = container.resources.as_ref()?;
    let list = if limits { resources.limits.as_ref()? } else { resources.requests.as_ref()? };
    quantity(list.get(resource))
}

fn pod_requests(pod: &Pod, resource: &str) -> u64 {
    let Some(spec) = pod.spec.as_ref() else { return 0 };
    spec.containers.iter().filter_map(|c| quantity(c.resources.as_ref()?.requests.as_ref()?.get(resource))).sum()
}

/// Why a pod breaks its own local-storage limits, in the kubelet's words; `None` if it does not.
pub fn local_storage_violation(pod: &Pod, usage: &PodUse) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    for volume in spec.volumes.iter().flatten() {
        let Some(empty_dir) = &volume.empty_dir else { continue };
        if empty_dir.medium.as_deref() == Some("Memory") {
            continue;
        }
        let Some(limit) = empty_dir.size_limit.as_ref() else { continue };
        if let (Some(bytes), Some(used)) = (parse_quantity(&limit.0), usage.empty_dirs.get(&volume.name))
            && *used > bytes
        {
            return Some(format!("Usage of EmptyDir volume \"{}\" exceeds the limit \"{}\". ", volume.name, limit.0));
        }
    }
    let limits: Vec<u64> =
        spec.containers.iter().filter_map(|c| container_resource(pod, &c.name, "ephemeral-storage", true)).collect();
    if !limits.is_empty() {
        let total: u64 = limits.iter().sum();
        if usage.disk() > total {
            return Some(format!(
                "Pod ephemeral local storage usage exceeds the total limit of containers {}. ",
                format_bytes(total)
            ));
        }
    }
    for c in &spec.containers {
        let limit = c.resources.as_ref().and_then(|r| r.limits.as_ref()).and_then(|l| l.get("ephemeral-storage"));
        if let (Some(limit), Some(used)) = (limit, usage.container_disk.get(&c.name))
            && parse_quantity(&limit.0).is_some_and(|bytes| *used > bytes)
        {
            return Some(format!("Container {} exceeded its local ephemeral storage limit \"{}\". ", c.name, limit.0));
        }
    }
    None
}

/// The kubelet's message for a node-pressure eviction.
pub fn pressure_message(crossed: &Crossed, pod: &Pod, usage: &PodUse) -> String {
    let resource = crossed.threshold.signal.resource();
    let mut message = format!(
        "The node was low on resource: {resource}. Threshold quantity: {}, available: {}. ",
        crossed.show(crossed.limit),
        crossed.show(crossed.observed.available)
    );
    let per_container = match crossed.threshold.signal.starved() {
        Starved::Memory => &usage.container_memory,
        Starved::Disk => &usage.container_disk,
        Starved::Pid => return message,
    };
    let mut names: Vec<&String> = per_container.keys().collect();
    names.sort();
    for name in names {
        let used = per_container[name];
        let request = container_resource(pod, name, resource, false).unwrap_or(0);
        if used > request {
            message += &format!(
                "Container {name} was using {}, request is {}, has larger consumption of {resource}. ",
                format_bytes(used),
                format_bytes(request)
            );
        }
    }
    message
}

/// Disk a directory tree takes (allocated blocks), not following symlinks
/// nor crossing into other filesystems.
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(root) = std::fs::symlink_metadata(path) else { return 0 };
    let device = root.dev();
    let mut total = root.blocks() * 512;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != device {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

pub struct EvictionManager {
    pub rt: Arc<PodRuntime>,
    pub thresholds: Thresholds,
    pub data_dir: PathBuf,
    pub image_gc: ImageGc,
    pub pressure: watch::Sender<Pressure>,
}

impl EvictionManager {
    /// Runs until the process ends.
    pub async fn run(mut self) {
        let mut last_crossed: HashMap<Starved, Instant> = HashMap::new();
        let mut reclaiming: HashSet<Signal> = HashSet::new();
        let mut pending: Option<(String, Instant)> = None;
        let mut next_gc = Instant::now() + image_gc::PERIOD;
        let mut tick = tokio::time::interval(MONITOR);
        loop {
            tick.tick().await;
            let now = Instant::now();
            let starved = self.starved(&mut reclaiming);
            for c in &starved {
                last_crossed.insert(c.threshold.signal.starved(), now);
            }
            let held = |kind| last_crossed.get(&kind).is_some_and(|at| now.duration_since(*at) < TRANSITION);
            let pressure =
                Pressure { memory: held(Starved::Memory), disk: held(Starved::Disk), pid: held(Starved::Pid) };
            self.pressure.send_if_modified(|p| std::mem::replace(p, pressure) != pressure);

            let active: Vec<ActivePod> = self.active().into_iter().filter(|p| p.running && evictable(&p.pod)).collect();
            if let Some((uid, since)) = &pending {
                let still_running = active.iter().any(|p| p.pod.metadata.uid.as_ref() == Some(uid));
                if still_running && now.duration_since(*since) < CLEANUP_WAIT {
                    continue;
                }
                pending = None;
            }
            // Usage is measured (directory walks, CRI stats) only where it decides
            // something: pods with local-storage limits, or every pod while starved.
            let mut usage = HashMap::new();
            for p in &active {
                if starved.is_empty() && !has_local_storage_limits(&p.pod) {
                    continue;
                }
                let uid = p.pod.metadata.uid.clone().unwrap_or_default();
                usage.insert(uid, self.pod_use(p).await);
            }
            // Pods over their own limits go first, one per pass, pressure or not.
            if let Some((pod, message)) = active.iter().find_map(|p| {
                let u = usage.get(p.pod.metadata.uid.as_deref().unwrap_or_default())?;
                local_storage_violation(&p.pod, u).map(|m| (p, m))
            }) {
                pending = Some(self.evict(&pod.pod, message, false));
                continue;
            }

            if now >= next_gc {
                next_gc = now + image_gc::PERIOD;
                if let Err(err) = self.image_gc.collect().await {
                    tracing::warn!(error = %err, "image garbage collection");
                }
            }
            let Some(worst) = starved.first().copied() else { continue };
            if worst.threshold.signal.starved() == Starved::Disk {
                match self.image_gc.free(u64::MAX).await {
                    Ok(freed) if freed > 0 => {
                        tracing::info!(signal = worst.threshold.signal.name(), freed, "reclaimed unused images");
                        if self.starved(&mut reclaiming).is_empty() {
                            continue;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "reclaiming unused images"),
                }
            }
            let ranked = rank(
                active
                    .iter()
                    .filter_map(|p| {
                        let uid = p.pod.metadata.uid.clone()?;
                        let u = usage.get(&uid)?;
                        let (used, request) = match worst.threshold.signal.starved() {
                            Starved::Memory => (u.memory(), pod_requests(&p.pod, "memory")),
                            Starved::Disk => (u.disk(), pod_requests(&p.pod, "ephemeral-storage")),
                            Starved::Pid => (0, 0),
                        };
                        Some(Ranked {
                            uid,
                            priority: p.pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0),
                            usage: used,
                            request,
                        })
                    })
                    .collect(),
            );
            let Some(victim) = ranked.first() else {
                tracing::warn!(signal = worst.threshold.signal.name(), "the node is starved and has no pod to evict");
                continue;
            };
            let Some(pod) = active.iter().find(|p| p.pod.metadata.uid.as_ref() == Some(&victim.uid)) else { continue };
            let message = pressure_message(&worst, &pod.pod, &usage[&victim.uid]);
            pending = Some(self.evict(&pod.pod, message, true));
        }
    }

    /// The crossed thresholds: below the threshold, or, for one being
    /// reclaimed, still below threshold plus minimum reclaim.
    fn starved(&self, reclaiming: &mut HashSet<Signal>) -> Vec<Crossed> {
        let observations = Host::read(&self.data_dir).observations();
        let mut enforced = self.thresholds.clone();
        for t in &mut enforced.list {
            if reclaiming.contains(&t.signal) {
                t.amount = crate::eviction::Amount::Absolute(
                    observations
                        .get(&t.signal)
                        .map(|o| t.amount.of(o.capacity).saturating_add(t.min_reclaim.of(o.capacity)))
                        .unwrap_or(0),
                );
            }
        }
        let mut crossed = enforced.crossed(&observations);
        // Report the operator's threshold quantity, not the reclaim target.
        for c in &mut crossed {
            if let Some(t) = self.thresholds.list.iter().find(|t| t.signal == c.threshold.signal) {
                let capacity = c.observed.capacity;
                c.limit = t.amount.of(capacity);
                c.target = c.limit.saturating_add(t.min_reclaim.of(capacity)).min(capacity);
                c.threshold = *t;
            }
        }
        *reclaiming = crossed.iter().map(|c| c.threshold.signal).collect();
        crossed
    }

    fn active(&self) -> Vec<ActivePod> {
        self.rt.active.lock().map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    async fn pod_use(&self, p: &ActivePod) -> PodUse {
        let mut usage = PodUse::default();
        let meta = &p.pod.metadata;
        let (namespace, name, uid) = (
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default(),
            meta.uid.as_deref().unwrap_or_default(),
        );
        if let Some(sandbox) = &p.sandbox_id {
            let filter = cri::ContainerStatsFilter { pod_sandbox_id: sandbox.clone(), ..Default::default() };
            let request = cri::ListContainerStatsRequest { filter: Some(filter) };
            match self.rt.cri.runtime.clone().list_container_stats(request).await {
                Ok(reply) => {
                    for stats in reply.into_inner().stats {
                        let Some(name) =
                            stats.attributes.as_ref().and_then(|a| a.metadata.as_ref()).map(|m| m.name.clone())
                        else {
                            continue;
                        };
                        let layer = stats.writable_layer.and_then(|w| w.used_bytes).map(|v| v.value).unwrap_or(0);
                        *usage.container_disk.entry(name.clone()).or_default() += layer;
                        let memory = stats.memory.and_then(|m| m.working_set_bytes).map(|v| v.value).unwrap_or(0);
                        *usage.container_memory.entry(name).or_default() += memory;
                    }
                }
                Err(status) => tracing::debug!(pod = %uid, error = %status, "container stats"),
            }
        }
        let logs = self.rt.paths.pod_logs(namespace, name, uid);
        for c in p.pod.spec.iter().flat_map(|s| &s.containers) {
            *usage.container_disk.entry(c.name.clone()).or_default() += disk_usage(&logs.join(&c.name));
        }
        let empty_dirs = self.rt.paths.pod_dir(uid).join("volumes").join("kubernetes.io~empty-dir");
        for volume in p.pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if volume.empty_dir.as_ref().is_some_and(|e| e.medium.as_deref() != Some("Memory")) {
                usage.empty_dirs.insert(volume.name.clone(), disk_usage(&empty_dirs.join(&volume.name)));
            }
        }
        usage
    }

    fn evict(&self, pod: &Pod, message: String, disruption: bool) -> (String, Instant) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        tracing::warn!(
            pod = %pod.metadata.name.as_deref().unwrap_or_default(),
            namespace = %pod.metadata.namespace.as_deref().unwrap_or_default(),
            "evicting: {message}"
        );
        if let Ok(mut evictions) = self.rt.evictions.lock() {
            evictions.insert(uid.clone(), Eviction { message, disruption });
        }
        (uid, Instant::now())
    }
}

/// Whether a pod has an emptyDir `sizeLimit` on disk or an `ephemeral-storage` limit.
fn has_local_storage_limits(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return false };
    let empty_dir_limit =
        spec.volumes.iter().flatten().any(|v| {
            v.empty_dir.as_ref().is_some_and(|e| e.size_limit.is_some() && e.medium.as_deref() != Some("Memory"))
        });
    empty_dir_limit
        || spec.containers.iter().any(|c| {
            c.resources.as_ref().and_then(|r| r.limits.as_ref()).is_some_and(|l| l.contains_key("ephemeral-storage"))
        })
}

/// Static (mirror) and critical pods are not evicted.
fn evictable(pod: &Pod) -> bool {
    let mirror = pod.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    let priority = pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
    !mirror && priority < CRITICAL_PRIORITY
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eviction::{Amount, Observation, Threshold};
    use serde_json::json;

    fn ranked(uid: &str, priority: i32, usage: u64, request: u64) -> Ranked {
        Ranked { uid: uid.into(), priority, usage, request }
    }

    #[test]
    fn ranking_is_the_kubelets() {
        let order = rank(vec![
            ranked("within-low", -10, 50, 100),
            ranked("over-high", 100, 200, 100),
            ranked("over-low-small", 0, 110, 100),
            ranked("over-low-big", 0, 500, 100),
            ranked("within-high", 1000, 10, 100),
        ]);
        let ids: Vec<&str> = order.iter().map(|r| r.uid.as_str()).collect();
        assert_eq!(ids, ["over-low-big", "over-low-small", "over-high", "within-low", "within-high"]);
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": spec}))
            .unwrap()
    }

    #[test]
    fn local_storage_limits() {
        let p = pod(json!({
            "containers": [
                {"name": "a", "resources": {"limits": {"ephemeral-storage": "10Mi"}}},
                {"name": "b"},
            ],
            "volumes": [
                {"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}},
                {"name": "ram", "emptyDir": {"medium": "Memory", "sizeLimit": "1Ki"}},
            ],
        }));
        let mut u = PodUse::default();
        u.empty_dirs.insert("scratch".into(), 512 << 10);
        u.container_disk.insert("a".into(), 1 << 20);
        assert_eq!(local_storage_violation(&p, &u), None);
        u.empty_dirs.insert("scratch".into(), 2 << 20);
        assert_eq!(
            local_storage_violation(&p, &u).as_deref(),
            Some("Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". ")
        );
        u.empty_dirs.insert("scratch".into(), 0);
        u.container_disk.insert("b".into(), 9 << 20);
        u.container_disk.insert("a".into(), 2 << 20);
        assert_eq!(
            local_storage_violation(&p, &u).as_deref(),
            Some("Pod ephemeral local storage usage exceeds the total limit of containers 10Mi. ")
        );
    }

    #[test]
    fn messages_name_the_resource_and_the_greedy_containers() {
        let p = pod(json!({"containers": [
            {"name": "writer", "resources": {"requests": {"ephemeral-storage": "1Mi"}}},
            {"name": "quiet", "resources": {"requests": {"ephemeral-storage": "100Mi"}}},
        ]}));
        let mut u = PodUse::default();
        u.container_disk.insert("writer".into(), 60 << 20);
        u.container_disk.insert("quiet".into(), 1 << 20);
        let crossed = Crossed {
            threshold: Threshold {
                signal: Signal::NodefsAvailable,
                amount: Amount::Percent(5.0),
                min_reclaim: Amount::Percent(10.0),
            },
            observed: Observation { capacity: 64 << 20, available: 1 << 20 },
            limit: 3355444,
            target: 0,
        };
        assert_eq!(
            pressure_message(&crossed, &p, &u),
            "The node was low on resource: ephemeral-storage. Threshold quantity: 3277Ki, available: 1Mi. \
             Container writer was using 60Mi, request is 1Mi, has larger consumption of ephemeral-storage. "
        );
    }

    #[test]
    fn only_pods_with_limits_are_measured_when_the_node_is_fine() {
        assert!(!has_local_storage_limits(&pod(json!({"containers": [{"name": "a"}]}))));
        assert!(!has_local_storage_limits(&pod(json!({
            "containers": [{"name": "a"}],
            "volumes": [{"name": "ram", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}],
        }))));
        assert!(has_local_storage_limits(&pod(json!({
            "containers": [{"name": "a"}],
            "volumes": [{"name": "disk", "emptyDir": {"sizeLimit": "1Mi"}}],
        }))));
        assert!(has_local_storage_limits(&pod(json!({
            "containers": [{"name": "a", "resources": {"limits": {"ephemeral-storage": "1Gi"}}}],
        }))));
    }

    #[test]
    fn critical_and_static_pods_stay() {
        assert!(evictable(&pod(json!({"containers": []}))));
        assert!(!evictable(&pod(json!({"containers": [], "priority": 2000001000}))));
        let mut mirror = pod(json!({"containers": []}));
        mirror.metadata.annotations = Some([("kubernetes.io/config.mirror".to_string(), "x".to_string())].into());
        assert!(!evictable(&mirror));
    }

    #[test]
    fn disk_usage_counts_blocks_below_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let empty = disk_usage(dir.path());
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/f"), vec![7u8; 256 << 10]).unwrap();
        let after = disk_usage(dir.path());
        assert!(after >= empty + (256 << 10), "{empty} -> {after}");
        assert_eq!(disk_usage(&dir.path().join("missing")), 0);
    }
}
