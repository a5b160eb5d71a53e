//! The PersistentVolume controller (upstream's `pv_controller.go`): binds
//! each claim to a volume, writing both sides (the volume's `claimRef`,
//! the claim's `volumeName` and `pv.kubernetes.io/bind-completed`) and
//! both phases; gives a claim without a class the default one; has
//! volumes made for claims of a provisioning class (local-path's are made
//! here, once the scheduler has chosen a node); and reclaims a volume
//! whose claim is gone (Released, then kept, deleted, or Failed). Claims
//! and volumes have one worker each, as upstream: binding is not safe to
//! run twice at once. Every write carries the resourceVersion it was
//! decided on; a conflict ends the sync, and the newer object's event
//! brings the key back.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::matching::{self, Place};
use super::{
    BETA_STORAGE_PROVISIONER, BIND_COMPLETED, BOUND_BY_CONTROLLER, Informers, PROVISIONED_BY, SELECTED_NODE,
    STORAGE_PROVISIONER, class, provisioner,
};
use crate::events::{Recorder, Type};
use crate::informer::{self, Change};
use crate::queue::{self, Key, Next, Queue};

/// How often everything unsettled is looked at again, as upstream's
/// `pvclaimbinder-sync-period`: a claim may wait for a volume that a user
/// creates later, and nothing else would bring it back.
const RESYNC: Duration = Duration::from_secs(15);

pub struct Binder {
    client: kube::Client,
    informers: Informers,
    claim_queue: Arc<Queue>,
    volume_queue: Arc<Queue>,
    storage_dir: PathBuf,
    events: Recorder,
    /// Events of the local-path provisioner, under its own name.
    provisioner_events: Recorder,
}

fn has_annotation(meta: &kube::api::ObjectMeta, key: &str) -> bool {
    meta.annotations.as_ref().is_some_and(|a| a.contains_key(key))
}

