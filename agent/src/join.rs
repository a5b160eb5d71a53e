//! Joining a cluster as k3s's agent does: fetch the server's CA from
//! `/cacerts` without trusting it, compare its hash with the token's before
//! any credential is sent, then, over TLS verified against that CA, ask the
//! supervisor for the node's client certificate (`system:node:<name>`,
//! group `system:nodes`) and kubelet serving certificate, each for a key made
//! here (the request carries a CSR; the private key never leaves the host).
//! The certificates and a kubeconfig are written under `<data-dir>/agent`;
//! a restart with usable certificates reuses them without asking again.
//! Nothing here registers the Node (see `node.rs`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::token::{self, Credentials, Token};

/// The supervisor's paths, as k3s's agent asks for them.
pub const CACERTS_PATH: &str = "/cacerts";
const CLIENT_CA_PATH: &str = "/v1-k3s/client-ca.crt";
const CONFIG_PATH: &str = "/v1-k3s/config";
pub const CLIENT_KUBELET_PATH: &str = "/v1-k3s/client-kubelet.crt";
pub const SERVING_KUBELET_PATH: &str = "/v1-k3s/serving-kubelet.crt";
/// The user agents send with a password token.
const NODE_USER: &str = "node";
/// A certificate closer than this to expiry is asked for again at start.
const RENEW_BEFORE: Duration = Duration::from_secs(90 * 24 * 3600);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The files of `<data-dir>/agent`, with k3s's names.
#[derive(Debug, Clone)]
pub struct AgentFiles {
    pub dir: PathBuf,
}

impl AgentFiles {
    pub fn new(dir: impl Into<PathBuf>) -> AgentFiles {
        AgentFiles { dir: dir.into() }
    }
    pub fn server_ca(&self) -> PathBuf {
        self.dir.join("server-ca.crt")
    }
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client-kubelet.crt")
    }
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client-kubelet.key")
    }
    pub fn serving_cert(&self) -> PathBuf {
        self.dir.join("serving-kubelet.crt")
    }
    pub fn serving_key(&self) -> PathBuf {
        self.dir.join("serving-kubelet.key")
    }
    /// The CA of client certificates, which the kubelet API trusts (the API server's).
    pub fn client_ca(&self) -> PathBuf {
        self.dir.join("client-ca.crt")
    }
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubelet.kubeconfig")
    }
    /// The node's password (k3s keeps it in `/etc/rancher/node/password`).
    pub fn node_password(&self) -> PathBuf {
        self.dir.join("node-password")
    }
}

#[derive(Debug, Clone)]
pub struct JoinConfig {
    /// `https://<host>:<port>` of a server.
    pub server: String,
    pub token: Token,
    pub node_name: String,
    /// Addresses the serving certificate must carry.
    pub node_ips: Vec<IpAddr>,
    pub files: AgentFiles,
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("--server {0:?}: {1}")]
    Url(String, String),
    #[error("cannot reach the server at {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error(
        "the server's CA does not match the token: the token expects CA hash {expected}, but {url} sent a CA with hash {actual}; \
         no credentials were sent (is --server the right cluster, and the token its <data-dir>/server/token?)"
    )]
    CaHashMismatch { url: String, expected: String, actual: String },
    #[error("{url} sent no CA certificate")]
    NoCa { url: String },
    #[error(
        "the server refused the token ({code}): {message}; check --token against the server's <data-dir>/server/token or `bramble token create`"
    )]
    Unauthorized { code: u16, message: String },
    #[error("{url} answered {code}: {message}")]
    Refused { url: String, code: u16, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make a key or signing request: {0}")]
    Key(#[from] rcgen::Error),
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

/// The cluster's networks and DNS, as the server's `/v1-k3s/config` gives them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ClusterConfig {
    #[serde(rename = "clusterCIDR")]
    pub cluster_cidr: String,
    #[serde(rename = "serviceCIDR")]
    pub service_cidr: String,
    #[serde(rename = "clusterDNS")]
    pub cluster_dns: String,
    #[serde(rename = "clusterDomain")]
    pub cluster_domain: String,
}

impl Default for ClusterConfig {
    /// k3s's defaults, for a server that does not say.
    fn default() -> Self {
        ClusterConfig {
            cluster_cidr: "10.42.0.0/16".into(),
            service_cidr: "10.43.0.0/16".into(),
            cluster_dns: "10.43.0.10".into(),
            cluster_domain: "cluster.local".into(),
        }
    }
}

/// Asks the server (whose CA an earlier [`join`] stored) for the cluster's
/// networks and DNS, with the join token.
pub async fn cluster_config(config: &JoinConfig) -> Result<ClusterConfig, JoinError> {
    let server = ServerUrl::parse(&config.server)?;
    let path = config.files.server_ca();
    let ca = std::fs::read_to_string(&path).map_err(|source| JoinError::Read { path, source })?;
    let tls = verified_tls(&ca)?;
    let headers = [("authorization", authorization(&config.token))];
    let (code, body) = send(&server, &tls, http::Method::GET, CONFIG_PATH, &headers, Bytes::new()).await?;
    let url = format!("{}{CONFIG_PATH}", server.url);
    match code {
        200 => serde_json::from_slice(&body).map_err(|e| JoinError::Refused {
            url,
            code,
            message: format!("not the cluster configuration: {e}"),
        }),
        401 | 403 => Err(JoinError::Unauthorized { code, message: String::from_utf8_lossy(&body).trim().to_string() }),
        _ => Err(JoinError::Refused { url, code, message: String::from_utf8_lossy(&body).trim().to_string() }),
    }
}

/// Where the server is: scheme https, host and port.
#[derive(Debug, Clone)]
struct ServerUrl {
    url: String,
    host: String,
    port: u16,
}

impl ServerUrl {
    fn parse(text: &str) -> Result<ServerUrl, JoinError> {
        let bad = |why: &str| JoinError::Url(text.to_string(), why.to_string());
        let uri: http::Uri = text.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad("only https:// URLs are supported"));
        }
        let host = uri.host().ok_or_else(|| bad("no host"))?.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(ServerUrl { url: text.trim_end_matches('/').to_string(), host, port: uri.port_u16().unwrap_or(443) })
    }
}

