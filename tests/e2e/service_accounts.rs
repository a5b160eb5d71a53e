//! Service-account tokens as clients use them: `kubectl create token` (with
//! `--duration`, `--audience` and bound objects) against a real server, the
//! token then presented by kubectl (`--token`) and curl as a bearer token;
//! tokens that stop working (expired, tampered, their ServiceAccount or
//! bound object deleted or recreated); TokenReview; and the OIDC discovery
//! documents, whose key set verifies the tokens with openssl as an external
//! OIDC client would. Expired tokens are signed here, with openssl and the
//! cluster's own key, since the server issues none shorter than 10 minutes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::cluster::{Cluster, Datastore, KUBECTL_VERSIONS, kubectl_path};
use crate::scenario::eventually;
use crate::support::required_program;

const V: &str = "1.33";
/// k3s's `--service-account-issuer` and `--api-audiences`.
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const DEFAULT_SA: &str = "system:serviceaccount:default:default";
const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// Someone outside the cluster holding at most a bearer token: kubectl
/// without the admin kubeconfig, and curl, both trusting the server CA.
struct Outsider {
    server: String,
    ca: PathBuf,
    dir: tempfile::TempDir,
}

/// What curl got back.
#[derive(Debug)]
struct Answer {
    code: u16,
    /// The header lines, lower-cased.
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: not JSON: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).map(str::trim)
    }
}

impl Outsider {
    fn new(cluster: &Cluster) -> Outsider {
        let dir = tempfile::tempdir().expect("a scratch directory");
        std::fs::write(dir.path().join("empty-kubeconfig.yaml"), "apiVersion: v1\nkind: Config\n")
            .expect("write an empty kubeconfig");
        Outsider {
            server: format!("https://127.0.0.1:{}", cluster.port),
            ca: cluster.data_dir().join("server/tls/server-ca.crt"),
            dir,
        }
    }

    /// kubectl of `version` with `token` (none: anonymous) and nothing else.
    fn kubectl(&self, version: &str, token: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new(kubectl_path(version));
        cmd.arg("--kubeconfig").arg(self.dir.path().join("empty-kubeconfig.yaml"));
        cmd.args(["--server", &self.server]).arg("--certificate-authority").arg(&self.ca);
        cmd.arg("--cache-dir").arg(self.dir.path().join(format!("cache-{version}")));
        if let Some(token) = token {
            cmd.args(["--token", token]);
        }
        cmd.args(args).env("HOME", self.dir.path()).env_remove("KUBECONFIG");
        cmd.stdin(Stdio::null()).output().expect("run kubectl")
    }

