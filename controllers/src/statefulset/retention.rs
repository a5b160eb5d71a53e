//! `persistentVolumeClaimRetentionPolicy` as owner references on the
//! claims, as upstream expresses it: the garbage collector does the
//! deleting. Retain/Retain: no reference; Delete on set deletion: the set
//! controls the claim; Delete on scale-down: a condemned pod controls its
//! claims, so they go when it goes. Claims owned by some other controller,
//! or by an earlier set or pod of the same name, are left alone.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::owner;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Retain,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub when_deleted: Retention,
    pub when_scaled: Retention,
}

fn parse(value: Option<&str>) -> Retention {
    // An unknown value is treated as Retain, as upstream does.
    if value == Some("Delete") { Retention::Delete } else { Retention::Retain }
}

pub fn policy(set: &StatefulSet) -> Policy {
    let p = set.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    Policy {
        when_deleted: parse(p.and_then(|p| p.when_deleted.as_deref())),
        when_scaled: parse(p.and_then(|p| p.when_scaled.as_deref())),
    }
}

/// The pod a claim belongs to: its name, and its uid once it exists.
#[derive(Debug, Clone, Copy)]
pub struct PodRef<'a> {
    pub name: &'a str,
    pub uid: &'a str,
}

impl<'a> PodRef<'a> {
    pub fn of(pod: &'a Pod) -> PodRef<'a> {
        PodRef {
            name: pod.metadata.name.as_deref().unwrap_or_default(),
            uid: pod.metadata.uid.as_deref().unwrap_or_default(),
        }
    }
}

fn refs(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim.metadata.owner_references.as_deref().unwrap_or_default()
}

fn is_set_ref(r: &OwnerReference, set: &StatefulSet) -> bool {
    r.api_version == "apps/v1" && r.kind == "StatefulSet" && Some(&r.name) == set.metadata.name.as_ref()
}

fn is_pod_ref(r: &OwnerReference, pod: PodRef<'_>) -> bool {
    r.api_version == "v1" && r.kind == "Pod" && r.name == pod.name
}

fn set_uid(set: &StatefulSet) -> &str {
    set.metadata.uid.as_deref().unwrap_or_default()
}

fn has_ref(claim: &PersistentVolumeClaim, uid: &str) -> bool {
    !uid.is_empty() && refs(claim).iter().any(|r| r.uid == uid)
}

/// A reference to a set or pod of this name but another uid: left by an
/// earlier incarnation whose collection is under way.
fn stale(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: PodRef<'_>) -> bool {
    let stale_set = refs(claim).iter().find(|r| is_set_ref(r, set)).is_some_and(|r| r.uid != set_uid(set));
    stale_set || stale_pod(claim, pod)
}

fn stale_pod(claim: &PersistentVolumeClaim, pod: PodRef<'_>) -> bool {
    refs(claim).iter().find(|r| is_pod_ref(r, pod)).is_some_and(|r| r.uid != pod.uid)
}

/// With Delete on scale-down, a claim still owned by an earlier pod of this
/// name is about to be collected: the pod must wait (upstream's `PodClaimIsStale`).
pub fn blocks_pod_creation(set: &StatefulSet, claim: &PersistentVolumeClaim, pod: PodRef<'_>) -> bool {
    policy(set).when_scaled == Retention::Delete && stale_pod(claim, pod)
}

/// Another controller owns the claim, or a stale reference to our name does.
fn unexpected_controller(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: PodRef<'_>) -> bool {
    let p = policy(set);
    if p.when_deleted == Retention::Retain && p.when_scaled == Retention::Retain {
        return false;
    }
    refs(claim).iter().any(|r| {
        if is_set_ref(r, set) {
            r.uid != set_uid(set)
        } else if is_pod_ref(r, pod) {
            r.uid != pod.uid
        } else {
            r.controller == Some(true)
        }
    })
}

/// The owner references the claim should carry for the policy; `None` when
/// they are already right or the claim is not ours to touch.
pub fn desired_owners(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: PodRef<'_>,
    scaled_down: bool,
) -> Option<Vec<OwnerReference>> {
    if stale(claim, set, pod) {
        return None;
    }
    let ours = |r: &OwnerReference| is_set_ref(r, set) || is_pod_ref(r, pod);
    let mut out: Vec<OwnerReference> = refs(claim).iter().filter(|r| !ours(r)).cloned().collect();
    if unexpected_controller(claim, set, pod) {
        // Drop our references and add none on top of another controller.
        let has_ours = refs(claim).iter().any(ours);
        return has_ours.then_some(out);
    }
    let p = policy(set);
    let want_set = p.when_deleted == Retention::Delete && !(p.when_scaled == Retention::Delete && scaled_down);
    let want_pod = p.when_scaled == Retention::Delete && scaled_down && !pod.uid.is_empty();
    let has_plain_owner =
        refs(claim).iter().any(|r| (r.uid == set_uid(set) || r.uid == pod.uid) && r.controller != Some(true));
    let up_to_date =
        !has_plain_owner && has_ref(claim, set_uid(set)) == want_set && has_ref(claim, pod.uid) == want_pod;
    if up_to_date {
        return None;
    }
    if want_set {
        out.push(owner::controller_ref(set));
    }
    if want_pod {
        out.push(OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pod.name.into(),
            uid: pod.uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy;
    use kube::api::ObjectMeta;

    use super::*;
    use crate::statefulset::identity::tests::set;

    fn with_policy(deleted: &str, scaled: &str) -> StatefulSet {
        let mut s = set("web", 2);
        s.spec.as_mut().unwrap().persistent_volume_claim_retention_policy =
            Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some(deleted.into()),
                when_scaled: Some(scaled.into()),
            });
        s
    }

    fn claim(owners: Vec<OwnerReference>) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data-web-1".into()),
                owner_references: Some(owners),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn pod_ref(uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: "web-1".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    const POD: PodRef<'static> = PodRef { name: "web-1", uid: "pod-uid" };

    #[test]
    fn retain_keeps_claims_unowned() {
        let s = set("web", 2);
        assert_eq!(policy(&s), Policy { when_deleted: Retention::Retain, when_scaled: Retention::Retain });
        assert_eq!(desired_owners(&claim(vec![]), &s, POD, false), None);
        assert_eq!(desired_owners(&claim(vec![]), &s, POD, true), None);
        // A reference of ours left from a Delete policy is removed.
        let owned = claim(vec![owner::controller_ref(&s)]);
        assert_eq!(desired_owners(&owned, &s, POD, false), Some(vec![]));
    }

    #[test]
    fn delete_on_set_deletion_makes_the_set_the_controller() {
        let s = with_policy("Delete", "Retain");
        let want = desired_owners(&claim(vec![]), &s, POD, false).unwrap();
        assert_eq!(want.len(), 1);
        assert_eq!((want[0].kind.as_str(), want[0].uid.as_str()), ("StatefulSet", "uid-web"));
        assert_eq!(desired_owners(&claim(want), &s, POD, false), None, "then it is up to date");
    }

    #[test]
    fn delete_on_scale_down_hands_a_condemned_claim_to_its_pod() {
        let s = with_policy("Delete", "Delete");
        let in_range = claim(vec![owner::controller_ref(&s)]);
        assert_eq!(desired_owners(&in_range, &s, POD, false), None);
        let condemned = desired_owners(&in_range, &s, POD, true).unwrap();
        assert_eq!(condemned, vec![pod_ref("pod-uid")]);
        // Scaled up again: back to the set.
        let back = desired_owners(&claim(condemned), &s, POD, false).unwrap();
        assert_eq!(back[0].kind, "StatefulSet");
    }

    #[test]
    fn stale_and_foreign_owners_are_respected() {
        let s = with_policy("Retain", "Delete");
        let stale = claim(vec![pod_ref("old-uid")]);
        assert_eq!(desired_owners(&stale, &s, POD, true), None, "an earlier pod's claim is not touched");
        assert!(blocks_pod_creation(&s, &stale, PodRef { name: "web-1", uid: "" }));
        assert!(!blocks_pod_creation(&set("web", 2), &stale, PodRef { name: "web-1", uid: "" }));
        let foreign = OwnerReference {
            api_version: "example.com/v1".into(),
            kind: "Thing".into(),
            name: "x".into(),
            uid: "x".into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        assert_eq!(desired_owners(&claim(vec![foreign.clone()]), &s, POD, true), None);
        let both = claim(vec![foreign.clone(), pod_ref("pod-uid")]);
        assert_eq!(desired_owners(&both, &s, POD, true), Some(vec![foreign]), "ours go, the other stays");
    }
}
