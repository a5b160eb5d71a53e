//! The kubelet's HTTPS endpoint (`:10250`), the part the API server calls
//! for `kubectl logs`, `exec`, `attach` and `port-forward`: TLS with the
//! node's serving certificate, client certificates from the cluster's
//! client CA, and only the API server's kubelet-client identity (or
//! `system:masters`) admitted. Logs are read from the CRI log files
//! ([`logs`], [`cri_log`]); streaming is relayed to the runtime's stream
//! server ([`stream`]). No metrics, stats, `/pods` or `/run` here.

pub mod cri_log;
pub mod logs;
pub mod lookup;
pub mod stream;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::cri::{Cri, CriError};
use crate::paths::AgentPaths;

/// The kubelet's port.
pub const DEFAULT_PORT: u16 = 10250;

/// Users the kubelet serves besides `system:masters`: kube-apiserver's
/// kubelet client (kubeadm's name) and k3s's.
pub const API_SERVER_USERS: [&str; 2] = ["kube-apiserver-kubelet-client", "system:kube-apiserver"];

type Body = BoxBody<Bytes, Infallible>;

/// What the kubelet server needs.
#[derive(Debug, Clone)]
pub struct KubeletServerConfig {
    /// `0.0.0.0:10250` by default.
    pub listen: SocketAddr,
    /// The node's kubelet serving certificate and key (PEM), from `AgentFiles::serving_cert`/`serving_key`.
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    /// The cluster's client CA (PEM): the API server's kubelet-client certificate is signed by it.
    pub client_ca_pem: String,
    /// The CRI socket of the node's runtime.
    pub cri_socket: PathBuf,
    /// Where the container logs are.
    pub paths: AgentPaths,
}

impl KubeletServerConfig {
    /// The serving certificate and key from the agent's files, listening on `0.0.0.0:10250`.
    pub fn from_agent_files(
        files: &crate::join::AgentFiles,
        client_ca_pem: String,
        cri_socket: PathBuf,
        paths: AgentPaths,
    ) -> Result<KubeletServerConfig, KubeletServerError> {
        let read =
            |path: PathBuf| std::fs::read_to_string(&path).map_err(|source| KubeletServerError::Read { path, source });
        Ok(KubeletServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            serving_cert_pem: read(files.serving_cert())?,
            serving_key_pem: read(files.serving_key())?,
            client_ca_pem,
            cri_socket,
            paths,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KubeletServerError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kubelet server TLS setup: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Why a request failed; [`Failure::into_response`] is the one place these become HTTP.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("Unauthorized")]
    Unauthorized,
    #[error("Forbidden (user={user}, verb={verb}, resource=nodes, subresource(s)=[proxy])")]
    Forbidden { user: String, verb: &'static str },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(Method),
    #[error("{0}")]
    Runtime(#[source] CriError),
    #[error("{0}")]
    Upstream(String),
}

impl Failure {
    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Unauthorized => StatusCode::UNAUTHORIZED,
            Failure::Forbidden { .. } => StatusCode::FORBIDDEN,
            Failure::BadRequest(_) => StatusCode::BAD_REQUEST,
            Failure::NotFound(_) => StatusCode::NOT_FOUND,
            Failure::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Failure::Runtime(e) if e.is_not_found() => StatusCode::NOT_FOUND,
            Failure::Runtime(_) | Failure::Upstream(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A plain-text reply, as the kubelet's errors are.
    pub fn into_response(self) -> Response<Body> {
        text_response(self.status(), format!("{self}\n"))
    }
}

fn text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// Shared by every request.
pub struct State {
    pub paths: AgentPaths,
    cri_socket: PathBuf,
    /// Connected on first use and kept; a failed connection is retried by the next request.
    cri: tokio::sync::Mutex<Option<Cri>>,
}

impl State {
    pub async fn cri(&self) -> Result<Cri, Failure> {
        let mut cri = self.cri.lock().await;
        if let Some(client) = cri.as_ref() {
            return Ok(client.clone());
        }
        let client = crate::cri::connect(&self.cri_socket).await.map_err(Failure::Runtime)?;
        *cri = Some(client.clone());
        Ok(client)
    }
}

/// A bound kubelet server.
pub struct KubeletServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
}

impl std::fmt::Debug for KubeletServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletServer").field("listener", &self.listener).finish_non_exhaustive()
    }
}

impl KubeletServer {
    pub async fn bind(config: KubeletServerConfig) -> Result<KubeletServer, KubeletServerError> {
        let tls = tls_config(&config)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| KubeletServerError::Bind { addr: config.listen, source })?;
        let state = Arc::new(State { paths: config.paths, cri_socket: config.cri_socket, cri: Default::default() });
        Ok(KubeletServer { listener, acceptor: TlsAcceptor::from(tls), state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; streams already running go on until they end.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => return,
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!("kubelet server accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let acceptor = self.acceptor.clone();
            let state = self.state.clone();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => return tracing::debug!(%peer, "kubelet server TLS handshake failed: {e}"),
                    Err(_) => return tracing::debug!(%peer, "kubelet server TLS handshake timed out"),
                };
                let identity =
                    tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| identity(c.as_ref()));
                let identity = Arc::new(identity);
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    let identity = identity.clone();
                    async move { Ok::<_, Infallible>(handle(state, identity.as_ref().as_ref(), req).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades();
                if let Err(e) = connection.await {
                    tracing::debug!(%peer, "kubelet server connection ended: {e}");
                }
            });
        }
    }
}

