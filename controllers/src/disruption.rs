//! The disruption controller: keeps the status of every policy/v1
//! PodDisruptionBudget, which the API server's eviction reads and takes
//! from. For each budget it counts the pods it selects, how many should
//! exist (from `minAvailable`, or from the scale of the pods' controllers
//! for `maxUnavailable` and percentages), how many are healthy (Ready, not
//! being deleted, not just evicted) and so how many may be disrupted, with
//! the DisruptionAllowed condition and upstream's reasons. Evictions the
//! API server recorded in `disruptedPods` are dropped once their pod is
//! gone or going, or after two minutes when it never went. When the
//! arithmetic fails (a pod whose controller cannot be found) the budget is
//! closed: no disruptions, reason SyncFailed. A second queue resets a
//! pod's `DisruptionTarget` condition that an eviction set but whose delete
//! never came. Evicting is not done here: that is the API server's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodCondition, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::runtime::watcher;
use serde_json::json;
use tokio::task::JoinSet;

use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};
use crate::queue::{self, Key, Next, Queue};
use crate::{labels, owner, pods};

/// How long after an eviction the pod is expected to be marked for deletion
/// (upstream's DeletionTimeout); after that the budget counts it again.
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a `DisruptionTarget` condition may stand on a pod that is not
/// being deleted before it is reset (upstream's stalePodDisruptionTimeout).
const STALE_DISRUPTION_TIMEOUT: Duration = Duration::from_secs(120);
/// Slack after a deadline, so that the recheck falls after it.
const SLACK: Duration = Duration::from_millis(100);

const CONDITION: &str = "DisruptionAllowed";
const SUFFICIENT_PODS: &str = "SufficientPods";
const INSUFFICIENT_PODS: &str = "InsufficientPods";
const SYNC_FAILED: &str = "SyncFailed";

/// Why a budget's numbers cannot be computed; the text becomes the
/// SyncFailed condition's message, in upstream's words.
#[derive(Debug, thiserror::Error)]
pub enum DisruptionError {
    #[error("found no controllers for pod {0:?}")]
    NoController(String),
    #[error("{0} does not implement the scale subresource")]
    NoScale(String),
    #[error("no matches for kind {kind:?} in version {api_version:?}")]
    NoKind { kind: String, api_version: String },
    #[error("invalid value for IntOrString: invalid value {0:?}")]
    InvalidValue(String),
    #[error(transparent)]
    Api(#[from] kube::Error),
}

struct Controller {
    client: kube::Client,
    budgets: Arc<Informer<PodDisruptionBudget>>,
    pods: Arc<Informer<Pod>>,
    replica_sets: Arc<Informer<ReplicaSet>>,
    deployments: Arc<Informer<Deployment>>,
    /// Budgets to sync.
    queue: Arc<Queue>,
    /// Pods whose DisruptionTarget condition may be stale.
    stale: Arc<Queue>,
    events: Recorder,
}

/// Runs the controller until dropped. The budgets' informer is its own;
/// ReplicaSets and Deployments are read from the shared caches, other
/// controllers of pods (StatefulSets, ReplicationControllers, anything
/// with a scale subresource) through the API when a budget needs them.
pub async fn run(
    client: kube::Client,
    pods: Arc<Informer<Pod>>,
    replica_sets: Arc<Informer<ReplicaSet>>,
    deployments: Arc<Informer<Deployment>>,
    events: Recorder,
) {
    let mut tasks = JoinSet::new();
    let budgets =
        Informer::start(&mut tasks, Api::<PodDisruptionBudget>::all(client.clone()), watcher::Config::default());
    let controller = Arc::new(Controller {
        client,
        budgets,
        pods,
        replica_sets,
        deployments,
        queue: Queue::new(),
        stale: Queue::new(),
        events,
    });
    let mut budget_changes = controller.budgets.subscribe();
    let mut pod_changes = controller.pods.subscribe();
    controller.budgets.ready().await;
    controller.pods.ready().await;
    controller.replica_sets.ready().await;
    controller.deployments.ready().await;
    controller.enqueue_all();
    let worker = Arc::clone(&controller);
    tasks.spawn(queue::work(Arc::clone(&controller.queue), 2, "disruption", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    }));
    let worker = Arc::clone(&controller);
    tasks.spawn(queue::work(Arc::clone(&controller.stale), 1, "disruption-stale-pods", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reset_stale_condition(key).await }
    }));
    loop {
        tokio::select! {
            change = informer::next(&mut budget_changes) => match change {
                Some(Change::Applied(pdb) | Change::Deleted(pdb)) => controller.queue.add(Key::of(&pdb.metadata)),
                Some(Change::Relisted) => controller.enqueue_all(),
                None => return,
            },
            change = informer::next(&mut pod_changes) => match change {
                Some(Change::Applied(pod)) => {
                    controller.pod_changed(&pod);
                    controller.check_stale(&pod);
                }
                Some(Change::Deleted(pod)) => controller.pod_changed(&pod),
                Some(Change::Relisted) => controller.enqueue_all(),
                None => return,
            },
        }
    }
}

