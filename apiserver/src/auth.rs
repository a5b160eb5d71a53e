//! Who is asking, and may they: client certificates signed by the client CA
//! (CN is the user, O the groups) and bearer tokens from a static token
//! file authenticate; `system:masters` may do anything, anonymous users may
//! read the health and version endpoints, nodes (group `system:nodes`, user
//! `system:node:<name>`) may do what a kubelet needs and no more
//! ([`node_may`]), every authenticated user may read discovery and ask
//! about itself (upstream's `system:discovery` and `system:basic-user`),
//! and everything else is refused with upstream's 403 until RBAC exists.
//! Service-account tokens (`tokens.rs`) authenticate as their service
//! account, which is granted no more than any other user, except to read
//! the OIDC discovery documents (upstream's
//! `system:service-account-issuer-discovery`). Join tokens are the
//! supervisor's (`supervisor.rs`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::request::RequestInfo;
use crate::status::{ApiError, GroupResource};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    /// What else the authenticator knows (a service account token's pod, node and id).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    pub fn anonymous() -> User {
        User {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
            extra: BTreeMap::new(),
        }
    }

    fn authenticated(name: String, uid: String, mut groups: Vec<String>) -> User {
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        User { name, uid, groups, extra: BTreeMap::new() }
    }

    pub fn is_anonymous(&self) -> bool {
        self.name == "system:anonymous"
    }
}

/// The static bearer tokens (kube-apiserver's `--token-auth-file`).
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    tokens: HashMap<String, User>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the token file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the token file {path}, line {line}: {problem}")]
    Malformed { path: String, line: usize, problem: String },
}

impl TokenFile {
    /// Reads `token,user,uid[,"group1,group2"]` lines; blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> Result<TokenFile, TokenFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TokenFileError::Read { path: path.display().to_string(), source })?;
        TokenFile::parse(&text).map_err(|(line, problem)| TokenFileError::Malformed {
            path: path.display().to_string(),
            line,
            problem,
        })
    }

    fn parse(text: &str) -> Result<TokenFile, (usize, String)> {
        let mut tokens = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line).map_err(|problem| (index + 1, problem))?;
            if fields.len() < 3 {
                return Err((
                    index + 1,
                    format!("expected at least 3 columns (token,user,uid), found {}", fields.len()),
                ));
            }
            if fields[0].is_empty() || fields[1].is_empty() {
                return Err((index + 1, "the token and the user name must not be empty".into()));
            }
            let groups = fields
                .get(3)
                .map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect())
                .unwrap_or_default();
            let user = User::authenticated(fields[1].clone(), fields[2].clone(), groups);
            if tokens.insert(fields[0].clone(), user).is_some() {
                return Err((index + 1, "duplicate token".into()));
            }
        }
        Ok(TokenFile { tokens })
    }

    pub fn user(&self, token: &str) -> Option<&User> {
        self.tokens.get(token)
    }
}

/// One CSV line with double-quoted fields.
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    fields.push(field);
    Ok(fields.into_iter().map(|f| f.trim().to_string()).collect())
}

/// The user a verified client certificate names.
pub fn user_from_certificate(der: &[u8]) -> Option<User> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let groups = subject.iter_organization().filter_map(|o| o.as_str().ok()).map(String::from).collect();
    Some(User::authenticated(name, String::new(), groups))
}

/// The user a request acts as when it carries `Impersonate-User` (kubectl
/// `--as`, `--as-group`, `--as-uid`). Only `system:masters` may impersonate
/// until RBAC can grant the `impersonate` verb; anyone else gets upstream's 403.
pub fn impersonate(
    user: User,
    as_user: Option<&str>,
    as_groups: Vec<String>,
    as_uid: Option<&str>,
) -> Result<User, ApiError> {
    let Some(name) = as_user else {
        if as_groups.is_empty() && as_uid.is_none() {
            return Ok(user);
        }
        return Err(ApiError::BadRequest(
            "requested Impersonate-Group or Impersonate-Uid without Impersonate-User".into(),
        ));
    };
    if !user.groups.iter().any(|g| g == "system:masters") {
        return Err(ApiError::Forbidden {
            message: format!(
                "users \"{name}\" is forbidden: User \"{}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
                user.name
            ),
            gr: Some(GroupResource::new("", "users")),
            name: name.to_string(),
        });
    }
    Ok(User::authenticated(name.to_string(), as_uid.unwrap_or_default().to_string(), as_groups))
}

