//! VolumeBinding, as upstream's plugin: a pod's claims must exist and not
//! be going away; a claim bound to a volume pins the pod to the nodes the
//! volume's node affinity allows; an unbound claim of a class that waits
//! for its first consumer is bound on the chosen node, to a matching
//! volume there or by provisioning one (the claim gets
//! `volume.kubernetes.io/selected-node`). As upstream, the pod is bound
//! only once its claims are: binding waits for the PV controller and the
//! provisioner. Claims of other classes must be bound already. Generic
//! ephemeral volumes are not looked at: no controller makes their claims
//! yet, so requiring them would keep such pods off every node.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::filters::{self, NodeView};
use crate::informer::{self, Informer};
use crate::storage::matching::{self, Place};
use crate::storage::{BIND_COMPLETED, BOUND_BY_CONTROLLER, SELECTED_NODE, class};

pub const NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const PV_NOT_EXIST: &str = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// How long a binding waits for its claims to be bound (upstream's `bindTimeoutSeconds`).
const BIND_TIMEOUT: Duration = Duration::from_secs(600);

/// The caches volume binding reads.
#[derive(Debug, Clone)]
pub struct Storage {
    pub claims: Arc<Informer<PersistentVolumeClaim>>,
    pub volumes: Arc<Informer<PersistentVolume>>,
    pub classes: Arc<Informer<StorageClass>>,
}

/// What the pod's claims ask of a node.
#[derive(Debug, Default)]
pub struct PodVolumes {
    /// The volumes of its bound claims (`None`: bound to a volume that does not exist).
    bound: Vec<Option<Arc<PersistentVolume>>>,
    /// Its unbound claims whose class waits for a consumer, with the class.
    to_bind: Vec<(Arc<PersistentVolumeClaim>, Option<Arc<StorageClass>>)>,
}

/// How the pod's unbound claims get volumes on the chosen node.
#[derive(Debug, Default, Clone)]
pub struct Decision {
    /// Claims to bind to existing volumes there.
    pub static_bindings: Vec<(Arc<PersistentVolumeClaim>, Arc<PersistentVolume>)>,
    /// Claims whose volumes are to be provisioned there.
    pub provisions: Vec<Arc<PersistentVolumeClaim>>,
}

impl Decision {
    pub fn is_empty(&self) -> bool {
        self.static_bindings.is_empty() && self.provisions.is_empty()
    }

    pub fn volume_names(&self) -> impl Iterator<Item = String> + '_ {
        self.static_bindings.iter().filter_map(|(_, v)| v.metadata.name.clone())
    }
}

fn claim_name(claim: &PersistentVolumeClaim) -> &str {
    claim.metadata.name.as_deref().unwrap_or_default()
}

fn fully_bound(claim: &PersistentVolumeClaim) -> bool {
    claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).is_some_and(|v| !v.is_empty())
        && claim.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(BIND_COMPLETED))
}

/// The volume's node affinity admits the node (upstream's `CheckNodeAffinity`).
pub fn volume_fits(volume: &PersistentVolume, view: &NodeView<'_>) -> bool {
    let required = volume.spec.as_ref().and_then(|s| s.node_affinity.as_ref()).and_then(|a| a.required.as_ref());
    required.is_none_or(|r| r.node_selector_terms.iter().any(|t| filters::term_matches(t, &view.labels, view.name)))
}

/// The class may provision on the node: it has a provisioner and its
/// allowedTopologies (if any) admit the node's labels.
fn provisionable(class: Option<&StorageClass>, view: &NodeView<'_>) -> bool {
    let Some(class) = class else { return false };
    if class.provisioner.is_empty() || class.provisioner == class::NO_PROVISIONER {
        return false;
    }
    let terms = class.allowed_topologies.as_deref().unwrap_or_default();
    terms.is_empty()
        || terms.iter().any(|t| {
            t.match_label_expressions
                .iter()
                .flatten()
                .all(|e| view.labels.get(&e.key).is_some_and(|v| e.values.contains(v)))
        })
}

