//! The etcd v3 gRPC API on the client URLs. Thin: each service turns a request
//! into a call on the [`KvNode`] and maps errors in one place (`status`).

mod cluster;
mod kv;
mod lease;
mod maintenance;
mod status;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use etcd_client::proto::{PbClusterServer, PbKvServer, PbLeaseServer, PbMaintenanceServer, PbWatchServer};
use tokio::net::TcpListener;

pub use status::to_status;

use crate::node::KvNode;

/// gRPC framing on top of the request size limit, as etcd allows.
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// Certificates for `https://` client URLs (etcd's --cert-file, --key-file
/// and, for client-certificate authentication, --trusted-ca-file).
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

/// A bound client URL.
#[derive(Debug)]
pub struct ClientListener {
    listener: TcpListener,
    tls: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read {what} {path}: {source}")]
    TlsFile { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
    #[error("invalid client URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("gRPC server on {addr} failed: {reason}")]
    Serve { addr: SocketAddr, reason: String },
}

/// Parses a client URL (`http://host:port` or `https://host:port`) to a
/// socket address and whether it speaks TLS.
pub fn parse_client_url(url: &str) -> Result<(SocketAddr, bool), ServeError> {
    let bad = |reason: &str| ServeError::Url { url: url.into(), reason: reason.into() };
    let (rest, tls) = if let Some(rest) = url.strip_prefix("http://") {
        (rest, false)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (rest, true)
    } else {
        return Err(bad("expected http://host:port or https://host:port"));
    };
    let hostport = rest.trim_end_matches('/');
    let hostport = hostport.replace("localhost", "127.0.0.1");
    let addr = hostport.parse().map_err(|_| bad("expected an IP address and a port, e.g. http://127.0.0.1:2379"))?;
    Ok((addr, tls))
}

/// Binds every client URL; returns the listeners so that errors come before
/// the process reports itself ready.
pub async fn bind(urls: &[String], tls: Option<&ClientTls>) -> Result<Vec<ClientListener>, ServeError> {
    let mut listeners = Vec::new();
    for url in urls {
        let (addr, is_tls) = parse_client_url(url)?;
        if is_tls && tls.is_none() {
            return Err(ServeError::Url {
                url: url.clone(),
                reason: "an https client URL needs --etcd-cert-file and --etcd-key-file".into(),
            });
        }
        let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        listeners.push(ClientListener { listener, tls: is_tls });
    }
    Ok(listeners)
}

fn read(what: &'static str, path: &std::path::Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|source| ServeError::TlsFile { what, path: path.to_owned(), source })
}

fn tls_config(tls: &ClientTls) -> Result<tonic::transport::ServerTlsConfig, ServeError> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let identity = Identity::from_pem(read("certificate", &tls.cert)?, read("key", &tls.key)?);
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &tls.client_ca {
        config = config.client_ca_root(Certificate::from_pem(read("client CA", ca)?));
    }
    Ok(config)
}

/// Serves the etcd API on `listeners` until `shutdown` resolves.
pub async fn serve(
    node: Arc<KvNode>,
    listeners: Vec<ClientListener>,
    tls: Option<ClientTls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let limit = node.config.max_request_bytes + GRPC_OVERHEAD_BYTES;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut tasks = Vec::new();
    for ClientListener { listener, tls: is_tls } in listeners {
        let addr =
            listener.local_addr().map_err(|source| ServeError::Bind { addr: ([0, 0, 0, 0], 0).into(), source })?;
        let mut builder = tonic::transport::Server::builder().tcp_nodelay(true);
        if is_tls {
            let config = tls.as_ref().ok_or_else(|| ServeError::Tls("https listener without certificates".into()))?;
            builder = builder.tls_config(tls_config(config)?).map_err(|e| ServeError::Tls(e.to_string()))?;
        }
        let router = builder
            .add_service(PbKvServer::new(kv::KvService(node.clone())).max_decoding_message_size(limit))
            .add_service(PbWatchServer::new(watch::WatchService(node.clone())).max_decoding_message_size(limit))
            .add_service(PbLeaseServer::new(lease::LeaseService(node.clone())).max_decoding_message_size(limit))
            .add_service(PbClusterServer::new(cluster::ClusterService(node.clone())))
            .add_service(PbMaintenanceServer::new(maintenance::MaintenanceService(node.clone())));
        let mut stop = stop_rx.clone();
        // tonic applies tcp_nodelay only to listeners it binds itself. Without
        // it, Nagle and delayed ACKs hold a response's last frame for 40 ms.
        let incoming = futures::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |conn| {
            conn.and_then(|stream| stream.set_nodelay(true).map(|()| stream))
        });
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
