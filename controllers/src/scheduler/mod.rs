//! The scheduler: places each pod that names no node (and asks for
//! `default-scheduler`) on the best node that passes the filters, and
//! binds it through `pods/binding`. One pod at a time is decided, the
//! highest priority first (`queue.rs`); bindings run in the background
//! with the pod "assumed" on its node, so that the next decision already
//! counts it. A pod that fits nowhere may preempt pods of lower priority
//! (`preemption.rs`): they are marked `DisruptionTarget` and deleted, and
//! the pod is nominated to their node, whose room pods of no higher
//! priority may not take meanwhile. A pod that fits nowhere gets
//! `PodScheduled=False` (reason Unschedulable) and a FailedScheduling
//! event with upstream's wording, and is tried again when a node changes
//! or a pod goes away, or after a minute.

pub(crate) mod filters;
mod preemption;
pub(crate) mod quantity;
mod queue;
mod score;
mod volumes;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};
use crate::queue::Key;
pub use filters::tolerates;
use filters::{NodeView, Placed};
use preemption::{Budget, Preemptor, Verdict, priority_of};
use queue::SchedulingQueue;
pub use volumes::Storage;

pub const NAME: &str = "default-scheduler";
/// How often unschedulable pods are tried again regardless of events.
const RETRY_UNSCHEDULABLE: Duration = Duration::from_secs(60);
const BINDINGS_IN_FLIGHT: usize = 32;

struct Scheduler {
    client: kube::Client,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    budgets: Arc<Informer<PodDisruptionBudget>>,
    queue: Arc<SchedulingQueue>,
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
    /// Pending pods' room on the nodes they are nominated to, by uid.
    nominated: HashMap<String, Placed>,
    unschedulable: HashSet<Key>,
    /// Volumes chosen for claims by bindings under way.
    taken_volumes: HashSet<String>,
}

impl State {
    /// Follows a pending pod's `status.nominatedNodeName`.
    fn nominate(&mut self, pod: &Pod, uid: &str) {
        let node = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty());
        match node {
            Some(node) if !self.assumed.contains(uid) => {
                self.nominated.insert(uid.to_string(), Placed { nominated: true, ..Placed::of(pod, node) });
            }
            _ => {
                self.nominated.remove(uid);
            }
        }
    }
}

/// What becomes of a pod's `status.nominatedNodeName` when it fits nowhere.
enum Nomination {
    Keep,
    Set(String),
    Clear,
}

/// Pods to evict so that a preemptor fits on `node`.
struct Eviction {
    node: String,
    /// With their uids.
    victims: Vec<(Key, String)>,
    /// Lower-priority pods nominated to the node, which may no longer fit there.
    displaced: Vec<Key>,
}

/// The outcome of one scheduling cycle.
enum Decision {
    Bind { node: String, volumes: volumes::Decision },
    Unschedulable { message: String, nomination: Nomination, eviction: Option<Eviction> },
}

