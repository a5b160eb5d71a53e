//! `bramble server`: today the embedded key-value store; the Kubernetes API
//! server, controllers and agent join it in later issues.

use std::path::Path;

use anyhow::{Context, bail};
use kvstore::{KvConfig, KvNode};

use crate::cli::ServerArgs;

/// Where the embedded store keeps its database under the data dir (k3s keeps
/// etcd's under `server/db/etcd`).
pub fn store_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("server").join("db").join("kv")
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    if !args.datastore_only {
        bail!(
            "the Kubernetes API server is not part of bramble yet; run `bramble server --datastore-only` \
             to serve the embedded etcd-compatible store"
        );
    }
    if let Some(endpoint) = &args.datastore_endpoint {
        bail!(
            "--datastore-endpoint={endpoint} makes no sense with --datastore-only: there is no API server to point at it"
        );
    }
    let dir = store_dir(&args.data_dir);
    create_private_dir(&dir)?;
    let mut config = KvConfig::new(dir.clone());
    config.client_urls = args.etcd_listen_client_urls.clone();
    config.max_request_bytes = args.etcd_max_request_bytes;
    config.progress_notify_interval = args.etcd_watch_progress_notify_interval;
    if let Some(name) = args.node_name {
        config.name = name;
    }

    let tls = match (&args.etcd_cert_file, &args.etcd_key_file) {
        (Some(cert), Some(key)) => Some(kvstore::server::ClientTls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.etcd_trusted_ca_file.clone(),
        }),
        (None, None) => None,
        _ => bail!("--etcd-cert-file and --etcd-key-file go together"),
    };
    // Bind first: a port in use is reported before anything is opened.
    let listeners = kvstore::server::bind(&args.etcd_listen_client_urls, tls.as_ref()).await?;
    let started = std::time::Instant::now();
    let node = KvNode::open(config).await?;
    let meta = node.store().meta();
    tracing::info!(
        dir = %dir.display(),
        revision = meta.revision,
        keys = meta.keys,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "embedded store ready on {}",
        args.etcd_listen_client_urls.join(",")
    );
    crate::notify::ready();
    kvstore::server::serve(node.clone(), listeners, tls, shutdown_signal()).await?;
    tracing::info!("shutting down");
    node.shutdown().await;
    Ok(())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::warn!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
