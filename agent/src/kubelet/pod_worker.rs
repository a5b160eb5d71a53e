//! One pod driven to its spec on CRI: its sandbox, images, init containers
//! in order, containers kept per the restart policy with back-off, probes,
//! and graceful termination. It adopts the sandbox and containers a previous
//! agent left (found by the `io.kubernetes.*` labels). It never writes to the
//! API itself: statuses, events and the final delete go out as [`Report`]s.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod, PodStatus, Probe, Secret};
use k8s_openapi::jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::eviction::{ActivePod, Eviction};
use super::probe::{ExecFn, ProbeKind, ProbeWorker};
use super::spec::{self, CONTAINER_NAME_LABEL, POD_UID_LABEL, PullPolicy};
use super::status::{self, ObservedContainer, ObservedPod, Waiting};
use super::{env, volumes};
use crate::cri::Cri;
use crate::paths::AgentPaths;

/// How often a pod is synced when nothing else wakes it.
const SYNC_PERIOD: Duration = Duration::from_secs(1);
/// How often volumes are refreshed (configMap, secret, projected contents).
const VOLUME_REFRESH: Duration = Duration::from_secs(60);
const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// The grace period of an eviction (the kubelet's for hard thresholds).
const EVICTION_GRACE: Duration = Duration::from_secs(1);

/// What a pod worker asks the API writer to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Status {
        namespace: String,
        name: String,
        uid: String,
        status: PodStatus,
    },
    /// An event on the pod (`warning`: type Warning, else Normal).
    Event {
        namespace: String,
        name: String,
        uid: String,
        reason: String,
        message: String,
        warning: bool,
    },
    /// The pod's containers and sandbox are gone: finish the graceful delete.
    Terminated {
        namespace: String,
        name: String,
        uid: String,
    },
}

/// What every pod worker of this node shares.
pub struct PodRuntime {
    pub cri: Cri,
    pub client: kube::Client,
    pub paths: AgentPaths,
    pub node_name: String,
    pub node_ip: String,
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    pub host_resolv_conf: String,
    pub host_hosts: String,
    pub node_hostname: String,
    pub memory_capacity: u64,
    pub reports: mpsc::UnboundedSender<Report>,
    /// Every worker's pod, as it last published it, by uid (for the eviction manager).
    pub active: Mutex<HashMap<String, ActivePod>>,
    /// Pods the eviction manager wants gone, by uid; their workers take them from here.
    pub evictions: Mutex<HashMap<String, Eviction>>,
}

/// The probes' verdicts of one container instance.
#[derive(Debug, Default)]
struct Verdicts {
    ready: bool,
    started: bool,
    /// Liveness or startup failed past the threshold: restart the container.
    unhealthy: Option<String>,
}

/// One container of the pod as the worker tracks it.
#[derive(Default)]
struct Tracked {
    current: Option<cri::ContainerStatus>,
    previous: Option<cri::ContainerStatus>,
    restarts: u32,
    backoff: Backoff,
    not_before: Option<Instant>,
    waiting: Option<Waiting>,
    verdicts: Arc<Mutex<Verdicts>>,
    probes: Option<AbortHandle>,
}

impl Tracked {
    fn exited(&self) -> Option<&cri::ContainerStatus> {
        self.current.as_ref().filter(|c| c.state == cri::ContainerState::ContainerExited as i32)
    }
    fn running(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.state == cri::ContainerState::ContainerRunning as i32)
    }
    fn next_attempt(&self) -> u32 {
        if self.current.is_some() { self.restarts + 1 } else { self.restarts }
    }
}

/// The worker's lifecycle.
enum State {
    /// No running sandbox: make one (or adopt one), after the back-off.
    Starting,
    /// The sandbox runs; containers are started and kept per the restart policy.
    Running,
    /// Succeeded or Failed: the sandbox is stopped, logs are kept, the status stays.
    Finished,
}

struct Sandbox {
    id: String,
    config: cri::PodSandboxConfig,
    pod_ips: Vec<String>,
}

pub struct PodWorker {
    rt: Arc<PodRuntime>,
    pod: Pod,
    uid: String,
    state: State,
    sandbox: Option<Sandbox>,
    sandbox_backoff: Backoff,
    sandbox_not_before: Option<Instant>,
    volumes: Option<(volumes::PodVolumes, Instant)>,
    init: Vec<(String, Tracked)>,
    containers: Vec<(String, Tracked)>,
    start_time: Option<Timestamp>,
    last_status: Option<PodStatus>,
    /// The pod was already Succeeded or Failed when this worker began (an agent restart): it
    /// runs nothing and leaves the written status alone.
    terminal_before: bool,
    probe_tasks: JoinSet<()>,
    /// The eviction manager's verdict, once carried out.
    evicted: Option<Eviction>,
    /// The init containers were all done once; they do not run again (sidecars restart).
    initialized: bool,
}

fn meta(pod: &Pod) -> (String, String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
        pod.metadata.uid.clone().unwrap_or_default(),
    )
}

fn restart_policy(pod: &Pod) -> String {
    pod.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_else(|| "Always".into())
}

