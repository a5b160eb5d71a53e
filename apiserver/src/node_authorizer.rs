//! The node authorizer's graph rule and NodeRestriction's pod rule, for the
//! requests a kubelet makes about other objects: a node may read a secret,
//! configmap or claim, or ask for a service-account token, only when a pod
//! bound to it refers to that object; it may write the status of, or
//! delete, only pods bound to it. A node that is taken over (a stolen SD
//! card) reads only what its own pods could read anyway.
//!
//! [`crate::auth::authorize`] decides by verb and resource alone; this runs
//! after it, for node users, with the pods at hand (the watch cache, and the
//! store when the cache is behind).

use std::sync::Arc;

use serde_json::Value;

use crate::Api;
use crate::auth::User;
use crate::cache::Freshness;
use crate::catalog;
use crate::request::{RequestInfo, ResourceRequest};
use crate::status::{ApiError, GroupResource};
use crate::storage;

/// What a pod can refer to that a node then needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Referent {
    Secret,
    ConfigMap,
    Claim,
    ServiceAccount,
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .filter_map(|k| spec.get(k).and_then(Value::as_array))
        .flatten()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

fn list<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Whether `pod` refers to the `kind` object `name` (of its own namespace).
pub fn refers_to(pod: &Value, kind: Referent, name: &str) -> bool {
    let Some(spec) = pod.get("spec") else { return false };
    let is = |v: Option<&str>| v == Some(name);
    match kind {
        Referent::ServiceAccount => {
            str_at(spec, &["serviceAccountName"]).or(str_at(spec, &["serviceAccount"])).unwrap_or("default") == name
        }
        Referent::Claim => list(spec, "volumes").any(|v| {
            is(str_at(v, &["persistentVolumeClaim", "claimName"]))
                // A generic ephemeral volume's claim is named <pod>-<volume>.
                || (v.get("ephemeral").is_some()
                    && str_at(pod, &["metadata", "name"])
                        .zip(str_at(v, &["name"]))
                        .is_some_and(|(p, n)| format!("{p}-{n}") == name))
        }),
        Referent::Secret => {
            list(spec, "imagePullSecrets").any(|s| is(str_at(s, &["name"])))
                || list(spec, "volumes").any(|v| {
                    is(str_at(v, &["secret", "secretName"]))
                        || list(v.get("projected").unwrap_or(&Value::Null), "sources")
                            .any(|s| is(str_at(s, &["secret", "name"])))
                        || [
                            "csi",
                            "cephfs",
                            "cinder",
                            "flexVolume",
                            "iscsi",
                            "rbd",
                            "scaleIO",
                            "storageos",
                            "azureFile",
                        ]
                        .iter()
                        .any(|plugin| {
                            v.get(*plugin).is_some_and(|p| {
                                is(str_at(p, &["secretRef", "name"]))
                                    || is(str_at(p, &["nodePublishSecretRef", "name"]))
                                    || is(str_at(p, &["secretName"]))
                            })
                        })
                })
                || containers(spec).any(|c| {
                    list(c, "env").any(|e| is(str_at(e, &["valueFrom", "secretKeyRef", "name"])))
                        || list(c, "envFrom").any(|e| is(str_at(e, &["secretRef", "name"])))
                })
        }
        Referent::ConfigMap => {
            list(spec, "volumes").any(|v| {
                is(str_at(v, &["configMap", "name"]))
                    || list(v.get("projected").unwrap_or(&Value::Null), "sources")
                        .any(|s| is(str_at(s, &["configMap", "name"])))
            }) || containers(spec).any(|c| {
                list(c, "env").any(|e| is(str_at(e, &["valueFrom", "configMapKeyRef", "name"])))
                    || list(c, "envFrom").any(|e| is(str_at(e, &["configMapRef", "name"])))
            })
        }
    }
}

/// What this request needs of the graph, if anything.
enum Need<'a> {
    Referenced { kind: Referent, namespace: &'a str, name: &'a str },
    BoundPod { namespace: &'a str, name: &'a str },
}

fn need(req: &ResourceRequest) -> Option<Need<'_>> {
    let namespace = req.namespace.as_deref()?;
    let name = req.name.as_deref()?;
    let referenced = |kind| Some(Need::Referenced { kind, namespace, name });
    match (req.group.as_str(), req.resource.as_str(), req.subresource.as_deref(), req.verb) {
        ("", "secrets", None, _) => referenced(Referent::Secret),
        ("", "configmaps", None, _) => referenced(Referent::ConfigMap),
        ("", "persistentvolumeclaims", None, _) => referenced(Referent::Claim),
        ("", "serviceaccounts", Some("token"), _) => referenced(Referent::ServiceAccount),
        ("", "pods", Some("status"), "update" | "patch") | ("", "pods", None, "delete") => {
            Some(Need::BoundPod { namespace, name })
        }
        _ => None,
    }
}

fn node_of(user: &User) -> Option<&str> {
    if !user.groups.iter().any(|g| g == "system:nodes") || user.groups.iter().any(|g| g == "system:masters") {
        return None;
    }
    user.name.strip_prefix("system:node:").filter(|n| !n.is_empty())
}

