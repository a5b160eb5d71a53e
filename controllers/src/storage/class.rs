//! StorageClasses: k3s's default `local-path` class, created at start when
//! it is missing (never overwritten: a user's edits stay), the default
//! class upstream's way (the newest one annotated default), and the class
//! of a claim or a volume (its field, or the beta annotation before it).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ObjectMeta, PostParams};

/// k3s's default class and the provisioner it names.
pub const LOCAL_PATH: &str = "local-path";
pub const PROVISIONER: &str = "rancher.io/local-path";
/// Upstream's name for "volumes of this class are not provisioned".
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// `local-path` as k3s's `local-storage.yaml` defines it.
pub fn local_path() -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(LOCAL_PATH.into()),
            annotations: Some(BTreeMap::from([(DEFAULT_CLASS.to_string(), "true".to_string())])),
            ..Default::default()
        },
        provisioner: PROVISIONER.into(),
        reclaim_policy: Some("Delete".into()),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..Default::default()
    }
}

/// Creates `local-path` unless a class of that name exists.
pub async fn ensure_local_path(client: &kube::Client) -> Result<(), kube::Error> {
    let api: Api<StorageClass> = Api::all(client.clone());
    if api.get_opt(LOCAL_PATH).await?.is_some() {
        return Ok(());
    }
    match api.create(&PostParams::default(), &local_path()).await {
        Ok(_) => {
            tracing::info!("created the default StorageClass {LOCAL_PATH}");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

pub fn is_default(class: &StorageClass) -> bool {
    annotation(&class.metadata, DEFAULT_CLASS) == Some("true")
        || annotation(&class.metadata, BETA_DEFAULT_CLASS) == Some("true")
}

/// The default class: of those annotated default, the newest (then the
/// first by name), as upstream's `GetDefaultClass`.
pub fn default_class(classes: &[Arc<StorageClass>]) -> Option<Arc<StorageClass>> {
    let created = |c: &StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
    classes
        .iter()
        .filter(|c| is_default(c))
        .min_by(|a, b| created(b).cmp(&created(a)).then_with(|| a.metadata.name.cmp(&b.metadata.name)))
        .cloned()
}

/// Whether the claim asked for a class at all (an empty name is asking for none).
pub fn claim_has_class(claim: &PersistentVolumeClaim) -> bool {
    claim.spec.as_ref().and_then(|s| s.storage_class_name.as_ref()).is_some()
        || annotation(&claim.metadata, BETA_CLASS).is_some()
}

pub fn of_claim(claim: &PersistentVolumeClaim) -> &str {
    annotation(&claim.metadata, BETA_CLASS)
        .or_else(|| claim.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()))
        .unwrap_or_default()
}

pub fn of_volume(volume: &PersistentVolume) -> &str {
    annotation(&volume.metadata, BETA_CLASS)
        .or_else(|| volume.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()))
        .unwrap_or_default()
}

/// The claim's class waits for a pod before binding (upstream's
/// `IsDelayBindingMode`; a missing class binds at once).
pub fn delays_binding(class: Option<&StorageClass>) -> bool {
    class.and_then(|c| c.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer")
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PersistentVolumeClaimSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn class(name: &str, default: bool, created: i64) -> Arc<StorageClass> {
        let mut c = local_path();
        c.metadata.name = Some(name.into());
        c.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
        if !default {
            c.metadata.annotations = None;
        }
        Arc::new(c)
    }

    #[test]
    fn local_path_is_k3s_default_class() {
        let c = local_path();
        assert!(is_default(&c));
        assert_eq!(c.provisioner, "rancher.io/local-path");
        assert_eq!(c.reclaim_policy.as_deref(), Some("Delete"));
        assert!(delays_binding(Some(&c)));
        assert!(!delays_binding(None));
    }

    #[test]
    fn the_newest_default_class_wins() {
        assert_eq!(default_class(&[class("a", false, 1)]), None);
        let pick = default_class(&[class("old", true, 1), class("new", true, 5), class("plain", false, 9)]);
        assert_eq!(pick.unwrap().metadata.name.as_deref(), Some("new"));
        let tie = default_class(&[class("b", true, 1), class("a", true, 1)]);
        assert_eq!(tie.unwrap().metadata.name.as_deref(), Some("a"));
    }

    #[test]
    fn a_claims_class_is_its_field_or_the_beta_annotation() {
        let mut claim = PersistentVolumeClaim::default();
        assert!(!claim_has_class(&claim));
        assert_eq!(of_claim(&claim), "");
        claim.spec = Some(PersistentVolumeClaimSpec { storage_class_name: Some(String::new()), ..Default::default() });
        assert!(claim_has_class(&claim), "an empty class is a choice");
        claim.metadata.annotations = Some(BTreeMap::from([(BETA_CLASS.to_string(), "fast".to_string())]));
        assert_eq!(of_claim(&claim), "fast");
    }
}
