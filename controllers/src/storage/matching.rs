//! Which PersistentVolume may serve a claim (upstream's
//! `FindMatchingVolume`): one already bound to the claim wins; otherwise
//! the smallest Available volume of the claim's class that is big enough,
//! has the claim's access modes and volume mode, and matches its selector
//! (and, for the scheduler, the node). A claim of a class that waits for
//! its first consumer is matched only to a volume bound to it, unless a
//! node is given: binding it is the scheduler's decision.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use super::class;
use crate::labels;
use crate::scheduler::quantity;

/// The claim's `resources.requests.storage` in thousandths of a byte.
pub fn request(claim: &PersistentVolumeClaim) -> i128 {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| quantity::milli(&q.0))
        .unwrap_or(0)
}

/// The volume's `capacity.storage` in thousandths of a byte.
pub fn capacity(volume: &PersistentVolume) -> i128 {
    volume
        .spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .and_then(|q| quantity::milli(&q.0))
        .unwrap_or(0)
}

fn access_modes(volume: &PersistentVolume) -> &[String] {
    volume.spec.as_ref().and_then(|s| s.access_modes.as_deref()).unwrap_or_default()
}

/// Every mode the claim asks for, the volume offers.
pub fn access_modes_fit(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let offered = access_modes(volume);
    claim.spec.as_ref().and_then(|s| s.access_modes.as_deref()).unwrap_or_default().iter().all(|m| offered.contains(m))
}

/// Block against Filesystem (both default to Filesystem).
pub fn volume_mode_mismatch(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let claim_mode = claim.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    let volume_mode = volume.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    claim_mode != volume_mode
}

/// The volume's claimRef names the claim (and its uid, once set).
pub fn bound_to(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else { return false };
    r.name == claim.metadata.name
        && r.namespace == claim.metadata.namespace
        && r.uid.as_deref().is_none_or(|uid| uid.is_empty() || Some(uid) == claim.metadata.uid.as_deref())
}

