//! The scheduler: places each pod that names no node (and asks for
//! `default-scheduler`) on the best node that passes the filters, and
//! binds it through `pods/binding`. One pod at a time is decided; bindings
//! run in the background with the pod "assumed" on its node, so that the
//! next decision already counts it. A pod that fits nowhere gets
//! `PodScheduled=False` (reason Unschedulable) and a FailedScheduling
//! event with upstream's wording, and is tried again when a node changes
//! or a pod goes away, or after a minute.

pub(crate) mod filters;
pub(crate) mod quantity;
mod score;
mod volumes;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};
use crate::queue::{self, Key, Next, Queue};
pub use filters::tolerates;
use filters::{NodeView, Placed};
pub use volumes::Storage;

pub const NAME: &str = "default-scheduler";
/// How often unschedulable pods are tried again regardless of events.
const RETRY_UNSCHEDULABLE: Duration = Duration::from_secs(60);
const BINDINGS_IN_FLIGHT: usize = 32;

struct Scheduler {
    client: kube::Client,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    queue: Arc<Queue>,
    state: Mutex<State>,
    bindings: Arc<Semaphore>,
    events: Recorder,
    storage: Storage,
}

#[derive(Default)]
struct State {
    /// Pods on nodes (bound, or assumed while their binding runs), by uid.
    placed: HashMap<String, Placed>,
    /// Uids whose binding is under way.
    assumed: HashSet<String>,
    unschedulable: HashSet<Key>,
    /// Volumes chosen for claims by bindings under way.
    taken_volumes: HashSet<String>,
}

