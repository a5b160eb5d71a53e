//! Storage object in-use protection (upstream's pvc-protection and
//! pv-protection controllers): a claim keeps its
//! `kubernetes.io/pvc-protection` finalizer while a scheduled pod mounts
//! it, a volume its `kubernetes.io/pv-protection` finalizer while it is
//! Bound; once deleted and unused they go. Objects created without the
//! finalizer get it. A claim is judged free only when both the cache and
//! a fresh list of the namespace's pods say so: a pod just created may not
//! be in the cache yet.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams};
use serde_json::json;
use tokio::task::JoinSet;

use super::{Informers, binder, matching};
use crate::informer::{self, Change};
use crate::queue::{self, Key, Next, Queue};

const CLAIM_FINALIZER: &str = "kubernetes.io/pvc-protection";
const VOLUME_FINALIZER: &str = "kubernetes.io/pv-protection";

fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers.iter().flatten().any(|f| f == finalizer)
}

/// Whether the object needs this controller: deleted with the finalizer,
/// or alive without it.
fn needs_work(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.deletion_timestamp.is_some() == has_finalizer(meta, finalizer)
}

/// A scheduled pod mounting the claim (upstream's `podUsesPVC`).
pub fn pod_uses(pod: &Pod, claim: &PersistentVolumeClaim) -> bool {
    let scheduled = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
    if !scheduled {
        return false;
    }
    let name = claim.metadata.name.as_deref().unwrap_or_default();
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let shut_down = crate::pods::is_terminal(pod)
        || (pod.metadata.deletion_timestamp.is_some() && pod.metadata.deletion_grace_period_seconds == Some(0));
    let ephemeral = !shut_down
        && pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten().any(|v| {
            v.ephemeral.is_some()
                && format!("{pod_name}-{}", v.name) == name
                && pod.metadata.uid.as_deref().is_some_and(|uid| crate::owner::controlled_by(&claim.metadata, uid))
        });
    binder::uses_claim(pod, name) || ephemeral
}

struct Protection {
    client: kube::Client,
    informers: Informers,
    /// Claims by namespace and name, volumes by name with an empty namespace.
    queue: Arc<Queue>,
}

pub async fn run(client: kube::Client, informers: Informers) {
    let p = Arc::new(Protection { client, informers, queue: Queue::new() });
    let i = &p.informers;
    let mut claim_changes = i.claims.subscribe();
    let mut volume_changes = i.volumes.subscribe();
    let mut pod_changes = i.pods.subscribe();
    i.claims.ready().await;
    i.volumes.ready().await;
    i.pods.ready().await;
    p.enqueue_all();
    let mut workers = JoinSet::new();
    let worker = Arc::clone(&p);
    workers.spawn(queue::work(Arc::clone(&p.queue), 1, "storage-protection", move |key| {
        let p = Arc::clone(&worker);
        async move { p.reconcile(key).await }
    }));
    loop {
        tokio::select! {
            change = informer::next(&mut claim_changes) => match change {
                Some(Change::Applied(c)) if needs_work(&c.metadata, CLAIM_FINALIZER) => p.queue.add(Key::of(&c.metadata)),
                Some(Change::Relisted) => p.enqueue_all(),
                Some(_) => {}
                None => return,
            },
            change = informer::next(&mut volume_changes) => match change {
                Some(Change::Applied(v)) if needs_work(&v.metadata, VOLUME_FINALIZER) => p.queue.add(Key::of(&v.metadata)),
                Some(Change::Relisted) => p.enqueue_all(),
                Some(_) => {}
                None => return,
            },
            // A pod that stops or goes may free the claims it mounted.
            change = informer::next(&mut pod_changes) => match change {
                Some(Change::Applied(pod) | Change::Deleted(pod)) => p.pod_changed(&pod),
                Some(Change::Relisted) => p.enqueue_all(),
                None => return,
            },
        }
    }
}

impl Protection {
    fn enqueue_all(&self) {
        for c in self.informers.claims.store.state() {
            if needs_work(&c.metadata, CLAIM_FINALIZER) {
                self.queue.add(Key::of(&c.metadata));
            }
        }
        for v in self.informers.volumes.store.state() {
            if needs_work(&v.metadata, VOLUME_FINALIZER) {
                self.queue.add(Key::of(&v.metadata));
            }
        }
    }

