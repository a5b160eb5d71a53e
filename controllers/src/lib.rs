//! bramble's controllers: clients of the API server like any other (kube-rs
//! over HTTPS), run by whichever server holds the `kube-controller-manager`
//! Lease. They share one informer (watch plus cache) per kind, each has its
//! own work queue, and all of them stop together when the Lease is lost.
//! Nothing here knows the store: only the API.

mod deployment;
mod events;
mod gc;
mod informer;
mod labels;
pub mod leader;
mod node_lifecycle;
mod owner;
mod per_namespace;
mod pods;
mod queue;
mod replicaset;
mod root_ca;
mod scheduler;
mod service_account;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
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

    tasks.spawn(service_account::run(client.clone()));
    tasks.spawn(root_ca::run(client.clone(), config.root_ca_pem.clone()));
    tasks.spawn(gc::run(client.clone()));
    let events = events::Recorder::start(&mut tasks, client.clone(), "replicaset-controller");
    tasks.spawn(replicaset::run(client.clone(), replica_sets.clone(), pods.clone(), events));
    let events = events::Recorder::start(&mut tasks, client.clone(), "deployment-controller");
    tasks.spawn(deployment::run(client.clone(), deployments, replica_sets, pods.clone(), events));
    let nodes = Informer::start(&mut tasks, Api::<Node>::all(client.clone()), watcher::Config::default());
    let node_leases = Informer::start(
        &mut tasks,
        Api::<Lease>::namespaced(client.clone(), "kube-node-lease"),
        watcher::Config::default(),
    );
    let events = events::Recorder::start(&mut tasks, client.clone(), "node-controller");
    tasks.spawn(node_lifecycle::run(client.clone(), nodes.clone(), node_leases, pods.clone(), events));
    if config.scheduler {
        let events = events::Recorder::start(&mut tasks, client.clone(), scheduler::NAME);
        tasks.spawn(scheduler::run(client.clone(), pods, nodes, events));
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
