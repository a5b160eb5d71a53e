//! Patch strategies and merge keys of the built-in Kubernetes types (v1.33), for strategic merge patch.
//!
//! The apiserver keeps objects as untyped JSON, so the patcher cannot read Go struct tags the way upstream
//! does. Instead this is a small type graph keyed by upstream's OpenAPI definition names: for a type and one
//! of its JSON fields it says the type of the field (or of the list's items), its `x-kubernetes-patch-strategy`
//! and its `x-kubernetes-patch-merge-key`. It lists only the fields that carry a strategy or lead to one
//! through nested objects and lists. Every other field is opaque: an object there merges key by key and a
//! list is replaced whole, which is what upstream does for a field without strategy tags. A list without
//! strategy is listed when its items lead to a strategy (a Pod's containerStatuses, a CRD's versions), but
//! the patcher replaces such a list whole and never looks below it. Custom resources have no entries at
//! all: upstream refuses strategic merge patches for them (415), and so should the caller.
//!
//! The facts come from the `patchStrategy` and `patchMergeKey` struct tags of kubernetes/api,
//! apimachinery's meta/v1 and apiextensions-apiserver on their release-1.33 branches, which are what
//! upstream's server-side patcher reads.

/// A field's `x-kubernetes-patch-strategy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// No strategy: an object merges key by key and a list is replaced whole. That is `Replace` for a
    /// list but not for an object, hence a variant of its own.
    #[default]
    Unspecified,
    /// `merge`: list items merge by their merge key, or as a set when they are primitives.
    Merge,
    /// `replace`: the patch value replaces the field, even when both are objects.
    Replace,
    /// `retainKeys`: an object whose patch may carry a `$retainKeys` list of the keys to keep.
    RetainKeys,
    /// `merge,retainKeys`: a merge-keyed list whose items may carry `$retainKeys`.
    MergeRetainKeys,
}

impl Strategy {
    /// Whether a list with this strategy merges item by item instead of being replaced whole.
    pub fn merges_lists(self) -> bool {
        matches!(self, Strategy::Merge | Strategy::MergeRetainKeys)
    }
}

/// What the patcher needs to know about one field of a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldMeta {
    /// The definition name of the field's type, or of its items when it is a list; `None` for primitives.
    pub type_name: Option<&'static str>,
    /// Whether the field is a list.
    pub list: bool,
    /// The field's patch strategy.
    pub strategy: Strategy,
    /// The key that identifies the items of a merge list of objects (`x-kubernetes-patch-merge-key`).
    pub merge_key: Option<&'static str>,
}

impl FieldMeta {
    /// A field this table knows nothing about: opaque, with no strategy.
    pub const OPAQUE: FieldMeta =
        FieldMeta { type_name: None, list: false, strategy: Strategy::Unspecified, merge_key: None };
}

/// The definition name of the object type that a kind is served as, or `None` for a kind this table does
/// not know (custom resources, and groups outside the built-in set).
///
/// The version matters: autoscaling/v1 and autoscaling/v2 serve HorizontalPodAutoscaler as different
/// types, and upstream patches with the type of the version in the request's URL.
pub fn root_type(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    KINDS.iter().find(|(g, v, k, _)| *g == group && *v == version && *k == kind).map(|(_, _, _, type_name)| *type_name)
}

/// The patch metadata of `field` in the type `type_name`, or `None` when the field leads to no strategy.
pub fn lookup(type_name: &str, field: &str) -> Option<FieldMeta> {
    FIELDS.binary_search_by(|(t, f, _)| (*t, *f).cmp(&(type_name, field))).ok().map(|index| FIELDS[index].2)
}

/// A nested object without a strategy of its own, listed because something below it has one.
const fn object(type_name: &'static str) -> FieldMeta {
    FieldMeta { type_name: Some(type_name), list: false, strategy: Strategy::Unspecified, merge_key: None }
}

/// A nested object with an explicit strategy (`retainKeys` or `replace`).
const fn object_with(type_name: &'static str, strategy: Strategy) -> FieldMeta {
    FieldMeta { type_name: Some(type_name), list: false, strategy, merge_key: None }
}

