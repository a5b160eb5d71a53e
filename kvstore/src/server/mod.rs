//! The etcd v3 gRPC API on the client URLs. Thin: each service turns a request
//! into a call on the [`KvNode`] and maps errors in one place (`status`).

mod cluster;
mod kv;
mod lease;
mod maintenance;
mod status;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;

use etcd_client::proto::{PbClusterServer, PbKvServer, PbLeaseServer, PbMaintenanceServer, PbWatchServer};
use tokio::net::TcpListener;

pub use status::to_status;

use crate::node::KvNode;

/// gRPC framing on top of the request size limit, as etcd allows.
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid client URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("gRPC server on {addr} failed: {reason}")]
    Serve { addr: SocketAddr, reason: String },
}

/// Parses a client URL (`http://host:port`) to a socket address.
pub fn parse_client_url(url: &str) -> Result<SocketAddr, ServeError> {
    let bad = |reason: &str| ServeError::Url { url: url.into(), reason: reason.into() };
    let rest = if let Some(rest) = url.strip_prefix("http://") {
        rest
    } else if url.starts_with("https://") {
        return Err(bad("https client URLs are not supported yet; use http:// on a trusted address such as 127.0.0.1"));
    } else {
        return Err(bad("expected http://host:port"));
    };
    let hostport = rest.trim_end_matches('/');
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport.parse().map_err(|_| bad("expected an IP address and a port, e.g. http://127.0.0.1:2379"))
}

/// Binds every client URL; returns the listeners so that errors come before
/// the process reports itself ready.
pub async fn bind(urls: &[String]) -> Result<Vec<TcpListener>, ServeError> {
    let mut listeners = Vec::new();
    for url in urls {
        let addr = parse_client_url(url)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Serves the etcd API on `listeners` until `shutdown` resolves.
pub async fn serve(
    node: Arc<KvNode>,
    listeners: Vec<TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let limit = node.config.max_request_bytes + GRPC_OVERHEAD_BYTES;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut tasks = Vec::new();
    for listener in listeners {
        let addr =
            listener.local_addr().map_err(|source| ServeError::Bind { addr: ([0, 0, 0, 0], 0).into(), source })?;
        let router = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(PbKvServer::new(kv::KvService(node.clone())).max_decoding_message_size(limit))
            .add_service(PbWatchServer::new(watch::WatchService(node.clone())).max_decoding_message_size(limit))
            .add_service(PbLeaseServer::new(lease::LeaseService(node.clone())).max_decoding_message_size(limit))
            .add_service(PbClusterServer::new(cluster::ClusterService(node.clone())))
            .add_service(PbMaintenanceServer::new(maintenance::MaintenanceService(node.clone())));
        let mut stop = stop_rx.clone();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tasks.push(tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
                .map_err(|e| ServeError::Serve { addr, reason: e.to_string() })
        }));
    }
    for task in tasks {
        task.await.map_err(|e| ServeError::Serve { addr: ([0, 0, 0, 0], 0).into(), reason: e.to_string() })??;
    }
    Ok(())
}