impl Controller {
    fn enqueue_all(&self) {
        for pdb in self.budgets.store.state() {
            self.queue.add(Key::of(&pdb.metadata));
        }
        for pod in self.pods.store.state() {
            self.check_stale(&pod);
        }
    }

    /// Every budget of the pod's namespace that selects it.
    fn pod_changed(&self, pod: &Pod) {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        for pdb in self.budgets.in_namespace(namespace) {
            if selects(pdb.spec.as_ref().and_then(|s| s.selector.as_ref()), pod) {
                self.queue.add(Key::of(&pdb.metadata));
            }
        }
    }

    fn check_stale(&self, pod: &Pod) {
        if let Some(wait) = stale_disruption_wait(pod, Timestamp::now()) {
            self.stale.add_after(Key::of(&pod.metadata), wait);
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, DisruptionError> {
        let Some(pdb) = self.budgets.get(Some(&key.namespace), &key.name) else {
            return Ok(Next::Done);
        };
        match self.sync(&pdb).await {
            Ok(next) => Ok(next),
            // Gone, or changed under us (an eviction took a disruption, or the
            // cache is behind our own last write): the newer budget's event
            // brings the key back.
            Err(e) if matches!(api_code(&e), Some(404 | 409)) => Ok(Next::Done),
            Err(e) => {
                tracing::warn!(budget = %key, "cannot compute the disruption budget's status: {e}");
                match self.fail_safe(&pdb, &e).await {
                    Ok(()) => Err(e),
                    Err(write) if crate::is_gone(&write) => Err(e),
                    Err(write) => Err(DisruptionError::Api(write)),
                }
            }
        }
    }

    async fn sync(&self, pdb: &PodDisruptionBudget) -> Result<Next, DisruptionError> {
        let namespace = pdb.metadata.namespace.as_deref().unwrap_or_default();
        let spec = pdb.spec.clone().unwrap_or_default();
        let selected: Vec<Arc<Pod>> =
            self.pods.in_namespace(namespace).into_iter().filter(|p| selects(spec.selector.as_ref(), p)).collect();
        if selected.is_empty() {
            self.events.record(pdb, Type::Normal, "NoPods", "No matching pods found".into());
        }
        let counts = match self.expected_counts(&spec, namespace, &selected).await {
            Ok(counts) => counts,
            Err(e) => {
                self.events.record(
                    pdb,
                    Type::Warning,
                    "CalculateExpectedPodCountFailed",
                    format!("Failed to calculate the number of expected pods: {e}"),
                );
                return Err(e);
            }
        };
        if !counts.unmanaged.is_empty() {
            tracing::debug!(budget = ?pdb.metadata.name, pods = ?counts.unmanaged, "unmanaged pods");
            self.events.record(
                pdb,
                Type::Warning,
                "UnmanagedPods",
                format!(
                    "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a \
                     result, the status of the PDB cannot be calculated correctly, which may result in undefined \
                     behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an \
                     integer value.",
                    describe_selector(spec.selector.as_ref())
                ),
            );
        }
        let now = Timestamp::now();
        let disrupted = disrupted_pods(pdb, &selected, now);
        for pod in &disrupted.overdue {
            let name = pdb.metadata.name.as_deref().unwrap_or_default();
            self.events.record(
                pod.as_ref(),
                Type::Warning,
                "NotDeleted",
                format!("Pod was expected by PDB {namespace}/{name} to be deleted but it wasn't"),
            );
        }
        let healthy = count_healthy(&selected, &disrupted.kept, now);
        if let Some(status) = next_status(pdb, healthy, counts.desired, counts.expected, disrupted.kept, now) {
            self.write_status(pdb, status).await?;
        }
        Ok(match disrupted.recheck {
            Some(at) => Next::After(until(at, now) + SLACK),
            None => Next::Done,
        })
    }

    /// Upstream's failSafe: whatever went wrong, no disruptions are allowed.
    async fn fail_safe(&self, pdb: &PodDisruptionBudget, err: &DisruptionError) -> Result<(), kube::Error> {
        let mut status = pdb.status.clone().unwrap_or_default();
        status.disruptions_allowed = 0;
        let observed = status.observed_generation;
        set_condition(
            status.conditions.get_or_insert_with(Vec::new),
            "False",
            SYNC_FAILED,
            &err.to_string(),
            observed,
            Timestamp::now(),
        );
        if pdb.status.as_ref() == Some(&status) {
            return Ok(());
        }
        self.write_status(pdb, status).await
    }

    /// Replaces the status, guarded by the budget's resourceVersion: an
    /// eviction that took a disruption meanwhile makes this a 409.
    async fn write_status(
        &self,
        pdb: &PodDisruptionBudget,
        status: PodDisruptionBudgetStatus,
    ) -> Result<(), kube::Error> {
        let namespace = pdb.metadata.namespace.as_deref().unwrap_or_default();
        let name = pdb.metadata.name.as_deref().unwrap_or_default();
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), namespace);
        let mut updated = pdb.clone();
        updated.status = Some(status);
        api.replace_status(name, &PostParams::default(), &updated).await.map(|_| ())
    }

