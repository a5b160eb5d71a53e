//! Service-account tokens as kube-apiserver issues and checks them: ES256
//! JWTs signed with the cluster's service-account key, upstream's claims
//! (`pkg/serviceaccount/claims.go`), the key id upstream derives from the
//! public key, the OIDC discovery documents, and upstream's validator: the
//! signature, issuer, audiences and lifetime ([`ServiceAccountTokens::verify`]),
//! then the ServiceAccount and bound objects in the store ([`still_bound`]).
//! Who the token's user is, and what it may do, is `auth.rs`'s question.
//! Legacy Secret-based tokens (issuer `kubernetes/serviceaccount`) are not
//! accepted.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// k3s's `--service-account-issuer`, also its `--api-audiences`.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// How far clocks may disagree, as upstream's validator allows (go-jose's
/// default leeway); also how long a deleted object's tokens outlive it.
const LEEWAY_SECONDS: i64 = 60;

/// How long clients may cache the OIDC documents (upstream's max-age for static keys).
pub const DISCOVERY_MAX_AGE_SECONDS: u32 = 3600;

/// The keys of a service account user's `extra`, as upstream names them.
pub const EXTRA_POD_NAME: &str = "authentication.kubernetes.io/pod-name";
pub const EXTRA_POD_UID: &str = "authentication.kubernetes.io/pod-uid";
pub const EXTRA_NODE_NAME: &str = "authentication.kubernetes.io/node-name";
pub const EXTRA_NODE_UID: &str = "authentication.kubernetes.io/node-uid";
pub const EXTRA_CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    #[error("the service-account key is not a usable ECDSA P-256 key: {0}")]
    Key(String),
    #[error("cannot sign a service-account token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// Why a bearer token does not authenticate as a service account; every
/// variant answers 401. The messages are upstream's, as TokenReview's
/// `status.error` shows them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    /// Not a JWT of our issuer: another authenticator's token, or nobody's.
    #[error("invalid bearer token")]
    NotOurs,
    /// Our issuer, but the signature is not our key's.
    #[error("go-jose/go-jose: error in cryptographic primitive")]
    Signature,
    /// Signed by us, but not a token we would have written.
    #[error("service account token claims could not be validated: {0}")]
    Malformed(String),
    /// None of the token's audiences is one the request is for.
    #[error("token audiences {} is invalid for the target audiences {}", go_quoted(.token), go_quoted(.requested))]
    Audience { token: Vec<String>, requested: Vec<String> },
    #[error("service account token has expired")]
    Expired,
    #[error("service account token is not valid yet")]
    NotYetValid,
    #[error("service account token is issued in the future")]
    IssuedInFuture,
    #[error("service account token claims could not be validated: the subject does not match the kubernetes.io claims")]
    Subject,
    /// The ServiceAccount or a bound object is gone, deleted or recreated.
    #[error("{0}")]
    Invalidated(String),
}

/// A list as Go's `%q` prints a `[]string`: `["a" "b"]`.
fn go_quoted(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| Value::from(i.as_str()).to_string()).collect();
    format!("[{}]", quoted.join(" "))
}

/// A token that verified: its claims, and the audiences it was accepted
/// for (the token's audiences that the request asked for, in the token's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub claims: Claims,
    pub audiences: Vec<String>,
}

/// An object a token names: the service account, or what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ObjectRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The `kubernetes.io` private claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KubernetesClaims {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default)]
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
}

/// Every claim of a token, as upstream's `Claims` writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
    pub nbf: i64,
    pub sub: String,
}

impl Claims {
    /// The `extra` of the user the token speaks for, as upstream's
    /// `ServiceAccountInfo.UserInfo` fills it: the bound pod, the node (of a
    /// node-bound token, or the pod's), and the token's id.
    pub fn user_extra(&self) -> BTreeMap<String, Vec<String>> {
        let mut extra = BTreeMap::new();
        let k8s = &self.kubernetes;
        if let Some(pod) = k8s.pod.as_ref().filter(|p| !p.name.is_empty() && !p.uid.is_empty()) {
            extra.insert(EXTRA_POD_NAME.to_string(), vec![pod.name.clone()]);
            extra.insert(EXTRA_POD_UID.to_string(), vec![pod.uid.clone()]);
        }
        if !self.jti.is_empty() {
            extra.insert(EXTRA_CREDENTIAL_ID.to_string(), vec![format!("JTI={}", self.jti)]);
        }
        if let Some(node) = k8s.node.as_ref().filter(|n| !n.name.is_empty()) {
            extra.insert(EXTRA_NODE_NAME.to_string(), vec![node.name.clone()]);
            if !node.uid.is_empty() {
                extra.insert(EXTRA_NODE_UID.to_string(), vec![node.uid.clone()]);
            }
        }
        extra
    }
}

