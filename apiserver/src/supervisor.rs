//! k3s's supervisor endpoints on the API port, what agents use to join:
//! `GET /cacerts` and `/ping` for anyone, and `/v1-k3s/client-kubelet.crt`
//! and `/v1-k3s/serving-kubelet.crt` for holders of the join token (basic
//! auth with the server token's password, or a bootstrap token
//! `<id>.<secret>` stored as `kube-system/bootstrap-token-<id>`). The node
//! names itself in `k3s-Node-Name` and proves it is the same host as before
//! with `k3s-Node-Password`, bound to the name in the Secret
//! `kube-system/<name>.node-password.k3s` on first use. Certificates are
//! issued for the public key of the CSR in the request body only: this
//! server never makes or hands out node private keys (k3s's legacy shared
//! key is not served). `/v1-k3s/config` tells token holders the cluster's
//! networks and DNS, which the agent's pod network and kubelet need (k3s
//! serves its whole control config there; bramble only these four fields).
//! The other `/v1-k3s/` endpoints are not served.

use std::net::IpAddr;

use base64::Engine;
use bytes::Bytes;
use rcgen::{CertificateSigningRequestParams, ExtendedKeyUsagePurpose, Issuer, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Api;
use crate::catalog;
use crate::http::Reply;
use crate::pki::{Pki, leaf_params};
use crate::storage;

const NODE_NAME_HEADER: &str = "k3s-node-name";
const NODE_PASSWORD_HEADER: &str = "k3s-node-password";
const NODE_IP_HEADER: &str = "k3s-node-ip";
const SYSTEM_NAMESPACE: &str = "kube-system";
const BOOTSTRAP_TYPE: &str = "bootstrap.kubernetes.io/token";
const NODE_PASSWORD_TYPE: &str = "k3s.cattle.io/node-password";
/// The largest body accepted: a CSR is under 1 KiB.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// The cluster settings agents read from `/v1-k3s/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// `--cluster-cidr` (one CIDR, or an IPv4 and an IPv6 one, comma-separated).
    pub cluster_cidr: String,
    /// `--service-cidr`.
    pub service_cidr: String,
    /// `--cluster-dns`.
    pub cluster_dns: String,
    /// `--cluster-domain`.
    pub cluster_domain: String,
}

impl Default for AgentConfig {
    /// k3s's defaults.
    fn default() -> Self {
        AgentConfig {
            cluster_cidr: "10.42.0.0/16".into(),
            service_cidr: "10.43.0.0/16".into(),
            cluster_dns: "10.43.0.10".into(),
            cluster_domain: "cluster.local".into(),
        }
    }
}

/// What the supervisor signs with and checks against.
pub struct Supervisor {
    server_ca_pem: String,
    server_ca_key_pem: String,
    client_ca_pem: String,
    client_ca_key_pem: String,
    /// The server token's password; None takes bootstrap tokens only.
    password: Option<String>,
    agent_config: AgentConfig,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    pub fn new(pki: &Pki, password: Option<String>, agent_config: AgentConfig) -> Supervisor {
        Supervisor {
            server_ca_pem: pki.server_ca_pem.clone(),
            server_ca_key_pem: pki.server_ca_key_pem.clone(),
            client_ca_pem: pki.client_ca_pem.clone(),
            client_ca_key_pem: pki.client_ca_key_pem.clone(),
            password: password.filter(|p| !p.is_empty()),
            agent_config,
        }
    }
}

/// Whether `path` is the supervisor's rather than the Kubernetes API's.
pub(crate) fn handles(path: &str) -> bool {
    path == "/cacerts" || path == "/ping" || path.starts_with("/v1-k3s/")
}

/// Why a request was refused, as HTTP.
#[derive(Debug, PartialEq, Eq)]
struct Refusal {
    code: u16,
    message: String,
}

fn refuse(code: u16, message: impl Into<String>) -> Refusal {
    Refusal { code, message: message.into() }
}

fn text(code: u16, body: impl Into<Bytes>) -> Reply {
    Reply::Full { code, content_type: "text/plain; charset=utf-8".into(), body: body.into() }
}

