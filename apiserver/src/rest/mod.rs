//! The REST verbs on stored resources, as kube-apiserver's generic registry
//! serves them: one file per operation. This module routes a parsed
//! request to its operation, reads request bodies and writes responses in
//! the negotiated format. It never touches sockets.

mod create;
mod delete;
mod eviction;
mod list;
mod object;
mod review;
mod token_request;
mod update;
pub(crate) mod watch;

use bytes::Bytes;
use serde_json::Value;

use crate::Api;
use crate::catalog::{self, Resource};
use crate::http::{Reply, json_reply};
use crate::negotiate::{self, BodyType, Format};
use crate::request::{Query, ResourceRequest};
use crate::schema::{self, FieldValidation};
use crate::status::{ApiError, GroupResource};

pub(crate) use object::{new_uid, now_rfc3339};

/// Bodies larger than this are refused, as kube-apiserver refuses them (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// One request to a resource, resolved.
pub(crate) struct Ctx<'a> {
    pub api: &'a std::sync::Arc<Api>,
    pub req: &'a ResourceRequest,
    pub resource: &'static Resource,
    pub query: &'a Query,
    pub format: Format,
    pub field_validation: FieldValidation,
    /// Sent back as `Warning` headers.
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl Ctx<'_> {
    pub fn gr(&self) -> GroupResource {
        GroupResource::new(self.resource.group, self.resource.plural)
    }

    pub fn namespace(&self) -> Option<&str> {
        if self.resource.namespaced { self.req.namespace.as_deref() } else { None }
    }

    /// `dryRun=All`: validate and answer, write nothing.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.query.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!("Invalid dryRun value: {other}. Valid values are: All"))),
        }
    }

    /// Drops the fields the kind does not have, as decoding into upstream's
    /// Go types does; refuses them under `fieldValidation=Strict` and
    /// warns of them under `Warn`. Kinds without a schema are left alone.
    pub fn check_fields(&self, obj: &mut Value) -> Result<(), ApiError> {
        let (group, version, kind) = (self.resource.group, self.resource.version, self.resource.kind);
        let Some(type_name) = schema::root_type(&crate::storage::api_version(group, version), kind) else {
            return Ok(());
        };
        let unknown = schema::prune_unknown(obj, type_name);
        if unknown.is_empty() {
            return Ok(());
        }
        let described = unknown.iter().map(|path| format!("unknown field \"{path}\""));
        match self.field_validation {
            FieldValidation::Ignore => Ok(()),
            FieldValidation::Warn => {
                self.warnings.lock().unwrap_or_else(|e| e.into_inner()).extend(described);
                Ok(())
            }
            FieldValidation::Strict => Err(ApiError::BadRequest(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                described.collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// An object or list in the negotiated format.
    pub fn respond(&self, code: u16, value: Value) -> Reply {
        match self.format {
            Format::Table { version } => match crate::table::to_table(self.resource, &value, self.query, version) {
                Ok(table) => json_reply(code, &table),
                Err(err) => crate::http::error_reply(&err),
            },
            Format::Metadata { version } => json_reply(code, &crate::negotiate::partial_metadata(&value, version)),
            Format::Yaml => crate::http::yaml_reply(code, &value),
            Format::Json => json_reply(code, &value),
        }
    }
}

pub(crate) async fn handle(
    api: &std::sync::Arc<Api>,
    user: &crate::auth::User,
    req: &ResourceRequest,
    query: &Query,
    accept: Option<&str>,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<Reply, ApiError> {
    let resource = catalog::find(&req.group, &req.version, &req.resource).ok_or(ApiError::NoSuchResource)?;
    if req.namespace.is_some() && !resource.namespaced {
        return Err(ApiError::NoSuchResource);
    }
    let verb = req.verb;
    let allowed = match &req.subresource {
        Some(sub) => {
            let sub = resource.subresource(sub).ok_or(ApiError::NoSuchResource)?;
            let wanted = verb;
            sub.verbs.contains(&wanted)
        }
        None => resource.has_verb(verb),
    };
    if !allowed {
        return Err(ApiError::MethodNotSupported { gr: GroupResource::new(resource.group, resource.plural) });
    }
    let format = negotiate::object_format(accept)?;
    if !resource.stored {
        let ctx = Ctx {
            api,
            req,
            resource,
            query,
            format,
            field_validation: FieldValidation::Ignore,
            warnings: Default::default(),
        };
        return match (verb, req.subresource.as_deref()) {
            ("create", None) if review::answers(resource.kind) => {
                review::create(&ctx, user, decode_body(content_type, &body)?).await
            }
            ("get" | "list", None) if resource.kind == "ComponentStatus" => {
                review::component_statuses(&ctx, req.name.as_deref()).await
            }
            // Bindings are created through pods/binding; a bare `bindings` POST is not served yet.
            _ => Err(ApiError::MethodNotSupported { gr: GroupResource::new(resource.group, resource.plural) }),
        };
    }
    let field_validation = FieldValidation::parse(query.get("fieldValidation")).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "invalid fieldValidation value: {}; supported values: \"Ignore\", \"Warn\", \"Strict\"",
            query.get("fieldValidation").unwrap_or_default()
        ))
    })?;
    let ctx = Ctx { api, req, resource, query, format, field_validation, warnings: Default::default() };
    let reply = dispatch(&ctx, content_type, body).await?;
    let mut warnings = ctx.warnings.into_inner().unwrap_or_else(|e| e.into_inner());
    // An update retried after a lost race checks its fields again.
    warnings.dedup();
    Ok(if warnings.is_empty() { reply } else { Reply::Warned { warnings, reply: Box::new(reply) } })
}