impl PodVolumes {
    /// PreFilter: the pod's claims, or the message that keeps it off every node.
    pub fn of(pod: &Pod, storage: &Storage) -> Result<PodVolumes, String> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let mut out = PodVolumes::default();
        let mut immediate = false;
        for volume in pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default() {
            let Some(source) = volume.persistent_volume_claim.as_ref() else { continue };
            let name = &source.claim_name;
            let Some(claim) = storage.claims.get(Some(namespace), name) else {
                return Err(format!("persistentvolumeclaim \"{name}\" not found"));
            };
            let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.clone()).unwrap_or_default();
            if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
                return Err(format!(
                    "persistentvolumeclaim \"{name}\" bound to non-existent persistentvolume \"{volume_name}\""
                ));
            }
            if claim.metadata.deletion_timestamp.is_some() {
                return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            }
            if fully_bound(&claim) {
                out.bound.push(storage.volumes.get(None, &volume_name));
                continue;
            }
            let class_name = class::of_claim(&claim);
            let class = if class_name.is_empty() { None } else { storage.classes.get(None, class_name) };
            if class::delays_binding(class.as_deref()) && volume_name.is_empty() {
                out.to_bind.push((claim, class));
            } else {
                immediate = true;
            }
        }
        if immediate {
            return Err(UNBOUND_IMMEDIATE.into());
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.bound.is_empty() && self.to_bind.is_empty()
    }

    /// Filter: the reasons the node cannot take the pod's volumes (none if it can).
    pub fn filter(
        &self,
        view: &NodeView<'_>,
        volumes: &[Arc<PersistentVolume>],
        taken: &HashSet<String>,
    ) -> Vec<String> {
        match self.decide(view, volumes, taken) {
            Ok(_) => Vec::new(),
            Err(reasons) => reasons.into_iter().map(String::from).collect(),
        }
    }

    /// How the unbound claims get their volumes on the node; `taken` are
    /// volumes other pods' bindings have claimed already.
    pub fn decide(
        &self,
        view: &NodeView<'_>,
        volumes: &[Arc<PersistentVolume>],
        taken: &HashSet<String>,
    ) -> Result<Decision, Vec<&'static str>> {
        let mut reasons = Vec::new();
        if self.bound.iter().flatten().any(|v| !volume_fits(v, view)) {
            reasons.push(NODE_CONFLICT);
        }
        let fits = |v: &PersistentVolume| volume_fits(v, view);
        let mut chosen = taken.clone();
        let mut decision = Decision::default();
        let mut unbound_ok = true;
        for (claim, class) in &self.to_bind {
            // Provisioning has begun on some node: the pod goes there.
            if let Some(selected) = claim.metadata.annotations.as_ref().and_then(|a| a.get(SELECTED_NODE)) {
                if selected != view.name {
                    unbound_ok = false;
                    continue;
                }
                decision.provisions.push(Arc::clone(claim));
                continue;
            }
            match matching::find(claim, volumes, Place::Node(&fits), &chosen) {
                Some(volume) => {
                    chosen.extend(volume.metadata.name.clone());
                    decision.static_bindings.push((Arc::clone(claim), volume));
                }
                None if provisionable(class.as_deref(), view) => decision.provisions.push(Arc::clone(claim)),
                None => unbound_ok = false,
            }
        }
        if !unbound_ok {
            reasons.push(BIND_CONFLICT);
        }
        if self.bound.iter().any(Option::is_none) {
            reasons.push(PV_NOT_EXIST);
        }
        if reasons.is_empty() { Ok(decision) } else { Err(reasons) }
    }
}