    /// kubectl's stdout, which must have succeeded.
    #[track_caller]
    fn ok(&self, version: &str, token: &str, args: &[&str]) -> String {
        let out = self.kubectl(version, Some(token), args);
        assert!(
            out.status.success(),
            "kubectl {version} {args:?} with a token failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// kubectl's stderr, which must have failed.
    #[track_caller]
    fn refused(&self, version: &str, token: Option<&str>, args: &[&str]) -> String {
        let out = self.kubectl(version, token, args);
        assert!(
            !out.status.success(),
            "kubectl {version} {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `GET path` with curl, with `token` as the bearer token.
    fn get(&self, token: Option<&str>, path: &str) -> Answer {
        let (headers, body) = (self.dir.path().join("headers"), self.dir.path().join("body"));
        let mut cmd = Command::new(required_program("curl", "curl"));
        cmd.args(["-sS", "--max-time", "10", "-w", "%{http_code}"]).arg("--cacert").arg(&self.ca);
        cmd.arg("-D").arg(&headers).arg("-o").arg(&body);
        if let Some(token) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        let out = cmd.arg(format!("{}{path}", self.server)).output().expect("run curl");
        let code = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|_| {
            panic!("curl {path}: no status code: {}", String::from_utf8_lossy(&out.stderr));
        });
        Answer {
            code,
            headers: std::fs::read_to_string(&headers).unwrap_or_default().to_lowercase(),
            body: std::fs::read_to_string(&body).unwrap_or_default(),
        }
    }

    /// Who the server says `token` is (`kubectl auth whoami -o json`'s userInfo).
    fn whoami(&self, version: &str, token: &str) -> Value {
        let out = self.ok(version, token, &["auth", "whoami", "-o", "json"]);
        let review: Value = serde_json::from_str(&out).expect("a SelfSubjectReview");
        review["status"]["userInfo"].clone()
    }

    /// Whether the API takes `token` at all: 401 or not, asked with a request every user may make.
    fn authenticates(&self, token: &str) -> bool {
        match self.get(Some(token), "/apis").code {
            200 => true,
            401 => false,
            other => panic!("GET /apis with a token: {other}"),
        }
    }
}

/// The decoded header and claims of a JWT.
fn jwt_parts(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWT: {token}");
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    };
    (decode(parts[0]), decode(parts[1]))
}

/// `kubectl create token` as the admin, the token alone.
#[track_caller]
fn create_token(cluster: &Cluster, version: &str, args: &[&str]) -> String {
    let mut all = vec!["create", "token"];
    all.extend_from_slice(args);
    let token = cluster.ok(version, &all).trim().to_string();
    assert_eq!(token.split('.').count(), 3, "kubectl {version} {all:?} printed a JWT: {token}");
    token
}

/// The status of a TokenReview of `token` for `audiences`, asked by the admin.
fn review(cluster: &Cluster, token: &str, audiences: &[&str]) -> Value {
    let mut spec = json!({"token": token});
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec});
    let out = cluster.kubectl_stdin(V, &["create", "--raw", TOKEN_REVIEWS, "-f", "-"], &body.to_string());
    let stdout = cluster.expect_ok(V, &["create", "--raw", TOKEN_REVIEWS], &out);
    let reviewed: Value = serde_json::from_str(&stdout).expect("a TokenReview");
    assert_eq!(reviewed["kind"], "TokenReview");
    reviewed["status"].clone()
}

fn uid(cluster: &Cluster, what: &[&str]) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "jsonpath={.metadata.uid}"]);
    let uid = cluster.ok(V, &args).trim().to_string();
    assert!(!uid.is_empty(), "{what:?} has a uid");
    uid
}

/// Waits for the service-account controller's `default` ServiceAccount.
fn wait_for_default_service_account(cluster: &Cluster) {
    eventually(Duration::from_secs(30), "the default ServiceAccount", || {
        cluster.kubectl(V, &["get", "serviceaccount", "default", "-n", "default"]).status.success().then_some(())
    });
}

fn apply(cluster: &Cluster, object: &Value) {
    let out = cluster.kubectl_stdin(V, &["create", "-f", "-"], &object.to_string());
    cluster.expect_ok(V, &["create", "-f", "-"], &out);
}

/// A pod that never runs (the server has no agent), as `account`, on `node` if given.
fn pod(cluster: &Cluster, name: &str, account: &str, node: Option<&str>) {
    let mut spec = json!({"serviceAccountName": account, "containers": [{"name": "c", "image": "busybox"}]});
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    apply(
        cluster,
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}),
    );
}

fn node(cluster: &Cluster, name: &str) {
    apply(cluster, &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}));
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(required_program("openssl", "openssl"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// An ES256 JWT of `claims` signed by openssl with the PEM key at `key`,
/// under the key id `kid` (the signature converted from DER to JWS's r || s).
fn sign_jwt(dir: &Path, key: &Path, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "ES256", "kid": kid});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    std::fs::write(dir.join("input"), &input).expect("write the signing input");
    let key = key.to_str().expect("a UTF-8 path");
    openssl(dir, &["dgst", "-sha256", "-sign", key, "-out", "signature.der", "input"]);
    let der = std::fs::read(dir.join("signature.der")).expect("read the signature");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(der_to_raw(&der)))
}

/// ECDSA-Sig-Value `SEQUENCE { r INTEGER, s INTEGER }` to the 64 bytes r || s.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30, "a DER sequence");
    let mut at = 2;
    let mut raw = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[at], 0x02, "a DER integer");
        let len = der[at + 1] as usize;
        let int = &der[at + 2..at + 2 + len];
        let int = &int[int.iter().take_while(|b| **b == 0).count()..];
        raw.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        raw.extend_from_slice(int);
        at += 2 + len;
    }
    raw
}

