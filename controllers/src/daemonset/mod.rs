//! The DaemonSet controller: one pod on every node that should run it
//! (node selector, required node affinity, taints against the pod's
//! tolerations plus the daemon tolerations), pinned there by node affinity
//! and placed by the scheduler; a rolling update (or OnDelete) from one
//! template revision to the next, recorded as ControllerRevisions; and
//! upstream's status counts that `kubectl rollout status` reads.

mod placement;
mod plan;
mod revisions;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use serde_json::json;

use self::plan::{NodeState, Strategy};
use self::revisions::HASH_LABEL;
use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::history::{self, HistoryError};
use crate::informer::{self, Informer};
use crate::pod_control::PodControl;
use crate::queue::{self, Key, Next, Queue};
use crate::{labels, owner, pods};

/// Most pods created or deleted in one sync (upstream's burstReplicas).
const BURST: usize = 250;

pub struct Controller {
    client: kube::Client,
    sets: Arc<Informer<DaemonSet>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    revisions: Arc<Informer<ControllerRevision>>,
    queue: Arc<Queue>,
    expectations: Expectations,
    events: Recorder,
}

pub async fn run(
    client: kube::Client,
    sets: Arc<Informer<DaemonSet>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    revisions: Arc<Informer<ControllerRevision>>,
    events: Recorder,
) {
    let controller = Arc::new(Controller {
        client,
        sets,
        pods,
        nodes,
        revisions,
        queue: Queue::new(),
        expectations: Expectations::default(),
        events,
    });
    let set_changes = controller.sets.subscribe();
    let pod_changes = controller.pods.subscribe();
    let node_changes = controller.nodes.subscribe();
    controller.sets.ready().await;
    controller.pods.ready().await;
    controller.nodes.ready().await;
    controller.revisions.ready().await;
    controller.enqueue_all();
    let worker = Arc::clone(&controller);
    let _workers = queue::spawn_workers(Arc::clone(&controller.queue), 2, "daemonset", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    });
    tokio::join!(
        informer::feed(set_changes, || controller.enqueue_all(), |ds| controller.queue.add(Key::of(&ds.metadata))),
        informer::feed(pod_changes, || controller.enqueue_all(), |pod| controller.pod_changed(pod)),
        // Labels, taints, a node added or gone: any DaemonSet may care.
        informer::feed(node_changes, || controller.enqueue_all(), |_| controller.enqueue_all()),
    );
}

fn strategy(ds: &DaemonSet, desired: i32) -> Strategy {
    let update = ds.spec.as_ref().and_then(|s| s.update_strategy.clone()).unwrap_or_default();
    if update.type_.as_deref() == Some("OnDelete") {
        return Strategy::OnDelete;
    }
    let rolling = update.rolling_update.unwrap_or_default();
    let resolve = |v: Option<&IntOrString>, default: i32| {
        let v = v.cloned().unwrap_or(IntOrString::Int(default));
        usize::try_from(crate::deployment::plan::resolve(Some(&v), desired, 0, true)).unwrap_or(0)
    };
    let max_surge = resolve(rolling.max_surge.as_ref(), 0);
    let mut max_unavailable = resolve(rolling.max_unavailable.as_ref(), 1);
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    Strategy::RollingUpdate { max_unavailable, max_surge }
}

impl Controller {
    fn enqueue_all(&self) {
        for ds in self.sets.store.state() {
            self.queue.add(Key::of(&ds.metadata));
        }
    }

