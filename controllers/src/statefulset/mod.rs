//! The StatefulSet controller: pods with stable names `<set>-<ordinal>`,
//! each with its own claims from `volumeClaimTemplates`, created in order
//! and removed in reverse (OrderedReady) or all at once (Parallel), and
//! updated by RollingUpdate (highest ordinal first, down to the partition,
//! one at a time) or OnDelete. The update history is kept as
//! ControllerRevisions so that `kubectl rollout history/undo` work, and
//! status is what `kubectl rollout status` reads. One reconcile reads the
//! caches, plans a pass (`plan.rs`, pure) and carries it out, stopping at
//! the first failure. `maxUnavailable` is not implemented: its gate is off
//! in v1.33, so updates go one pod at a time, as upstream's default.

mod identity;
mod plan;
mod retention;
mod revisions;
mod status;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;

use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};
use crate::queue::{self, Key, Next, Queue};
use crate::{history, labels, owner};
use plan::Action;

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// A pod cannot be created yet; the message is upstream's.
    #[error("{0}")]
    Blocked(String),
    #[error("ControllerRevision {name} holds no pod template: {source}")]
    BadRevision {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
}

struct Controller {
    client: kube::Client,
    sets: Arc<Informer<StatefulSet>>,
    pods: Arc<Informer<Pod>>,
    revisions: Arc<Informer<ControllerRevision>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    queue: Arc<Queue>,
    events: Recorder,
}

pub async fn run(
    client: kube::Client,
    sets: Arc<Informer<StatefulSet>>,
    pods: Arc<Informer<Pod>>,
    revisions: Arc<Informer<ControllerRevision>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    events: Recorder,
) {
    let c = Arc::new(Controller { client, sets, pods, revisions, claims, queue: Queue::new(), events });
    let mut set_changes = c.sets.subscribe();
    let mut pod_changes = c.pods.subscribe();
    let mut revision_changes = c.revisions.subscribe();
    let mut claim_changes = c.claims.subscribe();
    c.sets.ready().await;
    c.pods.ready().await;
    c.revisions.ready().await;
    c.claims.ready().await;
    c.enqueue_all();
    // The workers end with this task (when the Lease is lost).
    let mut workers = tokio::task::JoinSet::new();
    let worker = Arc::clone(&c);
    workers.spawn(queue::work(Arc::clone(&c.queue), 4, "statefulset", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    }));
    loop {
        tokio::select! {
            change = informer::next(&mut set_changes) => match change {
                Some(Change::Applied(s) | Change::Deleted(s)) => c.queue.add(Key::of(&s.metadata)),
                Some(Change::Relisted) => c.enqueue_all(),
                None => return,
            },
            change = informer::next(&mut pod_changes) => match change {
                Some(Change::Applied(p) | Change::Deleted(p)) => c.owned_changed(&p.metadata, |s| identity::is_member(s, &p)),
                Some(Change::Relisted) => c.enqueue_all(),
                None => return,
            },
            change = informer::next(&mut revision_changes) => match change {
                Some(Change::Applied(r) | Change::Deleted(r)) => c.owned_changed(&r.metadata, |_| true),
                Some(Change::Relisted) => c.enqueue_all(),
                None => return,
            },
            // A claim going away may unblock a pod waiting for it.
            change = informer::next(&mut claim_changes) => match change {
                Some(Change::Applied(pvc) | Change::Deleted(pvc)) => c.owned_changed(&pvc.metadata, |_| true),
                Some(Change::Relisted) => c.enqueue_all(),
                None => return,
            },
        }
    }
}

impl Controller {
    fn enqueue_all(&self) {
        for s in self.sets.store.state() {
            self.queue.add(Key::of(&s.metadata));
        }
    }