fn name_of(meta: &kube::api::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn volume_name_of(claim: &PersistentVolumeClaim) -> &str {
    claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or_default()
}

fn claim_phase(claim: &PersistentVolumeClaim) -> &str {
    claim.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

/// A conflict or a vanished object ends a sync without an error.
fn settle(result: Result<(), kube::Error>) -> Result<Next, kube::Error> {
    match result {
        Ok(()) => Ok(Next::Done),
        Err(e) if crate::is_gone(&e) => Ok(Next::Done),
        Err(e) => Err(e),
    }
}

pub async fn run(b: Arc<Binder>) {
    let i = &b.informers;
    let mut claim_changes = i.claims.subscribe();
    let mut volume_changes = i.volumes.subscribe();
    let mut class_changes = i.classes.subscribe();
    i.claims.ready().await;
    i.volumes.ready().await;
    i.classes.ready().await;
    i.nodes.ready().await;
    i.pods.ready().await;
    b.enqueue_unsettled();
    let mut workers = JoinSet::new();
    let worker = Arc::clone(&b);
    workers.spawn(queue::work(Arc::clone(&b.claim_queue), 1, "persistentvolume-binder-claims", move |key| {
        let b = Arc::clone(&worker);
        async move { b.sync_claim(key).await }
    }));
    let worker = Arc::clone(&b);
    workers.spawn(queue::work(Arc::clone(&b.volume_queue), 1, "persistentvolume-binder-volumes", move |key| {
        let b = Arc::clone(&worker);
        async move { b.sync_volume(key).await }
    }));
    let mut resync = tokio::time::interval(RESYNC);
    loop {
        tokio::select! {
            change = informer::next(&mut claim_changes) => match change {
                Some(Change::Applied(c)) => b.claim_queue.add(Key::of(&c.metadata)),
                Some(Change::Deleted(c)) => b.claim_deleted(&c),
                Some(Change::Relisted) => b.enqueue_unsettled(),
                None => return,
            },
            change = informer::next(&mut volume_changes) => match change {
                Some(Change::Applied(v) | Change::Deleted(v)) => {
                    b.volume_queue.add(Key::of(&v.metadata));
                    if let Some(r) = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
                        b.claim_queue.add(Key::new(r.namespace.as_deref(), r.name.as_deref().unwrap_or_default()));
                    }
                }
                Some(Change::Relisted) => b.enqueue_unsettled(),
                None => return,
            },
            // A class created or made default may settle waiting claims.
            change = informer::next(&mut class_changes) => match change {
                Some(_) => b.enqueue_unsettled(),
                None => return,
            },
            _ = resync.tick() => b.enqueue_unsettled(),
        }
    }
}

impl Binder {
    pub fn new(
        client: kube::Client,
        informers: Informers,
        storage_dir: PathBuf,
        events: Recorder,
        provisioner_events: Recorder,
    ) -> Arc<Binder> {
        Arc::new(Binder {
            client,
            informers,
            claim_queue: Queue::new(),
            volume_queue: Queue::new(),
            storage_dir,
            events,
            provisioner_events,
        })
    }

    fn enqueue_unsettled(&self) {
        for c in self.informers.claims.store.state() {
            if claim_phase(&c) != "Bound" || !has_annotation(&c.metadata, BIND_COMPLETED) {
                self.claim_queue.add(Key::of(&c.metadata));
            }
        }
        for v in self.informers.volumes.store.state() {
            if matching::phase(&v) != "Bound" {
                self.volume_queue.add(Key::of(&v.metadata));
            }
        }
    }

    /// Its volume may now be released.
    fn claim_deleted(&self, claim: &PersistentVolumeClaim) {
        let name = volume_name_of(claim);
        if !name.is_empty() {
            self.volume_queue.add(Key::new(None, name));
        }
        for v in self.informers.volumes.store.state() {
            if matching::bound_to(&v, claim) {
                self.volume_queue.add(Key::of(&v.metadata));
            }
        }
    }

    fn claim_api(&self, claim: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), claim.metadata.namespace.as_deref().unwrap_or_default())
    }

    fn volume_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn class_of(&self, claim: &PersistentVolumeClaim) -> Option<Arc<StorageClass>> {
        let name = class::of_claim(claim);
        if name.is_empty() { None } else { self.informers.classes.get(None, name) }
    }

    async fn sync_claim(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(claim) = self.informers.claims.get(Some(&key.namespace), &key.name) else { return Ok(Next::Done) };
        if has_annotation(&claim.metadata, BIND_COMPLETED) {
            settle(self.sync_bound_claim(&claim).await)
        } else {
            settle(self.sync_unbound_claim(&claim).await)
        }
    }

    async fn sync_unbound_claim(&self, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let wanted = volume_name_of(claim);
        if wanted.is_empty() {
            let class = self.class_of(claim);
            let delay_binding = class::delays_binding(class.as_deref());
            let volumes = self.informers.volumes.store.state();
            if let Some(volume) = matching::find(claim, &volumes, Place::Anywhere { delay_binding }, &HashSet::new()) {
                return self.bind(&volume, claim).await;
            }
            if self.assign_default_class(claim).await? {
                return Ok(());
            }
            if delay_binding && provisioner::selected_node(claim).is_none() {
                self.waiting_for_consumer(claim);
            } else if !class::of_claim(claim).is_empty() {
                return self.provision(claim, class.as_deref()).await;
            } else {
                self.events.record(
                    claim,
                    Type::Normal,
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set".into(),
                );
            }
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        }
        // The user asked for a specific volume.
        let Some(volume) = self.informers.volumes.get(None, wanted) else {
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        };
        if volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_none() {
            if let Some(why) = matching::unsatisfied(&volume, claim) {
                let message = format!("Cannot bind to requested volume \"{wanted}\": {why}");
                self.events.record(claim, Type::Warning, "VolumeMismatch", message);
                self.update_claim_status(claim, "Pending", None).await?;
                return Ok(());
            }
            return self.bind(&volume, claim).await;
        }
        if matching::bound_to(&volume, claim) {
            return self.bind(&volume, claim).await;
        }
        let message = format!("volume \"{wanted}\" already bound to a different claim.");
        self.events.record(claim, Type::Warning, "FailedBinding", message);
        self.update_claim_status(claim, "Pending", None).await?;
        Ok(())
    }

    async fn sync_bound_claim(&self, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let wanted = volume_name_of(claim);
        let lost = |message: &str| ("ClaimLost", message.to_string());
        let (reason, message) = if wanted.is_empty() {
            lost("Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
        } else {
            match self.informers.volumes.get(None, wanted) {
                None => lost("Bound claim has lost its PersistentVolume. Data on the volume is lost!"),
                Some(volume) => {
                    let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
                    let ours = claim_ref.is_some_and(|r| r.uid == claim.metadata.uid);
                    if claim_ref.is_none() || ours {
                        return self.bind(&volume, claim).await;
                    }
                    ("ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly".into())
                }
            }
        };
        if claim_phase(claim) != "Lost" {
            self.update_claim_status(claim, "Lost", None).await?;
            self.events.record(claim, Type::Warning, reason, message);
        }
        Ok(())
    }

    async fn sync_volume(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(volume) = self.informers.volumes.get(None, &key.name) else { return Ok(Next::Done) };
        settle(self.sync_volume_inner(&volume).await)
    }

    async fn sync_volume_inner(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        let Some(claim_ref) = volume.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
            self.update_volume_phase(volume, "Available", None).await?;
            return Ok(());
        };
        let Some(ref_uid) = claim_ref.uid.clone().filter(|u| !u.is_empty()) else {
            // Reserved for a claim that has not bound to it yet.
            self.update_volume_phase(volume, "Available", None).await?;
            return Ok(());
        };
        let namespace = claim_ref.namespace.clone().unwrap_or_default();
        let name = claim_ref.name.clone().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        let phase = matching::phase(volume);
        let mut claim = self.informers.claims.get(Some(&namespace), &name);
        // The cache may lag behind a claim just made: the API decides before anything is released.
        if claim.is_none() && phase != "Released" && phase != "Failed" {
            claim = api.get_opt(&name).await?.map(Arc::new);
        }
        if claim.as_ref().is_some_and(|c| c.metadata.uid.as_deref() != Some(ref_uid.as_str())) {
            claim =
                api.get_opt(&name).await?.filter(|c| c.metadata.uid.as_deref() == Some(ref_uid.as_str())).map(Arc::new);
        }
        let Some(claim) = claim else {
            let released = if phase != "Released" && phase != "Failed" {
                self.update_volume_phase(volume, "Released", None).await?
            } else {
                volume.clone()
            };
            return self.reclaim(&released).await;
        };
        let claimed = volume_name_of(&claim);
        if claimed.is_empty() {
            if matching::volume_mode_mismatch(&claim, volume) {
                let pv = name_of(&volume.metadata);
                let message = format!(
                    "Cannot bind PersistentVolume to requested PersistentVolumeClaim \"{name}\" due to incompatible volumeMode."
                );
                self.events.record(volume, Type::Warning, "VolumeMismatch", message);
                let message = format!(
                    "Cannot bind PersistentVolume \"{pv}\" to requested PersistentVolumeClaim due to incompatible volumeMode."
                );
                self.events.record(claim.as_ref(), Type::Warning, "VolumeMismatch", message);
                return Ok(());
            }
            // Bound on this side only (a provisioned volume, a scheduler's choice): the claim sync finishes it.
            self.claim_queue.add(Key::of(&claim.metadata));
            return Ok(());
        }
        if claimed == name_of(&volume.metadata) {
            self.update_volume_phase(volume, "Bound", None).await?;
            return Ok(());
        }
        // The claim is bound to another volume.
        let reclaim_delete =
            volume.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()) == Some("Delete");
        if has_annotation(&volume.metadata, PROVISIONED_BY) && reclaim_delete {
            let released = if phase != "Released" && phase != "Failed" {
                self.update_volume_phase(volume, "Released", None).await?
            } else {
                volume.clone()
            };
            return self.reclaim(&released).await;
        }
        self.unbind_volume(volume).await
    }

    /// Carries out the reclaim policy of a released volume.
    async fn reclaim(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        let policy =
            volume.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()).unwrap_or("Retain");
        let name = name_of(&volume.metadata);
        match policy {
            "Retain" => Ok(()),
            "Delete" if provisioner::provisioned_here(volume) => {
                if volume.metadata.deletion_timestamp.is_some() {
                    return Ok(());
                }
                // Only the object: its directory on the node is the agent's to remove.
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: volume.metadata.uid.clone(),
                        resource_version: volume.metadata.resource_version.clone(),
                    }),
                    ..Default::default()
                };
                self.volume_api().delete(name, &params).await?;
                tracing::info!(volume = name, "deleted a released local-path volume");
                Ok(())
            }
            // Another provisioner's volume: its deleter acts.
            "Delete" if has_annotation(&volume.metadata, PROVISIONED_BY) => Ok(()),
            "Delete" => {
                let message = format!(
                    "error getting deleter volume plugin for volume \"{name}\": no deletable volume plugin matched"
                );
                self.fail_volume(volume, "VolumeFailedDelete", message).await
            }
            "Recycle" => {
                self.fail_volume(volume, "VolumeFailedRecycle", "No recycler plugin found for the volume!".into()).await
            }
            _ => {
                let message = "Volume has unrecognized PersistentVolumeReclaimPolicy".to_string();
                self.fail_volume(volume, "VolumeUnknownReclaimPolicy", message).await
            }
        }
    }

    async fn fail_volume(&self, volume: &PersistentVolume, reason: &str, message: String) -> Result<(), kube::Error> {
        if matching::phase(volume) != "Failed" {
            self.update_volume_phase(volume, "Failed", Some(&message)).await?;
            self.events.record(volume, Type::Warning, reason, message);
        }
        Ok(())
    }

    /// Both sides and both phases, volume first (upstream's `bind`).
    async fn bind(&self, volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let volume = self.bind_volume_to_claim(volume, claim).await?;
        let volume = self.update_volume_phase(&volume, "Bound", None).await?;
        let claim = self.bind_claim_to_volume(claim, &volume).await?;
        self.update_claim_status(&claim, "Bound", Some(&volume)).await?;
        Ok(())
    }

    async fn bind_volume_to_claim(
        &self,
        volume: &PersistentVolume,
        claim: &PersistentVolumeClaim,
    ) -> Result<PersistentVolume, kube::Error> {
        let current = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        let exact = current.is_some_and(|r| {
            r.name == claim.metadata.name && r.namespace == claim.metadata.namespace && r.uid == claim.metadata.uid
        });
        let mark = !matching::bound_to(volume, claim) && !has_annotation(&volume.metadata, BOUND_BY_CONTROLLER);
        if exact && !mark {
            return Ok(volume.clone());
        }
        let mut metadata = json!({"resourceVersion": volume.metadata.resource_version});
        if mark {
            metadata["annotations"] = json!({BOUND_BY_CONTROLLER: "yes"});
        }
        let patch = json!({"metadata": metadata, "spec": {"claimRef": {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "namespace": claim.metadata.namespace, "name": claim.metadata.name,
            "uid": claim.metadata.uid, "resourceVersion": claim.metadata.resource_version,
        }}});
        let updated =
            self.volume_api().patch(name_of(&volume.metadata), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        tracing::debug!(volume = name_of(&volume.metadata), claim = name_of(&claim.metadata), "claim bound to volume");
        Ok(updated)
    }

    async fn bind_claim_to_volume(
        &self,
        claim: &PersistentVolumeClaim,
        volume: &PersistentVolume,
    ) -> Result<PersistentVolumeClaim, kube::Error> {
        let volume_name = name_of(&volume.metadata);
        let mut annotations = BTreeMap::new();
        let rebind = volume_name_of(claim) != volume_name;
        if rebind && !has_annotation(&claim.metadata, BOUND_BY_CONTROLLER) {
            annotations.insert(BOUND_BY_CONTROLLER, "yes");
        }
        if !has_annotation(&claim.metadata, BIND_COMPLETED) {
            annotations.insert(BIND_COMPLETED, "yes");
        }
        if !rebind && annotations.is_empty() {
            return Ok(claim.clone());
        }
        let mut patch =
            json!({"metadata": {"resourceVersion": claim.metadata.resource_version, "annotations": annotations}});
        if rebind {
            patch["spec"] = json!({"volumeName": volume_name});
        }
        self.claim_api(claim).patch(name_of(&claim.metadata), &PatchParams::default(), &Patch::Merge(&patch)).await
    }

    /// Sets the claim's phase, and its access modes and capacity from the
    /// volume (capacity only as it becomes bound; none without a volume).
    async fn update_claim_status(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<PersistentVolumeClaim, kube::Error> {
        let status = claim.status.clone().unwrap_or_default();
        let mut changes = serde_json::Map::new();
        let becoming = claim_phase(claim) != phase || status.phase.is_none();
        if becoming {
            changes.insert("phase".into(), json!(phase));
        }
        match volume.and_then(|v| v.spec.as_ref()) {
            None => {
                if status.access_modes.is_some() {
                    changes.insert("accessModes".into(), Value::Null);
                }
                if status.capacity.is_some() {
                    changes.insert("capacity".into(), Value::Null);
                }
            }
            Some(spec) => {
                if status.access_modes != spec.access_modes {
                    changes.insert("accessModes".into(), json!(spec.access_modes));
                }
                if becoming && status.capacity != spec.capacity {
                    changes.insert("capacity".into(), json!(spec.capacity));
                }
            }
        }
        if changes.is_empty() {
            return Ok(claim.clone());
        }
        let patch = json!({"metadata": {"resourceVersion": claim.metadata.resource_version}, "status": changes});
        self.claim_api(claim)
            .patch_status(name_of(&claim.metadata), &PatchParams::default(), &Patch::Merge(&patch))
            .await
    }

    async fn update_volume_phase(
        &self,
        volume: &PersistentVolume,
        phase: &str,
        message: Option<&str>,
    ) -> Result<PersistentVolume, kube::Error> {
        if volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase) {
            return Ok(volume.clone());
        }
        let patch = json!({
            "metadata": {"resourceVersion": volume.metadata.resource_version},
            "status": {"phase": phase, "message": message},
        });
        let updated = self
            .volume_api()
            .patch_status(name_of(&volume.metadata), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tracing::debug!(volume = name_of(&volume.metadata), phase, "volume entered phase");
        Ok(updated)
    }

    /// Undoes a binding the claim did not take: the controller's own is
    /// removed, a user's pre-binding keeps its name but loses the uid.
    async fn unbind_volume(&self, volume: &PersistentVolume) -> Result<(), kube::Error> {
        let patch = if has_annotation(&volume.metadata, BOUND_BY_CONTROLLER) {
            json!({"metadata": {"resourceVersion": volume.metadata.resource_version, "annotations": {BOUND_BY_CONTROLLER: null}},
                   "spec": {"claimRef": null}})
        } else {
            json!({"metadata": {"resourceVersion": volume.metadata.resource_version}, "spec": {"claimRef": {"uid": null}}})
        };
        let updated =
            self.volume_api().patch(name_of(&volume.metadata), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        self.update_volume_phase(&updated, "Available", None).await?;
        Ok(())
    }

    /// Gives a claim without a class the default class (upstream's
    /// retroactive default class); true if it was written.
    async fn assign_default_class(&self, claim: &PersistentVolumeClaim) -> Result<bool, kube::Error> {
        if class::claim_has_class(claim) {
            return Ok(false);
        }
        let Some(default) = class::default_class(&self.informers.classes.store.state()) else { return Ok(false) };
        let patch = json!({
            "metadata": {"resourceVersion": claim.metadata.resource_version},
            "spec": {"storageClassName": default.metadata.name},
        });
        self.claim_api(claim).patch(name_of(&claim.metadata), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        Ok(true)
    }

    /// The events upstream gives a claim that waits for its first pod.
    fn waiting_for_consumer(&self, claim: &PersistentVolumeClaim) {
        let name = name_of(&claim.metadata);
        let namespace = claim.metadata.namespace.as_deref().unwrap_or_default();
        let waiting: Vec<String> = self
            .informers
            .pods
            .in_namespace(namespace)
            .iter()
            .filter(|p| !crate::pods::is_terminal(p) && uses_claim(p, name))
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty))
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        let (reason, message) = match waiting.as_slice() {
            [] => ("WaitForFirstConsumer", "waiting for first consumer to be created before binding".to_string()),
            [one] => ("WaitForPodScheduled", format!("waiting for pod {one} to be scheduled")),
            many => ("WaitForPodScheduled", format!("waiting for pods {} to be scheduled", many.join(","))),
        };
        self.events.record(claim, Type::Normal, reason, message);
    }

    /// Has the claim's volume made: local-path's here, another
    /// provisioner's by that provisioner (the claim says which).
    async fn provision(&self, claim: &PersistentVolumeClaim, class: Option<&StorageClass>) -> Result<(), kube::Error> {
        let Some(class) = class else {
            let message = format!("storageclass.storage.k8s.io \"{}\" not found", class::of_claim(claim));
            self.events.record(claim, Type::Warning, "ProvisioningFailed", message);
            return Ok(());
        };
        if class.provisioner == class::NO_PROVISIONER {
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        }
        let claim = self.set_claim_provisioner(claim, &class.provisioner).await?;
        let message = format!(
            "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
            class.provisioner
        );
        self.events.record(&claim, Type::Normal, "ExternalProvisioning", message);
        if class.provisioner == class::PROVISIONER {
            self.provision_local_path(&claim, class).await?;
        }
        Ok(())
    }

    async fn set_claim_provisioner(
        &self,
        claim: &PersistentVolumeClaim,
        provisioner: &str,
    ) -> Result<PersistentVolumeClaim, kube::Error> {
        let annotations = claim.metadata.annotations.clone().unwrap_or_default();
        let set = |key: &str| annotations.get(key).map(String::as_str) == Some(provisioner);
        if set(STORAGE_PROVISIONER) && set(BETA_STORAGE_PROVISIONER) {
            return Ok(claim.clone());
        }
        let patch = json!({"metadata": {
            "resourceVersion": claim.metadata.resource_version,
            "annotations": {STORAGE_PROVISIONER: provisioner, BETA_STORAGE_PROVISIONER: provisioner},
        }});
        self.claim_api(claim).patch(name_of(&claim.metadata), &PatchParams::default(), &Patch::Merge(&patch)).await
    }

    async fn provision_local_path(
        &self,
        claim: &PersistentVolumeClaim,
        class: &StorageClass,
    ) -> Result<(), kube::Error> {
        let name = provisioner::volume_name(claim);
        if self.informers.volumes.get(None, &name).is_some() || self.volume_api().get_opt(&name).await?.is_some() {
            return Ok(());
        }
        let node = match provisioner::selected_node(claim) {
            Some(node_name) => match self.informers.nodes.get(None, node_name) {
                Some(node) => Some(node),
                None => {
                    // The node is gone: let the scheduler choose again.
                    let message = format!("Failed to get target node: node \"{node_name}\" not found");
                    self.events.record(claim, Type::Warning, "ProvisioningFailed", message);
                    let patch = json!({"metadata": {
                        "resourceVersion": claim.metadata.resource_version,
                        "annotations": {SELECTED_NODE: null},
                    }});
                    self.claim_api(claim)
                        .patch(name_of(&claim.metadata), &PatchParams::default(), &Patch::Merge(&patch))
                        .await?;
                    return Ok(());
                }
            },
            None => None,
        };
        let key = format!("{}/{}", claim.metadata.namespace.as_deref().unwrap_or_default(), name_of(&claim.metadata));
        let message = format!("External provisioner is provisioning volume for claim \"{key}\"");
        self.provisioner_events.record(claim, Type::Normal, "Provisioning", message);
        let volume = match provisioner::volume_for(claim, class, node.as_deref(), &self.storage_dir) {
            Ok(volume) => volume,
            Err(refusal) => {
                let class_name = name_of(&class.metadata);
                let message = format!("failed to provision volume with StorageClass \"{class_name}\": {refusal}");
                self.provisioner_events.record(claim, Type::Warning, "ProvisioningFailed", message);
                return Ok(());
            }
        };
        match self.volume_api().create(&PostParams::default(), &volume).await {
            Ok(_) => {
                let message = format!("Successfully provisioned volume {name}");
                self.provisioner_events.record(claim, Type::Normal, "ProvisioningSucceeded", message);
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => {
                let message =
                    format!("failed to provision volume with StorageClass \"{}\": {e}", name_of(&class.metadata));
                self.provisioner_events.record(claim, Type::Warning, "ProvisioningFailed", message);
                Err(e)
            }
        }
    }
}

/// Whether the pod mounts the claim `name` (of its namespace).
pub fn uses_claim(pod: &Pod, name: &str) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .any(|v| v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == name))
}