pub fn phase(volume: &PersistentVolume) -> &str {
    volume.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

/// Why a volume the claim names cannot serve it (upstream's `checkVolumeSatisfyClaim`).
pub fn unsatisfied(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Option<&'static str> {
    if volume.metadata.deletion_timestamp.is_some() {
        Some("the volume is marked for deletion")
    } else if capacity(volume) < request(claim) {
        Some("requested PV is too small")
    } else if class::of_volume(volume) != class::of_claim(claim) {
        Some("storageClassName does not match")
    } else if volume_mode_mismatch(claim, volume) {
        Some("incompatible volumeMode")
    } else if !access_modes_fit(claim, volume) {
        Some("incompatible accessMode")
    } else {
        None
    }
}

/// Where the match is made.
#[derive(Clone, Copy)]
pub enum Place<'a> {
    /// The PV controller: no node.
    Anywhere { delay_binding: bool },
    /// The scheduler, for a node: the volume must be usable there.
    Node(&'a dyn Fn(&PersistentVolume) -> bool),
}

/// The volume to bind the claim to, if any; `excluded` are taken already.
pub fn find(
    claim: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    place: Place<'_>,
    excluded: &HashSet<String>,
) -> Option<Arc<PersistentVolume>> {
    let wanted_class = class::of_claim(claim);
    let selector = claim.spec.as_ref().and_then(|s| s.selector.as_ref());
    let want = request(claim);
    let mut best: Option<&Arc<PersistentVolume>> = None;
    for volume in volumes {
        if volume_mode_mismatch(claim, volume) || volume.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let fits_node = match place {
            Place::Node(fits) => fits(volume),
            Place::Anywhere { .. } => true,
        };
        if bound_to(volume, claim) {
            return fits_node.then(|| Arc::clone(volume));
        }
        if matches!(place, Place::Anywhere { delay_binding: true }) {
            continue;
        }
        let name = volume.metadata.name.as_deref().unwrap_or_default();
        let available =
            phase(volume) == "Available" && volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_none();
        if !available
            || excluded.contains(name)
            || selector.is_some_and(|s| !labels::matches(s, volume.metadata.labels.as_ref()))
            || class::of_volume(volume) != wanted_class
            || !fits_node
            || !access_modes_fit(claim, volume)
            || capacity(volume) < want
        {
            continue;
        }
        // The smallest that fits; among equals, the one offering fewest modes.
        let better =
            best.is_none_or(|b| (capacity(volume), access_modes(volume).len()) < (capacity(b), access_modes(b).len()));
        if better {
            best = Some(volume);
        }
    }
    best.cloned()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        ObjectReference, PersistentVolumeClaimSpec, PersistentVolumeSpec, PersistentVolumeStatus,
        VolumeResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use kube::api::ObjectMeta;

    use super::*;

    pub fn claim(name: &str, class: Option<&str>, size: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: class.map(String::from),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.into()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    pub fn volume(name: &str, class: &str, size: &str, modes: &[&str]) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(PersistentVolumeSpec {
                access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
                capacity: Some(BTreeMap::from([("storage".to_string(), Quantity(size.into()))])),
                storage_class_name: Some(class.into()),
                ..Default::default()
            }),
            status: Some(PersistentVolumeStatus { phase: Some("Available".into()), ..Default::default() }),
        }
    }

    fn names(found: Option<Arc<PersistentVolume>>) -> Option<String> {
        found.and_then(|v| v.metadata.name.clone())
    }

    const NOW: Place<'static> = Place::Anywhere { delay_binding: false };

    #[test]
    fn the_smallest_fitting_volume_of_the_class_wins() {
        let c = claim("data", Some("manual"), "1Gi");
        let vols: Vec<_> = [
            volume("small", "manual", "500Mi", &["ReadWriteOnce"]),
            volume("big", "manual", "10Gi", &["ReadWriteOnce"]),
            volume("right", "manual", "2Gi", &["ReadWriteOnce", "ReadOnlyMany"]),
            volume("right-rwo", "manual", "2Gi", &["ReadWriteOnce"]),
            volume("other-class", "fast", "1Gi", &["ReadWriteOnce"]),
            volume("rox", "manual", "1Gi", &["ReadOnlyMany"]),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        assert_eq!(names(find(&c, &vols, NOW, &HashSet::new())).as_deref(), Some("right-rwo"));
        let taken = HashSet::from(["right-rwo".to_string()]);
        assert_eq!(names(find(&c, &vols, NOW, &taken)).as_deref(), Some("right"));
    }

    #[test]
    fn a_volume_bound_to_the_claim_wins_even_when_binding_waits() {
        let c = claim("data", Some("manual"), "1Gi");
        let mut pre = volume("pre", "manual", "1Gi", &["ReadWriteOnce"]);
        pre.spec.as_mut().unwrap().claim_ref = Some(ObjectReference {
            name: Some("data".into()),
            namespace: Some("default".into()),
            ..Default::default()
        });
        pre.status.as_mut().unwrap().phase = Some("Pending".into());
        let vols = vec![Arc::new(volume("free", "manual", "1Gi", &["ReadWriteOnce"])), Arc::new(pre)];
        let waits = Place::Anywhere { delay_binding: true };
        assert_eq!(names(find(&c, &vols, waits, &HashSet::new())).as_deref(), Some("pre"));
        assert_eq!(names(find(&c, &vols[..1], waits, &HashSet::new())), None, "the scheduler binds waiting claims");
    }

    #[test]
    fn selectors_nodes_and_phases_filter() {
        let mut c = claim("data", Some("manual"), "1Gi");
        let mut labelled = volume("labelled", "manual", "1Gi", &["ReadWriteOnce"]);
        labelled.metadata.labels = Some(BTreeMap::from([("disk".to_string(), "ssd".to_string())]));
        let mut released = volume("released", "manual", "1Gi", &["ReadWriteOnce"]);
        released.status.as_mut().unwrap().phase = Some("Released".into());
        let vols = vec![
            Arc::new(labelled),
            Arc::new(released),
            Arc::new(volume("plain", "manual", "1Gi", &["ReadWriteOnce"])),
        ];
        c.spec.as_mut().unwrap().selector = Some(LabelSelector {
            match_labels: Some(BTreeMap::from([("disk".to_string(), "ssd".to_string())])),
            ..Default::default()
        });
        assert_eq!(names(find(&c, &vols, NOW, &HashSet::new())).as_deref(), Some("labelled"));
        let nowhere = |_: &PersistentVolume| false;
        assert_eq!(names(find(&c, &vols, Place::Node(&nowhere), &HashSet::new())), None);
    }

    #[test]
    fn a_named_volume_must_satisfy_the_claim() {
        let c = claim("data", Some("manual"), "1Gi");
        assert_eq!(unsatisfied(&volume("v", "manual", "2Gi", &["ReadWriteOnce"]), &c), None);
        assert_eq!(
            unsatisfied(&volume("v", "manual", "1M", &["ReadWriteOnce"]), &c),
            Some("requested PV is too small")
        );
        assert_eq!(
            unsatisfied(&volume("v", "x", "1Gi", &["ReadWriteOnce"]), &c),
            Some("storageClassName does not match")
        );
        assert_eq!(unsatisfied(&volume("v", "manual", "1Gi", &["ReadOnlyMany"]), &c), Some("incompatible accessMode"));
    }
}
