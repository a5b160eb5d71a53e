//! The static catalogue of every built-in resource the API server serves, with the facts a
//! Kubernetes v1.33 kube-apiserver reports for it in discovery (kinds, names, scope, short names,
//! categories, verbs, subresources) and where its objects live under `/registry/`.
//!
//! It is data and lookups only: it renders no discovery document, routes no request and touches
//! no storage. Custom resources are not here; they come from CustomResourceDefinitions at run time.
//!
//! The facts were read from kubernetes/kubernetes: the discovery documents under `api/discovery/`,
//! the REST storage in `pkg/registry/`, the etcd paths in `test/integration/etcd/data.go`, the
//! group priorities in the control plane's aggregator, and the v1.33 feature gates.

/// An API group and the versions of it that are served, as `/apis` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// The group name; empty for the core (legacy) group served under `/api`.
    pub name: &'static str,
    /// Served versions, highest priority first; discovery lists them in this order.
    pub versions: &'static [&'static str],
    /// The version clients use when they are not told one; always `versions[0]`.
    pub preferred: &'static str,
}

/// One resource of one group-version, as discovery describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// The API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The plural, lower-case name used in URLs (`name` in APIResource, `resource` in aggregated discovery).
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Verbs in the order discovery lists them, which is alphabetical.
    pub verbs: &'static [&'static str],
    /// Subresources in the order discovery lists them, which is alphabetical by name.
    pub subresources: &'static [Subresource],
    /// The key prefix under `/registry/` where kube-apiserver keeps these objects: a namespaced
    /// object is at `/registry/<storage>/<namespace>/<name>`, a cluster-scoped one at
    /// `/registry/<storage>/<name>`. Mostly the plural, but kube-apiserver kept some historical
    /// prefixes (`minions` for nodes, `services/specs`, `controllers`, ...) and we use the same
    /// keys so that a datastore written by one can be read by the other. Two group-versions that
    /// serve the same objects share one prefix. Empty when the resource is not stored.
    pub storage: &'static str,
    /// The apiVersion objects are converted to before they are stored, so that every
    /// group-version sharing a prefix reads and writes one encoding. Empty when not stored.
    pub storage_version: &'static str,
    /// False for resources that are computed or act on other objects and keep nothing of their
    /// own: reviews, which answer a question about the request, bindings, which set a pod's
    /// node, and component statuses, which probe the control plane.
    pub stored: bool,
}

/// A subresource of a [`Resource`], such as `status` or `scale`. It shares its parent's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    pub name: &'static str,
    /// The group of the kind that the subresource accepts and returns. Discovery writes the group
    /// and version only when they differ from the parent's, as for `scale` and `eviction`.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