pub(crate) async fn serve(
    api: &Api,
    method: &http::Method,
    path: &str,
    headers: &http::HeaderMap,
    body: Bytes,
) -> Reply {
    let result = match (path, method.as_str()) {
        ("/cacerts", "GET") => Ok(text(200, api.supervisor.server_ca_pem.clone())),
        ("/ping", "GET") => Ok(text(200, "pong")),
        ("/v1-k3s/client-kubelet.crt" | "/v1-k3s/serving-kubelet.crt", "GET" | "POST") => {
            issue(api, path, headers, &body).await.map(|pem| text(200, pem))
        }
        ("/v1-k3s/client-ca.crt", "GET") => {
            let header = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::trim);
            authenticate(api, header).await.map(|()| text(200, api.supervisor.client_ca_pem.clone()))
        }
        ("/v1-k3s/config", "GET") => {
            let header = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::trim);
            authenticate(api, header).await.map(|()| agent_config_reply(&api.supervisor.agent_config))
        }
        ("/cacerts" | "/ping" | "/v1-k3s/client-ca.crt" | "/v1-k3s/config", _) => {
            Err(refuse(405, "method not allowed"))
        }
        _ => Err(refuse(404, format!("{path} is not served by bramble's supervisor"))),
    };
    result.unwrap_or_else(|r| {
        tracing::info!(path, code = r.code, "supervisor refused a request: {}", r.message);
        text(r.code, format!("{}\n", r.message))
    })
}

fn agent_config_reply(config: &AgentConfig) -> Reply {
    let body = json!({
        "clusterCIDR": config.cluster_cidr,
        "serviceCIDR": config.service_cidr,
        "clusterDNS": config.cluster_dns,
        "clusterDomain": config.cluster_domain,
    });
    Reply::Full { code: 200, content_type: "application/json".into(), body: Bytes::from(body.to_string()) }
}