/// A list of objects merged by `merge_key`.
const fn merge_list(item: &'static str, merge_key: &'static str) -> FieldMeta {
    FieldMeta { type_name: Some(item), list: true, strategy: Strategy::Merge, merge_key: Some(merge_key) }
}

/// A list of objects merged by `merge_key` whose items may carry `$retainKeys`.
const fn merge_retain_keys_list(item: &'static str, merge_key: &'static str) -> FieldMeta {
    FieldMeta { type_name: Some(item), list: true, strategy: Strategy::MergeRetainKeys, merge_key: Some(merge_key) }
}

/// A list without strategy, replaced whole, listed because its items lead to a strategy.
const fn atomic_list(item: &'static str) -> FieldMeta {
    FieldMeta { type_name: Some(item), list: true, strategy: Strategy::Unspecified, merge_key: None }
}

/// A list of primitives merged as a set.
const fn merge_set() -> FieldMeta {
    FieldMeta { type_name: None, list: true, strategy: Strategy::Merge, merge_key: None }
}

/// Every kind of the built-in groups that are served, with the definition name of its type: (group,
/// version, kind, type). List kinds are left out because they cannot be patched.
static KINDS: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "Binding", "io.k8s.api.core.v1.Binding"),
    ("", "v1", "ComponentStatus", "io.k8s.api.core.v1.ComponentStatus"),
    ("", "v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap"),
    ("", "v1", "Endpoints", "io.k8s.api.core.v1.Endpoints"),
    ("", "v1", "Event", "io.k8s.api.core.v1.Event"),
    ("", "v1", "LimitRange", "io.k8s.api.core.v1.LimitRange"),
    ("", "v1", "Namespace", "io.k8s.api.core.v1.Namespace"),
    ("", "v1", "Node", "io.k8s.api.core.v1.Node"),
    ("", "v1", "PersistentVolume", "io.k8s.api.core.v1.PersistentVolume"),
    ("", "v1", "PersistentVolumeClaim", "io.k8s.api.core.v1.PersistentVolumeClaim"),
    ("", "v1", "Pod", "io.k8s.api.core.v1.Pod"),
    ("", "v1", "PodTemplate", "io.k8s.api.core.v1.PodTemplate"),
    ("", "v1", "ReplicationController", "io.k8s.api.core.v1.ReplicationController"),
    ("", "v1", "ResourceQuota", "io.k8s.api.core.v1.ResourceQuota"),
    ("", "v1", "Secret", "io.k8s.api.core.v1.Secret"),
    ("", "v1", "Service", "io.k8s.api.core.v1.Service"),
    ("", "v1", "ServiceAccount", "io.k8s.api.core.v1.ServiceAccount"),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    ),
    ("apps", "v1", "ControllerRevision", "io.k8s.api.apps.v1.ControllerRevision"),
    ("apps", "v1", "DaemonSet", "io.k8s.api.apps.v1.DaemonSet"),
    ("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
    ("apps", "v1", "ReplicaSet", "io.k8s.api.apps.v1.ReplicaSet"),
    ("apps", "v1", "StatefulSet", "io.k8s.api.apps.v1.StatefulSet"),
    ("autoscaling", "v1", "HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler"),
    ("autoscaling", "v1", "Scale", "io.k8s.api.autoscaling.v1.Scale"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"),
    ("batch", "v1", "CronJob", "io.k8s.api.batch.v1.CronJob"),
    ("batch", "v1", "Job", "io.k8s.api.batch.v1.Job"),
    ("certificates.k8s.io", "v1", "CertificateSigningRequest", "io.k8s.api.certificates.v1.CertificateSigningRequest"),
    ("coordination.k8s.io", "v1", "Lease", "io.k8s.api.coordination.v1.Lease"),
    ("discovery.k8s.io", "v1", "EndpointSlice", "io.k8s.api.discovery.v1.EndpointSlice"),
    ("events.k8s.io", "v1", "Event", "io.k8s.api.events.v1.Event"),
    ("networking.k8s.io", "v1", "IPAddress", "io.k8s.api.networking.v1.IPAddress"),
    ("networking.k8s.io", "v1", "Ingress", "io.k8s.api.networking.v1.Ingress"),
    ("networking.k8s.io", "v1", "IngressClass", "io.k8s.api.networking.v1.IngressClass"),
    ("networking.k8s.io", "v1", "NetworkPolicy", "io.k8s.api.networking.v1.NetworkPolicy"),
    ("networking.k8s.io", "v1", "ServiceCIDR", "io.k8s.api.networking.v1.ServiceCIDR"),
    ("node.k8s.io", "v1", "RuntimeClass", "io.k8s.api.node.v1.RuntimeClass"),
    ("policy", "v1", "Eviction", "io.k8s.api.policy.v1.Eviction"),
    ("policy", "v1", "PodDisruptionBudget", "io.k8s.api.policy.v1.PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "io.k8s.api.rbac.v1.ClusterRole"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "io.k8s.api.rbac.v1.ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "v1", "Role", "io.k8s.api.rbac.v1.Role"),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "io.k8s.api.rbac.v1.RoleBinding"),
    ("scheduling.k8s.io", "v1", "PriorityClass", "io.k8s.api.scheduling.v1.PriorityClass"),
    ("storage.k8s.io", "v1", "CSIDriver", "io.k8s.api.storage.v1.CSIDriver"),
    ("storage.k8s.io", "v1", "CSINode", "io.k8s.api.storage.v1.CSINode"),
    ("storage.k8s.io", "v1", "CSIStorageCapacity", "io.k8s.api.storage.v1.CSIStorageCapacity"),
    ("storage.k8s.io", "v1", "StorageClass", "io.k8s.api.storage.v1.StorageClass"),
    ("storage.k8s.io", "v1", "VolumeAttachment", "io.k8s.api.storage.v1.VolumeAttachment"),
];