/// PreBind: writes the decision (volumes' claimRefs, claims' selected node)
/// and waits until every claim is bound; the error says why not.
pub async fn bind(
    client: &kube::Client,
    storage: &Storage,
    pod: &Pod,
    node: &str,
    decision: &Decision,
) -> Result<(), String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    // Subscribed before anything is written, so that no change is missed.
    let mut claim_changes = storage.claims.subscribe();
    let mut volume_changes = storage.volumes.subscribe();
    for (claim, volume) in &decision.static_bindings {
        let patch = json!({
            "metadata": {"resourceVersion": volume.metadata.resource_version, "annotations": {BOUND_BY_CONTROLLER: "yes"}},
            "spec": {"claimRef": {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": namespace,
                "name": claim.metadata.name, "uid": claim.metadata.uid, "resourceVersion": claim.metadata.resource_version,
            }},
        });
        let name = volume.metadata.name.as_deref().unwrap_or_default();
        volumes.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| e.to_string())?;
    }
    for claim in &decision.provisions {
        if claim.metadata.annotations.as_ref().and_then(|a| a.get(SELECTED_NODE)).map(String::as_str) == Some(node) {
            continue;
        }
        let patch = json!({"metadata": {
            "resourceVersion": claim.metadata.resource_version,
            "annotations": {SELECTED_NODE: node},
        }});
        claims
            .patch(claim_name(claim), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| e.to_string())?;
    }
    let deadline = Instant::now() + BIND_TIMEOUT;
    loop {
        if all_bound(storage, namespace, node, decision)? {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("context deadline exceeded".into());
        }
        // A lagging subscriber or a quiet second both just look again.
        tokio::select! {
            _ = informer::next(&mut claim_changes) => {}
            _ = informer::next(&mut volume_changes) => {}
            _ = tokio::time::sleep(left.min(Duration::from_secs(1))) => {}
        }
    }
}

