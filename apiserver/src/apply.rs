//! Server-side apply (`PATCH` with `application/apply-patch+yaml`), as
//! `kubectl apply --server-side`, Flux and Helm 4 use it: the applied
//! configuration is merged into the live object, each manager's applied
//! fields are recorded in `metadata.managedFields` (`operation: Apply`,
//! `fieldsType: FieldsV1`), and a field that a manager applied before and
//! leaves out now is removed, unless another applier still owns it.
//!
//! Lists merge by the same knowledge strategic merge patch uses
//! (`patch_meta.rs`): lists with a merge key are maps keyed by it
//! (`k:{"name":"nginx"}` in field sets), lists of primitives with the merge
//! strategy are sets (`v:"a"`), every other list is atomic. Objects merge
//! field by field.
//!
//! Deliberately not here yet: conflict detection. Fields written by other
//! managers through updates are not tracked, so an apply takes over any
//! field it names, as `force=true` does upstream; the answer is never 409.
//! Nothing here touches storage: the callers in `rest/update.rs` do.

use serde_json::{Map, Value, json};

use crate::patch_meta::{self, Strategy};

/// Metadata an applier does not own: the server sets it.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// How the items of a list are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind<'a> {
    /// By the value of a key field: a map of items.
    Keyed(&'a str),
    /// By value: a set of primitives.
    Set,
    /// As a whole.
    Atomic,
}

/// What the schema says of field `key` of an object of type `type_name`:
/// the type of its value (or items), and how a list of it merges.
fn child(type_name: Option<&str>, key: &str) -> (Option<&'static str>, ListKind<'static>) {
    let Some(meta) = type_name.and_then(|t| patch_meta::lookup(t, key)) else { return (None, ListKind::Atomic) };
    let kind = match (meta.strategy, meta.merge_key) {
        (Strategy::Merge | Strategy::MergeRetainKeys, Some(key)) => ListKind::Keyed(key),
        (Strategy::Merge | Strategy::MergeRetainKeys, None) => ListKind::Set,
        _ => ListKind::Atomic,
    };
    (meta.type_name, kind)
}

/// The FieldsV1 key of a list item.
fn item_key(item: &Value, kind: ListKind<'_>) -> Option<String> {
    match kind {
        ListKind::Keyed(key) => {
            let value = item.get(key)?;
            Some(format!("k:{}", json!({ key: value })))
        }
        ListKind::Set => Some(format!("v:{item}")),
        ListKind::Atomic => None,
    }
}

/// The fields an applied configuration sets, as a FieldsV1 tree.
pub fn field_set(applied: &Value, type_name: Option<&str>) -> Value {
    let mut set = object_fields(applied, type_name);
    if let Some(Value::Object(meta)) = set.get_mut("f:metadata") {
        for field in SYSTEM_METADATA {
            meta.remove(&format!("f:{field}"));
        }
        if meta.is_empty() {
            set.remove("f:metadata");
        }
    }
    for field in ["f:apiVersion", "f:kind", "f:status"] {
        set.remove(field);
    }
    Value::Object(set)
}

fn object_fields(value: &Value, type_name: Option<&str>) -> Map<String, Value> {
    let mut set = Map::new();
    let Value::Object(map) = value else { return set };
    for (key, v) in map {
        let (child_type, list) = child(type_name, key);
        let entry = match v {
            Value::Object(_) => Value::Object(object_fields(v, child_type)),
            Value::Array(items) if list != ListKind::Atomic => {
                let mut items_set = Map::new();
                for item in items {
                    let Some(k) = item_key(item, list) else { continue };
                    let mut fields = object_fields(item, child_type);
                    if matches!(list, ListKind::Keyed(_)) {
                        fields.insert(".".into(), json!({}));
                    }
                    items_set.insert(k, Value::Object(fields));
                }
                Value::Object(items_set)
            }
            _ => json!({}),
        };
        set.insert(format!("f:{key}"), entry);
    }
    set
}

