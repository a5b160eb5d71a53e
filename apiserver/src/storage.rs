//! How objects live in the key-value store: one key per object at
//! `/registry/<storage>/<namespace>/<name>` (kube-apiserver's layout), the
//! object as JSON without its `resourceVersion`, which is the key's mod
//! revision when read back. Conversion between versions that share storage
//! happens here too. Nothing here knows about HTTP.

use kvstore::datastore::KeyValue;
use serde_json::Value;

use crate::catalog::Resource;
use crate::status::ApiError;

pub const REGISTRY: &str = "/registry/";

/// The key of one object.
pub fn key(resource: &Resource, namespace: Option<&str>, name: &str) -> Vec<u8> {
    match namespace.filter(|_| resource.namespaced) {
        Some(ns) => format!("{REGISTRY}{}/{ns}/{name}", resource.storage).into_bytes(),
        None => format!("{REGISTRY}{}/{name}", resource.storage).into_bytes(),
    }
}

/// The prefix of a collection: one namespace's objects, or all of them.
pub fn prefix(resource: &Resource, namespace: Option<&str>) -> Vec<u8> {
    match namespace.filter(|_| resource.namespaced) {
        Some(ns) => format!("{REGISTRY}{}/{ns}/", resource.storage).into_bytes(),
        None => format!("{REGISTRY}{}/", resource.storage).into_bytes(),
    }
}

/// The apiVersion string of a group and version.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_string() } else { format!("{group}/{version}") }
}

/// The object's bytes as stored: JSON, with the storage version's apiVersion and no resourceVersion.
pub fn encode(resource: &Resource, obj: &Value) -> Result<Vec<u8>, ApiError> {
    let mut stored = obj.clone();
    if let Some(meta) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("selfLink");
    }
    if let Some(map) = stored.as_object_mut() {
        let version = if resource.storage_version.is_empty() {
            api_version(resource.group, resource.version)
        } else {
            resource.storage_version.to_string()
        };
        map.insert("apiVersion".into(), Value::String(version));
        map.insert("kind".into(), Value::String(resource.kind.to_string()));
    }
    serde_json::to_vec(&stored).map_err(|e| ApiError::Internal(format!("cannot encode the object: {e}")))
}

/// The object a stored key holds, in the version `resource` names, with its resourceVersion.
pub fn decode(resource: &Resource, kv: &KeyValue) -> Result<Value, ApiError> {
    decode_at(resource, &kv.value, kv.mod_revision)
}

pub fn decode_at(resource: &Resource, bytes: &[u8], revision: i64) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::Internal(format!("the stored object is not JSON ({e}); was this key written by another program?"))
    })?;
    let map = obj.as_object_mut().ok_or_else(|| ApiError::Internal("the stored object is not a JSON object".into()))?;
    map.insert("apiVersion".into(), Value::String(api_version(resource.group, resource.version)));
    map.insert("kind".into(), Value::String(resource.kind.to_string()));
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("resourceVersion".into(), Value::String(revision.to_string()));
    }
    Ok(obj)
}

/// The name of an object, or "".
pub fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

pub fn namespace_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/namespace").and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn keys_follow_kube_apiserver() {
        let pods = catalog::find("", "v1", "pods").expect("pods");
        let nodes = catalog::find("", "v1", "nodes").expect("nodes");
        assert_eq!(key(pods, Some("default"), "web"), b"/registry/pods/default/web");
        assert_eq!(prefix(pods, None), b"/registry/pods/");
        assert_eq!(key(nodes, None, "pi1"), b"/registry/minions/pi1");
        // A namespace on a cluster-scoped resource is ignored, not put in the key.
        assert_eq!(key(nodes, Some("x"), "pi1"), b"/registry/minions/pi1");
    }

    #[test]
    fn round_trip_drops_and_restores_the_resource_version() {
        let cms = catalog::find("", "v1", "configmaps").expect("configmaps");
        let obj = serde_json::json!({"metadata": {"name": "c", "resourceVersion": "5"}, "data": {"a": "b"}});
        let bytes = encode(cms, &obj).expect("encode");
        assert!(!String::from_utf8_lossy(&bytes).contains("resourceVersion"));
        let kv = KeyValue { value: bytes, mod_revision: 9, ..Default::default() };
        let back = decode(cms, &kv).expect("decode");
        assert_eq!(back["metadata"]["resourceVersion"], "9");
        assert_eq!(back["kind"], "ConfigMap");
        assert_eq!(back["apiVersion"], "v1");
        let garbage = KeyValue { value: b"k8s\0\x0a".to_vec(), mod_revision: 1, ..Default::default() };
        assert!(decode(cms, &garbage).expect_err("not json").to_string().contains("not JSON"));
    }
}
