//! PUT and PATCH: read the current object, compute the new one, keep what
//! the client may not change (system metadata; status through the main
//! resource; everything but status through `status`), count spec changes
//! in `generation`, and write with compare-and-swap on the revision read.
//! A write without a resourceVersion precondition retries on a lost race,
//! as upstream's GuaranteedUpdate does; one with a precondition gets 409.

use kvstore::datastore::WriteOutcome;
use serde_json::{Value, json};

use super::Ctx;
use super::object::{self, Current};
use crate::admission;
use crate::http::Reply;
use crate::negotiate::BodyType;
use crate::status::ApiError;
use crate::storage;
use crate::strategy;

/// Writes are retried this often when they race and carry no precondition.
const MAX_RETRIES: usize = 16;

fn resource_version_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// An update that leaves a Service's ClusterIP or node ports empty keeps
/// the allocated ones, as upstream's `patchAllocatedValues` does (so
/// `kubectl replace` of a manifest without them changes nothing).
fn keep_allocated_values(old: &Value, new: &mut Value) {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let old_spec = &old["spec"];
    let same_type = spec.get("type") == old_spec.get("type") || spec.get("type").is_none();
    if spec.get("clusterIP").and_then(Value::as_str).unwrap_or("").is_empty()
        && let Some(ip) = old_spec.get("clusterIP").filter(|ip| ip.as_str().is_some_and(|s| !s.is_empty()))
    {
        spec.insert("clusterIP".into(), ip.clone());
        if let Some(ips) = old_spec.get("clusterIPs") {
            spec.insert("clusterIPs".into(), ips.clone());
        }
    }
    if !same_type {
        return;
    }
    let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) else { return };
    for port in ports.iter_mut().filter(|p| p.get("nodePort").is_none_or(|n| n.as_u64() == Some(0))) {
        let matching = old_spec["ports"].as_array().and_then(|old_ports| {
            old_ports.iter().find(|o| {
                o["port"] == port["port"]
                    && o.get("protocol").unwrap_or(&json!("TCP")) == port.get("protocol").unwrap_or(&json!("TCP"))
            })
        });
        if let (Some(node_port), Some(port)) = (matching.and_then(|o| o.get("nodePort")), port.as_object_mut()) {
            port.insert("nodePort".into(), node_port.clone());
        }
    }
}

/// The object to write, from the current one and the client's new one.
fn merge_system_fields(ctx: &Ctx<'_>, sub: Option<&str>, old: &Value, new: Value) -> Result<Value, ApiError> {
    let resource = ctx.resource;
    let mut result = match sub {
        Some("status") => {
            let mut result = old.clone();
            if let Some(map) = result.as_object_mut() {
                match new.get("status") {
                    Some(status) => map.insert("status".into(), status.clone()),
                    None => map.remove("status"),
                };
            }
            result
        }
        Some("finalize") => {
            let mut result = old.clone();
            let finalizers = new.pointer("/spec/finalizers").cloned().unwrap_or_else(|| json!([]));
            if let Some(spec) = result.as_object_mut().map(|m| m.entry("spec").or_insert_with(|| json!({})))
                && let Some(spec) = spec.as_object_mut()
            {
                spec.insert("finalizers".into(), finalizers);
            }
            result
        }
        _ => {
            let mut result = new;
            if strategy::has_status_subresource(resource)
                && let Some(map) = result.as_object_mut()
            {
                match old.get("status") {
                    Some(status) => map.insert("status".into(), status.clone()),
                    None => map.remove("status"),
                };
            }
            result
        }
    };
    {
        let old_meta = old.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
        let meta = object::metadata_mut(&mut result)?;
        for field in
            ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name"]
        {
            match old_meta.get(field) {
                Some(v) => meta.insert(field.into(), v.clone()),
                None => meta.remove(field),
            };
        }
        meta.remove("selfLink");
        // A client that leaves managedFields out keeps them, as upstream's field manager does.
        if !meta.contains_key("managedFields")
            && let Some(managed) = old_meta.get("managedFields")
        {
            meta.insert("managedFields".into(), managed.clone());
        }
        match old_meta.get("resourceVersion") {
            Some(v) => meta.insert("resourceVersion".into(), v.clone()),
            None => meta.remove("resourceVersion"),
        };
        if let Some(generation) = old_meta.get("generation") {
            meta.insert("generation".into(), generation.clone());
        } else {
            meta.remove("generation");
        }
    }
    if crate::service_ips::is_services(resource) && sub.is_none() {
        keep_allocated_values(old, &mut result);
    }
    if strategy::tracks_generation(resource) && strategy::spec_changed(old, &result) {
        let next = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
        object::metadata_mut(&mut result)?.insert("generation".into(), json!(next));
    }
    Ok(result)
}

