//! The ReplicaSet controller: keeps `spec.replicas` active pods matching the
//! selector, adopting orphans and releasing pods that no longer match, and
//! reports counts in status. Creates go in slow-start batches (1, 2, 4, ...)
//! so that a failing template costs one request, not hundreds. The pods it
//! created or deleted are remembered until the cache shows them
//! ("expectations"), so that a lagging cache never makes it create twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};
use crate::queue::{self, Key, Next, Queue};
use crate::{labels, owner, pods};

/// Most pods created or deleted in one reconcile (upstream's burstReplicas).
const BURST: usize = 500;
/// How long unobserved creates and deletes hold back the next ones.
const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
struct Expectations {
    /// Names of pods created and not yet seen in the cache.
    creates: HashSet<String>,
    /// UIDs of pods deleted and still in the cache unmarked.
    deletes: HashSet<String>,
    since: Option<Instant>,
}

pub struct Controller {
    client: kube::Client,
    sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<Queue>,
    expectations: Mutex<HashMap<Key, Expectations>>,
    events: Recorder,
}

pub async fn run(client: kube::Client, sets: Arc<Informer<ReplicaSet>>, pods: Arc<Informer<Pod>>, events: Recorder) {
    let controller =
        Arc::new(Controller { client, sets, pods, queue: Queue::new(), expectations: Mutex::default(), events });
    let mut set_changes = controller.sets.subscribe();
    let mut pod_changes = controller.pods.subscribe();
    controller.sets.ready().await;
    controller.pods.ready().await;
    controller.enqueue_all();
    let worker = Arc::clone(&controller);
    tokio::spawn(queue::work(Arc::clone(&controller.queue), 4, "replicaset", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    }));
    loop {
        tokio::select! {
            change = informer::next(&mut set_changes) => match change {
                Some(Change::Applied(rs) | Change::Deleted(rs)) => controller.queue.add(Key::of(&rs.metadata)),
                Some(Change::Relisted) => controller.enqueue_all(),
                None => return,
            },
            change = informer::next(&mut pod_changes) => match change {
                Some(Change::Applied(pod) | Change::Deleted(pod)) => controller.pod_changed(&pod),
                Some(Change::Relisted) => controller.enqueue_all(),
                None => return,
            },
        }
    }
}

impl Controller {
    fn enqueue_all(&self) {
        for rs in self.sets.store.state() {
            self.queue.add(Key::of(&rs.metadata));
        }
    }