/// Binds and serves until `shutdown` completes.
pub async fn serve(config: KubeletServerConfig, shutdown: impl Future<Output = ()>) -> Result<(), KubeletServerError> {
    KubeletServer::bind(config).await?.serve(shutdown).await;
    Ok(())
}

/// The user of a client certificate: CN and the O values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

fn identity(der: &[u8]) -> Option<Identity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let groups = subject.iter_organization().filter_map(|o| o.as_str().ok().map(String::from)).collect();
    Some(Identity { user, groups })
}

/// Who may use the kubelet API: the API server and cluster admins.
pub fn authorize(identity: Option<&Identity>, verb: &'static str) -> Result<(), Failure> {
    let identity = identity.ok_or(Failure::Unauthorized)?;
    if API_SERVER_USERS.contains(&identity.user.as_str()) || identity.groups.iter().any(|g| g == "system:masters") {
        return Ok(());
    }
    Err(Failure::Forbidden { user: identity.user.clone(), verb })
}

async fn handle(state: Arc<State>, identity: Option<&Identity>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let verb = if method == Method::GET { "get" } else { "create" };
    let result = match authorize(identity, verb) {
        Ok(()) => route(state, req).await,
        Err(e) => Err(e),
    };
    let response = result.unwrap_or_else(Failure::into_response);
    tracing::debug!(%method, %path, code = response.status().as_u16(), "kubelet request");
    response
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Failure> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(String::from);
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let upgrade_methods = |m: &Method| *m == Method::GET || *m == Method::POST;
    match parts.as_slice() {
        ["healthz"] => Ok(text_response(StatusCode::OK, "ok".into())),
        ["containerLogs", namespace, pod, container] => {
            if req.method() != Method::GET {
                return Err(Failure::MethodNotAllowed(req.method().clone()));
            }
            let options = logs::parse_options(query.as_deref(), SystemTime::now())?;
            let rx =
                logs::stream(state, namespace.to_string(), pod.to_string(), container.to_string(), options).await?;
            let body = tokio_stream::wrappers::ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
            let mut response = Response::new(BodyExt::boxed(StreamBody::new(body)));
            response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain"));
            Ok(response)
        }
        ["exec", namespace, pod, container] | ["exec", namespace, pod, _, container]
            if upgrade_methods(req.method()) =>
        {
            let request = stream::StreamRequest::exec(container, query.as_deref())?;
            let url = stream::streaming_url(&state, namespace, pod, &request).await?;
            stream::relay(&url, req).await
        }
        ["attach", namespace, pod, container] | ["attach", namespace, pod, _, container]
            if upgrade_methods(req.method()) =>
        {
            let request = stream::StreamRequest::attach(container, query.as_deref())?;
            let url = stream::streaming_url(&state, namespace, pod, &request).await?;
            stream::relay(&url, req).await
        }
        ["portForward", namespace, pod] | ["portForward", namespace, pod, _] if upgrade_methods(req.method()) => {
            let request = stream::StreamRequest::port_forward(query.as_deref())?;
            let url = stream::streaming_url(&state, namespace, pod, &request).await?;
            stream::relay(&url, req).await
        }
        ["exec" | "attach" | "portForward", ..] => Err(Failure::MethodNotAllowed(req.method().clone())),
        _ => Err(Failure::NotFound("404 page not found".into())),
    }
}