/// The type graph, sorted by (type, field) so that `lookup` can search it.
static FIELDS: &[(&str, &str, FieldMeta)] = &[
    (
        "io.k8s.api.admissionregistration.v1.MutatingWebhook",
        "matchConditions",
        merge_list("io.k8s.api.admissionregistration.v1.MatchCondition", "name"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
        "webhooks",
        merge_list("io.k8s.api.admissionregistration.v1.MutatingWebhook", "name"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy",
        "spec",
        object("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "matchConditions",
        merge_list("io.k8s.api.admissionregistration.v1.MatchCondition", "name"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "variables",
        merge_list("io.k8s.api.admissionregistration.v1.Variable", "name"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingWebhook",
        "matchConditions",
        merge_list("io.k8s.api.admissionregistration.v1.MatchCondition", "name"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        "webhooks",
        merge_list("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "name"),
    ),
    ("io.k8s.api.apps.v1.ControllerRevision", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.apps.v1.DaemonSet", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.apps.v1.DaemonSet", "spec", object("io.k8s.api.apps.v1.DaemonSetSpec")),
    ("io.k8s.api.apps.v1.DaemonSet", "status", object("io.k8s.api.apps.v1.DaemonSetStatus")),
    ("io.k8s.api.apps.v1.DaemonSetSpec", "template", object("io.k8s.api.core.v1.PodTemplateSpec")),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", merge_list("io.k8s.api.apps.v1.DaemonSetCondition", "type")),
    ("io.k8s.api.apps.v1.Deployment", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.apps.v1.Deployment", "spec", object("io.k8s.api.apps.v1.DeploymentSpec")),
    ("io.k8s.api.apps.v1.Deployment", "status", object("io.k8s.api.apps.v1.DeploymentStatus")),
    (
        "io.k8s.api.apps.v1.DeploymentSpec",
        "strategy",
        object_with("io.k8s.api.apps.v1.DeploymentStrategy", Strategy::RetainKeys),
    ),
    ("io.k8s.api.apps.v1.DeploymentSpec", "template", object("io.k8s.api.core.v1.PodTemplateSpec")),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", merge_list("io.k8s.api.apps.v1.DeploymentCondition", "type")),
    ("io.k8s.api.apps.v1.ReplicaSet", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.apps.v1.ReplicaSet", "spec", object("io.k8s.api.apps.v1.ReplicaSetSpec")),
    ("io.k8s.api.apps.v1.ReplicaSet", "status", object("io.k8s.api.apps.v1.ReplicaSetStatus")),
    ("io.k8s.api.apps.v1.ReplicaSetSpec", "template", object("io.k8s.api.core.v1.PodTemplateSpec")),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", merge_list("io.k8s.api.apps.v1.ReplicaSetCondition", "type")),
    ("io.k8s.api.apps.v1.StatefulSet", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.apps.v1.StatefulSet", "spec", object("io.k8s.api.apps.v1.StatefulSetSpec")),
    ("io.k8s.api.apps.v1.StatefulSet", "status", object("io.k8s.api.apps.v1.StatefulSetStatus")),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "template", object("io.k8s.api.core.v1.PodTemplateSpec")),
    (
        "io.k8s.api.apps.v1.StatefulSetSpec",
        "volumeClaimTemplates",
        atomic_list("io.k8s.api.core.v1.PersistentVolumeClaim"),
    ),
    (
        "io.k8s.api.apps.v1.StatefulSetStatus",
        "conditions",
        merge_list("io.k8s.api.apps.v1.StatefulSetCondition", "type"),
    ),
    (
        "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    ("io.k8s.api.autoscaling.v1.Scale", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
        "status",
        object("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus"),
    ),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "conditions",
        merge_list("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerCondition", "type"),
    ),
    ("io.k8s.api.batch.v1.CronJob", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.batch.v1.CronJob", "spec", object("io.k8s.api.batch.v1.CronJobSpec")),
    ("io.k8s.api.batch.v1.CronJobSpec", "jobTemplate", object("io.k8s.api.batch.v1.JobTemplateSpec")),
    ("io.k8s.api.batch.v1.Job", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.batch.v1.Job", "spec", object("io.k8s.api.batch.v1.JobSpec")),
    ("io.k8s.api.batch.v1.Job", "status", object("io.k8s.api.batch.v1.JobStatus")),
    ("io.k8s.api.batch.v1.JobSpec", "template", object("io.k8s.api.core.v1.PodTemplateSpec")),
    ("io.k8s.api.batch.v1.JobStatus", "conditions", merge_list("io.k8s.api.batch.v1.JobCondition", "type")),
    ("io.k8s.api.batch.v1.JobTemplateSpec", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.batch.v1.JobTemplateSpec", "spec", object("io.k8s.api.batch.v1.JobSpec")),
    (
        "io.k8s.api.certificates.v1.CertificateSigningRequest",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    ("io.k8s.api.coordination.v1.Lease", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Binding", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.ComponentStatus", "conditions", merge_list("io.k8s.api.core.v1.ComponentCondition", "type")),
    ("io.k8s.api.core.v1.ComponentStatus", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.ConfigMap", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Container", "env", merge_list("io.k8s.api.core.v1.EnvVar", "name")),
    ("io.k8s.api.core.v1.Container", "ports", merge_list("io.k8s.api.core.v1.ContainerPort", "containerPort")),
    ("io.k8s.api.core.v1.Container", "volumeDevices", merge_list("io.k8s.api.core.v1.VolumeDevice", "devicePath")),
    ("io.k8s.api.core.v1.Container", "volumeMounts", merge_list("io.k8s.api.core.v1.VolumeMount", "mountPath")),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        merge_list("io.k8s.api.core.v1.ResourceStatus", "name"),
    ),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "volumeMounts",
        merge_list("io.k8s.api.core.v1.VolumeMountStatus", "mountPath"),
    ),
    ("io.k8s.api.core.v1.Endpoints", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", merge_list("io.k8s.api.core.v1.EnvVar", "name")),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", merge_list("io.k8s.api.core.v1.ContainerPort", "containerPort")),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        merge_list("io.k8s.api.core.v1.VolumeDevice", "devicePath"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        merge_list("io.k8s.api.core.v1.VolumeMount", "mountPath"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralVolumeSource",
        "volumeClaimTemplate",
        object("io.k8s.api.core.v1.PersistentVolumeClaimTemplate"),
    ),
    ("io.k8s.api.core.v1.Event", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.LimitRange", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Namespace", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Namespace", "status", object("io.k8s.api.core.v1.NamespaceStatus")),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", merge_list("io.k8s.api.core.v1.NamespaceCondition", "type")),
    ("io.k8s.api.core.v1.Node", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Node", "spec", object("io.k8s.api.core.v1.NodeSpec")),
    ("io.k8s.api.core.v1.Node", "status", object("io.k8s.api.core.v1.NodeStatus")),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", merge_set()),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", merge_list("io.k8s.api.core.v1.NodeAddress", "type")),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", merge_list("io.k8s.api.core.v1.NodeCondition", "type")),
    ("io.k8s.api.core.v1.PersistentVolume", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.PersistentVolumeClaim", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.PersistentVolumeClaim", "status", object("io.k8s.api.core.v1.PersistentVolumeClaimStatus")),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        merge_list("io.k8s.api.core.v1.PersistentVolumeClaimCondition", "type"),
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimTemplate",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    ("io.k8s.api.core.v1.Pod", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Pod", "spec", object("io.k8s.api.core.v1.PodSpec")),
    ("io.k8s.api.core.v1.Pod", "status", object("io.k8s.api.core.v1.PodStatus")),
    ("io.k8s.api.core.v1.PodSpec", "containers", merge_list("io.k8s.api.core.v1.Container", "name")),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", merge_list("io.k8s.api.core.v1.EphemeralContainer", "name")),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", merge_list("io.k8s.api.core.v1.HostAlias", "ip")),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", merge_list("io.k8s.api.core.v1.LocalObjectReference", "name")),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", merge_list("io.k8s.api.core.v1.Container", "name")),
    (
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        merge_retain_keys_list("io.k8s.api.core.v1.PodResourceClaim", "name"),
    ),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", merge_list("io.k8s.api.core.v1.PodSchedulingGate", "name")),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        merge_list("io.k8s.api.core.v1.TopologySpreadConstraint", "topologyKey"),
    ),
    ("io.k8s.api.core.v1.PodSpec", "volumes", merge_retain_keys_list("io.k8s.api.core.v1.Volume", "name")),
    ("io.k8s.api.core.v1.PodStatus", "conditions", merge_list("io.k8s.api.core.v1.PodCondition", "type")),
    ("io.k8s.api.core.v1.PodStatus", "containerStatuses", atomic_list("io.k8s.api.core.v1.ContainerStatus")),
    ("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses", atomic_list("io.k8s.api.core.v1.ContainerStatus")),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", merge_list("io.k8s.api.core.v1.HostIP", "ip")),
    ("io.k8s.api.core.v1.PodStatus", "initContainerStatuses", atomic_list("io.k8s.api.core.v1.ContainerStatus")),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", merge_list("io.k8s.api.core.v1.PodIP", "ip")),
    (
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        merge_retain_keys_list("io.k8s.api.core.v1.PodResourceClaimStatus", "name"),
    ),
    ("io.k8s.api.core.v1.PodTemplate", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.PodTemplate", "template", object("io.k8s.api.core.v1.PodTemplateSpec")),
    ("io.k8s.api.core.v1.PodTemplateSpec", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.PodTemplateSpec", "spec", object("io.k8s.api.core.v1.PodSpec")),
    ("io.k8s.api.core.v1.ReplicationController", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.ReplicationController", "spec", object("io.k8s.api.core.v1.ReplicationControllerSpec")),
    ("io.k8s.api.core.v1.ReplicationController", "status", object("io.k8s.api.core.v1.ReplicationControllerStatus")),
    ("io.k8s.api.core.v1.ReplicationControllerSpec", "template", object("io.k8s.api.core.v1.PodTemplateSpec")),
    (
        "io.k8s.api.core.v1.ReplicationControllerStatus",
        "conditions",
        merge_list("io.k8s.api.core.v1.ReplicationControllerCondition", "type"),
    ),
    ("io.k8s.api.core.v1.ResourceQuota", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Secret", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Service", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.Service", "spec", object("io.k8s.api.core.v1.ServiceSpec")),
    ("io.k8s.api.core.v1.Service", "status", object("io.k8s.api.core.v1.ServiceStatus")),
    ("io.k8s.api.core.v1.ServiceAccount", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", merge_list("io.k8s.api.core.v1.ObjectReference", "name")),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", merge_list("io.k8s.api.core.v1.ServicePort", "port")),
    (
        "io.k8s.api.core.v1.ServiceStatus",
        "conditions",
        merge_list("io.k8s.apimachinery.pkg.apis.meta.v1.Condition", "type"),
    ),
    ("io.k8s.api.core.v1.Volume", "ephemeral", object("io.k8s.api.core.v1.EphemeralVolumeSource")),
    ("io.k8s.api.discovery.v1.EndpointSlice", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.events.v1.Event", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.networking.v1.IPAddress", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.networking.v1.Ingress", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.networking.v1.IngressClass", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.networking.v1.NetworkPolicy", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.networking.v1.ServiceCIDR", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.networking.v1.ServiceCIDR", "status", object("io.k8s.api.networking.v1.ServiceCIDRStatus")),
    (
        "io.k8s.api.networking.v1.ServiceCIDRStatus",
        "conditions",
        merge_list("io.k8s.apimachinery.pkg.apis.meta.v1.Condition", "type"),
    ),
    ("io.k8s.api.node.v1.RuntimeClass", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.policy.v1.Eviction", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.policy.v1.PodDisruptionBudget", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.policy.v1.PodDisruptionBudget", "spec", object("io.k8s.api.policy.v1.PodDisruptionBudgetSpec")),
    ("io.k8s.api.policy.v1.PodDisruptionBudget", "status", object("io.k8s.api.policy.v1.PodDisruptionBudgetStatus")),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
        "selector",
        object_with("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", Strategy::Replace),
    ),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
        "conditions",
        merge_list("io.k8s.apimachinery.pkg.apis.meta.v1.Condition", "type"),
    ),
    ("io.k8s.api.rbac.v1.ClusterRole", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.rbac.v1.ClusterRoleBinding", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.rbac.v1.Role", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.rbac.v1.RoleBinding", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.scheduling.v1.PriorityClass", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.storage.v1.CSIDriver", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.storage.v1.CSINode", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.storage.v1.CSINode", "spec", object("io.k8s.api.storage.v1.CSINodeSpec")),
    ("io.k8s.api.storage.v1.CSINodeSpec", "drivers", merge_list("io.k8s.api.storage.v1.CSINodeDriver", "name")),
    ("io.k8s.api.storage.v1.CSIStorageCapacity", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.storage.v1.StorageClass", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    ("io.k8s.api.storage.v1.VolumeAttachment", "metadata", object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        "metadata",
        object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        "spec",
        object("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
        "versions",
        atomic_list("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        "schema",
        object("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceValidation"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceValidation",
        "openAPIV3Schema",
        object("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "allOf",
        atomic_list("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "anyOf",
        atomic_list("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "not",
        object("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "oneOf",
        atomic_list("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "x-kubernetes-validations",
        merge_list("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ValidationRule", "rule"),
    ),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", merge_set()),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        merge_list("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", "uid"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_sorted_and_unique() {
        for pair in FIELDS.windows(2) {
            let (before, after) = ((pair[0].0, pair[0].1), (pair[1].0, pair[1].1));
            assert!(before < after, "{before:?} is not before {after:?}");
        }
    }

    #[test]
    fn every_kind_has_metadata_and_every_plain_object_leads_somewhere() {
        for (_, _, kind, type_name) in KINDS {
            assert_eq!(
                lookup(type_name, "metadata"),
                Some(object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
                "{kind}"
            );
        }
        // A nested object or list without a strategy is only worth listing when the table goes on below it.
        for (type_name, field, meta) in FIELDS {
            if meta.strategy == Strategy::Unspecified {
                let nested = meta.type_name.unwrap_or_default();
                assert!(FIELDS.iter().any(|(t, _, _)| *t == nested), "{type_name}.{field} leads nowhere");
            }
        }
    }

    fn check(type_name: &str, field: &str, expected: Option<FieldMeta>) {
        assert_eq!(lookup(type_name, field), expected, "{type_name}.{field}");
    }

    #[test]
    fn known_fields() {
        let core = |name: &str| format!("io.k8s.api.core.v1.{name}");
        let meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
        check(meta, "finalizers", Some(merge_set()));
        check(meta, "ownerReferences", Some(merge_list("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", "uid")));
        check(meta, "labels", None);
        check("io.k8s.api.apps.v1.Deployment", "spec", Some(object("io.k8s.api.apps.v1.DeploymentSpec")));
        check("io.k8s.api.apps.v1.DeploymentSpec", "template", Some(object("io.k8s.api.core.v1.PodTemplateSpec")));
        check(
            "io.k8s.api.apps.v1.DeploymentSpec",
            "strategy",
            Some(object_with("io.k8s.api.apps.v1.DeploymentStrategy", Strategy::RetainKeys)),
        );
        check(&core("PodTemplateSpec"), "spec", Some(object("io.k8s.api.core.v1.PodSpec")));
        check(&core("PodSpec"), "containers", Some(merge_list("io.k8s.api.core.v1.Container", "name")));
        check(&core("PodSpec"), "initContainers", Some(merge_list("io.k8s.api.core.v1.Container", "name")));
        check(
            &core("PodSpec"),
            "ephemeralContainers",
            Some(merge_list("io.k8s.api.core.v1.EphemeralContainer", "name")),
        );
        check(&core("PodSpec"), "volumes", Some(merge_retain_keys_list("io.k8s.api.core.v1.Volume", "name")));
        check(
            &core("PodSpec"),
            "imagePullSecrets",
            Some(merge_list("io.k8s.api.core.v1.LocalObjectReference", "name")),
        );
        check(&core("PodSpec"), "hostAliases", Some(merge_list("io.k8s.api.core.v1.HostAlias", "ip")));
        // Tolerations have no strategy in v1.33: a patch replaces the whole list.
        check(&core("PodSpec"), "tolerations", None);
        check(&core("PodStatus"), "containerStatuses", Some(atomic_list("io.k8s.api.core.v1.ContainerStatus")));
        check(
            &core("ContainerStatus"),
            "volumeMounts",
            Some(merge_list("io.k8s.api.core.v1.VolumeMountStatus", "mountPath")),
        );
        check(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
            "x-kubernetes-validations",
            Some(merge_list("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ValidationRule", "rule")),
        );
        check(&core("Container"), "ports", Some(merge_list("io.k8s.api.core.v1.ContainerPort", "containerPort")));
        check(&core("Container"), "env", Some(merge_list("io.k8s.api.core.v1.EnvVar", "name")));
        check(&core("Container"), "volumeMounts", Some(merge_list("io.k8s.api.core.v1.VolumeMount", "mountPath")));
        check(&core("Container"), "volumeDevices", Some(merge_list("io.k8s.api.core.v1.VolumeDevice", "devicePath")));
        check(&core("EphemeralContainer"), "env", Some(merge_list("io.k8s.api.core.v1.EnvVar", "name")));
        check(&core("ServiceSpec"), "ports", Some(merge_list("io.k8s.api.core.v1.ServicePort", "port")));
        check(&core("NodeSpec"), "podCIDRs", Some(merge_set()));
        check(
            "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
            "selector",
            Some(object_with("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", Strategy::Replace)),
        );
        check("io.k8s.api.batch.v1.CronJobSpec", "jobTemplate", Some(object("io.k8s.api.batch.v1.JobTemplateSpec")));
    }

    #[test]
    fn roots() {
        assert_eq!(root_type("apps", "v1", "Deployment"), Some("io.k8s.api.apps.v1.Deployment"));
        assert_eq!(root_type("", "v1", "Pod"), Some("io.k8s.api.core.v1.Pod"));
        assert_eq!(
            root_type("autoscaling", "v1", "HorizontalPodAutoscaler"),
            Some("io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler")
        );
        assert_eq!(
            root_type("autoscaling", "v2", "HorizontalPodAutoscaler"),
            Some("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler")
        );
        assert_eq!(
            root_type("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            Some("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition")
        );
        assert_eq!(root_type("example.com", "v1", "Widget"), None);
        assert_eq!(root_type("apps", "v1", "DeploymentList"), None);
    }
}