/// Joins (or finds the certificates of an earlier join) and returns the
/// kubeconfig's path.
pub async fn join(config: &JoinConfig) -> Result<PathBuf, JoinError> {
    let server = ServerUrl::parse(&config.server)?;
    let files = &config.files;
    if let Some(reason) = reusable(files, &config.node_name) {
        tracing::info!(dir = %files.dir.display(), "{reason}");
        return Ok(files.kubeconfig());
    }
    create_dir(&files.dir)?;
    let ca = fetch_ca(&server, config.token.ca_hash.as_deref()).await?;
    let password = node_password(files)?;
    let tls = verified_tls(&ca)?;
    let client = request_cert(&server, &tls, config, &password, CLIENT_KUBELET_PATH).await?;
    let serving = request_cert(&server, &tls, config, &password, SERVING_KUBELET_PATH).await?;
    let client_ca = fetch_client_ca(&server, &tls, config).await?;
    // Written only once both certificates came: a refused join leaves none.
    write_file(&files.server_ca(), ca.as_bytes(), 0o644)?;
    write_file(&files.client_ca(), client_ca.as_bytes(), 0o644)?;
    write_file(&files.client_key(), client.1.as_bytes(), 0o600)?;
    write_file(&files.client_cert(), client.0.as_bytes(), 0o644)?;
    write_file(&files.serving_key(), serving.1.as_bytes(), 0o600)?;
    write_file(&files.serving_cert(), serving.0.as_bytes(), 0o644)?;
    let kubeconfig = render_kubeconfig(&server.url, &ca, &client.0, &client.1);
    write_file(&files.kubeconfig(), kubeconfig.as_bytes(), 0o600)?;
    tracing::info!(node = %config.node_name, server = %server.url, "joined: node certificates written to {}", files.dir.display());
    Ok(files.kubeconfig())
}

/// Why the stored certificates can be used again, or None when they cannot.
fn reusable(files: &AgentFiles, node_name: &str) -> Option<String> {
    let cert = std::fs::read_to_string(files.client_cert()).ok()?;
    for path in [
        files.client_key(),
        files.serving_cert(),
        files.serving_key(),
        files.kubeconfig(),
        files.server_ca(),
        files.client_ca(),
    ] {
        if !path.exists() {
            return None;
        }
    }
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).ok()?;
    let parsed = pem.parse_x509().ok()?;
    let cn = parsed.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    if cn != format!("system:node:{node_name}") {
        return None;
    }
    let left = parsed.validity().time_to_expiration()?;
    (left.whole_seconds() > RENEW_BEFORE.as_secs() as i64)
        .then(|| "reusing the node certificates from an earlier join".into())
}