    async fn expected_counts(
        &self,
        spec: &PodDisruptionBudgetSpec,
        namespace: &str,
        pods: &[Arc<Pod>],
    ) -> Result<Counts, DisruptionError> {
        if let Some(max) = &spec.max_unavailable {
            let (expected, unmanaged) = self.expected_scale(namespace, pods).await?;
            let max = scaled(max, expected)?;
            return Ok(Counts { expected, desired: (expected - max).max(0), unmanaged });
        }
        match &spec.min_available {
            Some(IntOrString::Int(n)) => Ok(Counts { expected: count(pods.len()), desired: *n, unmanaged: Vec::new() }),
            Some(min) => {
                let (expected, unmanaged) = self.expected_scale(namespace, pods).await?;
                Ok(Counts { expected, desired: scaled(min, expected)?, unmanaged })
            }
            None => Ok(Counts::default()),
        }
    }

    /// The summed scale of the pods' controllers, and the pods without one.
    async fn expected_scale(&self, namespace: &str, pods: &[Arc<Pod>]) -> Result<(i32, Vec<String>), DisruptionError> {
        let mut found: HashMap<String, Option<(String, i32)>> = HashMap::new();
        for pod in pods {
            if let Some(r) = owner::controller_of(&pod.metadata)
                && !found.contains_key(&r.uid)
            {
                let scale = self.find_controller(r, namespace).await?;
                found.insert(r.uid.clone(), scale);
            }
        }
        sum_scales(pods, &found)
    }

