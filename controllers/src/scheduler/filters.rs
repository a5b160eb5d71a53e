//! The filters of the default scheduler profile, in upstream's order, each
//! with upstream's reason string (the words `kubectl describe pod` shows
//! after "0/3 nodes are available:"). A node fails at its first failing
//! filter; resource fit reports every short resource at once. Which
//! failures removing pods could cure (upstream's Unschedulable, as against
//! UnschedulableAndUnresolvable) is [`preemption_may_help`].

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm, Taint, Toleration,
};
use k8s_openapi::jiff::Timestamp;

use super::quantity::{self, Resources};
use crate::labels;

pub const FREE_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
pub const TOO_MANY_PODS: &str = "Too many pods";
pub const SPREAD: &str = "node(s) didn't match pod topology spread constraints";
pub const SPREAD_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
pub const AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Whether evicting pods from the node could let the pod pass where it
/// failed with `reasons`: short resources, host ports, too many pods,
/// topology spread skew and anti-affinity, as upstream's filters return
/// Unschedulable for these. Taints, unschedulable nodes, node affinity,
/// volumes, pod affinity and a missing topology label are unresolvable.
pub fn preemption_may_help(reasons: &[String]) -> bool {
    !reasons.is_empty()
        && reasons.iter().all(|r| {
            r.starts_with("Insufficient ")
                || [FREE_PORTS, TOO_MANY_PODS, SPREAD, ANTI_AFFINITY, EXISTING_ANTI_AFFINITY].contains(&r.as_str())
        })
}

/// What the scheduler knows of a pod placed on a node (bound or assumed),
/// or of a pending pod's room on the node it is nominated to.
#[derive(Debug, Clone)]
pub struct Placed {
    pub node: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// `status.startTime`; upstream counts a pod without one as started now.
    pub start_time: Option<Timestamp>,
    /// Being deleted after the scheduler preempted it (`DisruptionTarget`, PreemptionByScheduler).
    pub preempted: bool,
    /// A pending pod nominated to this node, not a pod on it.
    pub nominated: bool,
    pub labels: BTreeMap<String, String>,
    pub requests: Resources,
    pub host_ports: Vec<HostPort>,
    /// Its required anti-affinity terms, which new pods must respect too.
    pub anti_affinity: Vec<PodAffinityTerm>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl Placed {
    pub fn of(pod: &Pod, node: &str) -> Placed {
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let preempted = pod.metadata.deletion_timestamp.is_some()
            && status.and_then(|s| s.conditions.as_ref()).into_iter().flatten().any(|c| {
                c.type_ == "DisruptionTarget"
                    && c.status == "True"
                    && c.reason.as_deref() == Some("PreemptionByScheduler")
            });
        Placed {
            node: node.to_string(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
            preempted,
            nominated: false,
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            requests: quantity::pod_requests(pod),
            host_ports: host_ports(pod),
            anti_affinity: spec
                .and_then(|s| s.affinity.as_ref())
                .and_then(|a| a.pod_anti_affinity.as_ref())
                .and_then(|a| a.required_during_scheduling_ignored_during_execution.clone())
                .unwrap_or_default(),
            owner: crate::owner::controller_of(&pod.metadata).map(|r| r.uid.clone()),
        }
    }
}

pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else { return Vec::new() };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|h| *h > 0)?;
            Some(HostPort {
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ip: p.host_ip.clone().filter(|ip| !ip.is_empty()).unwrap_or_else(|| "0.0.0.0".into()),
                port,
            })
        })
        .collect()
}

/// A node with what is placed on it.
#[derive(Debug)]
pub struct NodeView<'a> {
    pub node: &'a Node,
    pub name: &'a str,
    pub labels: BTreeMap<String, String>,
    pub placed: Vec<&'a Placed>,
}

impl NodeView<'_> {
    pub fn allocatable(&self) -> Resources {
        quantity::of_map(self.node.status.as_ref().and_then(|s| s.allocatable.as_ref()))
    }

    pub fn requested(&self) -> Resources {
        let mut sum = Resources::new();
        for p in &self.placed {
            for (k, v) in &p.requests {
                *sum.entry(k.clone()).or_default() += v;
            }
        }
        sum
    }
}

pub fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t.effect.as_deref().is_none_or(|e| e.is_empty() || e == taint.effect);
        let key_ok = t.key.as_deref().is_none_or(|k| k.is_empty() || k == taint.key);
        let value_ok = match t.operator.as_deref().unwrap_or("Equal") {
            "Exists" => true,
            _ => t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        };
        // An empty key with Exists tolerates everything.
        effect_ok && key_ok && value_ok
    })
}

