//! One pass of upstream's `updateStatefulSet`, as a list of actions: the
//! pods the set wants (`start .. start+replicas`) are created, repaired or
//! replaced when Failed; the condemned (ordinals outside the range) are
//! deleted highest first; then RollingUpdate deletes the highest pod at
//! or above the partition that is not at the update revision. Under
//! OrderedReady a pass stops at the first pod that is missing, not yet
//! Running and Ready (and available), or terminating, so pods come up in
//! order and go down in reverse; Parallel goes on past them. Pure: the
//! controller carries the actions out, stopping at the first failure.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;

use super::retention::{self, PodRef};
use super::{identity, status};

/// Why a pod is deleted; it words the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Failed or Succeeded: it is replaced.
    Finished,
    /// Its ordinal is no longer wanted.
    ScaleDown,
    /// It is not at the update revision.
    Update,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Creates the pod's missing claims, then the pod.
    CreatePod {
        pod: Pod,
        claims: Vec<PersistentVolumeClaim>,
    },
    /// Creates the claims a pending pod lacks.
    CreateClaims {
        pod: String,
        claims: Vec<PersistentVolumeClaim>,
    },
    /// Merges the identity labels a pod lacks.
    Relabel {
        pod: String,
        resource_version: Option<String>,
        labels: BTreeMap<String, String>,
    },
    /// Rewrites a claim's owner references for the retention policy.
    SetClaimOwners {
        claim: String,
        resource_version: Option<String>,
        owners: Vec<OwnerReference>,
    },
    DeletePod {
        pod: String,
        uid: Option<String>,
        why: Why,
    },
    /// The pod cannot be created: stops the pass with an error (retried with back-off).
    Fail {
        pod: String,
        message: String,
    },
}

#[derive(Debug)]
pub struct Input<'a> {
    pub set: &'a StatefulSet,
    /// The set with the current revision's template.
    pub current_set: &'a StatefulSet,
    /// The set with the update revision's template.
    pub update_set: &'a StatefulSet,
    pub current_revision: &'a str,
    pub update_revision: &'a str,
    pub collision_count: i32,
    /// The set's pods (claimed, members by name).
    pub pods: &'a [Arc<Pod>],
    /// The namespace's claims by name.
    pub claims: &'a HashMap<String, Arc<PersistentVolumeClaim>>,
    pub now: Timestamp,
}

#[derive(Debug)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub status: StatefulSetStatus,
    /// Look again after this long (a pod turning available).
    pub wait: Option<Duration>,
}

/// A wanted ordinal: its pod, or the one to create.
enum Slot<'a> {
    Existing(&'a Pod),
    Missing(Pod),
}

impl Slot<'_> {
    fn healthy(&self) -> bool {
        matches!(self, Slot::Existing(p) if status::healthy(p))
    }
}

fn strategy(set: &StatefulSet) -> (String, Option<i32>) {
    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    let kind = strategy.and_then(|s| s.type_.clone()).unwrap_or_else(|| "RollingUpdate".into());
    let partition = strategy.and_then(|s| s.rolling_update.as_ref()).map(|r| r.partition.unwrap_or(0));
    (kind, partition)
}

/// Upstream's `newVersionedStatefulSetPod`: below the partition (or, with
/// no rollingUpdate, below currentReplicas) a new pod gets the current
/// revision, otherwise the update revision.
fn versioned_pod(input: &Input<'_>, ordinal: i32) -> Pod {
    let (kind, partition) = strategy(input.current_set);
    let start = identity::start_ordinal(input.set);
    let current_replicas = input.current_set.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0);
    let below = |n: i32| i64::from(ordinal) < i64::from(start) + i64::from(n);
    let current =
        (kind == "RollingUpdate" && partition.is_none() && below(current_replicas)) || partition.is_some_and(below);
    if current {
        identity::new_pod(input.current_set, ordinal, input.current_revision)
    } else {
        identity::new_pod(input.update_set, ordinal, input.update_revision)
    }
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// The claims of the pod with `ordinal` not in the cache.
fn missing_claims(input: &Input<'_>, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    identity::claims_for(input.update_set, ordinal)
        .into_iter()
        .filter(|c| !input.claims.contains_key(c.metadata.name.as_deref().unwrap_or_default()))
        .map(|mut c| {
            // Created with the owners the policy gives a wanted pod's claim.
            let policy = retention::policy(input.update_set);
            if policy.when_deleted == retention::Retention::Delete {
                c.metadata.owner_references = Some(vec![crate::owner::controller_ref(input.set)]);
            }
            c
        })
        .collect()
}

