//! The OpenAPI v3 documents kube-apiserver serves under `/openapi/v3`: an
//! index of group-versions with content hashes, and one document per
//! group-version whose `components.schemas` describe every type its kinds
//! use. kubectl reads them for `explain`, for the patch strategies of
//! client-side `apply`, and to learn that the server takes
//! `fieldValidation` and `dryRun` on PATCH.
//!
//! The schemas (types, descriptions, required fields) come from
//! k8s-openapi's generated `JsonSchema` implementations for v1.33, which
//! carry upstream's definition names. What those lack is added here: the
//! `x-kubernetes-group-version-kind` of each kind, and the
//! `x-kubernetes-patch-strategy`/`-merge-key` of each field from our own
//! patch table, so that kubectl computes the same patches the server
//! applies. Documents are built on request and not kept: kubectl caches
//! them by hash, so only the hashes stay in memory.
//! Custom resources are not described (no CRD schemas yet).

use std::sync::OnceLock;

use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use crate::catalog::{self, Resource};
use crate::patch_meta::{self, Strategy};

type SchemaFn = fn(&mut SchemaGenerator) -> schemars::Schema;

fn schema<T: schemars::JsonSchema>(generator: &mut SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

macro_rules! kinds {
    ($($group:literal $version:literal $kind:literal => $ty:ty;)*) => {
        /// The k8s-openapi type of every kind the catalogue serves.
        static KINDS: &[(&str, &str, &str, SchemaFn)] = &[$(($group, $version, $kind, schema::<$ty>)),*];
    };
}

use k8s_openapi::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;

kinds! {
    "" "v1" "Binding" => api::core::v1::Binding;
    "" "v1" "ComponentStatus" => api::core::v1::ComponentStatus;
    "" "v1" "ConfigMap" => api::core::v1::ConfigMap;
    "" "v1" "Endpoints" => api::core::v1::Endpoints;
    "" "v1" "Event" => api::core::v1::Event;
    "" "v1" "LimitRange" => api::core::v1::LimitRange;
    "" "v1" "Namespace" => api::core::v1::Namespace;
    "" "v1" "Node" => api::core::v1::Node;
    "" "v1" "PersistentVolumeClaim" => api::core::v1::PersistentVolumeClaim;
    "" "v1" "PersistentVolume" => api::core::v1::PersistentVolume;
    "" "v1" "Pod" => api::core::v1::Pod;
    "" "v1" "PodTemplate" => api::core::v1::PodTemplate;
    "" "v1" "ReplicationController" => api::core::v1::ReplicationController;
    "" "v1" "ResourceQuota" => api::core::v1::ResourceQuota;
    "" "v1" "Secret" => api::core::v1::Secret;
    "" "v1" "ServiceAccount" => api::core::v1::ServiceAccount;
    "" "v1" "Service" => api::core::v1::Service;
    "apps" "v1" "ControllerRevision" => api::apps::v1::ControllerRevision;
    "apps" "v1" "DaemonSet" => api::apps::v1::DaemonSet;
    "apps" "v1" "Deployment" => api::apps::v1::Deployment;
    "apps" "v1" "ReplicaSet" => api::apps::v1::ReplicaSet;
    "apps" "v1" "StatefulSet" => api::apps::v1::StatefulSet;
    "events.k8s.io" "v1" "Event" => api::events::v1::Event;
    "authentication.k8s.io" "v1" "SelfSubjectReview" => api::authentication::v1::SelfSubjectReview;
    "authentication.k8s.io" "v1" "TokenReview" => api::authentication::v1::TokenReview;
    "authorization.k8s.io" "v1" "LocalSubjectAccessReview" => api::authorization::v1::LocalSubjectAccessReview;
    "authorization.k8s.io" "v1" "SelfSubjectAccessReview" => api::authorization::v1::SelfSubjectAccessReview;
    "authorization.k8s.io" "v1" "SelfSubjectRulesReview" => api::authorization::v1::SelfSubjectRulesReview;
    "authorization.k8s.io" "v1" "SubjectAccessReview" => api::authorization::v1::SubjectAccessReview;
    "autoscaling" "v2" "HorizontalPodAutoscaler" => api::autoscaling::v2::HorizontalPodAutoscaler;
    "autoscaling" "v1" "HorizontalPodAutoscaler" => api::autoscaling::v1::HorizontalPodAutoscaler;
    "autoscaling" "v1" "Scale" => api::autoscaling::v1::Scale;
    "batch" "v1" "CronJob" => api::batch::v1::CronJob;
    "batch" "v1" "Job" => api::batch::v1::Job;
    "certificates.k8s.io" "v1" "CertificateSigningRequest" => api::certificates::v1::CertificateSigningRequest;
    "networking.k8s.io" "v1" "IngressClass" => api::networking::v1::IngressClass;
    "networking.k8s.io" "v1" "Ingress" => api::networking::v1::Ingress;
    "networking.k8s.io" "v1" "IPAddress" => api::networking::v1::IPAddress;
    "networking.k8s.io" "v1" "NetworkPolicy" => api::networking::v1::NetworkPolicy;
    "networking.k8s.io" "v1" "ServiceCIDR" => api::networking::v1::ServiceCIDR;
    "policy" "v1" "Eviction" => api::policy::v1::Eviction;
    "policy" "v1" "PodDisruptionBudget" => api::policy::v1::PodDisruptionBudget;
    "rbac.authorization.k8s.io" "v1" "ClusterRoleBinding" => api::rbac::v1::ClusterRoleBinding;
    "rbac.authorization.k8s.io" "v1" "ClusterRole" => api::rbac::v1::ClusterRole;
    "rbac.authorization.k8s.io" "v1" "RoleBinding" => api::rbac::v1::RoleBinding;
    "rbac.authorization.k8s.io" "v1" "Role" => api::rbac::v1::Role;
    "storage.k8s.io" "v1" "CSIDriver" => api::storage::v1::CSIDriver;
    "storage.k8s.io" "v1" "CSINode" => api::storage::v1::CSINode;
    "storage.k8s.io" "v1" "CSIStorageCapacity" => api::storage::v1::CSIStorageCapacity;
    "storage.k8s.io" "v1" "StorageClass" => api::storage::v1::StorageClass;
    "storage.k8s.io" "v1" "VolumeAttachment" => api::storage::v1::VolumeAttachment;
    "admissionregistration.k8s.io" "v1" "MutatingWebhookConfiguration" => api::admissionregistration::v1::MutatingWebhookConfiguration;
    "admissionregistration.k8s.io" "v1" "ValidatingAdmissionPolicy" => api::admissionregistration::v1::ValidatingAdmissionPolicy;
    "admissionregistration.k8s.io" "v1" "ValidatingAdmissionPolicyBinding" => api::admissionregistration::v1::ValidatingAdmissionPolicyBinding;
    "admissionregistration.k8s.io" "v1" "ValidatingWebhookConfiguration" => api::admissionregistration::v1::ValidatingWebhookConfiguration;
    "apiextensions.k8s.io" "v1" "CustomResourceDefinition" => apiextensions::v1::CustomResourceDefinition;
    "scheduling.k8s.io" "v1" "PriorityClass" => api::scheduling::v1::PriorityClass;
    "coordination.k8s.io" "v1" "Lease" => api::coordination::v1::Lease;
    "node.k8s.io" "v1" "RuntimeClass" => api::node::v1::RuntimeClass;
    "discovery.k8s.io" "v1" "EndpointSlice" => api::discovery::v1::EndpointSlice;
}

/// The media type of the documents.
pub const CONTENT_TYPE: &str = "application/json";

/// A group-version's path below `/openapi/v3/`: `api/v1` or `apis/<group>/<version>`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// Every served group-version, with its path.
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = catalog::CORE_GROUP.versions.iter().map(|v| ("", *v)).collect();
    for group in catalog::GROUPS {
        out.extend(group.versions.iter().map(|v| (group.name, *v)));
    }
    out
}

