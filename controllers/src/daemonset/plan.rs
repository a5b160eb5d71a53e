//! What one DaemonSet sync does, decided without IO from what is on each
//! node: daemon pods to create where one is missing, pods to delete where
//! none belongs (or one too many), and the rolling update's replacements
//! within `maxUnavailable` and `maxSurge`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::placement::Fit;
use super::revisions::HASH_LABEL;
use crate::pods;

/// One node as the DaemonSet sees it.
#[derive(Debug)]
pub struct NodeState {
    pub name: String,
    pub fit: Fit,
    /// The DaemonSet's active pods there, oldest first.
    pub pods: Vec<Arc<Pod>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    RollingUpdate { max_unavailable: usize, max_surge: usize },
    OnDelete,
}

#[derive(Debug, Default)]
pub struct Plan {
    /// Nodes that get a new pod of the current template.
    pub create: Vec<String>,
    pub delete: Vec<Arc<Pod>>,
}

fn hash_of(pod: &Pod) -> Option<&str> {
    pod.metadata.labels.as_ref()?.get(HASH_LABEL).map(String::as_str)
}

fn is_new(pod: &Pod, hash: &str) -> bool {
    hash_of(pod) == Some(hash)
}

/// The status counts of upstream's DaemonSet.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub desired: i32,
    pub current: i32,
    pub misscheduled: i32,
    pub ready: i32,
    pub available: i32,
    pub updated: i32,
}

pub fn counts(nodes: &[NodeState], hash: &str, min_ready: i32, now: Timestamp) -> Counts {
    let mut c = Counts::default();
    for n in nodes {
        if !n.fit.should_run {
            if !n.pods.is_empty() {
                c.misscheduled += 1;
            }
            continue;
        }
        c.desired += 1;
        let Some(pod) = n.pods.first() else { continue };
        c.current += 1;
        if pods::is_ready(pod) {
            c.ready += 1;
        }
        if pods::available(pod, min_ready, now).is_ok() {
            c.available += 1;
        }
        if n.pods.iter().any(|p| is_new(p, hash)) {
            c.updated += 1;
        }
    }
    c
}

pub fn plan(nodes: &[NodeState], hash: &str, strategy: Strategy, min_ready: i32, now: Timestamp) -> Plan {
    let surge = matches!(strategy, Strategy::RollingUpdate { max_surge, .. } if max_surge > 0);
    let available = |p: &Pod| pods::available(p, min_ready, now).is_ok();
    let mut plan = Plan::default();
    for n in nodes {
        if n.fit.should_run {
            if n.pods.is_empty() {
                plan.create.push(n.name.clone());
                continue;
            }
            // One pod per node; while surging, one old and one new.
            let mut kept_new = false;
            let mut kept_old = false;
            for pod in &n.pods {
                let slot = if surge && is_new(pod, hash) { &mut kept_new } else { &mut kept_old };
                let keep = !std::mem::replace(slot, true);
                if !keep {
                    plan.delete.push(Arc::clone(pod));
                }
            }
        } else if !n.fit.should_continue {
            plan.delete.extend(n.pods.iter().cloned());
        }
    }
    let Strategy::RollingUpdate { max_unavailable, max_surge } = strategy else { return plan };
    if !plan.create.is_empty() || !plan.delete.is_empty() {
        // Settle the nodes first; the update goes on at the next sync.
        return plan;
    }
    let running: Vec<&NodeState> = nodes.iter().filter(|n| n.fit.should_run && !n.pods.is_empty()).collect();
    if max_surge == 0 {
        let mut unavailable =
            nodes.iter().filter(|n| n.fit.should_run && !n.pods.first().is_some_and(|p| available(p))).count();
        for n in &running {
            let pod = &n.pods[0];
            if is_new(pod, hash) {
                continue;
            }
            if !available(pod) {
                // Already down: replacing it costs nothing.
                plan.delete.push(Arc::clone(pod));
            } else if unavailable < max_unavailable {
                unavailable += 1;
                plan.delete.push(Arc::clone(pod));
            }
        }
        return plan;
    }
    let mut surging = running.iter().filter(|n| n.pods.len() > 1).count();
    for n in &running {
        let new = n.pods.iter().find(|p| is_new(p, hash));
        let old: Vec<&Arc<Pod>> = n.pods.iter().filter(|p| !is_new(p, hash)).collect();
        match (new, old.first()) {
            (Some(new), Some(_)) if available(new) => plan.delete.extend(old.into_iter().cloned()),
            (None, Some(old)) if !available(old) => plan.delete.push(Arc::clone(old)),
            (None, Some(_)) if surging < max_surge => {
                surging += 1;
                plan.create.push(n.name.clone());
            }
            _ => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn pod(name: &str, hash: &str, ready: bool) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.labels = Some([(HASH_LABEL.to_string(), hash.to_string())].into_iter().collect());
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(Time(Timestamp::UNIX_EPOCH)),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(p)
    }

    const RUN: Fit = Fit { should_run: true, should_continue: true };

    fn node(name: &str, fit: Fit, pods: Vec<Arc<Pod>>) -> NodeState {
        NodeState { name: name.into(), fit, pods }
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<&str> {
        pods.iter().map(|p| p.metadata.name.as_deref().unwrap()).collect()
    }

    #[test]
    fn every_eligible_node_gets_one_pod() {
        let nodes = vec![
            node("a", RUN, vec![]),
            node("b", RUN, vec![pod("b1", "h", true), pod("b2", "h", true)]),
            node("c", Fit { should_run: false, should_continue: false }, vec![pod("c1", "h", true)]),
            node("d", Fit { should_run: false, should_continue: true }, vec![pod("d1", "h", true)]),
        ];
        let strategy = Strategy::RollingUpdate { max_unavailable: 1, max_surge: 0 };
        let p = plan(&nodes, "h", strategy, 0, Timestamp::now());
        assert_eq!(p.create, ["a"]);
        assert_eq!(names(&p.delete), ["b2", "c1"]);
        let c = counts(&nodes, "h", 0, Timestamp::now());
        assert_eq!(c, Counts { desired: 2, current: 1, misscheduled: 2, ready: 1, available: 1, updated: 1 });
    }

    #[test]
    fn a_rolling_update_replaces_within_max_unavailable() {
        let nodes = vec![
            node("a", RUN, vec![pod("a1", "old", true)]),
            node("b", RUN, vec![pod("b1", "old", false)]),
            node("c", RUN, vec![pod("c1", "old", true)]),
            node("d", RUN, vec![pod("d1", "new", true)]),
        ];
        let p = plan(&nodes, "new", Strategy::RollingUpdate { max_unavailable: 2, max_surge: 0 }, 0, Timestamp::now());
        assert!(p.create.is_empty());
        assert_eq!(names(&p.delete), ["a1", "b1"], "b1 is down already; one more may go");
        let on_delete = plan(&nodes, "new", Strategy::OnDelete, 0, Timestamp::now());
        assert!(on_delete.delete.is_empty());
    }

    #[test]
    fn surging_starts_the_new_pod_before_the_old_one_goes() {
        let nodes = vec![
            node("a", RUN, vec![pod("a1", "old", true)]),
            node("b", RUN, vec![pod("b1", "old", true), pod("b2", "new", true)]),
        ];
        let p = plan(&nodes, "new", Strategy::RollingUpdate { max_unavailable: 0, max_surge: 2 }, 0, Timestamp::now());
        assert_eq!(p.create, ["a"]);
        assert_eq!(names(&p.delete), ["b1"]);
    }
}
