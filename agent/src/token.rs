//! Join tokens in k3s's format: `K10<sha256 of the CA bundle>::<user>:<password>`,
//! `K10<hash>::<id>.<secret>` for bootstrap tokens, or a bare password (no
//! CA hash, so the CA is trusted on first use). Also the bootstrap-token
//! Secrets (`kube-system/bootstrap-token-<id>`, kubeadm's layout) that
//! `bramble token create` stores. No IO beyond the API call that stores them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use sha2::{Digest, Sha256};

const PREFIX: &str = "K10";
/// A SHA-256 digest in hex.
const HASH_LEN: usize = 64;
/// The namespace of bootstrap-token Secrets.
pub const BOOTSTRAP_NAMESPACE: &str = "kube-system";
/// The Secret type of bootstrap tokens.
pub const BOOTSTRAP_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The group nodes that join with a bootstrap token get, as k3s's.
pub const BOOTSTRAP_GROUP: &str = "system:bootstrappers:k3s:default-node-token";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty")]
    Empty,
    #[error("the token's CA hash has {0} characters; a sha256 hash has 64 hex digits")]
    HashLength(usize),
    #[error("the token's CA hash is not hex")]
    HashNotHex,
    #[error("invalid token format: expected K10<hash>::<user>:<password>, K10<hash>::<id>.<secret> or a bare password")]
    Format,
}

/// What a token proves.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Basic auth; the user is empty for a bare password (agents send `node`).
    Password { user: String, password: String },
    /// A bootstrap token `<id>.<secret>`, sent as a bearer token.
    Bootstrap { id: String, secret: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { user, .. } => write!(f, "Password {{ user: {user:?}, .. }}"),
            Credentials::Bootstrap { id, .. } => write!(f, "Bootstrap {{ id: {id:?}, .. }}"),
        }
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { user, password } => write!(f, "{user}:{password}"),
            Credentials::Bootstrap { id, secret } => write!(f, "{id}.{secret}"),
        }
    }
}

/// A parsed join token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The hex sha256 of the cluster CA bundle, when the token carries one.
    pub ca_hash: Option<String>,
    pub credentials: Credentials,
}

impl Token {
    pub fn parse(text: &str) -> Result<Token, TokenError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        let Some(rest) = text.strip_prefix(PREFIX) else {
            // A bare password, or a bare bootstrap token.
            let credentials = bootstrap(text)
                .unwrap_or_else(|| Credentials::Password { user: String::new(), password: text.to_string() });
            return Ok(Token { ca_hash: None, credentials });
        };
        let (hash, creds) = rest.split_once("::").ok_or(TokenError::Format)?;
        let ca_hash = match hash.len() {
            0 => None,
            HASH_LEN if hash.bytes().all(|b| b.is_ascii_hexdigit()) => Some(hash.to_ascii_lowercase()),
            HASH_LEN => return Err(TokenError::HashNotHex),
            n => return Err(TokenError::HashLength(n)),
        };
        let credentials = match bootstrap(creds) {
            Some(c) => c,
            None => {
                let (user, password) = creds.split_once(':').ok_or(TokenError::Format)?;
                if password.is_empty() {
                    return Err(TokenError::Format);
                }
                Credentials::Password { user: user.to_string(), password: password.to_string() }
            }
        };
        Ok(Token { ca_hash, credentials })
    }

    /// The full form, `K10<hash>::<credentials>`, for a CA bundle.
    pub fn full(ca_bundle: &[u8], credentials: &Credentials) -> String {
        format!("{PREFIX}{}::{credentials}", ca_hash(ca_bundle))
    }

    /// The secret part alone: the password, or `<id>.<secret>`.
    pub fn secret(&self) -> String {
        match &self.credentials {
            Credentials::Password { password, .. } => password.clone(),
            c @ Credentials::Bootstrap { .. } => c.to_string(),
        }
    }
}

/// `[a-z0-9]{6}.[a-z0-9]{16}`, kubeadm's bootstrap token.
fn bootstrap(text: &str) -> Option<Credentials> {
    let (id, secret) = text.split_once('.')?;
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (ok(id, 6) && ok(secret, 16)).then(|| Credentials::Bootstrap { id: id.into(), secret: secret.into() })
}

/// The hex sha256 k3s compares with a token's hash: of the bundle's bytes
/// when it holds one certificate (our CAs are single self-signed ones), of
/// the DER of its last certificate (the root of a leaf-to-root chain) when
/// it holds several, so a renewed intermediate keeps the tokens valid.
pub fn ca_hash(bundle: &[u8]) -> String {
    let ders: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(bundle)
        .filter_map(Result::ok)
        .filter(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
        .collect();
    let digest = match ders.as_slice() {
        [_, .., root] => Sha256::digest(root),
        _ => Sha256::digest(bundle),
    };
    hex(&digest)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_chars(n: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// A new server password: 32 hex digits (128 bits), as k3s makes them.
pub fn new_password() -> String {
    random_chars(32, b"0123456789abcdef")
}

/// The Secret kubeadm and k3s store a bootstrap token as; `ttl` zero never expires.
pub fn bootstrap_secret(id: &str, secret: &str, ttl: Duration, description: &str) -> Secret {
    let mut data: BTreeMap<String, ByteString> = [
        ("token-id", id.to_string()),
        ("token-secret", secret.to_string()),
        ("usage-bootstrap-authentication", "true".into()),
        ("usage-bootstrap-signing", "true".into()),
        ("auth-extra-groups", BOOTSTRAP_GROUP.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), ByteString(v.into_bytes())))
    .collect();
    if !description.is_empty() {
        data.insert("description".into(), ByteString(description.as_bytes().to_vec()));
    }
    if !ttl.is_zero() {
        let expires = k8s_openapi::jiff::Timestamp::now()
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(ttl.as_secs() as i64))
            .unwrap_or(k8s_openapi::jiff::Timestamp::MAX);
        data.insert("expiration".into(), ByteString(expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into_bytes()));
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("bootstrap-token-{id}")),
            namespace: Some(BOOTSTRAP_NAMESPACE.into()),
            ..Default::default()
        },
        type_: Some(BOOTSTRAP_TYPE.into()),
        data: Some(data),
        ..Default::default()
    }
}