/// `applied` merged into `live`: objects field by field, keyed lists item
/// by item, sets by union, everything else replaced. A `null` in the
/// applied configuration removes the field.
pub fn merge(live: &Value, applied: &Value, type_name: Option<&str>) -> Value {
    let (Value::Object(live_map), Value::Object(applied_map)) = (live, applied) else { return applied.clone() };
    let mut out = live_map.clone();
    for (key, av) in applied_map {
        let (child_type, list) = child(type_name, key);
        let merged = match (out.get(key), av) {
            (_, Value::Null) => {
                out.remove(key);
                continue;
            }
            (Some(lv @ Value::Object(_)), Value::Object(_)) => merge(lv, av, child_type),
            (Some(Value::Array(lv)), Value::Array(items)) if list != ListKind::Atomic => {
                Value::Array(merge_list(lv, items, list, child_type))
            }
            _ => av.clone(),
        };
        out.insert(key.clone(), merged);
    }
    Value::Object(out)
}

fn merge_list(live: &[Value], applied: &[Value], kind: ListKind<'_>, item_type: Option<&str>) -> Vec<Value> {
    let mut out = live.to_vec();
    for item in applied {
        let key = item_key(item, kind);
        match out.iter_mut().find(|l| key.is_some() && item_key(l, kind) == key) {
            Some(existing) if kind == ListKind::Set => *existing = item.clone(),
            Some(existing) => *existing = merge(existing, item, item_type),
            None => out.push(item.clone()),
        }
    }
    out
}

/// The part of field set `before` that neither `now` nor any of `others` holds.
fn released(before: &Value, now: &Value, others: &[&Value]) -> Map<String, Value> {
    let mut out = Map::new();
    let Value::Object(before) = before else { return out };
    for (key, sub) in before {
        if key == "." {
            continue;
        }
        let held: Vec<&Value> = std::iter::once(now).chain(others.iter().copied()).filter_map(|s| s.get(key)).collect();
        if held.is_empty() {
            out.insert(key.clone(), json!({}));
        } else if sub.as_object().is_some_and(|m| !m.is_empty()) {
            let (first, rest) = held.split_at(1);
            let inner = released(sub, first[0], rest);
            if !inner.is_empty() {
                out.insert(key.clone(), Value::Object(inner));
            }
        }
    }
    out
}

/// Removes from `value` the fields named in `gone` (a FieldsV1 tree; an
/// empty subtree removes the whole field or item).
fn remove(value: &mut Value, gone: &Map<String, Value>) {
    for (key, sub) in gone {
        let whole = sub.as_object().is_none_or(Map::is_empty);
        if let Some(field) = key.strip_prefix("f:") {
            let Value::Object(map) = value else { continue };
            if whole {
                map.remove(field);
            } else if let (Some(child), Some(sub)) = (map.get_mut(field), sub.as_object()) {
                remove(child, sub);
            }
        } else if let Some(spec) = key.strip_prefix("k:") {
            let (Value::Array(items), Ok(Value::Object(wanted))) = (&mut *value, serde_json::from_str::<Value>(spec))
            else {
                continue;
            };
            let matches = |item: &Value| wanted.iter().all(|(k, v)| item.get(k) == Some(v));
            if whole {
                items.retain(|item| !matches(item));
            } else if let (Some(item), Some(sub)) = (items.iter_mut().find(|i| matches(i)), sub.as_object()) {
                remove(item, sub);
            }
        } else if let Some(literal) = key.strip_prefix("v:") {
            let (Value::Array(items), Ok(wanted)) = (&mut *value, serde_json::from_str::<Value>(literal)) else {
                continue;
            };
            items.retain(|item| *item != wanted);
        }
    }
}