/// The read-compute-write loop every update and patch goes through.
async fn guaranteed_update<F>(ctx: &Ctx<'_>, name: &str, sub: Option<&str>, compute: F) -> Result<Value, ApiError>
where
    F: Fn(&Current) -> Result<(Value, bool), ApiError>,
{
    let dry_run = ctx.dry_run()?;
    let resource = ctx.resource;
    for _ in 0..MAX_RETRIES {
        let current = object::load_existing(ctx, name).await?;
        // `compute` says whether the client gave a resourceVersion precondition.
        let (new, preconditioned) = compute(&current)?;
        if storage::name_of(&new) != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                storage::name_of(&new)
            )));
        }
        let mut new = merge_system_fields(ctx, sub, &current.obj, new)?;
        if sub != Some("status") {
            admission::admit_update(ctx.api, resource, &mut new, &current.obj).await?;
        }
        if new == current.obj {
            // A no-op update writes nothing and keeps the resourceVersion.
            return Ok(new);
        }
        let deleting = new.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null());
        // A namespace is held by its spec's finalizers too (upstream's ShouldDeleteNamespaceDuringUpdate).
        let finalizers_left = ["/metadata/finalizers", "/spec/finalizers"]
            .iter()
            .filter(|path| **path == "/metadata/finalizers" || is_namespaces(resource))
            .any(|path| new.pointer(path).and_then(Value::as_array).is_some_and(|f| !f.is_empty()));
        if dry_run {
            return Ok(new);
        }
        let key = storage::key(resource, ctx.namespace(), name);
        if deleting && !finalizers_left && !super::delete::waits_for_kubelet(resource, &new) {
            // The last finalizer is gone: the object goes now.
            match ctx.api.store.delete(&key, Some(current.revision)).await? {
                WriteOutcome::Written { revision } => {
                    object::metadata_mut(&mut new)?.insert("resourceVersion".into(), json!(revision.to_string()));
                    return Ok(new);
                }
                WriteOutcome::Conflict { .. } if preconditioned => {
                    return Err(ApiError::conflict_modified(resource.group, resource.plural, name));
                }
                WriteOutcome::Conflict { .. } => continue,
            }
        }
        let bytes = storage::encode(resource, &new)?;
        // An updated Event lives another TTL, as upstream's TTL function gives it.
        let lease = ctx.api.expiry.lease_for(ctx.api.store.as_ref(), resource).await?;
        match ctx.api.store.update(&key, &bytes, current.revision, lease).await? {
            WriteOutcome::Written { revision } => return storage::decode_at(resource, &bytes, revision),
            WriteOutcome::Conflict { current: None } => {
                return Err(ApiError::not_found(resource.group, resource.plural, name));
            }
            WriteOutcome::Conflict { .. } if preconditioned => {
                return Err(ApiError::conflict_modified(resource.group, resource.plural, name));
            }
            WriteOutcome::Conflict { .. } => continue,
        }
    }
    Err(ApiError::Conflict {
        gr: ctx.gr(),
        name: name.into(),
        detail: "the object is being modified too often; try again".into(),
    })
}