/// TLS: the serving certificate, client certificates verified against the
/// client CA (optional at the handshake, so that a missing one gets a 401).
fn tls_config(config: &KubeletServerConfig) -> Result<Arc<rustls::ServerConfig>, KubeletServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn std::fmt::Display| KubeletServerError::Tls(format!("{what}: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(config.serving_cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad("serving certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(config.serving_key_pem.as_bytes()).map_err(|e| bad("serving key", &e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(config.client_ca_pem.as_bytes()) {
        roots.add(ca.map_err(|e| bad("client CA", &e))?).map_err(|e| bad("client CA", &e))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| bad("client verifier", &e))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| bad("serving certificate", &e))?;
    // HTTP/1.1 only: upgrades (SPDY, WebSocket) need it.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(user: &str, groups: &[&str]) -> Identity {
        Identity { user: user.into(), groups: groups.iter().map(|g| g.to_string()).collect() }
    }

    #[test]
    fn only_the_api_server_and_masters_are_served() {
        assert!(authorize(Some(&who("kube-apiserver-kubelet-client", &[])), "get").is_ok());
        assert!(authorize(Some(&who("system:kube-apiserver", &["system:masters"])), "create").is_ok());
        assert!(authorize(Some(&who("alice", &["system:masters"])), "get").is_ok());
        assert!(matches!(authorize(None, "get"), Err(Failure::Unauthorized)));
        let refused = authorize(Some(&who("system:node:n1", &["system:nodes"])), "create").expect_err("node");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            refused.to_string(),
            "Forbidden (user=system:node:n1, verb=create, resource=nodes, subresource(s)=[proxy])"
        );
    }

    #[test]
    fn every_failure_has_its_code() {
        let check = |failure: Failure, code: u16| assert_eq!(failure.status().as_u16(), code, "{failure:?}");
        check(Failure::Unauthorized, 401);
        check(Failure::Forbidden { user: "u".into(), verb: "get" }, 403);
        check(Failure::BadRequest("x".into()), 400);
        check(Failure::NotFound("x".into()), 404);
        check(Failure::MethodNotAllowed(Method::PUT), 405);
        check(Failure::Upstream("x".into()), 500);
        let gone = CriError::Call { call: "Exec", status: tonic::Status::not_found("no such container") };
        check(Failure::Runtime(gone), 404);
        let broken = CriError::Call { call: "Exec", status: tonic::Status::internal("boom") };
        check(Failure::Runtime(broken), 500);
    }

    #[test]
    fn identity_comes_from_cn_and_o() {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "system:masters");
        params.distinguished_name.push(rcgen::DnType::CommonName, "system:kube-apiserver");
        let cert = params.self_signed(&key).expect("cert");
        assert_eq!(identity(cert.der()), Some(who("system:kube-apiserver", &["system:masters"])));
        assert_eq!(identity(b"not a certificate"), None);
    }
}
