//! bramble's controllers: clients of the API server like any other (kube-rs
//! over HTTPS), run by whichever server holds the `kube-controller-manager`
//! Lease. This first step has the election and the per-namespace defaults
//! that every namespace gets on upstream Kubernetes: the `default`
//! ServiceAccount and the `kube-root-ca.crt` ConfigMap. Workload
//! controllers, the garbage collector and the scheduler follow (issue 4).
//! Nothing here knows the store: only the API.

pub mod leader;
mod per_namespace;
mod root_ca;
mod service_account;

use tokio::sync::watch;

/// What the controllers need besides a client.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub election: leader::Election,
    /// The CA that signs the API server's certificate, published as `kube-root-ca.crt`.
    pub root_ca_pem: String,
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
        let tasks = [
            tokio::spawn(service_account::run(client.clone())),
            tokio::spawn(root_ca::run(client.clone(), config.root_ca_pem.clone())),
        ];
        while *leading.borrow_and_update() {
            if leading.changed().await.is_err() {
                break;
            }
        }
        tracing::info!("lost the lease: stopping the controllers");
        for task in &tasks {
            task.abort();
        }
    }
}
