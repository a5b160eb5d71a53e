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

/// Upstream's `ControllerRefManager` claim: of `candidates`, the objects
/// `owner` controls and that `matches` accepts, after adopting matching
/// orphans (neither side being deleted) and releasing owned objects that no
/// longer match. Objects that vanish meanwhile are skipped.
pub async fn claim<K, O>(
    api: &Api<K>,
    candidates: &[std::sync::Arc<K>],
    owner: &O,
    matches: impl Fn(&K) -> bool,
) -> Result<Vec<std::sync::Arc<K>>, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    O: kube::Resource<DynamicType = ()>,
{
    let uid = owner.meta().uid.clone().unwrap_or_default();
    let mut owned = Vec::new();
    for obj in candidates {
        let meta = obj.meta();
        let matching = matches(obj);
        match controller_of(meta) {
            Some(r) if r.uid == uid => {
                if matching {
                    owned.push(std::sync::Arc::clone(obj));
                } else if let Err(e) = release(api, obj, &uid).await
                    && !crate::is_gone(&e)
                {
                    return Err(e);
                }
            }
            None if matching && owner.meta().deletion_timestamp.is_none() && meta.deletion_timestamp.is_none() => {
                match adopt(api, obj, controller_ref(owner)).await {
                    Ok(adopted) => owned.push(std::sync::Arc::new(adopted)),
                    Err(e) if crate::is_gone(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            _ => {}
        }
    }
    Ok(owned)
}

/// The owners of kind `K` that a change of `pod` concerns: its controller,
/// or for an orphan every owner in its namespace whose selector matches it.
pub fn keys_for_pod<K>(
    pod: &k8s_openapi::api::core::v1::Pod,
    owners: &crate::informer::Informer<K>,
    selects: impl Fn(&K, Option<&std::collections::BTreeMap<String, String>>) -> bool,
) -> Vec<crate::queue::Key>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let namespace = pod.metadata.namespace.as_deref();
    match controller_of(&pod.metadata) {
        Some(r) if r.kind == K::kind(&()) => vec![crate::queue::Key::new(namespace, &r.name)],
        Some(_) => Vec::new(),
        None => owners
            .in_namespace(namespace.unwrap_or_default())
            .into_iter()
            .filter(|o| selects(o, pod.metadata.labels.as_ref()))
            .map(|o| crate::queue::Key::of(o.meta()))
            .collect(),
    }
}
