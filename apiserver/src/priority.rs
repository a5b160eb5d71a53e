//! The Priority admission plugin: a new pod's `priorityClassName` is
//! resolved against the stored PriorityClasses (or the `globalDefault: true`
//! class, or 0), giving it `spec.priority` and `spec.preemptionPolicy`; an
//! unknown class, or values the pod sets that its class disagrees with, are
//! refused as upstream refuses them. A PriorityClass may be the global
//! default only while no other is, and the two system classes are made at
//! start as kube-apiserver's bootstrap makes them. The fields of a class
//! (the `system-` prefix, the highest user value) are validation.rs's.

use kvstore::datastore::{ListRequest, prefix_end};
use serde_json::{Map, Value, json};

use crate::Api;
use crate::catalog::{self, Resource};
use crate::status::{ApiError, GroupResource};
use crate::storage;

/// Upstream's `SystemPriorityClasses`: name, value, description.
pub(crate) const SYSTEM_CLASSES: [(&str, i64, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// A pod without a class and without a default class gets this.
const DEFAULT_PRIORITY: i64 = 0;
const PREEMPT_LOWER_PRIORITY: &str = "PreemptLowerPriority";

fn classes() -> Result<&'static Resource, ApiError> {
    catalog::find("scheduling.k8s.io", "v1", "priorityclasses").ok_or(ApiError::NoSuchResource)
}

fn is_pods(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.plural == "pods"
}

fn is_priority_classes(resource: &Resource) -> bool {
    resource.group == "scheduling.k8s.io" && resource.plural == "priorityclasses"
}

/// Creates the system classes that do not exist yet.
pub(crate) async fn bootstrap(api: &Api) -> Result<(), ApiError> {
    let resource = classes()?;
    for (name, value, description) in SYSTEM_CLASSES {
        let key = storage::key(resource, None, name);
        if api.store.get(&key).await?.is_some() {
            continue;
        }
        let obj = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {
                "name": name,
                "uid": crate::rest::new_uid(),
                "creationTimestamp": crate::rest::now_rfc3339(),
            },
            "value": value,
            "description": description,
            "preemptionPolicy": PREEMPT_LOWER_PRIORITY,
        });
        // Another server may have made it first; that is as good.
        let _ = api.store.create(&key, &storage::encode(resource, &obj)?, 0).await?;
    }
    Ok(())
}

/// Where a pod's priority comes from, as read from the store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    /// The class the pod names.
    Named(Value),
    /// The pod names none; the global default class, if there is one.
    Default(Option<Value>),
}

async fn all_classes(api: &Api) -> Result<Vec<Value>, ApiError> {
    let resource = classes()?;
    let prefix = storage::prefix(resource, None);
    let listed = api.store.list(ListRequest { end: prefix_end(&prefix), start: prefix, ..Default::default() }).await?;
    listed.kvs.iter().map(|kv| storage::decode(resource, kv)).collect()
}

fn is_global_default(class: &Value) -> bool {
    class.get("globalDefault").and_then(Value::as_bool) == Some(true)
}

fn value_of(class: &Value) -> i64 {
    class.get("value").and_then(Value::as_i64).unwrap_or(0)
}

/// The default class; of several (a race between two creates), the lowest, as upstream picks.
fn global_default(classes: &[Value]) -> Option<&Value> {
    classes.iter().filter(|c| is_global_default(c)).min_by_key(|c| value_of(c))
}

fn forbidden(gr: GroupResource, name: &str, why: &str) -> ApiError {
    let message = if name.is_empty() {
        format!("{gr} is forbidden: {why}")
    } else {
        format!("{gr} \"{name}\" is forbidden: {why}")
    };
    ApiError::Forbidden { message, gr: Some(gr), name: name.to_string() }
}

