//! A StatefulSet pod's identity: its name `<set>-<ordinal>`, the labels
//! that carry it (`statefulset.kubernetes.io/pod-name`,
//! `apps.kubernetes.io/pod-index`), its hostname and subdomain, and its
//! claims `<template>-<set>-<ordinal>` mounted under the template's name.
//! Pure functions of the set and the pod; nothing here talks to the API.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Volume};
use kube::api::ObjectMeta;

use crate::owner;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The set a pod name belongs to and its ordinal, as upstream's
/// `(.*)-([0-9]+)$`: the parent even when the ordinal overflows (then
/// `None`), nothing when the name has no numeric suffix.
pub fn parent_and_ordinal(name: &str) -> Option<(&str, Option<i32>)> {
    let (parent, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse().ok()))
}

pub fn ordinal_of(pod: &Pod) -> Option<i32> {
    parent_and_ordinal(pod.metadata.name.as_deref().unwrap_or_default()).and_then(|(_, o)| o)
}

fn set_name(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

/// Whether the pod's name makes it one of the set's (upstream's `isMemberOf`).
pub fn is_member(set: &StatefulSet, pod: &Pod) -> bool {
    parent_and_ordinal(pod.metadata.name.as_deref().unwrap_or_default()).is_some_and(|(p, _)| p == set_name(set))
}

pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.ordinals.as_ref()).and_then(|o| o.start).unwrap_or(0)
}

pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0)
}

/// The ordinals the set wants, `start ..= start + replicas - 1`.
pub fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && i64::from(ordinal) < i64::from(start) + i64::from(replicas(set))
}

pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set_name(set))
}

fn templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec.as_ref().and_then(|s| s.volume_claim_templates.as_deref()).unwrap_or_default()
}

pub fn claim_name(set: &StatefulSet, template: &PersistentVolumeClaim, ordinal: i32) -> String {
    format!("{}-{}-{ordinal}", template.metadata.name.as_deref().unwrap_or_default(), set_name(set))
}

/// The names of the claims of the pod with `ordinal`, in template order.
pub fn claim_names(set: &StatefulSet, ordinal: i32) -> Vec<String> {
    templates(set).iter().map(|t| claim_name(set, t, ordinal)).collect()
}

/// The claims of the pod with `ordinal`, from the templates: their labels
/// plus the selector's `matchLabels` (which win), in the set's namespace.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let selector_labels = set.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
    templates(set)
        .iter()
        .map(|template| {
            let mut labels = template.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(set, template, ordinal)),
                    namespace: set.metadata.namespace.clone(),
                    labels: Some(labels),
                    annotations: template.metadata.annotations.clone(),
                    finalizers: template.metadata.finalizers.clone(),
                    ..Default::default()
                },
                spec: template.spec.clone(),
                status: None,
            }
        })
        .collect()
}

/// The pod with `ordinal` from `set`'s template (the current or the update
/// revision's), labelled with `revision`: named, labelled with its
/// identity, its hostname and subdomain set, its claims mounted.
pub fn new_pod(set: &StatefulSet, ordinal: i32, revision: &str) -> Pod {
    let template = set.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let name = pod_name(set, ordinal);
    let mut labels = meta.labels.unwrap_or_default();
    labels.extend(identity_labels(&name, ordinal));
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut spec = template.spec.unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain = set.spec.as_ref().and_then(|s| s.service_name.clone()).filter(|s| !s.is_empty());
    spec.volumes = Some(volumes_with_claims(set, ordinal, spec.volumes.take().unwrap_or_default()));
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner::controller_ref(set)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

fn identity_labels(name: &str, ordinal: i32) -> BTreeMap<String, String> {
    [(POD_NAME_LABEL.to_string(), name.to_string()), (POD_INDEX_LABEL.to_string(), ordinal.to_string())].into()
}

/// The template's claims as volumes named after their templates, then the
/// pod's other volumes (a volume named like a template is replaced).
fn volumes_with_claims(set: &StatefulSet, ordinal: i32, current: Vec<Volume>) -> Vec<Volume> {
    let templates = templates(set);
    let mut out: Vec<Volume> = templates
        .iter()
        .map(|t| Volume {
            name: t.metadata.name.clone().unwrap_or_default(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(set, t, ordinal),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    out.extend(current.into_iter().filter(|v| !templates.iter().any(|t| t.metadata.name.as_deref() == Some(&v.name))));
    out
}

/// The pod has its name, namespace and pod-name label (upstream's `identityMatches`).
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let Some(ordinal) = ordinal_of(pod) else { return false };
    is_member(set, pod)
        && name == pod_name(set, ordinal)
        && pod.metadata.namespace == set.metadata.namespace
        && pod.metadata.labels.as_ref().and_then(|l| l.get(POD_NAME_LABEL)).map(String::as_str) == Some(name)
}

/// The identity labels a pod lacks or has wrong, to be merged into its labels.
pub fn missing_identity_labels(pod: &Pod) -> BTreeMap<String, String> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let Some(ordinal) = ordinal_of(pod) else { return BTreeMap::new() };
    let have = pod.metadata.labels.clone().unwrap_or_default();
    identity_labels(name, ordinal).into_iter().filter(|(k, v)| have.get(k) != Some(v)).collect()
}

/// Every claim template is mounted with the pod's own claim (upstream's `storageMatches`).
pub fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(ordinal) = ordinal_of(pod) else { return false };
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default();
    templates(set).iter().all(|t| {
        volumes.iter().any(|v| {
            Some(v.name.as_str()) == t.metadata.name.as_deref()
                && v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == claim_name(set, t, ordinal))
        })
    })
}