/// The CA bundle from `/cacerts`, checked against the token's hash before
/// anything else is sent.
async fn fetch_ca(server: &ServerUrl, expected: Option<&str>) -> Result<String, JoinError> {
    let insecure = insecure_tls();
    let (code, body) = send(server, &insecure, http::Method::GET, CACERTS_PATH, &[], Bytes::new()).await?;
    let url = format!("{}{CACERTS_PATH}", server.url);
    if code != 200 {
        return Err(JoinError::Refused { url, code, message: String::from_utf8_lossy(&body).trim().to_string() });
    }
    let ca = String::from_utf8_lossy(&body).to_string();
    if !ca.contains("-----BEGIN CERTIFICATE-----") {
        return Err(JoinError::NoCa { url });
    }
    let actual = token::ca_hash(ca.as_bytes());
    match expected {
        Some(expected) if expected != actual => {
            return Err(JoinError::CaHashMismatch { url: server.url.clone(), expected: expected.into(), actual });
        }
        Some(_) => {}
        None => tracing::warn!(
            "the token has no CA hash, so the server's CA (hash {actual}) is trusted as first seen; \
             use the full token from the server's <data-dir>/server/token to check it"
        ),
    }
    Ok(ca)
}

/// Asks for one certificate for a key made here; returns (cert chain PEM, key PEM).
async fn request_cert(
    server: &ServerUrl,
    tls: &Arc<rustls::ClientConfig>,
    config: &JoinConfig,
    password: &str,
    path: &str,
) -> Result<(String, String), JoinError> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(Vec::new())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, config.node_name.clone());
    let csr = params.serialize_request(&key)?.pem()?;
    let authorization = authorization(&config.token);
    let ips = config.node_ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(",");
    let headers = [
        ("authorization", authorization),
        ("k3s-node-name", config.node_name.clone()),
        ("k3s-node-password", password.to_string()),
        ("k3s-node-ip", ips),
        ("content-type", "application/x-pem-file".into()),
    ];
    let (code, body) = send(server, tls, http::Method::POST, path, &headers, Bytes::from(csr)).await?;
    let message = String::from_utf8_lossy(&body).trim().to_string();
    match code {
        200 => {}
        401 | 403 => return Err(JoinError::Unauthorized { code, message }),
        _ => return Err(JoinError::Refused { url: format!("{}{path}", server.url), code, message }),
    }
    if !message.contains("-----BEGIN CERTIFICATE-----") {
        return Err(JoinError::Refused {
            url: format!("{}{path}", server.url),
            code,
            message: "no certificate in the answer".into(),
        });
    }
    Ok((message + "\n", key.serialize_pem()))
}

/// The token as the supervisor takes it: basic auth for a password, bearer for a bootstrap token.
fn authorization(token: &Token) -> String {
    match &token.credentials {
        Credentials::Password { password, .. } => {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{NODE_USER}:{password}"));
            format!("Basic {basic}")
        }
        c @ Credentials::Bootstrap { .. } => format!("Bearer {c}"),
    }
}

/// The client CA, which the kubelet API checks the API server's certificate against.
async fn fetch_client_ca(
    server: &ServerUrl,
    tls: &Arc<rustls::ClientConfig>,
    config: &JoinConfig,
) -> Result<String, JoinError> {
    let headers = [("authorization", authorization(&config.token))];
    let (code, body) = send(server, tls, http::Method::GET, CLIENT_CA_PATH, &headers, Bytes::new()).await?;
    let message = String::from_utf8_lossy(&body).trim().to_string();
    match code {
        200 if message.contains("-----BEGIN CERTIFICATE-----") => Ok(message + "\n"),
        200 => Err(JoinError::Refused {
            url: format!("{}{CLIENT_CA_PATH}", server.url),
            code,
            message: "no certificate in the answer".into(),
        }),
        401 | 403 => Err(JoinError::Unauthorized { code, message }),
        _ => Err(JoinError::Refused { url: format!("{}{CLIENT_CA_PATH}", server.url), code, message }),
    }
}

