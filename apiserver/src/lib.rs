//! bramble's Kubernetes API server: the built-in resources over a
//! [`kvstore::datastore::Datastore`] (embedded or an external etcd),
//! served as kube-apiserver v1.33 serves them to kubectl and client
//! libraries, over HTTPS with client-certificate and token authentication.
//! Objects are handled as JSON values; per-kind knowledge (discovery
//! facts, defaults, validation, printing, patch strategies) lives in
//! tables and functions keyed by group and kind. It knows nothing of
//! RocksDB, Raft or the etcd wire protocol.

mod admission;
mod apply;
pub mod auth;
mod cache;
pub mod catalog;
pub mod defaults;
mod discovery;
pub mod http;
pub mod kubeconfig;
mod namespaces;
mod negotiate;
mod node_authorizer;
mod node_proxy;
mod openapi;
mod patch_meta;
pub mod pki;
mod printers;
mod priority;
mod protobuf;
mod request;
mod rest;
mod schema;
pub mod selector;
mod service_ips;
pub mod status;
mod storage;
mod storage_class;
mod strategic_merge;
mod strategy;
mod supervisor;
mod table;
pub mod time;
pub mod tokens;
pub mod ttl;
pub mod validation;

use std::net::SocketAddr;
use std::sync::Arc;

use kvstore::datastore::Datastore;

pub use auth::TokenFile;
pub use http::KUBERNETES_VERSION;
pub use pki::{Pki, ServingNames};
pub use service_ips::ServiceNetwork;
pub use supervisor::AgentConfig;

#[derive(Debug, thiserror::Error)]
pub enum ApiServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error("the datastore refused the bootstrap objects: {0}")]
    Bootstrap(String),
    #[error(transparent)]
    ServiceAccountKey(#[from] tokens::TokenKeyError),
}

/// What the server needs to run.
#[derive(Debug)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// The address clients are told to use (`serverAddressByClientCIDRs`).
    pub advertise: String,
    /// This server's address, for the `kubernetes` Service's endpoints.
    pub advertise_ip: std::net::IpAddr,
    /// `--service-cidr`: where ClusterIPs come from.
    pub service_network: ServiceNetwork,
    pub tokens: TokenFile,
    /// The server token's password, which joining agents present; None admits bootstrap tokens only.
    pub join_password: Option<String>,
    /// How long Events live (kube-apiserver's `--event-ttl`); zero keeps them.
    pub event_ttl: std::time::Duration,
    /// The networks and DNS that agents read from `/v1-k3s/config`.
    pub agent_config: supervisor::AgentConfig,
}

/// The shared state of every request.
#[derive(Debug)]
pub struct Api {
    pub(crate) store: Arc<dyn Datastore>,
    /// LIST and WATCH from memory, in front of `store`.
    pub(crate) cache: cache::WatchCache,
    pub(crate) tokens: TokenFile,
    /// k3s's join endpoints (`/cacerts`, `/v1-k3s/...`).
    pub(crate) supervisor: supervisor::Supervisor,
    pub(crate) server_address: String,
    pub(crate) service_network: ServiceNetwork,
    /// Leases for the objects that expire (Events).
    pub(crate) expiry: ttl::Expiry,
    /// TLS towards kubelets, for pods' log, exec, attach and portforward.
    pub(crate) kubelet_client: Option<node_proxy::KubeletClient>,
    /// Signs and verifies service-account tokens (TokenRequest).
    pub(crate) service_account_tokens: tokens::ServiceAccountTokens,
}

/// A bound, bootstrapped API server, ready to serve.
pub struct ApiServer {
    api: Arc<Api>,
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").field("api", &self.api).finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Binds the port and makes the objects every cluster has.
    pub async fn start(store: Arc<dyn Datastore>, pki: &Pki, config: ApiConfig) -> Result<ApiServer, ApiServerError> {
        let tls = http::tls_config(pki)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ApiServerError::Bind { addr: config.listen, source })?;
        let api = Arc::new(Api {
            cache: cache::WatchCache::new(store.clone()),
            store,
            tokens: config.tokens,
            supervisor: supervisor::Supervisor::new(pki, config.join_password, config.agent_config),
            server_address: config.advertise,
            service_network: config.service_network,
            expiry: ttl::Expiry::new(config.event_ttl),
            kubelet_client: Some(node_proxy::KubeletClient::new(pki)?),
            service_account_tokens: tokens::ServiceAccountTokens::from_pem(&pki.service_account_key_pem)?,
        });
        namespaces::bootstrap(&api).await.map_err(|e| ApiServerError::Bootstrap(e.to_string()))?;
        priority::bootstrap(&api).await.map_err(|e| ApiServerError::Bootstrap(e.to_string()))?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(config.listen.port());
        if let std::net::IpAddr::V4(ip) = config.advertise_ip {
            service_ips::bootstrap_kubernetes_service(&api, ip, port)
                .await
                .map_err(|e| ApiServerError::Bootstrap(e.to_string()))?;
        }
        Ok(ApiServer { api, listener, tls })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        let compactor = tokio::spawn(compact_history(self.api.clone()));
        let result = http::serve(self.api, self.listener, self.tls, shutdown).await;
        compactor.abort();
        result
    }
}

/// How often old revisions are compacted away, as kube-apiserver's
/// `--etcd-compaction-interval` (5 minutes).
const COMPACTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// Keeps the store's history bounded: every interval, compacts up to the
/// revision seen one interval earlier, so watches and paginated lists have
/// at least that long to catch up, as upstream's compactor does.
async fn compact_history(api: Arc<Api>) {
    let mut previous = 0i64;
    let mut ticker = tokio::time::interval(COMPACTION_INTERVAL);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if previous > 0
            && let Err(e) = api.store.compact(previous).await
        {
            // Someone compacted further already (another server): fine.
            tracing::debug!("compaction to {previous}: {e}");
        }
        match api.store.current_revision().await {
            Ok(revision) => previous = revision,
            Err(e) => tracing::warn!("cannot read the store's revision for compaction: {e}"),
        }
    }
}