/// Mutating admission of a create: a pod's priority from its class.
pub(crate) async fn admit_create(api: &Api, resource: &Resource, obj: &mut Value) -> Result<(), ApiError> {
    if !is_pods(resource) {
        return Ok(());
    }
    let class_name = obj.pointer("/spec/priorityClassName").and_then(Value::as_str).unwrap_or("").to_string();
    let name = storage::name_of(obj).to_string();
    let resolved = if class_name.is_empty() {
        Resolved::Default(global_default(&all_classes(api).await?).cloned())
    } else {
        let key = storage::key(classes()?, None, &class_name);
        match api.store.get(&key).await? {
            Some(kv) => Resolved::Named(storage::decode(classes()?, &kv)?),
            None => {
                let why = format!("no PriorityClass with name {class_name} was found");
                return Err(forbidden(GroupResource::new("", "pods"), &name, &why));
            }
        }
    };
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
    resolve(spec, &resolved).map_err(|why| forbidden(GroupResource::new("", "pods"), &name, &why))
}

/// Sets the pod's priority and preemption policy from `resolved`; the
/// reason the pod is refused when what it sets itself disagrees.
pub(crate) fn resolve(spec: &mut Map<String, Value>, resolved: &Resolved) -> Result<(), String> {
    let (priority, policy) = match resolved {
        Resolved::Named(class) => (value_of(class), policy_of(class)),
        Resolved::Default(Some(class)) => {
            let name = storage::name_of(class).to_string();
            spec.insert("priorityClassName".into(), json!(name));
            (value_of(class), policy_of(class))
        }
        Resolved::Default(None) => (DEFAULT_PRIORITY, PREEMPT_LOWER_PRIORITY.to_string()),
    };
    match spec.get("priority") {
        None | Some(Value::Null) => {}
        Some(given) if given.as_i64() == Some(priority) => {}
        Some(given) => {
            return Err(format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            ));
        }
    }
    spec.insert("priority".into(), json!(priority));
    match spec.get("preemptionPolicy") {
        None | Some(Value::Null) => {}
        Some(given) if given.as_str() == Some(policy.as_str()) => {}
        Some(given) => {
            let given = given.as_str().map_or_else(|| given.to_string(), str::to_string);
            return Err(format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            ));
        }
    }
    spec.insert("preemptionPolicy".into(), json!(policy));
    Ok(())
}

/// A stored class's policy; classes are defaulted to PreemptLowerPriority when written.
fn policy_of(class: &Value) -> String {
    class.get("preemptionPolicy").and_then(Value::as_str).unwrap_or(PREEMPT_LOWER_PRIORITY).to_string()
}

/// Mutating admission of an update: a pod keeps the priority and policy it
/// was given on create when the new body leaves them out (validation then
/// refuses any other change to them).
pub(crate) fn admit_update(resource: &Resource, obj: &mut Value, old: &Value) {
    if !is_pods(resource) {
        return;
    }
    let Some(old_spec) = old.get("spec").and_then(Value::as_object) else { return };
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    for field in ["priority", "preemptionPolicy"] {
        if matches!(spec.get(field), None | Some(Value::Null))
            && let Some(v) = old_spec.get(field).filter(|v| !v.is_null())
        {
            spec.insert(field.into(), v.clone());
        }
    }
}

/// Validating admission of a PriorityClass create or update: only one
/// class may be the global default.
pub(crate) async fn validate(api: &Api, resource: &Resource, obj: &Value, updating: bool) -> Result<(), ApiError> {
    if !is_priority_classes(resource) || !is_global_default(obj) {
        return Ok(());
    }
    let all = all_classes(api).await?;
    let name = storage::name_of(obj);
    match default_conflict(&all, name, updating) {
        None => Ok(()),
        Some(other) => Err(forbidden(
            GroupResource::new("scheduling.k8s.io", "priorityclasses"),
            name,
            &format!("PriorityClass {other} is already marked as default. Only one default can exist"),
        )),
    }
}