    /// The controller `r` names and its wanted replicas, through upstream's
    /// finders in order: ReplicationController, the Deployment of a
    /// ReplicaSet, a ReplicaSet of its own, StatefulSet, then the scale
    /// subresource of whatever kind it is. `None` when it is gone or has
    /// another uid.
    async fn find_controller(
        &self,
        r: &OwnerReference,
        namespace: &str,
    ) -> Result<Option<(String, i32)>, DisruptionError> {
        let group = group_of(&r.api_version);
        let same = |uid: Option<&String>| uid.is_some_and(|u| *u == r.uid);
        match (group, r.kind.as_str()) {
            ("", "ReplicationController") => {
                let api: Api<ReplicationController> = Api::namespaced(self.client.clone(), namespace);
                if let Some(rc) = api.get_opt(&r.name).await?
                    && same(rc.metadata.uid.as_ref())
                {
                    return Ok(Some((r.uid.clone(), rc.spec.and_then(|s| s.replicas).unwrap_or(1))));
                }
            }
            ("apps" | "extensions", "ReplicaSet") => {
                if let Some(rs) = self.replica_sets.get(Some(namespace), &r.name)
                    && same(rs.metadata.uid.as_ref())
                {
                    match owner::controller_of(&rs.metadata) {
                        Some(d) if d.kind == "Deployment" => {
                            if matches!(group_of(&d.api_version), "apps" | "extensions")
                                && let Some(deployment) = self.deployments.get(Some(namespace), &d.name)
                                && deployment.metadata.uid.as_deref() == Some(d.uid.as_str())
                            {
                                let replicas = deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                                return Ok(Some((d.uid.clone(), replicas)));
                            }
                        }
                        _ => {
                            let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                            return Ok(Some((r.uid.clone(), replicas)));
                        }
                    }
                }
            }
            ("apps", "StatefulSet") => {
                let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
                if let Some(ss) = api.get_opt(&r.name).await?
                    && same(ss.metadata.uid.as_ref())
                {
                    return Ok(Some((r.uid.clone(), ss.spec.and_then(|s| s.replicas).unwrap_or(1))));
                }
            }
            _ => {}
        }
        self.scale_of(r, namespace).await
    }

    /// Upstream's getScaleController: the owner's `scale` subresource.
    async fn scale_of(&self, r: &OwnerReference, namespace: &str) -> Result<Option<(String, i32)>, DisruptionError> {
        let (group, version) = r.api_version.rsplit_once('/').unwrap_or(("", &r.api_version));
        let gvk = GroupVersionKind::gvk(group, version, &r.kind);
        let (resource, caps) = match kube::discovery::pinned_kind(&self.client, &gvk).await {
            Ok(found) => found,
            Err(kube::Error::Api(s)) if s.code != 404 => return Err(kube::Error::Api(s).into()),
            Err(_) => return Err(DisruptionError::NoKind { kind: r.kind.clone(), api_version: r.api_version.clone() }),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &resource);
        match api.get_scale(&r.name).await {
            Ok(scale) if scale.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                Ok(Some((r.uid.clone(), scale.spec.and_then(|s| s.replicas).unwrap_or(0))))
            }
            Ok(_) => Ok(None),
            Err(kube::Error::Api(s)) if s.code == 404 => {
                if caps.subresources.iter().any(|(sub, _)| sub.plural == "scale") {
                    Ok(None)
                } else {
                    let gr =
                        if group.is_empty() { resource.plural.clone() } else { format!("{}.{group}", resource.plural) };
                    Err(DisruptionError::NoScale(gr))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a `DisruptionTarget` condition back to False once it has stood
    /// two minutes on a pod that is not being deleted.
    async fn reset_stale_condition(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(pod) = self.pods.get(Some(&key.namespace), &key.name) else {
            return Ok(Next::Done);
        };
        let now = Timestamp::now();
        match stale_disruption_wait(&pod, now) {
            None => return Ok(Next::Done),
            Some(wait) if !wait.is_zero() => return Ok(Next::After(wait)),
            Some(_) => {}
        }
        let mut conditions = pod.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        for c in conditions.iter_mut().filter(|c| c.type_ == "DisruptionTarget") {
            *c = PodCondition {
                type_: "DisruptionTarget".into(),
                status: "False".into(),
                last_transition_time: Some(Time(now)),
                ..Default::default()
            };
        }
        let patch = json!({
            "metadata": {"resourceVersion": pod.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {
                tracing::info!(pod = %key, "reset a stale DisruptionTarget condition to False");
                Ok(Next::Done)
            }
            Err(e) if crate::is_gone(&e) => Ok(Next::Done),
            Err(e) => Err(e),
        }
    }
}

fn api_code(e: &DisruptionError) -> Option<u16> {
    match e {
        DisruptionError::Api(kube::Error::Api(s)) => Some(s.code),
        _ => None,
    }
}

/// The numbers a budget's status is computed from.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    expected: i32,
    desired: i32,
    /// Pods without a controller, which a scale cannot account for.
    unmanaged: Vec<String>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `apps` of `apps/v1`, `""` of `v1`.
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Whether a budget's selector selects `pod`, as the controller reads it
/// (upstream's LabelSelectorAsSelector): an absent selector selects
/// nothing, an empty one everything.
fn selects(selector: Option<&LabelSelector>, pod: &Pod) -> bool {
    selector.is_some_and(|s| labels::matches(s, pod.metadata.labels.as_ref()))
}

/// An int, or a percentage of `total` rounded up (upstream's
/// GetScaledValueFromIntOrPercent with roundUp).
fn scaled(value: &IntOrString, total: i32) -> Result<i32, DisruptionError> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| DisruptionError::InvalidValue(s.clone()))?;
            let scaled = (percent * i64::from(total) + 99).div_euclid(100);
            Ok(i32::try_from(scaled).unwrap_or(i32::MAX))
        }
    }
}

/// Sums the scale of every controller found once (a Deployment's pods of
/// several ReplicaSets count it once); a pod whose controller was not found
/// is an error, one without a controller is only reported.
fn sum_scales(
    pods: &[Arc<Pod>],
    found: &HashMap<String, Option<(String, i32)>>,
) -> Result<(i32, Vec<String>), DisruptionError> {
    let mut scales: HashMap<&str, i32> = HashMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(r) = owner::controller_of(&pod.metadata) else {
            unmanaged.push(name);
            continue;
        };
        match found.get(&r.uid) {
            Some(Some((uid, scale))) => {
                scales.insert(uid, *scale);
            }
            _ => return Err(DisruptionError::NoController(name)),
        }
    }
    Ok((scales.values().fold(0i32, |sum, s| sum.saturating_add(*s)), unmanaged))
}

