//! A StatefulSet's status as upstream counts it: replicas (pods created),
//! ready (Running and Ready), available (ready for minReadySeconds),
//! current and updated (not terminating, at the current or the update
//! revision), the revisions, the collision count and the generation seen;
//! a finished rolling update makes the update revision current. `kubectl
//! rollout status` reads exactly these.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::identity;
use crate::pods;

/// Running and Ready (upstream's `isRunningAndReady`).
pub fn running_and_ready(pod: &Pod) -> bool {
    pods::phase(pod) == "Running" && pods::is_ready(pod)
}

/// Running, Ready and not being deleted (upstream's `isHealthy`).
pub fn healthy(pod: &Pod) -> bool {
    running_and_ready(pod) && pod.metadata.deletion_timestamp.is_none()
}

pub fn min_ready_seconds(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

/// Running, Ready for minReadySeconds; otherwise how long until it is, if it is ready.
pub fn available(set: &StatefulSet, pod: &Pod, now: Timestamp) -> Result<(), Option<Duration>> {
    if !running_and_ready(pod) {
        return Err(None);
    }
    pods::available(pod, min_ready_seconds(set), now)
}

/// The revisions and counts for `pods` (the set's, with valid ordinals),
/// and how long until the next ready pod becomes available.
pub fn compute(
    set: &StatefulSet,
    pods: &[&Pod],
    current_revision: &str,
    update_revision: &str,
    collision_count: i32,
    now: Timestamp,
) -> (StatefulSetStatus, Option<Duration>) {
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(current_revision.to_string()),
        update_revision: Some(update_revision.to_string()),
        collision_count: Some(collision_count),
        conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
        ..Default::default()
    };
    let (mut ready, mut available_count, mut current, mut updated) = (0, 0, 0, 0);
    let mut wait: Option<Duration> = None;
    for pod in pods {
        // Every pod the API returns has a phase: all of them are "created".
        status.replicas += 1;
        if running_and_ready(pod) {
            ready += 1;
            match available(set, pod, now) {
                Ok(()) => available_count += 1,
                Err(Some(left)) => wait = Some(wait.map_or(left, |w| w.min(left))),
                Err(None) => {}
            }
        }
        if pod.metadata.deletion_timestamp.is_none() {
            let revision = identity::revision_of(pod);
            if revision == current_revision {
                current += 1;
            }
            if revision == update_revision {
                updated += 1;
            }
        }
    }
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available_count);
    status.current_replicas = Some(current);
    status.updated_replicas = Some(updated);
    (status, wait)
}

fn rolling(set: &StatefulSet) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate"
}

/// When every wanted pod is updated and ready, the update revision becomes
/// the current one (upstream's `completeRollingUpdate`).
pub fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    let want = identity::replicas(set);
    if rolling(set)
        && status.updated_replicas == Some(want)
        && status.ready_replicas == Some(want)
        && status.replicas == want
    {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

/// Whether `status` says something the stored status does not.
pub fn differs(set: &StatefulSet, status: &StatefulSetStatus) -> bool {
    let old = set.status.clone().unwrap_or_default();
    let zero = |v: Option<i32>| v.unwrap_or(0);
    status.observed_generation.unwrap_or(0) > old.observed_generation.unwrap_or(0)
        || status.replicas != old.replicas
        || zero(status.ready_replicas) != zero(old.ready_replicas)
        || zero(status.available_replicas) != zero(old.available_replicas)
        || zero(status.current_replicas) != zero(old.current_replicas)
        || zero(status.updated_replicas) != zero(old.updated_replicas)
        || status.current_revision.as_deref().unwrap_or_default() != old.current_revision.as_deref().unwrap_or_default()
        || status.update_revision.as_deref().unwrap_or_default() != old.update_revision.as_deref().unwrap_or_default()
        || zero(status.collision_count) != zero(old.collision_count)
}

/// A merge patch that writes every field of `status` (zeros included, so
/// that a count going to zero is written).
pub fn patch(status: &StatefulSetStatus) -> Value {
    json!({"status": {
        "observedGeneration": status.observed_generation,
        "replicas": status.replicas,
        "readyReplicas": status.ready_replicas,
        "availableReplicas": status.available_replicas,
        "currentReplicas": status.current_replicas,
        "updatedReplicas": status.updated_replicas,
        "currentRevision": status.current_revision,
        "updateRevision": status.update_revision,
        "collisionCount": status.collision_count,
    }})
}

#[cfg(test)]
pub(super) mod tests {
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::statefulset::identity::tests::set;

    pub fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    /// A pod of `set` at `revision`, Running and Ready since `ready_at` if given.
    pub fn pod(set: &StatefulSet, ordinal: i32, revision: &str, ready_at: Option<i64>) -> Pod {
        let mut p = identity::new_pod(set, ordinal, revision);
        p.metadata.uid = Some(format!("uid-{}", p.metadata.name.clone().unwrap()));
        p.status = Some(PodStatus {
            phase: Some(if ready_at.is_some() { "Running" } else { "Pending" }.into()),
            conditions: ready_at.map(|t| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(at(t))),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        p
    }

    #[test]
    fn counts_follow_readiness_availability_and_revisions() {
        let mut s = set("web", 3);
        s.spec.as_mut().unwrap().min_ready_seconds = Some(10);
        let a = pod(&s, 0, "r1", Some(100));
        let b = pod(&s, 1, "r2", Some(105));
        let mut c = pod(&s, 2, "r1", None);
        c.metadata.deletion_timestamp = Some(Time(at(106)));
        let (status, wait) = compute(&s, &[&a, &b, &c], "r1", "r2", 0, at(110));
        assert_eq!(status.replicas, 3);
        assert_eq!(status.ready_replicas, Some(2));
        assert_eq!(status.available_replicas, Some(1));
        assert_eq!(wait, Some(Duration::from_secs(5)));
        assert_eq!(
            (status.current_replicas, status.updated_replicas),
            (Some(1), Some(1)),
            "terminating pods count for neither"
        );
        assert_eq!(status.observed_generation, Some(1));
    }

    #[test]
    fn a_finished_rollout_makes_the_update_revision_current() {
        let s = set("web", 2);
        let pods = [pod(&s, 0, "r2", Some(1)), pod(&s, 1, "r2", Some(1))];
        let refs: Vec<&Pod> = pods.iter().collect();
        let (mut status, _) = compute(&s, &refs, "r1", "r2", 0, at(5));
        assert_eq!(status.current_replicas, Some(0));
        complete_rolling_update(&s, &mut status);
        assert_eq!(status.current_revision.as_deref(), Some("r2"));
        assert_eq!(status.current_replicas, Some(2));
        assert!(differs(&s, &status));
        let mut stored = s.clone();
        stored.status = Some(status.clone());
        assert!(!differs(&stored, &status));
        assert_eq!(patch(&status)["status"]["updateRevision"], "r2");
    }
}