impl Resource {
    /// The subresource with this name, if the resource has it.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}

/// The core group, served under `/api` rather than listed in `/apis`.
pub static CORE_GROUP: Group = Group { name: "", versions: &["v1"], preferred: "v1" };

/// The named groups in the order kube-apiserver v1.33 lists them in `/apis`: by descending
/// group priority, then by name when priorities tie (admissionregistration and apiextensions).
/// kube-apiserver also lists apiregistration.k8s.io first and flowcontrol.apiserver.k8s.io after
/// discovery.k8s.io; bramble serves neither.
pub static GROUPS: &[Group] = &[
    Group { name: "apps", versions: &["v1"], preferred: "v1" },
    Group { name: "events.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "authentication.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "authorization.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "autoscaling", versions: &["v2", "v1"], preferred: "v2" },
    Group { name: "batch", versions: &["v1"], preferred: "v1" },
    Group { name: "certificates.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "networking.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "policy", versions: &["v1"], preferred: "v1" },
    Group { name: "rbac.authorization.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "storage.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "admissionregistration.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "apiextensions.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "scheduling.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "coordination.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "node.k8s.io", versions: &["v1"], preferred: "v1" },
    Group { name: "discovery.k8s.io", versions: &["v1"], preferred: "v1" },
];

// Verb lists as discovery spells them. Named once so that a typo cannot hide in one entry.
const CRUD: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
/// Namespaces cannot be deleted as a collection: each one has to go through finalization.
const CRUD_WITHOUT_COLLECTION: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const CREATE: &[&str] = &["create"];
const GET: &[&str] = &["get"];
const GET_LIST: &[&str] = &["get", "list"];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
const UPDATE: &[&str] = &["update"];
/// Streaming connections (attach, exec, port-forward) upgrade either a GET or a POST.
const CONNECT: &[&str] = &["create", "get"];
/// Proxies pass every HTTP method through, which discovery shows as these verbs.
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

const ALL: &[&str] = &["all"];
const API_EXTENSIONS: &[&str] = &["api-extensions"];

const fn sub(
    name: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
) -> Subresource {
    Subresource { name, group, version, kind, verbs }
}

/// The `status` subresource, which reads and writes the parent object itself.
const fn status(group: &'static str, version: &'static str, kind: &'static str) -> Subresource {
    sub("status", group, version, kind, GET_PATCH_UPDATE)
}

/// Every built-in `scale` subresource speaks autoscaling/v1 Scale, whatever its parent's group.
const SCALE: Subresource = sub("scale", "autoscaling", "v1", "Scale", GET_PATCH_UPDATE);

/// Every resource, grouped by group-version: the core group first, then the groups in [`GROUPS`]
/// order with each group's versions in priority order, and resources sorted by plural within a
/// group-version, which is the order discovery lists them in.
pub static RESOURCES: &[Resource] = &[
    // core/v1
    Resource {
        group: "",
        version: "v1",
        kind: "Binding",
        plural: "bindings",
        singular: "binding",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CREATE,
        subresources: &[],
        storage: "",
        storage_version: "",
        stored: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ComponentStatus",
        plural: "componentstatuses",
        singular: "componentstatus",
        namespaced: false,
        short_names: &["cs"],
        categories: &[],
        verbs: GET_LIST,
        subresources: &[],
        storage: "",
        storage_version: "",
        stored: false,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "configmaps",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        singular: "endpoints",
        namespaced: true,
        short_names: &["ep"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "services/endpoints",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "events",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        singular: "limitrange",
        namespaced: true,
        short_names: &["limits"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "limitranges",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        verbs: CRUD_WITHOUT_COLLECTION,
        subresources: &[sub("finalize", "", "v1", "Namespace", UPDATE), status("", "v1", "Namespace")],
        storage: "namespaces",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        verbs: CRUD,
        subresources: &[sub("proxy", "", "v1", "NodeProxyOptions", PROXY), status("", "v1", "Node")],
        storage: "minions",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        namespaced: true,
        short_names: &["pvc"],
        categories: &[],
        verbs: CRUD,
        subresources: &[status("", "v1", "PersistentVolumeClaim")],
        storage: "persistentvolumeclaims",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "PersistentVolume",
        plural: "persistentvolumes",
        singular: "persistentvolume",
        namespaced: false,
        short_names: &["pv"],
        categories: &[],
        verbs: CRUD,
        subresources: &[status("", "v1", "PersistentVolume")],
        storage: "persistentvolumes",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        short_names: &["po"],
        categories: ALL,
        verbs: CRUD,
        // `resize` is served because the InPlacePodVerticalScaling gate is beta and on in v1.33.
        subresources: &[
            sub("attach", "", "v1", "PodAttachOptions", CONNECT),
            sub("binding", "", "v1", "Binding", CREATE),
            sub("ephemeralcontainers", "", "v1", "Pod", GET_PATCH_UPDATE),
            sub("eviction", "policy", "v1", "Eviction", CREATE),
            sub("exec", "", "v1", "PodExecOptions", CONNECT),
            sub("log", "", "v1", "Pod", GET),
            sub("portforward", "", "v1", "PodPortForwardOptions", CONNECT),
            sub("proxy", "", "v1", "PodProxyOptions", PROXY),
            sub("resize", "", "v1", "Pod", GET_PATCH_UPDATE),
            status("", "v1", "Pod"),
        ],
        storage: "pods",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "PodTemplate",
        plural: "podtemplates",
        singular: "podtemplate",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "podtemplates",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ReplicationController",
        plural: "replicationcontrollers",
        singular: "replicationcontroller",
        namespaced: true,
        short_names: &["rc"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[SCALE, status("", "v1", "ReplicationController")],
        storage: "controllers",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        singular: "resourcequota",
        namespaced: true,
        short_names: &["quota"],
        categories: &[],
        verbs: CRUD,
        subresources: &[status("", "v1", "ResourceQuota")],
        storage: "resourcequotas",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "secrets",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        namespaced: true,
        short_names: &["sa"],
        categories: &[],
        verbs: CRUD,
        subresources: &[sub("token", "authentication.k8s.io", "v1", "TokenRequest", CREATE)],
        storage: "serviceaccounts",
        storage_version: "v1",
        stored: true,
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        namespaced: true,
        short_names: &["svc"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[sub("proxy", "", "v1", "ServiceProxyOptions", PROXY), status("", "v1", "Service")],
        storage: "services/specs",
        storage_version: "v1",
        stored: true,
    },
    // apps/v1
    Resource {
        group: "apps",
        version: "v1",
        kind: "ControllerRevision",
        plural: "controllerrevisions",
        singular: "controllerrevision",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "controllerrevisions",
        storage_version: "apps/v1",
        stored: true,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        singular: "daemonset",
        namespaced: true,
        short_names: &["ds"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status("apps", "v1", "DaemonSet")],
        storage: "daemonsets",
        storage_version: "apps/v1",
        stored: true,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[SCALE, status("apps", "v1", "Deployment")],
        storage: "deployments",
        storage_version: "apps/v1",
        stored: true,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        namespaced: true,
        short_names: &["rs"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[SCALE, status("apps", "v1", "ReplicaSet")],
        storage: "replicasets",
        storage_version: "apps/v1",
        stored: true,
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        singular: "statefulset",
        namespaced: true,
        short_names: &["sts"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[SCALE, status("apps", "v1", "StatefulSet")],
        storage: "statefulsets",
        storage_version: "apps/v1",
        stored: true,
    },
    // events.k8s.io/v1: the same objects as core/v1 events, kept in their core/v1 encoding.
    Resource {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "events",
        storage_version: "v1",
        stored: true,
    },
    // authentication.k8s.io/v1: reviews answer a question about the caller and keep nothing.
    Resource {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CREATE,
        subresources: &[],
        storage: "",
        storage_version: "",
        stored: false,
    },
    Resource {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        singular: "tokenreview",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CREATE,
        subresources: &[],
        storage: "",
        storage_version: "",
        stored: false,
    },
    // authorization.k8s.io/v1
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews",
        singular: "localsubjectaccessreview",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CREATE,
        subresources: &[],
        storage: "",
        storage_version: "",
        stored: false,
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CREATE,
        subresources: &[],
        storage: "",
        storage_version: "",
        stored: false,
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CREATE,
        subresources: &[],
        storage: "",
        storage_version: "",
        stored: false,
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CREATE,
        subresources: &[],
        storage: "",
        storage_version: "",
        stored: false,
    },
    // autoscaling/v2 and autoscaling/v1 serve the same objects, kept in their v2 encoding.
    Resource {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        namespaced: true,
        short_names: &["hpa"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status("autoscaling", "v2", "HorizontalPodAutoscaler")],
        storage: "horizontalpodautoscalers",
        storage_version: "autoscaling/v2",
        stored: true,
    },
    Resource {
        group: "autoscaling",
        version: "v1",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        namespaced: true,
        short_names: &["hpa"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status("autoscaling", "v1", "HorizontalPodAutoscaler")],
        storage: "horizontalpodautoscalers",
        storage_version: "autoscaling/v2",
        stored: true,
    },
    // batch/v1
    Resource {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        singular: "cronjob",
        namespaced: true,
        short_names: &["cj"],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status("batch", "v1", "CronJob")],
        storage: "cronjobs",
        storage_version: "batch/v1",
        stored: true,
    },
    Resource {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        singular: "job",
        namespaced: true,
        short_names: &[],
        categories: ALL,
        verbs: CRUD,
        subresources: &[status("batch", "v1", "Job")],
        storage: "jobs",
        storage_version: "batch/v1",
        stored: true,
    },
    // certificates.k8s.io/v1
    Resource {
        group: "certificates.k8s.io",
        version: "v1",
        kind: "CertificateSigningRequest",
        plural: "certificatesigningrequests",
        singular: "certificatesigningrequest",
        namespaced: false,
        short_names: &["csr"],
        categories: &[],
        verbs: CRUD,
        subresources: &[
            sub("approval", "certificates.k8s.io", "v1", "CertificateSigningRequest", GET_PATCH_UPDATE),
            status("certificates.k8s.io", "v1", "CertificateSigningRequest"),
        ],
        storage: "certificatesigningrequests",
        storage_version: "certificates.k8s.io/v1",
        stored: true,
    },
    // networking.k8s.io/v1: IPAddress and ServiceCIDR went GA in v1.33.
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IngressClass",
        plural: "ingressclasses",
        singular: "ingressclass",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "ingressclasses",
        storage_version: "networking.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        singular: "ingress",
        namespaced: true,
        short_names: &["ing"],
        categories: &[],
        verbs: CRUD,
        subresources: &[status("networking.k8s.io", "v1", "Ingress")],
        storage: "ingress",
        storage_version: "networking.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IPAddress",
        plural: "ipaddresses",
        singular: "ipaddress",
        namespaced: false,
        short_names: &["ip"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "ipaddresses",
        storage_version: "networking.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        singular: "networkpolicy",
        namespaced: true,
        short_names: &["netpol"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "networkpolicies",
        storage_version: "networking.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "ServiceCIDR",
        plural: "servicecidrs",
        singular: "servicecidr",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[status("networking.k8s.io", "v1", "ServiceCIDR")],
        storage: "servicecidrs",
        storage_version: "networking.k8s.io/v1",
        stored: true,
    },
    // policy/v1
    Resource {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        namespaced: true,
        short_names: &["pdb"],
        categories: &[],
        verbs: CRUD,
        subresources: &[status("policy", "v1", "PodDisruptionBudget")],
        storage: "poddisruptionbudgets",
        storage_version: "policy/v1",
        stored: true,
    },
    // rbac.authorization.k8s.io/v1
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "clusterrolebindings",
        storage_version: "rbac.authorization.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        singular: "clusterrole",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "clusterroles",
        storage_version: "rbac.authorization.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        singular: "rolebinding",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "rolebindings",
        storage_version: "rbac.authorization.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        singular: "role",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "roles",
        storage_version: "rbac.authorization.k8s.io/v1",
        stored: true,
    },
    // storage.k8s.io/v1: VolumeAttributesClass reaches v1 only in v1.34.
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIDriver",
        plural: "csidrivers",
        singular: "csidriver",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "csidrivers",
        storage_version: "storage.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSINode",
        plural: "csinodes",
        singular: "csinode",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "csinodes",
        storage_version: "storage.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIStorageCapacity",
        plural: "csistoragecapacities",
        singular: "csistoragecapacity",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "csistoragecapacities",
        storage_version: "storage.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "StorageClass",
        plural: "storageclasses",
        singular: "storageclass",
        namespaced: false,
        short_names: &["sc"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "storageclasses",
        storage_version: "storage.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "VolumeAttachment",
        plural: "volumeattachments",
        singular: "volumeattachment",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[status("storage.k8s.io", "v1", "VolumeAttachment")],
        storage: "volumeattachments",
        storage_version: "storage.k8s.io/v1",
        stored: true,
    },
    // admissionregistration.k8s.io/v1: MutatingAdmissionPolicy is still alpha in v1.33.
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingWebhookConfiguration",
        plural: "mutatingwebhookconfigurations",
        singular: "mutatingwebhookconfiguration",
        namespaced: false,
        short_names: &[],
        categories: API_EXTENSIONS,
        verbs: CRUD,
        subresources: &[],
        storage: "mutatingwebhookconfigurations",
        storage_version: "admissionregistration.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicy",
        plural: "validatingadmissionpolicies",
        singular: "validatingadmissionpolicy",
        namespaced: false,
        short_names: &[],
        categories: API_EXTENSIONS,
        verbs: CRUD,
        subresources: &[status("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy")],
        storage: "validatingadmissionpolicies",
        storage_version: "admissionregistration.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicyBinding",
        plural: "validatingadmissionpolicybindings",
        singular: "validatingadmissionpolicybinding",
        namespaced: false,
        short_names: &[],
        categories: API_EXTENSIONS,
        verbs: CRUD,
        subresources: &[],
        storage: "validatingadmissionpolicybindings",
        storage_version: "admissionregistration.k8s.io/v1",
        stored: true,
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingWebhookConfiguration",
        plural: "validatingwebhookconfigurations",
        singular: "validatingwebhookconfiguration",
        namespaced: false,
        short_names: &[],
        categories: API_EXTENSIONS,
        verbs: CRUD,
        subresources: &[],
        storage: "validatingwebhookconfigurations",
        storage_version: "admissionregistration.k8s.io/v1",
        stored: true,
    },
    // apiextensions.k8s.io/v1: its storage prefix carries the group because the
    // apiextensions server keeps its objects under its own group name.
    Resource {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        namespaced: false,
        short_names: &["crd", "crds"],
        categories: API_EXTENSIONS,
        verbs: CRUD,
        subresources: &[status("apiextensions.k8s.io", "v1", "CustomResourceDefinition")],
        storage: "apiextensions.k8s.io/customresourcedefinitions",
        storage_version: "apiextensions.k8s.io/v1",
        stored: true,
    },
    // scheduling.k8s.io/v1
    Resource {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        singular: "priorityclass",
        namespaced: false,
        short_names: &["pc"],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "priorityclasses",
        storage_version: "scheduling.k8s.io/v1",
        stored: true,
    },
    // coordination.k8s.io/v1: LeaseCandidate is beta and off by default in v1.33.
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "leases",
        storage_version: "coordination.k8s.io/v1",
        stored: true,
    },
    // node.k8s.io/v1
    Resource {
        group: "node.k8s.io",
        version: "v1",
        kind: "RuntimeClass",
        plural: "runtimeclasses",
        singular: "runtimeclass",
        namespaced: false,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "runtimeclasses",
        storage_version: "node.k8s.io/v1",
        stored: true,
    },
    // discovery.k8s.io/v1
    Resource {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        singular: "endpointslice",
        namespaced: true,
        short_names: &[],
        categories: &[],
        verbs: CRUD,
        subresources: &[],
        storage: "endpointslices",
        storage_version: "discovery.k8s.io/v1",
        stored: true,
    },
];

/// The resource served at this group, version and plural name.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource whose objects have this kind in this group-version. Subresource kinds such as
/// `Scale` or `PodExecOptions` are not resources and are not found.
pub fn by_kind(group: &str, version: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// The group with this name; the empty name is the core group.
pub fn group(name: &str) -> Option<&'static Group> {
    if name.is_empty() { Some(&CORE_GROUP) } else { GROUPS.iter().find(|g| g.name == name) }
}

/// The served versions of a group, preferred first; empty for a group that is not served.
pub fn versions_of(group_name: &str) -> &'static [&'static str] {
    group(group_name).map_or(&[], |g| g.versions)
}

/// The resources of one group-version in discovery order.
pub fn in_group_version<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES.iter().filter(move |r| r.group == group && r.version == version)
}

/// Every resource that lists this category, in every version that serves it (both versions of
/// horizontalpodautoscalers are in `all`); clients keep the preferred one.
pub fn in_category(category: &str) -> impl Iterator<Item = &'static Resource> + '_ {
    RESOURCES.iter().filter(move |r| r.categories.contains(&category))
}

/// The resource a short name stands for. When several resources list it (`ev`, `hpa`), the
/// first in discovery order wins, as it does in kubectl: the core group before the named
/// groups, and a group's preferred version before the others.
pub fn by_short_name(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.short_names.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    const KNOWN_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    fn api_version(r: &Resource) -> String {
        if r.group.is_empty() { r.version.to_string() } else { format!("{}/{}", r.group, r.version) }
    }

    fn id(r: &Resource) -> String {
        format!("{}/{}", api_version(r), r.plural)
    }

    /// Every group in discovery order: the core group, then `/apis`.
    fn all_groups() -> impl Iterator<Item = &'static Group> {
        std::iter::once(&CORE_GROUP).chain(GROUPS.iter())
    }

    #[test]
    fn resources_are_unique_by_group_version_and_plural() {
        let mut seen = BTreeSet::new();
        for r in RESOURCES {
            assert!(seen.insert((r.group, r.version, r.plural)), "{} is listed twice", id(r));
        }
    }

    #[test]
    fn resources_follow_discovery_order() {
        // Group-versions in the order discovery lists them; each must be one contiguous block.
        let order: Vec<(&str, &str)> =
            all_groups().flat_map(|g| g.versions.iter().map(move |v| (g.name, *v))).collect();
        let position = |r: &Resource| {
            order
                .iter()
                .position(|gv| *gv == (r.group, r.version))
                .unwrap_or_else(|| panic!("{} is in no served group-version", id(r)))
        };
        for pair in RESOURCES.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let (pa, pb) = (position(a), position(b));
            assert!(pa < pb || (pa == pb && a.plural < b.plural), "{} is listed before {}", id(a), id(b));
        }
    }

