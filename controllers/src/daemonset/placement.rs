//! Where a DaemonSet's pods belong, and what a daemon pod carries so that
//! the scheduler puts it on its node: upstream's `NodeShouldRunDaemonPod`,
//! the tolerations every daemon pod gets, and the node affinity that pins it.

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Taint,
    Toleration,
};

use crate::scheduler::filters::{self, NodeView};

/// Whether a node should run the daemon pod, and whether one already there may stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    pub should_run: bool,
    /// An untolerated NoSchedule taint keeps new pods off but evicts nobody.
    pub should_continue: bool,
}

/// The tolerations the DaemonSet controller adds to every daemon pod, so
/// that node conditions and cordoning never take node agents away.
pub fn daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    let mut tolerations = spec.tolerations.clone().unwrap_or_default();
    for (key, effect) in wanted {
        let present = tolerations.iter().any(|t| {
            t.key.as_deref() == Some(key)
                && t.effect.as_deref() == Some(effect)
                && t.operator.as_deref() == Some("Exists")
        });
        if !present {
            tolerations.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some(effect.into()),
                ..Default::default()
            });
        }
    }
    tolerations
}

/// The pod `template_pod` (a daemon pod with its tolerations) on `node`.
pub fn fit(template_pod: &Pod, node: &Node) -> Fit {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let view = NodeView { node, name, labels: node.metadata.labels.clone().unwrap_or_default(), placed: Vec::new() };
    if !filters::node_affinity_matches(template_pod, &view) {
        return Fit { should_run: false, should_continue: false };
    }
    let tolerations = template_pod.spec.as_ref().and_then(|s| s.tolerations.clone()).unwrap_or_default();
    let untolerated = |effect: &str| {
        node.spec
            .iter()
            .flat_map(|s| s.taints.iter().flatten())
            .any(|t: &Taint| t.effect == effect && !filters::tolerates(&tolerations, t))
    };
    let no_execute = untolerated("NoExecute");
    Fit { should_run: !no_execute && !untolerated("NoSchedule"), should_continue: !no_execute }
}

/// Pins `spec` to `node` with a required node affinity on `metadata.name`,
/// in every term (keeping their label expressions), as upstream does.
pub fn pin_to_node(spec: &mut PodSpec, node: &str) {
    let pinned =
        NodeSelectorRequirement { key: "metadata.name".into(), operator: "In".into(), values: Some(vec![node.into()]) };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    let required = node_affinity
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(|| NodeSelector { node_selector_terms: Vec::new() });
    if required.node_selector_terms.is_empty() {
        required.node_selector_terms.push(NodeSelectorTerm::default());
    }
    for term in &mut required.node_selector_terms {
        term.match_fields = Some(vec![pinned.clone()]);
    }
}

/// The node a daemon pod is on, or is pinned to while not yet scheduled.
pub fn node_of(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(node.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().flat_map(|t| t.match_fields.iter().flatten()).find_map(|r| {
        (r.key == "metadata.name" && r.operator == "In").then(|| r.values.as_ref()?.first().cloned()).flatten()
    })
}

/// Labels for a node lookup by name in tests and elsewhere.
#[cfg(test)]
fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
    let labels: std::collections::BTreeMap<String, String> =
        labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    Node {
        metadata: kube::api::ObjectMeta { name: Some(name.into()), labels: Some(labels), ..Default::default() },
        spec: Some(k8s_openapi::api::core::v1::NodeSpec {
            taints: Some(
                taints
                    .iter()
                    .map(|(k, e)| Taint { key: (*k).into(), effect: (*e).into(), ..Default::default() })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon_pod(selector: &[(&str, &str)]) -> Pod {
        let mut spec = PodSpec {
            node_selector: Some(selector.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
            ..Default::default()
        };
        spec.tolerations = Some(daemon_tolerations(&spec));
        Pod { spec: Some(spec), ..Default::default() }
    }

    #[test]
    fn taints_and_selectors_decide_where_daemons_run() {
        let pod = daemon_pod(&[]);
        assert!(fit(&pod, &node("a", &[], &[])).should_run);
        assert!(fit(&pod, &node("a", &[], &[("node.kubernetes.io/unschedulable", "NoSchedule")])).should_run);
        assert!(fit(&pod, &node("a", &[], &[("node.kubernetes.io/not-ready", "NoExecute")])).should_run);
        let tainted = fit(&pod, &node("a", &[], &[("dedicated", "NoSchedule")]));
        assert_eq!(tainted, Fit { should_run: false, should_continue: true });
        let evicting = fit(&pod, &node("a", &[], &[("dedicated", "NoExecute")]));
        assert_eq!(evicting, Fit { should_run: false, should_continue: false });
        let picky = daemon_pod(&[("disk", "ssd")]);
        assert!(!fit(&picky, &node("a", &[], &[])).should_run);
        assert!(fit(&picky, &node("a", &[("disk", "ssd")], &[])).should_run);
    }

    #[test]
    fn pinned_pods_name_their_node() {
        let mut spec = PodSpec::default();
        pin_to_node(&mut spec, "n2");
        let pod = Pod { spec: Some(spec), ..Default::default() };
        assert_eq!(node_of(&pod).as_deref(), Some("n2"));
        let pinned = pod.spec.clone().unwrap();
        let view_node = node("n2", &[], &[]);
        let other = node("n3", &[], &[]);
        let p = Pod { spec: Some(pinned), ..Default::default() };
        assert!(fit(&p, &view_node).should_run);
        assert!(!fit(&p, &other).should_run);
    }
}