/// The object after `manager` applies `applied` to `live` (`None`: the
/// object does not exist yet), with its managedFields entry.
pub fn apply(live: Option<&Value>, applied: &Value, manager: &str, type_name: Option<&str>, now: &str) -> Value {
    let api_version = applied.get("apiVersion").cloned().unwrap_or(Value::Null);
    let now_set = field_set(applied, type_name);
    let mut entries: Vec<Value> =
        live.and_then(|l| l.pointer("/metadata/managedFields")).and_then(Value::as_array).cloned().unwrap_or_default();
    let is_mine = |e: &Value| e["manager"] == manager && e["operation"] == "Apply" && e.get("subresource").is_none();
    let before = entries.iter().find(|e| is_mine(e)).and_then(|e| e.get("fieldsV1")).cloned();
    let mut result = match live {
        Some(live) => merge(live, applied, type_name),
        None => applied.clone(),
    };
    if let Some(before) = before {
        let others: Vec<&Value> = entries
            .iter()
            .filter(|e| !is_mine(e) && e["operation"] == "Apply")
            .filter_map(|e| e.get("fieldsV1"))
            .collect();
        let gone = released(&before, &now_set, &others);
        remove(&mut result, &gone);
    }
    entries.retain(|e| !is_mine(e));
    entries.push(json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": now_set,
    }));
    if let Some(meta) = result.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("managedFields".into(), Value::Array(entries));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: Option<&str> = Some("io.k8s.api.apps.v1.Deployment");

    fn deployment(containers: Value, labels: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels},
            "spec": {"template": {"spec": {"containers": containers}}},
        })
    }

    #[test]
    fn field_sets_use_keys_for_keyed_lists_and_skip_system_fields() {
        let applied = deployment(json!([{"name": "nginx", "image": "nginx:1.27"}]), json!({"app": "web"}));
        let set = field_set(&applied, DEPLOYMENT);
        assert_eq!(
            set,
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"nginx\"}": {".": {}, "f:name": {}, "f:image": {}}
                }}}},
            })
        );
    }

    #[test]
    fn applying_merges_keeps_others_and_drops_what_the_manager_let_go() {
        let first =
            deployment(json!([{"name": "nginx", "image": "nginx:1.27"}]), json!({"app": "web", "tier": "front"}));
        let created = apply(None, &first, "flux", DEPLOYMENT, "2026-12-02T00:00:00Z");
        assert_eq!(created["metadata"]["managedFields"][0]["manager"], "flux");

        // Someone else adds a sidecar and an annotation through an update.
        let mut live = created.clone();
        live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .expect("containers")
            .push(json!({"name": "sidecar", "image": "busybox"}));
        live["metadata"]["annotations"] = json!({"note": "kept"});

        // The applier drops the tier label and changes the image.
        let second = deployment(json!([{"name": "nginx", "image": "nginx:1.28"}]), json!({"app": "web"}));
        let result = apply(Some(&live), &second, "flux", DEPLOYMENT, "2026-12-02T00:01:00Z");
        assert_eq!(result["metadata"]["labels"], json!({"app": "web"}), "the released label is gone");
        assert_eq!(result["metadata"]["annotations"]["note"], "kept", "fields the applier never owned stay");
        let containers = result["spec"]["template"]["spec"]["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 2, "the sidecar stays: {containers:?}");
        assert_eq!(containers[0]["image"], "nginx:1.28");
        let entries = result["metadata"]["managedFields"].as_array().expect("managedFields");
        assert_eq!(entries.len(), 1, "one entry per applier: {entries:?}");
        assert_eq!(entries[0]["time"], "2026-12-02T00:01:00Z");
    }

    #[test]
    fn a_field_another_applier_owns_is_not_released() {
        let mine = deployment(json!([{"name": "nginx", "image": "nginx:1.27"}]), json!({"app": "web", "shared": "x"}));
        let theirs = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"shared": "x"}}});
        let live = apply(None, &mine, "me", DEPLOYMENT, "t0");
        let live = apply(Some(&live), &theirs, "them", DEPLOYMENT, "t1");
        let without = deployment(json!([{"name": "nginx", "image": "nginx:1.27"}]), json!({"app": "web"}));
        let result = apply(Some(&live), &without, "me", DEPLOYMENT, "t2");
        assert_eq!(result["metadata"]["labels"]["shared"], "x", "still owned by the other applier");
        // Dropping a container releases the whole item.
        let none = deployment(json!([]), json!({"app": "web"}));
        let result = apply(Some(&result), &none, "me", DEPLOYMENT, "t3");
        assert_eq!(result["spec"]["template"]["spec"]["containers"], json!([]));
    }

    #[test]
    fn sets_and_atomic_lists() {
        let pod = Some("io.k8s.api.core.v1.Pod");
        let live = json!({"metadata": {"name": "p", "finalizers": ["a"]}, "spec": {"containers": [{"name": "c", "args": ["x", "y"]}]}});
        let applied = json!({"metadata": {"name": "p", "finalizers": ["b"]}, "spec": {"containers": [{"name": "c", "args": ["z"]}]}});
        let merged = merge(&live, &applied, pod);
        assert_eq!(merged["metadata"]["finalizers"], json!(["a", "b"]), "finalizers are a set");
        assert_eq!(merged["spec"]["containers"][0]["args"], json!(["z"]), "args are atomic");
    }
}