fn forbidden(user: &User, req: &ResourceRequest, why: &str) -> ApiError {
    let name = req.name.clone().unwrap_or_default();
    let gr = GroupResource::new(&req.group, &req.resource);
    ApiError::Forbidden {
        message: format!(
            "{gr} \"{name}\" is forbidden: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" in the namespace \"{}\": {why}",
            user.name,
            req.verb,
            req.subresource.as_ref().map(|s| format!("{}/{s}", req.resource)).unwrap_or_else(|| req.resource.clone()),
            req.group,
            req.namespace.as_deref().unwrap_or_default(),
        ),
        gr: Some(gr),
        name,
    }
}

/// The pods of `namespace` bound to `node`, from the cache (`freshness`).
async fn bound_pods(api: &Arc<Api>, namespace: &str, node: &str, freshness: Freshness) -> Option<Vec<Value>> {
    let resource = catalog::find("", "v1", "pods")?;
    let root = storage::prefix(resource, None);
    let start = storage::prefix(resource, Some(namespace));
    let end = kvstore::datastore::prefix_end(&start);
    let snapshot = api.cache.snapshot(&root, &start, &end, freshness).await?;
    Some(
        snapshot
            .kvs
            .iter()
            .filter_map(|kv| storage::decode(resource, kv).ok())
            .filter(|pod| str_at(pod, &["spec", "nodeName"]) == Some(node))
            .collect(),
    )
}

/// Allows or refuses a node's request that depends on its pods; passes every other request.
pub async fn check(api: &Arc<Api>, user: &User, info: &RequestInfo) -> Result<(), ApiError> {
    let (Some(node), RequestInfo::Resource(req)) = (node_of(user), info) else { return Ok(()) };
    let Some(need) = need(req) else { return Ok(()) };
    let allowed = |pods: &[Value]| match &need {
        Need::Referenced { kind, name, .. } => pods.iter().any(|p| refers_to(p, *kind, name)),
        Need::BoundPod { name, .. } => pods.iter().any(|p| str_at(p, &["metadata", "name"]) == Some(*name)),
    };
    let namespace = match &need {
        Need::Referenced { namespace, .. } | Need::BoundPod { namespace, .. } => *namespace,
    };
    // The cache as it is first; only a refusal waits for it to catch up with the store.
    for freshness in [Freshness::Any, Freshness::Latest] {
        if let Some(pods) = bound_pods(api, namespace, node, freshness).await
            && allowed(&pods)
        {
            return Ok(());
        }
    }
    let why = match need {
        Need::Referenced { .. } => format!("no relationship found between node '{node}' and this object"),
        Need::BoundPod { .. } => format!("node '{node}' can only modify pods bound to it"),
    };
    Err(forbidden(user, req, &why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "nodeName": "pi1",
                "serviceAccountName": "app",
                "imagePullSecrets": [{"name": "regcred"}],
                "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "init-env"}}]}],
                "containers": [{
                    "name": "c",
                    "env": [
                        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "a"}}},
                        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "env-config", "key": "b"}}},
                    ],
                    "envFrom": [{"secretRef": {"name": "all-secret"}}],
                }],
                "volumes": [
                    {"name": "s", "secret": {"secretName": "vol-secret"}},
                    {"name": "m", "configMap": {"name": "vol-config"}},
                    {"name": "p", "projected": {"sources": [
                        {"secret": {"name": "proj-secret"}},
                        {"configMap": {"name": "proj-config"}},
                        {"serviceAccountToken": {"path": "token"}},
                    ]}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data-claim"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                    {"name": "csi", "csi": {"driver": "x", "nodePublishSecretRef": {"name": "csi-secret"}}},
                ],
            },
        })
    }

    #[test]
    fn every_reference_a_kubelet_follows_is_found() {
        let p = pod();
        for name in ["regcred", "env-secret", "all-secret", "vol-secret", "proj-secret", "csi-secret"] {
            assert!(refers_to(&p, Referent::Secret, name), "{name}");
        }
        for name in ["init-env", "env-config", "vol-config", "proj-config"] {
            assert!(refers_to(&p, Referent::ConfigMap, name), "{name}");
        }
        assert!(refers_to(&p, Referent::Claim, "data-claim"));
        assert!(refers_to(&p, Referent::Claim, "web-scratch"));
        assert!(refers_to(&p, Referent::ServiceAccount, "app"));
        assert!(!refers_to(&p, Referent::ServiceAccount, "default"));
        for (kind, name) in [
            (Referent::Secret, "vol-config"),
            (Referent::Secret, "other"),
            (Referent::ConfigMap, "vol-secret"),
            (Referent::Claim, "web-data"),
        ] {
            assert!(!refers_to(&p, kind, name), "{kind:?} {name}");
        }
        let bare = json!({"metadata": {"name": "b"}, "spec": {"containers": []}});
        assert!(refers_to(&bare, Referent::ServiceAccount, "default"));
    }
}
