//! The resources that answer a question instead of storing an object:
//! access reviews (`kubectl auth can-i`), rules reviews, SelfSubjectReview
//! (`kubectl auth whoami`), TokenReview (the token file and service-account
//! tokens, as the API's own bearer-token authentication sees them), and
//! ComponentStatus (`kubectl get cs`). Until RBAC exists the authorizer is
//! the one in `auth.rs`: `system:masters` may do anything, everyone else
//! nothing, and the reviews say exactly that.

use serde_json::{Value, json};

use super::Ctx;
use crate::auth::User;
use crate::http::Reply;
use crate::status::ApiError;
use crate::tokens::TokenRejected;

const MASTERS: &str = "system:masters";

/// Whether this resource is answered here.
pub(crate) fn answers(kind: &str) -> bool {
    matches!(
        kind,
        "SelfSubjectAccessReview"
            | "SubjectAccessReview"
            | "LocalSubjectAccessReview"
            | "SelfSubjectRulesReview"
            | "SelfSubjectReview"
            | "TokenReview"
    )
}

/// POST of a review: the request with its `status` filled in, as 201.
pub(crate) async fn create(ctx: &Ctx<'_>, user: &User, mut body: Value) -> Result<Reply, ApiError> {
    let resource = ctx.resource;
    super::create::check_type(
        ctx,
        &mut body,
        resource.kind,
        &crate::storage::api_version(resource.group, resource.version),
    )?;
    let is_master = |groups: &[String]| groups.iter().any(|g| g == MASTERS);
    let status = match resource.kind {
        "SelfSubjectAccessReview" => access(is_master(&user.groups)),
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            if resource.kind == "LocalSubjectAccessReview" {
                let asked = body.pointer("/spec/resourceAttributes/namespace").and_then(Value::as_str);
                if asked.is_some_and(|ns| Some(ns) != ctx.namespace()) {
                    return Err(ApiError::BadRequest(format!(
                        "spec.resourceAttributes.namespace must match namespace: {}",
                        ctx.namespace().unwrap_or("")
                    )));
                }
            }
            let groups: Vec<String> = body
                .pointer("/spec/groups")
                .and_then(Value::as_array)
                .map(|g| g.iter().filter_map(|g| g.as_str().map(String::from)).collect())
                .unwrap_or_default();
            access(is_master(&groups))
        }
        "SelfSubjectRulesReview" => {
            if is_master(&user.groups) {
                json!({
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": false,
                })
            } else {
                json!({"resourceRules": [], "nonResourceRules": [], "incomplete": false})
            }
        }
        "SelfSubjectReview" => json!({"userInfo": user_info(user)}),
        "TokenReview" => token_review(ctx.api, &body).await?,
        _ => return Err(ApiError::MethodNotSupported { gr: ctx.gr() }),
    };
    if let Some(map) = body.as_object_mut() {
        map.insert("status".into(), status);
        let meta = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("creationTimestamp".into(), Value::Null);
        }
    }
    Ok(Ctx::respond_raw_json(201, body))
}

fn access(allowed: bool) -> Value {
    if allowed { json!({"allowed": true}) } else { json!({"allowed": false}) }
}

fn user_info(user: &User) -> Value {
    let mut info = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        info["extra"] = json!(user.extra);
    }
    info
}

/// A TokenReview's status, as upstream's TokenReview REST answers: the
/// token goes through the bearer-token authenticators for
/// `spec.audiences` (none: the API server's own). The token file is not
/// audience-aware and answers only when the request's audiences include
/// the API server's (upstream's `WrapAudienceAgnosticToken`);
/// service-account tokens answer for the audiences they share with the
/// request. Either way `status.audiences` are the ones the token was
/// accepted for.
async fn token_review(api: &crate::Api, body: &Value) -> Result<Value, ApiError> {
    let token = body.pointer("/spec/token").and_then(Value::as_str).unwrap_or("");
    if token.is_empty() {
        return Err(ApiError::BadRequest("token is required for TokenReview in authentication".into()));
    }
    let requested: Vec<String> = body
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default();
    let own = api.service_account_tokens.audiences();
    let audiences = if requested.is_empty() { own.to_vec() } else { requested };
    let reviewed = match api.tokens.user(token) {
        Some(found) => {
            let shared: Vec<String> = own.iter().filter(|a| audiences.contains(a)).cloned().collect();
            if shared.is_empty() { Err(TokenRejected::NotOurs) } else { Ok((found.clone(), shared)) }
        }
        None => crate::auth::service_account_user(api, token, crate::tokens::unix_now(), &audiences).await,
    };
    Ok(match reviewed {
        Ok((user, audiences)) => json!({"authenticated": true, "user": user_info(&user), "audiences": audiences}),
        Err(e) => json!({"user": {}, "error": e.to_string()}),
    })
}

/// `kubectl get componentstatuses`: the store answers or not, the
/// controllers run in this process, the scheduler is not built yet.
pub(crate) async fn component_statuses(ctx: &Ctx<'_>, name: Option<&str>) -> Result<Reply, ApiError> {
    let etcd = match ctx.api.store.current_revision().await {
        Ok(_) => ("True", "ok".to_string(), None),
        Err(e) => ("False", String::new(), Some(e.to_string())),
    };
    let item = |name: &str, (healthy, message, error): (&str, String, Option<String>)| {
        let mut condition = json!({"type": "Healthy", "status": healthy, "message": message});
        if let Some(error) = error {
            condition["error"] = json!(error);
        }
        json!({
            "kind": "ComponentStatus", "apiVersion": "v1",
            "metadata": {"name": name, "creationTimestamp": null},
            "conditions": [condition],
        })
    };
    let items = vec![
        item("controller-manager", ("True", "ok".into(), None)),
        item("scheduler", ("False", String::new(), Some("the scheduler is not part of bramble yet".into()))),
        item("etcd-0", etcd),
    ];
    match name {
        Some(name) => items
            .into_iter()
            .find(|i| i["metadata"]["name"] == name)
            .map(|i| ctx.respond(200, i))
            .ok_or_else(|| ApiError::not_found("", "componentstatuses", name)),
        None => Ok(ctx
            .respond(200, json!({"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": items}))),
    }
}
