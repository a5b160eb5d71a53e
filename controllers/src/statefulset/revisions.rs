//! A StatefulSet's revisions (the shared history is `crate::history`): named
//! `<set>-<hash>` after an FNV-32 hash of the template patch and the
//! collision count, labelled `controller.kubernetes.io/hash`, annotated with
//! the set's annotations; and a set with a revision's template applied.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::ObjectMeta;
use serde_json::Value;

use crate::{history, owner};

/// The label holding a revision's hash.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The patch that restores `set`'s pod template.
pub fn patch_of(set: &StatefulSet) -> Value {
    history::template_patch(&set.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default())
}

/// Upstream's `HashControllerRevision`: FNV-1 (32 bits) over the data and
/// the collision count's decimal digits, in the alphabet of characters
/// that never spell words.
pub fn hash(data: &Value, collision_count: i32) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let bytes = serde_json::to_vec(data).unwrap_or_default();
    for b in bytes.iter().chain(collision_count.to_string().as_bytes()) {
        h = h.wrapping_mul(0x0100_0193);
        h ^= u32::from(*b);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string().bytes().map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()])).collect()
}

/// The revision `number` of `set`'s current template: labelled with the
/// template's labels and the hash, annotated with the set's annotations
/// (so `kubernetes.io/change-cause` shows in `rollout history`).
pub fn new(set: &StatefulSet, number: i64, collision_count: i32) -> ControllerRevision {
    let data = patch_of(set);
    let hash = hash(&data, collision_count);
    let mut labels: BTreeMap<String, String> =
        set.spec.as_ref().and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(history::name(set.metadata.name.as_deref().unwrap_or_default(), &hash)),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: set.metadata.annotations.clone().filter(|a| !a.is_empty()),
            owner_references: Some(vec![owner::controller_ref(set)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}

/// `set` with the template `revision` recorded (upstream's `ApplyRevision`).
pub fn apply(set: &StatefulSet, revision: &ControllerRevision) -> Result<StatefulSet, serde_json::Error> {
    let template = history::template_of(revision)?;
    let mut out = set.clone();
    if let Some(spec) = out.spec.as_mut() {
        spec.template = template;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statefulset::identity::tests::set;

    fn with_image(image: &str) -> StatefulSet {
        let mut s = set("web", 3);
        s.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image = Some(image.into());
        s
    }

    #[test]
    fn the_patch_replaces_the_template_and_applies_back() {
        let s = with_image("busybox:2");
        let data = patch_of(&s);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        assert_eq!(data["spec"]["template"]["spec"]["containers"][0]["image"], "busybox:2");
        let r = new(&s, 1, 0);
        let restored = apply(&with_image("busybox:1"), &r).unwrap();
        assert_eq!(restored.spec.unwrap().template, s.spec.unwrap().template);
    }

    #[test]
    fn names_hash_the_template_and_the_collision_count() {
        let a = new(&with_image("busybox:1"), 1, 0);
        let again = new(&with_image("busybox:1"), 7, 0);
        assert_eq!(a.metadata.name, again.metadata.name, "the number is not part of the name");
        assert_ne!(a.metadata.name, new(&with_image("busybox:2"), 1, 0).metadata.name);
        assert_ne!(a.metadata.name, new(&with_image("busybox:1"), 1, 1).metadata.name);
        let name = a.metadata.name.clone().unwrap();
        let hash = name.strip_prefix("web-").unwrap();
        assert!(hash.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{hash}");
        assert_eq!(a.metadata.labels.unwrap()[HASH_LABEL], hash);
        assert_eq!(a.metadata.owner_references.unwrap()[0].uid, "uid-web");
    }

    #[test]
    fn fnv1_matches_the_reference_values() {
        // FNV-1 32 of "" is the offset basis; of "a" it is 0x050c5d7e.
        let mut h: u32 = 0x811c_9dc5;
        for b in b"a" {
            h = h.wrapping_mul(0x0100_0193);
            h ^= u32::from(*b);
        }
        assert_eq!(h, 0x050c_5d7e);
    }
}