    #[test]
    fn every_served_group_version_has_resources_and_a_listed_preferred_version() {
        let mut names = BTreeSet::new();
        for g in all_groups() {
            assert!(names.insert(g.name), "group {:?} is listed twice", g.name);
            assert_eq!(
                g.versions.first(),
                Some(&g.preferred),
                "group {:?} must list its preferred version first",
                g.name
            );
            for v in g.versions {
                assert!(in_group_version(g.name, v).next().is_some(), "{:?}/{v} serves nothing", g.name);
            }
        }
        assert!(GROUPS.iter().all(|g| !g.name.is_empty()), "the core group belongs under /api, not /apis");
    }

    #[test]
    fn kinds_and_singular_names_are_unique_within_a_group_version() {
        let mut kinds = BTreeSet::new();
        let mut singulars = BTreeSet::new();
        for r in RESOURCES {
            assert!(kinds.insert((r.group, r.version, r.kind)), "kind {} repeats in {}", r.kind, api_version(r));
            assert!(singulars.insert((r.group, r.version, r.singular)), "singular of {} repeats", id(r));
            assert!(!r.singular.is_empty() && r.singular.chars().all(|c| c.is_ascii_lowercase()), "{}", id(r));
            assert!(r.plural.chars().all(|c| c.is_ascii_lowercase()), "{}", id(r));
        }
    }