    fn pod_changed(&self, pod: &Pod) {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        for claim in self.informers.claims.in_namespace(namespace) {
            if claim.metadata.deletion_timestamp.is_some()
                && binder::uses_claim(pod, claim.metadata.name.as_deref().unwrap_or_default())
            {
                self.queue.add(Key::of(&claim.metadata));
            }
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, kube::Error> {
        let result = if key.namespace.is_empty() { self.volume(&key.name).await } else { self.claim(&key).await };
        match result {
            Err(e) if crate::is_gone(&e) => Ok(Next::Done),
            other => other.map(|()| Next::Done),
        }
    }

    async fn claim(&self, key: &Key) -> Result<(), kube::Error> {
        let Some(claim) = self.informers.claims.get(Some(&key.namespace), &key.name) else { return Ok(()) };
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &key.namespace);
        if claim.metadata.deletion_timestamp.is_none() {
            if !has_finalizer(&claim.metadata, CLAIM_FINALIZER) {
                set_finalizers(&api, &claim.metadata, CLAIM_FINALIZER, true).await?;
            }
            return Ok(());
        }
        if !has_finalizer(&claim.metadata, CLAIM_FINALIZER) {
            return Ok(());
        }
        if self.informers.pods.in_namespace(&key.namespace).iter().any(|p| pod_uses(p, &claim)) {
            return Ok(());
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        if pods.list(&ListParams::default()).await?.items.iter().any(|p| pod_uses(p, &claim)) {
            return Ok(());
        }
        set_finalizers(&api, &claim.metadata, CLAIM_FINALIZER, false).await?;
        tracing::debug!(claim = %key, "claim unused: protection removed");
        Ok(())
    }

    async fn volume(&self, name: &str) -> Result<(), kube::Error> {
        let Some(volume) = self.informers.volumes.get(None, name) else { return Ok(()) };
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let deleting = volume.metadata.deletion_timestamp.is_some();
        let has = has_finalizer(&volume.metadata, VOLUME_FINALIZER);
        if !deleting && !has {
            set_finalizers(&api, &volume.metadata, VOLUME_FINALIZER, true).await?;
        } else if deleting && has && matching::phase(&volume) != "Bound" {
            set_finalizers(&api, &volume.metadata, VOLUME_FINALIZER, false).await?;
            tracing::debug!(volume = name, "volume not bound: protection removed");
        }
        Ok(())
    }
}

/// Adds or removes `finalizer`, on the version that was read.
async fn set_finalizers<K>(api: &Api<K>, meta: &ObjectMeta, finalizer: &str, add: bool) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut finalizers: Vec<String> = meta.finalizers.iter().flatten().filter(|f| *f != finalizer).cloned().collect();
    if add {
        finalizers.push(finalizer.to_string());
    }
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": meta.resource_version}});
    api.patch(meta.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, PodSpec, PodStatus, Volume};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::storage::matching::tests::claim;

    fn pod(node: Option<&str>, claim: &str, phase: &str) -> Pod {
        Pod {
            metadata: ObjectMeta { name: Some("p".into()), ..Default::default() },
            spec: Some(PodSpec {
                node_name: node.map(String::from),
                volumes: Some(vec![Volume {
                    name: "data".into(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: claim.into(),
                        read_only: None,
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: Some(PodStatus { phase: Some(phase.into()), ..Default::default() }),
        }
    }

    #[test]
    fn only_scheduled_pods_hold_a_claim() {
        let c = claim("data", Some("local-path"), "1Gi");
        assert!(pod_uses(&pod(Some("n"), "data", "Running"), &c));
        assert!(pod_uses(&pod(Some("n"), "data", "Succeeded"), &c), "a finished pod still names it, as upstream");
        assert!(!pod_uses(&pod(None, "data", "Pending"), &c), "the kubelet never saw an unscheduled pod");
        assert!(!pod_uses(&pod(Some("n"), "other", "Running"), &c));
    }

    #[test]
    fn work_is_a_deleted_object_with_the_finalizer_or_a_live_one_without() {
        let mut meta = ObjectMeta::default();
        assert!(needs_work(&meta, CLAIM_FINALIZER));
        meta.finalizers = Some(vec![CLAIM_FINALIZER.into()]);
        assert!(!needs_work(&meta, CLAIM_FINALIZER));
        meta.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(needs_work(&meta, CLAIM_FINALIZER));
        meta.finalizers = None;
        assert!(!needs_work(&meta, CLAIM_FINALIZER));
    }
}