/// The 64 bytes r || s as ECDSA-Sig-Value DER.
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for half in raw.chunks(32) {
        let mut int: Vec<u8> = half[half.iter().take_while(|b| **b == 0).count()..].to_vec();
        if int.first().is_none_or(|b| b & 0x80 != 0) {
            int.insert(0, 0);
        }
        body.extend([0x02, int.len() as u8]);
        body.extend(int);
    }
    [vec![0x30, body.len() as u8], body].concat()
}

/// Whether openssl verifies `token`'s signature with the P-256 key of `jwk`
/// (its x and y put into a SubjectPublicKeyInfo).
fn verifies_with(dir: &Path, jwk: &Value, token: &str) -> bool {
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().expect("a coordinate")).expect("base64url");
    // id-ecPublicKey with prime256v1, then the uncompressed point.
    let prefix: [u8; 27] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
        0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ];
    let spki = [&prefix[..], &coordinate("x"), &coordinate("y")].concat();
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", STANDARD.encode(spki));
    std::fs::write(dir.join("jwk.pem"), pem).expect("write the public key");
    let (input, signature) = token.rsplit_once('.').expect("a JWT");
    std::fs::write(dir.join("signed"), input).expect("write the signed part");
    let raw = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    std::fs::write(dir.join("jws.der"), raw_to_der(&raw)).expect("write the signature");
    Command::new(required_program("openssl", "openssl"))
        .current_dir(dir)
        .args(["dgst", "-sha256", "-verify", "jwk.pem", "-signature", "jws.der", "signed"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl")
        .success()
}

#[test]
fn kubectl_create_token_gives_a_credential_that_lasts_as_long_as_its_objects() {
    let cluster = Cluster::start_with(Datastore::Embedded, &["--disable-agent"]);
    wait_for_default_service_account(&cluster);
    let outsider = Outsider::new(&cluster);
    let sa_uid = uid(&cluster, &["serviceaccount", "default"]);

    for version in KUBECTL_VERSIONS {
        let token = create_token(&cluster, version, &["default"]);
        let (header, claims) = jwt_parts(&token);
        assert_eq!(header["alg"], "ES256", "kubectl {version}");
        assert_eq!((&claims["iss"], &claims["sub"]), (&json!(ISSUER), &json!(DEFAULT_SA)));
        assert_eq!(claims["aud"], json!([ISSUER]));
        assert_eq!(claims["exp"].as_i64().zip(claims["iat"].as_i64()).map(|(e, i)| e - i), Some(3600));
        assert_eq!(claims["kubernetes.io"]["serviceaccount"], json!({"name": "default", "uid": sa_uid}));
        assert!(outsider.authenticates(&token), "kubectl {version}'s token authenticates");

        let short = create_token(&cluster, version, &["default", "--duration=10m"]);
        let (_, claims) = jwt_parts(&short);
        assert_eq!(claims["exp"].as_i64().zip(claims["iat"].as_i64()).map(|(e, i)| e - i), Some(600));
        let too_short = cluster.kubectl(version, &["create", "token", "default", "--duration=5m"]);
        assert!(!too_short.status.success());
        let stderr = String::from_utf8_lossy(&too_short.stderr);
        assert!(stderr.contains("may not specify a duration less than 10 minutes"), "kubectl {version}: {stderr}");

        // A token for someone else is no credential for the API.
        let elsewhere = create_token(&cluster, version, &["default", "--audience=x", "--audience=y"]);
        assert_eq!(jwt_parts(&elsewhere).1["aud"], json!(["x", "y"]));
        assert!(!outsider.authenticates(&elsewhere), "a token for audiences x and y");
    }

    // Who the token is, as `kubectl auth whoami` (SelfSubjectReview, 1.28+) shows it.
    let token = create_token(&cluster, V, &["default"]);
    let jti = jwt_parts(&token).1["jti"].as_str().expect("a jti").to_string();
    for version in ["1.30", "1.33"] {
        assert_eq!(
            outsider.whoami(version, &token),
            json!({
                "username": DEFAULT_SA,
                "uid": sa_uid,
                "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
                "extra": {"authentication.kubernetes.io/credential-id": [format!("JTI={jti}")]},
            }),
            "kubectl {version}"
        );
    }
    let table = outsider.ok(V, &token, &["auth", "whoami"]);
    assert!(table.contains(DEFAULT_SA) && table.contains("system:serviceaccounts:default"), "{table}");

    // What the authorizer lets a service account do without RBAC: discovery and
    // questions about itself; everything else is upstream's 403.
    for version in KUBECTL_VERSIONS {
        let pods = outsider.refused(version, Some(&token), &["get", "pods"]);
        assert!(
            pods.contains(&format!(
                "pods is forbidden: User \"{DEFAULT_SA}\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
            )),
            "kubectl {version}: {pods}"
        );
        let can_i = outsider.kubectl(version, Some(&token), &["auth", "can-i", "get", "pods"]);
        assert_eq!(String::from_utf8_lossy(&can_i.stdout).trim(), "no", "kubectl {version} auth can-i");
    }
    let more = outsider.refused(V, Some(&token), &["create", "token", "default"]);
    assert!(more.contains("cannot create resource \"serviceaccounts/token\""), "{more}");
    assert_eq!(outsider.get(Some(&token), "/api/v1/namespaces/default/secrets").code, 403);

    // Garbage, tampering, another key's signature, expiry: 401, as kubectl reports it.
    let bad = outsider.refused(V, Some("not-a-token"), &["get", "pods"]);
    assert!(bad.contains("Unauthorized"), "{bad}");
    let unauthorized = outsider.get(Some("not-a-token"), "/api");
    assert_eq!(unauthorized.code, 401);
    assert_eq!(unauthorized.json()["reason"], "Unauthorized");
    let parts: Vec<&str> = token.split('.').collect();
    let (_, mut claims) = jwt_parts(&token);
    claims["sub"] = json!("system:serviceaccount:kube-system:default");
    claims["kubernetes.io"]["namespace"] = json!("kube-system");
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    assert!(!outsider.authenticates(&tampered), "a tampered payload");
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature");
    signature[10] ^= 1;
    let resigned = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(signature));
    assert!(!outsider.authenticates(&resigned), "a damaged signature");

    let scratch = tempfile::tempdir().expect("scratch");
    let key = cluster.data_dir().join("server/tls/service.key");
    let kid = jwt_parts(&token).0["kid"].as_str().expect("a kid").to_string();
    let claims_until = |issued: i64, expires: i64| {
        json!({
            "aud": [ISSUER], "exp": expires, "iat": issued, "nbf": issued, "iss": ISSUER,
            "jti": "00000000-0000-4000-8000-000000000000", "sub": DEFAULT_SA,
            "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": sa_uid}},
        })
    };
    // Signed here the way the server signs: good while it lasts ...
    let fresh = sign_jwt(scratch.path(), &key, &kid, &claims_until(now() - 10, now() + 600));
    assert!(outsider.authenticates(&fresh), "a token signed with the cluster's key");
    // ... and refused past its expiry and the minute of leeway.
    let expired = sign_jwt(scratch.path(), &key, &kid, &claims_until(now() - 900, now() - 120));
    assert!(!outsider.authenticates(&expired), "an expired token");
    let other_key = scratch.path().join("other.key");
    openssl(scratch.path(), &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "other.key"]);
    let forged = sign_jwt(scratch.path(), &other_key, &kid, &claims_until(now() - 10, now() + 600));
    assert!(!outsider.authenticates(&forged), "a token signed with another key");

    // A deleted ServiceAccount takes its tokens with it, and a new one of the same name does not revive them.
    cluster.ok(V, &["create", "serviceaccount", "builder"]);
    let builder = create_token(&cluster, V, &["builder"]);
    assert_eq!(outsider.whoami(V, &builder)["username"], "system:serviceaccount:default:builder");
    cluster.ok(V, &["delete", "serviceaccount", "builder"]);
    assert!(!outsider.authenticates(&builder), "the ServiceAccount is gone");
    cluster.ok(V, &["create", "serviceaccount", "builder"]);
    assert!(!outsider.authenticates(&builder), "the ServiceAccount has a new uid");
    assert!(outsider.authenticates(&create_token(&cluster, V, &["builder"])), "the new one's token");

    // Bound to a pod: the pod in the user's extra, gone with the pod (and not revived by a namesake).
    pod(&cluster, "web", "default", None);
    let pod_uid = uid(&cluster, &["pod", "web"]);
    let bound = create_token(&cluster, V, &["default", "--bound-object-kind", "Pod", "--bound-object-name", "web"]);
    assert_eq!(jwt_parts(&bound).1["kubernetes.io"]["pod"], json!({"name": "web", "uid": pod_uid}));
    let extra = &outsider.whoami(V, &bound)["extra"];
    assert_eq!(extra["authentication.kubernetes.io/pod-name"], json!(["web"]));
    assert_eq!(extra["authentication.kubernetes.io/pod-uid"], json!([pod_uid]));
    cluster.ok(V, &["delete", "pod", "web"]);
    assert!(!outsider.authenticates(&bound), "the pod is gone");
    pod(&cluster, "web", "default", None);
    assert!(!outsider.authenticates(&bound), "the pod has a new uid");

    // Bound to a Secret (all versions) and a Node (kubectl 1.31+).
    cluster.ok(V, &["create", "secret", "generic", "keys", "--from-literal=a=b"]);
    let to_secret =
        create_token(&cluster, "1.27", &["default", "--bound-object-kind", "Secret", "--bound-object-name", "keys"]);
    assert!(outsider.authenticates(&to_secret));
    cluster.ok(V, &["delete", "secret", "keys"]);
    assert!(!outsider.authenticates(&to_secret), "the secret is gone");
    node(&cluster, "n1");
    let node_uid = uid(&cluster, &["node", "n1"]);
    let to_node = create_token(&cluster, V, &["default", "--bound-object-kind", "Node", "--bound-object-name", "n1"]);
    let extra = &outsider.whoami(V, &to_node)["extra"];
    assert_eq!(extra["authentication.kubernetes.io/node-name"], json!(["n1"]));
    assert_eq!(extra["authentication.kubernetes.io/node-uid"], json!([node_uid]));
    cluster.ok(V, &["delete", "node", "n1"]);
    assert!(!outsider.authenticates(&to_node), "the node is gone");

    // What the server refuses to bind.
    cluster.ok(V, &["create", "serviceaccount", "other"]);
    pod(&cluster, "others", "other", None);
    let wrong = cluster
        .kubectl(V, &["create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "others"]);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains(
            "cannot bind token for serviceaccount \"default\" to pod running with different serviceaccount name."
        ),
        "{stderr}"
    );
    let args = ["create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "web"];
    let stale = cluster.kubectl(V, &[&args[..], &["--bound-object-uid", &pod_uid]].concat());
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(
        stderr.contains("Operation cannot be fulfilled on Pod \"web\": the UID in the bound object reference"),
        "{stderr}"
    );
    let missing = cluster
        .kubectl(V, &["create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "nope"]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("pods \"nope\" not found"), "{stderr}");
}

