//! `serviceaccounts/{name}/token`: the TokenRequest API (`kubectl create
//! token`, the kubelet's projected `kube-api-access-*` volumes), as
//! upstream's token REST answers it. Nothing is stored; the token is
//! signed by `tokens.rs`. Tokens are not extended past their requested
//! lifetime (upstream's `warnafter` extension of 3607-second pod tokens).

use serde_json::{Value, json};

use super::Ctx;
use crate::http::Reply;
use crate::status::{ApiError, Cause, GroupResource};
use crate::tokens::{self, ObjectRef, TokenGrant};
use crate::validation::{self, FieldError};

const API_VERSION: &str = "authentication.k8s.io/v1";
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Upstream's MinTokenAgeSec: ten minutes.
const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Upstream's MaxTokenAgeSec: 2^32 seconds.
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

pub(crate) async fn create(ctx: &Ctx<'_>, name: &str, mut body: Value) -> Result<Reply, ApiError> {
    super::create::check_type(ctx, &mut body, "TokenRequest", API_VERSION)?;
    let namespace = ctx.namespace().unwrap_or("default").to_string();
    let sa = super::object::load_existing(ctx, name).await?.obj;
    let sa_uid = sa.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_string();

    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let lifetime = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::BadRequest(format!("TokenRequest in version \"v1\" cannot be handled: expirationSeconds: {v}"))
        })?,
    };
    let mut errors = Vec::new();
    if lifetime < MIN_EXPIRATION_SECONDS {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            json!(lifetime),
            "may not specify a duration less than 10 minutes",
        ));
    }
    if lifetime > MAX_EXPIRATION_SECONDS {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            json!(lifetime),
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    if !errors.is_empty() {
        return Err(invalid(&errors));
    }
    let audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| ctx.api.service_account_tokens.audiences().to_vec());

    let mut grant = TokenGrant {
        namespace: namespace.clone(),
        service_account: ObjectRef { name: name.to_string(), uid: sa_uid },
        audiences: audiences.clone(),
        lifetime_seconds: lifetime,
        pod: None,
        secret: None,
        node: None,
    };
    let bound = spec.get("boundObjectRef").filter(|r| r.is_object());
    if let Some(reference) = bound {
        bind(ctx, name, &namespace, reference, &mut grant).await?;
    }

    let now = tokens::unix_now();
    let signer = &ctx.api.service_account_tokens;
    let claims = signer.claims(&grant, now);
    let token = signer.sign(&claims).map_err(|e| ApiError::Internal(e.to_string()))?;

    let mut spec_out = json!({"audiences": audiences, "expirationSeconds": lifetime});
    if let Some(reference) = bound {
        spec_out["boundObjectRef"] = reference.clone();
    }
    let reply = json!({
        "kind": "TokenRequest",
        "apiVersion": API_VERSION,
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
        "spec": spec_out,
        "status": {"token": token, "expirationTimestamp": crate::time::format_rfc3339(claims.exp)},
    });
    Ok(Ctx::respond_raw_json(201, reply))
}

/// The object the token is bound to: it must exist, have the given uid,
/// and (for a pod) run as this service account.
async fn bind(
    ctx: &Ctx<'_>,
    sa_name: &str,
    namespace: &str,
    reference: &Value,
    grant: &mut TokenGrant,
) -> Result<(), ApiError> {
    let field = |f: &str| reference.get(f).and_then(Value::as_str).unwrap_or("");
    let (kind, api_version, name, uid) = (field("kind"), field("apiVersion"), field("name"), field("uid"));
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let plural = match (group, kind) {
        ("", "Pod") => "pods",
        ("", "Secret") => "secrets",
        ("", "Node") => "nodes",
        _ => {
            let gvk =
                if api_version.is_empty() { format!(", Kind={kind}") } else { format!("{api_version}, Kind={kind}") };
            return Err(ApiError::BadRequest(format!(
                "cannot bind token for serviceaccount \"{sa_name}\" to object of kind \"{gvk}\""
            )));
        }
    };
    let scope = if plural == "nodes" { None } else { Some(namespace) };
    let obj =
        tokens::stored(ctx.api, plural, scope, name).await?.ok_or_else(|| ApiError::not_found("", plural, name))?;
    let actual = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_string();
    if !uid.is_empty() && uid != actual {
        return Err(ApiError::Conflict {
            gr: GroupResource::new("", kind),
            name: name.to_string(),
            detail: format!(
                "the UID in the bound object reference ({uid}) does not match the UID in record. \
                 The object might have been deleted and then recreated"
            ),
        });
    }
    let this = Some(ObjectRef { name: name.to_string(), uid: actual });
    match plural {
        "pods" => {
            let runs_as = obj.pointer("/spec/serviceAccountName").and_then(Value::as_str).unwrap_or("default");
            if runs_as != sa_name {
                return Err(ApiError::BadRequest(format!(
                    "cannot bind token for serviceaccount \"{sa_name}\" to pod running with different serviceaccount name."
                )));
            }
            grant.pod = this;
            // Upstream embeds the pod's node, with its uid when the node exists.
            if let Some(node) = obj.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                let node_uid = tokens::stored(ctx.api, "nodes", None, node)
                    .await?
                    .and_then(|n| n.pointer("/metadata/uid").and_then(Value::as_str).map(String::from))
                    .unwrap_or_default();
                grant.node = Some(ObjectRef { name: node.to_string(), uid: node_uid });
            }
        }
        "secrets" => grant.secret = this,
        _ => grant.node = this,
    }
    Ok(())
}

/// Upstream's `errors.NewInvalid` for a TokenRequest (the name is empty).
fn invalid(errors: &[FieldError]) -> ApiError {
    ApiError::Invalid {
        qualified_kind: "TokenRequest.authentication.k8s.io".into(),
        group: "authentication.k8s.io".into(),
        kind: "TokenRequest".into(),
        name: String::new(),
        message: validation::invalid_message("TokenRequest", "authentication.k8s.io", "", errors),
        causes: errors
            .iter()
            .map(|e| Cause { reason: e.kind.reason().to_string(), message: e.cause_message(), field: e.field.clone() })
            .collect(),
    }
}