/// Why a missing pod cannot be created yet.
enum Block {
    /// Its claim is being deleted: an error, as upstream reports it.
    Terminating(String),
    /// Its claim still belongs to an earlier pod of that name and is about
    /// to be collected: wait for it.
    Stale,
}

fn claim_block(input: &Input<'_>, pod: &Pod, ordinal: i32) -> Option<Block> {
    identity::claim_names(input.update_set, ordinal).into_iter().find_map(|name| {
        let claim = input.claims.get(&name)?;
        if claim.metadata.deletion_timestamp.is_some() {
            Some(Block::Terminating(name))
        } else if retention::blocks_pod_creation(input.update_set, claim, PodRef::of(pod)) {
            Some(Block::Stale)
        } else {
            None
        }
    })
}

/// The claim owner rewrites the pod's claims need (upstream's `ClaimsMatchRetentionPolicy`).
fn owner_fixes(input: &Input<'_>, pod: &Pod, scaled_down: bool) -> Vec<Action> {
    let Some(ordinal) = identity::ordinal_of(pod) else { return Vec::new() };
    identity::claim_names(input.update_set, ordinal)
        .into_iter()
        .filter_map(|name| {
            let claim = input.claims.get(&name)?;
            let owners = retention::desired_owners(claim, input.update_set, PodRef::of(pod), scaled_down)?;
            Some(Action::SetClaimOwners {
                claim: name,
                resource_version: claim.metadata.resource_version.clone(),
                owners,
            })
        })
        .collect()
}