fn node_requirement(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) =
                (value.and_then(|v| v.parse::<i64>().ok()), values.first().and_then(|b| b.parse::<i64>().ok()))
            else {
                return false;
            };
            if req.operator == "Gt" { v > bound } else { v < bound }
        }
        _ => false,
    }
}

/// One NodeSelectorTerm: all of its label and field requirements hold.
pub fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|r| node_requirement(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| r.key == "metadata.name" && node_requirement(r, Some(name)))
}

/// nodeSelector and required node affinity (its terms are ORed).
pub fn node_affinity_matches(pod: &Pod, view: &NodeView<'_>) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return true };
    let selector_ok = spec.node_selector.iter().flatten().all(|(k, v)| view.labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    let affinity_ok =
        required.is_none_or(|r| r.node_selector_terms.iter().any(|t| term_matches(t, &view.labels, view.name)));
    selector_ok && affinity_ok
}

/// Whether `term` of a pod in `namespace` selects `other`.
fn term_selects(term: &PodAffinityTerm, namespace: &str, other: &Placed) -> bool {
    let namespaces = term.namespaces.as_deref().unwrap_or_default();
    let ns_ok = if namespaces.is_empty() && term.namespace_selector.is_none() {
        other.namespace == namespace
    } else {
        // A namespaceSelector would need namespace labels: an empty one selects all.
        namespaces.contains(&other.namespace)
            || term.namespace_selector.as_ref().is_some_and(|s| *s == Default::default())
    };
    ns_ok && term.label_selector.as_ref().is_some_and(|s| labels::matches(s, Some(&other.labels)))
}

/// The pods placed in the same topology domain as `view` for `key`.
fn same_domain<'a>(key: &str, view: &NodeView<'_>, nodes: &'a [NodeView<'a>]) -> Vec<&'a Placed> {
    let Some(value) = view.labels.get(key) else { return Vec::new() };
    nodes.iter().filter(|n| n.labels.get(key) == Some(value)).flat_map(|n| n.placed.iter().copied()).collect()
}

/// The reasons a node cannot take the pod; empty if it can. `volumes` is
/// VolumeBinding's filter (`volumes.rs`), run in its place in the order.
pub fn check(
    pod: &Pod,
    pod_requests: &Resources,
    view: &NodeView<'_>,
    all: &[NodeView<'_>],
    volumes: impl Fn(&NodeView<'_>) -> Vec<String>,
) -> Vec<String> {
    let spec = pod.spec.clone().unwrap_or_default();
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    let node_spec = view.node.spec.clone().unwrap_or_default();
    // NodeUnschedulable
    if node_spec.unschedulable == Some(true) {
        let taint =
            Taint { key: "node.kubernetes.io/unschedulable".into(), effect: "NoSchedule".into(), ..Default::default() };
        if !tolerates(&tolerations, &taint) {
            return vec!["node(s) were unschedulable".into()];
        }
    }
    // TaintToleration
    for taint in node_spec.taints.iter().flatten() {
        if matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute") && !tolerates(&tolerations, taint) {
            return vec![format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or_default()
            )];
        }
    }
    // NodeAffinity
    if !node_affinity_matches(pod, view) {
        return vec!["node(s) didn't match Pod's node affinity/selector".into()];
    }
    // NodePorts
    let wanted = host_ports(pod);
    if !wanted.is_empty() {
        let used: HashSet<&HostPort> = view.placed.iter().flat_map(|p| p.host_ports.iter()).collect();
        let conflict = wanted.iter().any(|w| {
            used.iter().any(|u| {
                u.protocol == w.protocol && u.port == w.port && (u.ip == w.ip || u.ip == "0.0.0.0" || w.ip == "0.0.0.0")
            })
        });
        if conflict {
            return vec![FREE_PORTS.into()];
        }
    }
    // NodeResourcesFit
    let allocatable = view.allocatable();
    let requested = view.requested();
    let mut short = Vec::new();
    let max_pods = allocatable.get("pods").copied().unwrap_or(110_000);
    if (view.placed.len() as i128 + 1) * 1000 > max_pods {
        short.push(TOO_MANY_PODS.to_string());
    }
    for (name, want) in pod_requests {
        if *want == 0 {
            continue;
        }
        let have = allocatable.get(name).copied().unwrap_or(0);
        let used = requested.get(name).copied().unwrap_or(0);
        if want + used > have {
            short.push(format!("Insufficient {name}"));
        }
    }
    if !short.is_empty() {
        return short;
    }
    // VolumeBinding
    let volume_reasons = volumes(view);
    if !volume_reasons.is_empty() {
        return volume_reasons;
    }
    // PodTopologySpread (DoNotSchedule)
    if let Some(reason) = spread_failure(pod, view, all) {
        return vec![reason.into()];
    }
    // InterPodAffinity: the pod's affinity, its anti-affinity, then that of the pods placed.
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let me = Placed::of(pod, view.name);
    let affinity = spec.affinity.clone().unwrap_or_default();
    let required_affinity =
        affinity.pod_affinity.and_then(|a| a.required_during_scheduling_ignored_during_execution).unwrap_or_default();
    for term in &required_affinity {
        let domain = same_domain(&term.topology_key, view, all);
        let satisfied = domain.iter().any(|p| term_selects(term, &namespace, p));
        // The first pod of a group may go anywhere its own labels satisfy the term.
        let any_anywhere = all.iter().flat_map(|n| n.placed.iter()).any(|p| term_selects(term, &namespace, p));
        let self_match = term_selects(term, &namespace, &me) && view.labels.contains_key(&term.topology_key);
        if !(satisfied || (!any_anywhere && self_match)) {
            return vec![AFFINITY.into()];
        }
    }
    let required_anti = affinity
        .pod_anti_affinity
        .and_then(|a| a.required_during_scheduling_ignored_during_execution)
        .unwrap_or_default();
    for term in &required_anti {
        if same_domain(&term.topology_key, view, all).iter().any(|p| term_selects(term, &namespace, p)) {
            return vec![ANTI_AFFINITY.into()];
        }
    }
    for other in all.iter().flat_map(|n| n.placed.iter().copied()) {
        for term in &other.anti_affinity {
            if term_selects(term, &other.namespace, &me) {
                let other_domain =
                    all.iter().find(|n| n.name == other.node).and_then(|n| n.labels.get(&term.topology_key));
                if other_domain.is_some() && other_domain == view.labels.get(&term.topology_key) {
                    return vec![EXISTING_ANTI_AFFINITY.into()];
                }
            }
        }
    }
    Vec::new()
}