/// Refuses a write whose resourceVersion is not the current one.
fn check_precondition(ctx: &Ctx<'_>, name: &str, wanted: Option<&str>, current: &Current) -> Result<bool, ApiError> {
    match wanted {
        None => Ok(false),
        Some(rv) if rv == current.revision.to_string() => Ok(true),
        Some(_) => Err(ApiError::conflict_modified(ctx.resource.group, ctx.resource.plural, name)),
    }
}

pub(crate) async fn update(ctx: &Ctx<'_>, name: &str, sub: Option<&str>, mut body: Value) -> Result<Reply, ApiError> {
    let resource = ctx.resource;
    super::create::check_type(ctx, &mut body, resource.kind, &storage::api_version(resource.group, resource.version))?;
    ctx.check_fields(&mut body)?;
    super::create::check_body_namespace(ctx, &body)?;
    let wanted = resource_version_of(&body).map(String::from);
    let updated = guaranteed_update(ctx, name, sub, |current| {
        let preconditioned = check_precondition(ctx, name, wanted.as_deref(), current)?;
        Ok((body.clone(), preconditioned))
    })
    .await?;
    Ok(ctx.respond(200, updated))
}

pub(crate) async fn patch(
    ctx: &Ctx<'_>,
    name: &str,
    sub: Option<&str>,
    kind: BodyType,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let patch: Value = match kind {
        BodyType::JsonPatch | BodyType::MergePatch | BodyType::StrategicMergePatch => {
            serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?
        }
        BodyType::ApplyPatch => return apply_patch(ctx, name, sub, body).await,
        BodyType::Json | BodyType::Yaml | BodyType::Protobuf => {
            return Err(ApiError::UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, \
                 application/strategic-merge-patch+json"
                    .into(),
            ));
        }
    };
    let root_type = if sub == Some("scale") {
        crate::patch_meta::root_type("autoscaling", "v1", "Scale")
    } else {
        crate::patch_meta::root_type(ctx.resource.group, ctx.resource.version, ctx.resource.kind)
    };
    let apply = |original: &Value| -> Result<Value, ApiError> {
        match kind {
            BodyType::JsonPatch => {
                let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                    .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
                let mut doc = original.clone();
                json_patch::patch(&mut doc, &ops).map_err(|e| ApiError::Invalid {
                    qualified_kind: ctx.resource.kind.into(),
                    group: ctx.resource.group.into(),
                    kind: ctx.resource.kind.into(),
                    name: name.into(),
                    message: format!("the server rejected our request due to an error in our request: {e}"),
                    causes: Vec::new(),
                })?;
                Ok(doc)
            }
            BodyType::MergePatch => {
                if !patch.is_object() {
                    return Err(ApiError::BadRequest("the merge patch is not a JSON object".into()));
                }
                let mut doc = original.clone();
                json_patch::merge(&mut doc, &patch);
                Ok(doc)
            }
            _ => crate::strategic_merge::apply(original, &patch, root_type).map_err(|e| {
                let status = e.status();
                match status.code {
                    400 => ApiError::BadRequest(status.message),
                    422 => ApiError::Invalid {
                        qualified_kind: ctx.resource.kind.into(),
                        group: ctx.resource.group.into(),
                        kind: ctx.resource.kind.into(),
                        name: name.into(),
                        message: status.message,
                        causes: Vec::new(),
                    },
                    _ => ApiError::Internal(status.message),
                }
            }),
        }
    };

    if sub == Some("scale") {
        let updated = guaranteed_update(ctx, name, None, |current| {
            let scale = object::scale_of(ctx, &current.obj)?;
            let patched = apply(&scale)?;
            let preconditioned = check_precondition(ctx, name, changed_rv(&scale, &patched), current)?;
            Ok((with_replicas(&current.obj, &patched)?, preconditioned))
        })
        .await?;
        return Ok(Ctx::respond_raw_json(200, object::scale_of(ctx, &updated)?));
    }
    let updated = guaranteed_update(ctx, name, sub, |current| {
        let mut patched = apply(&current.obj)?;
        if !patched.is_object() {
            return Err(ApiError::BadRequest("the patched object is not a JSON object".into()));
        }
        ctx.check_fields(&mut patched)?;
        let preconditioned = check_precondition(ctx, name, changed_rv(&current.obj, &patched), current)?;
        Ok((patched, preconditioned))
    })
    .await?;
    Ok(ctx.respond(200, updated))
}

