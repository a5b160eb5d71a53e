//! The Deployment controller: one ReplicaSet per pod template, named by the
//! template's hash, rolled out by RollingUpdate (within maxSurge and
//! maxUnavailable) or Recreate; revisions in the
//! `deployment.kubernetes.io/revision` annotations, so that `kubectl
//! rollout history/undo` work; pause and resume; proportional scaling in
//! the middle of a rollout; old ReplicaSets pruned to revisionHistoryLimit;
//! status and conditions as `kubectl rollout status` reads them.

pub(crate) mod plan;
mod status;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};
use crate::queue::{self, Key, Next, Queue};
use crate::{labels, owner, pods};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX: &str = "deployment.kubernetes.io/max-replicas";
pub const HASH_LABEL: &str = "pod-template-hash";
/// Annotations of a Deployment not copied onto its ReplicaSets.
const NOT_COPIED: [&str; 5] =
    ["kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED, MAX];

struct Controller {
    client: kube::Client,
    deployments: Arc<Informer<Deployment>>,
    sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<Queue>,
    events: Recorder,
}

pub async fn run(
    client: kube::Client,
    deployments: Arc<Informer<Deployment>>,
    sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    events: Recorder,
) {
    let c = Arc::new(Controller { client, deployments, sets, pods, queue: Queue::new(), events });
    let mut deployment_changes = c.deployments.subscribe();
    let mut set_changes = c.sets.subscribe();
    let mut pod_changes = c.pods.subscribe();
    c.deployments.ready().await;
    c.sets.ready().await;
    c.pods.ready().await;
    c.enqueue_all();
    let worker = Arc::clone(&c);
    let _workers = queue::spawn_workers(Arc::clone(&c.queue), 4, "deployment", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    });
    loop {
        tokio::select! {
            change = informer::next(&mut deployment_changes) => match change {
                Some(Change::Applied(d) | Change::Deleted(d)) => c.queue.add(Key::of(&d.metadata)),
                Some(Change::Relisted) => c.enqueue_all(),
                None => return,
            },
            change = informer::next(&mut set_changes) => match change {
                Some(Change::Applied(rs) | Change::Deleted(rs)) => c.set_changed(&rs),
                Some(Change::Relisted) => c.enqueue_all(),
                None => return,
            },
            change = informer::next(&mut pod_changes) => match change {
                // Recreate waits for old pods to be gone.
                Some(Change::Deleted(pod)) => c.pod_deleted(&pod),
                Some(Change::Relisted) => c.enqueue_all(),
                Some(Change::Applied(_)) => {}
                None => return,
            },
        }
    }
}

fn replicas_of(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn available_of(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

fn revision_of(rs: &ReplicaSet) -> i64 {
    annotation(&rs.metadata, REVISION).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn annotation<'a>(meta: &'a ObjectMeta, name: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(name)).map(String::as_str)
}

fn created(rs: &ReplicaSet) -> (Timestamp, String) {
    (
        rs.metadata.creation_timestamp.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0),
        rs.metadata.name.clone().unwrap_or_default(),
    )
}

/// A template without the hash label, to compare a ReplicaSet's with the Deployment's.
fn without_hash(template: Option<&PodTemplateSpec>) -> PodTemplateSpec {
    let mut t = template.cloned().unwrap_or_default();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(HASH_LABEL);
    }
    t
}

/// The template hash: FNV-1a over the template and the collision count, in
/// upstream's alphabet of characters that never spell words.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(&serde_json::to_vec(template).unwrap_or_default());
    if let Some(n) = collision_count {
        feed(&n.to_le_bytes());
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()])).collect()
}

/// What one reconcile knows about a Deployment's ReplicaSets.
struct Sets {
    new: Option<ReplicaSet>,
    /// Oldest first.
    old: Vec<ReplicaSet>,
}

impl Sets {
    fn all(&self) -> Vec<&ReplicaSet> {
        self.old.iter().chain(self.new.as_ref()).collect()
    }
}