/// `system:serviceaccount:<namespace>:<name>`.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// What a token request asks for, once checked.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub namespace: String,
    pub service_account: ObjectRef,
    pub audiences: Vec<String>,
    pub lifetime_seconds: i64,
    pub pod: Option<ObjectRef>,
    pub secret: Option<ObjectRef>,
    pub node: Option<ObjectRef>,
}

/// The signing key and what the server claims as issuer and audience.
pub struct ServiceAccountTokens {
    issuer: String,
    audiences: Vec<String>,
    key_id: String,
    /// The uncompressed public point (0x04 || x || y).
    public_point: Vec<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for ServiceAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("issuer", &self.issuer)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountTokens {
    /// From the PKCS#8 PEM of `Pki::service_account_key_pem`, issuing as
    /// [`DEFAULT_ISSUER`] for the same audience.
    pub fn from_pem(pem: &str) -> Result<ServiceAccountTokens, TokenKeyError> {
        let key = rcgen::KeyPair::from_pem(pem).map_err(|e| TokenKeyError::Key(e.to_string()))?;
        if !key.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
            return Err(TokenKeyError::Key("not a P-256 key".into()));
        }
        let public_point = key.public_key_raw().to_vec();
        if public_point.len() != 65 {
            return Err(TokenKeyError::Key("the public key is not an uncompressed P-256 point".into()));
        }
        // Upstream's keyIDFromPublicKey: SHA-256 of the PKIX DER, base64url without padding.
        let key_id = URL_SAFE_NO_PAD.encode(Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&key)));
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| TokenKeyError::Key(e.to_string()))?;
        Ok(ServiceAccountTokens {
            issuer: DEFAULT_ISSUER.into(),
            audiences: vec![DEFAULT_ISSUER.into()],
            key_id,
            decoding: DecodingKey::from_ec_der(&public_point),
            public_point,
            encoding,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The API server's own audiences (`--api-audiences`), the default of a TokenRequest.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The claims of a token issued at `now` (Unix seconds).
    pub fn claims(&self, grant: &TokenGrant, now: i64) -> Claims {
        Claims {
            aud: grant.audiences.clone(),
            exp: now + grant.lifetime_seconds,
            iat: now,
            iss: self.issuer.clone(),
            jti: crate::rest::new_uid(),
            kubernetes: KubernetesClaims {
                namespace: grant.namespace.clone(),
                serviceaccount: grant.service_account.clone(),
                pod: grant.pod.clone(),
                secret: grant.secret.clone(),
                node: grant.node.clone(),
            },
            nbf: now,
            sub: username(&grant.namespace, &grant.service_account.name),
        }
    }

    /// The signed JWT of `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenKeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(TokenKeyError::Sign)
    }

    /// The claims of `token` if we signed it for our issuer, for one of
    /// `audiences` (the request's, upstream's `AudiencesFrom`; empty means
    /// the API server's own), and it is valid at `now` (Unix seconds). The
    /// checks come in upstream's order: issuer (unverified, so that other
    /// authenticators' JWTs are [`TokenRejected::NotOurs`]), signature,
    /// audiences, lifetime.
    pub fn verify(&self, token: &str, now: i64, audiences: &[String]) -> Result<Verified, TokenRejected> {
        if !self.has_our_issuer(token) {
            return Err(TokenRejected::NotOurs);
        }
        let mut validation = Validation::new(Algorithm::ES256);
        // Audiences and lifetime are checked below, as upstream does, against `now`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = ["exp", "iss", "sub"].into_iter().map(String::from).collect();
        validation.set_issuer(&[&self.issuer]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenRejected::Signature,
            _ => TokenRejected::Malformed(e.to_string()),
        })?;
        let claims = data.claims;
        let requested = if audiences.is_empty() { &self.audiences[..] } else { audiences };
        let accepted: Vec<String> = claims.aud.iter().filter(|a| requested.contains(a)).cloned().collect();
        if accepted.is_empty() {
            return Err(TokenRejected::Audience { token: claims.aud.clone(), requested: requested.to_vec() });
        }
        if now > claims.exp + LEEWAY_SECONDS {
            return Err(TokenRejected::Expired);
        }
        if claims.nbf > now + LEEWAY_SECONDS {
            return Err(TokenRejected::NotYetValid);
        }
        if claims.iat > now + LEEWAY_SECONDS {
            return Err(TokenRejected::IssuedInFuture);
        }
        let k8s = &claims.kubernetes;
        if k8s.namespace.is_empty()
            || k8s.serviceaccount.name.is_empty()
            || claims.sub != username(&k8s.namespace, &k8s.serviceaccount.name)
        {
            return Err(TokenRejected::Subject);
        }
        Ok(Verified { claims, audiences: accepted })
    }

    /// Whether `token` is a compact JWT whose (unverified) `iss` is ours,
    /// as upstream's `hasCorrectIssuer`.
    fn has_our_issuer(&self, token: &str) -> bool {
        let parts: Vec<&str> = token.split('.').collect();
        let [_, payload, _] = parts.as_slice() else { return false };
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload) else { return false };
        let Ok(claims) = serde_json::from_slice::<Value>(&bytes) else { return false };
        claims.get("iss").and_then(Value::as_str) == Some(self.issuer.as_str())
    }

    /// `/openid/v1/jwks`: the public key as a JWK set.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.key_id,
            "crv": "P-256",
            "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&self.public_point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&self.public_point[33..65]),
        }]})
    }

    /// `/.well-known/openid-configuration`, as upstream serves it without
    /// `--service-account-jwks-uri`: the key set at the API server's
    /// advertised address (`host:port`), which is where clients reach it.
    pub fn openid_configuration(&self, external_address: &str) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("https://{external_address}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A core/v1 object from the store, or None when there is none.
pub(crate) async fn stored(
    api: &crate::Api,
    plural: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, crate::status::ApiError> {
    let resource = crate::catalog::find("", "v1", plural).ok_or(crate::status::ApiError::NoSuchResource)?;
    match api.store.get(&crate::storage::key(resource, namespace, name)).await? {
        None => Ok(None),
        Some(kv) => Ok(Some(crate::storage::decode(resource, &kv)?)),
    }
}

/// The objects a token may name, in the order upstream's validator checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    ServiceAccount,
    Secret,
    Pod,
    Node,
}

impl Bound {
    fn plural(self) -> &'static str {
        match self {
            Bound::ServiceAccount => "serviceaccounts",
            Bound::Secret => "secrets",
            Bound::Pod => "pods",
            Bound::Node => "nodes",
        }
    }
}