pub fn revision_of(pod: &Pod) -> &str {
    pod.metadata.labels.as_ref().and_then(|l| l.get(REVISION_LABEL)).map(String::as_str).unwrap_or_default()
}

#[cfg(test)]
pub(super) mod tests {
    use k8s_openapi::api::apps::v1::{StatefulSetOrdinals, StatefulSetSpec};
    use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    use super::*;

    pub fn set(name: &str, replicas: i32) -> StatefulSet {
        let labels: BTreeMap<String, String> = [("app".to_string(), name.to_string())].into();
        StatefulSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                generation: Some(1),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                selector: LabelSelector { match_labels: Some(labels.clone()), ..Default::default() },
                service_name: Some(name.into()),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "c".into(),
                            image: Some("busybox:1".into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                volume_claim_templates: Some(vec![PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: Some("data".into()),
                        labels: Some([("tier".to_string(), "db".to_string())].into()),
                        ..Default::default()
                    },
                    spec: Some(PersistentVolumeClaimSpec {
                        access_modes: Some(vec!["ReadWriteOnce".into()]),
                        ..Default::default()
                    }),
                    status: None,
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn names_parse_as_upstream_regex() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", Some(0))));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", Some(12))));
        assert_eq!(parent_and_ordinal("web-99999999999"), Some(("web", None)));
        assert_eq!(parent_and_ordinal("web"), None);
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web-a1"), None);
    }

    #[test]
    fn a_new_pod_carries_its_identity_and_claims() {
        let mut s = set("web", 3);
        s.spec.as_mut().unwrap().template.spec.as_mut().unwrap().volumes = Some(vec![
            Volume { name: "data".into(), ..Default::default() },
            Volume { name: "scratch".into(), ..Default::default() },
        ]);
        let pod = new_pod(&s, 2, "web-abc");
        assert_eq!(pod.metadata.name.as_deref(), Some("web-2"));
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[REVISION_LABEL], "web-abc");
        assert_eq!(labels["app"], "web");
        let spec = pod.spec.clone().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("web"));
        let volumes = spec.volumes.unwrap();
        let names: Vec<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["data", "scratch"], "the template's claim replaces the pod's volume of that name");
        assert_eq!(volumes[0].persistent_volume_claim.as_ref().unwrap().claim_name, "data-web-2");
        assert_eq!(pod.metadata.owner_references.as_ref().unwrap()[0].kind, "StatefulSet");
        assert!(identity_matches(&s, &pod) && storage_matches(&s, &pod));
        assert!(is_member(&s, &pod));
    }

    #[test]
    fn claims_take_the_selector_labels() {
        let s = set("web", 1);
        let claims = claims_for(&s, 0);
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("data-web-0"));
        let labels = claims[0].metadata.labels.clone().unwrap();
        assert_eq!((labels["app"].as_str(), labels["tier"].as_str()), ("web", "db"));
        assert_eq!(claims[0].metadata.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn ordinals_start_where_the_spec_says() {
        let mut s = set("web", 2);
        assert!(in_range(&s, 0) && in_range(&s, 1) && !in_range(&s, 2));
        s.spec.as_mut().unwrap().ordinals = Some(StatefulSetOrdinals { start: Some(5) });
        assert!(!in_range(&s, 4) && in_range(&s, 5) && in_range(&s, 6) && !in_range(&s, 7));
        assert_eq!(pod_name(&s, 5), "web-5");
    }

    #[test]
    fn a_pod_without_its_labels_is_relabelled() {
        let s = set("web", 1);
        let mut pod = new_pod(&s, 0, "r");
        pod.metadata.labels.as_mut().unwrap().remove(POD_NAME_LABEL);
        assert!(!identity_matches(&s, &pod));
        let missing = missing_identity_labels(&pod);
        assert_eq!(missing, [(POD_NAME_LABEL.to_string(), "web-0".to_string())].into());
    }
}
