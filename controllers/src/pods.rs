//! What the controllers ask of a pod: is it active, ready, available, and
//! which to delete first when scaling down (upstream's `ActivePods` order).

use std::cmp::Ordering;
use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

pub fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

/// Not finished and not being deleted: counts towards a controller's replicas.
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

pub fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Since when the pod has been Ready, if it is.
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    let condition = pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")?;
    if condition.status != "True" {
        return None;
    }
    Some(condition.last_transition_time.as_ref().map(|t| t.0).unwrap_or_else(|| pod_created(pod)))
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

fn pod_created(pod: &Pod) -> Timestamp {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Ready for at least `min_ready_seconds` at `now`. When it is ready but not
/// yet long enough, the wait left is returned as the error.
pub fn available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Result<(), Option<std::time::Duration>> {
    let since = ready_since(pod).ok_or(None)?;
    if min_ready_seconds <= 0 {
        return Ok(());
    }
    let ready_for = now.as_second() - since.as_second();
    let left = i64::from(min_ready_seconds) - ready_for;
    if left <= 0 { Ok(()) } else { Err(Some(std::time::Duration::from_secs(left as u64))) }
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum())
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Orders `pods` so that the ones to delete first come first: unscheduled
/// before scheduled, pending before unknown before running, not ready
/// before ready, crowded nodes before sparse ones, lower deletion cost,
/// ready for less time, more restarts, and newer first.
pub fn sort_for_deletion(pods: &mut [&Pod]) {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for pod in pods.iter() {
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            *per_node.entry(node).or_default() += 1;
        }
    }
    let node_of = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty());
    let phase_rank = |p: &Pod| match phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    };
    let crowd: HashMap<String, usize> = per_node.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    pods.sort_by(|a, b| {
        let (na, nb) = (node_of(a), node_of(b));
        na.is_some()
            .cmp(&nb.is_some())
            .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
            .then_with(|| is_ready(a).cmp(&is_ready(b)))
            .then_with(|| {
                let ca = na.as_ref().and_then(|n| crowd.get(n)).copied().unwrap_or(0);
                let cb = nb.as_ref().and_then(|n| crowd.get(n)).copied().unwrap_or(0);
                cb.cmp(&ca)
            })
            .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
            .then_with(|| match (ready_since(a), ready_since(b)) {
                (Some(x), Some(y)) => y.cmp(&x),
                _ => Ordering::Equal,
            })
            .then_with(|| restarts(b).cmp(&restarts(a)))
            .then_with(|| pod_created(b).cmp(&pod_created(a)))
    });
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    use super::*;

    fn pod(name: &str, node: Option<&str>, phase: &str, ready_at: Option<i64>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(Timestamp::from_second(1000).unwrap())),
                ..Default::default()
            },
            spec: Some(PodSpec { node_name: node.map(String::from), ..Default::default() }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready_at.map(|t| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(Timestamp::from_second(t).unwrap())),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn deletion_order_prefers_unscheduled_then_pending_then_unready() {
        let ready_old = pod("ready-old", Some("n1"), "Running", Some(2000));
        let ready_new = pod("ready-new", Some("n2"), "Running", Some(3000));
        let unready = pod("unready", Some("n3"), "Running", None);
        let pending = pod("pending", Some("n4"), "Pending", None);
        let unscheduled = pod("unscheduled", None, "Pending", None);
        let mut pods = vec![&ready_old, &ready_new, &unready, &pending, &unscheduled];
        sort_for_deletion(&mut pods);
        let names: Vec<_> = pods.iter().map(|p| p.metadata.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["unscheduled", "pending", "unready", "ready-new", "ready-old"]);
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let p = pod("p", Some("n"), "Running", Some(100));
        let at = |s| Timestamp::from_second(s).unwrap();
        assert_eq!(available(&p, 0, at(100)), Ok(()));
        assert_eq!(available(&p, 10, at(104)), Err(Some(std::time::Duration::from_secs(6))));
        assert_eq!(available(&p, 10, at(110)), Ok(()));
        assert_eq!(available(&pod("q", None, "Pending", None), 0, at(0)), Err(None));
    }
}
