//! Discovery documents built from the catalogue: the legacy `/api`,
//! `/apis`, `/apis/<group>` and per group-version resource lists, and the
//! aggregated `apidiscovery.k8s.io` v2 and v2beta1 documents that kubectl
//! 1.27 and later ask for first. Nothing here reads the store.

use serde_json::{Value, json};

use crate::catalog::{self, Group, Resource};

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_string() } else { format!("{group}/{version}") }
}

fn version_entry(group: &str, version: &str) -> Value {
    json!({"groupVersion": group_version(group, version), "version": version})
}

fn api_group(group: &Group) -> Value {
    json!({
        "name": group.name,
        "versions": group.versions.iter().map(|v| version_entry(group.name, v)).collect::<Vec<_>>(),
        "preferredVersion": version_entry(group.name, group.preferred),
    })
}

/// `GET /api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// `GET /apis`.
pub fn api_group_list() -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": catalog::GROUPS.iter().map(api_group).collect::<Vec<_>>(),
    })
}

/// `GET /apis/<group>`.
pub fn api_group_document(name: &str) -> Option<Value> {
    let group = catalog::GROUPS.iter().find(|g| g.name == name)?;
    let mut doc = api_group(group);
    let obj = doc.as_object_mut()?;
    obj.insert("kind".into(), json!("APIGroup"));
    obj.insert("apiVersion".into(), json!("v1"));
    Some(doc)
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let known = if group.is_empty() { version == "v1" } else { catalog::versions_of(group).contains(&version) };
    if !known {
        return None;
    }
    let mut resources = Vec::new();
    for r in catalog::in_group_version(group, version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        for sub in r.subresources {
            let mut entry = json!({
                "name": format!("{}/{}", r.plural, sub.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": sub.kind,
                "verbs": sub.verbs,
            });
            if sub.group != r.group || sub.version != r.version {
                entry["group"] = json!(sub.group);
                entry["version"] = json!(sub.version);
            }
            resources.push(entry);
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version(group, version),
        "resources": resources,
    }))
}

fn resource_discovery(r: &Resource) -> Value {
    let mut entry = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    if !r.subresources.is_empty() {
        entry["subresources"] = r
            .subresources
            .iter()
            .map(|s| {
                json!({
                    "subresource": s.name,
                    "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                    "verbs": s.verbs,
                })
            })
            .collect();
    }
    entry
}

fn group_discovery(group: &Group) -> Value {
    let versions: Vec<Value> = group
        .versions
        .iter()
        .map(|v| {
            json!({
                "version": v,
                "resources": catalog::in_group_version(group.name, v).map(resource_discovery).collect::<Vec<_>>(),
                "freshness": "Current",
            })
        })
        .collect();
    let mut metadata = json!({"creationTimestamp": null});
    if !group.name.is_empty() {
        metadata["name"] = json!(group.name);
    }
    json!({"metadata": metadata, "versions": versions})
}

/// The aggregated document for `/api` (`core == true`) or `/apis`.
pub fn aggregated(core: bool, version: &str) -> Value {
    let items: Vec<Value> = if core {
        vec![group_discovery(&catalog::CORE_GROUP)]
    } else {
        catalog::GROUPS.iter().map(group_discovery).collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

/// The `Content-Type` of an aggregated document.
pub fn aggregated_content_type(version: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_documents() {
        let core = api_resource_list("", "v1").expect("core");
        let resources = core["resources"].as_array().expect("array");
        let pods = resources.iter().find(|r| r["name"] == "pods").expect("pods");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert!(resources.iter().any(|r| r["name"] == "pods/status"));
        let apps = api_resource_list("apps", "v1").expect("apps");
        let scale = apps["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == "deployments/scale"))
            .expect("scale");
        assert_eq!((scale["group"].as_str(), scale["kind"].as_str()), (Some("autoscaling"), Some("Scale")));
        assert!(api_resource_list("apps", "v1beta1").is_none());
        assert!(api_resource_list("", "v2").is_none());
        let group = api_group_document("autoscaling").expect("autoscaling");
        assert_eq!(group["preferredVersion"]["version"], "v2");
        assert!(api_group_document("nope.example.com").is_none());
    }

    #[test]
    fn aggregated_documents() {
        let core = aggregated(true, "v2");
        assert_eq!(core["items"].as_array().map(Vec::len), Some(1));
        assert!(core["items"][0]["metadata"].get("name").is_none());
        let apis = aggregated(false, "v2beta1");
        assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        let apps =
            apis["items"].as_array().and_then(|i| i.iter().find(|g| g["metadata"]["name"] == "apps")).expect("apps");
        let deployments = apps["versions"][0]["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["resource"] == "deployments"))
            .expect("deployments");
        assert_eq!(deployments["scope"], "Namespaced");
        assert_eq!(deployments["responseKind"]["kind"], "Deployment");
    }
}
