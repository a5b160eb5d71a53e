//! A Deployment's status and the conditions `kubectl rollout status` reads
//! (Available, Progressing with its deadline, ReplicaFailure), with
//! upstream's reasons and messages.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";

pub fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_)
}

pub fn new_condition(type_: &str, status: &str, reason: &str, message: String, now: Timestamp) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Sets `cond`, unless one of its type with the same status and reason is
/// there already; a status that does not change keeps its transition time.
pub fn set_condition(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if let Some(old) = conditions.iter().find(|c| c.type_ == cond.type_) {
        if old.status == cond.status && old.reason == cond.reason {
            return;
        }
        if old.status == cond.status {
            cond.last_transition_time = old.last_transition_time.clone();
        }
    }
    conditions.retain(|c| c.type_ != cond.type_);
    conditions.push(cond);
}

pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
    }
}

fn replicas(rs: &ReplicaSet) -> (i32, i32, i32) {
    let s = rs.status.as_ref();
    (
        s.map_or(0, |s| s.replicas),
        s.and_then(|s| s.ready_replicas).unwrap_or(0),
        s.and_then(|s| s.available_replicas).unwrap_or(0),
    )
}

/// The counts and the Available condition, from the ReplicaSets' statuses.
pub fn calculate(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    max_unavailable: i32,
    now: Timestamp,
) -> DeploymentStatus {
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let (mut total, mut ready, mut available) = (0, 0, 0);
    for rs in all {
        let (t, r, a) = replicas(rs);
        total += t;
        ready += r;
        available += a;
    }
    let mut status = d.status.clone().unwrap_or_default();
    status.observed_generation = d.metadata.generation;
    status.replicas = Some(total);
    status.updated_replicas = Some(new.map_or(0, |rs| replicas(rs).0));
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.unavailable_replicas = Some((wanted - available).max(0));
    status.terminating_replicas = None;
    if available >= wanted - max_unavailable {
        set_condition(
            &mut status,
            new_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
                now,
            ),
        );
    } else {
        set_condition(
            &mut status,
            new_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
                now,
            ),
        );
    }
    status
}

/// Whether every wanted pod is updated and available (upstream's `DeploymentComplete`).
pub fn complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    status.updated_replicas == Some(wanted)
        && status.replicas == Some(wanted)
        && status.available_replicas == Some(wanted)
        && status.observed_generation >= d.metadata.generation
}

fn progressed(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

pub fn deadline(d: &Deployment) -> Option<i64> {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).filter(|s| *s != i32::MAX).map(i64::from)
}

/// The Progressing condition after this sync (upstream's `syncRolloutStatus`),
/// and when to look again if the deadline may pass before anything else happens.
pub fn progress(
    d: &Deployment,
    status: &mut DeploymentStatus,
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let Some(deadline) = deadline(d) else {
        remove_condition(status, "Progressing");
        return None;
    };
    let old = d.status.clone().unwrap_or_default();
    let what = match new.and_then(|rs| rs.metadata.name.as_deref()) {
        Some(name) => format!("ReplicaSet \"{name}\""),
        None => format!("Deployment \"{}\"", d.metadata.name.as_deref().unwrap_or_default()),
    };
    let current = condition(&old, "Progressing").cloned();
    let finished = status.replicas == status.updated_replicas
        && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
    if finished {
        return None;
    }
    if complete(d, status) {
        set_condition(
            status,
            new_condition("Progressing", "True", NEW_RS_AVAILABLE, format!("{what} has successfully progressed."), now),
        );
        return None;
    }
    if progressed(&old, status) {
        let mut cond = new_condition("Progressing", "True", RS_UPDATED, format!("{what} is progressing."), now);
        if let Some(c) = &current
            && c.status == "True"
        {
            cond.last_transition_time = c.last_transition_time.clone();
        }
        remove_condition(status, "Progressing");
        set_condition(status, cond);
        return Some(std::time::Duration::from_secs(deadline as u64));
    }
    let cond = condition(status, "Progressing").cloned();
    match cond {
        Some(c) if c.reason.as_deref() == Some(TIMED_OUT) => None,
        Some(c) if c.reason.as_deref() != Some(NEW_RS_AVAILABLE) => {
            let from = c.last_update_time.as_ref().map_or(now.as_second(), |t| t.0.as_second());
            let left = from + deadline - now.as_second();
            if left < 0 {
                set_condition(
                    status,
                    new_condition("Progressing", "False", TIMED_OUT, format!("{what} has timed out progressing."), now),
                );
                None
            } else {
                Some(std::time::Duration::from_secs(left as u64 + 1))
            }
        }
        _ => None,
    }
}

/// The Paused/Resumed Progressing condition (upstream's `checkPausedConditions`).
pub fn paused_condition(d: &Deployment, status: &mut DeploymentStatus, now: Timestamp) {
    if deadline(d).is_none() {
        return;
    }
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let reason = condition(status, "Progressing").and_then(|c| c.reason.clone());
    if paused && reason.as_deref() != Some(PAUSED) {
        set_condition(status, new_condition("Progressing", "Unknown", PAUSED, "Deployment is paused".into(), now));
    } else if !paused && reason.as_deref() == Some(PAUSED) {
        set_condition(status, new_condition("Progressing", "Unknown", RESUMED, "Deployment is resumed".into(), now));
    }
}

/// The first ReplicaFailure of the sets, as the deployment's own.
pub fn replica_failure(status: &mut DeploymentStatus, all: &[&ReplicaSet], now: Timestamp) {
    let failure = all.iter().find_map(|rs| {
        rs.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
            .cloned()
    });
    match failure {
        Some(f) => set_condition(
            status,
            new_condition(
                "ReplicaFailure",
                "True",
                f.reason.as_deref().unwrap_or("FailedCreate"),
                f.message.unwrap_or_default(),
                now,
            ),
        ),
        None => remove_condition(status, "ReplicaFailure"),
    }
}