    fn pod_changed(&self, pod: &Pod) {
        for key in owner::keys_for_pod(pod, &self.sets, |ds, labels| {
            ds.spec.as_ref().is_some_and(|s| crate::labels::matches(&s.selector, labels))
        }) {
            self.queue.add(key);
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, HistoryError> {
        let Some(ds) = self.sets.get(Some(&key.namespace), &key.name) else {
            self.expectations.forget(&key);
            return Ok(Next::Done);
        };
        let spec = ds.spec.clone().unwrap_or_default();
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let all = self.pods.in_namespace(&key.namespace);
        let owned =
            owner::claim(&pod_api, &all, ds.as_ref(), |p| labels::matches(&spec.selector, p.metadata.labels.as_ref()))
                .await?;
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let mut past: Vec<ControllerRevision> = self
            .revisions
            .in_namespace(&key.namespace)
            .into_iter()
            .filter(|r| owner::controlled_by(&r.metadata, &uid))
            .map(|r| r.as_ref().clone())
            .collect();
        history::sort(&mut past);
        let revision_api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &key.namespace);
        let was = ds.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
        let (current, collisions) =
            history::sync(&revision_api, &mut past, was, |number, c| revisions::new(&ds, number, c)).await?;
        let collisions = Some(collisions).filter(|c| *c > 0 || was > 0);
        let hash = revisions::hash_of(&current).unwrap_or_default().to_string();

        // The pods on each node, and where they belong.
        let template_pod = self.template_pod(&ds, &hash);
        let nodes = self.nodes.store.state();
        let known: HashSet<String> = nodes.iter().filter_map(|n| n.metadata.name.clone()).collect();
        let mut states: Vec<NodeState> = nodes
            .iter()
            .map(|n| NodeState {
                name: n.metadata.name.clone().unwrap_or_default(),
                fit: placement::fit(&template_pod, n),
                pods: Vec::new(),
            })
            .collect();
        states.sort_by(|a, b| a.name.cmp(&b.name));
        let mut failed: Vec<Arc<Pod>> = Vec::new();
        let mut live = owned.clone();
        live.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        for pod in live {
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let node = placement::node_of(&pod);
            if pods::phase(&pod) == "Failed" || node.as_ref().is_some_and(|n| !known.contains(n)) {
                // Failed, or pinned to a node that is gone: replace it.
                failed.push(pod);
                continue;
            }
            if pods::is_terminal(&pod) {
                continue;
            }
            if let Some(state) = node.and_then(|n| states.iter_mut().find(|s| s.name == n)) {
                state.pods.push(pod);
            }
        }
        let desired = i32::try_from(states.iter().filter(|s| s.fit.should_run).count()).unwrap_or(i32::MAX);
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let now = Timestamp::now();
        if self.expectations.met(&key, &all) {
            let mut plan = plan::plan(&states, &hash, strategy(&ds, desired), min_ready, now);
            plan.delete.extend(failed.iter().cloned());
            let control = PodControl {
                api: &pod_api,
                owner: ds.as_ref(),
                key: &key,
                events: &self.events,
                expectations: &self.expectations,
            };
            plan.delete.truncate(BURST);
            control.delete(&plan.delete).await?;
            let pods = plan.create.iter().take(BURST).map(|node| pinned(&template_pod, node)).collect();
            control.create(pods).await?;
        }

        // Revisions beyond the limit go, unless a pod still runs their template.
        let mut live: HashSet<&str> = past
            .iter()
            .filter(|r| {
                let hash = revisions::hash_of(r);
                owned
                    .iter()
                    .any(|p| p.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)).map(String::as_str) == hash)
            })
            .filter_map(|r| r.metadata.name.as_deref())
            .collect();
        live.extend(current.metadata.name.as_deref());
        let limit = spec.revision_history_limit.unwrap_or(10);
        history::prune(&revision_api, &history::excess(&past, &live, limit)).await?;

        let counts = plan::counts(&states, &hash, min_ready, now);
        let status = DaemonSetStatus {
            collision_count: collisions,
            conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
            current_number_scheduled: counts.current,
            desired_number_scheduled: counts.desired,
            number_available: (counts.available > 0).then_some(counts.available),
            number_misscheduled: counts.misscheduled,
            number_ready: counts.ready,
            number_unavailable: (counts.desired > counts.available).then_some(counts.desired - counts.available),
            observed_generation: ds.metadata.generation,
            updated_number_scheduled: (counts.updated > 0).then_some(counts.updated),
        };
        if ds.status.as_ref() != Some(&status) {
            let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), &key.namespace);
            let mut patch = serde_json::to_value(&status).unwrap_or_default();
            for field in ["numberAvailable", "numberUnavailable", "updatedNumberScheduled"] {
                if patch.get(field).is_none() {
                    patch[field] = serde_json::Value::Null;
                }
            }
            match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(json!({"status": patch}))).await {
                Ok(_) => {}
                Err(e) if crate::is_gone(&e) => return Ok(Next::Done),
                Err(e) => return Err(e.into()),
            }
        }
        // A pod that turns available after minReadySeconds changes no object: look again then.
        let waiting = states
            .iter()
            .flat_map(|s| s.pods.first())
            .filter_map(|p| pods::available(p, min_ready, now).err().flatten())
            .min();
        Ok(waiting.map_or(Next::Done, |d| Next::After(d + std::time::Duration::from_millis(100))))
    }

    /// A daemon pod of the current template, on no node yet.
    fn template_pod(&self, ds: &DaemonSet, hash: &str) -> Pod {
        let template = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let meta = template.metadata.unwrap_or_default();
        let mut labels: BTreeMap<String, String> = meta.labels.unwrap_or_default();
        labels.insert(HASH_LABEL.into(), hash.into());
        let mut spec = template.spec.unwrap_or_default();
        spec.tolerations = Some(placement::daemon_tolerations(&spec));
        Pod {
            metadata: ObjectMeta {
                generate_name: Some(crate::replicaset::generate_name_prefix(
                    ds.metadata.name.as_deref().unwrap_or_default(),
                )),
                namespace: ds.metadata.namespace.clone(),
                labels: Some(labels),
                annotations: meta.annotations,
                finalizers: meta.finalizers,
                owner_references: Some(vec![owner::controller_ref(ds)]),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        }
    }
}

/// The daemon pod for `node`.
fn pinned(template: &Pod, node: &str) -> Pod {
    let mut pod = template.clone();
    if let Some(spec) = pod.spec.as_mut() {
        placement::pin_to_node(spec, node);
    }
    pod
}
