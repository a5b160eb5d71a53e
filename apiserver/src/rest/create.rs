//! POST: a new object, with its system metadata, defaults and validation,
//! in a namespace that exists and is not terminating; and the two
//! subresources that are created rather than updated (`pods/binding`,
//! `pods/eviction`).

use kvstore::datastore::WriteOutcome;
use serde_json::{Value, json};

use super::Ctx;
use super::object::{self, check_namespace, metadata_mut};
use crate::admission;
use crate::http::Reply;
use crate::status::ApiError;
use crate::storage;
use crate::strategy;

/// Checks `apiVersion` and `kind` of a body against the resource, filling them in when absent.
pub(crate) fn check_type(ctx: &Ctx<'_>, obj: &mut Value, kind: &str, api_version: &str) -> Result<(), ApiError> {
    let map = obj.as_object_mut().ok_or_else(|| ApiError::BadRequest("the body is not a JSON object".into()))?;
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(kind));
        }
        Some(k) if k == kind => {}
        Some(k) => {
            return Err(ApiError::BadRequest(format!(
                "the kind in the data ({k}) does not match the expected kind ({kind}) for {}",
                ctx.gr()
            )));
        }
    }
    Ok(())
}

/// A body that names a namespace other than the URL's is refused, as upstream refuses it.
pub(crate) fn check_body_namespace(ctx: &Ctx<'_>, obj: &Value) -> Result<(), ApiError> {
    match (ctx.namespace(), storage::namespace_of(obj)) {
        (Some(url), Some(body)) if body != url => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request".into(),
        )),
        _ => Ok(()),
    }
}

pub(crate) async fn create(ctx: &Ctx<'_>, mut obj: Value) -> Result<Reply, ApiError> {
    let resource = ctx.resource;
    let dry_run = ctx.dry_run()?;
    check_type(ctx, &mut obj, resource.kind, &storage::api_version(resource.group, resource.version))?;
    ctx.check_fields(&mut obj)?;
    check_body_namespace(ctx, &obj)?;
    let namespace = ctx.namespace().map(String::from);
    {
        let meta = metadata_mut(&mut obj)?;
        match namespace.as_deref() {
            Some(url) => meta.insert("namespace".into(), json!(url)),
            None => meta.remove("namespace"),
        };
        let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty()
            && let Some(prefix) = meta.get("generateName").and_then(Value::as_str).filter(|p| !p.is_empty())
        {
            let generated = object::generated_name(prefix);
            meta.insert("name".into(), json!(generated));
        }
        meta.insert("uid".into(), json!(object::new_uid()));
        meta.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
        for field in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            meta.remove(field);
        }
        if strategy::tracks_generation(resource) {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
    }
    admission::admit_create(ctx.api, resource, &mut obj).await?;
    if let Some(status) = strategy::initial_status(resource, &obj)
        && let Some(map) = obj.as_object_mut()
    {
        if status.as_object().is_some_and(|s| s.is_empty()) {
            map.remove("status");
        } else {
            map.insert("status".into(), status);
        }
    }
    if resource.plural == "namespaces" && resource.group.is_empty() {
        let spec = obj.as_object_mut().map(|m| m.entry("spec").or_insert_with(|| json!({})));
        if let Some(spec) = spec.and_then(Value::as_object_mut) {
            spec.entry("finalizers").or_insert_with(|| json!(["kubernetes"]));
        }
    }
    if let Some(ns) = &namespace {
        check_namespace(ctx, ns).await?;
    }
    let name = storage::name_of(&obj).to_string();
    if dry_run {
        return Ok(ctx.respond(201, obj));
    }
    let key = storage::key(resource, namespace.as_deref(), &name);
    let is_service = crate::service_ips::is_services(resource);
    let claims = match (is_service, namespace.as_deref()) {
        (true, Some(ns)) => {
            if ctx.api.store.get(&key).await?.is_some() {
                return Err(ApiError::AlreadyExists { gr: ctx.gr(), name });
            }
            Some(crate::service_ips::allocate(ctx.api, &mut obj, ns, &name).await?)
        }
        _ => None,
    };
    let bytes = storage::encode(resource, &obj)?;
    let lease = ctx.api.expiry.lease_for(ctx.api.store.as_ref(), resource).await?;
    let outcome = ctx.api.store.create(&key, &bytes, lease).await;
    if !matches!(outcome, Ok(WriteOutcome::Written { .. }))
        && let Some(claims) = &claims
    {
        crate::service_ips::release_claims(ctx.api, claims).await;
    }
    match outcome? {
        WriteOutcome::Written { revision } => {
            let created = storage::decode_at(resource, &bytes, revision)?;
            Ok(ctx.respond(201, created))
        }
        WriteOutcome::Conflict { .. } => Err(ApiError::AlreadyExists { gr: ctx.gr(), name }),
    }
}