/// Who sent a request: a verified client certificate first, then a bearer token.
pub fn authenticate(
    peer_cert: Option<&[u8]>,
    authorization: Option<&str>,
    tokens: &TokenFile,
) -> Result<User, ApiError> {
    if let Some(user) = peer_cert.and_then(user_from_certificate) {
        return Ok(user);
    }
    match authorization {
        None => Ok(User::anonymous()),
        Some(value) => {
            let token = value.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty());
            token.and_then(|t| tokens.user(t)).cloned().ok_or(ApiError::Unauthorized)
        }
    }
}

/// Who sent a request, as [`authenticate`] says, and otherwise whether its
/// bearer token is a service-account token of ours for the API server's
/// audiences whose ServiceAccount (and bound Pod, Secret or Node) still
/// exist with the uids it names: then [`service_account_user`]. Anything
/// else that is not in the token file is 401, never 500.
pub(crate) async fn authenticate_request(
    api: &crate::Api,
    peer_cert: Option<&[u8]>,
    authorization: Option<&str>,
) -> Result<User, ApiError> {
    let static_user = authenticate(peer_cert, authorization, &api.tokens);
    if static_user.is_ok() {
        return static_user;
    }
    let token = authorization.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).unwrap_or("");
    match service_account_user(api, token, crate::tokens::unix_now(), &[]).await {
        Ok((user, _)) => Ok(user),
        Err(e) => {
            tracing::debug!("bearer token refused: {e}");
            Err(ApiError::Unauthorized)
        }
    }
}

/// The service account a bearer token speaks for at `now`, for one of
/// `audiences` (empty: the API server's own), with the audiences it was
/// accepted for: `system:serviceaccount:<ns>:<name>` in
/// `system:serviceaccounts` and `system:serviceaccounts:<ns>`, with
/// upstream's `extra` (bound pod, node, credential id).
pub(crate) async fn service_account_user(
    api: &crate::Api,
    token: &str,
    now: i64,
    audiences: &[String],
) -> Result<(User, Vec<String>), crate::tokens::TokenRejected> {
    let verified = api.service_account_tokens.verify(token, now, audiences)?;
    let claims = &verified.claims;
    crate::tokens::still_bound(api, claims, now).await?;
    let ns = &claims.kubernetes.namespace;
    let mut user = User::authenticated(
        claims.sub.clone(),
        claims.kubernetes.serviceaccount.uid.clone(),
        vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}")],
    );
    user.extra = claims.user_extra();
    Ok((user, verified.audiences))
}

/// Paths anyone may read, as upstream's `system:public-info-viewer` role allows.
const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];

/// The OIDC discovery documents, which upstream's
/// `system:service-account-issuer-discovery` role lets every service account read.
const ISSUER_DISCOVERY_PATHS: &[&str] =
    &["/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/"];

