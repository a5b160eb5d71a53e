//! DELETE of one object or a collection, with upstream's two-phase rules:
//! an object with finalizers, a namespace, or a pod running on a node is
//! only marked (`deletionTimestamp`) and goes when its finalizers or its
//! kubelet let it; everything else goes at once. Preconditions (uid,
//! resourceVersion) are honoured. Cascading to dependents is the garbage
//! collector's work (in `controllers`): `Foreground` marks the object with
//! the `foregroundDeletion` finalizer and `Orphan` with `orphan`, which the
//! collector removes once dependents are gone or released; `Background`
//! (and no policy) deletes at once and leaves dependents to the collector.

use kvstore::datastore::{ListRequest, WriteOutcome, prefix_end};
use serde_json::{Value, json};

use super::object::{self, Current};
use super::{Ctx, DeleteOptions};
use crate::catalog::Resource;
use crate::http::Reply;
use crate::status::{self, ApiError};
use crate::storage;

/// A pod bound to a node with a grace period left is deleted by its kubelet.
pub(crate) fn waits_for_kubelet(resource: &Resource, obj: &Value) -> bool {
    resource.group.is_empty()
        && resource.plural == "pods"
        && obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty())
        && obj.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).is_some_and(|g| g > 0)
}

fn grace_period(resource: &Resource, obj: &Value, opts: &DeleteOptions) -> i64 {
    if !(resource.group.is_empty() && resource.plural == "pods") {
        return 0;
    }
    let scheduled = obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
    let finished = matches!(obj.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
    if !scheduled || finished {
        return 0;
    }
    opts.grace_period_seconds
        .unwrap_or_else(|| obj.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30))
        .max(0)
}

/// What happened to one object.
enum Outcome {
    /// Marked for deletion; the object as it now is.
    Marked(Value),
    /// Gone.
    Deleted(Value),
}

async fn delete_one(ctx: &Ctx<'_>, name: &str, opts: &DeleteOptions) -> Result<Outcome, ApiError> {
    let resource = ctx.resource;
    let dry_run = opts.dry_run || ctx.dry_run()?;
    let key = storage::key(resource, ctx.namespace(), name);
    loop {
        let Current { mut obj, revision } = object::load_existing(ctx, name).await?;
        if let Some(uid) = &opts.precondition_uid {
            let actual = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
            if actual != uid {
                return Err(ApiError::Conflict {
                    gr: ctx.gr(),
                    name: name.into(),
                    detail: format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
                });
            }
        }
        if let Some(rv) = &opts.precondition_resource_version
            && *rv != revision.to_string()
        {
            return Err(ApiError::Conflict {
                gr: ctx.gr(),
                name: name.into(),
                detail: format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"
                ),
            });
        }
        let is_namespace = resource.group.is_empty() && resource.plural == "namespaces";
        let already_marked = obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null());
        if !already_marked && !is_namespace {
            set_gc_finalizer(&mut obj, opts.propagation_policy.as_deref())?;
        }
        let has_finalizers =
            obj.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        let grace = grace_period(resource, &obj, opts);

        if is_namespace || has_finalizers || grace > 0 {
            if already_marked && !(grace > 0 && grace < current_grace(&obj)) {
                // Deleting again changes nothing, except to shorten a pod's grace period.
                return Ok(Outcome::Marked(obj));
            }
            {
                let meta = object::metadata_mut(&mut obj)?;
                let when = if grace > 0 {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() as i64)
                        .unwrap_or(0);
                    crate::time::format_rfc3339(now + grace)
                } else {
                    object::now_rfc3339()
                };
                meta.insert("deletionTimestamp".into(), json!(when));
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            }
            if is_namespace && let Some(map) = obj.as_object_mut() {
                let status = map.entry("status").or_insert_with(|| json!({}));
                if let Some(status) = status.as_object_mut() {
                    status.insert("phase".into(), json!("Terminating"));
                }
            }
            if dry_run {
                return Ok(Outcome::Marked(obj));
            }
            let bytes = storage::encode(resource, &obj)?;
            match ctx.api.store.update(&key, &bytes, revision, 0).await? {
                WriteOutcome::Written { revision } => {
                    return Ok(Outcome::Marked(storage::decode_at(resource, &bytes, revision)?));
                }
                WriteOutcome::Conflict { .. } => continue,
            }
        }
        if dry_run {
            return Ok(Outcome::Deleted(obj));
        }
        match ctx.api.store.delete(&key, Some(revision)).await? {
            WriteOutcome::Written { .. } => {
                if crate::service_ips::is_services(resource) {
                    crate::service_ips::release(ctx.api, &obj).await;
                }
                return Ok(Outcome::Deleted(obj));
            }
            WriteOutcome::Conflict { current: None } => {
                return Err(ApiError::not_found(resource.group, resource.plural, name));
            }
            WriteOutcome::Conflict { .. } => continue,
        }
    }
}

/// The garbage collector's finalizer for a propagation policy, as upstream's
/// `deletionFinalizersForGarbageCollection`: one of `orphan` and
/// `foregroundDeletion`, or neither for `Background`.
fn set_gc_finalizer(obj: &mut Value, policy: Option<&str>) -> Result<(), ApiError> {
    let wanted = match policy {
        Some("Orphan") => "orphan",
        Some("Foreground") => "foregroundDeletion",
        Some("Background") => "",
        _ => return Ok(()),
    };
    let meta = object::metadata_mut(obj)?;
    let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
    let Some(list) = finalizers.as_array_mut() else { return Ok(()) };
    list.retain(|f| f != "orphan" && f != "foregroundDeletion");
    if !wanted.is_empty() {
        list.push(json!(wanted));
    }
    if list.is_empty() {
        meta.remove("finalizers");
    }
    Ok(())
}

fn current_grace(obj: &Value) -> i64 {
    obj.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(i64::MAX)
}

pub(crate) async fn delete(ctx: &Ctx<'_>, name: &str, opts: DeleteOptions) -> Result<Reply, ApiError> {
    match delete_one(ctx, name, &opts).await? {
        Outcome::Marked(obj) => Ok(ctx.respond(200, obj)),
        Outcome::Deleted(obj) => {
            let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
            Ok(Ctx::respond_raw_json(200, status::success(ctx.resource.group, ctx.resource.plural, name, uid)))
        }
    }
}

pub(crate) async fn delete_collection(ctx: &Ctx<'_>, opts: DeleteOptions) -> Result<Reply, ApiError> {
    let selectors = super::list::Selectors::from_query(ctx)?;
    let prefix = storage::prefix(ctx.resource, ctx.namespace());
    let listed =
        ctx.api.store.list(ListRequest { end: prefix_end(&prefix), start: prefix, ..Default::default() }).await?;
    let mut items = Vec::new();
    for kv in &listed.kvs {
        let obj = storage::decode(ctx.resource, kv)?;
        if !selectors.matches(ctx, &obj) {
            continue;
        }
        let name = storage::name_of(&obj).to_string();
        match delete_one(ctx, &name, &opts).await {
            Ok(Outcome::Marked(obj) | Outcome::Deleted(obj)) => items.push(obj),
            // Gone in the meantime: someone else deleted it.
            Err(ApiError::NotFound { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    let list = json!({
        "kind": format!("{}List", ctx.resource.kind),
        "apiVersion": storage::api_version(ctx.resource.group, ctx.resource.version),
        "metadata": {"resourceVersion": listed.revision.to_string()},
        "items": items,
    });
    Ok(ctx.respond(200, list))
}
