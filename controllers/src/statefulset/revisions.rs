//! A StatefulSet's update history as ControllerRevisions (apps/v1), the
//! way upstream keeps it and `kubectl rollout history/undo` reads it: each
//! revision holds a strategic merge patch that puts its pod template back
//! (`{"spec": {"template": {..., "$patch": "replace"}}}`), is named
//! `<set>-<hash>` after an FNV-32 hash of that patch and the collision
//! count, and is numbered in `revision`. Pure: building, comparing,
//! applying and pruning revisions; the API calls are in the controller.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::jiff::Timestamp;
use kube::api::ObjectMeta;
use serde_json::{Value, json};

use crate::owner;

/// The label holding a revision's hash.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The patch that restores `set`'s pod template.
pub fn patch_of(set: &StatefulSet) -> Value {
    let template = set.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let mut template = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
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

/// `<prefix>-<hash>`, the prefix cut to 223 bytes so the name fits in 253.
pub fn name(prefix: &str, hash: &str) -> String {
    let mut cut = prefix.len().min(223);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{hash}", &prefix[..cut])
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
            name: Some(name(set.metadata.name.as_deref().unwrap_or_default(), &hash)),
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

/// Same data: the same pod template (upstream's `EqualRevision`).
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    a.data.as_ref().map(|d| &d.0) == b.data.as_ref().map(|d| &d.0)
}

/// `set` with the template `revision` recorded (upstream's `ApplyRevision`).
pub fn apply(set: &StatefulSet, revision: &ControllerRevision) -> Result<StatefulSet, serde_json::Error> {
    let mut template =
        revision.data.as_ref().and_then(|d| d.0.pointer("/spec/template")).cloned().unwrap_or_else(|| json!({}));
    if let Some(map) = template.as_object_mut() {
        map.remove("$patch");
    }
    let template: PodTemplateSpec = serde_json::from_value(template)?;
    let mut out = set.clone();
    if let Some(spec) = out.spec.as_mut() {
        spec.template = template;
    }
    Ok(out)
}

fn created(r: &ControllerRevision) -> Timestamp {
    r.metadata.creation_timestamp.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}

/// Oldest first: by number, then creation, then name.
pub fn sort(revisions: &mut [ControllerRevision]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| created(a).cmp(&created(b)))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// One more than the highest number, or 1.
pub fn next_number(sorted: &[ControllerRevision]) -> i64 {
    sorted.last().map_or(1, |r| r.revision + 1)
}

/// What to do to make `set`'s template the update revision.
#[derive(Debug, PartialEq)]
pub enum UpdateRevision {
    /// The newest revision already is it.
    Newest(usize),
    /// An older revision is it (a rollback): give it the next number.
    Renumber(usize, i64),
    /// None is: create this one.
    Create(ControllerRevision),
}

/// Upstream's `getStatefulSetRevisions`, minus the API calls.
pub fn update_revision(set: &StatefulSet, sorted: &[ControllerRevision], collision_count: i32) -> UpdateRevision {
    let candidate = new(set, next_number(sorted), collision_count);
    match sorted.iter().rposition(|r| equal(r, &candidate)) {
        Some(i) if i + 1 == sorted.len() => UpdateRevision::Newest(i),
        Some(i) => UpdateRevision::Renumber(i, candidate.revision),
        None => UpdateRevision::Create(candidate),
    }
}

/// The revisions beyond `limit` that nothing uses (not the current or the
/// update revision, no pod's), oldest first: the ones to delete.
pub fn excess<'a>(sorted: &'a [ControllerRevision], live: &HashSet<&str>, limit: i32) -> Vec<&'a ControllerRevision> {
    let history: Vec<&ControllerRevision> =
        sorted.iter().filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default())).collect();
    let limit = usize::try_from(limit).unwrap_or(0);
    let n = history.len().saturating_sub(limit);
    history.into_iter().take(n).collect()
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
        assert_eq!(super::name(&"x".repeat(300), "h").len(), 225);
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

    #[test]
    fn an_update_reuses_renumbers_or_creates() {
        let v1 = new(&with_image("busybox:1"), 1, 0);
        let v2 = new(&with_image("busybox:2"), 2, 0);
        let history = vec![v1.clone(), v2.clone()];
        assert_eq!(update_revision(&with_image("busybox:2"), &history, 0), UpdateRevision::Newest(1));
        assert_eq!(update_revision(&with_image("busybox:1"), &history, 0), UpdateRevision::Renumber(0, 3));
        match update_revision(&with_image("busybox:3"), &history, 0) {
            UpdateRevision::Create(r) => assert_eq!(r.revision, 3),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            update_revision(&with_image("busybox:1"), &[], 0),
            UpdateRevision::Create(new(&with_image("busybox:1"), 1, 0))
        );
    }

    #[test]
    fn history_beyond_the_limit_goes_oldest_first_but_never_a_live_one() {
        let revs: Vec<ControllerRevision> = (1..=5).map(|i| new(&with_image(&format!("busybox:{i}")), i, 0)).collect();
        let name = |i: usize| revs[i].metadata.name.clone().unwrap();
        let (n0, n4) = (name(0), name(4));
        let live: HashSet<&str> = [n0.as_str(), n4.as_str()].into();
        let gone: Vec<i64> = excess(&revs, &live, 1).iter().map(|r| r.revision).collect();
        assert_eq!(gone, [2, 3], "revision 1 is live, 4 stays within the limit");
        assert!(excess(&revs, &live, 10).is_empty());
    }
}
