//! ControllerRevisions (apps/v1): the update history of a StatefulSet or a
//! DaemonSet, as `kubectl rollout history` lists it and `kubectl rollout
//! undo` applies it. Each revision holds a strategic merge patch that puts
//! its owner's pod template back (`{"spec":{"template":{...,"$patch":
//! "replace"}}}`) and a number; going back to an older template renumbers
//! that revision as the newest instead of copying it, as upstream does.
//! The owners differ only in how they name and label a revision (a
//! [`Candidate`]); finding, renumbering, creating and pruning are here.

use std::collections::HashSet;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// How many hash collisions to step over before giving up.
const MAX_COLLISIONS: i32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("more than {MAX_COLLISIONS} ControllerRevision name collisions for {0}")]
    Collisions(String),
}

/// The patch that restores `template`.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The template a revision restores.
pub fn template_of(revision: &ControllerRevision) -> Result<PodTemplateSpec, serde_json::Error> {
    let mut template =
        revision.data.as_ref().and_then(|d| d.0.pointer("/spec/template")).cloned().unwrap_or_else(|| json!({}));
    if let Some(map) = template.as_object_mut() {
        map.remove("$patch");
    }
    serde_json::from_value(template)
}

/// `<prefix>-<hash>`, the prefix cut to 223 bytes so the name fits in 253.
pub fn name(prefix: &str, hash: &str) -> String {
    let mut cut = prefix.len().min(223);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{hash}", &prefix[..cut])
}

/// Same data: the same pod template (upstream's `EqualRevision`).
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    a.data.as_ref().map(|d| &d.0) == b.data.as_ref().map(|d| &d.0)
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

/// What to do to make `candidate`'s template the newest revision.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// The newest revision already is it.
    Newest(usize),
    /// An older revision is it (a rollback): give it the next number.
    Renumber(usize, i64),
    /// None is: create the candidate.
    Create,
}

/// Upstream's choice among `sorted` (oldest first) for `candidate`.
pub fn decide(sorted: &[ControllerRevision], candidate: &ControllerRevision) -> Decision {
    match sorted.iter().rposition(|r| equal(r, candidate)) {
        Some(i) if i + 1 == sorted.len() => Decision::Newest(i),
        Some(i) => Decision::Renumber(i, next_number(sorted)),
        None => Decision::Create,
    }
}

/// The revision for the owner's current template, numbered the newest:
/// found, renumbered or created. `candidate(number, collisions)` builds the
/// owner's revision; a name taken by another template bumps the collision
/// count, which is returned with the revision.
pub async fn sync(
    api: &Api<ControllerRevision>,
    history: &mut [ControllerRevision],
    mut collisions: i32,
    candidate: impl Fn(i64, i32) -> ControllerRevision,
) -> Result<(ControllerRevision, i32), HistoryError> {
    let mut wanted = candidate(next_number(history), collisions);
    match decide(history, &wanted) {
        Decision::Newest(i) => Ok((history[i].clone(), collisions)),
        Decision::Renumber(i, number) => {
            let r = &history[i];
            let patch = json!({"metadata": {"resourceVersion": r.metadata.resource_version}, "revision": number});
            let name = r.metadata.name.clone().unwrap_or_default();
            let renumbered = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            history[i] = renumbered.clone();
            Ok((renumbered, collisions))
        }
        Decision::Create => loop {
            match api.create(&PostParams::default(), &wanted).await {
                Ok(created) => return Ok((created, collisions)),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let name = wanted.metadata.name.clone().unwrap_or_default();
                    let existing = api.get(&name).await?;
                    if equal(&existing, &wanted) {
                        // Ours already; the cache had not shown it.
                        return Ok((existing, collisions));
                    }
                    collisions = collisions.saturating_add(1);
                    if collisions > MAX_COLLISIONS {
                        return Err(HistoryError::Collisions(name));
                    }
                    wanted = candidate(wanted.revision, collisions);
                }
                Err(e) => return Err(e.into()),
            }
        },
    }
}

/// The revisions beyond `limit` that nothing uses (`live` names: the
/// current and update revisions, the pods'), oldest first: the ones to delete.
pub fn excess<'a>(sorted: &'a [ControllerRevision], live: &HashSet<&str>, limit: i32) -> Vec<&'a ControllerRevision> {
    let history: Vec<&ControllerRevision> =
        sorted.iter().filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default())).collect();
    let limit = usize::try_from(limit).unwrap_or(0);
    let n = history.len().saturating_sub(limit);
    history.into_iter().take(n).collect()
}

/// Deletes `old` revisions; ones already gone are fine.
pub async fn prune(api: &Api<ControllerRevision>, old: &[&ControllerRevision]) -> Result<(), kube::Error> {
    for r in old {
        match api.delete(r.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if crate::is_gone(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

    use super::*;

    fn revision(name: &str, image: &str, number: i64) -> ControllerRevision {
        let template = PodTemplateSpec {
            metadata: None,
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                containers: vec![k8s_openapi::api::core::v1::Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        };
        let mut r = ControllerRevision {
            data: Some(RawExtension(template_patch(&template))),
            revision: number,
            ..Default::default()
        };
        r.metadata.name = Some(name.into());
        r
    }

    #[test]
    fn an_update_reuses_renumbers_or_creates() {
        let history = vec![revision("a", "busybox:1", 1), revision("b", "busybox:2", 2)];
        assert_eq!(decide(&history, &revision("x", "busybox:2", 3)), Decision::Newest(1));
        assert_eq!(decide(&history, &revision("x", "busybox:1", 3)), Decision::Renumber(0, 3));
        assert_eq!(decide(&history, &revision("x", "busybox:3", 3)), Decision::Create);
        assert_eq!(decide(&[], &revision("x", "busybox:1", 1)), Decision::Create);
        let restored = template_of(&history[1]).unwrap();
        assert_eq!(restored.spec.unwrap().containers[0].image.as_deref(), Some("busybox:2"));
    }

    #[test]
    fn history_beyond_the_limit_goes_oldest_first_but_never_a_live_one() {
        let revs: Vec<ControllerRevision> =
            (1..=5).map(|i| revision(&format!("r{i}"), &format!("busybox:{i}"), i)).collect();
        let live: HashSet<&str> = ["r1", "r5"].into();
        let gone: Vec<i64> = excess(&revs, &live, 1).iter().map(|r| r.revision).collect();
        assert_eq!(gone, [2, 3], "revision 1 is live, 4 stays within the limit");
        assert!(excess(&revs, &live, 10).is_empty());
        assert_eq!(name(&"x".repeat(300), "h").len(), 225);
    }
}
