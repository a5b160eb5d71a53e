//! ControllerRevisions (apps/v1): the update history of a DaemonSet, as
//! `kubectl rollout history` lists it and `kubectl rollout undo` applies it.
//! Each revision holds a patch that restores the owner's pod template
//! (`{"spec":{"template":{...,"$patch":"replace"}}}`), is named
//! `<owner>-<hash>` and carries the `controller-revision-hash` label that
//! the owner's pods carry too. Going back to an older template renumbers
//! its revision as the newest, as upstream does.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::informer::Informer;
use crate::owner;

pub const HASH_LABEL: &str = "controller-revision-hash";

/// The patch a revision stores for `template`.
pub fn template_patch(template: &PodTemplateSpec) -> serde_json::Value {
    let mut t = serde_json::to_value(template).unwrap_or_default();
    if let Some(map) = t.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// The revisions `owner_uid` controls, oldest first.
pub fn owned(
    revisions: &Informer<ControllerRevision>,
    namespace: &str,
    owner_uid: &str,
) -> Vec<Arc<ControllerRevision>> {
    let mut list: Vec<_> = revisions
        .in_namespace(namespace)
        .into_iter()
        .filter(|r| owner::controlled_by(&r.metadata, owner_uid))
        .collect();
    list.sort_by_key(|r| r.revision);
    list
}

/// What [`current`] found.
#[derive(Debug)]
pub enum Current {
    /// The current template's revision is the newest.
    Found,
    /// A revision of that name holds another template: bump the owner's
    /// `collisionCount` and hash again.
    Collision,
}

/// Finds or makes the revision for `data` (hashed `hash`) among `history`,
/// so that it is the newest.
pub async fn current<O: kube::Resource<DynamicType = ()>>(
    client: &kube::Client,
    owner: &O,
    history: &[Arc<ControllerRevision>],
    hash: &str,
    data: serde_json::Value,
    labels: std::collections::BTreeMap<String, String>,
) -> Result<Current, kube::Error> {
    let meta = owner.meta();
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), namespace);
    let newest = history.iter().map(|r| r.revision).max().unwrap_or(0);
    let name = format!("{}-{hash}", meta.name.as_deref().unwrap_or_default());
    if let Some(existing) = history.iter().find(|r| r.metadata.name.as_deref() == Some(name.as_str())) {
        if existing.data.as_ref().map(|d| &d.0) != Some(&data) {
            return Ok(Current::Collision);
        }
        if existing.revision == newest {
            return Ok(Current::Found);
        }
        let patch =
            json!({"revision": newest + 1, "metadata": {"resourceVersion": existing.metadata.resource_version}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        return Ok(Current::Found);
    }
    let mut labels = labels;
    labels.insert(HASH_LABEL.into(), hash.into());
    let revision = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.into()),
            labels: Some(labels),
            owner_references: Some(vec![owner::controller_ref(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(data.clone())),
        revision: newest + 1,
    };
    match api.create(&PostParams::default(), &revision).await {
        Ok(_) => Ok(Current::Found),
        // Made meanwhile (a cache behind us): the next pass finds it.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let stored = api.get(&name).await?;
            if stored.data.as_ref().map(|d| &d.0) == Some(&data)
                && owner::controlled_by(&stored.metadata, meta.uid.as_deref().unwrap_or_default())
            {
                Ok(Current::Found)
            } else {
                Ok(Current::Collision)
            }
        }
        Err(e) => Err(e),
    }
}

/// Deletes the oldest revisions beyond `limit` that no live pod uses.
pub async fn truncate(
    client: &kube::Client,
    history: &[Arc<ControllerRevision>],
    limit: usize,
    in_use: &HashSet<String>,
    current: &str,
) -> Result<(), kube::Error> {
    let idle: Vec<&Arc<ControllerRevision>> = history
        .iter()
        .filter(|r| {
            let hash =
                r.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)).map(String::as_str).unwrap_or_default();
            hash != current && !in_use.contains(hash)
        })
        .collect();
    let extra = idle.len().saturating_sub(limit);
    for r in idle.into_iter().take(extra) {
        let api: Api<ControllerRevision> =
            Api::namespaced(client.clone(), r.metadata.namespace.as_deref().unwrap_or_default());
        match api.delete(r.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if crate::is_gone(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