pub async fn run(
    client: kube::Client,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    storage: Storage,
    events: Recorder,
) {
    let s = Arc::new(Scheduler {
        client,
        pods,
        nodes,
        queue: Queue::new(),
        state: Mutex::default(),
        bindings: Arc::new(Semaphore::new(BINDINGS_IN_FLIGHT)),
        events,
        storage,
    });
    let mut pod_changes = s.pods.subscribe();
    let mut node_changes = s.nodes.subscribe();
    let mut claim_changes = s.storage.claims.subscribe();
    let mut volume_changes = s.storage.volumes.subscribe();
    let mut class_changes = s.storage.classes.subscribe();
    s.pods.ready().await;
    s.nodes.ready().await;
    s.storage.claims.ready().await;
    s.storage.volumes.ready().await;
    s.storage.classes.ready().await;
    s.relist();
    let worker = Arc::clone(&s);
    let _workers = queue::spawn_workers(Arc::clone(&s.queue), 1, "scheduler", move |key| {
        let s = Arc::clone(&worker);
        async move { s.schedule_one(key).await }
    });
    let mut retry = tokio::time::interval(RETRY_UNSCHEDULABLE);
    loop {
        tokio::select! {
            change = informer::next(&mut pod_changes) => match change {
                Some(Change::Applied(pod)) => s.pod_applied(&pod),
                Some(Change::Deleted(pod)) => s.pod_deleted(&pod),
                Some(Change::Relisted) => s.relist(),
                None => return,
            },
            change = informer::next(&mut node_changes) => match change {
                Some(_) => s.retry_unschedulable(),
                None => return,
            },
            // A claim, volume or class that changes may let a pod's volumes fit.
            change = informer::next(&mut claim_changes) => match change {
                Some(_) => s.retry_unschedulable(),
                None => return,
            },
            change = informer::next(&mut volume_changes) => match change {
                Some(_) => s.retry_unschedulable(),
                None => return,
            },
            change = informer::next(&mut class_changes) => match change {
                Some(_) => s.retry_unschedulable(),
                None => return,
            },
            _ = retry.tick() => s.retry_unschedulable(),
        }
    }
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

fn ours(pod: &Pod) -> bool {
    let name = pod.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or(NAME);
    (name == NAME || name.is_empty()) && pod.metadata.deletion_timestamp.is_none() && !crate::pods::is_terminal(pod)
}

impl Scheduler {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn relist(&self) {
        let mut state = self.lock();
        let assumed: Vec<(String, Placed)> =
            state.assumed.iter().filter_map(|uid| state.placed.get(uid).map(|p| (uid.clone(), p.clone()))).collect();
        state.placed.clear();
        for pod in self.pods.store.state() {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            match node_of(&pod) {
                Some(node) if !crate::pods::is_terminal(&pod) => {
                    state.placed.insert(uid, Placed::of(&pod, node));
                }
                None if ours(&pod) => self.queue.add(Key::of(&pod.metadata)),
                _ => {}
            }
        }
        for (uid, p) in assumed {
            state.placed.entry(uid).or_insert(p);
        }
    }

    fn pod_applied(&self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = Key::of(&pod.metadata);
        match node_of(pod) {
            Some(node) => {
                let mut state = self.lock();
                state.assumed.remove(&uid);
                state.unschedulable.remove(&key);
                if crate::pods::is_terminal(pod) {
                    let freed = state.placed.remove(&uid).is_some();
                    drop(state);
                    if freed {
                        self.retry_unschedulable();
                    }
                } else {
                    state.placed.insert(uid, Placed::of(pod, node));
                }
            }
            None if ours(pod) => {
                let state = self.lock();
                if !state.unschedulable.contains(&key) && !state.assumed.contains(&uid) {
                    drop(state);
                    self.queue.add(key);
                }
            }
            None => {}
        }
    }

    fn pod_deleted(&self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let freed = {
            let mut state = self.lock();
            state.assumed.remove(&uid);
            state.unschedulable.remove(&Key::of(&pod.metadata));
            state.placed.remove(&uid).is_some()
        };
        if freed {
            self.retry_unschedulable();
        }
    }

    fn retry_unschedulable(&self) {
        let keys: Vec<Key> = self.lock().unschedulable.drain().collect();
        for key in keys {
            self.queue.add(key);
        }
    }

    async fn schedule_one(self: &Arc<Self>, key: Key) -> Result<Next, kube::Error> {
        let Some(pod) = self.pods.get(Some(&key.namespace), &key.name) else { return Ok(Next::Done) };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if node_of(&pod).is_some() || !ours(&pod) || self.lock().assumed.contains(&uid) {
            return Ok(Next::Done);
        }
        let nodes = self.nodes.store.state();
        if nodes.is_empty() {
            self.unschedulable(&pod, filters::summary(0, &BTreeMap::new())).await;
            return Ok(Next::Done);
        }
        let pod_volumes = match volumes::PodVolumes::of(&pod, &self.storage) {
            Ok(v) => v,
            Err(message) => {
                self.unschedulable(&pod, format!("0/{} nodes are available: {message}.", nodes.len())).await;
                return Ok(Next::Done);
            }
        };
        let all_volumes = if pod_volumes.is_empty() { Vec::new() } else { self.storage.volumes.store.state() };
        let (choice, reasons, decision) = {
            let state = self.lock();
            let mut by_node: HashMap<&str, Vec<&Placed>> = HashMap::new();
            for p in state.placed.values() {
                by_node.entry(p.node.as_str()).or_default().push(p);
            }
            let views: Vec<NodeView<'_>> = nodes
                .iter()
                .map(|n| {
                    let name = n.metadata.name.as_deref().unwrap_or_default();
                    NodeView {
                        node: n.as_ref(),
                        name,
                        labels: n.metadata.labels.clone().unwrap_or_default(),
                        placed: by_node.remove(name).unwrap_or_default(),
                    }
                })
                .collect();
            let requests = quantity::pod_requests(&pod);
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            let mut feasible = Vec::new();
            for view in &views {
                let failed = filters::check(&pod, &requests, view, &views, |v| {
                    pod_volumes.filter(v, &all_volumes, &state.taken_volumes)
                });
                if failed.is_empty() {
                    feasible.push(view);
                }
                for r in failed {
                    *reasons.entry(r).or_default() += 1;
                }
            }
            let choice = score::best(&pod, &requests, &feasible, &views).map(str::to_string);
            let decision = choice
                .as_deref()
                .and_then(|c| views.iter().find(|v| v.name == c))
                .and_then(|v| pod_volumes.decide(v, &all_volumes, &state.taken_volumes).ok())
                .unwrap_or_default();
            (choice, reasons, decision)
        };
        let Some(node) = choice else {
            let message = filters::summary(nodes.len(), &reasons);
            self.unschedulable(&pod, message).await;
            return Ok(Next::Done);
        };
        {
            let mut state = self.lock();
            state.assumed.insert(uid.clone());
            state.placed.insert(uid.clone(), Placed::of(&pod, &node));
            state.taken_volumes.extend(decision.volume_names());
        }
        let s = Arc::clone(self);
        if !decision.is_empty() {
            // Waiting for volumes can take long: it holds no binding slot.
            tokio::spawn(async move {
                if s.bind_volumes(&pod, &node, &key, &decision).await {
                    let _permit = Arc::clone(&s.bindings).acquire_owned().await.ok();
                    s.bind(&pod, &node, key).await;
                }
            });
            return Ok(Next::Done);
        }
        let permit = Arc::clone(&self.bindings).acquire_owned().await.ok();
        tokio::spawn(async move {
            let _permit = permit;
            s.bind(&pod, &node, key).await;
        });
        Ok(Next::Done)
    }

    /// VolumeBinding's PreBind: true when the pod's claims are bound and it may be bound.
    async fn bind_volumes(&self, pod: &Pod, node: &str, key: &Key, decision: &volumes::Decision) -> bool {
        let result = volumes::bind(&self.client, &self.storage, pod, node, decision).await;
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut state = self.lock();
        for name in decision.volume_names() {
            state.taken_volumes.remove(&name);
        }
        let Err(e) = result else { return true };
        state.assumed.remove(&uid);
        state.placed.remove(&uid);
        drop(state);
        let message = format!("running PreBind plugin \"VolumeBinding\": binding volumes: {e}");
        tracing::warn!(pod = %key, %node, "{message}");
        self.events.record(pod, Type::Warning, "FailedScheduling", message);
        self.queue.add_after(key.clone(), Duration::from_secs(1));
        false
    }

    async fn bind(&self, pod: &Pod, node: &str, key: Key) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let binding = json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": key.name, "namespace": key.namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        let result: Result<serde_json::Value, kube::Error> =
            api.create_subresource("binding", &key.name, &PostParams::default(), &binding).await;
        match result {
            Ok(_) => {
                self.events.record(
                    pod,
                    Type::Normal,
                    "Scheduled",
                    format!("Successfully assigned {}/{} to {node}", key.namespace, key.name),
                );
            }
            Err(e) => {
                {
                    let mut state = self.lock();
                    state.assumed.remove(&uid);
                    state.placed.remove(&uid);
                }
                match &e {
                    // Gone, or bound by someone else: nothing to do.
                    kube::Error::Api(s) if s.code == 404 || s.code == 409 => {}
                    _ => {
                        tracing::warn!(pod = %key, %node, "binding failed: {e}");
                        self.queue.add_after(key, Duration::from_secs(1));
                    }
                }
            }
        }
    }

    async fn unschedulable(&self, pod: &Pod, message: String) {
        let key = Key::of(&pod.metadata);
        self.lock().unschedulable.insert(key.clone());
        let current = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
            .and_then(|c| c.message.clone());
        self.events.record(pod, Type::Warning, "FailedScheduling", message.clone());
        if current.as_deref() == Some(message.as_str()) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastProbeTime": null, "lastTransitionTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()),
        }]}});
        if let Err(e) = api.patch_status(&key.name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
            tracing::debug!(pod = %key, "cannot report the pod unschedulable: {e}");
        }
    }
}
