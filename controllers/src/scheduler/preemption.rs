//! DefaultPreemption, upstream's PostFilter: a pod that fits nowhere, and
//! may preempt (its `preemptionPolicy` is not Never, and no pod it
//! preempted before is still terminating on its nominated node), looks for
//! nodes where evicting pods of lower priority lets it pass the filters.
//! Only nodes whose failure eviction can cure are tried (resources, host
//! ports, spread skew, anti-affinity; not taints, selectors or volumes).
//! On each, every lower-priority pod is taken away, and then as many as
//! still leave room are given back, the most important first and those
//! whose eviction would break a PodDisruptionBudget before the others; the
//! node is chosen by upstream's criteria in order: fewest budget
//! violations, lowest highest victim priority, smallest sum of
//! priorities, fewest victims, latest start of the highest-priority
//! victims. This file only decides; evicting the victims and nominating
//! the node are the scheduler's (mod.rs).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;

use super::filters::{self, NodeView, Placed};
use super::quantity::Resources;

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const POLICY_NEVER: &str = "not eligible due to preemptionPolicy=Never.";
pub const TERMINATING: &str = "not eligible due to a terminating pod on the nominated node.";
/// How many candidate nodes are enough (upstream's DefaultPreemptionArgs
/// defaults): 10% of the nodes tried, but at least 100.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// `spec.priority`, 0 when unset (upstream's `PodPriority`).
pub fn priority_of(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// A PodDisruptionBudget as preemption weighs it.
#[derive(Debug, Clone)]
pub struct Budget {
    pub namespace: String,
    pub selector: Option<LabelSelector>,
    /// `status.disruptionsAllowed`.
    pub allowed: i32,
    /// `status.disruptedPods`: evictions the API server already counted.
    pub disrupted: HashSet<String>,
}

impl Budget {
    pub fn of(pdb: &PodDisruptionBudget) -> Budget {
        let status = pdb.status.as_ref();
        Budget {
            namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
            selector: pdb.spec.as_ref().and_then(|s| s.selector.clone()),
            allowed: status.map_or(0, |s| s.disruptions_allowed),
            disrupted: status
                .and_then(|s| s.disrupted_pods.as_ref())
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .collect(),
        }
    }

    /// A budget selects pods of its namespace; a missing or empty selector
    /// selects none, and a pod without labels is selected by none.
    fn selects(&self, p: &Placed) -> bool {
        let Some(selector) = &self.selector else { return false };
        let empty = selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && selector.match_expressions.as_ref().is_none_or(|e| e.is_empty());
        self.namespace == p.namespace
            && !empty
            && !p.labels.is_empty()
            && crate::labels::matches(selector, Some(&p.labels))
    }
}

/// A node where the pod fits once `victims` are gone.
#[derive(Debug)]
pub struct Candidate<'a> {
    pub node: &'a str,
    /// The most important first.
    pub victims: Vec<&'a Placed>,
    /// How many of them a PodDisruptionBudget does not allow to go.
    pub violations: usize,
}

/// What preemption concludes for a pod that fits nowhere.
#[derive(Debug)]
pub enum Verdict<'a> {
    /// Evict the victims and nominate the node.
    Preempt(Candidate<'a>),
    /// No node would take the pod even with evictions: the words after
    /// "preemption: "; the pod's nomination, if any, is cleared.
    Unhelpful(String),
    /// The pod may not preempt now; its nomination stays.
    Ineligible(&'static str),
}

/// What a pod's start counts as: upstream takes a pod not started as started now.
fn started(p: &Placed, now: Timestamp) -> Timestamp {
    p.start_time.unwrap_or(now)
}

/// Upstream's `MoreImportantPod` as an order: higher priority first, then the one started earlier.
fn more_important_first(a: &Placed, b: &Placed, now: Timestamp) -> Ordering {
    b.priority.cmp(&a.priority).then_with(|| started(a, now).cmp(&started(b, now)))
}

/// Splits `pods` (kept in order) into those whose eviction breaks a budget
/// and the others, as upstream's `filterPodsWithPDBViolation`: each pod
/// takes one disruption from every budget selecting it, unless the budget
/// already counts it as disrupted.
fn split_by_budgets<'a>(pods: &[&'a Placed], budgets: &[Budget]) -> (Vec<&'a Placed>, Vec<&'a Placed>) {
    let mut allowed: Vec<i32> = budgets.iter().map(|b| b.allowed).collect();
    let mut violating = Vec::new();
    let mut others = Vec::new();
    for p in pods {
        let mut breaks = false;
        for (b, left) in budgets.iter().zip(allowed.iter_mut()) {
            if !b.selects(p) || b.disrupted.contains(&p.name) {
                continue;
            }
            *left -= 1;
            breaks |= *left < 0;
        }
        if breaks { violating.push(*p) } else { others.push(*p) }
    }
    (violating, others)
}