/// Server-side apply: the applied configuration merged into the object (or
/// creating it), with the manager's fields recorded (see `apply.rs`).
async fn apply_patch(ctx: &Ctx<'_>, name: &str, sub: Option<&str>, body: &[u8]) -> Result<Reply, ApiError> {
    let resource = ctx.resource;
    let manager = ctx.query.get("fieldManager").filter(|m| !m.is_empty()).ok_or_else(|| ApiError::Invalid {
        qualified_kind: "PatchOptions.meta.k8s.io".into(),
        group: "meta.k8s.io".into(),
        kind: "PatchOptions".into(),
        name: String::new(),
        message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
            .into(),
        causes: vec![crate::status::Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: is required for apply patch".into(),
            field: "fieldManager".into(),
        }],
    })?;
    if sub == Some("scale") {
        return Err(ApiError::UnsupportedMediaType(
            "server-side apply of the scale subresource is not supported; apply the workload itself".into(),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| ApiError::BadRequest("the apply patch is not UTF-8".into()))?;
    let mut applied: Value =
        serde_saphyr::from_str(text).map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
    if !applied.is_object() {
        return Err(ApiError::BadRequest("the apply patch is not an object".into()));
    }
    super::create::check_type(
        ctx,
        &mut applied,
        resource.kind,
        &storage::api_version(resource.group, resource.version),
    )?;
    ctx.check_fields(&mut applied)?;
    {
        let meta = object::metadata_mut(&mut applied)?;
        match meta.get("name").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("name".into(), json!(name));
            }
            Some(n) if n == name => {}
            Some(n) => {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
        }
    }
    super::create::check_body_namespace(ctx, &applied)?;
    let type_name = crate::patch_meta::root_type(resource.group, resource.version, resource.kind);
    let now = object::now_rfc3339();
    match object::load_existing(ctx, name).await {
        Err(ApiError::NotFound { .. }) if sub.is_none() => {
            let created = crate::apply::apply(None, &applied, manager, type_name, &now);
            return super::create::create(ctx, created).await;
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let updated = guaranteed_update(ctx, name, sub, |current| {
        Ok((crate::apply::apply(Some(&current.obj), &applied, manager, type_name, &now), false))
    })
    .await?;
    Ok(ctx.respond(200, updated))
}

/// A patch that sets a resourceVersion other than the one it was applied
/// to makes it a precondition; one that leaves it alone may be retried.
fn changed_rv<'a>(original: &Value, patched: &'a Value) -> Option<&'a str> {
    match (resource_version_of(original), resource_version_of(patched)) {
        (before, Some(after)) if before != Some(after) => Some(after),
        _ => None,
    }
}

fn with_replicas(workload: &Value, scale: &Value) -> Result<Value, ApiError> {
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::BadRequest("the Scale has no spec.replicas".into()))?;
    let mut obj = workload.clone();
    match obj.get_mut("spec").and_then(Value::as_object_mut) {
        Some(spec) => {
            spec.insert("replicas".into(), json!(replicas));
        }
        None => return Err(ApiError::Internal("the workload has no spec".into())),
    }
    Ok(obj)
}

pub(crate) async fn update_scale(ctx: &Ctx<'_>, name: &str, body: Value) -> Result<Reply, ApiError> {
    let wanted = resource_version_of(&body).map(String::from);
    let updated = guaranteed_update(ctx, name, None, |current| {
        let preconditioned = check_precondition(ctx, name, wanted.as_deref(), current)?;
        Ok((with_replicas(&current.obj, &body)?, preconditioned))
    })
    .await?;
    Ok(Ctx::respond_raw_json(200, object::scale_of(ctx, &updated)?))
}

fn is_namespaces(resource: &crate::catalog::Resource) -> bool {
    resource.group.is_empty() && resource.plural == "namespaces"
}