async fn issue(api: &Api, path: &str, headers: &http::HeaderMap, body: &[u8]) -> Result<String, Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    authenticate(api, header("authorization")).await?;
    let name = header(NODE_NAME_HEADER).ok_or_else(|| refuse(400, "the k3s-Node-Name header is required"))?;
    if !valid_node_name(name) {
        return Err(refuse(400, format!("k3s-Node-Name {name:?} is not a valid node name (lowercase DNS subdomain)")));
    }
    let password =
        header(NODE_PASSWORD_HEADER).ok_or_else(|| refuse(400, "the k3s-Node-Password header is required"))?;
    check_node_password(api, name, password).await?;
    let ips = header(NODE_IP_HEADER)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|ip| ip.parse::<IpAddr>().map_err(|_| refuse(400, format!("invalid node IP address {ip:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let kind = if path.ends_with("client-kubelet.crt") { NodeCert::Client } else { NodeCert::Serving { ips } };
    let pem = sign(&api.supervisor, name, &kind, body)?;
    tracing::info!(node = name, path, "issued a node certificate");
    Ok(pem)
}

/// Which of a node's certificates.
#[derive(Debug)]
enum NodeCert {
    /// For the API: `system:node:<name>` in `system:nodes`, from the client CA.
    Client,
    /// For the kubelet's port: the node's name and addresses, from the server CA.
    Serving { ips: Vec<IpAddr> },
}

/// Signs the key of a PEM CSR as `kind` for node `name`; the CSR's subject
/// is ignored. Returns the certificate and its CA, PEM.
fn sign(sup: &Supervisor, name: &str, kind: &NodeCert, csr_pem: &[u8]) -> Result<String, Refusal> {
    let csr = std::str::from_utf8(csr_pem)
        .ok()
        .and_then(|pem| CertificateSigningRequestParams::from_pem(pem).ok())
        .ok_or_else(|| refuse(400, "the request body must be a PEM certificate signing request for the node's key"))?;
    let (params, ca_pem, ca_key_pem) = match kind {
        NodeCert::Client => {
            let params = leaf_params(
                &format!("system:node:{name}"),
                &["system:nodes"],
                &Default::default(),
                ExtendedKeyUsagePurpose::ClientAuth,
            );
            (params, &sup.client_ca_pem, &sup.client_ca_key_pem)
        }
        NodeCert::Serving { ips } => {
            let mut sans: std::collections::BTreeSet<String> =
                [name.to_string(), "localhost".into(), "127.0.0.1".into()].into_iter().collect();
            sans.extend(ips.iter().map(IpAddr::to_string));
            let params = leaf_params(name, &[], &sans, ExtendedKeyUsagePurpose::ServerAuth);
            (params, &sup.server_ca_pem, &sup.server_ca_key_pem)
        }
    };
    let internal = |e: &dyn std::fmt::Display| refuse(500, format!("cannot sign the certificate: {e}"));
    let params = params.map_err(|e| internal(&e))?;
    let key = KeyPair::from_pem(ca_key_pem).map_err(|e| internal(&e))?;
    let issuer = Issuer::from_ca_cert_pem(ca_pem, key).map_err(|e| internal(&e))?;
    let cert = CertificateSigningRequestParams { params, public_key: csr.public_key }
        .signed_by(&issuer)
        .map_err(|e| internal(&e))?;
    Ok(format!("{}{}", cert.pem(), ca_pem))
}

fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.'])
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

const NOT_AUTHORIZED: &str = "not authorized: the token is not valid for this server";

/// The join token: basic auth whose password is the server's, or a
/// bearer bootstrap token that exists, is for authentication and has not expired.
async fn authenticate(api: &Api, authorization: Option<&str>) -> Result<(), Refusal> {
    let Some(value) = authorization else {
        return Err(refuse(401, format!("{NOT_AUTHORIZED} (no credentials sent)")));
    };
    if let Some(basic) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| refuse(401, NOT_AUTHORIZED))?;
        let (_, password) = decoded.split_once(':').ok_or_else(|| refuse(401, NOT_AUTHORIZED))?;
        return match &api.supervisor.password {
            Some(want) if equal(want.as_bytes(), password.as_bytes()) => Ok(()),
            _ => Err(refuse(401, NOT_AUTHORIZED)),
        };
    }
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        let (id, secret) = bearer.trim().split_once('.').ok_or_else(|| refuse(401, NOT_AUTHORIZED))?;
        if id.len() != 6 || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(refuse(401, NOT_AUTHORIZED));
        }
        let stored =
            read_secret(api, &format!("bootstrap-token-{id}")).await?.ok_or_else(|| refuse(401, NOT_AUTHORIZED))?;
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        return bootstrap_token_valid(&stored, secret, now)
            .map_err(|why| refuse(401, format!("{NOT_AUTHORIZED} ({why})")));
    }
    Err(refuse(401, NOT_AUTHORIZED))
}

/// Checks a bootstrap-token Secret as kube-apiserver's bootstrap authenticator does.
fn bootstrap_token_valid(secret: &Value, presented: &str, now: i64) -> Result<(), &'static str> {
    if secret.get("type").and_then(Value::as_str) != Some(BOOTSTRAP_TYPE) {
        return Err("not a bootstrap token");
    }
    let field = |k: &str| data_field(secret, k);
    if field("usage-bootstrap-authentication").as_deref() != Some("true") {
        return Err("the token is not for authentication");
    }
    match field("token-secret") {
        Some(want) if equal(want.as_bytes(), presented.as_bytes()) => {}
        _ => return Err("wrong secret"),
    }
    if let Some(expiration) = field("expiration") {
        match crate::time::parse_rfc3339(&expiration) {
            Some(t) if t > now => {}
            _ => return Err("the token has expired"),
        }
    }
    Ok(())
}

/// One value of a Secret's `data`, decoded.
fn data_field(secret: &Value, key: &str) -> Option<String> {
    let encoded = secret.get("data")?.get(key)?.as_str()?;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).ok()?).ok()
}

