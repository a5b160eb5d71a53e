//! Service-account tokens as kube-apiserver issues them: ES256 JWTs signed
//! with the cluster's service-account key, upstream's claims
//! (`pkg/serviceaccount/claims.go`), the key id upstream derives from the
//! public key, and the OIDC discovery documents. This module checks a
//! token's signature, issuer, audience and lifetime only; whether its
//! ServiceAccount and bound objects still exist is `auth.rs`'s question.
//! Legacy Secret-based tokens (issuer `kubernetes/serviceaccount`) are not
//! accepted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// k3s's `--service-account-issuer`, also its `--api-audiences`.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// How far clocks may disagree, as upstream's validator allows (go-jose's default leeway).
const LEEWAY_SECONDS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    #[error("the service-account key is not a usable ECDSA P-256 key: {0}")]
    Key(String),
    #[error("cannot sign a service-account token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// Why a bearer token is not one of ours; every variant answers 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    #[error("not a service-account token of this cluster: {0}")]
    Malformed(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's subject does not name a service account")]
    Subject,
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

    /// The claims of `token` if we signed it, for our issuer and one of our
    /// audiences, and it is valid at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenRejected> {
        let mut validation = Validation::new(Algorithm::ES256);
        // Lifetime is checked below against `now`, so that tests control time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"].into_iter().map(String::from).collect();
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| TokenRejected::Malformed(e.to_string()))?;
        let claims = data.claims;
        if now > claims.exp + LEEWAY_SECONDS {
            return Err(TokenRejected::Expired);
        }
        if claims.nbf > now + LEEWAY_SECONDS || claims.iat > now + LEEWAY_SECONDS {
            return Err(TokenRejected::NotYetValid);
        }
        let k8s = &claims.kubernetes;
        if k8s.namespace.is_empty()
            || k8s.serviceaccount.name.is_empty()
            || claims.sub != username(&k8s.namespace, &k8s.serviceaccount.name)
        {
            return Err(TokenRejected::Subject);
        }
        Ok(claims)
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

    /// `/.well-known/openid-configuration`, as upstream serves it.
    pub fn openid_configuration(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/openid/v1/jwks", self.issuer),
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

/// Whether `claims` still speak for live objects, as upstream's validator
/// asks: the ServiceAccount, and the Pod or Secret or Node the token is
/// bound to, must exist with the uid in the token. An object that is
/// terminating still counts (a pod needs its token through its grace
/// period). The Node a pod-bound token names is informative and not
/// checked, as upstream.
pub(crate) async fn still_bound(api: &crate::Api, claims: &Claims) -> Result<(), String> {
    let k8s = &claims.kubernetes;
    let ns = k8s.namespace.as_str();
    let mut wanted = vec![("serviceaccounts", Some(ns), &k8s.serviceaccount)];
    if let Some(pod) = &k8s.pod {
        wanted.push(("pods", Some(ns), pod));
    }
    if let Some(secret) = &k8s.secret {
        wanted.push(("secrets", Some(ns), secret));
    }
    if k8s.pod.is_none()
        && let Some(node) = &k8s.node
    {
        wanted.push(("nodes", None, node));
    }
    for (plural, namespace, reference) in wanted {
        let found = stored(api, plural, namespace, &reference.name)
            .await
            .map_err(|e| format!("cannot read {plural} {}: {e}", reference.name))?;
        let Some(obj) = found else {
            return Err(format!("{plural} \"{}\" not found", reference.name));
        };
        let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
        if !reference.uid.is_empty() && uid != reference.uid {
            return Err(format!(
                "{plural} \"{}\": uid {uid} does not match the token's {}",
                reference.name, reference.uid
            ));
        }
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
        assert_eq!(t.verify(&token, 1_000_010).expect("valid"), claims);
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
        assert_eq!(t.openid_configuration()["jwks_uri"], format!("{DEFAULT_ISSUER}/openid/v1/jwks"));
    }

    #[test]
    fn rejections() {
        let t = tokens();
        let now = 2_000_000;
        let good = t.claims(&grant(), now);
        let check = |token: &str, at: i64, want: fn(&TokenRejected) -> bool| {
            let err = t.verify(token, at).expect_err("must reject");
            assert!(want(&err), "{err:?}");
        };
        let token = t.sign(&good).expect("sign");
        // Expiry, with upstream's minute of leeway.
        assert!(t.verify(&token, now + 3600 + 59).is_ok());
        check(&token, now + 3600 + 61, |e| *e == TokenRejected::Expired);
        check(&token, now - 120, |e| *e == TokenRejected::NotYetValid);
        // Another key.
        let other = tokens().sign(&good).expect("sign");
        check(&other, now, |e| matches!(e, TokenRejected::Malformed(_)));
        // Another issuer.
        let foreign = t.sign(&Claims { iss: "https://elsewhere".into(), ..good.clone() }).expect("sign");
        check(&foreign, now, |e| matches!(e, TokenRejected::Malformed(_)));
        // An audience that is not ours.
        let vault = t.sign(&Claims { aud: vec!["vault".into()], ..good.clone() }).expect("sign");
        check(&vault, now, |e| matches!(e, TokenRejected::Malformed(_)));
        // A subject that disagrees with the private claims.
        let forged = t.sign(&Claims { sub: "system:serviceaccount:kube-system:admin".into(), ..good.clone() });
        check(&forged.expect("sign"), now, |e| *e == TokenRejected::Subject);
        // A tampered payload keeps the signature of the original.
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut body = payload(&token);
        body["sub"] = json!("system:serviceaccount:default:other");
        parts[1] = URL_SAFE_NO_PAD.encode(body.to_string());
        check(&parts.join("."), now, |e| matches!(e, TokenRejected::Malformed(_)));
        for garbage in ["", "abc", "a.b.c", "s3cret"] {
            check(garbage, now, |e| matches!(e, TokenRejected::Malformed(_)));
        }
    }

    #[test]
    fn a_key_that_is_not_p256_is_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key");
        assert!(ServiceAccountTokens::from_pem(&key.serialize_pem()).is_err());
        assert!(ServiceAccountTokens::from_pem("garbage").is_err());
    }
}