/// One HTTP/1.1 request over TLS; (status, body).
async fn send(
    server: &ServerUrl,
    tls: &Arc<rustls::ClientConfig>,
    method: http::Method,
    path: &str,
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<(u16, Bytes), JoinError> {
    let url = format!("{}{path}", server.url);
    let fail = |detail: String| JoinError::Connect { url: url.clone(), detail };
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect((server.host.as_str(), server.port))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let name = ServerName::try_from(server.host.clone()).map_err(|e| fail(format!("bad host name: {e}")))?;
        let stream =
            tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp).await.map_err(|e| fail(e.to_string()))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| fail(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("supervisor connection: {e}");
            }
        });
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, format!("{}:{}", server.host, server.port));
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request.body(Full::new(body)).map_err(|e| fail(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(|e| fail(e.to_string()))?;
        let code = response.status().as_u16();
        let bytes = response.into_body().collect().await.map_err(|e| fail(e.to_string()))?.to_bytes();
        Ok((code, bytes))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.map_err(|_| fail("timed out".into()))?
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// TLS that trusts only the cluster's CA.
fn verified_tls(ca: &str) -> Result<Arc<rustls::ClientConfig>, JoinError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        let cert = cert.map_err(|e| JoinError::Tls(format!("the server's CA: {e}")))?;
        roots.add(cert).map_err(|e| JoinError::Tls(format!("the server's CA: {e}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| JoinError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// TLS that trusts anything: only for fetching `/cacerts`, whose answer is
/// checked against the token's hash before it is used.
fn insecure_tls() -> Arc<rustls::ClientConfig> {
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| b.dangerous().with_custom_certificate_verifier(Arc::new(AnyServer(provider))).with_no_client_auth());
    // The default protocol versions are always available with aws-lc-rs.
    Arc::new(config.unwrap_or_else(|_| {
        rustls::ClientConfig::builder().with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth()
    }))
}

#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The node's password, made on first join and kept: the server binds it
/// to the node's name, so another host cannot take the name over.
fn node_password(files: &AgentFiles) -> Result<String, JoinError> {
    let path = files.node_password();
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
        Ok(_) => new_node_password(&path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_node_password(&path),
        Err(source) => Err(JoinError::Read { path, source }),
    }
}

fn new_node_password(path: &Path) -> Result<String, JoinError> {
    let password = token::new_password();
    write_file(path, format!("{password}\n").as_bytes(), 0o600)?;
    Ok(password)
}

/// The agent's kubeconfig: the server, its CA, the node's client certificate.
pub fn render_kubeconfig(server: &str, ca: &str, cert: &str, key: &str) -> String {
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: local\n\
         contexts:\n- context:\n    cluster: local\n    user: node\n  name: local\ncurrent-context: local\n\
         users:\n- name: node\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(ca),
        b64(cert),
        b64(key)
    )
}

fn create_dir(dir: &Path) -> Result<(), JoinError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| JoinError::Write { path: dir.to_path_buf(), source })
}

/// Writes through a temporary file and a rename.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), JoinError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| JoinError::Write { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp).map_err(err)?;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        let u = ServerUrl::parse("https://10.0.0.1:6443/").expect("url");
        assert_eq!((u.host.as_str(), u.port, u.url.as_str()), ("10.0.0.1", 6443, "https://10.0.0.1:6443"));
        assert_eq!(ServerUrl::parse("https://[::1]:6443").expect("v6").host, "::1");
        assert_eq!(ServerUrl::parse("https://pi1").expect("default port").port, 443);
        let err = ServerUrl::parse("http://10.0.0.1:6443").expect_err("http");
        assert!(err.to_string().contains("only https://"), "{err}");
    }

    #[test]
    fn stored_certificates_are_reused_only_when_they_fit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = AgentFiles::new(dir.path());
        assert!(reusable(&files, "worker-1").is_none());
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, "system:node:worker-1");
        params.not_after = ::time::OffsetDateTime::now_utc() + ::time::Duration::days(365);
        let cert = params.self_signed(&key).expect("cert");
        write_file(&files.client_cert(), cert.pem().as_bytes(), 0o644).expect("write");
        assert!(reusable(&files, "worker-1").is_none(), "the other files are missing");
        for path in
            [files.client_key(), files.serving_cert(), files.serving_key(), files.kubeconfig(), files.server_ca()]
        {
            write_file(&path, b"x", 0o600).expect("write");
        }
        assert!(reusable(&files, "worker-1").is_none(), "the client CA of an older join is missing");
        write_file(&files.client_ca(), b"x", 0o644).expect("write");
        assert!(reusable(&files, "worker-1").is_some());
        assert!(reusable(&files, "worker-2").is_none(), "a certificate for another name");
    }

    #[test]
    fn the_node_password_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = AgentFiles::new(dir.path());
        let first = node_password(&files).expect("first");
        assert_eq!(node_password(&files).expect("second"), first);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(files.node_password()).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
