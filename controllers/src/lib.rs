//! bramble's controllers: clients of the API server like any other (kube-rs
//! over HTTPS), run by whichever server holds the `kube-controller-manager`
//! Lease. They share one informer (watch plus cache) per kind, each has its
//! own work queue, and all of them stop together when the Lease is lost.
//! Nothing here knows the store: only the API.

mod cronjob;
mod daemonset;
mod deployment;
mod disruption;
mod endpoints;
mod endpointslice;
mod events;
mod expectations;
mod gc;
mod history;
mod informer;
mod job;
mod labels;
pub mod leader;
mod namespace;
pub mod node_ipam;
mod node_lifecycle;
mod owner;
mod per_namespace;
mod pod_control;
mod pods;
mod queue;
mod replicaset;
mod root_ca;
mod scheduler;
mod service_account;
mod service_pods;
mod statefulset;
mod storage;
mod unseen;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ReplicationController};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::Api;
use kube::runtime::watcher;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::informer::Informer;

/// What the controllers need besides a client.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub election: leader::Election,
    /// The CA that signs the API server's certificate, published as `kube-root-ca.crt`.
    pub root_ca_pem: String,
    /// Whether this process also runs the scheduler (`--disable-scheduler` turns it off).
    pub scheduler: bool,
    /// `--cluster-cidr`, cut into node pod networks (empty: no node IPAM).
    pub cluster_cidrs: Vec<node_ipam::ClusterCidr>,
    /// Where local-path volumes live on the nodes (`<data-dir>/storage`).
    pub storage_dir: std::path::PathBuf,
}

/// A random identity for this process, as upstream forms it: `<host>_<uuid-ish>`.
pub fn identity(host: &str) -> String {
    format!("{host}_{:032x}", rand::random::<u128>())
}

/// Runs the election, and the controllers while this process leads. Never returns.
pub async fn run(client: kube::Client, config: ControllerConfig) {
    let (tx, mut leading) = watch::channel(false);
    tokio::spawn(leader::run(client.clone(), config.election.clone(), tx));
    loop {
        while !*leading.borrow_and_update() {
            if leading.changed().await.is_err() {
                return;
            }
        }
        tracing::info!("leading: starting the controllers");
        let tasks = start(&client, &config);
        while *leading.borrow_and_update() {
            if leading.changed().await.is_err() {
                break;
            }
        }
        tracing::info!("lost the lease: stopping the controllers");
        drop(tasks);
    }
}