pub fn plan(input: &Input<'_>) -> Plan {
    let set = input.set;
    let start = identity::start_ordinal(set);
    let count = identity::replicas(set);
    let monotonic = set.spec.as_ref().and_then(|s| s.pod_management_policy.as_deref()) != Some("Parallel");

    let mut slots: Vec<Option<&Pod>> = vec![None; usize::try_from(count).unwrap_or(0)];
    let mut condemned: Vec<&Pod> = Vec::new();
    for pod in input.pods.iter() {
        let Some(ordinal) = identity::ordinal_of(pod) else { continue };
        if identity::in_range(set, ordinal) {
            if let Some(slot) = usize::try_from(ordinal - start).ok().and_then(|i| slots.get_mut(i)) {
                *slot = Some(pod.as_ref());
            }
        } else {
            condemned.push(pod.as_ref());
        }
    }
    condemned.sort_by_key(|p| std::cmp::Reverse(identity::ordinal_of(p)));
    let slots: Vec<Slot<'_>> = slots
        .into_iter()
        .enumerate()
        .map(|(i, pod)| match pod {
            Some(p) => Slot::Existing(p),
            None => Slot::Missing(versioned_pod(input, start + i as i32)),
        })
        .collect();

    let observed: Vec<&Pod> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Existing(p) => Some(*p),
            Slot::Missing(_) => None,
        })
        .chain(condemned.iter().copied())
        .collect();
    let (mut st, wait) = status::compute(
        set,
        &observed,
        input.current_revision,
        input.update_revision,
        input.collision_count,
        input.now,
    );
    let mut actions = Vec::new();
    if set.metadata.deletion_timestamp.is_some() {
        return Plan { actions, status: st, wait };
    }

    let first_unhealthy: Option<String> = slots
        .iter()
        .find(|s| !s.healthy())
        .map(|s| match s {
            Slot::Existing(p) => name_of(p),
            Slot::Missing(p) => name_of(p),
        })
        .or_else(|| condemned.iter().rev().find(|p| !status::healthy(p)).map(|p| name_of(p)));

    // The wanted pods, in ordinal order.
    for slot in &slots {
        let pod = match slot {
            Slot::Missing(new) => {
                let ordinal = identity::ordinal_of(new).unwrap_or(start);
                match claim_block(input, new, ordinal) {
                    Some(Block::Terminating(name)) => {
                        let message = format!("pvc {name} is being deleted");
                        actions.push(Action::Fail { pod: name_of(new), message });
                        return Plan { actions, status: st, wait };
                    }
                    Some(Block::Stale) if monotonic => return Plan { actions, status: st, wait },
                    Some(Block::Stale) => {}
                    None => {
                        actions.push(Action::CreatePod { pod: new.clone(), claims: missing_claims(input, ordinal) });
                        if monotonic {
                            return Plan { actions, status: st, wait };
                        }
                    }
                }
                continue;
            }
            Slot::Existing(pod) => *pod,
        };
        if crate::pods::is_terminal(pod) {
            if !is_terminating(pod) {
                actions.push(Action::DeletePod {
                    pod: name_of(pod),
                    uid: pod.metadata.uid.clone(),
                    why: Why::Finished,
                });
            }
            if monotonic {
                return Plan { actions, status: st, wait };
            }
            continue;
        }
        // A pending pod (or one adopted without its claims) gets the claims it lacks.
        if (crate::pods::phase(pod) == "Pending" || !identity::storage_matches(input.update_set, pod))
            && let Some(ordinal) = identity::ordinal_of(pod)
        {
            let claims = missing_claims(input, ordinal);
            if !claims.is_empty() {
                actions.push(Action::CreateClaims { pod: name_of(pod), claims });
            }
        }
        if monotonic && (is_terminating(pod) || status::available(set, pod, input.now).is_err()) {
            return Plan { actions, status: st, wait };
        }
        if !identity::identity_matches(input.update_set, pod) {
            let labels = identity::missing_identity_labels(pod);
            if !labels.is_empty() {
                actions.push(Action::Relabel {
                    pod: name_of(pod),
                    resource_version: pod.metadata.resource_version.clone(),
                    labels,
                });
            }
        }
        actions.extend(owner_fixes(input, pod, false));
    }

    // The condemned: their claims handed over for the policy, then deleted highest first.
    for pod in &condemned {
        actions.extend(owner_fixes(input, pod, true));
    }
    for pod in &condemned {
        if is_terminating(pod) {
            if monotonic {
                return Plan { actions, status: st, wait };
            }
            continue;
        }
        let is_first_unhealthy = first_unhealthy.as_deref() == pod.metadata.name.as_deref();
        if monotonic && !is_first_unhealthy && status::available(set, pod, input.now).is_err() {
            return Plan { actions, status: st, wait };
        }
        actions.push(Action::DeletePod { pod: name_of(pod), uid: pod.metadata.uid.clone(), why: Why::ScaleDown });
        if monotonic {
            return Plan { actions, status: st, wait };
        }
    }

    let (kind, partition) = strategy(set);
    if kind == "OnDelete" {
        return Plan { actions, status: st, wait };
    }
    // RollingUpdate: the highest outdated pod at or above the partition, one at a time.
    let update_min = usize::try_from(partition.unwrap_or(0)).unwrap_or(0);
    for slot in slots.iter().skip(update_min).rev() {
        let Slot::Existing(pod) = slot else { return Plan { actions, status: st, wait } };
        if identity::revision_of(pod) != input.update_revision && !is_terminating(pod) {
            actions.push(Action::DeletePod { pod: name_of(pod), uid: pod.metadata.uid.clone(), why: Why::Update });
            st.current_replicas = st.current_replicas.map(|n| n - 1);
            return Plan { actions, status: st, wait };
        }
        if !status::healthy(pod) {
            return Plan { actions, status: st, wait };
        }
    }
    Plan { actions, status: st, wait }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{
        RollingUpdateStatefulSetStrategy, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetUpdateStrategy,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    use super::*;
    use crate::statefulset::identity::tests::set;
    use crate::statefulset::status::tests::{at, pod};

    /// Plans a pass for `set` over `pods`, with every claim of the existing pods present.
    fn check(set: &StatefulSet, pods: Vec<Pod>, current: &str, update: &str) -> Plan {
        let mut claims = HashMap::new();
        for p in &pods {
            for name in identity::claim_names(set, identity::ordinal_of(p).unwrap()) {
                let claim = PersistentVolumeClaim {
                    metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() },
                    ..Default::default()
                };
                claims.insert(name, Arc::new(claim));
            }
        }
        plan_with(set, pods, &claims, current, update)
    }

    fn plan_with(
        set: &StatefulSet,
        pods: Vec<Pod>,
        claims: &HashMap<String, Arc<PersistentVolumeClaim>>,
        current: &str,
        update: &str,
    ) -> Plan {
        let pods: Vec<Arc<Pod>> = pods.into_iter().map(Arc::new).collect();
        plan(&Input {
            set,
            current_set: set,
            update_set: set,
            current_revision: current,
            update_revision: update,
            collision_count: 0,
            pods: &pods,
            claims,
            now: at(1000),
        })
    }

    fn summary(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .map(|a| match a {
                Action::CreatePod { pod, claims } => {
                    let claims: Vec<&str> = claims.iter().filter_map(|c| c.metadata.name.as_deref()).collect();
                    format!("create {} {claims:?}", pod.metadata.name.as_deref().unwrap())
                }
                Action::CreateClaims { pod, .. } => format!("claims {pod}"),
                Action::Relabel { pod, .. } => format!("relabel {pod}"),
                Action::SetClaimOwners { claim, owners, .. } => {
                    let kinds: Vec<&str> = owners.iter().map(|o| o.kind.as_str()).collect();
                    format!("owners {claim} {kinds:?}")
                }
                Action::DeletePod { pod, why, .. } => format!("delete {pod} {why:?}"),
                Action::Fail { pod, message } => format!("fail {pod}: {message}"),
            })
            .collect()
    }

    fn ready(set: &StatefulSet, ordinal: i32, revision: &str) -> Pod {
        pod(set, ordinal, revision, Some(1))
    }

    #[test]
    fn ordered_ready_creates_one_pod_at_a_time_with_its_claims() {
        let s = set("web", 3);
        assert_eq!(summary(&check(&s, vec![], "r1", "r1")), ["create web-0 [\"data-web-0\"]"]);
        let pending = pod(&s, 0, "r1", None);
        assert!(check(&s, vec![pending], "r1", "r1").actions.is_empty(), "web-1 waits for web-0 to be Ready");
        assert_eq!(summary(&check(&s, vec![ready(&s, 0, "r1")], "r1", "r1")), ["create web-1 [\"data-web-1\"]"]);
        let all = vec![ready(&s, 0, "r1"), ready(&s, 1, "r1"), ready(&s, 2, "r1")];
        let done = check(&s, all, "r1", "r1");
        assert!(done.actions.is_empty());
        assert_eq!((done.status.replicas, done.status.ready_replicas), (3, Some(3)));
    }

    #[test]
    fn parallel_creates_every_missing_pod_at_once() {
        let mut s = set("web", 3);
        s.spec.as_mut().unwrap().pod_management_policy = Some("Parallel".into());
        let plan = check(&s, vec![pod(&s, 1, "r1", None)], "r1", "r1");
        assert_eq!(summary(&plan), ["create web-0 [\"data-web-0\"]", "create web-2 [\"data-web-2\"]"]);
    }

    #[test]
    fn scale_down_removes_the_highest_first_and_waits_for_it() {
        let s = set("web", 1);
        let pods = vec![ready(&s, 0, "r1"), ready(&s, 1, "r1"), ready(&s, 2, "r1")];
        assert_eq!(summary(&check(&s, pods.clone(), "r1", "r1")), ["delete web-2 ScaleDown"]);
        let mut going = pods;
        going[2].metadata.deletion_timestamp = Some(Time(at(999)));
        assert!(check(&s, going, "r1", "r1").actions.is_empty(), "web-1 waits for web-2 to be gone");
    }

    #[test]
    fn an_unhealthy_pod_stops_ordered_scale_down_unless_it_is_the_first_unhealthy() {
        let s = set("web", 1);
        let pods = vec![ready(&s, 0, "r1"), pod(&s, 1, "r1", None), ready(&s, 2, "r1")];
        // web-1 is the first unhealthy pod: web-2 (healthy) goes first anyway.
        assert_eq!(summary(&check(&s, pods, "r1", "r1")), ["delete web-2 ScaleDown"]);
        let pods = vec![ready(&s, 0, "r1"), ready(&s, 1, "r1"), pod(&s, 2, "r1", None)];
        assert_eq!(summary(&check(&s, pods, "r1", "r1")), ["delete web-2 ScaleDown"]);
        let pods = vec![pod(&s, 0, "r1", None), ready(&s, 1, "r1")];
        assert!(check(&s, pods, "r1", "r1").actions.is_empty(), "a wanted pod not ready stops everything");
    }

    #[test]
    fn failed_pods_are_replaced() {
        let s = set("web", 2);
        let mut failed = ready(&s, 0, "r1");
        failed.status.as_mut().unwrap().phase = Some("Failed".into());
        assert_eq!(summary(&check(&s, vec![failed], "r1", "r1")), ["delete web-0 Finished"]);
    }

    #[test]
    fn rolling_update_goes_from_the_highest_ordinal_and_respects_the_partition() {
        let mut s = set("web", 3);
        let pods = || vec![ready(&s, 0, "r1"), ready(&s, 1, "r1"), ready(&s, 2, "r1")];
        let plan = check(&s, pods(), "r1", "r2");
        assert_eq!(summary(&plan), ["delete web-2 Update"]);
        assert_eq!(plan.status.current_replicas, Some(2));
        // web-2 updated but not ready yet: wait.
        let mut p = vec![ready(&s, 0, "r1"), ready(&s, 1, "r1"), pod(&s, 2, "r2", None)];
        assert!(check(&s, p.clone(), "r1", "r2").actions.is_empty());
        p[2] = ready(&s, 2, "r2");
        assert_eq!(summary(&check(&s, p.clone(), "r1", "r2")), ["delete web-1 Update"]);
        s.spec.as_mut().unwrap().update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy { partition: Some(2), max_unavailable: None }),
        });
        assert!(check(&s, p, "r1", "r2").actions.is_empty(), "below the partition stays at r1");
    }

    #[test]
    fn a_recreated_pod_below_the_partition_keeps_the_current_revision() {
        let mut s = set("web", 3);
        s.spec.as_mut().unwrap().update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy { partition: Some(1), max_unavailable: None }),
        });
        let plan = check(&s, vec![ready(&s, 1, "r2"), ready(&s, 2, "r2")], "r1", "r2");
        match &plan.actions[..] {
            [Action::CreatePod { pod, .. }] => assert_eq!(identity::revision_of(pod), "r1"),
            other => panic!("{other:?}"),
        }
        let plan = check(&s, vec![ready(&s, 0, "r1"), ready(&s, 2, "r2")], "r1", "r2");
        match &plan.actions[..] {
            [Action::CreatePod { pod, .. }] => assert_eq!(identity::revision_of(pod), "r2"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn on_delete_never_deletes_for_an_update() {
        let mut s = set("web", 2);
        s.spec.as_mut().unwrap().update_strategy =
            Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None });
        assert!(check(&s, vec![ready(&s, 0, "r1"), ready(&s, 1, "r1")], "r1", "r2").actions.is_empty());
        // A deleted pod comes back at the update revision.
        let plan = check(&s, vec![ready(&s, 0, "r1")], "r1", "r2");
        match &plan.actions[..] {
            [Action::CreatePod { pod, .. }] => assert_eq!(identity::revision_of(pod), "r2"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn start_ordinal_shifts_the_range() {
        let mut s = set("web", 2);
        s.spec.as_mut().unwrap().ordinals = Some(k8s_openapi::api::apps::v1::StatefulSetOrdinals { start: Some(3) });
        let plan = check(&s, vec![ready(&s, 0, "r1")], "r1", "r1");
        assert_eq!(summary(&plan), ["create web-3 [\"data-web-3\"]"], "web-0 waits: web-3 is not ready");
        let plan = check(&s, vec![ready(&s, 0, "r1"), ready(&s, 3, "r1"), ready(&s, 4, "r1")], "r1", "r1");
        assert_eq!(summary(&plan), ["delete web-0 ScaleDown"]);
    }

    #[test]
    fn claims_are_reused_and_a_terminating_claim_blocks_its_pod() {
        let s = set("web", 1);
        let mut claims = HashMap::new();
        let mut claim = PersistentVolumeClaim {
            metadata: ObjectMeta { name: Some("data-web-0".into()), ..Default::default() },
            ..Default::default()
        };
        claims.insert("data-web-0".to_string(), Arc::new(claim.clone()));
        assert_eq!(summary(&plan_with(&s, vec![], &claims, "r1", "r1")), ["create web-0 []"]);
        claim.metadata.deletion_timestamp = Some(Time(at(1)));
        claims.insert("data-web-0".to_string(), Arc::new(claim));
        assert_eq!(
            summary(&plan_with(&s, vec![], &claims, "r1", "r1")),
            ["fail web-0: pvc data-web-0 is being deleted"]
        );
    }

    #[test]
    fn delete_on_scale_down_hands_condemned_claims_to_their_pods_first() {
        let mut s = set("web", 1);
        s.spec.as_mut().unwrap().persistent_volume_claim_retention_policy =
            Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Retain".into()),
                when_scaled: Some("Delete".into()),
            });
        let plan = check(&s, vec![ready(&s, 0, "r1"), ready(&s, 1, "r1")], "r1", "r1");
        assert_eq!(summary(&plan), ["owners data-web-1 [\"Pod\"]", "delete web-1 ScaleDown"]);
    }

    #[test]
    fn a_deleted_set_only_reports_status() {
        let mut s = set("web", 3);
        s.metadata.deletion_timestamp = Some(Time(at(1)));
        let plan = check(&s, vec![ready(&s, 0, "r1")], "r1", "r1");
        assert!(plan.actions.is_empty());
        assert_eq!(plan.status.replicas, 1);
    }
}
