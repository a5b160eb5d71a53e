//! Namespaces the cluster always has (`default`, `kube-system`,
//! `kube-public`, `kube-node-lease`), made at start as kube-apiserver's
//! bootstrap does. Emptying a terminating namespace is the namespace
//! controller's work (controllers/src/namespace.rs); the server only lets
//! the namespace go once its finalizers are all gone.

use serde_json::json;

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