/// Constant time in the length of `want`, so the secret is not guessed byte by byte.
fn equal(want: &[u8], got: &[u8]) -> bool {
    let mut diff = want.len() ^ got.len();
    for (i, w) in want.iter().enumerate() {
        diff |= usize::from(w ^ got.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

fn secrets() -> Result<&'static catalog::Resource, Refusal> {
    catalog::find("", "v1", "secrets").ok_or_else(|| refuse(500, "secrets are not in the catalogue"))
}

async fn read_secret(api: &Api, name: &str) -> Result<Option<Value>, Refusal> {
    let resource = secrets()?;
    let key = storage::key(resource, Some(SYSTEM_NAMESPACE), name);
    let kv = api.store.get(&key).await.map_err(|e| refuse(503, format!("the datastore is unavailable: {e}")))?;
    kv.map(|kv| storage::decode(resource, &kv).map_err(|e| refuse(500, e.to_string()))).transpose()
}

fn password_hash(salt: &str, password: &str) -> String {
    let digest = Sha256::digest(format!("{salt}:{password}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{salt}:{hex}")
}

fn password_matches(stored: &str, password: &str) -> bool {
    match stored.split(':').collect::<Vec<_>>().as_slice() {
        ["sha256", salt, _] => equal(stored.as_bytes(), password_hash(salt, password).as_bytes()),
        _ => false,
    }
}

/// The node password binds a node name to the first host that used it.
async fn check_node_password(api: &Api, node: &str, password: &str) -> Result<(), Refusal> {
    let name = format!("{node}.node-password.k3s");
    let rejected = || {
        refuse(
            403,
            format!(
                "Node password rejected, duplicate hostname or contents of the agent's node-password file may not match \
                 the server's entry for {node:?}; `kubectl -n kube-system delete secret {name}` to let a new host take the name"
            ),
        )
    };
    if let Some(stored) = read_secret(api, &name).await? {
        return match data_field(&stored, "hash") {
            Some(hash) if password_matches(&hash, password) => Ok(()),
            _ => Err(rejected()),
        };
    }
    let salt: String = rand::random::<[u8; 8]>().iter().map(|b| format!("{b:02x}")).collect();
    let obj = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": SYSTEM_NAMESPACE,
            "uid": crate::rest::new_uid(),
            "creationTimestamp": crate::rest::now_rfc3339(),
        },
        "type": NODE_PASSWORD_TYPE,
        "immutable": true,
        "data": {"hash": base64::engine::general_purpose::STANDARD.encode(password_hash(&salt, password))},
    });
    let resource = secrets()?;
    let key = storage::key(resource, Some(SYSTEM_NAMESPACE), &name);
    let bytes = storage::encode(resource, &obj).map_err(|e| refuse(500, e.to_string()))?;
    match api.store.create(&key, &bytes, 0).await {
        Ok(kvstore::datastore::WriteOutcome::Written { .. }) => Ok(()),
        // Another request for the same name won the race: check against its entry.
        Ok(kvstore::datastore::WriteOutcome::Conflict { current: Some(kv) }) => {
            let stored = storage::decode(resource, &kv).map_err(|e| refuse(500, e.to_string()))?;
            match data_field(&stored, "hash") {
                Some(hash) if password_matches(&hash, password) => Ok(()),
                _ => Err(rejected()),
            }
        }
        Ok(kvstore::datastore::WriteOutcome::Conflict { current: None }) => {
            Err(refuse(503, "the node password could not be stored; retry"))
        }
        Err(e) => Err(refuse(503, format!("the datastore is unavailable: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn token_secret(usage: &str, expiration: Option<&str>) -> Value {
        let mut data = json!({"token-id": b64("abcdef"), "token-secret": b64("0123456789abcdef"), "usage-bootstrap-authentication": b64(usage)});
        if let Some(e) = expiration {
            data["expiration"] = json!(b64(e));
        }
        json!({"type": BOOTSTRAP_TYPE, "data": data})
    }

    #[test]
    fn node_certificates_are_signed_for_the_csr_key_with_the_servers_subject() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::ensure(dir.path(), &Default::default()).expect("pki");
        let sup = Supervisor::new(&pki, Some("pw".into()), AgentConfig::default());
        let key = KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        // The CSR asks for more than a node may have: the server decides the subject.
        params.distinguished_name.push(rcgen::DnType::CommonName, "system:admin");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "system:masters");
        let csr = params.serialize_request(&key).expect("csr").pem().expect("pem");

        let parse = |pem: &str| {
            let (_, first) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
            first
        };
        let client = sign(&sup, "worker-1", &NodeCert::Client, csr.as_bytes()).expect("client");
        assert!(client.ends_with(&pki.client_ca_pem), "the chain ends with the client CA");
        let pem = parse(&client);
        let cert = pem.parse_x509().expect("x509");
        let user = crate::auth::user_from_certificate(&pem.contents).expect("user");
        assert_eq!(user.name, "system:node:worker-1");
        assert_eq!(user.groups, vec!["system:nodes", "system:authenticated"]);
        assert_eq!(cert.public_key().subject_public_key.data.as_ref(), key.public_key_raw());
        let (_, ca) = x509_parser::pem::parse_x509_pem(pki.client_ca_pem.as_bytes()).expect("ca");
        cert.verify_signature(Some(ca.parse_x509().expect("ca").public_key())).expect("signed by the client CA");

        let ips = vec!["192.168.1.20".parse().expect("ip")];
        let serving = sign(&sup, "worker-1", &NodeCert::Serving { ips }, csr.as_bytes()).expect("serving");
        assert!(serving.ends_with(&pki.server_ca_pem), "the chain ends with the server CA");
        let pem = parse(&serving);
        let cert = pem.parse_x509().expect("x509");
        let sans: Vec<String> = cert
            .subject_alternative_name()
            .expect("ext")
            .expect("sans")
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => {
                    <[u8; 4]>::try_from(*b).ok().map(|b| IpAddr::from(b).to_string())
                }
                _ => None,
            })
            .collect();
        for want in ["worker-1", "localhost", "127.0.0.1", "192.168.1.20"] {
            assert!(sans.iter().any(|s| s == want), "{want} missing from {sans:?}");
        }
        let err = sign(&sup, "worker-1", &NodeCert::Client, b"not a csr").expect_err("garbage");
        assert_eq!(err.code, 400);
    }

    #[test]
    fn bootstrap_tokens() {
        let now = crate::time::parse_rfc3339("2026-01-01T00:00:00Z").expect("time");
        let check = |secret: Value, presented: &str, want: Result<(), &'static str>| {
            assert_eq!(bootstrap_token_valid(&secret, presented, now), want);
        };
        check(token_secret("true", None), "0123456789abcdef", Ok(()));
        check(token_secret("true", Some("2026-01-02T00:00:00Z")), "0123456789abcdef", Ok(()));
        check(token_secret("true", Some("2025-12-31T00:00:00Z")), "0123456789abcdef", Err("the token has expired"));
        check(token_secret("true", None), "0123456789abcdeX", Err("wrong secret"));
        check(token_secret("true", None), "0123456789abcde", Err("wrong secret"));
        check(token_secret("false", None), "0123456789abcdef", Err("the token is not for authentication"));
        check(json!({"type": "Opaque", "data": {}}), "x", Err("not a bootstrap token"));
    }

    #[test]
    fn node_passwords_and_names() {
        let stored = password_hash("0011", "hunter2");
        assert!(password_matches(&stored, "hunter2"));
        assert!(!password_matches(&stored, "hunter3"));
        assert!(!password_matches("garbage", "hunter2"));
        assert!(equal(b"abc", b"abc") && !equal(b"abc", b"abd") && !equal(b"abc", b"ab") && !equal(b"ab", b"abc"));
        assert!(valid_node_name("worker-1") && valid_node_name("pi1.home.arpa"));
        for bad in ["", "Worker", "-a", "a-", "a b", "a\nb", "../x"] {
            assert!(!valid_node_name(bad), "{bad:?}");
        }
        assert!(handles("/cacerts") && handles("/v1-k3s/client-kubelet.crt") && !handles("/api/v1/nodes"));
    }
}