    /// An object's controlling set, or for an orphan every set whose
    /// selector (and `member` test) takes it.
    fn owned_changed(&self, meta: &kube::api::ObjectMeta, member: impl Fn(&StatefulSet) -> bool) {
        let namespace = meta.namespace.as_deref();
        match owner::controller_of(meta) {
            Some(r) if r.kind == "StatefulSet" => self.queue.add(Key::new(namespace, &r.name)),
            Some(r) if r.kind == "Pod" => {
                // A claim handed to a condemned pod: its set is the pod's.
                if let Some(pod) = self.pods.get(namespace, &r.name)
                    && let Some(s) = owner::controller_of(&pod.metadata).filter(|s| s.kind == "StatefulSet")
                {
                    self.queue.add(Key::new(namespace, &s.name));
                }
            }
            Some(_) => {}
            None => {
                for s in self.sets.in_namespace(namespace.unwrap_or_default()) {
                    let selector = s.spec.as_ref().map(|s| &s.selector);
                    if selector.is_some_and(|sel| labels::matches(sel, meta.labels.as_ref())) && member(&s) {
                        self.queue.add(Key::of(&s.metadata));
                    }
                }
            }
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, Error> {
        let Some(set) = self.sets.get(Some(&key.namespace), &key.name) else { return Ok(Next::Done) };
        let set = set.as_ref().clone();
        let selector = set.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let candidates = self.pods.in_namespace(&key.namespace);
        let pods = owner::claim(&pod_api, &candidates, &set, |p| {
            labels::matches(&selector, p.metadata.labels.as_ref()) && identity::is_member(&set, p)
        })
        .await?;

        let mut history = self.claim_revisions(&set).await?;
        history::sort(&mut history);
        let (update, collision_count) = self.update_revision(&set, &mut history).await?;
        let current_name = set.status.as_ref().and_then(|s| s.current_revision.as_deref()).unwrap_or_default();
        let current = history.iter().find(|r| r.metadata.name.as_deref() == Some(current_name)).unwrap_or(&update);
        let apply = |r: &ControllerRevision| {
            revisions::apply(&set, r)
                .map_err(|source| Error::BadRevision { name: r.metadata.name.clone().unwrap_or_default(), source })
        };
        let current_set = apply(current)?;
        let update_set = apply(&update)?;
        let current_revision = current.metadata.name.clone().unwrap_or_default();
        let update_revision = update.metadata.name.clone().unwrap_or_default();

        let claims: HashMap<String, Arc<PersistentVolumeClaim>> = self
            .claims
            .in_namespace(&key.namespace)
            .into_iter()
            .map(|c| (c.metadata.name.clone().unwrap_or_default(), c))
            .collect();
        let pass = plan::plan(&plan::Input {
            set: &set,
            current_set: &current_set,
            update_set: &update_set,
            current_revision: &current_revision,
            update_revision: &update_revision,
            collision_count,
            pods: &pods,
            claims: &claims,
            now: Timestamp::now(),
        });
        let failure = self.carry_out(&set, &key.namespace, pass.actions).await.err();

        let mut new_status = pass.status;
        status::complete_rolling_update(&set, &mut new_status);
        if status::differs(&set, &new_status) {
            let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &key.namespace);
            match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(status::patch(&new_status))).await
            {
                Ok(_) => {}
                Err(e) if crate::is_gone(&e) => return Ok(Next::Done),
                Err(e) => return Err(e.into()),
            }
        }

        let mut live: HashSet<&str> = [current_revision.as_str(), update_revision.as_str()].into();
        live.extend(pods.iter().map(|p| identity::revision_of(p)));
        let limit = set.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10);
        let revision_api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &key.namespace);
        history::prune(&revision_api, &history::excess(&history, &live, limit)).await?;
        match failure {
            Some(e) => Err(e),
            None => Ok(pass.wait.map_or(Next::Done, |d| Next::After(d + Duration::from_millis(100)))),
        }
    }

    /// The revisions the set controls or adopts: its selector's, owned or orphaned.
    async fn claim_revisions(&self, set: &StatefulSet) -> Result<Vec<ControllerRevision>, kube::Error> {
        let namespace = set.metadata.namespace.as_deref().unwrap_or_default();
        let uid = set.metadata.uid.as_deref().unwrap_or_default();
        let selector = set.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), namespace);
        let mut owned = Vec::new();
        for r in self.revisions.in_namespace(namespace) {
            if !labels::matches(&selector, r.metadata.labels.as_ref()) {
                continue;
            }
            match owner::controller_of(&r.metadata) {
                Some(c) if c.uid == uid => owned.push(r.as_ref().clone()),
                None if set.metadata.deletion_timestamp.is_none() && r.metadata.deletion_timestamp.is_none() => {
                    match owner::adopt(&api, r.as_ref(), owner::controller_ref(set)).await {
                        Ok(adopted) => owned.push(adopted),
                        Err(e) if crate::is_gone(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                _ => {}
            }
        }
        Ok(owned)
    }

    /// The revision of the set's template, found, renumbered (a rollback)
    /// or created; and the collision count that named it.
    async fn update_revision(
        &self,
        set: &StatefulSet,
        history: &mut [ControllerRevision],
    ) -> Result<(ControllerRevision, i32), Error> {
        let namespace = set.metadata.namespace.as_deref().unwrap_or_default();
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), namespace);
        let collisions = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
        Ok(history::sync(&api, history, collisions, |number, c| revisions::new(set, number, c)).await?)
    }

    /// Carries out a pass's actions in order, stopping at the first failure
    /// or at a conflict (the newer object's event brings the set back).
    async fn carry_out(&self, set: &StatefulSet, namespace: &str, actions: Vec<Action>) -> Result<(), Error> {
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let claim_api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let set_name = set.metadata.name.as_deref().unwrap_or_default();
        for action in actions {
            match action {
                Action::CreatePod { pod, claims } => {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    if !self.create_claims(set, &claim_api, &name, claims).await? {
                        return Ok(());
                    }
                    match pod_api.create(&PostParams::default(), &pod).await {
                        Ok(_) => self.events.record(
                            set,
                            Type::Normal,
                            "SuccessfulCreate",
                            format!("create Pod {name} in StatefulSet {set_name} successful"),
                        ),
                        // Already there: the cache lags.
                        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
                        Err(e) if crate::is_terminating(&e) => return Ok(()),
                        Err(e) => {
                            self.events.record(
                                set,
                                Type::Warning,
                                "FailedCreate",
                                format!("create Pod {name} in StatefulSet {set_name} failed error: {e}"),
                            );
                            return Err(e.into());
                        }
                    }
                }
                Action::CreateClaims { pod, claims } => {
                    if !self.create_claims(set, &claim_api, &pod, claims).await? {
                        return Ok(());
                    }
                }
                Action::Relabel { pod, resource_version, labels } => {
                    let patch = json!({"metadata": {"labels": labels, "resourceVersion": resource_version}});
                    match pod_api.patch(&pod, &PatchParams::default(), &Patch::Merge(&patch)).await {
                        Ok(_) => self.events.record(
                            set,
                            Type::Normal,
                            "SuccessfulUpdate",
                            format!("update Pod {pod} in StatefulSet {set_name} successful"),
                        ),
                        Err(e) if crate::is_gone(&e) => return Ok(()),
                        Err(e) => return Err(e.into()),
                    }
                }
                Action::SetClaimOwners { claim, resource_version, owners } => {
                    let owners = if owners.is_empty() { serde_json::Value::Null } else { json!(owners) };
                    let patch = json!({"metadata": {"ownerReferences": owners, "resourceVersion": resource_version}});
                    match claim_api.patch(&claim, &PatchParams::default(), &Patch::Merge(&patch)).await {
                        Ok(_) => {}
                        Err(e) if crate::is_gone(&e) => return Ok(()),
                        Err(e) => return Err(e.into()),
                    }
                }
                Action::DeletePod { pod, uid, why } => {
                    let params = DeleteParams {
                        preconditions: Some(Preconditions { uid, resource_version: None }),
                        ..Default::default()
                    };
                    match pod_api.delete(&pod, &params).await {
                        Ok(_) => {
                            tracing::debug!(statefulset = set_name, %pod, ?why, "deleted a pod");
                            self.events.record(
                                set,
                                Type::Normal,
                                "SuccessfulDelete",
                                format!("delete Pod {pod} in StatefulSet {set_name} successful"),
                            );
                        }
                        Err(e) if crate::is_gone(&e) => {}
                        Err(e) => {
                            self.events.record(
                                set,
                                Type::Warning,
                                "FailedDelete",
                                format!("delete Pod {pod} in StatefulSet {set_name} failed error: {e}"),
                            );
                            return Err(e.into());
                        }
                    }
                }
                Action::Fail { pod, message } => {
                    self.events.record(
                        set,
                        Type::Warning,
                        "FailedCreate",
                        format!("create Pod {pod} in StatefulSet {set_name} failed error: {message}"),
                    );
                    return Err(Error::Blocked(message));
                }
            }
        }
        Ok(())
    }

    /// Creates a pod's missing claims; false when the namespace is going away.
    async fn create_claims(
        &self,
        set: &StatefulSet,
        api: &Api<PersistentVolumeClaim>,
        pod: &str,
        claims: Vec<PersistentVolumeClaim>,
    ) -> Result<bool, kube::Error> {
        let set_name = set.metadata.name.as_deref().unwrap_or_default();
        for claim in claims {
            let name = claim.metadata.name.clone().unwrap_or_default();
            match api.create(&PostParams::default(), &claim).await {
                Ok(_) => self.events.record(
                    set,
                    Type::Normal,
                    "SuccessfulCreate",
                    format!("create Claim {name} Pod {pod} in StatefulSet {set_name} success"),
                ),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) if crate::is_terminating(&e) => return Ok(false),
                Err(e) => {
                    self.events.record(
                        set,
                        Type::Warning,
                        "FailedCreate",
                        format!("create Claim {name} for Pod {pod} in StatefulSet {set_name} failed error: {e}"),
                    );
                    return Err(e);
                }
            }
        }
        Ok(true)
    }
}