pub fn authorize(user: &User, info: &RequestInfo) -> Result<(), ApiError> {
    if user.groups.iter().any(|g| g == "system:masters") {
        return Ok(());
    }
    // What upstream's system:basic-user role grants every authenticated user: asking about oneself.
    if let RequestInfo::Resource(req) = info
        && user.groups.iter().any(|g| g == "system:authenticated")
        && req.verb == "create"
        && req.subresource.is_none()
        && matches!(
            (req.group.as_str(), req.resource.as_str()),
            ("authorization.k8s.io", "selfsubjectaccessreviews" | "selfsubjectrulesreviews")
                | ("authentication.k8s.io", "selfsubjectreviews")
        )
    {
        return Ok(());
    }
    // Upstream's system:discovery role, bound to every authenticated user.
    if let RequestInfo::NonResource { path, verb } = info
        && user.groups.iter().any(|g| g == "system:authenticated")
        && *verb == "get"
        && is_discovery(path)
    {
        return Ok(());
    }
    if let RequestInfo::NonResource { path, verb } = info
        && user.groups.iter().any(|g| g == "system:serviceaccounts")
        && *verb == "get"
        && ISSUER_DISCOVERY_PATHS.contains(&path.as_str())
    {
        return Ok(());
    }
    if let Some(node) = node_name(user)
        && node_may(node, info)
    {
        return Ok(());
    }
    match info {
        RequestInfo::NonResource { path, verb } => {
            let public = PUBLIC_PATHS.contains(&path.as_str())
                || path.starts_with("/healthz/")
                || path.starts_with("/livez/")
                || path.starts_with("/readyz/");
            if public && *verb == "get" {
                return Ok(());
            }
            Err(ApiError::Forbidden {
                message: format!("forbidden: User \"{}\" cannot {} path \"{}\"", user.name, verb, path),
                gr: None,
                name: String::new(),
            })
        }
        RequestInfo::Resource(req) => {
            let resource = match &req.subresource {
                Some(sub) => format!("{}/{}", req.resource, sub),
                None => req.resource.clone(),
            };
            let scope = match &req.namespace {
                Some(ns) => format!("in the namespace \"{ns}\""),
                None => "at the cluster scope".to_string(),
            };
            let gr = GroupResource::new(&req.group, &req.resource);
            let name = req.name.clone().unwrap_or_default();
            let subject = if name.is_empty() { gr.to_string() } else { format!("{gr} \"{name}\"") };
            Err(ApiError::Forbidden {
                message: format!(
                    "{subject} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
                    user.name, req.verb, req.group
                ),
                gr: Some(gr),
                name,
            })
        }
    }
}

/// The node a user is, when it is one (CN `system:node:<name>`, O `system:nodes`).
fn node_name(user: &User) -> Option<&str> {
    if !user.groups.iter().any(|g| g == "system:nodes") {
        return None;
    }
    user.name.strip_prefix("system:node:").filter(|n| !n.is_empty())
}

/// The paths of upstream's `system:discovery` role: `/api`, `/apis` and
/// below (non-resource, so discovery documents), and the OpenAPI documents.
fn is_discovery(path: &str) -> bool {
    ["/api", "/apis", "/openapi/v2", "/openapi/v3"].contains(&path.trim_end_matches('/'))
        || path.starts_with("/api/")
        || path.starts_with("/apis/")
        || path.starts_with("/openapi/v3/")
}