fn grace_period(pod: &Pod) -> Duration {
    let secs = pod
        .metadata
        .deletion_grace_period_seconds
        .or(pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .and_then(|s| u64::try_from(s).ok());
    secs.map(Duration::from_secs).unwrap_or(DEFAULT_GRACE)
}

fn ran_for(status: &cri::ContainerStatus) -> Duration {
    let nanos = status.finished_at.saturating_sub(status.started_at).max(0);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

/// Drives one pod until it is deleted. `pod` carries the latest object; `None` when it vanished
/// from the API without a graceful delete.
pub async fn run(rt: Arc<PodRuntime>, mut pod_rx: watch::Receiver<Option<Pod>>) {
    let Some(pod) = pod_rx.borrow_and_update().clone() else { return };
    let mut worker = PodWorker::new(rt.clone(), pod);
    let uid = worker.uid.clone();
    drive(&mut worker, pod_rx).await;
    if let Ok(mut active) = rt.active.lock() {
        active.remove(&uid);
    }
    if let Ok(mut evictions) = rt.evictions.lock() {
        evictions.remove(&uid);
    }
}

async fn drive(worker: &mut PodWorker, mut pod_rx: watch::Receiver<Option<Pod>>) {
    loop {
        let current = pod_rx.borrow_and_update().clone();
        match current {
            Some(pod) if pod.metadata.deletion_timestamp.is_none() => worker.pod = pod,
            Some(pod) => {
                worker.pod = pod;
                worker.terminate(grace_period(&worker.pod)).await;
                worker.report_terminated();
                return;
            }
            None => {
                worker.terminate(Duration::from_secs(2)).await;
                return;
            }
        }
        let eviction = worker.rt.evictions.lock().ok().and_then(|e| e.get(&worker.uid).cloned());
        if let Some(eviction) = eviction
            && worker.evicted.is_none()
        {
            worker.evict(eviction).await;
        }
        worker.sync().await;
        worker.publish();
        tokio::select! {
            changed = pod_rx.changed() => if changed.is_err() {
                worker.terminate(Duration::from_secs(2)).await;
                return;
            },
            _ = tokio::time::sleep(SYNC_PERIOD) => {}
        }
    }
}

impl PodWorker {
    pub fn new(rt: Arc<PodRuntime>, pod: Pod) -> PodWorker {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let track = |cs: &[Container]| cs.iter().map(|c| (c.name.clone(), Tracked::default())).collect();
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        let terminal_before = matches!(phase, Some("Succeeded" | "Failed"));
        PodWorker {
            rt,
            uid,
            state: if terminal_before { State::Finished } else { State::Starting },
            terminal_before,
            sandbox: None,
            sandbox_backoff: Backoff::default(),
            sandbox_not_before: None,
            volumes: None,
            init: track(spec.init_containers.as_deref().unwrap_or_default()),
            containers: track(&spec.containers),
            start_time: None,
            last_status: pod.status.clone(),
            pod,
            probe_tasks: JoinSet::new(),
            evicted: None,
            initialized: false,
        }
    }

    /// Tells the eviction manager what this pod is now.
    fn publish(&self) {
        let active = ActivePod {
            pod: self.pod.clone(),
            sandbox_id: self.sandbox.as_ref().map(|s| s.id.clone()),
            running: matches!(self.state, State::Running) && self.evicted.is_none(),
        };
        if let Ok(mut map) = self.rt.active.lock() {
            map.insert(self.uid.clone(), active);
        }
    }

    /// Kills the pod at once and leaves it Failed with reason Evicted; its
    /// volumes are removed (that is what frees a full disk), its logs stay.
    async fn evict(&mut self, eviction: Eviction) {
        self.event("Evicted", eviction.message.clone(), true);
        self.kill_all(EVICTION_GRACE).await;
        self.finish().await;
        if let Err(err) = volumes::cleanup(&self.pod_dir()) {
            tracing::warn!(pod = %self.uid, error = %err, "removing an evicted pod's volumes");
        }
        self.volumes = None;
        self.evicted = Some(eviction);
    }

    fn event(&self, reason: &str, message: String, warning: bool) {
        let (namespace, name, uid) = meta(&self.pod);
        let _ = self.rt.reports.send(Report::Event { namespace, name, uid, reason: reason.into(), message, warning });
    }

    fn report_terminated(&self) {
        let (namespace, name, uid) = meta(&self.pod);
        let _ = self.rt.reports.send(Report::Terminated { namespace, name, uid });
    }

    fn pod_dir(&self) -> PathBuf {
        self.rt.paths.pod_dir(&self.uid)
    }

    /// One pass: sandbox, containers, status.
    pub async fn sync(&mut self) {
        match self.state {
            State::Starting => self.start_sandbox().await,
            State::Running => self.sync_running().await,
            State::Finished => {}
        }
        self.write_status();
    }

    fn sandbox_context(&self) -> spec::SandboxContext {
        let (namespace, name, uid) = meta(&self.pod);
        spec::SandboxContext {
            log_directory: self.rt.paths.pod_logs(&namespace, &name, &uid).to_string_lossy().into_owned(),
            cluster_dns: self.rt.cluster_dns.clone(),
            cluster_domain: self.rt.cluster_domain.clone(),
            host_resolv_conf: self.rt.host_resolv_conf.clone(),
            node_hostname: self.rt.node_hostname.clone(),
        }
    }

    async fn refresh_volumes(&mut self) -> Result<(), volumes::VolumeError> {
        let due = self.volumes.as_ref().is_none_or(|(_, at)| at.elapsed() >= VOLUME_REFRESH);
        if due {
            let pod_dir = self.pod_dir();
            let ctx = volumes::VolumeContext {
                client: &self.rt.client,
                pod: &self.pod,
                pod_dir: &pod_dir,
                node_name: &self.rt.node_name,
            };
            let prepared = volumes::prepare(&ctx).await?;
            self.volumes = Some((prepared, Instant::now()));
        }
        Ok(())
    }

    fn all_waiting(&mut self, waiting: Waiting) {
        for (_, t) in self.init.iter_mut().chain(self.containers.iter_mut()) {
            if t.current.is_none() {
                t.waiting = Some(waiting.clone());
            }
        }
    }

    /// Adopts this pod's ready sandbox and its containers, or runs a new sandbox.
    async fn start_sandbox(&mut self) {
        if self.sandbox_not_before.is_some_and(|t| Instant::now() < t) {
            return;
        }
        if self.start_time.is_none() {
            self.start_time = Some(
                self.pod
                    .status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0)
                    .unwrap_or_else(Timestamp::now),
            );
        }
        if let Err(err) = self.refresh_volumes().await {
            self.event("FailedMount", format!("MountVolume.SetUp failed: {err}"), true);
            self.all_waiting(Waiting::new("ContainerCreating", ""));
            self.sandbox_not_before = Some(Instant::now() + self.sandbox_backoff.next_attempt());
            return;
        }
        let existing =
            self.rt.cri.list_pod_sandboxes(HashMap::from([(POD_UID_LABEL.to_string(), self.uid.clone())])).await;
        let existing = match existing {
            Ok(list) => list,
            Err(err) => {
                tracing::warn!(pod = %self.uid, error = %err, "listing sandboxes");
                return;
            }
        };
        let max_attempt = existing.iter().filter_map(|s| s.metadata.as_ref()).map(|m| m.attempt).max();
        let ready = existing
            .iter()
            .filter(|s| s.state == cri::PodSandboxState::SandboxReady as i32)
            .max_by_key(|s| s.metadata.as_ref().map(|m| m.attempt).unwrap_or(0));
        let ctx = self.sandbox_context();
        let (id, attempt) = match ready {
            Some(sandbox) => {
                let attempt = sandbox.metadata.as_ref().map(|m| m.attempt).unwrap_or(0);
                tracing::info!(pod = %self.uid, sandbox = %sandbox.id, "adopting the running sandbox");
                (sandbox.id.clone(), attempt)
            }
            None => {
                let attempt = max_attempt.map(|a| a + 1).unwrap_or(0);
                let config = spec::sandbox_config(&self.pod, &ctx, attempt);
                if let Err(err) = std::fs::create_dir_all(&ctx.log_directory) {
                    tracing::warn!(pod = %self.uid, error = %err, "creating the pod log directory");
                }
                match self.rt.cri.run_pod_sandbox(config).await {
                    Ok(id) => {
                        self.sandbox_backoff.reset();
                        (id, attempt)
                    }
                    Err(err) => {
                        let message = format!("Failed to create pod sandbox: {}", err.message());
                        self.event("FailedCreatePodSandBox", message.clone(), true);
                        self.all_waiting(Waiting::new("ContainerCreating", ""));
                        self.sandbox_not_before = Some(Instant::now() + self.sandbox_backoff.next_attempt());
                        return;
                    }
                }
            }
        };
        // Sandboxes of earlier attempts are garbage.
        for old in existing.iter().filter(|s| s.id != id) {
            let _ = self.rt.cri.stop_pod_sandbox(&old.id).await;
            let _ = self.rt.cri.remove_pod_sandbox(&old.id).await;
        }
        let pod_ips = match self.rt.cri.pod_sandbox_status(&id).await {
            Ok(_) if spec::host_network(&self.pod) => vec![self.rt.node_ip.clone()],
            Ok(status) => status
                .network
                .map(|n| {
                    std::iter::once(n.ip)
                        .chain(n.additional_ips.into_iter().map(|i| i.ip))
                        .filter(|ip| !ip.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            Err(err) => {
                tracing::warn!(pod = %self.uid, error = %err, "sandbox status");
                Vec::new()
            }
        };
        let hosts = spec::hosts_file(
            &self.pod,
            pod_ips.first().map(String::as_str),
            &self.rt.host_hosts,
            &self.rt.node_hostname,
            &self.rt.cluster_domain,
        );
        if let Err(err) = write_atomic(&self.pod_dir().join("etc-hosts"), hosts.as_bytes()) {
            tracing::warn!(pod = %self.uid, error = %err, "writing the pod's hosts file");
        }
        let config = spec::sandbox_config(&self.pod, &ctx, attempt);
        self.sandbox = Some(Sandbox { id: id.clone(), config, pod_ips });
        self.adopt_containers(&id).await;
        self.state = State::Running;
        self.sync_running().await;
    }

    /// Adopts the pod's running sandbox and its containers, if it has one.
    async fn adopt_ready_sandbox(&mut self) {
        let labels = HashMap::from([(POD_UID_LABEL.to_string(), self.uid.clone())]);
        let Ok(list) = self.rt.cri.list_pod_sandboxes(labels).await else { return };
        let Some(ready) = list.into_iter().find(|s| s.state == cri::PodSandboxState::SandboxReady as i32) else {
            return;
        };
        let attempt = ready.metadata.as_ref().map(|m| m.attempt).unwrap_or(0);
        let config = spec::sandbox_config(&self.pod, &self.sandbox_context(), attempt);
        let pod_ips = if spec::host_network(&self.pod) {
            vec![self.rt.node_ip.clone()]
        } else {
            let status = self.rt.cri.pod_sandbox_status(&ready.id).await.ok();
            status.and_then(|s| s.network).map(|n| vec![n.ip]).unwrap_or_default()
        };
        self.sandbox = Some(Sandbox { id: ready.id.clone(), config, pod_ips });
        self.adopt_containers(&ready.id).await;
    }

    /// Picks up the containers a sandbox already has: the newest attempt of each name is the
    /// current instance, the one before it the last state.
    async fn adopt_containers(&mut self, sandbox_id: &str) {
        let Ok(list) = self.rt.cri.list_containers(sandbox_id, HashMap::new()).await else { return };
        let mut by_name: HashMap<String, Vec<cri::Container>> = HashMap::new();
        for c in list {
            let name =
                c.labels.get(CONTAINER_NAME_LABEL).cloned().or_else(|| c.metadata.as_ref().map(|m| m.name.clone()));
            if let Some(name) = name {
                by_name.entry(name).or_default().push(c);
            }
        }
        let mut adopted = Vec::new();
        for (name, mut instances) in by_name {
            instances.sort_by_key(|c| std::cmp::Reverse(c.metadata.as_ref().map(|m| m.attempt).unwrap_or(0)));
            let Some(tracked) =
                self.init.iter_mut().chain(self.containers.iter_mut()).find(|(n, _)| *n == name).map(|(_, t)| t)
            else {
                // A container no longer in the spec.
                for c in instances {
                    let _ = self.rt.cri.stop_container(&c.id, Duration::from_secs(2)).await;
                    let _ = self.rt.cri.remove_container(&c.id).await;
                }
                continue;
            };
            if tracked.current.is_some() {
                continue;
            }
            let mut statuses = Vec::new();
            for c in instances.iter().take(2) {
                if let Ok(s) = self.rt.cri.container_status(&c.id).await {
                    statuses.push(s);
                }
            }
            // Older instances are garbage, as the kubelet's container GC keeps one dead one.
            for c in instances.iter().skip(2) {
                let _ = self.rt.cri.remove_container(&c.id).await;
            }
            let mut statuses = statuses.into_iter();
            tracked.current = statuses.next();
            tracked.previous = statuses.next();
            tracked.restarts =
                tracked.current.as_ref().and_then(|c| c.metadata.as_ref()).map(|m| m.attempt).unwrap_or(0);
            if tracked.running() {
                adopted.push(name);
            }
        }
        for name in adopted {
            self.start_probes(&name);
        }
    }

    async fn refresh_container_statuses(&mut self) {
        let cri = self.rt.cri.clone();
        for (_, t) in self.init.iter_mut().chain(self.containers.iter_mut()) {
            let Some(id) = t.current.as_ref().map(|c| c.id.clone()) else { continue };
            match cri.container_status(&id).await {
                Ok(status) => t.current = Some(status),
                Err(err) if err.is_not_found() => {
                    // Removed behind our back: it counts as a restart of a gone container.
                    t.previous = t.current.take();
                }
                Err(err) => tracing::warn!(container = %id, error = %err, "container status"),
            }
        }
    }

    async fn sandbox_alive(&self) -> bool {
        let Some(sandbox) = &self.sandbox else { return false };
        match self.rt.cri.pod_sandbox_status(&sandbox.id).await {
            Ok(status) => status.state == cri::PodSandboxState::SandboxReady as i32,
            Err(err) => !err.is_not_found(),
        }
    }

    async fn sync_running(&mut self) {
        if !self.sandbox_alive().await {
            tracing::info!(pod = %self.uid, "sandbox gone; killing containers and making a new one");
            self.event("SandboxChanged", "Pod sandbox changed, it will be killed and re-created.".into(), false);
            self.kill_all(Duration::from_secs(2)).await;
            self.sandbox = None;
            self.state = State::Starting;
            return;
        }
        if let Err(err) = self.refresh_volumes().await {
            tracing::warn!(pod = %self.uid, error = %err, "refreshing volumes");
        }
        self.refresh_container_statuses().await;
        self.apply_liveness().await;
        let policy = restart_policy(&self.pod);
        if self.containers.iter().any(|(_, t)| t.current.is_some()) {
            // Containers ran: the init containers were done (also after an agent restart).
            self.initialized = true;
        }
        // Init containers, in order: each to completion, or for a sidecar
        // (`restartPolicy: Always`), started; sidecars restart whenever they stop.
        let mut gate_open = true;
        for i in 0..self.init.len() {
            let sidecar = self.init_spec(i).is_some_and(spec::is_sidecar);
            if sidecar {
                let t = &self.init[i].1;
                let started_before = t.current.is_some() || t.restarts > 0;
                if !t.running() && (gate_open || started_before) {
                    self.start_or_back_off(true, i).await;
                }
                let t = &self.init[i].1;
                let started = t.running() && t.verdicts.lock().map(|v| v.started).unwrap_or(false);
                if !started && !self.initialized {
                    gate_open = false;
                }
                continue;
            }
            if self.initialized || !gate_open {
                continue;
            }
            let t = &self.init[i].1;
            if t.running()
                || t.current.as_ref().is_some_and(|c| c.state == cri::ContainerState::ContainerCreated as i32)
            {
                gate_open = false;
                continue;
            }
            match t.exited().map(|c| c.exit_code) {
                Some(0) => continue,
                Some(_) if policy == "Never" => {
                    self.finish().await;
                    return;
                }
                _ => {
                    self.start_or_back_off(true, i).await;
                    gate_open = false;
                }
            }
        }
        if !gate_open {
            return;
        }
        self.initialized = true;
        for i in 0..self.containers.len() {
            let t = &self.containers[i].1;
            if t.running() {
                continue;
            }
            let restart = match t.exited().map(|c| c.exit_code) {
                None => t.current.is_none(),
                Some(code) => policy == "Always" || (policy == "OnFailure" && code != 0),
            };
            if restart {
                self.start_or_back_off(false, i).await;
            }
        }
        let observed = self.observed();
        let phase = status::phase(&self.pod, &observed);
        if phase == "Succeeded" || phase == "Failed" {
            // The containers are done: the sidecars get their graceful stop too.
            if self.init.iter().any(|(_, t)| t.running()) {
                self.kill_all(grace_period(&self.pod)).await;
            }
            self.finish().await;
        }
    }

    fn init_spec(&self, index: usize) -> Option<&Container> {
        self.pod.spec.as_ref()?.init_containers.as_ref()?.get(index)
    }

    /// Kills containers whose liveness or startup probe failed; they restart per the policy.
    async fn apply_liveness(&mut self) {
        let grace = grace_period(&self.pod);
        let mut to_kill = Vec::new();
        for (name, t) in self.init.iter().chain(self.containers.iter()) {
            let unhealthy = t.verdicts.lock().map(|mut v| v.unhealthy.take()).unwrap_or(None);
            if let (Some(message), true) = (unhealthy, t.running()) {
                to_kill.push((name.clone(), t.current.as_ref().map(|c| c.id.clone()).unwrap_or_default(), message));
            }
        }
        for (name, id, message) in to_kill {
            self.event(
                "Killing",
                format!("Container {name} failed liveness probe, will be restarted: {message}"),
                false,
            );
            if let Err(err) = self.rt.cri.stop_container(&id, grace).await {
                tracing::warn!(container = %id, error = %err, "stopping an unhealthy container");
            }
            if let Ok(status) = self.rt.cri.container_status(&id).await
                && let Some(t) = self.tracked_mut(&name)
            {
                t.current = Some(status);
            }
        }
    }

    fn tracked_mut(&mut self, name: &str) -> Option<&mut Tracked> {
        self.init.iter_mut().chain(self.containers.iter_mut()).find(|(n, _)| n == name).map(|(_, t)| t)
    }

    fn container_spec(&self, init: bool, index: usize) -> Option<Container> {
        let spec = self.pod.spec.as_ref()?;
        if init { spec.init_containers.as_ref()?.get(index).cloned() } else { spec.containers.get(index).cloned() }
    }

    async fn start_or_back_off(&mut self, init: bool, index: usize) {
        let Some(container) = self.container_spec(init, index) else { return };
        let (namespace, pod_name, uid) = meta(&self.pod);
        let t = if init { &mut self.init[index].1 } else { &mut self.containers[index].1 };
        if let Some(exited) = t.exited().cloned()
            && t.not_before.is_none()
        {
            {
                let delay = t.backoff.next(ran_for(&exited));
                let finished = Duration::from_nanos(u64::try_from(exited.finished_at).unwrap_or(0));
                let now = Duration::from_nanos(u64::try_from(Timestamp::now().as_nanosecond()).unwrap_or(0));
                t.not_before = Some(Instant::now() + (finished + delay).saturating_sub(now));
                if !delay.is_zero() {
                    t.waiting = Some(Waiting::new(
                        "CrashLoopBackOff",
                        format!(
                            "back-off {}s restarting failed container={} pod={pod_name}_{namespace}({uid})",
                            delay.as_secs(),
                            container.name
                        ),
                    ));
                }
            }
        }
        if t.not_before.is_some_and(|at| Instant::now() < at) {
            return;
        }
        match self.start_container(&container, init, index).await {
            Ok(()) => {}
            Err(waiting) => {
                let t = if init { &mut self.init[index].1 } else { &mut self.containers[index].1 };
                let delay = t.backoff.next_attempt();
                t.not_before = Some(Instant::now() + delay);
                // The kubelet's event reasons: Failed for what went wrong, BackOff while it waits.
                let reason = if waiting.reason.ends_with("BackOff") { "BackOff" } else { "Failed" };
                self.event(reason, waiting.message.clone(), true);
                let t = if init { &mut self.init[index].1 } else { &mut self.containers[index].1 };
                t.waiting = Some(waiting);
            }
        }
    }

    /// Pulls the image as the pull policy says; returns the image's ID and user.
    async fn ensure_image(&self, container: &Container) -> Result<(String, Option<i64>, String), Waiting> {
        let image = container.image.clone().unwrap_or_default();
        let policy = spec::pull_policy(container);
        let present = self.rt.cri.image_status(&image).await.map_err(|e| Waiting::new("ErrImagePull", e.message()))?;
        let found = |img: cri::Image| (img.id, img.uid.map(|u| u.value), img.username);
        match (policy, present) {
            (PullPolicy::IfNotPresent | PullPolicy::Never, Some(img)) => return Ok(found(img)),
            (PullPolicy::Never, None) => {
                return Err(Waiting::new(
                    "ErrImageNeverPull",
                    format!("Container image \"{image}\" is not present with pull policy of Never"),
                ));
            }
            _ => {}
        }
        let configs = self.pull_secrets().await;
        // As the kubelet: the pod's credentials for the image's registry, each
        // in turn, and none other after them (containerd uses registries.yaml's
        // only for a pull without any); one pull without when the pod has none.
        let mut auths: Vec<Option<cri::AuthConfig>> =
            spec::pull_auths(&image, &configs).into_iter().map(Some).collect();
        if auths.is_empty() {
            auths.push(None);
        }
        let sandbox_config = self.sandbox.as_ref().map(|s| s.config.clone());
        let mut errors: Vec<String> = Vec::new();
        for auth in auths {
            match self.rt.cri.pull_image(&image, auth, sandbox_config.clone()).await {
                Ok(_) => {
                    self.event("Pulled", format!("Successfully pulled image \"{image}\""), false);
                    let img = self.rt.cri.image_status(&image).await.ok().flatten();
                    return img.map(found).ok_or_else(|| Waiting::new("ErrImagePull", "image vanished after its pull"));
                }
                Err(err) if !errors.contains(&err.message()) => errors.push(err.message()),
                Err(_) => {}
            }
        }
        // The distinct errors, as the kubelet's aggregate error prints them.
        let why = if errors.len() == 1 { errors.remove(0) } else { format!("[{}]", errors.join(", ")) };
        Err(Waiting::new("ErrImagePull", format!("failed to pull image \"{image}\": {why}")))
    }

    async fn pull_secrets(&self) -> Vec<Vec<u8>> {
        let namespace = self.pod.metadata.namespace.clone().unwrap_or_default();
        let api: kube::Api<Secret> = kube::Api::namespaced(self.rt.client.clone(), &namespace);
        let mut out = Vec::new();
        for reference in self.pod.spec.as_ref().and_then(|s| s.image_pull_secrets.clone()).unwrap_or_default() {
            let Ok(secret) = api.get(&reference.name).await else { continue };
            let data = secret.data.unwrap_or_default();
            if let Some(raw) = data.get(".dockerconfigjson").or(data.get(".dockercfg")) {
                out.push(raw.0.clone());
            }
        }
        out
    }

    async fn start_container(&mut self, container: &Container, init: bool, index: usize) -> Result<(), Waiting> {
        let Some(sandbox) = &self.sandbox else { return Err(Waiting::new("ContainerCreating", "")) };
        let sandbox_id = sandbox.id.clone();
        let sandbox_config = sandbox.config.clone();
        let pod_ips = sandbox.pod_ips.clone();
        let (image_ref, image_uid, image_user) = match self.ensure_image(container).await {
            Ok(found) => found,
            Err(w) => {
                let t = if init { &self.init[index].1 } else { &self.containers[index].1 };
                let retried = t
                    .waiting
                    .as_ref()
                    .is_some_and(|old| old.reason == "ErrImagePull" || old.reason == "ImagePullBackOff");
                return Err(if retried && w.reason == "ErrImagePull" {
                    Waiting::new(
                        "ImagePullBackOff",
                        // As kubelet 1.32+: the back-off names the error it waits out.
                        format!(
                            "Back-off pulling image \"{}\": ErrImagePull: {}",
                            container.image.clone().unwrap_or_default(),
                            w.message
                        ),
                    )
                } else {
                    w
                });
            }
        };
        let ctx = env::EnvContext {
            client: &self.rt.client,
            pod: &self.pod,
            node_name: &self.rt.node_name,
            host_ip: &self.rt.node_ip,
            pod_ip: pod_ips.first().map(String::as_str),
            pod_ips: &pod_ips,
        };
        let config_error = |m: String| Waiting::new("CreateContainerConfigError", m);
        let envs = env::resolve(&ctx, container).await.map_err(|e| config_error(e.to_string()))?;
        let mounts = match &self.volumes {
            Some((v, _)) => v.mounts_with_env(container, &envs).map_err(|e| config_error(e.to_string()))?,
            None => Vec::new(),
        };
        let t = if init { &self.init[index].1 } else { &self.containers[index].1 };
        let attempt = t.next_attempt();
        let termination_log = self.pod_dir().join("containers").join(&container.name).join(attempt.to_string());
        if let Some(dir) = termination_log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| config_error(format!("creating {}: {e}", dir.display())))?;
        }
        std::fs::write(&termination_log, b"")
            .map_err(|e| config_error(format!("creating {}: {e}", termination_log.display())))?;
        let hosts = self.pod_dir().join("etc-hosts");
        let cctx = spec::ContainerContext {
            attempt,
            image_ref: &image_ref,
            env: &envs,
            mounts: &mounts,
            hosts_file: hosts.exists().then_some(hosts.as_path()),
            termination_log: &termination_log,
            memory_capacity: self.rt.memory_capacity,
            image_uid,
            image_user: &image_user,
        };
        let config = spec::container_config(&self.pod, container, &cctx).map_err(|e| config_error(e.to_string()))?;
        let id = self
            .rt
            .cri
            .create_container(&sandbox_id, config, sandbox_config)
            .await
            .map_err(|e| Waiting::new("CreateContainerError", e.message()))?;
        let started = self.rt.cri.start_container(&id).await;
        let status = self.rt.cri.container_status(&id).await.ok();
        let t = if init { &mut self.init[index].1 } else { &mut self.containers[index].1 };
        let mut garbage = None;
        if t.current.is_some() {
            t.restarts += 1;
            // The kubelet keeps one dead instance per container (for `logs --previous`).
            garbage = t.previous.take().map(|old| old.id);
        }
        t.previous = t.current.take().or(t.previous.take());
        t.current = status;
        t.not_before = None;
        t.waiting = None;
        if let Some(old) = t.probes.take() {
            old.abort();
        }
        t.verdicts = Arc::new(Mutex::new(Verdicts::default()));
        if let Some(old) = garbage
            && let Err(err) = self.rt.cri.remove_container(&old).await
        {
            tracing::warn!(container = %old, error = %err, "removing a dead container instance");
        }
        if let Err(err) = started {
            return Err(Waiting::new("RunContainerError", err.message()));
        }
        self.event("Started", format!("Started container {}", container.name), false);
        if let Some(handler) = container.lifecycle.as_ref().and_then(|l| l.post_start.clone())
            && let Err(message) = self.run_hook(&id, container, &handler, Duration::from_secs(30)).await
        {
            {
                self.event("FailedPostStartHook", message, true);
                let _ = self.rt.cri.stop_container(&id, grace_period(&self.pod)).await;
                return Ok(());
            }
        }
        self.start_probes(&container.name);
        Ok(())
    }

    fn exec_fn(&self, container_id: String) -> ExecFn {
        let cri = self.rt.cri.clone();
        Arc::new(move |cmd, timeout| {
            let cri = cri.clone();
            let id = container_id.clone();
            Box::pin(async move {
                let out = cri.exec_sync(&id, cmd, timeout).await.map_err(|e| e.message())?;
                let mut combined = out.stdout;
                combined.extend(out.stderr);
                Ok((out.exit_code, combined))
            })
        })
    }

    fn pod_ip(&self) -> Option<IpAddr> {
        self.sandbox.as_ref().and_then(|s| s.pod_ips.first()).and_then(|ip| ip.parse().ok())
    }

    /// Runs a lifecycle hook through the probe code (exec, httpGet, tcpSocket) or sleeps.
    async fn run_hook(
        &self,
        id: &str,
        container: &Container,
        handler: &LifecycleHandler,
        timeout: Duration,
    ) -> Result<(), String> {
        if let Some(sleep) = &handler.sleep {
            tokio::time::sleep(Duration::from_secs(u64::try_from(sleep.seconds).unwrap_or(0)).min(timeout)).await;
            return Ok(());
        }
        let probe = Probe {
            exec: handler.exec.clone(),
            http_get: handler.http_get.clone(),
            tcp_socket: handler.tcp_socket.clone(),
            timeout_seconds: Some(i32::try_from(timeout.as_secs().max(1)).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        match super::probe::probe_once(&probe, container, self.pod_ip(), &self.exec_fn(id.to_string())).await {
            super::probe::ProbeOutcome::Success => Ok(()),
            super::probe::ProbeOutcome::Failure(message) => Err(message),
        }
    }

    /// Starts the probe task of a container's current instance.
    fn start_probes(&mut self, name: &str) {
        let Some(container) =
            self.pod.spec.as_ref().and_then(|s| {
                s.init_containers.iter().flatten().chain(&s.containers).find(|c| c.name == name).cloned()
            })
        else {
            return;
        };
        let pod_ip = self.pod_ip();
        let Some(id) = self
            .init
            .iter()
            .chain(&self.containers)
            .find(|(n, _)| n == name)
            .and_then(|(_, t)| t.current.as_ref())
            .map(|c| c.id.clone())
        else {
            return;
        };
        let exec = self.exec_fn(id);
        let Some(t) = self.tracked_mut(name) else { return };
        let verdicts = t.verdicts.clone();
        {
            let Ok(mut v) = verdicts.lock() else { return };
            v.started = container.startup_probe.is_none();
            v.ready = container.readiness_probe.is_none();
        }
        if container.startup_probe.is_none()
            && container.liveness_probe.is_none()
            && container.readiness_probe.is_none()
        {
            return;
        }
        let handle = self.probe_tasks.spawn(probe_container(container, pod_ip, exec, verdicts));
        if let Some(t) = self.tracked_mut(name) {
            t.probes = Some(handle);
        }
    }

    fn observed(&self) -> ObservedPod {
        let observe = |(name, t): &(String, Tracked), spec: Option<&Container>| {
            let (ready, started) = t.verdicts.lock().map(|v| (v.ready, v.started)).unwrap_or((false, false));
            ObservedContainer {
                sidecar: spec.is_some_and(spec::is_sidecar),
                name: name.clone(),
                image: spec.and_then(|c| c.image.clone()).unwrap_or_default(),
                current: t.current.clone(),
                previous: t.previous.clone(),
                restart_count: t.restarts,
                waiting: if t.running() { None } else { t.waiting.clone() },
                ready,
                started,
            }
        };
        let spec = self.pod.spec.as_ref();
        let init_specs = spec.and_then(|s| s.init_containers.as_ref());
        ObservedPod {
            evicted: self.evicted.clone(),
            initialized: self.initialized,
            sandbox_ready: self.sandbox.is_some() && matches!(self.state, State::Running),
            pod_ips: self.sandbox.as_ref().map(|s| s.pod_ips.clone()).unwrap_or_default(),
            host_ip: self.rt.node_ip.clone(),
            start_time: self.start_time,
            init: self.init.iter().enumerate().map(|(i, c)| observe(c, init_specs.and_then(|l| l.get(i)))).collect(),
            containers: self
                .containers
                .iter()
                .enumerate()
                .map(|(i, c)| observe(c, spec.and_then(|s| s.containers.get(i))))
                .collect(),
        }
    }

    fn write_status(&mut self) {
        if self.terminal_before || (matches!(self.state, State::Starting) && self.start_time.is_none()) {
            return;
        }
        let status = status::pod_status(&self.pod, &self.observed(), self.last_status.as_ref());
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        self.last_status = Some(status.clone());
        let (namespace, name, uid) = meta(&self.pod);
        let _ = self.rt.reports.send(Report::Status { namespace, name, uid, status });
    }

    /// The pod reached Succeeded or Failed: stop the sandbox, keep containers and logs.
    async fn finish(&mut self) {
        self.probe_tasks.abort_all();
        if let Some(sandbox) = &self.sandbox
            && let Err(err) = self.rt.cri.stop_pod_sandbox(&sandbox.id).await
        {
            tracing::warn!(pod = %self.uid, error = %err, "stopping the finished pod's sandbox");
        }
        self.state = State::Finished;
    }

    /// Stops every running container: the containers first, then the sidecars
    /// (and any running init container), each group with what is left of `grace`.
    async fn kill_all(&mut self, grace: Duration) {
        self.probe_tasks.abort_all();
        let started = Instant::now();
        let running = |list: &[(String, Tracked)]| -> Vec<(String, String)> {
            list.iter()
                .filter(|(_, t)| t.running())
                .filter_map(|(n, t)| t.current.as_ref().map(|c| (n.clone(), c.id.clone())))
                .collect()
        };
        let containers = running(&self.containers);
        self.stop_group(containers, grace).await;
        let init = running(&self.init);
        self.stop_group(init, grace.saturating_sub(started.elapsed())).await;
        self.refresh_container_statuses().await;
    }

    /// Runs the preStop hooks and stops the containers, side by side.
    async fn stop_group(&mut self, running: Vec<(String, String)>, grace: Duration) {
        let mut stops = JoinSet::new();
        for (name, id) in running {
            let cri = self.rt.cri.clone();
            let pre_stop = self
                .container_spec_by_name(&name)
                .and_then(|c| c.lifecycle.as_ref().and_then(|l| l.pre_stop.clone()).map(|h| (c, h)));
            let hook = match pre_stop {
                Some((container, handler)) => {
                    let started = Instant::now();
                    if let Err(message) = self.run_hook(&id, &container, &handler, grace).await {
                        self.event("FailedPreStopHook", message, true);
                    }
                    started.elapsed()
                }
                None => Duration::ZERO,
            };
            let remaining = grace.saturating_sub(hook);
            stops.spawn(async move { cri.stop_container(&id, remaining).await });
        }
        while let Some(result) = stops.join_next().await {
            if let Ok(Err(err)) = result {
                tracing::warn!(pod = %self.uid, error = %err, "stopping a container");
            }
        }
    }

    fn container_spec_by_name(&self, name: &str) -> Option<Container> {
        let spec = self.pod.spec.as_ref()?;
        spec.init_containers.iter().flatten().chain(&spec.containers).find(|c| c.name == name).cloned()
    }

    /// Graceful termination: preStop hooks, StopContainer with the grace period, then the
    /// sandbox, every container and sandbox of the pod, and its volumes.
    pub async fn terminate(&mut self, grace: Duration) {
        // A pod deleted while the agent was down: its containers still get their preStop hooks.
        if self.sandbox.is_none() {
            self.adopt_ready_sandbox().await;
        }
        self.kill_all(grace).await;
        let labels = HashMap::from([(POD_UID_LABEL.to_string(), self.uid.clone())]);
        for c in self.rt.cri.list_containers("", labels.clone()).await.unwrap_or_default() {
            let _ = self.rt.cri.stop_container(&c.id, Duration::ZERO).await;
            if let Err(err) = self.rt.cri.remove_container(&c.id).await {
                tracing::warn!(container = %c.id, error = %err, "removing a container");
            }
        }
        for s in self.rt.cri.list_pod_sandboxes(labels).await.unwrap_or_default() {
            let _ = self.rt.cri.stop_pod_sandbox(&s.id).await;
            if let Err(err) = self.rt.cri.remove_pod_sandbox(&s.id).await {
                tracing::warn!(sandbox = %s.id, error = %err, "removing a sandbox");
            }
        }
        remove_pod_cgroup(&spec::cgroup_parent(&self.pod));
        let pod_dir = self.pod_dir();
        match volumes::cleanup(&pod_dir) {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(pod_dir.join("containers"));
                let _ = std::fs::remove_file(pod_dir.join("etc-hosts"));
                let _ = std::fs::remove_dir(&pod_dir);
            }
            Err(err) => tracing::warn!(pod = %self.uid, error = %err, "cleaning up volumes"),
        }
        self.sandbox = None;
        self.state = State::Finished;
    }
}

/// The probes of one container instance: startup first, then liveness and readiness.
async fn probe_container(container: Container, pod_ip: Option<IpAddr>, exec: ExecFn, verdicts: Arc<Mutex<Verdicts>>) {
    let set = |f: &dyn Fn(&mut Verdicts)| {
        if let Ok(mut v) = verdicts.lock() {
            f(&mut v);
        }
    };
    if let Some(probe) = container.startup_probe.clone() {
        let mut worker = ProbeWorker::new(probe, ProbeKind::Startup);
        loop {
            match worker.next(&container, pod_ip, &exec).await {
                Some(true) => break,
                Some(false) => {
                    let message = worker.last_failure().unwrap_or("startup probe failed").to_string();
                    set(&|v| v.unhealthy = Some(message.clone()));
                    return;
                }
                None => {}
            }
        }
        set(&|v| v.started = true);
    }
    let mut liveness = container.liveness_probe.clone().map(|p| ProbeWorker::new(p, ProbeKind::Liveness));
    let mut readiness = container.readiness_probe.clone().map(|p| ProbeWorker::new(p, ProbeKind::Readiness));
    loop {
        tokio::select! {
            verdict = async { match liveness.as_mut() { Some(w) => w.next(&container, pod_ip, &exec).await, None => std::future::pending().await } } => {
                if verdict == Some(false) {
                    let message = liveness.as_ref().and_then(|w| w.last_failure()).unwrap_or("liveness probe failed").to_string();
                    set(&|v| v.unhealthy = Some(message.clone()));
                    return;
                }
            }
            verdict = async { match readiness.as_mut() { Some(w) => w.next(&container, pod_ip, &exec).await, None => std::future::pending().await } } => {
                set(&|v| v.ready = verdict == Some(true));
            }
        }
    }
}

/// Removes the pod's (empty) cgroup from every hierarchy; runc removes only the containers'.
fn remove_pod_cgroup(parent: &str) {
    let root = std::path::Path::new("/sys/fs/cgroup");
    let relative = parent.trim_start_matches('/');
    let unified = root.join(relative);
    if unified.is_dir() {
        let _ = std::fs::remove_dir(&unified);
    }
    for hierarchy in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let dir = hierarchy.path().join(relative);
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

fn write_atomic(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(tmp, path)
}