fn copy<'a>(v: &NodeView<'a>) -> NodeView<'a> {
    NodeView { node: v.node, name: v.name, labels: v.labels.clone(), placed: v.placed.clone() }
}

/// The pod and what it asks, for the dry runs.
pub struct Preemptor<'p> {
    pub pod: &'p Pod,
    pub requests: &'p Resources,
    pub priority: i32,
}

/// Upstream's `SelectVictimsOnNode` for `views[at]`: the victims and how
/// many of them break a budget, or why the pod does not fit even with every
/// lower-priority pod gone.
fn select_victims<'a>(
    me: &Preemptor<'_>,
    at: usize,
    views: &[NodeView<'a>],
    budgets: &[Budget],
    volumes: &dyn Fn(&NodeView<'_>) -> Vec<String>,
    now: Timestamp,
) -> Result<(Vec<&'a Placed>, usize), Vec<String>> {
    let mut all: Vec<NodeView<'a>> = views.iter().map(copy).collect();
    let (mut potential, rest): (Vec<&'a Placed>, Vec<&'a Placed>) =
        all[at].placed.iter().partition(|p| !p.nominated && p.priority < me.priority);
    if potential.is_empty() {
        return Err(vec![NO_VICTIMS.into()]);
    }
    all[at].placed = rest;
    let failed = filters::check(me.pod, me.requests, &all[at], &all, volumes);
    if !failed.is_empty() {
        return Err(failed);
    }
    potential.sort_by(|a, b| more_important_first(a, b, now));
    let (violating, others) = split_by_budgets(&potential, budgets);
    let mut victims = Vec::new();
    let mut violations = 0;
    let tries = violating.iter().map(|p| (*p, true)).chain(others.iter().map(|p| (*p, false)));
    for (p, breaks_budget) in tries {
        all[at].placed.push(p);
        if !filters::check(me.pod, me.requests, &all[at], &all, volumes).is_empty() {
            all[at].placed.pop();
            victims.push(p);
            violations += usize::from(breaks_budget);
        }
    }
    if !violating.is_empty() && !others.is_empty() {
        victims.sort_by(|a, b| more_important_first(a, b, now));
    }
    if victims.is_empty() {
        // The pod fits untouched: the filters disagree with the first pass.
        return Err(vec![format!("expected at least one victim pod on node \"{}\"", views[at].name)]);
    }
    Ok((victims, violations))
}

/// Upstream's `PodEligibleToPreemptOthers`.
fn eligible(me: &Preemptor<'_>, views: &[NodeView<'_>], failures: &[Vec<String>]) -> Result<(), &'static str> {
    let spec = me.pod.spec.as_ref();
    if spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
        return Err(POLICY_NEVER);
    }
    let nominated = me.pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty());
    let Some(at) = nominated.and_then(|n| views.iter().position(|v| v.name == n)) else { return Ok(()) };
    // A nominated node that no eviction could fix: look elsewhere.
    if !filters::preemption_may_help(&failures[at]) {
        return Ok(());
    }
    if views[at].placed.iter().any(|p| !p.nominated && p.priority < me.priority && p.preempted) {
        return Err(TERMINATING);
    }
    Ok(())
}

/// How many candidates are enough among `nodes` (upstream's `calculateNumCandidates`).
fn candidates_wanted(nodes: usize) -> usize {
    (nodes * MIN_CANDIDATE_NODES_PERCENTAGE / 100).max(MIN_CANDIDATE_NODES_ABSOLUTE).min(nodes)
}