/// The CA bundle of a kubeconfig's first cluster, which tokens carry the hash of.
pub fn kubeconfig_ca(kubeconfig: &kube::config::Kubeconfig) -> Option<Vec<u8>> {
    use base64::Engine;
    let cluster = kubeconfig.clusters.first()?.cluster.as_ref()?;
    if let Some(data) = &cluster.certificate_authority_data {
        return base64::engine::general_purpose::STANDARD.decode(data.trim()).ok();
    }
    std::fs::read(cluster.certificate_authority.as_ref()?).ok()
}

/// Stores a new bootstrap token and returns it in full form for `ca_bundle`.
pub async fn create_bootstrap(
    client: kube::Client,
    ca_bundle: &[u8],
    ttl: Duration,
    description: &str,
) -> Result<String, kube::Error> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let (id, secret) = (random_chars(6, ALPHABET), random_chars(16, ALPHABET));
    let secrets: Api<Secret> = Api::namespaced(client, BOOTSTRAP_NAMESPACE);
    secrets.create(&PostParams::default(), &bootstrap_secret(&id, &secret, ttl, description)).await?;
    Ok(Token::full(ca_bundle, &Credentials::Bootstrap { id, secret }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "f09c8d5e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5";

    fn check(text: &str, want: Result<Token, TokenError>) {
        assert_eq!(Token::parse(text), want, "{text}");
    }

    fn password(user: &str, password: &str) -> Credentials {
        Credentials::Password { user: user.into(), password: password.into() }
    }

    #[test]
    fn forms() {
        check(
            &format!("K10{HASH}::server:5d39aa"),
            Ok(Token { ca_hash: Some(HASH.into()), credentials: password("server", "5d39aa") }),
        );
        check("5d39aa", Ok(Token { ca_hash: None, credentials: password("", "5d39aa") }));
        // A bare "user:password" is all password, as k3s reads it.
        check("a:b", Ok(Token { ca_hash: None, credentials: password("", "a:b") }));
        check("K10::node:pw", Ok(Token { ca_hash: None, credentials: password("node", "pw") }));
        let bts = Credentials::Bootstrap { id: "abcdef".into(), secret: "0123456789abcdef".into() };
        check(
            &format!("K10{HASH}::abcdef.0123456789abcdef"),
            Ok(Token { ca_hash: Some(HASH.into()), credentials: bts.clone() }),
        );
        check("abcdef.0123456789abcdef", Ok(Token { ca_hash: None, credentials: bts }));
        check("", Err(TokenError::Empty));
        check("K10abc::server:pw", Err(TokenError::HashLength(3)));
        check(&format!("K10{}::server:pw", "z".repeat(64)), Err(TokenError::HashNotHex));
        check(&format!("K10{HASH}::server:"), Err(TokenError::Format));
        check(&format!("K10{HASH}::nocolon"), Err(TokenError::Format));
        check(&format!("K10{HASH}"), Err(TokenError::Format));
    }

    #[test]
    fn full_form_round_trips() {
        let ca = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let creds = password("server", "s3cret");
        let text = Token::full(ca, &creds);
        let token = Token::parse(&text).expect("parse");
        assert_eq!(token.ca_hash.as_deref(), Some(ca_hash(ca).as_str()));
        assert_eq!(token.credentials, creds);
        assert_eq!(token.secret(), "s3cret");
        // One certificate: the hash is of the file's bytes, as k3s's legacy hash.
        assert_eq!(ca_hash(ca), hex(&Sha256::digest(ca)));
        assert_eq!(new_password().len(), 32);
    }

    #[test]
    fn bootstrap_secret_layout() {
        let s = bootstrap_secret("abcdef", "0123456789abcdef", Duration::from_secs(3600), "");
        assert_eq!(s.metadata.name.as_deref(), Some("bootstrap-token-abcdef"));
        assert_eq!(s.type_.as_deref(), Some(BOOTSTRAP_TYPE));
        let data = s.data.expect("data");
        assert_eq!(data["token-secret"].0, b"0123456789abcdef");
        let expires = String::from_utf8(data["expiration"].0.clone()).expect("utf8");
        assert!(expires.parse::<k8s_openapi::jiff::Timestamp>().is_ok(), "{expires}");
        let forever = bootstrap_secret("abcdef", "0123456789abcdef", Duration::ZERO, "");
        assert!(!forever.data.expect("data").contains_key("expiration"));
    }
}