impl Controller {
    fn enqueue_all(&self) {
        for d in self.deployments.store.state() {
            self.queue.add(Key::of(&d.metadata));
        }
    }

    fn set_changed(&self, rs: &ReplicaSet) {
        let namespace = rs.metadata.namespace.as_deref();
        match owner::controller_of(&rs.metadata) {
            Some(r) if r.kind == "Deployment" => self.queue.add(Key::new(namespace, &r.name)),
            Some(_) => {}
            None => {
                for d in self.deployments.in_namespace(namespace.unwrap_or_default()) {
                    let selector = d.spec.as_ref().map(|s| &s.selector);
                    if selector.is_some_and(|s| labels::matches(s, rs.metadata.labels.as_ref())) {
                        self.queue.add(Key::of(&d.metadata));
                    }
                }
            }
        }
    }

    fn pod_deleted(&self, pod: &Pod) {
        let namespace = pod.metadata.namespace.as_deref();
        let Some(r) = owner::controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet") else { return };
        if let Some(rs) = self.sets.get(namespace, &r.name)
            && let Some(d) = owner::controller_of(&rs.metadata).filter(|r| r.kind == "Deployment")
        {
            self.queue.add(Key::new(namespace, &d.name));
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(d) = self.deployments.get(Some(&key.namespace), &key.name) else { return Ok(Next::Done) };
        let d = d.as_ref().clone();
        let spec = d.spec.clone().unwrap_or_default();
        let set_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &key.namespace);

        if spec.selector == LabelSelector::default() {
            self.events.record(
                &d,
                Type::Warning,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            );
            return Ok(Next::Done);
        }
        let owned = self.claim(&d, &set_api).await?;
        let mut sets = split(&d, owned);
        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status(&d, &sets, None, false).await;
        }
        let paused = spec.paused.unwrap_or(false);
        if paused || self.scaling_event(&d, &sets) {
            return self.sync(&d, &set_api, &mut sets, paused).await;
        }
        let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
        if recreate {
            self.recreate(&d, &set_api, &mut sets).await
        } else {
            self.rolling(&d, &set_api, &mut sets).await
        }
    }

    /// The ReplicaSets this Deployment controls, adopting matching orphans
    /// and releasing ones that stopped matching.
    async fn claim(&self, d: &Deployment, api: &Api<ReplicaSet>) -> Result<Vec<ReplicaSet>, kube::Error> {
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let selector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        let mut owned = Vec::new();
        for rs in self.sets.in_namespace(d.metadata.namespace.as_deref().unwrap_or_default()) {
            let matching = labels::matches(&selector, rs.metadata.labels.as_ref());
            match owner::controller_of(&rs.metadata) {
                Some(r) if r.uid == uid => {
                    if matching {
                        owned.push(rs.as_ref().clone());
                    } else if let Err(e) = owner::release(api, rs.as_ref(), &uid).await
                        && !crate::is_gone(&e)
                    {
                        return Err(e);
                    }
                }
                None if matching
                    && d.metadata.deletion_timestamp.is_none()
                    && rs.metadata.deletion_timestamp.is_none() =>
                {
                    match owner::adopt(api, rs.as_ref(), owner::controller_ref(d)).await {
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

    fn fenceposts(&self, d: &Deployment) -> (i32, i32) {
        let spec = d.spec.clone().unwrap_or_default();
        let replicas = spec.replicas.unwrap_or(1);
        match spec.strategy.as_ref() {
            Some(s) if s.type_.as_deref() == Some("Recreate") => (0, 0),
            s => {
                let ru = s.and_then(|s| s.rolling_update.as_ref());
                plan::fenceposts(
                    ru.and_then(|r| r.max_surge.as_ref()),
                    ru.and_then(|r| r.max_unavailable.as_ref()),
                    replicas,
                )
            }
        }
    }

    /// Some active set was sized for another replica count.
    fn scaling_event(&self, d: &Deployment, sets: &Sets) -> bool {
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).to_string();
        sets.all()
            .into_iter()
            .filter(|rs| replicas_of(rs) > 0)
            .any(|rs| annotation(&rs.metadata, DESIRED).is_some_and(|desired| desired != wanted))
    }

    /// The ReplicaSet for the current template, its revision annotations
    /// brought up to date; created (with `initial` replicas) if asked and missing.
    async fn new_set(
        &self,
        d: &Deployment,
        api: &Api<ReplicaSet>,
        sets: &mut Sets,
        create: Option<i32>,
    ) -> Result<Option<String>, kube::Error> {
        let max_old = sets.old.iter().map(revision_of).max().unwrap_or(0);
        let revision = max_old + 1;
        let (surge, _) = self.fenceposts(d);
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if let Some(rs) = sets.new.as_ref() {
            let mut annotations = copied_annotations(d);
            let current = revision_of(rs);
            if current < revision {
                annotations.insert(REVISION.into(), revision.to_string());
                if current > 0 {
                    let mut history: Vec<String> = annotation(&rs.metadata, REVISION_HISTORY)
                        .map(|h| h.split(',').map(String::from).collect())
                        .unwrap_or_default();
                    history.push(current.to_string());
                    annotations.insert(REVISION_HISTORY.into(), history.join(","));
                }
            }
            let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let existing = rs.metadata.annotations.clone().unwrap_or_default();
            let stale = annotations.iter().any(|(k, v)| existing.get(k) != Some(v));
            let min_ready_stale = rs.spec.as_ref().and_then(|s| s.min_ready_seconds) != min_ready;
            if stale || min_ready_stale {
                let patch = json!({
                    "metadata": {"annotations": annotations, "resourceVersion": rs.metadata.resource_version},
                    "spec": {"minReadySeconds": min_ready},
                });
                let name = rs.metadata.name.clone().unwrap_or_default();
                let updated = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
                sets.new = Some(updated);
            }
            self.set_deployment_revision(d, sets.new.as_ref()).await?;
            return Ok(None);
        }
        let Some(initial) = create else { return Ok(None) };
        let template = d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
        let collisions = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = template_hash(&template, collisions);
        let rs = new_set_object(d, &hash, initial, revision, wanted, surge);
        let name = rs.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &rs).await {
            Ok(created) => {
                self.events.record(
                    d,
                    Type::Normal,
                    "ScalingReplicaSet",
                    format!("Scaled up replica set {name} from 0 to {initial}"),
                );
                self.set_deployment_revision(d, Some(&created)).await?;
                sets.new = Some(created);
                Ok(Some(name))
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // Same name: ours already (the cache lags), or a hash collision.
                let existing = api.get(&name).await?;
                let ours = owner::controlled_by(&existing.metadata, d.metadata.uid.as_deref().unwrap_or_default());
                let same = without_hash(existing.spec.as_ref().and_then(|s| s.template.as_ref()))
                    == without_hash(Some(&template));
                if ours && same {
                    sets.new = Some(existing);
                    return Ok(None);
                }
                let count = collisions.unwrap_or(0).saturating_add(1);
                let deployments: Api<Deployment> =
                    Api::namespaced(self.client.clone(), d.metadata.namespace.as_deref().unwrap_or_default());
                let patch = json!({"status": {"collisionCount": count}});
                deployments
                    .patch_status(
                        d.metadata.name.as_deref().unwrap_or_default(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
                Err(kube::Error::Api(s))
            }
            Err(e) => Err(e),
        }
    }

    async fn set_deployment_revision(&self, d: &Deployment, new: Option<&ReplicaSet>) -> Result<(), kube::Error> {
        let Some(rs) = new else { return Ok(()) };
        let Some(revision) = annotation(&rs.metadata, REVISION) else { return Ok(()) };
        if annotation(&d.metadata, REVISION) == Some(revision) {
            return Ok(());
        }
        let api: Api<Deployment> =
            Api::namespaced(self.client.clone(), d.metadata.namespace.as_deref().unwrap_or_default());
        let patch = json!({"metadata": {"annotations": {REVISION: revision}}});
        api.patch(d.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Sets a ReplicaSet's size and the annotations that record for which
    /// Deployment size it was set; records the event. True if it changed.
    async fn scale(
        &self,
        d: &Deployment,
        api: &Api<ReplicaSet>,
        rs: &mut ReplicaSet,
        to: i32,
    ) -> Result<bool, kube::Error> {
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let (surge, _) = self.fenceposts(d);
        let from = replicas_of(rs);
        let desired = wanted.to_string();
        let max = (wanted + surge).to_string();
        if from == to
            && annotation(&rs.metadata, DESIRED) == Some(desired.as_str())
            && annotation(&rs.metadata, MAX) == Some(max.as_str())
        {
            return Ok(false);
        }
        let patch = json!({
            "metadata": {"annotations": {DESIRED: desired, MAX: max}, "resourceVersion": rs.metadata.resource_version},
            "spec": {"replicas": to},
        });
        let name = rs.metadata.name.clone().unwrap_or_default();
        *rs = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        if from != to {
            let how = if to > from { "up" } else { "down" };
            self.events.record(
                d,
                Type::Normal,
                "ScalingReplicaSet",
                format!("Scaled {how} replica set {name} from {from} to {to}"),
            );
        }
        Ok(from != to)
    }

    async fn rolling(&self, d: &Deployment, api: &Api<ReplicaSet>, sets: &mut Sets) -> Result<Next, kube::Error> {
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let (surge, unavailable) = self.fenceposts(d);
        let old_total: i32 = sets.old.iter().map(replicas_of).sum();
        let initial = plan::new_replicas(wanted, surge, old_total, 0);
        let created = self.new_set(d, api, sets, Some(initial)).await?;
        if created.is_some() {
            return self.sync_status(d, sets, created, true).await;
        }
        let Some(mut new) = sets.new.take() else { return self.sync_status(d, sets, None, true).await };
        let all_pods = old_total + replicas_of(&new);
        let target = plan::new_replicas(wanted, surge, all_pods, replicas_of(&new));
        let scaled_up = self.scale(d, api, &mut new, target).await?;
        let new_replicas = replicas_of(&new);
        let new_available = available_of(&new);
        sets.new = Some(new);
        if scaled_up {
            return self.sync_status(d, sets, None, true).await;
        }
        let olds: Vec<plan::Old> =
            sets.old.iter().map(|rs| plan::Old { replicas: replicas_of(rs), available: available_of(rs) }).collect();
        let sizes = plan::scale_down_old(&olds, new_replicas, new_available, wanted, unavailable);
        let mut scaled_down = false;
        for (rs, size) in sets.old.iter_mut().zip(sizes) {
            if size != replicas_of(rs) {
                scaled_down |= self.scale(d, api, rs, size).await?;
            }
        }
        if !scaled_down {
            self.cleanup_if_complete(d, api, sets).await?;
        }
        self.sync_status(d, sets, None, true).await
    }

    async fn recreate(&self, d: &Deployment, api: &Api<ReplicaSet>, sets: &mut Sets) -> Result<Next, kube::Error> {
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        self.new_set(d, api, sets, None).await?;
        let mut scaled = false;
        for rs in sets.old.iter_mut() {
            if replicas_of(rs) > 0 {
                scaled |= self.scale(d, api, rs, 0).await?;
            }
        }
        if scaled {
            return self.sync_status(d, sets, None, true).await;
        }
        let old_uids: Vec<&str> = sets.old.iter().filter_map(|rs| rs.metadata.uid.as_deref()).collect();
        let namespace = d.metadata.namespace.as_deref().unwrap_or_default();
        let old_running = self.pods.in_namespace(namespace).iter().any(|p| {
            !pods::is_terminal(p)
                && owner::controller_of(&p.metadata).is_some_and(|r| old_uids.contains(&r.uid.as_str()))
        });
        if old_running {
            return self.sync_status(d, sets, None, true).await;
        }
        let created = self.new_set(d, api, sets, Some(wanted)).await?;
        if let Some(mut new) = sets.new.take() {
            self.scale(d, api, &mut new, wanted).await?;
            sets.new = Some(new);
        }
        self.cleanup_if_complete(d, api, sets).await?;
        self.sync_status(d, sets, created, true).await
    }

    /// Paused, or resized: scale without rolling out.
    async fn sync(
        &self,
        d: &Deployment,
        api: &Api<ReplicaSet>,
        sets: &mut Sets,
        paused: bool,
    ) -> Result<Next, kube::Error> {
        self.new_set(d, api, sets, None).await?;
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let (surge, _) = self.fenceposts(d);
        let new_saturated = sets.new.as_ref().is_some_and(|n| replicas_of(n) == wanted && available_of(n) >= wanted);
        let mut active: Vec<&mut ReplicaSet> =
            sets.old.iter_mut().chain(sets.new.as_mut()).filter(|rs| replicas_of(rs) > 0).collect();
        if active.len() <= 1 {
            let target = match active.pop() {
                Some(rs) => Some(rs),
                // Nothing runs: the newest set takes the size.
                None => match sets.new.as_mut() {
                    Some(new) => Some(new),
                    None => sets.old.last_mut(),
                },
            };
            if let Some(rs) = target {
                self.scale(d, api, rs, wanted).await?;
            }
        } else if new_saturated {
            drop(active);
            for rs in sets.old.iter_mut() {
                self.scale(d, api, rs, 0).await?;
            }
        } else {
            let growing = wanted + surge > active.iter().map(|rs| replicas_of(rs)).sum::<i32>();
            // Largest first; among equals newer first when growing, older first when shrinking.
            active.sort_by(|a, b| {
                replicas_of(b)
                    .cmp(&replicas_of(a))
                    .then_with(|| if growing { created(b).cmp(&created(a)) } else { created(a).cmp(&created(b)) })
            });
            let shares: Vec<plan::Share> = active
                .iter()
                .map(|rs| plan::Share {
                    replicas: replicas_of(rs),
                    max_replicas: annotation(&rs.metadata, MAX).and_then(|v| v.parse().ok()),
                })
                .collect();
            let sizes = plan::proportional(&shares, wanted, surge);
            for (rs, size) in active.into_iter().zip(sizes) {
                self.scale(d, api, rs, size).await?;
            }
        }
        if paused {
            self.cleanup(d, api, sets).await?;
        }
        self.sync_status(d, sets, None, false).await
    }

    async fn cleanup_if_complete(&self, d: &Deployment, api: &Api<ReplicaSet>, sets: &Sets) -> Result<(), kube::Error> {
        if status::complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, api, sets).await?;
        }
        Ok(())
    }

    /// Deletes the oldest empty ReplicaSets beyond revisionHistoryLimit.
    async fn cleanup(&self, d: &Deployment, api: &Api<ReplicaSet>, sets: &Sets) -> Result<(), kube::Error> {
        let limit = usize::try_from(d.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10)).unwrap_or(0);
        let mut old: Vec<&ReplicaSet> = sets.old.iter().filter(|rs| rs.metadata.deletion_timestamp.is_none()).collect();
        if old.len() <= limit {
            return Ok(());
        }
        old.sort_by_key(|rs| (revision_of(rs), created(rs)));
        let excess = old.len() - limit;
        for rs in old.into_iter().take(excess) {
            let empty = replicas_of(rs) == 0
                && rs.status.as_ref().is_none_or(|s| s.replicas == 0)
                && rs.status.as_ref().and_then(|s| s.observed_generation) >= rs.metadata.generation;
            if !empty {
                continue;
            }
            match api.delete(rs.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if crate::is_gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn sync_status(
        &self,
        d: &Deployment,
        sets: &Sets,
        created: Option<String>,
        rollout: bool,
    ) -> Result<Next, kube::Error> {
        let now = Timestamp::now();
        let (_, unavailable) = self.fenceposts(d);
        let all = sets.all();
        let mut new_status: DeploymentStatus = status::calculate(d, &all, sets.new.as_ref(), unavailable, now);
        if let Some(name) = created
            && status::deadline(d).is_some()
        {
            status::set_condition(
                &mut new_status,
                status::new_condition(
                    "Progressing",
                    "True",
                    status::NEW_RS_CREATED,
                    format!("Created new replica set \"{name}\""),
                    now,
                ),
            );
        }
        let wait = if rollout {
            status::progress(d, &mut new_status, sets.new.as_ref(), now)
        } else {
            status::paused_condition(d, &mut new_status, now);
            None
        };
        status::replica_failure(&mut new_status, &all, now);
        if d.status.as_ref() != Some(&new_status) {
            let api: Api<Deployment> =
                Api::namespaced(self.client.clone(), d.metadata.namespace.as_deref().unwrap_or_default());
            let patch = json!({"status": new_status});
            match api
                .patch_status(
                    d.metadata.name.as_deref().unwrap_or_default(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if crate::is_gone(&e) => return Ok(Next::Done),
                Err(e) => return Err(e),
            }
        }
        Ok(wait.map_or(Next::Done, Next::After))
    }
}

/// Splits owned sets into the one whose template is the Deployment's (the
/// oldest such) and the others, oldest first.
fn split(d: &Deployment, mut owned: Vec<ReplicaSet>) -> Sets {
    owned.sort_by_key(created);
    let template = without_hash(d.spec.as_ref().map(|s| &s.template));
    let position =
        owned.iter().position(|rs| without_hash(rs.spec.as_ref().and_then(|s| s.template.as_ref())) == template);
    let new = position.map(|i| owned.remove(i));
    Sets { new, old: owned }
}

fn copied_annotations(d: &Deployment) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = d.metadata.annotations.clone().unwrap_or_default();
    out.retain(|k, _| !NOT_COPIED.contains(&k.as_str()));
    out
}

fn new_set_object(d: &Deployment, hash: &str, replicas: i32, revision: i64, wanted: i32, surge: i32) -> ReplicaSet {
    let spec = d.spec.clone().unwrap_or_default();
    let mut template = spec.template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels.get_or_insert_with(Default::default).insert(HASH_LABEL.into(), hash.into());
    let mut selector = spec.selector.clone();
    selector.match_labels.get_or_insert_with(Default::default).insert(HASH_LABEL.into(), hash.into());
    let mut annotations = copied_annotations(d);
    annotations.insert(REVISION.into(), revision.to_string());
    annotations.insert(DESIRED.into(), wanted.to_string());
    annotations.insert(MAX.into(), (wanted + surge).to_string());
    let name = d.metadata.name.as_deref().unwrap_or_default();
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{hash}")),
            namespace: d.metadata.namespace.clone(),
            labels: meta.labels.clone(),
            annotations: Some(annotations),
            owner_references: Some(vec![owner::controller_ref(d)]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable_and_changes_with_the_template_and_collisions() {
        let mut t = PodTemplateSpec::default();
        let a = template_hash(&t, None);
        assert_eq!(a, template_hash(&t, None));
        assert!(a.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert_ne!(a, template_hash(&t, Some(1)));
        t.metadata =
            Some(ObjectMeta { labels: Some([("app".to_string(), "x".to_string())].into()), ..Default::default() });
        assert_ne!(a, template_hash(&t, None));
    }
}