#[test]
fn token_review_answers_as_the_apis_authentication_does() {
    let scratch = tempfile::tempdir().expect("scratch");
    let token_file = scratch.path().join("tokens.csv");
    std::fs::write(&token_file, "s3cret,alice,alice-uid,\"dev\"\n").expect("write the token file");
    let flag = format!("--kube-apiserver-arg=token-auth-file={}", token_file.display());
    let cluster = Cluster::start_with(Datastore::Embedded, &["--disable-agent", &flag]);
    wait_for_default_service_account(&cluster);
    let sa_uid = uid(&cluster, &["serviceaccount", "default"]);
    let groups = json!(["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]);

    let token = create_token(&cluster, V, &["default"]);
    let jti = jwt_parts(&token).1["jti"].as_str().expect("a jti").to_string();
    assert_eq!(
        review(&cluster, &token, &[]),
        json!({
            "authenticated": true,
            "user": {
                "username": DEFAULT_SA, "uid": sa_uid, "groups": groups,
                "extra": {"authentication.kubernetes.io/credential-id": [format!("JTI={jti}")]},
            },
            "audiences": [ISSUER],
        })
    );

    // Audiences: the token's that the review asks for.
    let for_x = create_token(&cluster, V, &["default", "--audience=x", "--audience=y"]);
    assert_eq!(review(&cluster, &for_x, &["y", "z"])["audiences"], json!(["y"]));
    assert_eq!(review(&cluster, &for_x, &["y", "z"])["authenticated"], true);
    assert_eq!(
        review(&cluster, &for_x, &[]),
        json!({"user": {}, "error": format!("token audiences [\"x\" \"y\"] is invalid for the target audiences [\"{ISSUER}\"]")})
    );
    assert_eq!(
        review(&cluster, &token, &["z"])["error"],
        format!("token audiences [\"{ISSUER}\"] is invalid for the target audiences [\"z\"]")
    );

    // Bound to a pod on a node: the pod and the node in extra.
    node(&cluster, "n1");
    let node_uid = uid(&cluster, &["node", "n1"]);
    pod(&cluster, "web", "default", Some("n1"));
    let pod_uid = uid(&cluster, &["pod", "web"]);
    let bound = create_token(&cluster, V, &["default", "--bound-object-kind", "Pod", "--bound-object-name", "web"]);
    let bound_jti = jwt_parts(&bound).1["jti"].as_str().expect("a jti").to_string();
    assert_eq!(
        review(&cluster, &bound, &[])["user"]["extra"],
        json!({
            "authentication.kubernetes.io/credential-id": [format!("JTI={bound_jti}")],
            "authentication.kubernetes.io/node-name": ["n1"],
            "authentication.kubernetes.io/node-uid": [node_uid],
            "authentication.kubernetes.io/pod-name": ["web"],
            "authentication.kubernetes.io/pod-uid": [pod_uid],
        })
    );
    cluster.ok(V, &["delete", "pod", "web", "--grace-period=0", "--force"]);
    assert_eq!(
        review(&cluster, &bound, &[]),
        json!({"user": {}, "error": "service account token has been invalidated"})
    );

    // The ServiceAccount deleted, then recreated.
    cluster.ok(V, &["create", "serviceaccount", "builder"]);
    let builder = create_token(&cluster, V, &["builder"]);
    assert_eq!(review(&cluster, &builder, &[])["authenticated"], true);
    cluster.ok(V, &["delete", "serviceaccount", "builder"]);
    assert_eq!(review(&cluster, &builder, &[])["error"], "serviceaccounts \"builder\" not found");
    cluster.ok(V, &["create", "serviceaccount", "builder"]);
    let new_uid = uid(&cluster, &["serviceaccount", "builder"]);
    let old_uid = jwt_parts(&builder).1["kubernetes.io"]["serviceaccount"]["uid"].as_str().expect("uid").to_string();
    assert_eq!(
        review(&cluster, &builder, &[])["error"],
        format!("service account UID ({new_uid}) does not match claim ({old_uid})")
    );

    // Not a token of ours; a token of the token file, which is not audience-aware.
    assert_eq!(review(&cluster, "not-a-token", &[]), json!({"user": {}, "error": "invalid bearer token"}));
    assert_eq!(
        review(&cluster, "s3cret", &[]),
        json!({
            "authenticated": true,
            "user": {"username": "alice", "uid": "alice-uid", "groups": ["dev", "system:authenticated"]},
            "audiences": [ISSUER],
        })
    );
    assert_eq!(review(&cluster, "s3cret", &["vault"])["error"], "invalid bearer token");
    assert_eq!(review(&cluster, "s3cret", &["vault", ISSUER])["audiences"], json!([ISSUER]));

    // No token: upstream's 400. Reviewing tokens is for the admin, not for service accounts or alice.
    let empty = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {}}).to_string();
    let out = cluster.kubectl_stdin(V, &["create", "--raw", TOKEN_REVIEWS, "-f", "-"], &empty);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("token is required for TokenReview in authentication"), "{stderr}");
    let outsider = Outsider::new(&cluster);
    let review_file = outsider.dir.path().join("review.json");
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    std::fs::write(&review_file, body.to_string()).expect("write the review");
    let review_file = review_file.to_str().expect("path");
    for who in [token.as_str(), "s3cret"] {
        let stderr = outsider.refused(V, Some(who), &["create", "--raw", TOKEN_REVIEWS, "-f", review_file]);
        assert!(stderr.contains("Error from server (Forbidden)"), "{stderr}");
    }
}