    #[test]
    fn names_follow_the_kind() {
        // kube-apiserver derives built-in names from the kind the same way (singular is the
        // lower-cased kind; plural adds "es" after "s", "ies" for "y"), Endpoints excepted.
        for r in RESOURCES {
            let singular = r.kind.to_ascii_lowercase();
            let plural = if singular == "endpoints" {
                singular.clone()
            } else if let Some(stem) = singular.strip_suffix('y') {
                format!("{stem}ies")
            } else if singular.ends_with('s') {
                format!("{singular}es")
            } else {
                format!("{singular}s")
            };
            assert_eq!((r.singular, r.plural), (singular.as_str(), plural.as_str()), "{}", id(r));
        }
    }

    #[test]
    fn verbs_are_known_sorted_and_unique() {
        let check = |what: String, verbs: &[&str]| {
            assert!(!verbs.is_empty(), "{what} has no verbs");
            assert!(verbs.windows(2).all(|w| w[0] < w[1]), "{what}: verbs must be sorted and unique: {verbs:?}");
            assert!(verbs.iter().all(|v| KNOWN_VERBS.contains(v)), "{what}: unknown verb in {verbs:?}");
        };
        for r in RESOURCES {
            check(id(r), r.verbs);
            for s in r.subresources {
                check(format!("{}/{}", id(r), s.name), s.verbs);
            }
        }
    }