async fn dispatch(ctx: &Ctx<'_>, content_type: Option<&str>, body: Bytes) -> Result<Reply, ApiError> {
    let (req, query) = (ctx.req, ctx.query);
    let verb = req.verb;
    let name = req.name.as_deref();
    match (verb, req.subresource.as_deref(), name) {
        ("get", None | Some("status"), Some(name)) => object::get(ctx, name).await,
        ("get", Some("scale"), Some(name)) => object::get_scale(ctx, name).await,
        ("list", None, None) => list::list(ctx).await,
        ("watch", None, _) => watch::watch(ctx).await,
        ("create", None, None) => create::create(ctx, decode_body(content_type, &body)?).await,
        ("create", Some("token"), Some(name)) if ctx.resource.plural == "serviceaccounts" => {
            token_request::create(ctx, name, decode_body(content_type, &body)?).await
        }
        ("create", Some(sub @ ("binding" | "eviction")), Some(name)) => {
            create::create_subresource(ctx, name, sub, decode_body(content_type, &body)?).await
        }
        ("update", sub @ (None | Some("status" | "finalize")), Some(name)) => {
            update::update(ctx, name, sub, decode_body(content_type, &body)?).await
        }
        ("update", Some("scale"), Some(name)) => {
            update::update_scale(ctx, name, decode_body(content_type, &body)?).await
        }
        ("patch", sub @ (None | Some("status" | "scale")), Some(name)) => {
            update::patch(ctx, name, sub, negotiate::body_type(content_type)?, &body).await
        }
        ("delete", None, Some(name)) => delete::delete(ctx, name, delete_options(content_type, &body, query)?).await,
        ("deletecollection", None, None) => {
            delete::delete_collection(ctx, delete_options(content_type, &body, query)?).await
        }
        _ => Err(ApiError::MethodNotSupported { gr: ctx.gr() }),
    }
}

/// A request body as a JSON object (JSON or YAML on the wire).
pub(crate) fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
    let value = match negotiate::body_type(content_type)? {
        BodyType::Json => serde_json::from_slice::<Value>(body)
            .map_err(|e| ApiError::BadRequest(format!("the object provided is unrecognized: {e}")))?,
        BodyType::Protobuf => crate::protobuf::decode(body)
            .map_err(|e| ApiError::BadRequest(format!("the object provided is unrecognized: {e}")))?,
        BodyType::Yaml => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::BadRequest("the YAML body is not valid UTF-8".into()))?;
            serde_saphyr::from_str::<Value>(text)
                .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: {e}")))?
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json, application/yaml, application/vnd.kubernetes.protobuf"
                    .into(),
            ));
        }
    };
    if !value.is_object() {
        return Err(ApiError::BadRequest("the object provided is unrecognized: the body is not a JSON object".into()));
    }
    Ok(value)
}

/// DeleteOptions from the body, or from query parameters as kubectl may send them.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

fn delete_options(content_type: Option<&str>, body: &[u8], query: &Query) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions::default();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let value: Value = match negotiate::body_type(content_type) {
            Ok(BodyType::Protobuf) => crate::protobuf::decode(body)
                .map_err(|e| ApiError::BadRequest(format!("the body of DeleteOptions is not valid: {e}")))?,
            _ => serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("the body of DeleteOptions is not valid JSON: {e}")))?,
        };
        opts = DeleteOptions::from_object(&value);
    }
    if let Some(grace) = query.get("gracePeriodSeconds") {
        opts.grace_period_seconds =
            Some(grace.parse().map_err(|_| ApiError::BadRequest(format!("invalid gracePeriodSeconds: {grace}")))?);
    }
    if let Some(policy) = query.get("propagationPolicy") {
        opts.propagation_policy = Some(policy.to_string());
    }
    if query.get("dryRun") == Some("All") {
        opts.dry_run = true;
    }
    opts.checked()
}

impl DeleteOptions {
    /// The fields of a `metav1.DeleteOptions` object (a DELETE's body, an Eviction's `deleteOptions`).
    pub(crate) fn from_object(value: &Value) -> DeleteOptions {
        let mut opts = DeleteOptions {
            grace_period_seconds: value.get("gracePeriodSeconds").and_then(Value::as_i64),
            propagation_policy: value.get("propagationPolicy").and_then(Value::as_str).map(String::from),
            precondition_uid: value.pointer("/preconditions/uid").and_then(Value::as_str).map(String::from),
            precondition_resource_version: value
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(String::from),
            dry_run: value.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All")),
        };
        if let Some(true) = value.get("orphanDependents").and_then(Value::as_bool) {
            opts.propagation_policy.get_or_insert_with(|| "Orphan".into());
        }
        opts
    }

    /// Refuses a propagation policy upstream does not know.
    pub(crate) fn checked(self) -> Result<DeleteOptions, ApiError> {
        match self.propagation_policy.as_deref() {
            None | Some("Orphan" | "Background" | "Foreground") => Ok(self),
            Some(other) => Err(ApiError::BadRequest(format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": \
                 supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            ))),
        }
    }
}