/// Starts every controller; dropping the set stops them all.
fn start(client: &kube::Client, config: &ControllerConfig) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let pods = Informer::start(&mut tasks, Api::<Pod>::all(client.clone()), watcher::Config::default());
    let replica_sets = Informer::start(&mut tasks, Api::<ReplicaSet>::all(client.clone()), watcher::Config::default());
    let deployments = Informer::start(&mut tasks, Api::<Deployment>::all(client.clone()), watcher::Config::default());

    let namespaces = Informer::start(&mut tasks, Api::<Namespace>::all(client.clone()), watcher::Config::default());
    tasks.spawn(namespace::run(client.clone(), namespaces));
    tasks.spawn(service_account::run(client.clone()));
    tasks.spawn(root_ca::run(client.clone(), config.root_ca_pem.clone()));
    tasks.spawn(gc::run(client.clone()));
    let events = events::Recorder::start(&mut tasks, client.clone(), "replicaset-controller");
    tasks.spawn(replicaset::run(client.clone(), replica_sets.clone(), pods.clone(), events));
    let controllers =
        Informer::start(&mut tasks, Api::<ReplicationController>::all(client.clone()), watcher::Config::default());
    let events = events::Recorder::start(&mut tasks, client.clone(), "replication-controller");
    tasks.spawn(replicaset::run(client.clone(), controllers, pods.clone(), events));
    let events = events::Recorder::start(&mut tasks, client.clone(), "controllermanager");
    tasks.spawn(disruption::run(client.clone(), pods.clone(), replica_sets.clone(), deployments.clone(), events));
    let events = events::Recorder::start(&mut tasks, client.clone(), "deployment-controller");
    tasks.spawn(deployment::run(client.clone(), deployments, replica_sets, pods.clone(), events));
    let jobs = Informer::start(&mut tasks, Api::<Job>::all(client.clone()), watcher::Config::default());
    let events = events::Recorder::start(&mut tasks, client.clone(), "job-controller");
    tasks.spawn(job::run(client.clone(), jobs.clone(), pods.clone(), events));
    let cronjobs = Informer::start(&mut tasks, Api::<CronJob>::all(client.clone()), watcher::Config::default());
    let events = events::Recorder::start(&mut tasks, client.clone(), "cronjob-controller");
    tasks.spawn(cronjob::run(client.clone(), cronjobs, jobs.clone(), events));
    let nodes = Informer::start(&mut tasks, Api::<Node>::all(client.clone()), watcher::Config::default());
    let node_leases = Informer::start(
        &mut tasks,
        Api::<Lease>::namespaced(client.clone(), "kube-node-lease"),
        watcher::Config::default(),
    );
    let events = events::Recorder::start(&mut tasks, client.clone(), "node-controller");
    tasks.spawn(node_lifecycle::run(client.clone(), nodes.clone(), node_leases, pods.clone(), events));
    let daemon_sets = Informer::start(&mut tasks, Api::<DaemonSet>::all(client.clone()), watcher::Config::default());
    let revisions =
        Informer::start(&mut tasks, Api::<ControllerRevision>::all(client.clone()), watcher::Config::default());
    let events = events::Recorder::start(&mut tasks, client.clone(), "node-ipam-controller");
    tasks.spawn(node_ipam::run(client.clone(), config.cluster_cidrs.clone(), nodes.clone(), events));
    let events = events::Recorder::start(&mut tasks, client.clone(), "daemonset-controller");
    tasks.spawn(daemonset::run(client.clone(), daemon_sets, pods.clone(), nodes.clone(), revisions.clone(), events));
    let claims =
        Informer::start(&mut tasks, Api::<PersistentVolumeClaim>::all(client.clone()), watcher::Config::default());
    let stateful_sets =
        Informer::start(&mut tasks, Api::<StatefulSet>::all(client.clone()), watcher::Config::default());
    let events = events::Recorder::start(&mut tasks, client.clone(), "statefulset-controller");
    tasks.spawn(statefulset::run(
        client.clone(),
        stateful_sets,
        pods.clone(),
        revisions.clone(),
        claims.clone(),
        events,
    ));
    let volumes = Informer::start(&mut tasks, Api::<PersistentVolume>::all(client.clone()), watcher::Config::default());
    let classes = Informer::start(&mut tasks, Api::<StorageClass>::all(client.clone()), watcher::Config::default());
    let storage = storage::Informers {
        claims: claims.clone(),
        volumes: volumes.clone(),
        classes: classes.clone(),
        nodes: nodes.clone(),
        pods: pods.clone(),
    };
    let events = events::Recorder::start(&mut tasks, client.clone(), "persistentvolume-controller");
    tasks.spawn(storage::run(client.clone(), storage, config.storage_dir.clone(), events));
    let services = Informer::start(&mut tasks, Api::<Service>::all(client.clone()), watcher::Config::default());
    let all_endpoints = Informer::start(&mut tasks, Api::<Endpoints>::all(client.clone()), watcher::Config::default());
    let events = events::Recorder::start(&mut tasks, client.clone(), "endpoint-controller");
    tasks.spawn(endpoints::run(client.clone(), services.clone(), pods.clone(), all_endpoints, events));
    let slices = Informer::start(&mut tasks, Api::<EndpointSlice>::all(client.clone()), watcher::Config::default());
    let events = events::Recorder::start(&mut tasks, client.clone(), "endpoint-slice-controller");
    tasks.spawn(endpointslice::run(client.clone(), services, pods.clone(), nodes.clone(), slices, events));
    if config.scheduler {
        let events = events::Recorder::start(&mut tasks, client.clone(), scheduler::NAME);
        let storage = scheduler::Storage { claims, volumes, classes };
        tasks.spawn(scheduler::run(client.clone(), pods, nodes, storage, events));
    }
    tasks
}

/// The object (or its namespace) is gone, or changed under us: the next
/// event brings the key back if there is still work.
pub(crate) fn is_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404 || s.code == 409)
}

/// The namespace is terminating: creates there are refused with 403.
pub(crate) fn is_terminating(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403 && s.reason == "Forbidden" && s.message.contains("terminat"))
}