/// The hashes of every document, computed once on first use.
fn hashes() -> &'static [(String, String)] {
    static HASHES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    HASHES.get_or_init(|| {
        group_versions()
            .into_iter()
            .map(|(group, version)| {
                let body = document(group, version).to_string();
                (gv_path(group, version), format!("{:X}", Sha512::digest(body.as_bytes())))
            })
            .collect()
    })
}

/// `/openapi/v3`: where each group-version's document is, with the hash
/// that lets clients cache it.
pub fn index() -> Value {
    let paths: Map<String, Value> = hashes()
        .iter()
        .map(|(path, hash)| (path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")})))
        .collect();
    json!({ "paths": paths })
}

/// The document at `/openapi/v3/<path>`, or `None` for a path that names no
/// served group-version.
pub fn document_at(path: &str) -> Option<Value> {
    let path = path.trim_matches('/');
    group_versions().into_iter().find(|(g, v)| gv_path(g, v) == path).map(|(g, v)| document(g, v))
}

/// The OpenAPI 3.0 document of one group-version.
fn document(group: &str, version: &str) -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::openapi3());
    let mut roots = Vec::new();
    for (g, v, kind, schema_fn) in KINDS {
        if *g == group && *v == version {
            let reference = schema_fn(&mut generator);
            roots.push((*kind, reference));
        }
    }
    let mut schemas = generator.take_definitions(true);
    for (kind, reference) in &roots {
        let Some(name) = reference.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) else {
            continue;
        };
        if let Some(Value::Object(root)) = schemas.get_mut(name) {
            root.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": group, "kind": kind, "version": version}]),
            );
        }
    }
    for (name, schema) in schemas.iter_mut() {
        add_patch_extensions(name, schema);
    }
    let paths: Map<String, Value> = catalog::in_group_version(group, version).filter_map(path_item).collect();
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// Marks each field of `type_name` that has a patch strategy, as upstream's
/// documents do, from the same table the server patches with.
fn add_patch_extensions(type_name: &str, schema: &mut Value) {
    let Some(Value::Object(properties)) = schema.get_mut("properties") else { return };
    for (field, property) in properties.iter_mut() {
        let Some(meta) = patch_meta::lookup(type_name, field) else { continue };
        let Value::Object(property) = property else { continue };
        let strategy = match meta.strategy {
            Strategy::Unspecified => None,
            Strategy::Merge => Some("merge"),
            Strategy::Replace => Some("replace"),
            Strategy::RetainKeys => Some("retainKeys"),
            Strategy::MergeRetainKeys => Some("merge,retainKeys"),
        };
        if let Some(strategy) = strategy {
            property.insert("x-kubernetes-patch-strategy".into(), strategy.into());
        }
        if let Some(key) = meta.merge_key {
            property.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
    }
}

/// The path of a resource's objects, with a PATCH operation that names its
/// kind and the query parameters the server takes. kubectl looks there to
/// learn whether it may leave field validation and dry runs to the server.
fn path_item(resource: &Resource) -> Option<(String, Value)> {
    if !resource.has_verb("patch") {
        return None;
    }
    let prefix = if resource.group.is_empty() {
        format!("/api/{}", resource.version)
    } else {
        format!("/apis/{}/{}", resource.group, resource.version)
    };
    let path = if resource.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", resource.plural)
    } else {
        format!("{prefix}/{}/{{name}}", resource.plural)
    };
    let query = |name: &str, description: &str| json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}});
    let gvk = json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
    let operation = json!({
        "description": format!("partially update the specified {}", resource.kind),
        "operationId": format!("patch{}", resource.kind),
        "parameters": [
            query("dryRun", "When present, indicates that modifications should not be persisted."),
            query("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
            query("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict."),
            query("force", "Force is going to \"force\" Apply requests."),
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": gvk,
    });
    Some((path, json!({ "patch": operation })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_kind_has_a_schema() {
        for resource in catalog::RESOURCES {
            assert!(
                KINDS.iter().any(|(g, v, k, _)| *g == resource.group && *v == resource.version && *k == resource.kind),
                "no schema for {}/{} {}",
                resource.group,
                resource.version,
                resource.kind
            );
        }
    }

    #[test]
    fn the_index_names_every_group_version_with_a_hash() {
        let index = index();
        let apps = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().expect("apps/v1 is listed");
        assert!(apps.starts_with("/openapi/v3/apis/apps/v1?hash="), "{apps}");
        assert_eq!(apps.len(), "/openapi/v3/apis/apps/v1?hash=".len() + 128);
        assert!(index["paths"]["api/v1"].is_object());
    }

    #[test]
    fn a_document_marks_kinds_and_patch_strategies() {
        let doc = document_at("apis/apps/v1").expect("apps/v1");
        let schemas = &doc["components"]["schemas"];
        let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        assert_eq!(schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]["type"], "integer");
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        // A reference with a description of its own is wrapped as upstream writes it.
        let spec = &deployment["properties"]["spec"];
        assert_eq!(spec["allOf"][0]["$ref"], "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec", "{spec}");
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(patch["parameters"].as_array().expect("parameters").iter().any(|p| p["name"] == "fieldValidation"));
    }

    #[test]
    fn unknown_paths_have_no_document() {
        assert!(document_at("apis/example.com/v1").is_none());
        assert!(document_at("api/v2").is_none());
    }
}