fn is_deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    k8s_openapi::jiff::SignedDuration::try_from(d).ok().and_then(|d| t.checked_add(d).ok()).unwrap_or(t)
}

fn until(at: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// What becomes of a budget's `disruptedPods`.
#[derive(Debug, Default)]
struct Disrupted {
    /// Entries still waiting for their pod to be marked for deletion.
    kept: BTreeMap<String, Time>,
    /// The earliest of their deadlines.
    recheck: Option<Timestamp>,
    /// Pods whose deadline passed without a delete.
    overdue: Vec<Arc<Pod>>,
}

/// Upstream's buildDisruptedPodMap: entries of pods that are gone, being
/// deleted, or past the deletion timeout are dropped.
fn disrupted_pods(pdb: &PodDisruptionBudget, pods: &[Arc<Pod>], now: Timestamp) -> Disrupted {
    let mut result = Disrupted::default();
    let Some(recorded) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
        return result;
    };
    for pod in pods.iter().filter(|p| !is_deleting(p)) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(at) = recorded.get(&name) else { continue };
        let deadline = plus(at.0, DELETION_TIMEOUT);
        if deadline < now {
            result.overdue.push(Arc::clone(pod));
        } else {
            result.recheck = Some(result.recheck.map_or(deadline, |r| r.min(deadline)));
            result.kept.insert(name, at.clone());
        }
    }
    result
}

/// Ready pods that are neither being deleted nor recently evicted.
fn count_healthy(pods: &[Arc<Pod>], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let healthy = pods
        .iter()
        .filter(|p| !is_deleting(p))
        .filter(|p| {
            let name = p.metadata.name.as_deref().unwrap_or_default();
            disrupted.get(name).is_none_or(|at| plus(at.0, DELETION_TIMEOUT) <= now)
        })
        .filter(|p| pods::is_ready(p))
        .count();
    count(healthy)
}

/// Upstream's SetStatusCondition for `DisruptionAllowed`: reason, message
/// and observed generation follow, the transition time moves with the status.
fn set_condition(
    conditions: &mut Vec<Condition>,
    status: &str,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: Timestamp,
) {
    let observed_generation = observed_generation.filter(|g| *g != 0);
    match conditions.iter_mut().find(|c| c.type_ == CONDITION) {
        Some(c) => {
            if c.status != status {
                c.status = status.into();
                c.last_transition_time = Time(now);
            }
            c.reason = reason.into();
            c.message = message.into();
            c.observed_generation = observed_generation;
        }
        None => conditions.push(Condition {
            type_: CONDITION.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation,
            last_transition_time: Time(now),
        }),
    }
}

/// Upstream's UpdateDisruptionAllowedCondition.
fn update_condition(status: &mut PodDisruptionBudgetStatus, now: Timestamp) {
    let observed = status.observed_generation;
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if status.disruptions_allowed > 0 {
        set_condition(conditions, "True", SUFFICIENT_PODS, "", observed, now);
    } else {
        set_condition(conditions, "False", INSUFFICIENT_PODS, "", observed, now);
    }
}