/// The default class that keeps `name` from becoming one: on create any, on
/// update any other.
fn default_conflict<'a>(classes: &'a [Value], name: &str, updating: bool) -> Option<&'a str> {
    let current = global_default(classes)?;
    let current_name = storage::name_of(current);
    (!updating || current_name != name).then_some(current_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i64, default: bool, policy: &str) -> Value {
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
               "value": value, "globalDefault": default, "preemptionPolicy": policy})
    }

    fn spec(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_named_class_gives_its_value_and_policy() {
        let mut s = spec(json!({"priorityClassName": "high"}));
        resolve(&mut s, &Resolved::Named(class("high", 1000, false, "Never"))).unwrap();
        assert_eq!(
            Value::Object(s),
            json!({"priorityClassName": "high", "priority": 1000, "preemptionPolicy": "Never"})
        );
    }

    #[test]
    fn without_a_class_the_default_class_or_zero() {
        let mut s = spec(json!({}));
        resolve(&mut s, &Resolved::Default(Some(class("everyone", 7, true, "PreemptLowerPriority")))).unwrap();
        assert_eq!(
            Value::Object(s),
            json!({"priorityClassName": "everyone", "priority": 7, "preemptionPolicy": "PreemptLowerPriority"})
        );
        let mut s = spec(json!({}));
        resolve(&mut s, &Resolved::Default(None)).unwrap();
        assert_eq!(Value::Object(s), json!({"priority": 0, "preemptionPolicy": "PreemptLowerPriority"}));
    }

    #[test]
    fn values_the_class_disagrees_with_are_refused_and_agreeing_ones_kept() {
        let high = Resolved::Named(class("high", 1000, false, "PreemptLowerPriority"));
        let mut s = spec(json!({"priorityClassName": "high", "priority": 5}));
        assert_eq!(
            resolve(&mut s, &high).unwrap_err(),
            "the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"
        );
        let mut s = spec(json!({"priorityClassName": "high", "priority": 1000, "preemptionPolicy": "Never"}));
        assert_eq!(
            resolve(&mut s, &high).unwrap_err(),
            "the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name"
        );
        let mut s =
            spec(json!({"priorityClassName": "high", "priority": 1000, "preemptionPolicy": "PreemptLowerPriority"}));
        assert!(resolve(&mut s, &high).is_ok());
        let mut s = spec(json!({"priority": 3}));
        assert!(resolve(&mut s, &Resolved::Default(None)).unwrap_err().contains("(3) must not be provided"));
    }

    #[test]
    fn an_update_keeps_the_admitted_priority() {
        let pods = catalog::find("", "v1", "pods").unwrap();
        let old = json!({"spec": {"priority": 1000, "preemptionPolicy": "Never", "containers": []}});
        let mut new = json!({"spec": {"containers": []}});
        admit_update(pods, &mut new, &old);
        assert_eq!(new, old);
    }

    #[test]
    fn one_global_default_at_most() {
        let classes = vec![class("low", 10, true, "Never"), class("high", 1000, false, "Never")];
        assert_eq!(default_conflict(&classes, "new", false), Some("low"));
        assert_eq!(default_conflict(&classes, "high", true), Some("low"));
        assert_eq!(default_conflict(&classes, "low", true), None);
        assert_eq!(default_conflict(&classes[1..], "new", false), None);
        // Of two defaults (a race), the lower one counts.
        let two = vec![class("b", 20, true, "Never"), class("a", 10, true, "Never")];
        assert_eq!(global_default(&two).map(storage::name_of), Some("a"));
    }

    #[test]
    fn refusals_read_as_upstream_s() {
        let e = forbidden(GroupResource::new("", "pods"), "x", "no PriorityClass with name foo was found");
        assert_eq!(e.to_string(), "pods \"x\" is forbidden: no PriorityClass with name foo was found");
        assert_eq!(e.code(), 403);
        let e = forbidden(GroupResource::new("scheduling.k8s.io", "priorityclasses"), "b", "why");
        assert_eq!(e.to_string(), "priorityclasses.scheduling.k8s.io \"b\" is forbidden: why");
    }
}