/// Why a DoNotSchedule topology spread constraint fails if the pod lands on `view`, if one does.
fn spread_failure(pod: &Pod, view: &NodeView<'_>, all: &[NodeView<'_>]) -> Option<&'static str> {
    let constraints = pod.spec.as_ref().and_then(|s| s.topology_spread_constraints.clone()).unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    for c in constraints.iter().filter(|c| c.when_unsatisfiable == "DoNotSchedule") {
        let Some(domain) = view.labels.get(&c.topology_key) else { return Some(SPREAD_LABEL) };
        let selects = |p: &Placed| {
            p.namespace == namespace && c.label_selector.as_ref().is_some_and(|s| labels::matches(s, Some(&p.labels)))
        };
        // Counts per domain, over nodes that have the key and match the pod's node affinity.
        let mut counts: BTreeMap<&str, i32> = BTreeMap::new();
        for n in all {
            let Some(d) = n.labels.get(&c.topology_key) else { continue };
            if !node_affinity_matches(pod, n) {
                continue;
            }
            *counts.entry(d.as_str()).or_default() += n.placed.iter().filter(|p| selects(p)).count() as i32;
        }
        let min = counts.values().copied().min().unwrap_or(0);
        let min = if c.min_domains.is_some_and(|m| (counts.len() as i32) < m) { 0 } else { min };
        let here = counts.get(domain.as_str()).copied().unwrap_or(0) + 1;
        if here - min > c.max_skew {
            return Some(SPREAD);
        }
    }
    None
}

/// Upstream's summary: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {...}."
pub fn summary(nodes: usize, reasons: &BTreeMap<String, usize>) -> String {
    if nodes == 0 {
        return "no nodes available to schedule pods".into();
    }
    let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    format!("0/{nodes} nodes are available: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_eviction_can_cure_call_for_preemption() {
        let helps = |reasons: &[&str]| preemption_may_help(&reasons.iter().map(|r| r.to_string()).collect::<Vec<_>>());
        assert!(helps(&["Insufficient cpu", "Insufficient memory"]));
        assert!(helps(&[TOO_MANY_PODS]));
        assert!(helps(&[FREE_PORTS]));
        assert!(helps(&[SPREAD]));
        assert!(helps(&[ANTI_AFFINITY]));
        assert!(helps(&[EXISTING_ANTI_AFFINITY]));
        assert!(!helps(&[SPREAD_LABEL]));
        assert!(!helps(&[AFFINITY]));
        assert!(!helps(&["node(s) had untolerated taint {dedicated: db}"]));
        assert!(!helps(&["node(s) didn't match Pod's node affinity/selector"]));
        assert!(!helps(&["node(s) were unschedulable"]));
        assert!(!helps(&["node(s) had volume node affinity conflict"]));
        assert!(!helps(&[]));
    }
}