    #[test]
    fn subresources_are_sorted_and_point_at_served_kinds() {
        for r in RESOURCES {
            assert!(r.subresources.windows(2).all(|w| w[0].name < w[1].name), "{}: subresources out of order", id(r));
            for s in r.subresources {
                let what = format!("{}/{}", id(r), s.name);
                assert!(!s.kind.is_empty(), "{what} has no kind");
                if (s.group, s.version) == (r.group, r.version) {
                    continue;
                }
                // A subresource speaking another group-version's kind needs that group-version served.
                assert!(versions_of(s.group).contains(&s.version), "{what} speaks unserved {}/{}", s.group, s.version);
            }
            if let Some(s) = r.subresource("status") {
                assert_eq!((s.group, s.version, s.kind), (r.group, r.version, r.kind), "{}/status", id(r));
                assert_eq!(s.verbs, GET_PATCH_UPDATE, "{}/status", id(r));
            }
        }
    }

    #[test]
    fn scale_is_served_for_exactly_the_replicated_workloads() {
        let scaled: BTreeSet<String> = RESOURCES.iter().filter(|r| r.subresource("scale").is_some()).map(id).collect();
        let expected: BTreeSet<String> =
            ["v1/replicationcontrollers", "apps/v1/deployments", "apps/v1/replicasets", "apps/v1/statefulsets"]
                .map(String::from)
                .into();
        assert_eq!(scaled, expected);
        for r in RESOURCES.iter().filter_map(|r| r.subresource("scale")) {
            assert_eq!((r.group, r.version, r.kind), ("autoscaling", "v1", "Scale"));
        }
    }