/// Whether `claims` still speak for live objects, as upstream's validator
/// asks: the ServiceAccount, and the Secret, Pod or Node the token is bound
/// to, must exist with the uid in the token and must not have been marked
/// for deletion more than a minute before `now` (a pod keeps its token
/// through its grace period). The Node a pod-bound token names is
/// informative and not checked, as upstream.
pub(crate) async fn still_bound(api: &crate::Api, claims: &Claims, now: i64) -> Result<(), TokenRejected> {
    let k8s = &claims.kubernetes;
    let ns = k8s.namespace.as_str();
    let mut wanted = vec![(Bound::ServiceAccount, &k8s.serviceaccount)];
    if let Some(secret) = &k8s.secret {
        wanted.push((Bound::Secret, secret));
    }
    if let Some(pod) = &k8s.pod {
        wanted.push((Bound::Pod, pod));
    } else if let Some(node) = &k8s.node {
        wanted.push((Bound::Node, node));
    }
    for (bound, reference) in wanted {
        let namespace = if bound == Bound::Node { None } else { Some(ns) };
        let found = stored(api, bound.plural(), namespace, &reference.name).await.map_err(|e| {
            TokenRejected::Invalidated(format!("cannot read {} \"{}\": {e}", bound.plural(), reference.name))
        })?;
        check_bound(bound, ns, reference, found.as_ref(), now)?;
    }
    Ok(())
}