/// `pods/binding` (sets `spec.nodeName` once) and `pods/eviction` (deletes the
/// pod if its disruption budget allows, see `eviction.rs`).
pub(crate) async fn create_subresource(ctx: &Ctx<'_>, name: &str, sub: &str, body: Value) -> Result<Reply, ApiError> {
    match sub {
        "binding" => bind(ctx, name, body).await,
        "eviction" => super::eviction::evict(ctx, name, body).await,
        _ => Err(ApiError::NoSuchResource),
    }
}

/// The pod's `PodScheduled` condition set to True; its transition time
/// moves only when its status changes, as upstream's UpdatePodCondition does.
fn set_pod_scheduled(pod: &mut Value) {
    let Some(obj) = pod.as_object_mut() else { return };
    let status = obj.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else { return };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(conditions) = conditions.as_array_mut() else { return };
    match conditions.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(c) if c["status"] == "True" => {}
        Some(c) => {
            c["status"] = json!("True");
            c["lastTransitionTime"] = json!(object::now_rfc3339());
            if let Some(c) = c.as_object_mut() {
                c.remove("reason");
                c.remove("message");
            }
        }
        None => conditions.push(json!({
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": null,
            "lastTransitionTime": object::now_rfc3339(),
        })),
    }
}

async fn bind(ctx: &Ctx<'_>, name: &str, body: Value) -> Result<Reply, ApiError> {
    let node = body.pointer("/target/name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or_else(|| {
        ApiError::Invalid {
            qualified_kind: "Binding".into(),
            group: String::new(),
            kind: "Binding".into(),
            name: name.into(),
            message: format!("Binding \"{name}\" is invalid: target.name: Required value"),
            causes: vec![crate::status::Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "target.name".into(),
            }],
        }
    })?;
    loop {
        let current = object::load_existing(ctx, name).await?;
        let mut pod = current.obj;
        if pod.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty()) {
            return Err(ApiError::Conflict {
                gr: ctx.gr(),
                name: name.into(),
                detail: format!(
                    "pod {name} is already assigned to node \"{}\"",
                    pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("")
                ),
            });
        }
        if pod.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
            return Err(ApiError::Conflict {
                gr: ctx.gr(),
                name: name.into(),
                detail: format!("pod {name} is being deleted, cannot be assigned to a host"),
            });
        }
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("nodeName".into(), json!(node));
        }
        // As upstream's binding: the binding's annotations go onto the pod, and PodScheduled becomes True.
        if let Some(annotations) = body.pointer("/metadata/annotations").and_then(Value::as_object)
            && !annotations.is_empty()
        {
            let meta = object::metadata_mut(&mut pod)?;
            let target = meta.entry("annotations").or_insert_with(|| json!({}));
            if let Some(target) = target.as_object_mut() {
                target.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        set_pod_scheduled(&mut pod);
        let key = storage::key(ctx.resource, ctx.namespace(), name);
        let bytes = storage::encode(ctx.resource, &pod)?;
        match ctx.api.store.update(&key, &bytes, current.revision, 0).await? {
            WriteOutcome::Written { .. } => {
                return Ok(Ctx::respond_raw_json(
                    201,
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                ));
            }
            WriteOutcome::Conflict { .. } => continue,
        }
    }
}