    #[test]
    fn storage_is_set_exactly_for_stored_resources() {
        for r in RESOURCES {
            assert_eq!(r.stored, !r.storage.is_empty(), "{}: stored and storage disagree", id(r));
            assert_eq!(r.stored, !r.storage_version.is_empty(), "{}: stored and storage_version disagree", id(r));
            assert!(!r.storage.starts_with('/') && !r.storage.ends_with('/'), "{}: storage is a bare prefix", id(r));
            if !r.stored {
                // Nothing is kept, so there is nothing to change, delete or watch.
                for verb in ["delete", "deletecollection", "patch", "update", "watch"] {
                    assert!(!r.has_verb(verb), "{} is not stored but offers {verb}", id(r));
                }
                assert!(r.subresources.is_empty(), "{} is not stored but has subresources", id(r));
            }
        }
    }

    #[test]
    fn reviews_are_create_only_and_not_stored() {
        for group in ["authentication.k8s.io", "authorization.k8s.io"] {
            let reviews: Vec<_> = RESOURCES.iter().filter(|r| r.group == group).collect();
            assert!(!reviews.is_empty(), "{group} serves nothing");
            for r in reviews {
                assert_eq!(r.verbs, CREATE, "{}", id(r));
                assert!(!r.stored, "{}", id(r));
            }
        }
    }

