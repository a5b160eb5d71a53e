//! Storage as a k3s server provides it: the default StorageClass
//! `local-path` (`class.rs`), the PersistentVolume controller that binds
//! claims to volumes and reclaims released ones (`binder.rs`, matching in
//! `matching.rs`), the `rancher.io/local-path` provisioner that makes a
//! hostPath volume on the node the scheduler chose (`provisioner.rs`), and
//! the protection finalizers that keep a claim while a pod uses it and a
//! volume while it is bound (`protection.rs`). Nothing here touches a
//! disk: the directories live on the nodes, and making and removing them
//! is the node agent's job.

mod binder;
pub mod class;
pub mod matching;
mod protection;
mod provisioner;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use tokio::task::JoinSet;

use crate::events::Recorder;
use crate::informer::Informer;

/// On a claim: the binding is complete (both sides written).
pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// On a claim or volume: the controller, not the user, bound it.
pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// On a volume: who provisioned it (and so who deletes it).
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// On a claim: the node the scheduler chose for its first pod.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// On a claim: the provisioner asked to make its volume.
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";

/// The caches storage works from.
#[derive(Debug, Clone)]
pub struct Informers {
    pub claims: Arc<Informer<PersistentVolumeClaim>>,
    pub volumes: Arc<Informer<PersistentVolume>>,
    pub classes: Arc<Informer<StorageClass>>,
    pub nodes: Arc<Informer<Node>>,
    pub pods: Arc<Informer<Pod>>,
}

/// Ensures `local-path`, then runs the PV controller, the provisioner and
/// the protection controllers until the task is dropped. `storage_dir` is
/// where local-path volumes live on the nodes (`<data-dir>/storage`).
pub async fn run(client: kube::Client, informers: Informers, storage_dir: PathBuf, events: Recorder) {
    let mut tasks = JoinSet::new();
    let ensure_client = client.clone();
    tasks.spawn(async move {
        let mut delay = Duration::from_millis(200);
        while let Err(e) = class::ensure_local_path(&ensure_client).await {
            tracing::warn!("cannot ensure the StorageClass {}, retrying in {delay:?}: {e}", class::LOCAL_PATH);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    });
    let provisioner_events = Recorder::start(&mut tasks, client.clone(), class::PROVISIONER);
    tasks.spawn(binder::run(binder::Binder::new(
        client.clone(),
        informers.clone(),
        storage_dir,
        events,
        provisioner_events,
    )));
    tasks.spawn(protection::run(client, informers));
    while tasks.join_next().await.is_some() {}
}
