//! Namespaces the cluster always has (`default`, `kube-system`,
//! `kube-public`, `kube-node-lease`, made at start as kube-apiserver's
//! bootstrap does), and the `kubernetes` finalizer of a terminating
//! namespace: delete everything in it, then let it go. The finalizer lives
//! here until the controllers crate takes it over (issue 4); it talks to
//! storage through the same REST operations as clients.

use std::sync::Arc;
use std::time::Duration;

use kvstore::datastore::{ListRequest, WriteOutcome, prefix_end};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::Api;
use crate::catalog::{self, Resource};
use crate::status::ApiError;
use crate::storage;

pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces that do not exist yet.
pub(crate) async fn bootstrap(api: &Api) -> Result<(), ApiError> {
    let resource = namespaces()?;
    for name in SYSTEM_NAMESPACES {
        let key = storage::key(resource, None, name);
        if api.store.get(&key).await?.is_some() {
            continue;
        }
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": crate::rest::new_uid(),
                "creationTimestamp": crate::rest::now_rfc3339(),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        // Another server may have made it first; that is as good.
        let _ = api.store.create(&key, &storage::encode(resource, &obj)?, 0).await?;
    }
    Ok(())
}

fn namespaces() -> Result<&'static Resource, ApiError> {
    catalog::find("", "v1", "namespaces").ok_or(ApiError::NoSuchResource)
}

/// One entry per stored namespaced collection (versions sharing storage counted once).
fn namespaced_collections() -> Vec<&'static Resource> {
    let mut seen = std::collections::HashSet::new();
    catalog::RESOURCES.iter().filter(|r| r.stored && r.namespaced && seen.insert(r.storage)).collect()
}

/// Runs the finalizer: names of terminating namespaces arrive on `queue`.
pub(crate) async fn run_finalizer(api: Arc<Api>, mut queue: mpsc::UnboundedReceiver<String>) {
    if let Err(e) = enqueue_terminating(&api).await {
        tracing::warn!("cannot look for terminating namespaces: {e}");
    }
    while let Some(name) = queue.recv().await {
        match finalize(&api, &name).await {
            Ok(true) => tracing::info!(namespace = %name, "namespace deleted"),
            Ok(false) => requeue(&api, name, Duration::from_secs(2)),
            Err(e) => {
                tracing::warn!(namespace = %name, "cannot finish deleting the namespace yet: {e}");
                requeue(&api, name, Duration::from_secs(5));
            }
        }
    }
}

fn requeue(api: &Arc<Api>, name: String, after: Duration) {
    let api = api.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        api.namespace_deleted(&name);
    });
}

async fn enqueue_terminating(api: &Arc<Api>) -> Result<(), ApiError> {
    let resource = namespaces()?;
    let prefix = storage::prefix(resource, None);
    let list = api.store.list(ListRequest { end: prefix_end(&prefix), start: prefix, ..Default::default() }).await?;
    for kv in &list.kvs {
        let ns = storage::decode(resource, kv)?;
        if ns.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
            api.namespace_deleted(storage::name_of(&ns));
        }
    }
    Ok(())
}

/// One pass: deletes what is left in the namespace; true once the namespace itself is gone.
async fn finalize(api: &Arc<Api>, name: &str) -> Result<bool, ApiError> {
    let mut left = 0usize;
    for resource in namespaced_collections() {
        let prefix = storage::prefix(resource, Some(name));
        let list =
            api.store.list(ListRequest { end: prefix_end(&prefix), start: prefix, ..Default::default() }).await?;
        for kv in &list.kvs {
            let obj = storage::decode(resource, kv)?;
            let object_name = storage::name_of(&obj).to_string();
            if !crate::rest::delete_in_namespace(api, resource, name, &object_name).await? {
                left += 1;
            }
        }
    }
    if left > 0 {
        return Ok(false);
    }
    let resource = namespaces()?;
    let key = storage::key(resource, None, name);
    loop {
        let Some(kv) = api.store.get(&key).await? else { return Ok(true) };
        let mut ns = storage::decode(resource, &kv)?;
        if ns.pointer("/metadata/deletionTimestamp").is_none_or(Value::is_null) {
            // Not terminating (any more): nothing to do.
            return Ok(true);
        }
        if let Some(finalizers) = ns.pointer_mut("/spec/finalizers").and_then(Value::as_array_mut) {
            finalizers.retain(|f| f != "kubernetes");
        }
        let spec_done = ns.pointer("/spec/finalizers").and_then(Value::as_array).is_none_or(Vec::is_empty);
        let meta_done = ns.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(Vec::is_empty);
        let outcome = if spec_done && meta_done {
            api.store.delete(&key, Some(kv.mod_revision)).await?
        } else {
            api.store.update(&key, &storage::encode(resource, &ns)?, kv.mod_revision, 0).await?
        };
        match outcome {
            WriteOutcome::Written { .. } => return Ok(spec_done && meta_done),
            WriteOutcome::Conflict { .. } => continue,
        }
    }
}