/// Upstream's ConditionsAreUpToDate.
fn conditions_up_to_date(pdb: &PodDisruptionBudget) -> bool {
    let Some(status) = pdb.status.as_ref() else { return false };
    let Some(c) = status.conditions.iter().flatten().find(|c| c.type_ == CONDITION) else { return false };
    if status.observed_generation.unwrap_or(0) != pdb.metadata.generation.unwrap_or(0) {
        return false;
    }
    if status.disruptions_allowed > 0 {
        c.status == "True" && c.reason == SUFFICIENT_PODS
    } else {
        c.status == "False" && c.reason == INSUFFICIENT_PODS
    }
}

/// The status to write, or `None` when the current one says the same.
/// Disruptions are allowed only while some pods are expected: a budget
/// whose pods have not appeared yet must not let the first ones go.
fn next_status(
    pdb: &PodDisruptionBudget,
    current_healthy: i32,
    desired_healthy: i32,
    expected_pods: i32,
    disrupted: BTreeMap<String, Time>,
    now: Timestamp,
) -> Option<PodDisruptionBudgetStatus> {
    let allowed = current_healthy - desired_healthy;
    let disruptions_allowed = if expected_pods <= 0 || allowed <= 0 { 0 } else { allowed };
    let old = pdb.status.clone().unwrap_or_default();
    let generation = pdb.metadata.generation;
    if old.current_healthy == current_healthy
        && old.desired_healthy == desired_healthy
        && old.expected_pods == expected_pods
        && old.disruptions_allowed == disruptions_allowed
        && old.disrupted_pods.clone().unwrap_or_default() == disrupted
        && old.observed_generation.unwrap_or(0) == generation.unwrap_or(0)
        && conditions_up_to_date(pdb)
    {
        return None;
    }
    let mut status = PodDisruptionBudgetStatus {
        current_healthy,
        desired_healthy,
        expected_pods,
        disruptions_allowed,
        disrupted_pods: if disrupted.is_empty() { None } else { Some(disrupted) },
        observed_generation: generation,
        conditions: old.conditions,
    };
    update_condition(&mut status, now);
    Some(status)
}

/// How long until the pod's `DisruptionTarget` condition is stale, if it
/// can become so: True, not set by the kubelet, on a pod that is neither
/// being deleted nor finished.
fn stale_disruption_wait(pod: &Pod, now: Timestamp) -> Option<Duration> {
    if is_deleting(pod) || pods::is_terminal(pod) {
        return None;
    }
    let c = pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "DisruptionTarget")?;
    if c.status != "True" || c.reason.as_deref() == Some("TerminationByKubelet") {
        return None;
    }
    let since = c.last_transition_time.as_ref().map_or(now, |t| t.0);
    Some(until(plus(since, STALE_DISRUPTION_TIMEOUT), now))
}