/// What upstream's `system:node` role and NodeRestriction admission let a
/// kubelet do, narrowed to what bramble's agent uses: discovery; read nodes,
/// create one, change only its own and its status; its own Lease in
/// `kube-node-lease`; read pods, write their status and delete them; create
/// events; service-account tokens for its pods; read the configmaps,
/// secrets, claims, volumes, services and endpoints its pods refer to.
fn node_may(node: &str, info: &RequestInfo) -> bool {
    let req = match info {
        RequestInfo::NonResource { path, verb } => return is_discovery(path) && *verb == "get",
        RequestInfo::Resource(req) => req,
    };
    let own = req.name.as_deref() == Some(node);
    let reads = matches!(req.verb, "get" | "list" | "watch");
    match (req.group.as_str(), req.resource.as_str(), req.subresource.as_deref()) {
        ("", "nodes", None) => {
            reads || (req.verb == "create" && req.name.is_none()) || (own && matches!(req.verb, "update" | "patch"))
        }
        ("", "nodes", Some("status")) => own && matches!(req.verb, "get" | "update" | "patch"),
        ("coordination.k8s.io", "leases", None) => {
            req.namespace.as_deref() == Some("kube-node-lease")
                && match req.verb {
                    "create" => req.name.is_none(),
                    "get" | "update" | "patch" | "delete" => own,
                    _ => false,
                }
        }
        // The kubelet ends a graceful delete by deleting the pod (upstream limits this to
        // pods bound to the node; bramble does not check the binding here yet).
        ("", "pods", None) => reads || req.verb == "delete",
        ("", "pods", Some("status")) => matches!(req.verb, "get" | "update" | "patch"),
        ("", "serviceaccounts", Some("token")) => req.verb == "create",
        ("", "persistentvolumeclaims" | "persistentvolumes", None) => req.verb == "get",
        ("", "events", None) | ("events.k8s.io", "events", None) => matches!(req.verb, "create" | "update" | "patch"),
        ("", "configmaps" | "secrets" | "endpoints", None) => req.verb == "get",
        ("", "services", None) => reads,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Query, RequestInfo};

    fn info(method: http::Method, path: &str) -> RequestInfo {
        RequestInfo::parse(&method, path, &Query::default())
    }

    #[test]
    fn token_file() {
        let file =
            TokenFile::parse("# comment\nsecret1,alice,uid-1,\"dev,ops\"\n\nsecret2,bob,uid-2\n").expect("parse");
        let alice = file.user("secret1").expect("alice");
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, vec!["dev", "ops", "system:authenticated"]);
        assert_eq!(file.user("secret2").expect("bob").groups, vec!["system:authenticated"]);
        assert!(file.user("nope").is_none());
        assert_eq!(TokenFile::parse("only,two").expect_err("short").0, 1);
        assert_eq!(TokenFile::parse("a,b,c\na,d,e").expect_err("dup").1, "duplicate token");
        assert_eq!(TokenFile::parse("a,b,c,\"x").expect_err("quote").1, "unterminated quote");
    }

    #[test]
    fn bearer_tokens() {
        let file = TokenFile::parse("s3cret,alice,1").expect("parse");
        assert_eq!(authenticate(None, Some("Bearer s3cret"), &file).expect("ok").name, "alice");
        assert_eq!(authenticate(None, Some("Bearer wrong"), &file), Err(ApiError::Unauthorized));
        assert_eq!(authenticate(None, Some("Basic abc"), &file), Err(ApiError::Unauthorized));
        assert!(authenticate(None, None, &file).expect("anon").is_anonymous());
    }

    #[test]
    fn what_a_node_may_do() {
        let node = User::authenticated("system:node:worker-1".into(), String::new(), vec!["system:nodes".into()]);
        // The name alone, without the group, is nobody special.
        let pretender = User::authenticated("system:node:worker-1".into(), String::new(), vec![]);
        use http::Method as M;
        let cases: &[(M, &str, bool)] = &[
            (M::GET, "/api", true),
            (M::GET, "/apis/coordination.k8s.io/v1", true),
            (M::GET, "/openapi/v3", true),
            (M::GET, "/metrics", false),
            (M::GET, "/api/v1/nodes", true),
            (M::GET, "/api/v1/nodes/worker-2", true),
            (M::POST, "/api/v1/nodes", true),
            (M::PATCH, "/api/v1/nodes/worker-1", true),
            (M::PATCH, "/api/v1/nodes/worker-2", false),
            (M::DELETE, "/api/v1/nodes/worker-1", false),
            (M::PATCH, "/api/v1/nodes/worker-1/status", true),
            (M::PUT, "/api/v1/nodes/worker-2/status", false),
            (M::POST, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", true),
            (M::PATCH, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/worker-1", true),
            (M::PUT, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/worker-2", false),
            (M::GET, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager", false),
            (M::GET, "/api/v1/pods", true),
            (M::GET, "/api/v1/namespaces/default/pods/web", true),
            (M::DELETE, "/api/v1/namespaces/default/pods/web", true),
            (M::POST, "/api/v1/namespaces/default/serviceaccounts/default/token", true),
            (M::DELETE, "/api/v1/namespaces/default/serviceaccounts/default", false),
            (M::POST, "/api/v1/namespaces/default/pods", false),
            (M::PATCH, "/api/v1/namespaces/default/pods/web/status", true),
            (M::POST, "/api/v1/namespaces/default/events", true),
            (M::POST, "/apis/events.k8s.io/v1/namespaces/default/events", true),
            (M::GET, "/api/v1/namespaces/default/configmaps/app", true),
            (M::GET, "/api/v1/namespaces/default/configmaps", false),
            (M::GET, "/api/v1/namespaces/default/secrets/app", true),
            (M::GET, "/api/v1/secrets", false),
            (M::PUT, "/api/v1/namespaces/default/secrets/app", false),
            (M::GET, "/api/v1/services", true),
            (M::GET, "/api/v1/namespaces/default/endpoints/web", true),
            (M::POST, "/api/v1/namespaces", false),
            (M::GET, "/apis/apps/v1/deployments", false),
        ];
        for (method, path, allowed) in cases {
            assert_eq!(authorize(&node, &info(method.clone(), path)).is_ok(), *allowed, "{method} {path}");
        }
        assert!(authorize(&pretender, &info(M::GET, "/api/v1/nodes")).is_err());
    }

    #[test]
    fn service_accounts_may_read_the_issuer_discovery_documents() {
        let sa = User::authenticated(
            "system:serviceaccount:default:default".into(),
            "sa-uid".into(),
            vec!["system:serviceaccounts".into(), "system:serviceaccounts:default".into()],
        );
        let bob = User::authenticated("bob".into(), String::new(), vec![]);
        let admin = User::authenticated("system:admin".into(), String::new(), vec!["system:masters".into()]);
        use http::Method as M;
        let cases: &[(&User, M, &str, bool)] = &[
            (&sa, M::GET, "/.well-known/openid-configuration", true),
            (&sa, M::GET, "/.well-known/openid-configuration/", true),
            (&sa, M::GET, "/openid/v1/jwks", true),
            (&sa, M::GET, "/openid/v1/jwks/", true),
            (&sa, M::POST, "/openid/v1/jwks", false),
            (&sa, M::GET, "/openid/v1", false),
            (&sa, M::GET, "/metrics", false),
            // Discovery and self-review, as for every authenticated user; nothing else.
            (&sa, M::GET, "/apis", true),
            (&sa, M::POST, "/apis/authentication.k8s.io/v1/selfsubjectreviews", true),
            (&sa, M::POST, "/apis/authentication.k8s.io/v1/tokenreviews", false),
            (&sa, M::GET, "/api/v1/namespaces/default/pods", false),
            (&sa, M::POST, "/api/v1/namespaces/default/serviceaccounts/default/token", false),
            (&bob, M::GET, "/openid/v1/jwks", false),
            (&bob, M::GET, "/.well-known/openid-configuration", false),
            (&admin, M::GET, "/openid/v1/jwks", true),
        ];
        for (user, method, path, allowed) in cases {
            assert_eq!(authorize(user, &info(method.clone(), path)).is_ok(), *allowed, "{} {method} {path}", user.name);
        }
        let anon = authorize(&User::anonymous(), &info(M::GET, "/openid/v1/jwks")).expect_err("anonymous");
        assert_eq!(anon.to_string(), "forbidden: User \"system:anonymous\" cannot get path \"/openid/v1/jwks\"");
    }

    #[test]
    fn decisions() {
        let admin = User::authenticated("system:admin".into(), String::new(), vec!["system:masters".into()]);
        let bob = User::authenticated("bob".into(), String::new(), vec![]);
        let anon = User::anonymous();
        assert!(authorize(&admin, &info(http::Method::DELETE, "/api/v1/namespaces/x")).is_ok());
        assert!(authorize(&anon, &info(http::Method::GET, "/readyz")).is_ok());
        assert!(authorize(&anon, &info(http::Method::GET, "/version")).is_ok());
        let check = |user: &User, method, path: &str, message: &str| {
            let err = authorize(user, &info(method, path)).expect_err("must refuse");
            assert_eq!(err.code(), 403);
            assert_eq!(err.to_string(), message);
        };
        check(&anon, http::Method::GET, "/api", "forbidden: User \"system:anonymous\" cannot get path \"/api\"");
        check(
            &bob,
            http::Method::GET,
            "/api/v1/namespaces/default/pods",
            "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"",
        );
        check(
            &bob,
            http::Method::GET,
            "/apis/apps/v1/deployments",
            "deployments.apps is forbidden: User \"bob\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope",
        );
        let node = User::authenticated("system:node:worker-1".into(), String::new(), vec!["system:nodes".into()]);
        check(
            &node,
            http::Method::POST,
            "/api/v1/namespaces",
            "namespaces is forbidden: User \"system:node:worker-1\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope",
        );
        check(
            &bob,
            http::Method::GET,
            "/api/v1/namespaces/default/pods/web/log",
            "pods \"web\" is forbidden: User \"bob\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"default\"",
        );
    }
}
