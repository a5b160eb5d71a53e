//! Per-resource rules of the generic registry that are not defaulting or
//! validation: which resources count spec changes in `metadata.generation`,
//! what status a new object starts with, and which parts of an object the
//! main resource and the `status` subresource may change.

use serde_json::{Value, json};

use crate::catalog::Resource;

/// Resources whose `metadata.generation` counts spec changes (their
/// strategies set it upstream); the others leave it unset.
pub fn tracks_generation(resource: &Resource) -> bool {
    matches!(
        (resource.group, resource.plural),
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets")
            | ("batch", "jobs" | "cronjobs")
            | ("", "replicationcontrollers")
            | ("autoscaling", "horizontalpodautoscalers")
            | ("policy", "poddisruptionbudgets")
            | ("networking.k8s.io", "networkpolicies")
            | ("apiextensions.k8s.io", "customresourcedefinitions")
            | ("admissionregistration.k8s.io", _)
            | ("storage.k8s.io", "csidrivers")
    )
}

/// Whether the main resource ignores `status` (it has a status subresource).
pub fn has_status_subresource(resource: &Resource) -> bool {
    resource.subresource("status").is_some()
}

/// The status an object is created with, where upstream's strategy resets it.
pub fn initial_status(resource: &Resource, obj: &Value) -> Option<Value> {
    match (resource.group, resource.plural) {
        ("", "pods") => Some(json!({"phase": "Pending", "qosClass": qos_class(obj)})),
        ("", "namespaces") => Some(json!({"phase": "Active"})),
        ("", "persistentvolumeclaims") => Some(json!({"phase": "Pending"})),
        ("", "persistentvolumes") => Some(json!({"phase": "Pending"})),
        ("", "services") => Some(json!({"loadBalancer": {}})),
        // Nodes may be created with their status (the kubelet does so).
        ("", "nodes") => None,
        _ if has_status_subresource(resource) => Some(json!({})),
        _ => None,
    }
}

/// A pod's quality-of-service class from its containers' requests and limits.
pub fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        let relevant = |m: Option<&serde_json::Map<String, Value>>| {
            m.map(|m| m.keys().filter(|k| *k == "cpu" || *k == "memory").count()).unwrap_or(0)
        };
        if relevant(requests) > 0 || relevant(limits) > 0 {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(res));
            let request = requests.and_then(|r| r.get(res)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The parts of an object that count as its spec for `generation`: all
/// but metadata and status.
pub fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("metadata");
            map.remove("status");
            map.remove("apiVersion");
            map.remove("kind");
        }
        v
    };
    strip(old) != strip(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos() {
        let check = |pod: Value, want: &str| assert_eq!(qos_class(&pod), want, "{pod}");
        check(json!({"spec": {"containers": [{"name": "a"}]}}), "BestEffort");
        check(
            json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}),
            "Guaranteed",
        );
        check(json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}}), "Burstable");
        check(
            json!({"spec": {"containers": [
                {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
                {"name": "b"}]}}),
            "Burstable",
        );
    }

    #[test]
    fn spec_changes() {
        let a = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"x": 1}});
        let b = json!({"metadata": {"labels": {"a": "c"}}, "spec": {"replicas": 1}, "status": {"x": 2}});
        let c = json!({"metadata": {}, "spec": {"replicas": 2}});
        assert!(!spec_changed(&a, &b));
        assert!(spec_changed(&a, &c));
    }
}