/// Preemption for a pod that passed on none of `views`, having failed on
/// each with `failures` (same order). Nodes are tried from `offset` on
/// (upstream picks it at random), until enough candidates are found.
pub fn post_filter<'a>(
    me: &Preemptor<'_>,
    views: &[NodeView<'a>],
    failures: &[Vec<String>],
    budgets: &[Budget],
    volumes: &dyn Fn(&NodeView<'_>) -> Vec<String>,
    offset: usize,
    now: Timestamp,
) -> Verdict<'a> {
    if let Err(why) = eligible(me, views, failures) {
        return Verdict::Ineligible(why);
    }
    let potential: Vec<usize> = (0..views.len()).filter(|&i| filters::preemption_may_help(&failures[i])).collect();
    let wanted = candidates_wanted(potential.len());
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed_nodes = 0;
    let (mut clean, mut violating) = (Vec::new(), Vec::new());
    for k in 0..potential.len() {
        let at = potential[(offset + k) % potential.len()];
        match select_victims(me, at, views, budgets, volumes, now) {
            Ok((victims, violations)) => {
                let candidate = Candidate { node: views[at].name, victims, violations };
                if violations == 0 {
                    clean.push(candidate)
                } else {
                    violating.push(candidate)
                }
                if !clean.is_empty() && clean.len() + violating.len() >= wanted {
                    break;
                }
            }
            Err(why) => {
                failed_nodes += 1;
                for r in why {
                    *reasons.entry(r).or_default() += 1;
                }
            }
        }
    }
    clean.extend(violating);
    if clean.is_empty() {
        let not_tried = views.len() - failed_nodes;
        if not_tried > 0 {
            *reasons.entry(NOT_HELPFUL.into()).or_default() += not_tried;
        }
        return Verdict::Unhelpful(filters::summary(views.len(), &reasons));
    }
    Verdict::Preempt(pick(clean, now))
}