/// One object of [`still_bound`] as the store has it (None: not found),
/// with upstream's messages.
fn check_bound(
    bound: Bound,
    namespace: &str,
    reference: &ObjectRef,
    found: Option<&Value>,
    now: i64,
) -> Result<(), TokenRejected> {
    let invalidated = || TokenRejected::Invalidated("service account token has been invalidated".into());
    let Some(obj) = found else {
        return Err(match bound {
            Bound::ServiceAccount => {
                TokenRejected::Invalidated(format!("serviceaccounts \"{}\" not found", reference.name))
            }
            _ => invalidated(),
        });
    };
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
    if uid != reference.uid {
        let claimed = &reference.uid;
        return Err(TokenRejected::Invalidated(match bound {
            Bound::ServiceAccount => format!("service account UID ({uid}) does not match claim ({claimed})"),
            Bound::Secret => format!("secret UID ({uid}) does not match service account secret ref claim ({claimed})"),
            Bound::Pod => format!("pod UID ({uid}) does not match service account pod ref claim ({claimed})"),
            Bound::Node => format!("node UID ({uid}) does not match service account node ref claim ({claimed})"),
        }));
    }
    let deleted = obj
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(crate::time::parse_rfc3339)
        .is_some_and(|at| at < now - LEEWAY_SECONDS);
    if deleted {
        return Err(match bound {
            Bound::ServiceAccount => {
                TokenRejected::Invalidated(format!("service account {namespace}/{} has been deleted", reference.name))
            }
            _ => invalidated(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> ServiceAccountTokens {
        let key = rcgen::KeyPair::generate().expect("key");
        ServiceAccountTokens::from_pem(&key.serialize_pem()).expect("tokens")
    }

    fn grant() -> TokenGrant {
        TokenGrant {
            namespace: "default".into(),
            service_account: ObjectRef { name: "builder".into(), uid: "sa-uid".into() },
            audiences: vec![DEFAULT_ISSUER.into()],
            lifetime_seconds: 3600,
            pod: Some(ObjectRef { name: "web".into(), uid: "pod-uid".into() }),
            secret: None,
            node: Some(ObjectRef { name: "pi1".into(), uid: "node-uid".into() }),
        }
    }

    fn payload(token: &str) -> Value {
        let part = token.split('.').nth(1).expect("payload");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
    }

    #[test]
    fn claims_as_upstream_writes_them() {
        let t = tokens();
        let claims = t.claims(&grant(), 1_000_000);
        let token = t.sign(&claims).expect("sign");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(t.key_id()));
        let body = payload(&token);
        assert_eq!(body["iss"], DEFAULT_ISSUER);
        assert_eq!(body["sub"], "system:serviceaccount:default:builder");
        assert_eq!(body["aud"], json!([DEFAULT_ISSUER]));
        assert_eq!(
            (body["iat"].clone(), body["nbf"].clone(), body["exp"].clone()),
            (json!(1_000_000), json!(1_000_000), json!(1_003_600))
        );
        assert_eq!(body["jti"].as_str().map(str::len), Some(36));
        assert_eq!(
            body["kubernetes.io"],
            json!({
                "namespace": "default",
                "serviceaccount": {"name": "builder", "uid": "sa-uid"},
                "pod": {"name": "web", "uid": "pod-uid"},
                "node": {"name": "pi1", "uid": "node-uid"},
            })
        );
        let verified = t.verify(&token, 1_000_010, &[]).expect("valid");
        assert_eq!(verified, Verified { claims, audiences: vec![DEFAULT_ISSUER.into()] });
    }

    #[test]
    fn the_user_extra_names_the_bound_pod_its_node_and_the_token_id() {
        let t = tokens();
        let claims = t.claims(&grant(), 1_000_000);
        let extra = claims.user_extra();
        let want: BTreeMap<String, Vec<String>> = [
            (EXTRA_CREDENTIAL_ID, format!("JTI={}", claims.jti)),
            (EXTRA_NODE_NAME, "pi1".into()),
            (EXTRA_NODE_UID, "node-uid".into()),
            (EXTRA_POD_NAME, "web".into()),
            (EXTRA_POD_UID, "pod-uid".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v]))
        .collect();
        assert_eq!(extra, want);
        // Unbound: only the token id. A node without a uid gives its name alone.
        let unbound = TokenGrant { pod: None, node: None, ..grant() };
        assert_eq!(t.claims(&unbound, 0).user_extra().keys().collect::<Vec<_>>(), vec![EXTRA_CREDENTIAL_ID]);
        let node_only =
            TokenGrant { pod: None, node: Some(ObjectRef { name: "pi2".into(), uid: String::new() }), ..grant() };
        let extra = t.claims(&node_only, 0).user_extra();
        assert_eq!(extra.get(EXTRA_NODE_NAME), Some(&vec!["pi2".to_string()]));
        assert!(!extra.contains_key(EXTRA_NODE_UID) && !extra.contains_key(EXTRA_POD_NAME));
    }

    #[test]
    fn audiences_are_the_tokens_that_the_request_asks_for() {
        let t = tokens();
        let grant = TokenGrant { audiences: vec!["vault".into(), "x".into(), DEFAULT_ISSUER.into()], ..grant() };
        let token = t.sign(&t.claims(&grant, 1_000_000)).expect("sign");
        let check = |requested: &[&str], want: Result<Vec<&str>, &str>| {
            let requested: Vec<String> = requested.iter().map(|a| a.to_string()).collect();
            let got = t.verify(&token, 1_000_000, &requested).map(|v| v.audiences).map_err(|e| e.to_string());
            let want = want.map(|a| a.iter().map(|a| a.to_string()).collect()).map_err(String::from);
            assert_eq!(got, want, "requested {requested:?}");
        };
        // None asked for: the API server's own.
        check(&[], Ok(vec![DEFAULT_ISSUER]));
        // In the token's order.
        check(&["x", "vault"], Ok(vec!["vault", "x"]));
        check(&["x", "other"], Ok(vec!["x"]));
        check(
            &["other"],
            Err(&format!(
                "token audiences [\"vault\" \"x\" \"{DEFAULT_ISSUER}\"] is invalid for the target audiences [\"other\"]"
            )),
        );
    }

    #[test]
    fn the_key_id_is_the_hash_of_the_public_key() {
        let key = rcgen::KeyPair::generate().expect("key");
        let t = ServiceAccountTokens::from_pem(&key.serialize_pem()).expect("tokens");
        assert_eq!(
            t.key_id(),
            URL_SAFE_NO_PAD.encode(Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&key)))
        );
        let jwk = &t.jwks()["keys"][0];
        assert_eq!(jwk["kid"], t.key_id());
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().expect("x")).expect("x");
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().expect("y")).expect("y");
        assert_eq!([&[4u8][..], &x, &y].concat(), key.public_key_raw());
        // The JWK verifies our tokens, as an external OIDC client would use it.
        let decoding = DecodingKey::from_ec_components(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y"))
            .expect("jwk key");
        let token = t.sign(&t.claims(&grant(), unix_now())).expect("sign");
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[DEFAULT_ISSUER]);
        jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).expect("verifies with the JWK");
        assert_eq!(
            t.openid_configuration("10.0.0.1:6443"),
            json!({
                "issuer": DEFAULT_ISSUER,
                "jwks_uri": "https://10.0.0.1:6443/openid/v1/jwks",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            })
        );
        assert_eq!(
            jwk.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(["alg", "crv", "kid", "kty", "use", "x", "y"].map(String::from).to_vec())
        );
        assert_eq!(
            (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
            (&json!("EC"), &json!("P-256"), &json!("ES256"), &json!("sig"))
        );
    }

    #[test]
    fn rejections() {
        let t = tokens();
        let now = 2_000_000;
        let good = t.claims(&grant(), now);
        let check = |token: &str, at: i64, want: &str| {
            let err = t.verify(token, at, &[]).expect_err("must reject");
            assert_eq!(err.to_string(), want, "{err:?}");
        };
        let token = t.sign(&good).expect("sign");
        // Expiry, with upstream's minute of leeway.
        assert!(t.verify(&token, now + 3600 + 59, &[]).is_ok());
        check(&token, now + 3600 + 61, "service account token has expired");
        check(&token, now - 120, "service account token is not valid yet");
        let early = t.sign(&Claims { nbf: now - 200, ..good.clone() }).expect("sign");
        check(&early, now - 120, "service account token is issued in the future");
        // Another key.
        let other = tokens().sign(&good).expect("sign");
        check(&other, now, "go-jose/go-jose: error in cryptographic primitive");
        // Another issuer is someone else's token.
        let foreign = t.sign(&Claims { iss: "https://elsewhere".into(), ..good.clone() }).expect("sign");
        check(&foreign, now, "invalid bearer token");
        // An audience that is not ours.
        let vault = t.sign(&Claims { aud: vec!["vault".into()], ..good.clone() }).expect("sign");
        check(
            &vault,
            now,
            &format!("token audiences [\"vault\"] is invalid for the target audiences [\"{DEFAULT_ISSUER}\"]"),
        );
        // A subject that disagrees with the private claims.
        let forged = t.sign(&Claims { sub: "system:serviceaccount:kube-system:admin".into(), ..good.clone() });
        check(
            &forged.expect("sign"),
            now,
            "service account token claims could not be validated: the subject does not match the kubernetes.io claims",
        );
        // A tampered payload keeps the signature of the original.
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut body = payload(&token);
        body["sub"] = json!("system:serviceaccount:default:other");
        parts[1] = URL_SAFE_NO_PAD.encode(body.to_string());
        check(&parts.join("."), now, "go-jose/go-jose: error in cryptographic primitive");
        for garbage in ["", "abc", "a.b.c", "s3cret", "a.e30.c"] {
            check(garbage, now, "invalid bearer token");
        }
    }

    #[test]
    fn bound_objects_must_live_with_the_tokens_uid() {
        let now = 3_000_000;
        let reference = ObjectRef { name: "web".into(), uid: "u1".into() };
        let obj = |uid: &str, deleted_at: Option<i64>| {
            let mut obj = json!({"metadata": {"name": "web", "uid": uid}});
            if let Some(at) = deleted_at {
                obj["metadata"]["deletionTimestamp"] = json!(crate::time::format_rfc3339(at));
            }
            obj
        };
        let check = |bound: Bound, found: Option<Value>, want: Result<(), &str>| {
            let got = check_bound(bound, "default", &reference, found.as_ref(), now).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{bound:?} {found:?}");
        };
        let invalidated = Err("service account token has been invalidated");
        for bound in [Bound::Secret, Bound::Pod, Bound::Node] {
            check(bound, Some(obj("u1", None)), Ok(()));
            check(bound, None, invalidated);
            // Terminating, within its grace period and the minute after it: still good.
            check(bound, Some(obj("u1", Some(now + 30))), Ok(()));
            check(bound, Some(obj("u1", Some(now - 59))), Ok(()));
            check(bound, Some(obj("u1", Some(now - 61))), invalidated);
        }
        check(Bound::Pod, Some(obj("u2", None)), Err("pod UID (u2) does not match service account pod ref claim (u1)"));
        check(
            Bound::Secret,
            Some(obj("u2", None)),
            Err("secret UID (u2) does not match service account secret ref claim (u1)"),
        );
        check(
            Bound::Node,
            Some(obj("u2", None)),
            Err("node UID (u2) does not match service account node ref claim (u1)"),
        );
        check(Bound::ServiceAccount, None, Err("serviceaccounts \"web\" not found"));
        check(Bound::ServiceAccount, Some(obj("u2", None)), Err("service account UID (u2) does not match claim (u1)"));
        check(
            Bound::ServiceAccount,
            Some(obj("u1", Some(now - 61))),
            Err("service account default/web has been deleted"),
        );
    }

    #[test]
    fn a_key_that_is_not_p256_is_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key");
        assert!(ServiceAccountTokens::from_pem(&key.serialize_pem()).is_err());
        assert!(ServiceAccountTokens::from_pem("garbage").is_err());
    }
}
