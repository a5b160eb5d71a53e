//! A DaemonSet's revisions (the shared history is `crate::history`): named
//! `<set>-<hash>` after the pod template hash (with the collision count),
//! the hash also labelling the revision and the set's pods as
//! `controller-revision-hash`.

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::ObjectMeta;

use crate::{history, owner};

pub const HASH_LABEL: &str = "controller-revision-hash";

/// The revision `number` of `ds`'s current template.
pub fn new(ds: &DaemonSet, number: i64, collisions: i32) -> ControllerRevision {
    let template = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let hash = crate::deployment::template_hash(&template, Some(collisions).filter(|c| *c > 0));
    let mut labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(history::name(ds.metadata.name.as_deref().unwrap_or_default(), &hash)),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: ds.metadata.annotations.clone().filter(|a| !a.is_empty()),
            owner_references: Some(vec![owner::controller_ref(ds)]),
            ..Default::default()
        },
        data: Some(RawExtension(history::template_patch(&template))),
        revision: number,
    }
}

/// The template hash a revision (and its pods) carries.
pub fn hash_of(revision: &ControllerRevision) -> Option<&str> {
    revision.metadata.labels.as_ref()?.get(HASH_LABEL).map(String::as_str)
}