/// Upstream's `pickOneNodeForPreemption`: each criterion in turn keeps the
/// candidates that score best on it; of those left at the end, the first.
fn pick(mut candidates: Vec<Candidate<'_>>, now: Timestamp) -> Candidate<'_> {
    let criteria: [&dyn Fn(&Candidate<'_>) -> i128; 5] = [
        &|c| -(c.violations as i128),
        &|c| -i128::from(c.victims.first().map_or(i32::MIN, |v| v.priority)),
        // Shifted to be positive, so that many negative priorities do not win over few.
        &|c| -c.victims.iter().map(|v| i128::from(v.priority) + (1i128 << 31)).sum::<i128>(),
        &|c| -(c.victims.len() as i128),
        &|c| earliest_start_of_highest(c, now),
    ];
    for score in criteria {
        if candidates.len() == 1 {
            break;
        }
        let best = candidates.iter().map(score).max().unwrap_or(0);
        candidates.retain(|c| score(c) == best);
    }
    candidates.swap_remove(0)
}

/// Upstream's `GetEarliestPodStartTime`: the earliest start among the
/// victims of the highest priority, in nanoseconds (a later one wins).
fn earliest_start_of_highest(c: &Candidate<'_>, now: Timestamp) -> i128 {
    let Some(top) = c.victims.iter().map(|v| v.priority).max() else { return i128::MIN };
    c.victims.iter().filter(|v| v.priority == top).map(|v| started(v, now).as_nanosecond()).min().unwrap_or(i128::MIN)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        Affinity, Container, ContainerPort, Node, NodeSpec, NodeStatus, PodAffinity, PodAffinityTerm, PodAntiAffinity,
        PodSpec, PodStatus, Taint,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::jiff::SignedDuration;

    use super::*;
    use crate::scheduler::quantity;

    fn now() -> Timestamp {
        "2025-05-01T10:00:00Z".parse().unwrap()
    }

    fn node(name: &str, cpu: &str, taint: bool) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.status = Some(NodeStatus {
            allocatable: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity(cpu.into())),
                ("pods".to_string(), Quantity("110".into())),
            ])),
            ..Default::default()
        });
        if taint {
            n.spec = Some(NodeSpec {
                taints: Some(vec![Taint {
                    key: "dedicated".into(),
                    value: Some("db".into()),
                    effect: "NoSchedule".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            });
        }
        n
    }

    fn pod(name: &str, cpu: &str, priority: i32) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.metadata.labels = Some(BTreeMap::from([("app".to_string(), name.to_string())]));
        p.spec = Some(PodSpec {
            priority: Some(priority),
            containers: vec![Container {
                name: "c".into(),
                resources: Some(k8s_openapi::api::core::v1::ResourceRequirements {
                    requests: Some(BTreeMap::from([("cpu".to_string(), Quantity(cpu.into()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        });
        p
    }

    /// A pod on `node` that started `minutes` before now.
    fn running(name: &str, node: &str, cpu: &str, priority: i32, minutes: i64) -> Placed {
        let mut p = pod(name, cpu, priority);
        p.status = Some(PodStatus {
            start_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                now() - SignedDuration::from_mins(minutes),
            )),
            ..Default::default()
        });
        Placed::of(&p, node)
    }

    fn with_host_port(mut p: Pod, port: i32) -> Pod {
        if let Some(spec) = p.spec.as_mut() {
            spec.containers[0].ports =
                Some(vec![ContainerPort { container_port: port, host_port: Some(port), ..Default::default() }]);
        }
        p
    }

    fn budget(app: &str, allowed: i32) -> Budget {
        Budget {
            namespace: "default".into(),
            selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), app.to_string())])),
                ..Default::default()
            }),
            allowed,
            disrupted: HashSet::new(),
        }
    }

    fn views<'a>(nodes: &'a [Node], placed: &'a [Placed]) -> Vec<NodeView<'a>> {
        nodes
            .iter()
            .map(|n| {
                let name = n.metadata.name.as_deref().unwrap_or_default();
                NodeView {
                    node: n,
                    name,
                    labels: BTreeMap::from([("kubernetes.io/hostname".to_string(), name.to_string())]),
                    placed: placed.iter().filter(|p| p.node == name).collect(),
                }
            })
            .collect()
    }

    fn no_volumes(_: &NodeView<'_>) -> Vec<String> {
        Vec::new()
    }

    /// Runs the filters, then preemption, as the scheduler does.
    fn run<'a>(pod: &Pod, views: &[NodeView<'a>], budgets: &[Budget]) -> Verdict<'a> {
        let requests = quantity::pod_requests(pod);
        let failures: Vec<Vec<String>> =
            views.iter().map(|v| filters::check(pod, &requests, v, views, no_volumes)).collect();
        assert!(failures.iter().all(|f| !f.is_empty()), "the pod must fit nowhere: {failures:?}");
        let me = Preemptor { pod, requests: &requests, priority: priority_of(pod) };
        post_filter(&me, views, &failures, budgets, &no_volumes, 0, now())
    }

    fn names<'a>(c: &'a Candidate<'_>) -> Vec<&'a str> {
        c.victims.iter().map(|v| v.name.as_str()).collect()
    }

    #[track_caller]
    fn preempt<'a>(v: Verdict<'a>) -> Candidate<'a> {
        match v {
            Verdict::Preempt(c) => c,
            other => panic!("expected a preemption, got {other:?}"),
        }
    }

    #[test]
    fn the_most_important_victims_are_given_back_first() {
        let nodes = [node("n", "1", false)];
        // All 1000m used; the pod wants 500m. Without the pods there is room;
        // then "mid" (highest priority) comes back and fits, "big" and "small" do not.
        let placed = [
            running("small", "n", "300m", 1, 5),
            running("mid", "n", "300m", 10, 5),
            running("big", "n", "400m", 5, 5),
        ];
        let c = preempt(run(&pod("p", "500m", 100), &views(&nodes, &placed), &[]));
        assert_eq!(c.node, "n");
        assert_eq!(names(&c), ["big", "small"], "in order of importance");
        assert_eq!(c.violations, 0);
        // A smaller "small" fits back in after "big" is out, though its priority is the lowest.
        let placed = [
            running("small", "n", "200m", 1, 5),
            running("mid", "n", "300m", 10, 5),
            running("big", "n", "400m", 5, 5),
        ];
        let c = preempt(run(&pod("p", "500m", 100), &views(&nodes, &placed), &[]));
        assert_eq!(names(&c), ["big"]);
    }

    #[test]
    fn equal_or_higher_priority_pods_are_never_victims() {
        let nodes = [node("a", "1", false), node("b", "1", true)];
        let placed = [running("peer", "a", "800m", 100, 5), running("boss", "a", "100m", 200, 5)];
        let Verdict::Unhelpful(message) = run(&pod("p", "500m", 100), &views(&nodes, &placed), &[]) else {
            panic!("no victims")
        };
        assert_eq!(
            message,
            "0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn a_node_too_small_even_when_emptied_says_why() {
        let nodes = [node("a", "1", false)];
        let placed = [running("low", "a", "500m", 0, 5)];
        let Verdict::Unhelpful(message) = run(&pod("p", "2", 100), &views(&nodes, &placed), &[]) else {
            panic!("does not fit")
        };
        assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu.");
    }

    #[test]
    fn a_never_pod_and_a_pod_whose_victims_still_terminate_do_not_preempt() {
        let nodes = [node("a", "1", false)];
        let placed = [running("low", "a", "800m", 0, 5)];
        let mut never = pod("p", "500m", 100);
        never.spec.as_mut().unwrap().preemption_policy = Some("Never".into());
        assert!(matches!(run(&never, &views(&nodes, &placed), &[]), Verdict::Ineligible(POLICY_NEVER)));

        let mut going = pod("old", "800m", 0);
        going.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
        going.status = Some(PodStatus {
            conditions: Some(vec![k8s_openapi::api::core::v1::PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("PreemptionByScheduler".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let placed = [Placed::of(&going, "a")];
        let mut nominated = pod("p", "500m", 100);
        nominated.status = Some(PodStatus { nominated_node_name: Some("a".into()), ..Default::default() });
        assert!(matches!(run(&nominated, &views(&nodes, &placed), &[]), Verdict::Ineligible(TERMINATING)));
        // Without the nomination it may preempt (the terminating pod is a victim again).
        let c = preempt(run(&pod("p", "500m", 100), &views(&nodes, &placed), &[]));
        assert_eq!(names(&c), ["old"]);
    }

    #[test]
    fn victims_whose_budget_forbids_eviction_are_spared_when_others_suffice() {
        let nodes = [node("n", "1", false)];
        // Either pod frees enough; "guarded" is more important (started earlier)
        // and so would be kept anyway; make its budget matter by guarding the other.
        let placed = [running("first", "n", "400m", 0, 10), running("second", "n", "400m", 0, 5)];
        let plain = preempt(run(&pod("p", "500m", 100), &views(&nodes, &placed), &[]));
        assert_eq!(names(&plain), ["second"], "the later started pod goes");
        let guarded = preempt(run(&pod("p", "500m", 100), &views(&nodes, &placed), &[budget("second", 0)]));
        assert_eq!(names(&guarded), ["first"], "the budget's pod is given back first");
        assert_eq!(guarded.violations, 0);
        // When only the guarded pod will do, it goes and the violation is counted.
        let placed = [running("big", "n", "800m", 0, 10), running("tiny", "n", "100m", 0, 5)];
        let forced = preempt(run(&pod("p", "500m", 100), &views(&nodes, &placed), &[budget("big", 0)]));
        assert_eq!(names(&forced), ["big"]);
        assert_eq!(forced.violations, 1);
    }

    #[test]
    fn host_ports_and_anti_affinity_are_freed_by_preemption() {
        let nodes = [node("n", "4", false)];
        let holder = with_host_port(pod("holder", "100m", 0), 80);
        let placed = [Placed::of(&holder, "n"), running("bystander", "n", "100m", 0, 5)];
        let wants_port = with_host_port(pod("p", "100m", 100), 80);
        let c = preempt(run(&wants_port, &views(&nodes, &placed), &[]));
        assert_eq!(names(&c), ["holder"]);

        // A lower-priority pod whose anti-affinity keeps the pod off the node goes.
        let mut loner = pod("loner", "100m", 0);
        loner.spec.as_mut().unwrap().affinity = Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                    topology_key: "kubernetes.io/hostname".into(),
                    label_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([("app".to_string(), "p".to_string())])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let placed = [Placed::of(&loner, "n"), running("bystander", "n", "100m", 0, 5)];
        let c = preempt(run(&pod("p", "100m", 100), &views(&nodes, &placed), &[]));
        assert_eq!(names(&c), ["loner"]);
        // Pod affinity is not something eviction can give: the node is not tried.
        let mut follower = pod("p", "100m", 100);
        follower.spec.as_mut().unwrap().affinity = Some(Affinity {
            pod_affinity: Some(PodAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                    topology_key: "kubernetes.io/hostname".into(),
                    label_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([("app".to_string(), "nobody".to_string())])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let nodes = [node("n", "4", false), node("m", "4", false)];
        let placed = [running("x", "n", "100m", 0, 5), running("y", "m", "100m", 0, 5)];
        let Verdict::Unhelpful(message) = run(&follower, &views(&nodes, &placed), &[]) else {
            panic!("affinity cannot be made by eviction")
        };
        assert_eq!(message, "0/2 nodes are available: 2 Preemption is not helpful for scheduling.");
    }

    #[test]
    fn the_node_is_chosen_by_upstream_criteria_in_order() {
        let nodes = [node("a", "1", false), node("b", "1", false)];
        // Budget violations first: "a" would break one, "b" none, though "b" evicts more.
        let placed =
            [running("a-1", "a", "800m", 0, 5), running("b-1", "b", "400m", 0, 5), running("b-2", "b", "400m", 0, 5)];
        let c = preempt(run(&pod("p", "700m", 100), &views(&nodes, &placed), &[budget("a-1", 0)]));
        assert_eq!((c.node, names(&c)), ("b", vec!["b-1", "b-2"]));
        // Then the lowest highest victim priority.
        let placed = [running("a-1", "a", "800m", 5, 5), running("b-1", "b", "800m", 3, 5)];
        assert_eq!(preempt(run(&pod("p", "500m", 100), &views(&nodes, &placed), &[])).node, "b");
        // Then the smallest sum of priorities.
        let placed = [
            running("a-1", "a", "400m", 5, 5),
            running("a-2", "a", "400m", 5, 5),
            running("b-1", "b", "400m", 5, 5),
            running("b-2", "b", "400m", 1, 5),
        ];
        assert_eq!(preempt(run(&pod("p", "700m", 100), &views(&nodes, &placed), &[])).node, "b");
        // Then fewer victims (which the shifted sum of priorities already prefers).
        let placed =
            [running("a-1", "a", "400m", 0, 5), running("a-2", "a", "400m", 0, 5), running("b-1", "b", "800m", 0, 5)];
        let c = preempt(run(&pod("p", "700m", 100), &views(&nodes, &placed), &[]));
        assert_eq!((c.node, names(&c)), ("b", vec!["b-1"]));
        // Then the latest start of the highest-priority victims.
        let placed = [running("a-1", "a", "800m", 0, 60), running("b-1", "b", "800m", 0, 5)];
        assert_eq!(preempt(run(&pod("p", "500m", 100), &views(&nodes, &placed), &[])).node, "b");
    }

    #[test]
    fn nominated_pods_hold_their_room_but_are_not_victims() {
        let nodes = [node("n", "1", false)];
        let mut reserved = running("coming", "n", "600m", 150, 0);
        reserved.nominated = true;
        let placed = [reserved, running("low", "n", "300m", 0, 5)];
        // With "low" gone, "coming" still holds 600m: no room for 500m, and it is no victim.
        let Verdict::Unhelpful(message) = run(&pod("p", "500m", 100), &views(&nodes, &placed), &[]) else {
            panic!("the nominated pod's room stays")
        };
        assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu.");
    }

    #[test]
    fn enough_candidates_is_a_tenth_of_the_nodes_but_at_least_a_hundred() {
        assert_eq!(candidates_wanted(3), 3);
        assert_eq!(candidates_wanted(500), 100);
        assert_eq!(candidates_wanted(5000), 500);
    }
}
