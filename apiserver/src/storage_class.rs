//! The DefaultStorageClass admission plugin: a new PersistentVolumeClaim
//! that names no class gets the cluster's default StorageClass (annotated
//! `storageclass.kubernetes.io/is-default-class: "true"`; of several, the
//! newest, as upstream picks since 1.26), so the claim shows its class from
//! the start. `storageClassName: ""` asks for no class and is kept, as is
//! the old `volume.beta.kubernetes.io/storage-class` annotation.

use kvstore::datastore::{ListRequest, prefix_end};
use serde_json::{Value, json};

use crate::Api;
use crate::catalog::{self, Resource};
use crate::status::ApiError;
use crate::storage;

const DEFAULT_ANNOTATIONS: [&str; 2] =
    ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"];
const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

fn is_claims(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.plural == "persistentvolumeclaims"
}

fn is_default(class: &Value) -> bool {
    let annotations = class.pointer("/metadata/annotations");
    DEFAULT_ANNOTATIONS.iter().any(|a| annotations.and_then(|m| m.get(*a)).and_then(Value::as_str) == Some("true"))
}

/// The default class among `classes`: the newest, then by name.
pub(crate) fn choose_default(classes: &[Value]) -> Option<String> {
    let created =
        |c: &Value| c.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or("").to_string();
    let name = |c: &Value| storage::name_of(c).to_string();
    classes
        .iter()
        .filter(|c| is_default(c))
        .max_by(|a, b| created(a).cmp(&created(b)).then_with(|| name(b).cmp(&name(a))))
        .map(name)
}

pub(crate) async fn admit_create(api: &Api, resource: &Resource, obj: &mut Value) -> Result<(), ApiError> {
    if !is_claims(resource) {
        return Ok(());
    }
    let names_class = obj.pointer("/spec/storageClassName").is_some_and(|v| !v.is_null())
        || obj.pointer("/metadata/annotations").and_then(|a| a.get(BETA_CLASS_ANNOTATION)).is_some();
    if names_class {
        return Ok(());
    }
    let classes = catalog::find("storage.k8s.io", "v1", "storageclasses").ok_or(ApiError::NoSuchResource)?;
    let prefix = storage::prefix(classes, None);
    let listed = api.store.list(ListRequest { end: prefix_end(&prefix), start: prefix, ..Default::default() }).await?;
    let all: Vec<Value> = listed.kvs.iter().map(|kv| storage::decode(classes, kv)).collect::<Result<_, _>>()?;
    if let Some(name) = choose_default(&all)
        && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert("storageClassName".into(), json!(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, default: Option<&str>) -> Value {
        let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}});
        if let Some(v) = default {
            c["metadata"]["annotations"] = json!({"storageclass.kubernetes.io/is-default-class": v});
        }
        c
    }

    #[test]
    fn the_newest_default_class_wins() {
        assert_eq!(choose_default(&[]), None);
        let classes = [
            class("slow", "2026-01-01T00:00:00Z", Some("true")),
            class("fast", "2026-02-01T00:00:00Z", Some("true")),
            class("plain", "2026-03-01T00:00:00Z", None),
            class("off", "2026-04-01T00:00:00Z", Some("false")),
        ];
        assert_eq!(choose_default(&classes).as_deref(), Some("fast"));
        let tie = [class("b", "2026-01-01T00:00:00Z", Some("true")), class("a", "2026-01-01T00:00:00Z", Some("true"))];
        assert_eq!(choose_default(&tie).as_deref(), Some("a"));
    }
}