pub async fn run(
    client: kube::Client,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    storage: Storage,
    events: Recorder,
) {
    let mut tasks = JoinSet::new();
    let budgets =
        Informer::start(&mut tasks, Api::<PodDisruptionBudget>::all(client.clone()), watcher::Config::default());
    let s = Arc::new(Scheduler {
        client,
        pods,
        nodes,
        budgets,
        queue: SchedulingQueue::new(),
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
    s.budgets.ready().await;
    s.storage.claims.ready().await;
    s.storage.volumes.ready().await;
    s.storage.classes.ready().await;
    s.relist();
    let worker = Arc::clone(&s);
    tasks.spawn(async move {
        loop {
            let key = worker.queue.next().await;
            worker.schedule_one(&key).await;
            worker.queue.done(&key);
        }
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
        state.nominated.clear();
        for pod in self.pods.store.state() {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            match node_of(&pod) {
                Some(node) if !crate::pods::is_terminal(&pod) => {
                    state.placed.insert(uid, Placed::of(&pod, node));
                }
                None if ours(&pod) => {
                    state.nominate(&pod, &uid);
                    self.queue.add(Key::of(&pod.metadata), priority_of(&pod));
                }
                _ => {}
            }
        }
        for (uid, p) in assumed {
            state.nominated.remove(&uid);
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
                state.nominated.remove(&uid);
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
                let mut state = self.lock();
                state.nominate(pod, &uid);
                if !state.unschedulable.contains(&key) && !state.assumed.contains(&uid) {
                    drop(state);
                    self.queue.add(key, priority_of(pod));
                }
            }
            None => {
                self.lock().nominated.remove(&uid);
            }
        }
    }

    fn pod_deleted(&self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let freed = {
            let mut state = self.lock();
            state.assumed.remove(&uid);
            state.nominated.remove(&uid);
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
            let priority = self.pods.get(Some(&key.namespace), &key.name).map_or(0, |p| priority_of(&p));
            self.queue.add(key, priority);
        }
    }

    async fn schedule_one(self: &Arc<Self>, key: &Key) {
        let Some(pod) = self.pods.get(Some(&key.namespace), &key.name) else { return };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if node_of(&pod).is_some() || !ours(&pod) || self.lock().assumed.contains(&uid) {
            return;
        }
        let nodes = self.nodes.store.state();
        if nodes.is_empty() {
            self.unschedulable(&pod, filters::summary(0, &BTreeMap::new()), Nomination::Keep).await;
            return;
        }
        let pod_volumes = volumes::PodVolumes::of(&pod, &self.storage);
        let all_volumes = match &pod_volumes {
            Ok(v) if !v.is_empty() => self.storage.volumes.store.state(),
            _ => Vec::new(),
        };
        let decision = {
            let state = self.lock();
            let priority = priority_of(&pod);
            let mut by_node: HashMap<&str, Vec<&Placed>> = HashMap::new();
            for p in state.placed.values() {
                by_node.entry(p.node.as_str()).or_default().push(p);
            }
            // Nominated pods of no lower priority keep their room (upstream's
            // RunFilterPluginsWithNominatedPods).
            for p in state.nominated.values().filter(|p| p.uid != uid && p.priority >= priority) {
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
            let me = Preemptor { pod: &pod, requests: &requests, priority };
            match &pod_volumes {
                // VolumeBinding's PreFilter refused the pod: no node can take it.
                Err(message) => {
                    let fit_error = format!("0/{} nodes are available: {message}.", nodes.len());
                    let failures = vec![vec![message.clone()]; views.len()];
                    self.post_filter(&state, &me, &views, &failures, &|_| Vec::new(), fit_error)
                }
                Ok(pod_volumes) => {
                    let volume_filter = |v: &NodeView<'_>| pod_volumes.filter(v, &all_volumes, &state.taken_volumes);
                    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
                    let mut failures = Vec::with_capacity(views.len());
                    let mut feasible = Vec::new();
                    for view in &views {
                        let failed = filters::check(&pod, &requests, view, &views, volume_filter);
                        if failed.is_empty() {
                            feasible.push(view);
                        }
                        for r in &failed {
                            *reasons.entry(r.clone()).or_default() += 1;
                        }
                        failures.push(failed);
                    }
                    // A nominated node that takes the pod is taken, unscored (upstream's evaluateNominatedNode).
                    let nominated = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref());
                    let choice = match feasible.iter().find(|v| Some(v.name) == nominated) {
                        Some(v) => Some(v.name.to_string()),
                        None => score::best(&pod, &requests, &feasible, &views).map(str::to_string),
                    };
                    match choice {
                        Some(node) => {
                            let volumes = views
                                .iter()
                                .find(|v| v.name == node)
                                .and_then(|v| pod_volumes.decide(v, &all_volumes, &state.taken_volumes).ok())
                                .unwrap_or_default();
                            Decision::Bind { node, volumes }
                        }
                        None => {
                            let fit_error = filters::summary(nodes.len(), &reasons);
                            self.post_filter(&state, &me, &views, &failures, &volume_filter, fit_error)
                        }
                    }
                }
            }
        };
        match decision {
            Decision::Bind { node, volumes } => self.assume_and_bind(&pod, node, key.clone(), volumes).await,
            Decision::Unschedulable { message, nomination, eviction } => {
                if let Some(eviction) = eviction {
                    self.preempt(&pod, eviction).await;
                }
                self.unschedulable(&pod, message, nomination).await;
            }
        }
    }

    /// Upstream's PostFilter for a pod that fits nowhere: preemption.
    fn post_filter(
        &self,
        state: &State,
        me: &Preemptor<'_>,
        views: &[NodeView<'_>],
        failures: &[Vec<String>],
        volumes: &dyn Fn(&NodeView<'_>) -> Vec<String>,
        fit_error: String,
    ) -> Decision {
        let budgets: Vec<Budget> = self.budgets.store.state().iter().map(|b| Budget::of(b)).collect();
        let offset = rand::random_range(0..views.len().max(1));
        match preemption::post_filter(me, views, failures, &budgets, volumes, offset, Timestamp::now()) {
            Verdict::Preempt(candidate) => {
                let uid = me.pod.metadata.uid.as_deref().unwrap_or_default();
                let displaced = state
                    .nominated
                    .values()
                    .filter(|p| p.node == candidate.node && p.priority < me.priority && p.uid != uid)
                    .map(|p| Key::new(Some(&p.namespace), &p.name))
                    .collect();
                let victims =
                    candidate.victims.iter().map(|v| (Key::new(Some(&v.namespace), &v.name), v.uid.clone())).collect();
                Decision::Unschedulable {
                    message: fit_error,
                    nomination: Nomination::Set(candidate.node.to_string()),
                    eviction: Some(Eviction { node: candidate.node.to_string(), victims, displaced }),
                }
            }
            Verdict::Unhelpful(why) => Decision::Unschedulable {
                message: format!("{fit_error} preemption: {why}"),
                nomination: Nomination::Clear,
                eviction: None,
            },
            Verdict::Ineligible(why) => Decision::Unschedulable {
                message: format!("{fit_error} preemption: {why}"),
                nomination: Nomination::Keep,
                eviction: None,
            },
        }
    }

    async fn assume_and_bind(self: &Arc<Self>, pod: &Arc<Pod>, node: String, key: Key, decision: volumes::Decision) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        {
            let mut state = self.lock();
            state.assumed.insert(uid.clone());
            state.nominated.remove(&uid);
            state.placed.insert(uid.clone(), Placed::of(pod, &node));
            state.taken_volumes.extend(decision.volume_names());
        }
        let s = Arc::clone(self);
        let pod = Arc::clone(pod);
        if !decision.is_empty() {
            // Waiting for volumes can take long: it holds no binding slot.
            tokio::spawn(async move {
                if s.bind_volumes(&pod, &node, &key, &decision).await {
                    let _permit = Arc::clone(&s.bindings).acquire_owned().await.ok();
                    s.bind(&pod, &node, key).await;
                }
            });
            return;
        }
        let permit = Arc::clone(&self.bindings).acquire_owned().await.ok();
        tokio::spawn(async move {
            let _permit = permit;
            s.bind(&pod, &node, key).await;
        });
    }

    /// Upstream's `prepareCandidate`: each victim not already going is
    /// marked `DisruptionTarget` and deleted, with a Preempted event, and
    /// lower-priority pods nominated to the node lose their nomination.
    async fn preempt(&self, preemptor: &Pod, eviction: Eviction) {
        let preemptor_uid = preemptor.metadata.uid.clone().unwrap_or_default();
        for (key, uid) in &eviction.victims {
            let Some(victim) = self.pods.get(Some(&key.namespace), &key.name) else { continue };
            if victim.metadata.uid.as_deref() != Some(uid.as_str()) || victim.metadata.deletion_timestamp.is_some() {
                continue;
            }
            match self.evict(&victim, key, uid).await {
                Ok(true) => {
                    tracing::info!(preemptor = %Key::of(&preemptor.metadata), victim = %key, node = %eviction.node, "preempted");
                    let message = format!("Preempted by pod {preemptor_uid} on node {}", eviction.node);
                    self.events.record(victim.as_ref(), Type::Normal, "Preempted", message);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(victim = %key, "cannot preempt: {e}"),
            }
        }
        for key in &eviction.displaced {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
            let patch = json!({"status": {"nominatedNodeName": null}});
            if let Err(e) = api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                tracing::debug!(pod = %key, "cannot clear the nominated node: {e}");
            }
        }
    }

    /// Marks and deletes one victim; false if it was gone already.
    async fn evict(&self, victim: &Pod, key: &Key, uid: &str) -> Result<bool, kube::Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let message = format!("{NAME}: preempting to accommodate a higher priority pod");
        let marked = victim.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten().any(|c| {
            c.type_ == "DisruptionTarget"
                && c.status == "True"
                && c.reason.as_deref() == Some("PreemptionByScheduler")
                && c.message.as_deref() == Some(message.as_str())
        });
        if !marked {
            let patch = json!({"status": {"conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler", "message": message,
                "lastTransitionTime": Time(Timestamp::now()),
            }]}});
            match api.patch_status(&key.name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: Some(uid.to_string()), resource_version: None }),
            ..DeleteParams::default()
        };
        match api.delete(&key.name, &params).await {
            Ok(_) => Ok(true),
            // Gone, or a new pod of the same name.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
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
        self.queue.add_after(key.clone(), priority_of(pod), Duration::from_secs(1));
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
                        self.queue.add_after(key, priority_of(pod), Duration::from_secs(1));
                    }
                }
            }
        }
    }

    /// Reports a pod that fits nowhere (upstream's `handleSchedulingFailure`):
    /// the event, then `PodScheduled=False` and the nominated node, when they changed.
    async fn unschedulable(&self, pod: &Pod, message: String, nomination: Nomination) {
        let key = Key::of(&pod.metadata);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let status = pod.status.as_ref();
        let current = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
            .and_then(|c| c.message.clone());
        let nominated = status.and_then(|s| s.nominated_node_name.clone()).filter(|n| !n.is_empty());
        let new_nomination = match nomination {
            Nomination::Keep => None,
            Nomination::Set(node) => (nominated.as_deref() != Some(node.as_str())).then_some(Some(node)),
            Nomination::Clear => nominated.is_some().then_some(None),
        };
        {
            let mut state = self.lock();
            state.unschedulable.insert(key.clone());
            match &new_nomination {
                Some(Some(node)) => {
                    state.nominated.insert(uid, Placed { nominated: true, ..Placed::of(pod, node) });
                }
                Some(None) => {
                    state.nominated.remove(&uid);
                }
                None => {}
            }
        }
        self.events.record(pod, Type::Warning, "FailedScheduling", message.clone());
        let mut patch = serde_json::Map::new();
        if current.as_deref() != Some(message.as_str()) {
            patch.insert(
                "conditions".into(),
                json!([{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                    "lastProbeTime": null, "lastTransitionTime": Time(Timestamp::now()),
                }]),
            );
        }
        if let Some(node) = new_nomination {
            patch.insert("nominatedNodeName".into(), json!(node));
        }
        if patch.is_empty() {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let patch = json!({ "status": patch });
        if let Err(e) = api.patch_status(&key.name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
            tracing::debug!(pod = %key, "cannot report the pod unschedulable: {e}");
        }
    }
}