    /// A pod's owner, or for an orphan every set that might adopt it.
    fn pod_changed(&self, pod: &Pod) {
        let namespace = pod.metadata.namespace.as_deref();
        match owner::controller_of(&pod.metadata) {
            Some(r) if r.kind == "ReplicaSet" => self.queue.add(Key::new(namespace, &r.name)),
            Some(_) => {}
            None => {
                for rs in self.sets.in_namespace(namespace.unwrap_or_default()) {
                    let selector = rs.spec.as_ref().map(|s| &s.selector);
                    if selector.is_some_and(|s| labels::matches(s, pod.metadata.labels.as_ref())) {
                        self.queue.add(Key::of(&rs.metadata));
                    }
                }
            }
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(rs) = self.sets.get(Some(&key.namespace), &key.name) else {
            self.lock_expectations().remove(&key);
            return Ok(Next::Done);
        };
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let spec = rs.spec.clone().unwrap_or_default();
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let all = self.pods.in_namespace(&key.namespace);

        let mut owned: Vec<Arc<Pod>> = Vec::new();
        for pod in all.iter() {
            let matching = labels::matches(&spec.selector, pod.metadata.labels.as_ref());
            match owner::controller_of(&pod.metadata) {
                Some(r) if r.uid == uid => {
                    if matching {
                        owned.push(Arc::clone(pod));
                    } else if let Err(e) = owner::release(&pod_api, pod, &uid).await
                        && !crate::is_gone(&e)
                    {
                        return Err(e);
                    }
                }
                None if matching
                    && rs.metadata.deletion_timestamp.is_none()
                    && pod.metadata.deletion_timestamp.is_none() =>
                {
                    match owner::adopt(&pod_api, pod, owner::controller_ref(rs.as_ref())).await {
                        Ok(adopted) => owned.push(Arc::new(adopted)),
                        Err(e) if crate::is_gone(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                _ => {}
            }
        }
        let active: Vec<&Pod> = owned.iter().map(AsRef::as_ref).filter(|p| pods::is_active(p)).collect();

        let mut failure = None;
        if rs.metadata.deletion_timestamp.is_none() && self.expectations_met(&key, &all) {
            let want = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
            if let Err(e) = self.manage(&key, &rs, &pod_api, &active, want).await {
                failure = Some(e);
            }
        }
        let now = Timestamp::now();
        let (status, wait) = status_of(&rs, &owned, failure.as_ref().map(ToString::to_string), now);
        if Some(without_zeros(status.clone())) != current_status(&rs) {
            let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &key.namespace);
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

    fn lock_expectations(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Expectations>> {
        self.expectations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether every create and delete asked for has reached the cache (or
    /// has been waited for long enough).
    fn expectations_met(&self, key: &Key, pods: &[Arc<Pod>]) -> bool {
        let mut all = self.lock_expectations();
        let Some(exp) = all.get_mut(key) else { return true };
        let by_name: HashMap<&str, &Pod> =
            pods.iter().filter_map(|p| p.metadata.name.as_deref().map(|n| (n, p.as_ref()))).collect();
        exp.creates.retain(|name| !by_name.contains_key(name.as_str()));
        let live: HashSet<&str> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        exp.deletes.retain(|uid| live.contains(uid.as_str()));
        let met = (exp.creates.is_empty() && exp.deletes.is_empty())
            || exp.since.is_some_and(|t| t.elapsed() > EXPECTATIONS_TIMEOUT);
        if met {
            all.remove(key);
        }
        met
    }

    async fn manage(
        &self,
        key: &Key,
        rs: &ReplicaSet,
        api: &Api<Pod>,
        active: &[&Pod],
        want: usize,
    ) -> Result<(), kube::Error> {
        if active.len() < want {
            let missing = (want - active.len()).min(BURST);
            let template = pod_from_template(rs);
            let mut created = 0;
            let mut batch = 1;
            while created < missing {
                let n = batch.min(missing - created);
                let params = PostParams::default();
                let results = futures::future::join_all((0..n).map(|_| api.create(&params, &template))).await;
                let mut first_error = None;
                for result in results {
                    match result {
                        Ok(pod) => {
                            let name = pod.metadata.name.clone().unwrap_or_default();
                            self.events.record(rs, Type::Normal, "SuccessfulCreate", format!("Created pod: {name}"));
                            let mut all = self.lock_expectations();
                            let exp = all.entry(key.clone()).or_default();
                            exp.since.get_or_insert_with(Instant::now);
                            exp.creates.insert(name);
                        }
                        // The namespace is going away: nothing to create.
                        Err(e) if crate::is_terminating(&e) => return Ok(()),
                        Err(e) => {
                            self.events.record(rs, Type::Warning, "FailedCreate", format!("Error creating: {e}"));
                            first_error.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = first_error {
                    return Err(e);
                }
                created += n;
                batch *= 2;
            }
        } else if active.len() > want {
            let mut victims = active.to_vec();
            pods::sort_for_deletion(&mut victims);
            victims.truncate((active.len() - want).min(BURST));
            let results = futures::future::join_all(victims.iter().map(|pod| async move {
                let name = pod.metadata.name.clone().unwrap_or_default();
                (pod, api.delete(&name, &DeleteParams::default()).await)
            }))
            .await;
            for (pod, result) in results {
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                match result {
                    Ok(_) => {
                        self.events.record(rs, Type::Normal, "SuccessfulDelete", format!("Deleted pod: {name}"));
                        let mut all = self.lock_expectations();
                        let exp = all.entry(key.clone()).or_default();
                        exp.since.get_or_insert_with(Instant::now);
                        exp.deletes.extend(pod.metadata.uid.clone());
                    }
                    Err(e) if crate::is_gone(&e) => {}
                    Err(e) => {
                        self.events.record(rs, Type::Warning, "FailedDelete", format!("Error deleting: {e}"));
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A pod for `rs` from its template, named by the server.
pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
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
            owner_references: Some(vec![owner::controller_ref(rs)]),
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