    #[test]
    fn storage_is_shared_only_between_versions_of_the_same_objects() {
        let mut by_storage: BTreeMap<&str, Vec<&Resource>> = BTreeMap::new();
        for r in RESOURCES.iter().filter(|r| r.stored) {
            by_storage.entry(r.storage).or_default().push(r);
        }
        let shared: BTreeMap<&str, Vec<String>> = by_storage
            .iter()
            .filter(|(_, rs)| rs.len() > 1)
            .map(|(storage, rs)| (*storage, rs.iter().map(|r| id(r)).collect()))
            .collect();
        let expected: BTreeMap<&str, Vec<String>> = [
            ("events", vec!["v1/events".to_string(), "events.k8s.io/v1/events".to_string()]),
            (
                "horizontalpodautoscalers",
                vec![
                    "autoscaling/v2/horizontalpodautoscalers".to_string(),
                    "autoscaling/v1/horizontalpodautoscalers".to_string(),
                ],
            ),
        ]
        .into();
        assert_eq!(shared, expected);

        for (storage, rs) in &by_storage {
            let first = rs[0];
            for r in rs {
                // Clients see the same objects through each version, so each must name them alike.
                assert_eq!(r.kind, first.kind, "{storage}: sharers must hold one kind");
                assert_eq!((r.plural, r.singular), (first.plural, first.singular), "{storage}: sharers' names differ");
                assert_eq!(r.short_names, first.short_names, "{storage}: sharers' short names differ");
                assert_eq!(r.categories, first.categories, "{storage}: sharers' categories differ");
                assert_eq!(r.namespaced, first.namespaced, "{storage}: sharers must agree on scope");
                assert_eq!(r.storage_version, first.storage_version, "{storage}: sharers must store one encoding");
            }
            // Unshared objects are stored as they are served; shared ones in a version that serves them.
            let encodings: Vec<String> = rs.iter().map(|r| api_version(r)).collect();
            assert!(
                encodings.contains(&first.storage_version.to_string()),
                "{storage} is stored in an unserved version"
            );
        }
    }

    #[test]
    fn no_storage_prefix_contains_another() {
        // A list reads every key under `/registry/<storage>/`, so one prefix inside another
        // would leak objects of one resource into lists of the other.
        let prefixes: BTreeSet<&str> = RESOURCES.iter().filter(|r| r.stored).map(|r| r.storage).collect();
        for a in &prefixes {
            for b in &prefixes {
                assert!(!b.starts_with(&format!("{a}/")), "{b} lies inside {a}");
            }
        }
    }