/// Every claim of the decision is bound both ways (upstream's `checkBindings`).
fn all_bound(storage: &Storage, namespace: &str, node: &str, decision: &Decision) -> Result<bool, String> {
    let provisions = decision.provisions.iter().map(|c| (c, true));
    let statics = decision.static_bindings.iter().map(|(c, _)| (c, false));
    for (wanted, provisioned) in provisions.chain(statics) {
        let name = claim_name(wanted);
        let Some(claim) = storage.claims.get(Some(namespace), name) else {
            return Err(format!("persistentvolumeclaim \"{name}\" not found"));
        };
        if claim.metadata.uid != wanted.metadata.uid {
            return Err(format!("persistentvolumeclaim \"{name}\" was recreated"));
        }
        let selected = claim.metadata.annotations.as_ref().and_then(|a| a.get(SELECTED_NODE)).map(String::as_str);
        if provisioned && !fully_bound(&claim) && selected != Some(node) {
            // The provisioner gave up on the node and asked for another.
            return Err(format!("provisioning failed for PVC \"{name}\""));
        }
        if !fully_bound(&claim) {
            return Ok(false);
        }
        let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or_default();
        let Some(volume) = storage.volumes.get(None, volume_name) else { return Ok(false) };
        if !matching::bound_to(&volume, &claim) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, TopologySelectorLabelRequirement,
        TopologySelectorTerm, VolumeNodeAffinity,
    };
    use kube::api::ObjectMeta;

    use super::*;
    use crate::storage::matching::tests::{claim, volume};

    fn node(name: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(BTreeMap::from([
                    ("kubernetes.io/hostname".to_string(), name.to_string()),
                    ("zone".to_string(), "a".to_string()),
                ])),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn view(node: &Node) -> NodeView<'_> {
        NodeView {
            node,
            name: node.metadata.name.as_deref().unwrap(),
            labels: node.metadata.labels.clone().unwrap(),
            placed: Vec::new(),
        }
    }

    fn pinned(mut v: PersistentVolume, host: &str) -> PersistentVolume {
        v.spec.as_mut().unwrap().node_affinity = Some(VolumeNodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "kubernetes.io/hostname".into(),
                        operator: "In".into(),
                        values: Some(vec![host.into()]),
                    }]),
                    match_fields: None,
                }],
            }),
        });
        v
    }

    #[test]
    fn a_bound_volume_pins_the_pod_to_its_node() {
        let pv = Arc::new(pinned(volume("pv", "local-path", "1Gi", &["ReadWriteOnce"]), "n1"));
        let pod_volumes = PodVolumes { bound: vec![Some(pv)], to_bind: Vec::new() };
        let (n1, n2) = (node("n1"), node("n2"));
        assert!(pod_volumes.filter(&view(&n1), &[], &HashSet::new()).is_empty());
        assert_eq!(pod_volumes.filter(&view(&n2), &[], &HashSet::new()), [NODE_CONFLICT]);
        let missing = PodVolumes { bound: vec![None], to_bind: Vec::new() };
        assert_eq!(missing.filter(&view(&n1), &[], &HashSet::new()), [PV_NOT_EXIST]);
    }

    #[test]
    fn waiting_claims_take_a_local_volume_or_are_provisioned() {
        let c = Arc::new(claim("data", Some("local-path"), "1Gi"));
        let local_path = Arc::new(class::local_path());
        let pod_volumes = PodVolumes { bound: Vec::new(), to_bind: vec![(Arc::clone(&c), Some(local_path))] };
        let mut static_pv = pinned(volume("static", "local-path", "1Gi", &["ReadWriteOnce"]), "n1");
        static_pv.status.as_mut().unwrap().phase = Some("Available".into());
        let volumes = vec![Arc::new(static_pv)];
        let (n1, n2) = (node("n1"), node("n2"));
        let on_n1 = pod_volumes.decide(&view(&n1), &volumes, &HashSet::new()).unwrap();
        assert_eq!(on_n1.volume_names().collect::<Vec<_>>(), ["static"]);
        let on_n2 = pod_volumes.decide(&view(&n2), &volumes, &HashSet::new()).unwrap();
        assert!(on_n2.static_bindings.is_empty() && on_n2.provisions.len() == 1);
        let taken = HashSet::from(["static".to_string()]);
        assert_eq!(pod_volumes.decide(&view(&n1), &volumes, &taken).unwrap().provisions.len(), 1);
    }

    #[test]
    fn no_provisioner_or_topology_means_no_node_and_a_selected_node_is_kept() {
        let mut c = claim("data", Some("manual"), "1Gi");
        let mut manual = class::local_path();
        manual.provisioner = class::NO_PROVISIONER.into();
        let pod_volumes =
            PodVolumes { bound: Vec::new(), to_bind: vec![(Arc::new(c.clone()), Some(Arc::new(manual)))] };
        let n1 = node("n1");
        assert_eq!(pod_volumes.filter(&view(&n1), &[], &HashSet::new()), [BIND_CONFLICT]);

        let mut zoned = class::local_path();
        zoned.allowed_topologies = Some(vec![TopologySelectorTerm {
            match_label_expressions: Some(vec![TopologySelectorLabelRequirement {
                key: "zone".into(),
                values: vec!["b".into()],
            }]),
        }]);
        let pod_volumes = PodVolumes { bound: Vec::new(), to_bind: vec![(Arc::new(c.clone()), Some(Arc::new(zoned)))] };
        assert_eq!(pod_volumes.filter(&view(&n1), &[], &HashSet::new()), [BIND_CONFLICT]);

        c.metadata.annotations = Some(BTreeMap::from([(SELECTED_NODE.to_string(), "n2".to_string())]));
        let pod_volumes =
            PodVolumes { bound: Vec::new(), to_bind: vec![(Arc::new(c), Some(Arc::new(class::local_path())))] };
        assert_eq!(pod_volumes.filter(&view(&n1), &[], &HashSet::new()), [BIND_CONFLICT]);
        assert!(pod_volumes.filter(&view(&node("n2")), &[], &HashSet::new()).is_empty());
    }
}