#[test]
fn oidc_discovery_documents_verify_the_tokens() {
    let scratch = tempfile::tempdir().expect("scratch");
    let token_file = scratch.path().join("tokens.csv");
    std::fs::write(&token_file, "s3cret,alice,alice-uid\n").expect("write the token file");
    let flag = format!("--kube-apiserver-arg=token-auth-file={}", token_file.display());
    let cluster = Cluster::start_with(Datastore::Embedded, &["--disable-agent", &flag]);
    wait_for_default_service_account(&cluster);
    let outsider = Outsider::new(&cluster);
    let token = create_token(&cluster, V, &["default"]);

    let config = outsider.get(Some(&token), "/.well-known/openid-configuration");
    assert_eq!(config.code, 200, "{}", config.body);
    assert_eq!(config.header("content-type"), Some("application/json"));
    assert_eq!(config.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(
        config.json(),
        json!({
            "issuer": ISSUER,
            "jwks_uri": format!("https://127.0.0.1:{}/openid/v1/jwks", cluster.port),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    );
    assert_eq!(jwt_parts(&token).1["iss"], config.json()["issuer"]);

    let jwks = outsider.get(Some(&token), "/openid/v1/jwks");
    assert_eq!(jwks.code, 200, "{}", jwks.body);
    assert_eq!(jwks.header("content-type"), Some("application/jwk-set+json"));
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=3600"));
    let keys = jwks.json()["keys"].as_array().cloned().expect("a key set");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let jwk = &keys[0];
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256"), &json!("sig"))
    );
    assert_eq!(jwt_parts(&token).0["kid"], jwk["kid"], "the token names the published key");
    // The published key verifies the server's tokens, and only those.
    assert!(verifies_with(scratch.path(), jwk, &token), "openssl verifies the token with the JWK");
    let parts: Vec<&str> = token.split('.').collect();
    let (_, mut claims) = jwt_parts(&token);
    claims["sub"] = json!("system:serviceaccount:default:other");
    let changed = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    assert!(!verifies_with(scratch.path(), jwk, &changed), "a changed payload does not verify");
    // Trailing slashes, as upstream's role lists them.
    assert_eq!(outsider.get(Some(&token), "/openid/v1/jwks/").code, 200);
    assert_eq!(outsider.get(Some(&token), "/.well-known/openid-configuration/").code, 200);

    // Who may read them (upstream's system:service-account-issuer-discovery is bound to
    // system:serviceaccounts): service accounts and the admin; not other users, and not
    // anonymous requests (403, as kube-apiserver with anonymous auth on); a bad token is 401.
    let admin = cluster.ok(V, &["get", "--raw", "/openid/v1/jwks"]);
    assert_eq!(serde_json::from_str::<Value>(&admin).expect("JSON")["keys"][0]["kid"], jwk["kid"]);
    for (token, path, code) in [
        (Some("s3cret"), "/openid/v1/jwks", 403),
        (Some("s3cret"), "/.well-known/openid-configuration", 403),
        (None, "/openid/v1/jwks", 403),
        (None, "/.well-known/openid-configuration", 403),
        (Some("not-a-token"), "/openid/v1/jwks", 401),
    ] {
        let answer = outsider.get(token, path);
        assert_eq!(answer.code, code, "{token:?} {path}: {}", answer.body);
    }
    let anonymous = outsider.get(None, "/openid/v1/jwks").json();
    assert_eq!(anonymous["message"], "forbidden: User \"system:anonymous\" cannot get path \"/openid/v1/jwks\"");
}