    #[test]
    fn categories_hold_the_resources_kubectl_expects() {
        let members = |category: &str| -> BTreeSet<String> { in_category(category).map(id).collect() };
        let all: BTreeSet<String> = [
            "v1/pods",
            "v1/replicationcontrollers",
            "v1/services",
            "apps/v1/daemonsets",
            "apps/v1/deployments",
            "apps/v1/replicasets",
            "apps/v1/statefulsets",
            "autoscaling/v2/horizontalpodautoscalers",
            "autoscaling/v1/horizontalpodautoscalers",
            "batch/v1/cronjobs",
            "batch/v1/jobs",
        ]
        .map(String::from)
        .into();
        assert_eq!(members("all"), all);
        assert!(in_category("all").all(|r| r.namespaced), "`kubectl get all` lists one namespace");
        let extensions: BTreeSet<String> = [
            "admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            "admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            "admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
            "admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            "apiextensions.k8s.io/v1/customresourcedefinitions",
        ]
        .map(String::from)
        .into();
        assert_eq!(members("api-extensions"), extensions);
        for r in RESOURCES {
            assert!(r.categories.iter().all(|c| ["all", "api-extensions"].contains(c)), "{}", id(r));
        }
    }

    #[test]
    fn short_names_are_shared_only_by_the_same_objects() {
        let mut owners: BTreeMap<&str, Vec<&Resource>> = BTreeMap::new();
        for r in RESOURCES {
            for name in r.short_names {
                assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase()), "{}: {name:?}", id(r));
                owners.entry(name).or_default().push(r);
            }
        }
        for (name, rs) in owners {
            assert!(rs.iter().all(|r| r.storage == rs[0].storage), "short name {name} names different objects");
            // A short name must not also be another resource's plural or singular, or kubectl
            // would resolve it to that resource instead.
            for r in RESOURCES.iter().filter(|r| r.storage != rs[0].storage) {
                assert!(r.plural != name && r.singular != name, "short name {name} is also {}", id(r));
            }
        }
    }

    fn check(found: Option<&'static Resource>, expected: Option<&str>) {
        assert_eq!(found.map(id).as_deref(), expected);
    }

    #[test]
    fn lookups() {
        check(find("", "v1", "pods"), Some("v1/pods"));
        check(find("apps", "v1", "deployments"), Some("apps/v1/deployments"));
        check(find("autoscaling", "v1", "horizontalpodautoscalers"), Some("autoscaling/v1/horizontalpodautoscalers"));
        check(find("", "v1", "deployments"), None);
        check(find("apps", "v1beta1", "deployments"), None);
        check(find("", "v1", "pods/status"), None);
        check(by_kind("", "v1", "Binding"), Some("v1/bindings"));
        check(by_kind("networking.k8s.io", "v1", "IPAddress"), Some("networking.k8s.io/v1/ipaddresses"));
        check(by_kind("events.k8s.io", "v1", "Event"), Some("events.k8s.io/v1/events"));
        check(by_kind("autoscaling", "v1", "Scale"), None);
        check(by_short_name("po"), Some("v1/pods"));
        check(by_short_name("deploy"), Some("apps/v1/deployments"));
        check(by_short_name("crds"), Some("apiextensions.k8s.io/v1/customresourcedefinitions"));
        // kubectl resolves shared short names to the core group and to the preferred version.
        check(by_short_name("ev"), Some("v1/events"));
        check(by_short_name("hpa"), Some("autoscaling/v2/horizontalpodautoscalers"));
        check(by_short_name("pods"), None);

        assert_eq!(versions_of("autoscaling"), ["v2", "v1"]);
        assert_eq!(versions_of(""), ["v1"]);
        assert!(versions_of("resource.k8s.io").is_empty());
        assert_eq!(group("").map(|g| g.preferred), Some("v1"));
        assert_eq!(group("autoscaling").map(|g| g.preferred), Some("v2"));

        let pod = find("", "v1", "pods").unwrap();
        let eviction = pod.subresource("eviction").unwrap();
        assert_eq!((eviction.group, eviction.version, eviction.kind), ("policy", "v1", "Eviction"));
        assert!(pod.subresource("resize").is_some(), "v1.33 serves pods/resize");
        assert!(!find("", "v1", "namespaces").unwrap().has_verb("deletecollection"));
    }
}
