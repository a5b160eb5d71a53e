//! Owner references: who controls an object, and the adopt and release
//! steps of upstream's `ControllerRefManager`. Both are merge patches that
//! carry the object's resourceVersion, so they apply only to the version
//! they were decided on.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use serde_json::json;

/// The reference with `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

/// Whether `meta` is controlled by the object with `uid`.
pub fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == uid)
}

/// A controller reference to `owner`, blocking its foreground deletion.
pub fn controller_ref<K: kube::Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    let meta = owner.meta();
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Makes `owner` the controller of the orphan `obj`.
pub async fn adopt<K>(api: &Api<K>, obj: &K, owner: OwnerReference) -> Result<K, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let meta = obj.meta();
    let mut refs = meta.owner_references.clone().unwrap_or_default();
    refs.retain(|r| r.uid != owner.uid);
    refs.push(owner);
    patch_refs(api, meta, refs).await
}

/// Removes `owner_uid` from the owners of `obj`.
pub async fn release<K>(api: &Api<K>, obj: &K, owner_uid: &str) -> Result<K, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let meta = obj.meta();
    let refs: Vec<_> = meta.owner_references.iter().flatten().filter(|r| r.uid != owner_uid).cloned().collect();
    patch_refs(api, meta, refs).await
}

async fn patch_refs<K>(api: &Api<K>, meta: &ObjectMeta, refs: Vec<OwnerReference>) -> Result<K, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"metadata": {
        "ownerReferences": if refs.is_empty() { serde_json::Value::Null } else { json!(refs) },
        "resourceVersion": meta.resource_version,
    }});
    api.patch(meta.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(&patch)).await
}
