//! The ReplicaSet controller: keeps `spec.replicas` active pods matching the
//! selector, adopting orphans and releasing pods that no longer match, and
//! reports counts in status. It runs ReplicationControllers too, seen as
//! ReplicaSets ([`Replicated`]), as upstream's RC controller does. Creates go in slow-start batches (1, 2, 4, ...)
//! so that a failing template costs one request, not hundreds. The pods it
//! created or deleted are remembered until the cache shows them
//! ([`Expectations`]), so that a lagging cache never makes it create twice.

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use serde_json::{Value, json};

use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::{self, Informer};
use crate::pod_control::PodControl;
use crate::queue::{self, Key, Next, Queue};
use crate::{labels, owner, pods};

/// Most pods created or deleted in one reconcile (upstream's burstReplicas).
const BURST: usize = 500;

/// A kind this controller runs: a ReplicaSet, or an object that reads as one.
pub trait Replicated:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
    /// The object's spec and status as a ReplicaSet's.
    fn as_replica_set(&self) -> ReplicaSet;
    fn selects(&self, labels: Option<&BTreeMap<String, String>>) -> bool;
}

impl Replicated for ReplicaSet {
    fn as_replica_set(&self) -> ReplicaSet {
        self.clone()
    }

    fn selects(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.spec.as_ref().is_some_and(|s| labels::matches(&s.selector, labels))
    }
}

/// A ReplicationController's equality selector (defaulted to its template's
/// labels by the API server) as a label selector.
impl Replicated for ReplicationController {
    fn as_replica_set(&self) -> ReplicaSet {
        let mut spec = self.spec.as_ref().and_then(|s| serde_json::to_value(s).ok()).unwrap_or_else(|| json!({}));
        let selector = self.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default();
        spec["selector"] = json!(LabelSelector { match_labels: Some(selector), match_expressions: None });
        ReplicaSet {
            metadata: self.metadata.clone(),
            spec: serde_json::from_value(spec).ok(),
            status: self
                .status
                .as_ref()
                .and_then(|s| serde_json::to_value(s).ok())
                .and_then(|s| serde_json::from_value(s).ok()),
        }
    }

    fn selects(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let selector = self.spec.as_ref().and_then(|s| s.selector.as_ref());
        selector.is_some_and(|s| !s.is_empty() && labels::matches_map(s, labels))
    }
}

pub struct Controller<K: Replicated> {
    client: kube::Client,
    sets: Arc<Informer<K>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<Queue>,
    expectations: Expectations,
    events: Recorder,
}

pub async fn run<K: Replicated>(
    client: kube::Client,
    sets: Arc<Informer<K>>,
    pods: Arc<Informer<Pod>>,
    events: Recorder,
) {
    let controller =
        Arc::new(Controller { client, sets, pods, queue: Queue::new(), expectations: Expectations::default(), events });
    let set_changes = controller.sets.subscribe();
    let pod_changes = controller.pods.subscribe();
    controller.sets.ready().await;
    controller.pods.ready().await;
    controller.enqueue_all();
    let worker = Arc::clone(&controller);
    let name = if K::kind(&()) == "ReplicaSet" { "replicaset" } else { "replicationcontroller" };
    let _workers = queue::spawn_workers(Arc::clone(&controller.queue), 4, name, move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    });
    tokio::join!(
        informer::feed(set_changes, || controller.enqueue_all(), |rs| controller.queue.add(Key::of(rs.meta()))),
        informer::feed(pod_changes, || controller.enqueue_all(), |pod| controller.pod_changed(pod)),
    );
}

impl<K: Replicated> Controller<K> {
    fn enqueue_all(&self) {
        for rs in self.sets.store.state() {
            self.queue.add(Key::of(rs.meta()));
        }
    }