/// A selector as `kubectl describe` prints it (`app=web,tier in (a,b)`).
fn describe_selector(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else { return "<none>".into() };
    let mut parts: Vec<String> = selector.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default().join(",");
        parts.push(match req.operator.as_str() {
            "In" => format!("{} in ({values})", req.key),
            "NotIn" => format!("{} notin ({values})", req.key),
            "Exists" => req.key.clone(),
            "DoesNotExist" => format!("!{}", req.key),
            other => format!("{} {other} ({values})", req.key),
        });
    }
    if parts.is_empty() { "<none>".into() } else { parts.join(",") }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use k8s_openapi::api::core::v1::PodStatus;
    use kube::api::ObjectMeta;

    use super::*;

    fn names(pods: &BTreeMap<String, Time>) -> HashSet<&str> {
        pods.keys().map(String::as_str).collect()
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn owner_ref(kind: &str, name: &str, uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn pod(name: &str, ready: bool, owner: Option<OwnerReference>) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                labels: Some([("app".to_string(), "web".to_string())].into()),
                owner_references: owner.map(|o| vec![o]),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        })
    }

    fn deleting(p: Arc<Pod>) -> Arc<Pod> {
        let mut p = (*p).clone();
        p.metadata.deletion_timestamp = Some(Time(at(0)));
        Arc::new(p)
    }

    fn budget(generation: i64, status: Option<PodDisruptionBudgetStatus>) -> PodDisruptionBudget {
        PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                generation: Some(generation),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..Default::default()
                }),
                min_available: Some(IntOrString::Int(2)),
                ..Default::default()
            }),
            status,
        }
    }

    #[test]
    fn percentages_round_up() {
        let check =
            |v: IntOrString, total: i32, want: i32| assert_eq!(scaled(&v, total).unwrap(), want, "{v:?} of {total}");
        check(IntOrString::Int(2), 10, 2);
        check(IntOrString::String("50%".into()), 3, 2);
        check(IntOrString::String("50%".into()), 4, 2);
        check(IntOrString::String("0%".into()), 4, 0);
        check(IntOrString::String("100%".into()), 7, 7);
        check(IntOrString::String("34%".into()), 3, 2);
        assert!(scaled(&IntOrString::String("half".into()), 3).is_err());
        assert!(scaled(&IntOrString::String("5".into()), 3).is_err());
    }

    #[test]
    fn selectors_as_the_controller_reads_them() {
        let p = pod("a", true, None);
        assert!(!selects(None, &p), "no selector selects nothing");
        assert!(selects(Some(&LabelSelector::default()), &p), "an empty one everything");
        let web = budget(1, None).spec.unwrap().selector;
        assert!(selects(web.as_ref(), &p));
    }

    #[test]
    fn controllers_count_once_and_orphans_are_reported() {
        let rs1 = owner_ref("ReplicaSet", "web-1", "rs1");
        let rs2 = owner_ref("ReplicaSet", "web-2", "rs2");
        let pods = vec![
            pod("a", true, Some(rs1.clone())),
            pod("b", true, Some(rs1.clone())),
            pod("c", true, Some(rs2.clone())),
            pod("orphan", true, None),
        ];
        // Both ReplicaSets belong to one Deployment of 5: it counts once.
        let mut found = HashMap::new();
        found.insert("rs1".to_string(), Some(("deploy".to_string(), 5)));
        found.insert("rs2".to_string(), Some(("deploy".to_string(), 5)));
        assert_eq!(sum_scales(&pods, &found).unwrap(), (5, vec!["orphan".to_string()]));
        // Two controllers of their own add up.
        found.insert("rs2".to_string(), Some(("rs2".to_string(), 3)));
        assert_eq!(sum_scales(&pods, &found).unwrap().0, 8);
        // A controller that cannot be found fails the sync.
        found.insert("rs2".to_string(), None);
        let err = sum_scales(&pods, &found).unwrap_err();
        assert_eq!(err.to_string(), "found no controllers for pod \"c\"");
    }

    #[test]
    fn evictions_are_forgotten_when_the_pod_goes_or_never_does() {
        let recorded: BTreeMap<String, Time> = [
            ("fresh".to_string(), Time(at(0))),
            ("old".to_string(), Time(at(-121))),
            ("going".to_string(), Time(at(0))),
            ("gone".to_string(), Time(at(0))),
        ]
        .into();
        let pdb = budget(1, Some(PodDisruptionBudgetStatus { disrupted_pods: Some(recorded), ..Default::default() }));
        let pods = vec![
            pod("fresh", true, None),
            pod("old", true, None),
            deleting(pod("going", true, None)),
            pod("other", true, None),
        ];
        let d = disrupted_pods(&pdb, &pods, at(10));
        assert_eq!(names(&d.kept), HashSet::from(["fresh"]));
        assert_eq!(d.recheck, Some(at(120)));
        assert_eq!(d.overdue.iter().map(|p| p.metadata.name.as_deref().unwrap()).collect::<Vec<_>>(), ["old"]);
        // fresh was just evicted and going is being deleted: only old and other count.
        assert_eq!(count_healthy(&pods, &d.kept, at(10)), 2);
        let unready = vec![pod("x", false, None), pod("y", true, None)];
        assert_eq!(count_healthy(&unready, &BTreeMap::new(), at(10)), 1);
    }

    #[test]
    fn status_and_condition_follow_the_counts() {
        let pdb = budget(3, None);
        let status = next_status(&pdb, 3, 2, 3, BTreeMap::new(), at(0)).unwrap();
        assert_eq!(
            (status.current_healthy, status.desired_healthy, status.expected_pods, status.disruptions_allowed),
            (3, 2, 3, 1)
        );
        assert_eq!(status.observed_generation, Some(3));
        let c = &status.conditions.as_ref().unwrap()[0];
        assert_eq!((c.type_.as_str(), c.status.as_str(), c.reason.as_str()), (CONDITION, "True", SUFFICIENT_PODS));
        assert_eq!(c.observed_generation, Some(3));
        assert_eq!(c.last_transition_time, Time(at(0)));

        // The same numbers again: nothing to write.
        let written = PodDisruptionBudget { status: Some(status.clone()), ..pdb.clone() };
        assert_eq!(next_status(&written, 3, 2, 3, BTreeMap::new(), at(5)), None);

        // One pod fewer: no disruptions, InsufficientPods, a new transition time.
        let short = next_status(&written, 2, 2, 3, BTreeMap::new(), at(5)).unwrap();
        assert_eq!(short.disruptions_allowed, 0);
        let c = &short.conditions.as_ref().unwrap()[0];
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", INSUFFICIENT_PODS));
        assert_eq!(c.last_transition_time, Time(at(5)));
        assert_eq!(short.conditions.as_ref().unwrap().len(), 1);

        // No pods expected yet: nothing may go, whatever the arithmetic says.
        assert_eq!(next_status(&pdb, 3, 0, 0, BTreeMap::new(), at(0)).unwrap().disruptions_allowed, 0);

        // A spec change (generation 4) is written even when the numbers stay.
        let newer = PodDisruptionBudget {
            metadata: ObjectMeta { generation: Some(4), ..written.metadata.clone() },
            ..written.clone()
        };
        assert_eq!(next_status(&newer, 3, 2, 3, BTreeMap::new(), at(5)).unwrap().observed_generation, Some(4));
    }

    #[test]
    fn sync_failed_keeps_the_transition_time_of_a_false_condition() {
        let mut conditions = Vec::new();
        set_condition(&mut conditions, "False", INSUFFICIENT_PODS, "", Some(1), at(0));
        set_condition(&mut conditions, "False", SYNC_FAILED, "found no controllers for pod \"a\"", Some(1), at(9));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].reason, SYNC_FAILED);
        assert_eq!(conditions[0].message, "found no controllers for pod \"a\"");
        assert_eq!(conditions[0].last_transition_time, Time(at(0)));
        set_condition(&mut conditions, "True", SUFFICIENT_PODS, "", Some(0), at(20));
        assert_eq!(conditions[0].last_transition_time, Time(at(20)));
        assert_eq!(conditions[0].observed_generation, None, "a zero generation is left out, as omitempty");
    }

    #[test]
    fn stale_disruption_targets() {
        let mut p = (*pod("a", true, None)).clone();
        assert_eq!(stale_disruption_wait(&p, at(0)), None);
        let target = |status: &str, reason: &str, since: i64| PodCondition {
            type_: "DisruptionTarget".into(),
            status: status.into(),
            reason: Some(reason.into()),
            last_transition_time: Some(Time(at(since))),
            ..Default::default()
        };
        p.status.as_mut().unwrap().conditions.as_mut().unwrap().push(target("True", "EvictionByEvictionAPI", 0));
        assert_eq!(stale_disruption_wait(&p, at(20)), Some(Duration::from_secs(100)));
        assert_eq!(stale_disruption_wait(&p, at(500)), Some(Duration::ZERO));
        let mut by_kubelet = p.clone();
        by_kubelet.status.as_mut().unwrap().conditions.as_mut().unwrap()[1] = target("True", "TerminationByKubelet", 0);
        assert_eq!(stale_disruption_wait(&by_kubelet, at(500)), None);
        let going = deleting(Arc::new(p.clone()));
        assert_eq!(stale_disruption_wait(&going, at(500)), None);
        p.status.as_mut().unwrap().phase = Some("Failed".into());
        assert_eq!(stale_disruption_wait(&p, at(500)), None);
    }

    #[test]
    fn selectors_described() {
        let selector = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        };
        assert_eq!(describe_selector(Some(&selector)), "app=web,tier in (a,b)");
        assert_eq!(describe_selector(None), "<none>");
    }
}
