//! The `rancher.io/local-path` provisioner as k3s runs it: for a claim of
//! its class with a selected node, a PersistentVolume `pvc-<claim uid>`
//! on a `hostPath` `<storage dir>/pvc-<uid>_<namespace>_<claim>`
//! (DirectoryOrCreate), pinned to that node by `kubernetes.io/hostname`,
//! as big as the claim asks, pre-bound to the claim. Deleting reclaims
//! only the API object: the directory lives on the node, and removing it
//! is the node agent's job (the PV is gone by then; the agent cleans up
//! the directories no volume names).

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, LocalVolumeSource, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::ObjectMeta;

use super::{PROVISIONED_BY, SELECTED_NODE, class};

const DEFAULT_AFFINITY_KEY: &str = "kubernetes.io/hostname";
/// The annotation local-path puts on its volumes, naming the node.
const NODE_ANNOTATION: &str = "local.path.provisioner/selected-node";

/// Why a claim cannot be provisioned; the messages are local-path's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("configuration error, no node was specified")]
    NoNode,
    #[error("claim.Spec.Selector is not supported")]
    Selector,
    #[error("NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes")]
    AccessModes,
    #[error("\"{0}\" is not a recognised volume type")]
    VolumeType(String),
}

/// The name upstream gives a provisioned volume.
pub fn volume_name(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.metadata.uid.as_deref().unwrap_or_default())
}

/// The node the scheduler chose for the claim's first pod.
pub fn selected_node(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim.metadata.annotations.as_ref().and_then(|a| a.get(SELECTED_NODE)).map(String::as_str)
}

/// The volume for `claim` of `class` on `node`, its directory under `storage_dir`.
pub fn volume_for(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: Option<&Node>,
    storage_dir: &Path,
) -> Result<PersistentVolume, Refusal> {
    let spec = claim.spec.clone().unwrap_or_default();
    if spec.selector.is_some() {
        return Err(Refusal::Selector);
    }
    let modes = spec.access_modes.clone().unwrap_or_default();
    if modes.iter().any(|m| m != "ReadWriteOnce" && m != "ReadWriteOncePod") {
        return Err(Refusal::AccessModes);
    }
    let node = node.ok_or(Refusal::NoNode)?;
    let node_name = node.metadata.name.clone().unwrap_or_default();
    let name = volume_name(claim);
    let namespace = claim.metadata.namespace.clone().unwrap_or_default();
    let claim_name = claim.metadata.name.clone().unwrap_or_default();
    let path = storage_dir.join(format!("{name}_{namespace}_{claim_name}")).to_string_lossy().into_owned();

    let annotation = |meta: &ObjectMeta, key: &str| meta.annotations.as_ref().and_then(|a| a.get(key)).cloned();
    let volume_type = annotation(&claim.metadata, "volumeType")
        .or_else(|| annotation(&class.metadata, "defaultVolumeType"))
        .unwrap_or_else(|| "hostPath".into());
    let (host_path, local) = match volume_type.to_lowercase().as_str() {
        "hostpath" => (Some(HostPathVolumeSource { path, type_: Some("DirectoryOrCreate".into()) }), None),
        "local" => (None, Some(LocalVolumeSource { path, fs_type: None })),
        _ => return Err(Refusal::VolumeType(volume_type)),
    };

    let key = class
        .parameters
        .as_ref()
        .and_then(|p| p.get("nodeAffinityKey"))
        .filter(|k| !k.is_empty())
        .cloned()
        .unwrap_or_else(|| DEFAULT_AFFINITY_KEY.into());
    let value = node.metadata.labels.as_ref().and_then(|l| l.get(&key)).cloned().unwrap_or_else(|| node_name.clone());
    let storage = spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")).cloned();

    Ok(PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name),
            annotations: Some(BTreeMap::from([
                (PROVISIONED_BY.to_string(), class::PROVISIONER.to_string()),
                (NODE_ANNOTATION.to_string(), node_name),
            ])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: Some(modes),
            capacity: storage.map(|q| BTreeMap::from([("storage".to_string(), q)])),
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some(namespace),
                name: Some(claim_name),
                uid: claim.metadata.uid.clone(),
                resource_version: claim.metadata.resource_version.clone(),
                field_path: None,
            }),
            host_path,
            local,
            mount_options: class.mount_options.clone(),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key,
                            operator: "In".into(),
                            values: Some(vec![value]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            persistent_volume_reclaim_policy: Some(class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into())),
            storage_class_name: Some(class::of_claim(claim).to_string()),
            volume_mode: Some("Filesystem".into()),
            ..Default::default()
        }),
        status: None,
    })
}

/// Whether reclaiming `volume` is ours: local-path provisioned it.
pub fn provisioned_here(volume: &PersistentVolume) -> bool {
    volume.metadata.annotations.as_ref().and_then(|a| a.get(PROVISIONED_BY)).map(String::as_str)
        == Some(class::PROVISIONER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::matching::tests::claim;

    fn node(name: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(BTreeMap::from([("kubernetes.io/hostname".to_string(), format!("{name}.lan"))])),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_volume_on_the_selected_node_for_the_claim() {
        let c = claim("data-web-0", Some("local-path"), "1Gi");
        let pv = volume_for(&c, &class::local_path(), Some(&node("hollow-1")), Path::new("/var/lib/bramble/storage"))
            .unwrap();
        assert_eq!(pv.metadata.name.as_deref(), Some("pvc-uid-data-web-0"));
        assert!(provisioned_here(&pv));
        let spec = pv.spec.unwrap();
        let host_path = spec.host_path.unwrap();
        assert_eq!(host_path.path, "/var/lib/bramble/storage/pvc-uid-data-web-0_default_data-web-0");
        assert_eq!(host_path.type_.as_deref(), Some("DirectoryOrCreate"));
        let term = &spec.node_affinity.unwrap().required.unwrap().node_selector_terms[0];
        let req = &term.match_expressions.as_ref().unwrap()[0];
        assert_eq!(
            (req.key.as_str(), req.values.as_deref()),
            ("kubernetes.io/hostname", Some(&["hollow-1.lan".to_string()][..]))
        );
        assert_eq!(spec.capacity.unwrap()["storage"].0, "1Gi");
        assert_eq!(spec.claim_ref.unwrap().uid.as_deref(), Some("uid-data-web-0"));
        assert_eq!(spec.persistent_volume_reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(spec.storage_class_name.as_deref(), Some("local-path"));
    }

    #[test]
    fn claims_local_path_cannot_serve_are_refused() {
        let dir = Path::new("/s");
        let c = claim("c", Some("local-path"), "1Gi");
        assert_eq!(volume_for(&c, &class::local_path(), None, dir), Err(Refusal::NoNode));
        let mut many = c.clone();
        many.spec.as_mut().unwrap().access_modes = Some(vec!["ReadWriteMany".into()]);
        assert_eq!(volume_for(&many, &class::local_path(), Some(&node("n")), dir), Err(Refusal::AccessModes));
        let mut local = c.clone();
        local.metadata.annotations = Some(BTreeMap::from([("volumeType".to_string(), "local".to_string())]));
        let pv = volume_for(&local, &class::local_path(), Some(&node("n")), dir).unwrap();
        assert!(pv.spec.unwrap().local.is_some());
    }
}