    fn pod_changed(&self, pod: &Pod) {
        for key in owner::keys_for_pod(pod, &self.sets, |rs, labels| rs.selects(labels)) {
            self.queue.add(key);
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(obj) = self.sets.get(Some(&key.namespace), &key.name) else {
            self.expectations.forget(&key);
            return Ok(Next::Done);
        };
        let rs = obj.as_replica_set();
        let spec = rs.spec.clone().unwrap_or_default();
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let all = self.pods.in_namespace(&key.namespace);

        let owned = owner::claim(&pod_api, &all, obj.as_ref(), |pod| obj.selects(pod.metadata.labels.as_ref())).await?;
        let active: Vec<Arc<Pod>> = owned.iter().filter(|p| pods::is_active(p)).cloned().collect();

        let mut failure = None;
        if rs.metadata.deletion_timestamp.is_none() && self.expectations.met(&key, &all) {
            let want = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
            if let Err(e) = self.manage(&key, &obj, &pod_api, &active, want).await {
                failure = Some(e);
            }
        }
        let now = Timestamp::now();
        let (status, wait) = status_of(&rs, &owned, failure.as_ref().map(ToString::to_string), now);
        if Some(without_zeros(status.clone())) != current_status(&rs) {
            let api: Api<K> = Api::namespaced(self.client.clone(), &key.namespace);
            match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(status_patch(&status))).await {
                Ok(_) => {}
                Err(e) if crate::is_gone(&e) => return Ok(Next::Done),
                Err(e) => return Err(e),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(wait.map_or(Next::Done, |d| Next::After(d + Duration::from_millis(100)))),
        }
    }

    async fn manage(
        &self,
        key: &Key,
        rs: &K,
        api: &Api<Pod>,
        active: &[Arc<Pod>],
        want: usize,
    ) -> Result<(), kube::Error> {
        let control = PodControl { api, owner: rs, key, events: &self.events, expectations: &self.expectations };
        if active.len() < want {
            let template = pod_from_template(&rs.as_replica_set(), owner::controller_ref(rs));
            control.create(vec![template; (want - active.len()).min(BURST)]).await?;
        } else if active.len() > want {
            let mut victims: Vec<&Pod> = active.iter().map(AsRef::as_ref).collect();
            pods::sort_for_deletion(&mut victims);
            victims.truncate((active.len() - want).min(BURST));
            let uids: Vec<Option<&str>> = victims.iter().map(|p| p.metadata.uid.as_deref()).collect();
            let chosen: Vec<Arc<Pod>> =
                active.iter().filter(|p| uids.contains(&p.metadata.uid.as_deref())).cloned().collect();
            control.delete(&chosen).await?;
        }
        Ok(())
    }
}

/// A pod for `rs` from its template, named by the server, controlled by `owner`.
pub fn pod_from_template(
    rs: &ReplicaSet,
    owner: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Pod {
    let template = rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let name = rs.metadata.name.as_deref().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name_prefix(name)),
            namespace: rs.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// `name-`, cut so that the server's five random characters still fit in 63.
pub fn generate_name_prefix(name: &str) -> String {
    const MAX: usize = 63 - 5;
    let prefix = format!("{name}-");
    if prefix.len() > MAX { prefix[..MAX].to_string() } else { prefix }
}

fn current_status(rs: &ReplicaSet) -> Option<Value> {
    rs.status.as_ref().and_then(|s| serde_json::to_value(s).ok()).map(without_zeros)
}

/// Upstream's status fields are `omitempty` (all but `replicas`): zeros do not appear.
pub fn without_zeros(mut status: Value) -> Value {
    if let Some(map) = status.as_object_mut() {
        map.retain(|k, v| k == "replicas" || !is_zero(v));
    }
    status
}

fn is_zero(v: &Value) -> bool {
    v.is_null() || v == &json!(0) || v == &json!([])
}

/// A merge patch that sets `status` and removes the fields it leaves out.
pub fn status_patch(status: &Value) -> Value {
    let mut status = status.clone();
    if let Some(map) = status.as_object_mut() {
        for (k, v) in map.iter_mut() {
            if k != "replicas" && is_zero(v) {
                *v = Value::Null;
            }
        }
    }
    json!({ "status": status })
}

/// The status `rs` should report, and how long until a ready pod turns available.
fn status_of(
    rs: &ReplicaSet,
    owned: &[Arc<Pod>],
    failure: Option<String>,
    now: Timestamp,
) -> (Value, Option<Duration>) {
    let spec = rs.spec.clone().unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let template_labels = spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.as_ref());
    let mut replicas = 0;
    let mut fully_labeled = 0;
    let mut ready = 0;
    let mut available = 0;
    let mut wait: Option<Duration> = None;
    for pod in owned.iter().filter(|p| pods::is_active(p)) {
        replicas += 1;
        if labels::has_all(pod.metadata.labels.as_ref(), template_labels) {
            fully_labeled += 1;
        }
        if pods::is_ready(pod) {
            ready += 1;
        }
        match pods::available(pod, min_ready, now) {
            Ok(()) => available += 1,
            Err(Some(left)) => wait = Some(wait.map_or(left, |w| w.min(left))),
            Err(None) => {}
        }
    }
    let mut conditions: Vec<Value> = rs
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "ReplicaFailure")
        .filter_map(|c| serde_json::to_value(c).ok())
        .collect();
    if let Some(message) = failure {
        let previous = rs.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|cs| {
            cs.iter().find(|c| c.type_ == "ReplicaFailure" && c.message.as_deref() == Some(message.as_str()))
        });
        let since = previous
            .and_then(|c| c.last_transition_time.clone())
            .map_or_else(|| json!(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)), |t| json!(t));
        conditions.push(json!({
            "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
            "message": message, "lastTransitionTime": since,
        }));
    }
    let status = json!({
        "replicas": replicas,
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": rs.metadata.generation.unwrap_or(0),
        "conditions": conditions,
    });
    (status, wait)
}
