//! Server-side printing for `kubectl get`: the column definitions and per-object cells that
//! kube-apiserver v1.33 puts in a `meta.k8s.io/v1` Table (pkg/printers/internalversion/printers.go
//! and the helpers it calls), computed from objects held as `serde_json::Value`.
//!
//! Cells are always the wide form, as the real server's TableConvertor produces them; kubectl
//! itself drops priority-1 columns unless `-o wide`. This file does not build the Table envelope,
//! the row `object` and row `conditions`, nor custom-resource tables, whose columns come from the
//! CRD's additionalPrinterColumns.
//!
//! Objects come from users and may be malformed: a missing or wrongly typed field prints what a
//! zero Go struct would, never panics. Where upstream fills a field by defaulting on write (a
//! Service's type, a Deployment's replicas, ...), the printer assumes that default, so the table
//! matches a real cluster even for an object stored without it.

use serde_json::{Map, Value, json};

use crate::time;

/// One column of a Table, as `meta.k8s.io/v1` TableColumnDefinition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Header text; kubectl prints it upper-cased.
    pub name: &'static str,
    /// OpenAPI type of the cells: "string", "integer", "boolean", "date", ...
    pub type_: &'static str,
    /// OpenAPI format; "name" marks the column that holds the object's name.
    pub format: &'static str,
    /// Human-readable meaning, mostly the Go field's documentation.
    pub description: &'static str,
    /// 0 for columns kubectl always shows, 1 for those only `-o wide` shows.
    pub priority: i32,
}

/// The columns the server reports for a kind; `group` is "" for the core group. Kinds without a
/// printer upstream get the generic NAME and CREATED AT.
pub fn columns(group: &str, kind: &str) -> &'static [Column] {
    printer(group, kind).map_or(DEFAULT, |(columns, _)| columns)
}

/// The cells of one object's row, in the order of `columns(group, kind)`: strings, integers and
/// booleans exactly as upstream puts them in `TableRow.cells`. `now_unix` is the server's clock,
/// from which AGE and similar columns are computed.
pub fn cells(group: &str, kind: &str, obj: &Value, now_unix: i64) -> Vec<Value> {
    match printer(group, kind) {
        Some((_, print)) => print(obj, now_unix),
        None => default_cells(obj),
    }
}

/// Computes one row's cells from an object and the current Unix time.
type CellsFn = fn(&Value, i64) -> Vec<Value>;

/// The printer registered upstream for a group and kind, if any. Role, ClusterRole, LimitRange
/// and CustomResourceDefinition are absent on purpose: their storage uses the default convertor.
fn printer(group: &str, kind: &str) -> Option<(&'static [Column], CellsFn)> {
    let found: (&'static [Column], CellsFn) = match (group, kind) {
        ("", "Pod") => (POD, pod),
        ("", "PodTemplate") => (POD_TEMPLATE, pod_template),
        ("", "ReplicationController") => (REPLICATION_CONTROLLER, replication_controller),
        ("", "Service") => (SERVICE, service),
        ("", "Endpoints") => (ENDPOINTS, endpoints),
        ("", "Node") => (NODE, node),
        ("", "Event") => (EVENT, core_event),
        ("", "Namespace") => (NAMESPACE, namespace),
        ("", "Secret") => (SECRET, secret),
        ("", "ServiceAccount") => (SERVICE_ACCOUNT, service_account),
        ("", "PersistentVolume") => (PERSISTENT_VOLUME, persistent_volume),
        ("", "PersistentVolumeClaim") => (PERSISTENT_VOLUME_CLAIM, persistent_volume_claim),
        ("", "ComponentStatus") => (COMPONENT_STATUS, component_status),
        ("", "ConfigMap") => (CONFIG_MAP, config_map),
        ("", "ResourceQuota") => (RESOURCE_QUOTA, resource_quota),
        ("apps", "Deployment") => (DEPLOYMENT, deployment),
        ("apps", "ReplicaSet") => (REPLICA_SET, replica_set),
        ("apps", "StatefulSet") => (STATEFUL_SET, stateful_set),
        ("apps", "DaemonSet") => (DAEMON_SET, daemon_set),
        ("apps", "ControllerRevision") => (CONTROLLER_REVISION, controller_revision),
        ("batch", "Job") => (JOB, job),
        ("batch", "CronJob") => (CRON_JOB, cron_job),
        ("autoscaling", "HorizontalPodAutoscaler") => (HPA, horizontal_pod_autoscaler),
        ("policy", "PodDisruptionBudget") => (POD_DISRUPTION_BUDGET, pod_disruption_budget),
        ("networking.k8s.io", "Ingress") => (INGRESS, ingress),
        ("networking.k8s.io", "IngressClass") => (INGRESS_CLASS, ingress_class),
        ("networking.k8s.io", "NetworkPolicy") => (NETWORK_POLICY, network_policy),
        ("networking.k8s.io", "ServiceCIDR") => (SERVICE_CIDR, service_cidr),
        ("networking.k8s.io", "IPAddress") => (IP_ADDRESS, ip_address),
        ("discovery.k8s.io", "EndpointSlice") => (ENDPOINT_SLICE, endpoint_slice),
        // events.k8s.io shares storage and printer with core events, through a field mapping.
        ("events.k8s.io", "Event") => (EVENT, events_event),
        ("coordination.k8s.io", "Lease") => (LEASE, lease),
        ("coordination.k8s.io", "LeaseCandidate") => (LEASE_CANDIDATE, lease_candidate),
        ("storage.k8s.io", "StorageClass") => (STORAGE_CLASS, storage_class),
        ("storage.k8s.io", "VolumeAttributesClass") => (VOLUME_ATTRIBUTES_CLASS, volume_attributes_class),
        ("storage.k8s.io", "VolumeAttachment") => (VOLUME_ATTACHMENT, volume_attachment),
        ("storage.k8s.io", "CSINode") => (CSI_NODE, csi_node),
        ("storage.k8s.io", "CSIDriver") => (CSI_DRIVER, csi_driver),
        ("storage.k8s.io", "CSIStorageCapacity") => (CSI_STORAGE_CAPACITY, csi_storage_capacity),
        ("scheduling.k8s.io", "PriorityClass") => (PRIORITY_CLASS, priority_class),
        ("node.k8s.io", "RuntimeClass") => (RUNTIME_CLASS, runtime_class),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            (CERTIFICATE_SIGNING_REQUEST, certificate_signing_request)
        }
        ("certificates.k8s.io", "ClusterTrustBundle") => (CLUSTER_TRUST_BUNDLE, cluster_trust_bundle),
        ("rbac.authorization.k8s.io", "RoleBinding") => (ROLE_BINDING, role_binding),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => (CLUSTER_ROLE_BINDING, role_binding),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")
        | ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            (WEBHOOK_CONFIGURATION, webhook_configuration)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            (VALIDATING_ADMISSION_POLICY, validating_admission_policy)
        }
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy") => {
            (MUTATING_ADMISSION_POLICY, mutating_admission_policy)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding")
        | ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding") => {
            (ADMISSION_POLICY_BINDING, admission_policy_binding)
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => (FLOW_SCHEMA, flow_schema),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => {
            (PRIORITY_LEVEL_CONFIGURATION, priority_level_configuration)
        }
        _ => return None,
    };
    Some(found)
}

// ---------------------------------------------------------------------------------------------
// Column definitions, in upstream order. Names, types, formats and priorities are the server's;
// descriptions are the Go field documentation the server quotes, or its literal sentence.
// ---------------------------------------------------------------------------------------------

const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column { name, type_, format: "", description, priority: 0 }
}

const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column { name, type_, format: "", description, priority: 1 }
}

const NAME: Column =
    Column { name: "Name", type_: "string", format: "name", description: doc::OBJECT_META_NAME, priority: 0 };
const AGE: Column = col("Age", "string", doc::OBJECT_META_CREATION_TIMESTAMP);
const CONTAINERS_TEXT: &str = "Names of each container in the template.";
const IMAGES_TEXT: &str = "Images referenced by each container in the template.";
const WIDE_CONTAINERS: Column = wide("Containers", "string", CONTAINERS_TEXT);
const WIDE_IMAGES: Column = wide("Images", "string", IMAGES_TEXT);
const READY_PODS_TEXT: &str = "Number of the pod with ready state";

/// The generic table of k8s.io/apiserver's default TableConvertor.
const DEFAULT: &[Column] = &[NAME, col("Created At", "date", doc::OBJECT_META_CREATION_TIMESTAMP)];

const POD: &[Column] = &[
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide("IP", "string", doc::POD_STATUS_POD_IP),
    wide("Node", "string", doc::POD_SPEC_NODE_NAME),
    wide("Nominated Node", "string", doc::POD_STATUS_NOMINATED_NODE_NAME),
    wide("Readiness Gates", "string", doc::POD_SPEC_READINESS_GATES),
];

const POD_TEMPLATE: &[Column] = &[
    NAME,
    col("Containers", "string", CONTAINERS_TEXT),
    col("Images", "string", IMAGES_TEXT),
    col("Pod Labels", "string", "The labels for the pod template."),
];

const POD_DISRUPTION_BUDGET: &[Column] = &[
    NAME,
    col("Min Available", "string", "The minimum number of pods that must be available."),
    col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    AGE,
];

const REPLICATION_CONTROLLER: &[Column] = &[
    NAME,
    col("Desired", "integer", doc::REPLICATION_CONTROLLER_SPEC_REPLICAS),
    col("Current", "integer", doc::REPLICATION_CONTROLLER_STATUS_REPLICAS),
    col("Ready", "integer", doc::REPLICATION_CONTROLLER_STATUS_READY_REPLICAS),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    wide("Selector", "string", doc::REPLICATION_CONTROLLER_SPEC_SELECTOR),
];

const REPLICA_SET: &[Column] = &[
    NAME,
    col("Desired", "integer", doc::REPLICA_SET_SPEC_REPLICAS),
    col("Current", "integer", doc::REPLICA_SET_STATUS_REPLICAS),
    col("Ready", "integer", doc::REPLICA_SET_STATUS_READY_REPLICAS),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    wide("Selector", "string", doc::REPLICA_SET_SPEC_SELECTOR),
];

const DAEMON_SET: &[Column] = &[
    NAME,
    col("Desired", "integer", doc::DAEMON_SET_STATUS_DESIRED_NUMBER_SCHEDULED),
    col("Current", "integer", doc::DAEMON_SET_STATUS_CURRENT_NUMBER_SCHEDULED),
    col("Ready", "integer", doc::DAEMON_SET_STATUS_NUMBER_READY),
    col("Up-to-date", "integer", doc::DAEMON_SET_STATUS_UPDATED_NUMBER_SCHEDULED),
    col("Available", "integer", doc::DAEMON_SET_STATUS_NUMBER_AVAILABLE),
    col("Node Selector", "string", doc::POD_SPEC_NODE_SELECTOR),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    wide("Selector", "string", doc::DAEMON_SET_SPEC_SELECTOR),
];

const JOB: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", doc::JOB_STATUS_SUCCEEDED),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    wide("Selector", "string", doc::JOB_SPEC_SELECTOR),
];

const CRON_JOB: &[Column] = &[
    NAME,
    col("Schedule", "string", doc::CRON_JOB_SPEC_SCHEDULE),
    col("Timezone", "string", doc::CRON_JOB_SPEC_TIME_ZONE),
    col("Suspend", "boolean", doc::CRON_JOB_SPEC_SUSPEND),
    col("Active", "integer", doc::CRON_JOB_STATUS_ACTIVE),
    col("Last Schedule", "string", doc::CRON_JOB_STATUS_LAST_SCHEDULE_TIME),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    wide("Selector", "string", doc::JOB_SPEC_SELECTOR),
];

const SERVICE: &[Column] = &[
    NAME,
    col("Type", "string", doc::SERVICE_SPEC_TYPE),
    col("Cluster-IP", "string", doc::SERVICE_SPEC_CLUSTER_IP),
    col("External-IP", "string", doc::SERVICE_SPEC_EXTERNAL_IPS),
    col("Port(s)", "string", doc::SERVICE_SPEC_PORTS),
    AGE,
    wide("Selector", "string", doc::SERVICE_SPEC_SELECTOR),
];

const INGRESS: &[Column] = &[
    NAME,
    col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

const INGRESS_CLASS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller that is responsible for handling this class"),
    col("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
];

const STATEFUL_SET: &[Column] = &[NAME, col("Ready", "string", READY_PODS_TEXT), AGE, WIDE_CONTAINERS, WIDE_IMAGES];

const ENDPOINTS: &[Column] = &[NAME, col("Endpoints", "string", doc::ENDPOINTS_SUBSETS), AGE];

const NODE: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", doc::NODE_SYSTEM_INFO_KUBELET_VERSION),
    wide("Internal-IP", "string", doc::NODE_STATUS_ADDRESSES),
    wide("External-IP", "string", doc::NODE_STATUS_ADDRESSES),
    wide("OS-Image", "string", doc::NODE_SYSTEM_INFO_OS_IMAGE),
    wide("Kernel-Version", "string", doc::NODE_SYSTEM_INFO_KERNEL_VERSION),
    wide("Container-Runtime", "string", doc::NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION),
];

const EVENT: &[Column] = &[
    col("Last Seen", "string", doc::EVENT_LAST_TIMESTAMP),
    col("Type", "string", doc::EVENT_TYPE),
    col("Reason", "string", doc::EVENT_REASON),
    col("Object", "string", doc::EVENT_INVOLVED_OBJECT),
    wide("Subobject", "string", doc::OBJECT_REFERENCE_FIELD_PATH),
    wide("Source", "string", doc::EVENT_SOURCE),
    col("Message", "string", doc::EVENT_MESSAGE),
    wide("First Seen", "string", doc::EVENT_FIRST_TIMESTAMP),
    wide("Count", "string", doc::EVENT_COUNT),
    Column { priority: 1, ..NAME },
];

const NAMESPACE: &[Column] = &[NAME, col("Status", "string", "The status of the namespace"), AGE];

const SECRET: &[Column] =
    &[NAME, col("Type", "string", doc::SECRET_TYPE), col("Data", "string", doc::SECRET_DATA), AGE];

const SERVICE_ACCOUNT: &[Column] = &[NAME, col("Secrets", "string", doc::SERVICE_ACCOUNT_SECRETS), AGE];

const PERSISTENT_VOLUME: &[Column] = &[
    NAME,
    col("Capacity", "string", doc::PERSISTENT_VOLUME_SPEC_CAPACITY),
    col("Access Modes", "string", doc::PERSISTENT_VOLUME_SPEC_ACCESS_MODES),
    col("Reclaim Policy", "string", doc::PERSISTENT_VOLUME_SPEC_PERSISTENT_VOLUME_RECLAIM_POLICY),
    col("Status", "string", doc::PERSISTENT_VOLUME_STATUS_PHASE),
    col("Claim", "string", doc::PERSISTENT_VOLUME_SPEC_CLAIM_REF),
    col("StorageClass", "string", "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    col("Reason", "string", doc::PERSISTENT_VOLUME_STATUS_REASON),
    AGE,
    wide("VolumeMode", "string", doc::PERSISTENT_VOLUME_SPEC_VOLUME_MODE),
];

const PERSISTENT_VOLUME_CLAIM: &[Column] = &[
    NAME,
    col("Status", "string", doc::PERSISTENT_VOLUME_CLAIM_STATUS_PHASE),
    col("Volume", "string", doc::PERSISTENT_VOLUME_CLAIM_SPEC_VOLUME_NAME),
    col("Capacity", "string", doc::PERSISTENT_VOLUME_CLAIM_STATUS_CAPACITY),
    col("Access Modes", "string", doc::PERSISTENT_VOLUME_CLAIM_STATUS_ACCESS_MODES),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    wide("VolumeMode", "string", doc::PERSISTENT_VOLUME_CLAIM_SPEC_VOLUME_MODE),
];

const COMPONENT_STATUS: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the component conditions"),
    col("Message", "string", "Message of the component conditions"),
    col("Error", "string", "Error of the component conditions"),
];

const DEPLOYMENT: &[Column] = &[
    NAME,
    col("Ready", "string", READY_PODS_TEXT),
    col("Up-to-date", "string", doc::DEPLOYMENT_STATUS_UPDATED_REPLICAS),
    col("Available", "string", doc::DEPLOYMENT_STATUS_AVAILABLE_REPLICAS),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    wide("Selector", "string", doc::DEPLOYMENT_SPEC_SELECTOR),
];

const HPA: &[Column] = &[
    NAME,
    col("Reference", "string", doc::HORIZONTAL_POD_AUTOSCALER_SPEC_SCALE_TARGET_REF),
    col("Targets", "string", doc::HORIZONTAL_POD_AUTOSCALER_SPEC_METRICS),
    col("MinPods", "string", doc::HORIZONTAL_POD_AUTOSCALER_SPEC_MIN_REPLICAS),
    col("MaxPods", "string", doc::HORIZONTAL_POD_AUTOSCALER_SPEC_MAX_REPLICAS),
    col("Replicas", "string", doc::HORIZONTAL_POD_AUTOSCALER_STATUS_CURRENT_REPLICAS),
    AGE,
];

const CONFIG_MAP: &[Column] = &[NAME, col("Data", "string", doc::CONFIG_MAP_DATA), AGE];

const NETWORK_POLICY: &[Column] = &[NAME, col("Pod-Selector", "string", doc::NETWORK_POLICY_SPEC_POD_SELECTOR), AGE];

const ROLE_BINDING: &[Column] = &[
    NAME,
    col("Role", "string", doc::ROLE_BINDING_ROLE_REF),
    AGE,
    wide("Users", "string", "Users in the roleBinding"),
    wide("Groups", "string", "Groups in the roleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
];

const CLUSTER_ROLE_BINDING: &[Column] = &[
    NAME,
    col("Role", "string", doc::CLUSTER_ROLE_BINDING_ROLE_REF),
    AGE,
    wide("Users", "string", "Users in the clusterRoleBinding"),
    wide("Groups", "string", "Groups in the clusterRoleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
];

const CERTIFICATE_SIGNING_REQUEST: &[Column] = &[
    NAME,
    AGE,
    col("SignerName", "string", doc::CERTIFICATE_SIGNING_REQUEST_SPEC_SIGNER_NAME),
    col("Requestor", "string", doc::CERTIFICATE_SIGNING_REQUEST_SPEC_REQUEST),
    col("RequestedDuration", "string", doc::CERTIFICATE_SIGNING_REQUEST_SPEC_EXPIRATION_SECONDS),
    col("Condition", "string", doc::CERTIFICATE_SIGNING_REQUEST_STATUS_CONDITIONS),
];

const CLUSTER_TRUST_BUNDLE: &[Column] =
    &[NAME, col("SignerName", "string", doc::CLUSTER_TRUST_BUNDLE_SPEC_SIGNER_NAME)];

const LEASE: &[Column] = &[NAME, col("Holder", "string", doc::LEASE_SPEC_HOLDER_IDENTITY), AGE];

/// Upstream looks the two version columns up in ObjectMeta's documentation, which has no such
/// fields, so their descriptions are empty there too.
const LEASE_CANDIDATE: &[Column] = &[
    NAME,
    col("LeaseName", "string", doc::LEASE_CANDIDATE_SPEC_LEASE_NAME),
    col("BinaryVersion", "string", ""),
    col("EmulationVersion", "string", ""),
    AGE,
];

const STORAGE_CLASS: &[Column] = &[
    NAME,
    col("Provisioner", "string", doc::STORAGE_CLASS_PROVISIONER),
    col("ReclaimPolicy", "string", doc::STORAGE_CLASS_RECLAIM_POLICY),
    col("VolumeBindingMode", "string", doc::STORAGE_CLASS_VOLUME_BINDING_MODE),
    col("AllowVolumeExpansion", "string", doc::STORAGE_CLASS_ALLOW_VOLUME_EXPANSION),
    AGE,
];

const VOLUME_ATTRIBUTES_CLASS: &[Column] =
    &[NAME, col("DriverName", "string", doc::VOLUME_ATTRIBUTES_CLASS_DRIVER_NAME), AGE];

const CONTROLLER_REVISION: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col("Revision", "string", doc::CONTROLLER_REVISION_REVISION),
    AGE,
];

const RESOURCE_QUOTA: &[Column] = &[
    NAME,
    col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    col(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
    AGE,
];

/// PreemptionPolicy has priority 0 upstream even though only wide output fills it; the server
/// always prints wide, so kubectl shows it by default.
const PRIORITY_CLASS: &[Column] = &[
    NAME,
    col("Value", "integer", doc::PRIORITY_CLASS_VALUE),
    col("Global-Default", "boolean", doc::PRIORITY_CLASS_GLOBAL_DEFAULT),
    AGE,
    col("PreemptionPolicy", "string", doc::PRIORITY_CLASS_PREEMPTION_POLICY),
];

/// Upstream takes the Handler description from ObjectMeta's documentation, which has no such
/// field, so it is empty there too.
const RUNTIME_CLASS: &[Column] = &[NAME, col("Handler", "string", ""), AGE];

const VOLUME_ATTACHMENT: &[Column] = &[
    NAME,
    Column { format: "name", ..col("Attacher", "string", doc::VOLUME_ATTACHMENT_SPEC_ATTACHER) },
    col("PV", "string", doc::VOLUME_ATTACHMENT_SOURCE_PERSISTENT_VOLUME_NAME),
    col("Node", "string", doc::VOLUME_ATTACHMENT_SPEC_NODE_NAME),
    col("Attached", "boolean", doc::VOLUME_ATTACHMENT_STATUS_ATTACHED),
    AGE,
];

const ENDPOINT_SLICE: &[Column] = &[
    NAME,
    col("AddressType", "string", doc::ENDPOINT_SLICE_ADDRESS_TYPE),
    col("Ports", "string", doc::ENDPOINT_SLICE_PORTS),
    col("Endpoints", "string", doc::ENDPOINT_SLICE_ENDPOINTS),
    AGE,
];

const CSI_NODE: &[Column] =
    &[NAME, col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"), AGE];

const CSI_DRIVER: &[Column] = &[
    NAME,
    col("AttachRequired", "boolean", doc::CSI_DRIVER_SPEC_ATTACH_REQUIRED),
    col("PodInfoOnMount", "boolean", doc::CSI_DRIVER_SPEC_POD_INFO_ON_MOUNT),
    col("StorageCapacity", "boolean", doc::CSI_DRIVER_SPEC_STORAGE_CAPACITY),
    col("TokenRequests", "string", doc::CSI_DRIVER_SPEC_TOKEN_REQUESTS),
    col("RequiresRepublish", "boolean", doc::CSI_DRIVER_SPEC_REQUIRES_REPUBLISH),
    col("Modes", "string", doc::CSI_DRIVER_SPEC_VOLUME_LIFECYCLE_MODES),
    AGE,
];

const CSI_STORAGE_CAPACITY: &[Column] = &[
    NAME,
    col("StorageClassName", "string", doc::CSI_STORAGE_CAPACITY_STORAGE_CLASS_NAME),
    col("Capacity", "string", doc::CSI_STORAGE_CAPACITY_CAPACITY),
];

const WEBHOOK_CONFIGURATION: &[Column] = &[
    NAME,
    col("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
    AGE,
];

const PARAM_KIND_TEXT: &str = "ParamKind specifies the kind of resources used to parameterize this policy";

const VALIDATING_ADMISSION_POLICY: &[Column] = &[
    NAME,
    col("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration"),
    col("ParamKind", "string", PARAM_KIND_TEXT),
    AGE,
];

const MUTATING_ADMISSION_POLICY: &[Column] = &[
    NAME,
    col("Mutations", "integer", "Mutation indicates the number of mutations rules defined in this configuration"),
    col("ParamKind", "string", PARAM_KIND_TEXT),
    AGE,
];

/// The misspellings are upstream's and are kept because clients may show descriptions.
const ADMISSION_POLICY_BINDING: &[Column] = &[
    NAME,
    col("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to"),
    col("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
    AGE,
];

const FLOW_SCHEMA: &[Column] = &[
    NAME,
    col("PriorityLevel", "string", doc::PRIORITY_LEVEL_CONFIGURATION_REFERENCE_NAME),
    col("MatchingPrecedence", "string", doc::FLOW_SCHEMA_SPEC_MATCHING_PRECEDENCE),
    col("DistinguisherMethod", "string", doc::FLOW_SCHEMA_SPEC_DISTINGUISHER_METHOD),
    AGE,
    col("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
];

const PRIORITY_LEVEL_CONFIGURATION: &[Column] = &[
    NAME,
    col("Type", "string", doc::PRIORITY_LEVEL_CONFIGURATION_SPEC_TYPE),
    col("NominalConcurrencyShares", "string", doc::LIMITED_PRIORITY_LEVEL_CONFIGURATION_NOMINAL_CONCURRENCY_SHARES),
    col("Queues", "string", doc::QUEUING_CONFIGURATION_QUEUES),
    col("HandSize", "string", doc::QUEUING_CONFIGURATION_HAND_SIZE),
    col("QueueLengthLimit", "string", doc::QUEUING_CONFIGURATION_QUEUE_LENGTH_LIMIT),
    AGE,
];

const SERVICE_CIDR: &[Column] = &[NAME, col("CIDRs", "string", doc::SERVICE_CIDR_SPEC_CIDRS), AGE];

/// Upstream declares two columns for IPAddress but fills three cells (the age is extra);
/// `ip_address` reproduces that, and kubectl ignores the surplus cell.
const IP_ADDRESS: &[Column] = &[NAME, col("ParentRef", "string", doc::IP_ADDRESS_SPEC_PARENT_REF)];

// ---------------------------------------------------------------------------------------------
// Cells, one function per kind.
// ---------------------------------------------------------------------------------------------

/// NAME and CREATED AT: the creation time as RFC 3339 in UTC, Go's zero time when unset.
fn default_cells(obj: &Value) -> Vec<Value> {
    let created = timestamp(field(obj, &["metadata", "creationTimestamp"])).map_or(time::ZERO_TIME_UNIX, |nanos| {
        i64::try_from(nanos.div_euclid(NANOS_PER_SEC)).unwrap_or(time::ZERO_TIME_UNIX)
    });
    vec![name(obj), Value::from(time::format_rfc3339(created))]
}

fn pod(pod: &Value, now: i64) -> Vec<Value> {
    let status = field(pod, &["status"]);
    let init_specs = list(pod, &["spec", "initContainers"]);
    // Init containers with restartPolicy Always are sidecars: they keep running, so they count
    // toward READY and RESTARTS like regular containers.
    let sidecars: Vec<&str> =
        init_specs.iter().filter(|c| text(c, &["restartPolicy"]) == "Always").map(|c| text(c, &["name"])).collect();
    let total = list(pod, &["spec", "containers"]).len() + sidecars.len();
    let phase = or_default(text(status, &["phase"]), "Pending");
    let mut reason = or_default(text(status, &["reason"]), phase).to_string();
    for condition in list(status, &["conditions"]) {
        if text(condition, &["type"]) == "PodScheduled" && text(condition, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }

    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut last_restart = None;
    let mut sidecar_restarts = 0i64;
    let mut sidecar_last_restart = None;
    let mut initializing = false;
    for (index, container) in list(status, &["initContainerStatuses"]).iter().enumerate() {
        let count = int(container, &["restartCount"]);
        let finished = timestamp(field(container, &["lastState", "terminated", "finishedAt"]));
        restarts = restarts.saturating_add(count);
        keep_latest(&mut last_restart, finished);
        let is_sidecar = sidecars.contains(&text(container, &["name"]));
        if is_sidecar {
            sidecar_restarts = sidecar_restarts.saturating_add(count);
            keep_latest(&mut sidecar_last_restart, finished);
        }
        let terminated = object(container, &["state", "terminated"]);
        let waiting_reason = object(container, &["state", "waiting"]).map(|w| text(w, &["reason"]));
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if is_sidecar && flag(container, &["started"]) == Some(true) {
            if flag(container, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = match (terminated, waiting_reason) {
            (Some(terminated), _) => termination_reason(terminated, "Init:"),
            (None, Some(waiting)) if !waiting.is_empty() && waiting != "PodInitializing" => {
                format!("Init:{waiting}")
            }
            _ => format!("Init:{index}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }

    if !initializing || condition_is_true(status, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        // Upstream walks the statuses backwards, so the first container's state wins.
        for container in list(status, &["containerStatuses"]).iter().rev() {
            restarts = restarts.saturating_add(int(container, &["restartCount"]));
            keep_latest(&mut last_restart, timestamp(field(container, &["lastState", "terminated", "finishedAt"])));
            let waiting_reason = object(container, &["state", "waiting"]).map_or("", |w| text(w, &["reason"]));
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(terminated) = object(container, &["state", "terminated"]) {
                reason = termination_reason(terminated, "");
            } else if flag(container, &["ready"]) == Some(true) && object(container, &["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // A finished container next to a running one does not make the pod "Completed".
        if reason == "Completed" && has_running {
            reason = if condition_is_true_anywhere(status, "Ready") { "Running" } else { "NotReady" }.to_string();
        }
    }

    let deleting = is_set(pod, &["metadata", "deletionTimestamp"]);
    if deleting && text(status, &["reason"]) == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_text = match last_restart {
        Some(at) if restarts != 0 => format!("{restarts} ({} ago)", since_nanos(at, now)),
        _ => restarts.to_string(),
    };

    let pod_ip = list(status, &["podIPs"]).first().map_or("", |ip| text(ip, &["ip"]));
    let gates = list(pod, &["spec", "readinessGates"]);
    let gates_text = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = list(status, &["conditions"]);
        let passed = gates
            .iter()
            .filter(|gate| {
                let wanted = text(gate, &["conditionType"]);
                conditions.iter().find(|c| text(c, &["type"]) == wanted).is_some_and(|c| text(c, &["status"]) == "True")
            })
            .count();
        format!("{passed}/{}", gates.len())
    };

    vec![
        name(pod),
        Value::from(format!("{ready}/{total}")),
        Value::from(reason),
        Value::from(restarts_text),
        age(pod, now),
        Value::from(or_default(pod_ip, "<none>")),
        Value::from(or_default(text(pod, &["spec", "nodeName"]), "<none>")),
        Value::from(or_default(text(status, &["nominatedNodeName"]), "<none>")),
        Value::from(gates_text),
    ]
}

/// The STATUS text for a terminated container: its reason, else its signal or exit code.
fn termination_reason(terminated: &Value, prefix: &str) -> String {
    let reason = text(terminated, &["reason"]);
    let signal = int(terminated, &["signal"]);
    if !reason.is_empty() {
        format!("{prefix}{reason}")
    } else if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", int(terminated, &["exitCode"]))
    }
}

/// Whether the first pod condition of this type is True, as `isPodInitializedConditionTrue`.
fn condition_is_true(status: &Value, kind: &str) -> bool {
    list(status, &["conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == kind)
        .is_some_and(|c| text(c, &["status"]) == "True")
}

/// Whether any pod condition of this type is True, as `hasPodReadyCondition`.
fn condition_is_true_anywhere(status: &Value, kind: &str) -> bool {
    list(status, &["conditions"]).iter().any(|c| text(c, &["type"]) == kind && text(c, &["status"]) == "True")
}

fn keep_latest(latest: &mut Option<i128>, candidate: Option<i128>) {
    if let Some(candidate) = candidate
        && latest.is_none_or(|current| current < candidate)
    {
        *latest = Some(candidate);
    }
}

fn pod_template(obj: &Value, _now: i64) -> Vec<Value> {
    let (names, images) = container_cells(list(obj, &["template", "spec", "containers"]));
    vec![name(obj), names, images, Value::from(format_labels(map(obj, &["template", "metadata", "labels"])))]
}

fn pod_disruption_budget(obj: &Value, now: i64) -> Vec<Value> {
    let bound = |key: &str| int_or_string(field(obj, &["spec", key])).unwrap_or_else(|| "N/A".into());
    vec![
        name(obj),
        Value::from(bound("minAvailable")),
        Value::from(bound("maxUnavailable")),
        Value::from(int(obj, &["status", "disruptionsAllowed"])),
        age(obj, now),
    ]
}

fn replication_controller(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(list(obj, &["spec", "template", "spec", "containers"]));
    vec![
        name(obj),
        Value::from(replicas(obj)),
        Value::from(int(obj, &["status", "replicas"])),
        Value::from(int(obj, &["status", "readyReplicas"])),
        age(obj, now),
        names,
        images,
        Value::from(format_labels(map(obj, &["spec", "selector"]))),
    ]
}

fn replica_set(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(list(obj, &["spec", "template", "spec", "containers"]));
    vec![
        name(obj),
        Value::from(replicas(obj)),
        Value::from(int(obj, &["status", "replicas"])),
        Value::from(int(obj, &["status", "readyReplicas"])),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(field(obj, &["spec", "selector"]))),
    ]
}

fn daemon_set(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(list(obj, &["spec", "template", "spec", "containers"]));
    let count = |key: &str| Value::from(int(obj, &["status", key]));
    vec![
        name(obj),
        count("desiredNumberScheduled"),
        count("currentNumberScheduled"),
        count("numberReady"),
        count("updatedNumberScheduled"),
        count("numberAvailable"),
        Value::from(format_labels(map(obj, &["spec", "template", "spec", "nodeSelector"]))),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(field(obj, &["spec", "selector"]))),
    ]
}

fn deployment(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(list(obj, &["spec", "template", "spec", "containers"]));
    // Unlike most printers, Deployment prints the raw selector: empty for none, "<invalid>".
    let selector = selector_text(field(obj, &["spec", "selector"])).unwrap_or_else(|_| "<invalid>".to_string());
    vec![
        name(obj),
        Value::from(format!("{}/{}", int(obj, &["status", "readyReplicas"]), replicas(obj))),
        Value::from(int(obj, &["status", "updatedReplicas"])),
        Value::from(int(obj, &["status", "availableReplicas"])),
        age(obj, now),
        names,
        images,
        Value::from(selector),
    ]
}

fn stateful_set(obj: &Value, now: i64) -> Vec<Value> {
    let (names, images) = container_cells(list(obj, &["spec", "template", "spec", "containers"]));
    vec![
        name(obj),
        Value::from(format!("{}/{}", int(obj, &["status", "readyReplicas"]), replicas(obj))),
        age(obj, now),
        names,
        images,
    ]
}

/// `spec.replicas`, which every workload API defaults to 1 when it is left out.
fn replicas(obj: &Value) -> i64 {
    opt_int(obj, &["spec", "replicas"]).unwrap_or(1)
}

fn controller_revision(obj: &Value, now: i64) -> Vec<Value> {
    let owner = list(obj, &["metadata", "ownerReferences"]).iter().find(|r| flag(r, &["controller"]) == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(owner) => {
            let kind = text(owner, &["kind"]);
            let owner_name = text(owner, &["name"]);
            let api_version = text(owner, &["apiVersion"]);
            // Like schema.ParseGroupVersion: "v1" has no group, "apps/v1" has one, more slashes
            // are invalid (upstream fails the whole table; the bare name is shown instead).
            let group = match api_version.matches('/').count() {
                0 => Some(""),
                1 => api_version.split('/').next(),
                _ => None,
            };
            match group {
                None => owner_name.to_string(),
                Some("") if kind.is_empty() => owner_name.to_string(),
                Some("") => format!("{}/{owner_name}", kind.to_lowercase()),
                Some(group) => format!("{}.{}/{owner_name}", kind.to_lowercase(), group.to_lowercase()),
            }
        }
    };
    vec![name(obj), Value::from(controller), Value::from(int(obj, &["revision"])), age(obj, now)]
}

fn job(obj: &Value, now: i64) -> Vec<Value> {
    let succeeded = int(obj, &["status", "succeeded"]);
    let completions = match opt_int(obj, &["spec", "completions"]) {
        Some(wanted) => format!("{succeeded}/{wanted}"),
        None => match opt_int(obj, &["spec", "parallelism"]).unwrap_or(0) {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = timestamp(field(obj, &["status", "startTime"]));
    let end = timestamp(field(obj, &["status", "completionTime"]));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(start), None) => since_nanos(start, now),
        (Some(start), Some(end)) => time::human_duration(time::seconds_between(start, end)),
    };
    let conditions = list(obj, &["status", "conditions"]);
    let has = |kind: &str| {
        conditions.iter().find(|c| text(c, &["type"]) == kind).is_some_and(|c| text(c, &["status"]) == "True")
    };
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if is_set(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = container_cells(list(obj, &["spec", "template", "spec", "containers"]));
    vec![
        name(obj),
        Value::from(status),
        Value::from(completions),
        Value::from(duration),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(field(obj, &["spec", "selector"]))),
    ]
}

fn cron_job(obj: &Value, now: i64) -> Vec<Value> {
    let last_schedule = match field(obj, &["status", "lastScheduleTime"]) {
        Value::Null => "<none>".to_string(),
        scheduled => since(scheduled, now),
    };
    // batch/v1 defaults suspend to false, so "<unset>" never reaches a real table.
    let suspend = if flag(obj, &["spec", "suspend"]) == Some(true) { "True" } else { "False" };
    let template = field(obj, &["spec", "jobTemplate", "spec"]);
    let (names, images) = container_cells(list(template, &["template", "spec", "containers"]));
    vec![
        name(obj),
        Value::from(text(obj, &["spec", "schedule"])),
        Value::from(match field(obj, &["spec", "timeZone"]) {
            Value::String(zone) => zone.as_str(),
            _ => "<none>",
        }),
        Value::from(suspend),
        Value::from(list(obj, &["status", "active"]).len()),
        Value::from(last_schedule),
        age(obj, now),
        names,
        images,
        Value::from(format_label_selector(field(template, &["selector"]))),
    ]
}

fn service(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    let kind = or_default(text(spec, &["type"]), "ClusterIP");
    // Upstream reads clusterIPs, which the server fills from clusterIP on write.
    let cluster_ip = match list(spec, &["clusterIPs"]).first() {
        Some(first) => first.as_str().unwrap_or("").to_string(),
        None => or_default(text(spec, &["clusterIP"]), "<none>").to_string(),
    };
    let external_ips: Vec<&str> = strings(spec, &["externalIPs"]);
    let external = match kind {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let balancers = load_balancer_addresses(field(obj, &["status", "loadBalancer"]));
            match (balancers.is_empty(), external_ips.is_empty()) {
                (true, true) => "<pending>".to_string(),
                (false, true) => balancers.join(","),
                _ => balancers.iter().copied().chain(external_ips).collect::<Vec<_>>().join(","),
            }
        }
        "ExternalName" => text(spec, &["externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = list(spec, &["ports"])
        .iter()
        .map(|port| {
            let number = int(port, &["port"]);
            let protocol = or_default(text(port, &["protocol"]), "TCP");
            match int(port, &["nodePort"]) {
                node_port if node_port > 0 => format!("{number}:{node_port}/{protocol}"),
                _ => format!("{number}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_string() } else { ports.join(",") };
    vec![
        name(obj),
        Value::from(kind),
        Value::from(cluster_ip),
        Value::from(external),
        Value::from(ports),
        age(obj, now),
        Value::from(format_labels(map(spec, &["selector"]))),
    ]
}

/// The distinct IPs (or hostnames, for entries without an IP) of a load balancer, sorted. The
/// server prints wide, so the 16-character clipping of narrow output never applies.
fn load_balancer_addresses(status: &Value) -> Vec<&str> {
    let mut addresses: Vec<&str> = list(status, &["ingress"])
        .iter()
        .map(|entry| match text(entry, &["ip"]) {
            "" => text(entry, &["hostname"]),
            ip => ip,
        })
        .filter(|address| !address.is_empty())
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    addresses
}

fn endpoints(obj: &Value, now: i64) -> Vec<Value> {
    vec![name(obj), Value::from(format_endpoints(list(obj, &["subsets"]))), age(obj, now)]
}

/// Up to three `ip:port` pairs, then how many more there are.
fn format_endpoints(subsets: &[Value]) -> String {
    const MAX: usize = 3;
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut shown: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for subset in subsets {
        let addresses = list(subset, &["addresses"]);
        let ports = list(subset, &["ports"]);
        // Headless services may have no ports; their addresses print bare.
        if ports.is_empty() {
            count += addresses.len();
            for address in addresses {
                if shown.len() == MAX {
                    more = true;
                    break;
                }
                shown.push(text(address, &["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for address in addresses {
                if shown.len() == MAX {
                    more = true;
                    break;
                }
                shown.push(join_host_port(text(address, &["ip"]), int(port, &["port"])));
            }
        }
    }
    let joined = shown.join(",");
    if more { format!("{joined} + {} more...", count.saturating_sub(MAX)) } else { joined }
}

/// Go's net.JoinHostPort: IPv6 hosts get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn endpoint_slice(obj: &Value, now: i64) -> Vec<Value> {
    let ports = list(obj, &["ports"]).iter().map(|port| match field(port, &["port"]) {
        Value::Number(number) => number.to_string(),
        _ => match field(port, &["name"]) {
            Value::String(port_name) => port_name.clone(),
            _ => "*".to_string(),
        },
    });
    let addresses =
        list(obj, &["endpoints"]).iter().flat_map(|endpoint| strings(endpoint, &["addresses"])).map(str::to_string);
    vec![
        name(obj),
        Value::from(text(obj, &["addressType"])),
        Value::from(list_with_more(ports)),
        Value::from(list_with_more(addresses)),
        age(obj, now),
    ]
}

/// Up to three items joined with commas, then how many more; `<unset>` for none.
fn list_with_more(items: impl Iterator<Item = String>) -> String {
    const MAX: usize = 3;
    let mut shown = Vec::new();
    let mut count = 0usize;
    for item in items {
        if shown.len() < MAX {
            shown.push(item);
        }
        count += 1;
    }
    let joined = shown.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

fn node(obj: &Value, now: i64) -> Vec<Value> {
    let status = field(obj, &["status"]);
    // Upstream indexes conditions by type, so the last Ready condition wins.
    let ready = list(status, &["conditions"]).iter().rev().find(|c| text(c, &["type"]) == "Ready");
    let mut state = match ready {
        Some(c) if text(c, &["status"]) == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if flag(obj, &["spec", "unschedulable"]) == Some(true) {
        state.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<&str> = map(obj, &["metadata", "labels"])
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                (!role.is_empty()).then_some(role)
            } else if key == "kubernetes.io/role" {
                value.as_str().filter(|role| !role.is_empty())
            } else {
                None
            }
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    let roles = if roles.is_empty() { "<none>".to_string() } else { roles.join(",") };
    let address = |kind: &str| {
        list(status, &["addresses"])
            .iter()
            .find(|a| text(a, &["type"]) == kind)
            .map_or("<none>", |a| text(a, &["address"]))
    };
    let info = |key: &str| or_default(text(status, &["nodeInfo", key]), "<unknown>");
    vec![
        name(obj),
        Value::from(state),
        Value::from(roles),
        age(obj, now),
        Value::from(text(status, &["nodeInfo", "kubeletVersion"])),
        Value::from(address("InternalIP")),
        Value::from(address("ExternalIP")),
        Value::from(info("osImage")),
        Value::from(info("kernelVersion")),
        Value::from(info("containerRuntimeVersion")),
    ]
}

/// Where the fields the event printer reads live in a given API version of Event.
struct EventFields {
    involved_object: &'static str,
    message: &'static str,
    source: &'static str,
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
}

fn core_event(obj: &Value, now: i64) -> Vec<Value> {
    event(
        obj,
        now,
        &EventFields {
            involved_object: "involvedObject",
            message: "message",
            source: "source",
            first_timestamp: "firstTimestamp",
            last_timestamp: "lastTimestamp",
            count: "count",
        },
    )
}

/// events.k8s.io/v1 names the core fields differently; upstream converts to the internal core
/// Event before printing, and this mapping is that conversion.
fn events_event(obj: &Value, now: i64) -> Vec<Value> {
    event(
        obj,
        now,
        &EventFields {
            involved_object: "regarding",
            message: "note",
            source: "deprecatedSource",
            first_timestamp: "deprecatedFirstTimestamp",
            last_timestamp: "deprecatedLastTimestamp",
            count: "deprecatedCount",
        },
    )
}

fn event(obj: &Value, now: i64, fields: &EventFields) -> Vec<Value> {
    let first_seen = match timestamp(field(obj, &[fields.first_timestamp])) {
        Some(first) => since_nanos(first, now),
        None => since(field(obj, &["eventTime"]), now),
    };
    let mut last_seen = match timestamp(field(obj, &[fields.last_timestamp])) {
        Some(last) => since_nanos(last, now),
        None => first_seen.clone(),
    };
    let mut count = int(obj, &[fields.count]);
    if let Some(series) = object(obj, &["series"]) {
        last_seen = since(field(series, &["lastObservedTime"]), now);
        count = int(series, &["count"]);
    } else if count == 0 {
        // Events from the new API are singletons without a count.
        count = 1;
    }
    let involved = field(obj, &[fields.involved_object]);
    let kind = text(involved, &["kind"]).to_lowercase();
    let target = match text(involved, &["name"]) {
        "" => kind,
        involved_name => format!("{kind}/{involved_name}"),
    };
    let source = field(obj, &[fields.source]);
    let component = or_default(text(source, &["component"]), text(obj, &["reportingController"]));
    let host = or_default(text(source, &["host"]), text(obj, &["reportingInstance"]));
    let source = if host.is_empty() { component.to_string() } else { format!("{component}, {host}") };
    vec![
        Value::from(last_seen),
        Value::from(text(obj, &["type"])),
        Value::from(text(obj, &["reason"])),
        Value::from(target),
        Value::from(text(involved, &["fieldPath"])),
        Value::from(source),
        Value::from(text(obj, &[fields.message]).trim()),
        Value::from(first_seen),
        Value::from(count),
        name(obj),
    ]
}

fn namespace(obj: &Value, now: i64) -> Vec<Value> {
    // The namespace strategy sets phase Active on create.
    let phase = or_default(text(obj, &["status", "phase"]), "Active");
    vec![name(obj), Value::from(phase), age(obj, now)]
}

fn secret(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(or_default(text(obj, &["type"]), "Opaque")),
        Value::from(map_len(obj, &["data"])),
        age(obj, now),
    ]
}

fn service_account(obj: &Value, now: i64) -> Vec<Value> {
    vec![name(obj), Value::from(list(obj, &["secrets"]).len()), age(obj, now)]
}

fn config_map(obj: &Value, now: i64) -> Vec<Value> {
    let entries = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
    vec![name(obj), Value::from(entries), age(obj, now)]
}

fn persistent_volume(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    let claim = match object(spec, &["claimRef"]) {
        Some(claim) => format!("{}/{}", text(claim, &["namespace"]), text(claim, &["name"])),
        None => String::new(),
    };
    let phase = if is_set(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else {
        or_default(text(obj, &["status", "phase"]), "Pending")
    };
    let class = match field(obj, &["metadata", "annotations", BETA_STORAGE_CLASS]) {
        Value::String(class) => class.as_str(),
        _ => text(spec, &["storageClassName"]),
    };
    vec![
        name(obj),
        Value::from(quantity(field(spec, &["capacity", "storage"]))),
        Value::from(access_modes(spec)),
        Value::from(or_default(text(spec, &["persistentVolumeReclaimPolicy"]), "Retain")),
        Value::from(phase),
        Value::from(claim),
        Value::from(class),
        Value::from(optional_text(spec, &["volumeAttributesClassName"])),
        Value::from(text(obj, &["status", "reason"])),
        age(obj, now),
        Value::from(or_default(text(spec, &["volumeMode"]), "Filesystem")),
    ]
}

fn persistent_volume_claim(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    let status = field(obj, &["status"]);
    let phase = if is_set(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else {
        or_default(text(status, &["phase"]), "Pending")
    };
    let volume = text(spec, &["volumeName"]);
    // Capacity and access modes describe the bound volume, so an unbound claim shows neither.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (quantity(field(status, &["capacity", "storage"])), access_modes(status))
    };
    let class = match field(obj, &["metadata", "annotations", BETA_STORAGE_CLASS]) {
        Value::String(class) => class.as_str(),
        _ => text(spec, &["storageClassName"]),
    };
    vec![
        name(obj),
        Value::from(phase),
        Value::from(volume),
        Value::from(capacity),
        Value::from(modes),
        Value::from(class),
        Value::from(optional_text(spec, &["volumeAttributesClassName"])),
        age(obj, now),
        Value::from(or_default(text(spec, &["volumeMode"]), "Filesystem")),
    ]
}

/// The storage class annotation that takes precedence over `storageClassName`.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// Access modes in the fixed order RWO, ROX, RWX, RWOP, each at most once.
fn access_modes(holder: &Value) -> String {
    let present = strings(holder, &["accessModes"]);
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| present.contains(mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

fn component_status(obj: &Value, _now: i64) -> Vec<Value> {
    let healthy = list(obj, &["conditions"]).iter().find(|c| text(c, &["type"]) == "Healthy");
    let (state, message, error) = match healthy {
        Some(c) => (
            if text(c, &["status"]) == "True" { "Healthy" } else { "Unhealthy" },
            text(c, &["message"]),
            text(c, &["error"]),
        ),
        None => ("Unknown", "", ""),
    };
    vec![name(obj), Value::from(state), Value::from(message), Value::from(error)]
}

fn resource_quota(obj: &Value, now: i64) -> Vec<Value> {
    let hard = map(obj, &["status", "hard"]);
    let mut resources: Vec<&String> = hard.into_iter().flat_map(|m| m.keys()).collect();
    resources.sort_unstable();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for resource in resources {
        let used = quantity(field(obj, &["status", "used", resource.as_str()]));
        let limit = quantity(field(obj, &["status", "hard", resource.as_str()]));
        let entry = format!("{resource}: {used}/{limit}");
        let mut pieces = resource.split('.');
        if pieces.next() == Some("limits") && pieces.next().is_some() {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![name(obj), Value::from(requests.join(", ")), Value::from(limits.join(", ")), age(obj, now)]
}

fn horizontal_pod_autoscaler(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    let target = field(spec, &["scaleTargetRef"]);
    let reference = format!("{}/{}", text(target, &["kind"]), text(target, &["name"]));
    let (specs, statuses) = hpa_metrics(obj);
    vec![
        name(obj),
        Value::from(reference),
        Value::from(format_hpa_metrics(&specs, &statuses)),
        Value::from(opt_int(spec, &["minReplicas"]).unwrap_or(1).to_string()),
        Value::from(int(spec, &["maxReplicas"])),
        Value::from(int(obj, &["status", "currentReplicas"])),
        age(obj, now),
    ]
}

/// The metric specs and statuses in autoscaling/v2 form. An autoscaling/v1 object's CPU target
/// converts to one Resource metric, and no metrics at all default to 80% CPU, as upstream's
/// conversion and defaulting do.
fn hpa_metrics(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let spec = field(obj, &["spec"]);
    let status = field(obj, &["status"]);
    let is_v1 = text(obj, &["apiVersion"]) == "autoscaling/v1"
        || is_set(spec, &["targetCPUUtilizationPercentage"])
        || is_set(status, &["currentCPUUtilizationPercentage"]);
    let cpu_target = |percent: i64| {
        json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": percent}}})
    };
    let (mut specs, statuses) = if is_v1 {
        let specs = opt_int(spec, &["targetCPUUtilizationPercentage"]).map(cpu_target).into_iter().collect();
        let statuses = opt_int(status, &["currentCPUUtilizationPercentage"])
            .map(|percent| {
                json!({"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": percent}}})
            })
            .into_iter()
            .collect();
        (specs, statuses)
    } else {
        (list(spec, &["metrics"]).to_vec(), list(status, &["currentMetrics"]).to_vec())
    };
    if specs.is_empty() {
        specs.push(cpu_target(80));
    }
    (specs, statuses)
}

/// Each metric as `current/target`, at most two, then how many more.
fn format_hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    const MAX: usize = 2;
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let mut shown: Vec<String> = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let status = statuses.get(index).unwrap_or(&NULL);
        let source = |key: &str| (field(spec, &[key]), object(status, &[key]));
        let entry = match text(spec, &["type"]) {
            kind @ ("External" | "Object") => {
                let key = if kind == "External" { "external" } else { "object" };
                let (spec, current) = source(key);
                let target = field(spec, &["target"]);
                if is_set(target, &["averageValue"]) {
                    let current = current
                        .filter(|c| is_set(c, &["current", "averageValue"]))
                        .map_or("<unknown>".to_string(), |c| quantity_or_nil(field(c, &["current", "averageValue"])));
                    format!("{current}/{} (avg)", quantity_or_nil(field(target, &["averageValue"])))
                } else {
                    let current =
                        current.map_or("<unknown>".to_string(), |c| quantity_or_nil(field(c, &["current", "value"])));
                    format!("{current}/{}", quantity_or_nil(field(target, &["value"])))
                }
            }
            "Pods" => {
                let (spec, current) = source("pods");
                let current = current
                    .map_or("<unknown>".to_string(), |c| quantity_or_nil(field(c, &["current", "averageValue"])));
                format!("{current}/{}", quantity_or_nil(field(spec, &["target", "averageValue"])))
            }
            kind @ ("Resource" | "ContainerResource") => {
                let key = if kind == "Resource" { "resource" } else { "containerResource" };
                let (spec, current) = source(key);
                let resource = text(spec, &["name"]);
                let target = field(spec, &["target"]);
                if is_set(target, &["averageValue"]) {
                    let current = current
                        .map_or("<unknown>".to_string(), |c| quantity_or_nil(field(c, &["current", "averageValue"])));
                    format!("{resource}: {current}/{}", quantity_or_nil(field(target, &["averageValue"])))
                } else {
                    let current = current
                        .and_then(|c| opt_int(c, &["current", "averageUtilization"]))
                        .map_or("<unknown>".to_string(), |percent| format!("{percent}%"));
                    let wanted = opt_int(target, &["averageUtilization"])
                        .map_or("<auto>".to_string(), |percent| format!("{percent}%"));
                    format!("{resource}: {current}/{wanted}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        shown.push(entry);
    }
    let count = shown.len();
    shown.truncate(MAX);
    let joined = shown.join(", ");
    if count > MAX { format!("{joined} + {} more...", count - MAX) } else { joined }
}

fn ingress(obj: &Value, now: i64) -> Vec<Value> {
    let class = match field(obj, &["spec", "ingressClassName"]) {
        Value::String(class) => class.as_str(),
        _ => "<none>",
    };
    let ports = if list(obj, &["spec", "tls"]).is_empty() { "80" } else { "80, 443" };
    let addresses = load_balancer_addresses(field(obj, &["status", "loadBalancer"]));
    vec![
        name(obj),
        Value::from(class),
        Value::from(format_hosts(list(obj, &["spec", "rules"]))),
        Value::from(addresses.join(",")),
        Value::from(ports),
        age(obj, now),
    ]
}

/// Up to three rule hosts, `*` when no rule names one, then how many more rules there are.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = text(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".to_string();
    }
    let joined = hosts.join(",");
    if more { format!("{joined} + {} more...", rules.len() - MAX) } else { joined }
}

fn ingress_class(obj: &Value, now: i64) -> Vec<Value> {
    let parameters = match object(obj, &["spec", "parameters"]) {
        None => "<none>".to_string(),
        Some(parameters) => {
            let kind = text(parameters, &["kind"]);
            let target = text(parameters, &["name"]);
            match field(parameters, &["apiGroup"]) {
                Value::String(group) => format!("{kind}.{group}/{target}"),
                _ => format!("{kind}/{target}"),
            }
        }
    };
    vec![name(obj), Value::from(text(obj, &["spec", "controller"])), Value::from(parameters), age(obj, now)]
}

fn network_policy(obj: &Value, now: i64) -> Vec<Value> {
    // podSelector is a struct, not a pointer, upstream: a missing one selects everything.
    let selector = match field(obj, &["spec", "podSelector"]) {
        Value::Null => "<none>".to_string(),
        selector => format_label_selector(selector),
    };
    vec![name(obj), Value::from(selector), age(obj, now)]
}

fn service_cidr(obj: &Value, now: i64) -> Vec<Value> {
    vec![name(obj), Value::from(strings(obj, &["spec", "cidrs"]).join(",")), age(obj, now)]
}

fn ip_address(obj: &Value, now: i64) -> Vec<Value> {
    let parent = match object(obj, &["spec", "parentRef"]) {
        None => "<none>".to_string(),
        Some(parent) => {
            let resource = text(parent, &["resource"]);
            let mut text_ref = match text(parent, &["group"]) {
                "" => resource.to_lowercase(),
                group => format!("{resource}.{group}").to_lowercase(),
            };
            let parent_namespace = text(parent, &["namespace"]);
            if !parent_namespace.is_empty() {
                text_ref = format!("{text_ref}/{parent_namespace}");
            }
            format!("{text_ref}/{}", text(parent, &["name"]))
        }
    };
    vec![name(obj), Value::from(parent), age(obj, now)]
}

fn lease(obj: &Value, now: i64) -> Vec<Value> {
    vec![name(obj), Value::from(text(obj, &["spec", "holderIdentity"])), age(obj, now)]
}

fn lease_candidate(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    vec![
        name(obj),
        Value::from(text(spec, &["leaseName"])),
        Value::from(text(spec, &["binaryVersion"])),
        Value::from(text(spec, &["emulationVersion"])),
        age(obj, now),
    ]
}

fn storage_class(obj: &Value, now: i64) -> Vec<Value> {
    let annotations = field(obj, &["metadata", "annotations"]);
    let is_default = text(annotations, &["storageclass.kubernetes.io/is-default-class"]) == "true"
        || text(annotations, &["storageclass.beta.kubernetes.io/is-default-class"]) == "true";
    let label = text(obj, &["metadata", "name"]);
    let label = if is_default { format!("{label} (default)") } else { label.to_string() };
    vec![
        Value::from(label),
        Value::from(text(obj, &["provisioner"])),
        Value::from(or_default(text(obj, &["reclaimPolicy"]), "Delete")),
        Value::from(or_default(text(obj, &["volumeBindingMode"]), "Immediate")),
        Value::from(flag(obj, &["allowVolumeExpansion"]).unwrap_or(false)),
        age(obj, now),
    ]
}

fn volume_attributes_class(obj: &Value, now: i64) -> Vec<Value> {
    let is_default =
        text(obj, &["metadata", "annotations", "volumeattributesclass.alpha.kubernetes.io/is-default-class"]) == "true";
    let label = text(obj, &["metadata", "name"]);
    let label = if is_default { format!("{label} (default)") } else { label.to_string() };
    vec![Value::from(label), Value::from(text(obj, &["driverName"])), age(obj, now)]
}

fn volume_attachment(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(text(obj, &["spec", "attacher"])),
        Value::from(text(obj, &["spec", "source", "persistentVolumeName"])),
        Value::from(text(obj, &["spec", "nodeName"])),
        Value::from(flag(obj, &["status", "attached"]).unwrap_or(false)),
        age(obj, now),
    ]
}

fn csi_node(obj: &Value, now: i64) -> Vec<Value> {
    vec![name(obj), Value::from(list(obj, &["spec", "drivers"]).len()), age(obj, now)]
}

fn csi_driver(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    let token_requests = match field(spec, &["tokenRequests"]) {
        Value::Array(requests) => requests.iter().map(|r| text(r, &["audience"])).collect::<Vec<_>>().join(","),
        _ => "<unset>".to_string(),
    };
    // storage/v1 defaults an empty mode list to Persistent.
    let modes = strings(spec, &["volumeLifecycleModes"]);
    let modes = if modes.is_empty() { "Persistent".to_string() } else { modes.join(",") };
    vec![
        name(obj),
        Value::from(flag(spec, &["attachRequired"]).unwrap_or(true)),
        Value::from(flag(spec, &["podInfoOnMount"]).unwrap_or(false)),
        Value::from(flag(spec, &["storageCapacity"]).unwrap_or(false)),
        Value::from(token_requests),
        Value::from(flag(spec, &["requiresRepublish"]).unwrap_or(false)),
        Value::from(modes),
        age(obj, now),
    ]
}

fn csi_storage_capacity(obj: &Value, _now: i64) -> Vec<Value> {
    let capacity = match field(obj, &["capacity"]) {
        Value::Null => "<unset>".to_string(),
        capacity => quantity(capacity),
    };
    vec![name(obj), Value::from(text(obj, &["storageClassName"])), Value::from(capacity)]
}

fn priority_class(obj: &Value, now: i64) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(int(obj, &["value"])),
        Value::from(flag(obj, &["globalDefault"]).unwrap_or(false)),
        age(obj, now),
        Value::from(or_default(text(obj, &["preemptionPolicy"]), "PreemptLowerPriority")),
    ]
}

fn runtime_class(obj: &Value, now: i64) -> Vec<Value> {
    vec![name(obj), Value::from(text(obj, &["handler"])), age(obj, now)]
}

fn certificate_signing_request(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    let conditions = list(obj, &["status", "conditions"]);
    let has = |kind: &str| conditions.iter().any(|c| text(c, &["type"]) == kind);
    // Denied beats Approved; the condition status is not consulted, as upstream.
    let mut condition = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        condition.push_str(",Failed");
    }
    if !text(obj, &["status", "certificate"]).is_empty() {
        condition.push_str(",Issued");
    }
    let duration = opt_int(spec, &["expirationSeconds"]).map_or("<none>".to_string(), time::human_duration);
    vec![
        name(obj),
        age(obj, now),
        Value::from(or_default(text(spec, &["signerName"]), "<none>")),
        Value::from(text(spec, &["username"])),
        Value::from(duration),
        Value::from(condition),
    ]
}

fn cluster_trust_bundle(obj: &Value, _now: i64) -> Vec<Value> {
    vec![name(obj), Value::from(or_default(text(obj, &["spec", "signerName"]), "<none>"))]
}

fn role_binding(obj: &Value, now: i64) -> Vec<Value> {
    let role = field(obj, &["roleRef"]);
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in list(obj, &["subjects"]) {
        let subject_name = text(subject, &["name"]);
        match text(subject, &["kind"]) {
            "ServiceAccount" => accounts.push(format!("{}/{subject_name}", text(subject, &["namespace"]))),
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    vec![
        name(obj),
        Value::from(format!("{}/{}", text(role, &["kind"]), text(role, &["name"]))),
        age(obj, now),
        Value::from(users.join(", ")),
        Value::from(groups.join(", ")),
        Value::from(accounts.join(", ")),
    ]
}

fn webhook_configuration(obj: &Value, now: i64) -> Vec<Value> {
    vec![name(obj), Value::from(list(obj, &["webhooks"]).len()), age(obj, now)]
}

fn validating_admission_policy(obj: &Value, now: i64) -> Vec<Value> {
    admission_policy(obj, "validations", now)
}

fn mutating_admission_policy(obj: &Value, now: i64) -> Vec<Value> {
    admission_policy(obj, "mutations", now)
}

fn admission_policy(obj: &Value, rules: &str, now: i64) -> Vec<Value> {
    let param_kind = match object(obj, &["spec", "paramKind"]) {
        Some(kind) => format!("{}/{}", text(kind, &["apiVersion"]), text(kind, &["kind"])),
        None => "<unset>".to_string(),
    };
    vec![name(obj), Value::from(list(obj, &["spec", rules]).len()), Value::from(param_kind), age(obj, now)]
}

fn admission_policy_binding(obj: &Value, now: i64) -> Vec<Value> {
    let param = match object(obj, &["spec", "paramRef"]) {
        None => "<unset>".to_string(),
        Some(param) => match (text(param, &["name"]), text(param, &["namespace"])) {
            ("", _) => match object(param, &["selector"]) {
                Some(selector) => go_label_selector_struct(selector),
                None => "<unset>".to_string(),
            },
            // Without a namespace upstream cannot tell whether the param is cluster-scoped.
            (param_name, "") => format!("*/{param_name}"),
            (param_name, param_namespace) => format!("{param_namespace}/{param_name}"),
        },
    };
    vec![name(obj), Value::from(text(obj, &["spec", "policyName"])), Value::from(param), age(obj, now)]
}

/// A LabelSelector printed by its generated Go `String()` method, which is what upstream shows
/// for a selector-based paramRef: `&LabelSelector{MatchLabels:map[string]string{a: b,},...}`.
fn go_label_selector_struct(selector: &Value) -> String {
    let mut labels: Vec<(&String, &str)> = map(selector, &["matchLabels"])
        .into_iter()
        .flatten()
        .map(|(key, value)| (key, value.as_str().unwrap_or("")))
        .collect();
    labels.sort_unstable();
    let labels: String = labels.iter().map(|(key, value)| format!("{key}: {value},")).collect();
    let expressions: String = list(selector, &["matchExpressions"])
        .iter()
        .map(|e| {
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
                text(e, &["key"]),
                text(e, &["operator"]),
                strings(e, &["values"]).join(" ")
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}"
    )
}

fn flow_schema(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    let distinguisher = match object(spec, &["distinguisherMethod"]) {
        Some(method) => text(method, &["type"]),
        None => "<none>",
    };
    let dangling = list(obj, &["status", "conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == "Dangling")
        .map_or("?", |c| text(c, &["status"]));
    // flowcontrol/v1 defaults an unset precedence to 1000.
    let precedence = match int(spec, &["matchingPrecedence"]) {
        0 => 1000,
        precedence => precedence,
    };
    vec![
        name(obj),
        Value::from(text(spec, &["priorityLevelConfiguration", "name"])),
        Value::from(precedence),
        Value::from(distinguisher),
        age(obj, now),
        Value::from(dangling),
    ]
}

fn priority_level_configuration(obj: &Value, now: i64) -> Vec<Value> {
    let spec = field(obj, &["spec"]);
    let none = || Value::from("<none>");
    let (shares, queues, hand_size, queue_length) = match object(spec, &["limited"]) {
        None => (none(), none(), none(), none()),
        Some(limited) => {
            // flowcontrol/v1 defaults for limited levels and their queuing.
            let shares = Value::from(opt_int(limited, &["nominalConcurrencyShares"]).unwrap_or(30));
            match object(limited, &["limitResponse", "queuing"]) {
                None => (shares, none(), none(), none()),
                Some(queuing) => (
                    shares,
                    Value::from(opt_int(queuing, &["queues"]).unwrap_or(64)),
                    Value::from(opt_int(queuing, &["handSize"]).unwrap_or(8)),
                    Value::from(opt_int(queuing, &["queueLengthLimit"]).unwrap_or(50)),
                ),
            }
        }
    };
    vec![name(obj), Value::from(text(spec, &["type"])), shares, queues, hand_size, queue_length, age(obj, now)]
}

// ---------------------------------------------------------------------------------------------
// Formatting shared by several printers.
// ---------------------------------------------------------------------------------------------

const NANOS_PER_SEC: i128 = 1_000_000_000;

fn name(obj: &Value) -> Value {
    Value::from(text(obj, &["metadata", "name"]))
}

fn age(obj: &Value, now: i64) -> Value {
    Value::from(since(field(obj, &["metadata", "creationTimestamp"]), now))
}

/// A set timestamp in nanoseconds; None when missing, unparsable, or Go's zero time.
fn timestamp(value: &Value) -> Option<i128> {
    let nanos = time::parse_rfc3339_nanos(value.as_str()?)?;
    (nanos != i128::from(time::ZERO_TIME_UNIX) * NANOS_PER_SEC).then_some(nanos)
}

/// translateTimestampSince: the age of a timestamp, `<unknown>` when it is not set.
fn since(value: &Value, now: i64) -> String {
    timestamp(value).map_or("<unknown>".to_string(), |at| since_nanos(at, now))
}

fn since_nanos(at: i128, now: i64) -> String {
    time::human_duration(time::seconds_between(at, i128::from(now) * NANOS_PER_SEC))
}

/// Container names and images, each joined with commas.
fn container_cells(containers: &[Value]) -> (Value, Value) {
    let names: Vec<&str> = containers.iter().map(|c| text(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, &["image"])).collect();
    (Value::from(names.join(",")), Value::from(images.join(",")))
}

/// labels.FormatLabels: `key=value` pairs sorted as whole strings, `<none>` for none.
fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<String> =
        labels.into_iter().flatten().map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or(""))).collect();
    pairs.sort_unstable();
    if pairs.is_empty() { "<none>".to_string() } else { pairs.join(",") }
}

/// metav1.FormatLabelSelector: the selector string, `<none>` for an empty or missing selector
/// and `<error>` for one that cannot be a selector.
fn format_label_selector(selector: &Value) -> String {
    match selector_text(selector) {
        Err(()) => "<error>".to_string(),
        Ok(text) if text.is_empty() => "<none>".to_string(),
        Ok(text) => text,
    }
}

/// A LabelSelector as labels.Selector.String(): requirements sorted by key, `k=v`, `k in (a,b)`,
/// `k notin (a,b)`, `k`, `!k`. Empty for a missing or empty selector. Label syntax is not
/// validated, since the server validated it on write.
fn selector_text(selector: &Value) -> Result<String, ()> {
    if selector.is_null() {
        return Ok(String::new());
    }
    let mut requirements: Vec<(&str, String)> = Vec::new();
    for (key, value) in map(selector, &["matchLabels"]).into_iter().flatten() {
        let value = value.as_str().ok_or(())?;
        requirements.push((key, format!("{key}={value}")));
    }
    for expression in list(selector, &["matchExpressions"]) {
        let key = text(expression, &["key"]);
        let mut values = strings(expression, &["values"]);
        values.sort_unstable();
        let requirement = match text(expression, &["operator"]) {
            "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key, requirement));
    }
    requirements.sort_by(|a, b| a.0.cmp(b.0));
    Ok(requirements.into_iter().map(|(_, text)| text).collect::<Vec<_>>().join(","))
}

/// An IntOrString as text; None when unset.
fn int_or_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => number.as_i64().map(|n| n.to_string()),
        _ => None,
    }
}

/// A `*string` printed as its value or `<unset>`.
fn optional_text(obj: &Value, path: &[&str]) -> String {
    match field(obj, path) {
        Value::String(text) => text.clone(),
        _ => "<unset>".to_string(),
    }
}

fn or_default<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

// ---------------------------------------------------------------------------------------------
// resource.Quantity printing. Upstream stores quantities parsed and prints them in canonical
// form ("1024Mi" shows as "1Gi", "0.5" as "500m"), so objects stored as written are canonicalised
// here. Values that do not parse, or do not fit the 128-bit arithmetic, print as written.
// ---------------------------------------------------------------------------------------------

/// A quantity as Quantity.String(); a missing one is the zero quantity, "0".
fn quantity(value: &Value) -> String {
    match value {
        Value::String(raw) => canonical_quantity(raw.trim()).unwrap_or_else(|| raw.clone()),
        Value::Number(number) => {
            let raw = number.to_string();
            canonical_quantity(&raw).unwrap_or(raw)
        }
        _ => "0".to_string(),
    }
}

/// A `*Quantity` printed through Go's `String()`, which says `<nil>` for a nil pointer.
fn quantity_or_nil(value: &Value) -> String {
    if value.is_null() { "<nil>".to_string() } else { quantity(value) }
}

/// The three ways a quantity can be written, which decide how it is printed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuantityFormat {
    /// Powers of 1000 with n, u, m, k, M, G, T, P, E.
    DecimalSi,
    /// Powers of 1024 with Ki, Mi, Gi, Ti, Pi, Ei.
    BinarySi,
    /// Scientific notation with e or E.
    DecimalExponent,
}

/// A quantity string cut into sign, integer digits, fraction digits and suffix.
struct QuantityParts<'a> {
    negative: bool,
    whole: &'a str,
    fraction: &'a str,
    suffix: &'a str,
}

fn canonical_quantity(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    if raw == "0" {
        return Some("0".to_string());
    }
    let parts = split_quantity(raw)?;
    let (base, exponent, format) = interpret_suffix(parts.suffix)?;
    if written_canonically(&parts, exponent, format) {
        // Upstream keeps the original text when it is already canonical, sign and all.
        return Some(raw.to_string());
    }
    let nanos = quantity_nanos(&parts, base, exponent)?;
    format_quantity(nanos, format)
}

/// Splits like resource.parseQuantityString: an optional sign, digits with leading zeros
/// dropped, an optional `.fraction`, then a suffix made of suffix letters and an optional signed
/// exponent. Anything else is malformed.
fn split_quantity(raw: &str) -> Option<QuantityParts<'_>> {
    let bytes = raw.as_bytes();
    let mut pos = 0;
    let mut negative = false;
    match bytes.first() {
        Some(b'-') => {
            negative = true;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    while pos < bytes.len() && bytes[pos] == b'0' {
        pos += 1;
    }
    if pos == bytes.len() {
        return Some(QuantityParts { negative, whole: "0", fraction: "", suffix: "" });
    }
    let whole_start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    let whole = if pos == whole_start { "0" } else { &raw[whole_start..pos] };
    let mut fraction = "";
    if pos < bytes.len() && bytes[pos] == b'.' {
        pos += 1;
        let fraction_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        fraction = &raw[fraction_start..pos];
    }
    let suffix_start = pos;
    while pos < bytes.len() && b"eEinumkKMGTP".contains(&bytes[pos]) {
        pos += 1;
    }
    if pos < bytes.len() && (bytes[pos] == b'-' || bytes[pos] == b'+') {
        pos += 1;
    }
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    (pos == bytes.len()).then_some(QuantityParts { negative, whole, fraction, suffix: &raw[suffix_start..] })
}

/// The base, exponent and format a suffix stands for.
fn interpret_suffix(suffix: &str) -> Option<(u32, i32, QuantityFormat)> {
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(exponent) = decimal {
        return Some((10, exponent, QuantityFormat::DecimalSi));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(exponent) = binary {
        return Some((2, exponent, QuantityFormat::BinarySi));
    }
    let exponent = suffix.strip_prefix(['e', 'E']).filter(|rest| !rest.is_empty())?;
    let exponent: i32 = exponent.parse().ok()?;
    Some((10, exponent, QuantityFormat::DecimalExponent))
}

/// Whether ParseQuantity's fast path would keep the input string as the printed form: small
/// integers whose digits already sit at a canonical power.
fn written_canonically(parts: &QuantityParts<'_>, exponent: i32, format: QuantityFormat) -> bool {
    let digit_count = i32::try_from(parts.whole.len() + parts.fraction.len()).unwrap_or(i32::MAX);
    let shifted = format!("{}{}", parts.whole, parts.fraction);
    match format {
        QuantityFormat::DecimalSi | QuantityFormat::DecimalExponent => {
            let scale = exponent - i32::try_from(parts.fraction.len()).unwrap_or(i32::MAX);
            18 - digit_count >= 0
                && scale >= -9
                && scale % 3 == 0
                && !shifted.ends_with("000")
                && !shifted.starts_with('0')
        }
        QuantityFormat::BinarySi => {
            if !parts.fraction.is_empty() || 14 - digit_count - exponent * 3 / 10 < 0 {
                return false;
            }
            let Ok(value) = shifted.parse::<i64>() else { return false };
            value.checked_mul(1i64 << exponent).is_some() && exponent % 10 == 0 && value & 7 != 0
        }
    }
}

/// The quantity in nanounits, rounded away from zero as upstream rounds up to its finest scale.
fn quantity_nanos(parts: &QuantityParts<'_>, base: u32, exponent: i32) -> Option<i128> {
    let digits = format!("{}{}", parts.whole, parts.fraction);
    let mut value: i128 = digits.parse().ok()?;
    let fraction_len = i32::try_from(parts.fraction.len()).ok()?;
    let decimal_shift = if base == 10 { exponent } else { 0 } - fraction_len + 9;
    if base == 2 {
        value = value.checked_mul(1i128.checked_shl(u32::try_from(exponent).ok()?)?)?;
    }
    if decimal_shift >= 0 {
        value = value.checked_mul(10i128.checked_pow(u32::try_from(decimal_shift).ok()?)?)?;
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(-decimal_shift).ok()?)?;
        value = value / divisor + i128::from(value % divisor != 0);
    }
    Some(if parts.negative { -value } else { value })
}

/// Quantity.CanonicalizeBytes on a value in nanounits.
fn format_quantity(nanos: i128, format: QuantityFormat) -> Option<String> {
    if nanos == 0 {
        return Some("0".to_string());
    }
    let mut format = format;
    if format == QuantityFormat::BinarySi && (nanos.abs() < 1024 * NANOS_PER_SEC || nanos % NANOS_PER_SEC != 0) {
        // Small or fractional binary quantities print in decimal rather than lose precision.
        format = QuantityFormat::DecimalSi;
    }
    if format == QuantityFormat::BinarySi {
        let mut whole = nanos / NANOS_PER_SEC;
        let mut power = 0usize;
        while whole % 1024 == 0 {
            whole /= 1024;
            power += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].get(power).copied().unwrap_or("");
        return Some(format!("{whole}{suffix}"));
    }
    let mut mantissa = nanos;
    let mut exponent: i32 = -9;
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    // Exponents are multiples of three so that they map onto SI prefixes.
    let extra = exponent.rem_euclid(3);
    mantissa = mantissa.checked_mul(10i128.pow(extra.unsigned_abs()))?;
    exponent -= extra;
    let suffix = match format {
        QuantityFormat::DecimalExponent if exponent == 0 => String::new(),
        QuantityFormat::DecimalExponent => format!("e{exponent}"),
        _ => match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            // Upstream has no prefix past exa and prints the bare mantissa.
            _ => "",
        }
        .to_string(),
    };
    Some(format!("{mantissa}{suffix}"))
}

// ---------------------------------------------------------------------------------------------
// Reading untrusted JSON: every accessor answers with a zero value instead of failing.
// ---------------------------------------------------------------------------------------------

static NULL: Value = Value::Null;

/// The value at a path of object keys, or null when any step is missing or not an object.
fn field<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().try_fold(value, |current, key| current.get(key)).unwrap_or(&NULL)
}

/// The value at a path when it is a JSON object, which is how Go tells a set pointer to struct.
fn object<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    Some(field(value, path)).filter(|v| v.is_object())
}

fn is_set(value: &Value, path: &[&str]) -> bool {
    !field(value, path).is_null()
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    field(value, path).as_str().unwrap_or("")
}

fn opt_int(value: &Value, path: &[&str]) -> Option<i64> {
    let value = field(value, path);
    value.as_i64().or_else(|| value.as_u64().map(|_| i64::MAX))
}

fn int(value: &Value, path: &[&str]) -> i64 {
    opt_int(value, path).unwrap_or(0)
}

fn flag(value: &Value, path: &[&str]) -> Option<bool> {
    field(value, path).as_bool()
}

fn list<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    field(value, path).as_array().map_or(&[], Vec::as_slice)
}

/// The strings of a list, skipping entries that are not strings.
fn strings<'a>(value: &'a Value, path: &[&str]) -> Vec<&'a str> {
    list(value, path).iter().filter_map(Value::as_str).collect()
}

fn map<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    field(value, path).as_object()
}

fn map_len(value: &Value, path: &[&str]) -> usize {
    map(value, path).map_or(0, Map::len)
}

/// Field documentation that upstream quotes as column descriptions, copied from the generated
/// `SwaggerDoc()` maps of k8s.io/api and k8s.io/apimachinery v0.33 (the Go type each printer
/// names is given above each entry).
mod doc {
    /// `meta/v1` ObjectMeta.name
    pub const OBJECT_META_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
    /// `meta/v1` ObjectMeta.creationTimestamp
    pub const OBJECT_META_CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
    /// `core/v1` PodStatus.podIP
    pub const POD_STATUS_POD_IP: &str =
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
    /// `core/v1` PodSpec.nodeName
    pub const POD_SPEC_NODE_NAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
    /// `core/v1` PodStatus.nominatedNodeName
    pub const POD_STATUS_NOMINATED_NODE_NAME: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
    /// `core/v1` PodSpec.readinessGates
    pub const POD_SPEC_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
    /// `core/v1` ReplicationControllerSpec.replicas
    pub const REPLICATION_CONTROLLER_SPEC_REPLICAS: &str = "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
    /// `core/v1` ReplicationControllerStatus.replicas
    pub const REPLICATION_CONTROLLER_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
    /// `core/v1` ReplicationControllerStatus.readyReplicas
    pub const REPLICATION_CONTROLLER_STATUS_READY_REPLICAS: &str =
        "The number of ready replicas for this replication controller.";
    /// `core/v1` ReplicationControllerSpec.selector
    pub const REPLICATION_CONTROLLER_SPEC_SELECTOR: &str = "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
    /// `extensions/v1beta1` ReplicaSetSpec.replicas
    pub const REPLICA_SET_SPEC_REPLICAS: &str = "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
    /// `extensions/v1beta1` ReplicaSetStatus.replicas
    pub const REPLICA_SET_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
    /// `extensions/v1beta1` ReplicaSetStatus.readyReplicas
    pub const REPLICA_SET_STATUS_READY_REPLICAS: &str =
        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.";
    /// `extensions/v1beta1` ReplicaSetSpec.selector
    pub const REPLICA_SET_SPEC_SELECTOR: &str = "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
    /// `extensions/v1beta1` DaemonSetStatus.desiredNumberScheduled
    pub const DAEMON_SET_STATUS_DESIRED_NUMBER_SCHEDULED: &str = "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
    /// `extensions/v1beta1` DaemonSetStatus.currentNumberScheduled
    pub const DAEMON_SET_STATUS_CURRENT_NUMBER_SCHEDULED: &str = "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
    /// `extensions/v1beta1` DaemonSetStatus.numberReady
    pub const DAEMON_SET_STATUS_NUMBER_READY: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.";
    /// `extensions/v1beta1` DaemonSetStatus.updatedNumberScheduled
    pub const DAEMON_SET_STATUS_UPDATED_NUMBER_SCHEDULED: &str =
        "The total number of nodes that are running updated daemon pod";
    /// `extensions/v1beta1` DaemonSetStatus.numberAvailable
    pub const DAEMON_SET_STATUS_NUMBER_AVAILABLE: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)";
    /// `core/v1` PodSpec.nodeSelector
    pub const POD_SPEC_NODE_SELECTOR: &str = "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
    /// `extensions/v1beta1` DaemonSetSpec.selector
    pub const DAEMON_SET_SPEC_SELECTOR: &str = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
    /// `batch/v1` JobStatus.succeeded
    pub const JOB_STATUS_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
    /// `batch/v1` JobSpec.selector
    pub const JOB_SPEC_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
    /// `batch/v1beta1` CronJobSpec.schedule
    pub const CRON_JOB_SPEC_SCHEDULE: &str = "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
    /// `batch/v1beta1` CronJobSpec.timeZone
    pub const CRON_JOB_SPEC_TIME_ZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
    /// `batch/v1beta1` CronJobSpec.suspend
    pub const CRON_JOB_SPEC_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";
    /// `batch/v1beta1` CronJobStatus.active
    pub const CRON_JOB_STATUS_ACTIVE: &str = "A list of pointers to currently running jobs.";
    /// `batch/v1beta1` CronJobStatus.lastScheduleTime
    pub const CRON_JOB_STATUS_LAST_SCHEDULE_TIME: &str =
        "Information when was the last time the job was successfully scheduled.";
    /// `core/v1` ServiceSpec.type
    pub const SERVICE_SPEC_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
    /// `core/v1` ServiceSpec.clusterIP
    pub const SERVICE_SPEC_CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
    /// `core/v1` ServiceSpec.externalIPs
    pub const SERVICE_SPEC_EXTERNAL_IPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
    /// `core/v1` ServiceSpec.ports
    pub const SERVICE_SPEC_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
    /// `core/v1` ServiceSpec.selector
    pub const SERVICE_SPEC_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
    /// `core/v1` Endpoints.subsets
    pub const ENDPOINTS_SUBSETS: &str = "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.";
    /// `core/v1` NodeSystemInfo.kubeletVersion
    pub const NODE_SYSTEM_INFO_KUBELET_VERSION: &str = "Kubelet Version reported by the node.";
    /// `core/v1` NodeStatus.addresses
    pub const NODE_STATUS_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
    /// `core/v1` NodeSystemInfo.osImage
    pub const NODE_SYSTEM_INFO_OS_IMAGE: &str =
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
    /// `core/v1` NodeSystemInfo.kernelVersion
    pub const NODE_SYSTEM_INFO_KERNEL_VERSION: &str =
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
    /// `core/v1` NodeSystemInfo.containerRuntimeVersion
    pub const NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION: &str =
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
    /// `core/v1` Event.lastTimestamp
    pub const EVENT_LAST_TIMESTAMP: &str = "The time at which the most recent occurrence of this event was recorded.";
    /// `core/v1` Event.type
    pub const EVENT_TYPE: &str = "Type of this event (Normal, Warning), new types could be added in the future";
    /// `core/v1` Event.reason
    pub const EVENT_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
    /// `core/v1` Event.involvedObject
    pub const EVENT_INVOLVED_OBJECT: &str = "The object that this event is about.";
    /// `core/v1` ObjectReference.fieldPath
    pub const OBJECT_REFERENCE_FIELD_PATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
    /// `core/v1` Event.source
    pub const EVENT_SOURCE: &str =
        "The component reporting this event. Should be a short machine understandable string.";
    /// `core/v1` Event.message
    pub const EVENT_MESSAGE: &str = "A human-readable description of the status of this operation.";
    /// `core/v1` Event.firstTimestamp
    pub const EVENT_FIRST_TIMESTAMP: &str =
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
    /// `core/v1` Event.count
    pub const EVENT_COUNT: &str = "The number of times this event has occurred.";
    /// `core/v1` Secret.type
    pub const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
    /// `core/v1` Secret.data
    pub const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
    /// `core/v1` ServiceAccount.secrets
    pub const SERVICE_ACCOUNT_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
    /// `core/v1` PersistentVolumeSpec.capacity
    pub const PERSISTENT_VOLUME_SPEC_CAPACITY: &str = "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";
    /// `core/v1` PersistentVolumeSpec.accessModes
    pub const PERSISTENT_VOLUME_SPEC_ACCESS_MODES: &str = "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";
    /// `core/v1` PersistentVolumeSpec.persistentVolumeReclaimPolicy
    pub const PERSISTENT_VOLUME_SPEC_PERSISTENT_VOLUME_RECLAIM_POLICY: &str = "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming";
    /// `core/v1` PersistentVolumeStatus.phase
    pub const PERSISTENT_VOLUME_STATUS_PHASE: &str = "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";
    /// `core/v1` PersistentVolumeSpec.claimRef
    pub const PERSISTENT_VOLUME_SPEC_CLAIM_REF: &str = "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding";
    /// `core/v1` PersistentVolumeStatus.reason
    pub const PERSISTENT_VOLUME_STATUS_REASON: &str = "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.";
    /// `core/v1` PersistentVolumeSpec.volumeMode
    pub const PERSISTENT_VOLUME_SPEC_VOLUME_MODE: &str = "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.";
    /// `core/v1` PersistentVolumeClaimStatus.phase
    pub const PERSISTENT_VOLUME_CLAIM_STATUS_PHASE: &str =
        "phase represents the current phase of PersistentVolumeClaim.";
    /// `core/v1` PersistentVolumeClaimSpec.volumeName
    pub const PERSISTENT_VOLUME_CLAIM_SPEC_VOLUME_NAME: &str =
        "volumeName is the binding reference to the PersistentVolume backing this claim.";
    /// `core/v1` PersistentVolumeClaimStatus.capacity
    pub const PERSISTENT_VOLUME_CLAIM_STATUS_CAPACITY: &str =
        "capacity represents the actual resources of the underlying volume.";
    /// `core/v1` PersistentVolumeClaimStatus.accessModes
    pub const PERSISTENT_VOLUME_CLAIM_STATUS_ACCESS_MODES: &str = "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
    /// `core/v1` PersistentVolumeClaimSpec.volumeMode
    pub const PERSISTENT_VOLUME_CLAIM_SPEC_VOLUME_MODE: &str = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.";
    /// `extensions/v1beta1` DeploymentStatus.updatedReplicas
    pub const DEPLOYMENT_STATUS_UPDATED_REPLICAS: &str =
        "Total number of non-terminating pods targeted by this deployment that have the desired template spec.";
    /// `extensions/v1beta1` DeploymentStatus.availableReplicas
    pub const DEPLOYMENT_STATUS_AVAILABLE_REPLICAS: &str = "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.";
    /// `extensions/v1beta1` DeploymentSpec.selector
    pub const DEPLOYMENT_SPEC_SELECTOR: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.";
    /// `autoscaling/v2beta1` HorizontalPodAutoscalerSpec.scaleTargetRef
    pub const HORIZONTAL_POD_AUTOSCALER_SPEC_SCALE_TARGET_REF: &str = "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.";
    /// `autoscaling/v2beta1` HorizontalPodAutoscalerSpec.metrics
    pub const HORIZONTAL_POD_AUTOSCALER_SPEC_METRICS: &str = "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond.";
    /// `autoscaling/v2beta1` HorizontalPodAutoscalerSpec.minReplicas
    pub const HORIZONTAL_POD_AUTOSCALER_SPEC_MIN_REPLICAS: &str = "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.";
    /// `autoscaling/v2beta1` HorizontalPodAutoscalerSpec.maxReplicas
    pub const HORIZONTAL_POD_AUTOSCALER_SPEC_MAX_REPLICAS: &str = "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.";
    /// `autoscaling/v2beta1` HorizontalPodAutoscalerStatus.currentReplicas
    pub const HORIZONTAL_POD_AUTOSCALER_STATUS_CURRENT_REPLICAS: &str = "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.";
    /// `core/v1` ConfigMap.data
    pub const CONFIG_MAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
    /// `extensions/v1beta1` NetworkPolicySpec.podSelector
    pub const NETWORK_POLICY_SPEC_POD_SELECTOR: &str = "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods.  In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.";
    /// `rbac/v1beta1` RoleBinding.roleRef
    pub const ROLE_BINDING_ROLE_REF: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
    /// `rbac/v1beta1` ClusterRoleBinding.roleRef
    pub const CLUSTER_ROLE_BINDING_ROLE_REF: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
    /// `certificates/v1beta1` CertificateSigningRequestSpec.signerName
    pub const CERTIFICATE_SIGNING_REQUEST_SPEC_SIGNER_NAME: &str = "Requested signer for the request. It is a qualified name in the form: `scope-hostname.io/name`. If empty, it will be defaulted:\n 1. If it's a kubelet client certificate, it is assigned\n    \"kubernetes.io/kube-apiserver-client-kubelet\".\n 2. If it's a kubelet serving certificate, it is assigned\n    \"kubernetes.io/kubelet-serving\".\n 3. Otherwise, it is assigned \"kubernetes.io/legacy-unknown\".\nDistribution of trust for signers happens out of band. You can select on this field using `spec.signerName`.";
    /// `certificates/v1beta1` CertificateSigningRequestSpec.request
    pub const CERTIFICATE_SIGNING_REQUEST_SPEC_REQUEST: &str = "Base64-encoded PKCS#10 CSR data";
    /// `certificates/v1beta1` CertificateSigningRequestSpec.expirationSeconds
    pub const CERTIFICATE_SIGNING_REQUEST_SPEC_EXPIRATION_SECONDS: &str = "expirationSeconds is the requested duration of validity of the issued certificate. The certificate signer may issue a certificate with a different validity duration so a client must check the delta between the notBefore and and notAfter fields in the issued certificate to determine the actual duration.\n\nThe v1.22+ in-tree implementations of the well-known Kubernetes signers will honor this field as long as the requested duration is not greater than the maximum duration they will honor per the --cluster-signing-duration CLI flag to the Kubernetes controller manager.\n\nCertificate signers may not honor this field for various reasons:\n\n  1. Old signer that is unaware of the field (such as the in-tree\n     implementations prior to v1.22)\n  2. Signer whose configured maximum is shorter than the requested duration\n  3. Signer whose configured minimum is longer than the requested duration\n\nThe minimum valid value for expirationSeconds is 600, i.e. 10 minutes.";
    /// `certificates/v1beta1` CertificateSigningRequestStatus.conditions
    pub const CERTIFICATE_SIGNING_REQUEST_STATUS_CONDITIONS: &str =
        "Conditions applied to the request, such as approval or denial.";
    /// `coordination/v1` LeaseSpec.holderIdentity
    pub const LEASE_SPEC_HOLDER_IDENTITY: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
    /// `storage/v1` StorageClass.provisioner
    pub const STORAGE_CLASS_PROVISIONER: &str = "provisioner indicates the type of the provisioner.";
    /// `storage/v1` StorageClass.reclaimPolicy
    pub const STORAGE_CLASS_RECLAIM_POLICY: &str = "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.";
    /// `storage/v1` StorageClass.volumeBindingMode
    pub const STORAGE_CLASS_VOLUME_BINDING_MODE: &str = "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.";
    /// `storage/v1` StorageClass.allowVolumeExpansion
    pub const STORAGE_CLASS_ALLOW_VOLUME_EXPANSION: &str =
        "allowVolumeExpansion shows whether the storage class allow volume expand.";
    /// `apps/v1beta1` ControllerRevision.revision
    pub const CONTROLLER_REVISION_REVISION: &str = "revision indicates the revision of the state represented by Data.";
    /// `scheduling/v1` PriorityClass.value
    pub const PRIORITY_CLASS_VALUE: &str = "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.";
    /// `scheduling/v1` PriorityClass.globalDefault
    pub const PRIORITY_CLASS_GLOBAL_DEFAULT: &str = "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.";
    /// `scheduling/v1` PriorityClass.preemptionPolicy
    pub const PRIORITY_CLASS_PREEMPTION_POLICY: &str = "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.";
    /// `storage/v1` VolumeAttachmentSpec.attacher
    pub const VOLUME_ATTACHMENT_SPEC_ATTACHER: &str = "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().";
    /// `storage/v1` VolumeAttachmentSource.persistentVolumeName
    pub const VOLUME_ATTACHMENT_SOURCE_PERSISTENT_VOLUME_NAME: &str =
        "persistentVolumeName represents the name of the persistent volume to attach.";
    /// `storage/v1` VolumeAttachmentSpec.nodeName
    pub const VOLUME_ATTACHMENT_SPEC_NODE_NAME: &str =
        "nodeName represents the node that the volume should be attached to.";
    /// `storage/v1` VolumeAttachmentStatus.attached
    pub const VOLUME_ATTACHMENT_STATUS_ATTACHED: &str = "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher.";
    /// `discovery/v1beta1` EndpointSlice.addressType
    pub const ENDPOINT_SLICE_ADDRESS_TYPE: &str = "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.";
    /// `discovery/v1beta1` EndpointSlice.ports
    pub const ENDPOINT_SLICE_PORTS: &str = "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports.";
    /// `discovery/v1beta1` EndpointSlice.endpoints
    pub const ENDPOINT_SLICE_ENDPOINTS: &str =
        "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.";
    /// `storage/v1` CSIDriverSpec.attachRequired
    pub const CSI_DRIVER_SPEC_ATTACH_REQUIRED: &str = "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting. The CSI external-attacher coordinates with CSI volume driver and updates the volumeattachment status when the attach operation is complete. If the CSIDriverRegistry feature gate is enabled and the value is specified to false, the attach operation will be skipped. Otherwise the attach operation will be called.\n\nThis field is immutable.";
    /// `storage/v1` CSIDriverSpec.podInfoOnMount
    pub const CSI_DRIVER_SPEC_POD_INFO_ON_MOUNT: &str = "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true. If set to false, pod information will not be passed on mount. Default is false.\n\nThe CSI driver specifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod information as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is responsible for parsing and validating the information passed in as VolumeContext.\n\nThe following VolumeContext will be passed if podInfoOnMount is set to true. This list might grow, but the prefix will be used. \"csi.storage.k8s.io/pod.name\": pod.Name \"csi.storage.k8s.io/pod.namespace\": pod.Namespace \"csi.storage.k8s.io/pod.uid\": string(pod.UID) \"csi.storage.k8s.io/ephemeral\": \"true\" if the volume is an ephemeral inline volume\n                                defined by a CSIVolumeSource, otherwise \"false\"\n\n\"csi.storage.k8s.io/ephemeral\" is a new feature in Kubernetes 1.16. It is only required for drivers which support both the \"Persistent\" and \"Ephemeral\" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore this field. As Kubernetes 1.15 doesn't support this field, drivers can only support one mode when deployed on such a cluster and the deployment determines which mode that is, for example via a command line parameter of the driver.\n\nThis field was immutable in Kubernetes < 1.29 and now is mutable.";
    /// `storage/v1` CSIDriverSpec.storageCapacity
    pub const CSI_DRIVER_SPEC_STORAGE_CAPACITY: &str = "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true.\n\nThe check can be enabled immediately when deploying a driver. In that case, provisioning new volumes with late binding will pause until the driver deployment has published some suitable CSIStorageCapacity object.\n\nAlternatively, the driver can be deployed with the field unset or false and it can be flipped later when storage capacity information has been published.\n\nThis field was immutable in Kubernetes <= 1.22 and now is mutable.";
    /// `storage/v1` CSIDriverSpec.tokenRequests
    pub const CSI_DRIVER_SPEC_TOKEN_REQUESTS: &str = "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication. Kubelet will pass the tokens in VolumeContext in the CSI NodePublishVolume calls. The CSI driver should parse and validate the following VolumeContext: \"csi.storage.k8s.io/serviceAccount.tokens\": {\n  \"<audience>\": {\n    \"token\": <token>,\n    \"expirationTimestamp\": <expiration timestamp in RFC3339>,\n  },\n  ...\n}\n\nNote: Audience in each TokenRequest should be different and at most one token is empty string. To receive a new token after expiry, RequiresRepublish can be used to trigger NodePublishVolume periodically.";
    /// `storage/v1` CSIDriverSpec.requiresRepublish
    pub const CSI_DRIVER_SPEC_REQUIRES_REPUBLISH: &str = "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume. This field defaults to false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls to NodePublishVolume should only update the contents of the volume. New mount points will not be seen by a running container.";
    /// `storage/v1` CSIDriverSpec.volumeLifecycleModes
    pub const CSI_DRIVER_SPEC_VOLUME_LIFECYCLE_MODES: &str = "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The default if the list is empty is \"Persistent\", which is the usage defined by the CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe other mode is \"Ephemeral\". In this mode, volumes are defined inline inside the pod spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A driver has to be aware of this because it is only going to get a NodePublishVolume call for such a volume.\n\nFor more information about implementing this mode, see https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support one or more of these modes and more modes may be added in the future.\n\nThis field is beta. This field is immutable.";
    /// `networking/v1beta1` ServiceCIDRSpec.cidrs
    pub const SERVICE_CIDR_SPEC_CIDRS: &str = "CIDRs defines the IP blocks in CIDR notation (e.g. \"192.168.0.0/24\" or \"2001:db8::/64\") from which to assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable.";
    /// `networking/v1beta1` IPAddressSpec.parentRef
    pub const IP_ADDRESS_SPEC_PARENT_REF: &str = "ParentRef references the resource that an IPAddress is attached to. An IPAddress must reference a parent object.";
    /// `storage/v1` CSIStorageCapacity.storageClassName
    pub const CSI_STORAGE_CAPACITY_STORAGE_CLASS_NAME: &str = "storageClassName represents the name of the StorageClass that the reported capacity applies to. It must meet the same requirements as the name of a StorageClass object (non-empty, DNS subdomain). If that object no longer exists, the CSIStorageCapacity object is obsolete and should be removed by its creator. This field is immutable.";
    /// `storage/v1` CSIStorageCapacity.capacity
    pub const CSI_STORAGE_CAPACITY_CAPACITY: &str = "capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest with topology and parameters that match the previous fields.\n\nThe semantic is currently (CSI spec 1.2) defined as: The available capacity, in bytes, of the storage that can be used to provision volumes. If not set, that information is currently unavailable.";
    /// `storage/v1beta1` VolumeAttributesClass.driverName
    pub const VOLUME_ATTRIBUTES_CLASS_DRIVER_NAME: &str = "Name of the CSI driver This field is immutable.";
    /// `coordination/v1alpha2` LeaseCandidateSpec.leaseName
    pub const LEASE_CANDIDATE_SPEC_LEASE_NAME: &str =
        "LeaseName is the name of the lease for which this candidate is contending. This field is immutable.";
    /// `certificates/v1alpha1` ClusterTrustBundleSpec.signerName
    pub const CLUSTER_TRUST_BUNDLE_SPEC_SIGNER_NAME: &str = "signerName indicates the associated signer, if any.\n\nIn order to create or update a ClusterTrustBundle that sets signerName, you must have the following cluster-scoped permission: group=certificates.k8s.io resource=signers resourceName=<the signer name> verb=attest.\n\nIf signerName is not empty, then the ClusterTrustBundle object must be named with the signer name as a prefix (translating slashes to colons). For example, for the signer name `example.com/foo`, valid ClusterTrustBundle object names include `example.com:foo:abc` and `example.com:foo:v1`.\n\nIf signerName is empty, then the ClusterTrustBundle object's name must not have such a prefix.\n\nList/watch requests for ClusterTrustBundles can filter on this field using a `spec.signerName=NAME` field selector.";
    /// `flowcontrol/v1` PriorityLevelConfigurationReference.name
    pub const PRIORITY_LEVEL_CONFIGURATION_REFERENCE_NAME: &str =
        "`name` is the name of the priority level configuration being referenced Required.";
    /// `flowcontrol/v1` FlowSchemaSpec.matchingPrecedence
    pub const FLOW_SCHEMA_SPEC_MATCHING_PRECEDENCE: &str = "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request. The chosen FlowSchema is among those with the numerically lowest (which we take to be logically highest) MatchingPrecedence.  Each MatchingPrecedence value must be ranged in [1,10000]. Note that if the precedence is not specified, it will be set to 1000 as default.";
    /// `flowcontrol/v1` FlowSchemaSpec.distinguisherMethod
    pub const FLOW_SCHEMA_SPEC_DISTINGUISHER_METHOD: &str = "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty string.";
    /// `flowcontrol/v1` PriorityLevelConfigurationSpec.type
    pub const PRIORITY_LEVEL_CONFIGURATION_SPEC_TYPE: &str = "`type` indicates whether this priority level is subject to limitation on request execution.  A value of `\"Exempt\"` means that requests of this priority level are not subject to a limit (and thus are never queued) and do not detract from the capacity made available to other priority levels.  A value of `\"Limited\"` means that (a) requests of this priority level _are_ subject to limits and (b) some of the server's limited capacity is made available exclusively to this priority level. Required.";
    /// `flowcontrol/v1` LimitedPriorityLevelConfiguration.nominalConcurrencyShares
    pub const LIMITED_PRIORITY_LEVEL_CONFIGURATION_NOMINAL_CONCURRENCY_SHARES: &str = "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level. This is the number of execution seats available at this priority level. This is used both for requests dispatched from this priority level as well as requests dispatched from other priority levels borrowing seats from this level. The server's concurrency limit (ServerCL) is divided among the Limited priority levels in proportion to their NCS values:\n\nNominalCL(i)  = ceil( ServerCL * NCS(i) / sum_ncs ) sum_ncs = sum[priority level k] NCS(k)\n\nBigger numbers mean a larger nominal concurrency limit, at the expense of every other priority level.\n\nIf not specified, this field defaults to a value of 30.\n\nSetting this field to zero supports the construction of a \"jail\" for this priority level that is used to hold some request(s)";
    /// `flowcontrol/v1` QueuingConfiguration.queues
    pub const QUEUING_CONFIGURATION_QUEUES: &str = "`queues` is the number of queues for this priority level. The queues exist independently at each apiserver. The value must be positive.  Setting it to 1 effectively precludes shufflesharding and thus makes the distinguisher method of associated flow schemas irrelevant.  This field has a default value of 64.";
    /// `flowcontrol/v1` QueuingConfiguration.handSize
    pub const QUEUING_CONFIGURATION_HAND_SIZE: &str = "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.  When enqueuing a request at this priority level the request's flow identifier (a string pair) is hashed and the hash value is used to shuffle the list of queues and deal a hand of the size specified here.  The request is put into one of the shortest queues in that hand. `handSize` must be no larger than `queues`, and should be significantly smaller (so that a few heavy flows do not saturate most of the queues).  See the user-facing documentation for more extensive guidance on setting this field.  This field has a default value of 8.";
    /// `flowcontrol/v1` QueuingConfiguration.queueLengthLimit
    pub const QUEUING_CONFIGURATION_QUEUE_LENGTH_LIMIT: &str = "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time; excess requests are rejected.  This value must be positive.  If not specified, it will be defaulted to 50.";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-02T03:04:05Z, the server clock in every case.
    const NOW: i64 = 1_704_164_645;

    /// A timestamp `secs` before `NOW`.
    fn ago(secs: i64) -> String {
        time::format_rfc3339(NOW - secs)
    }

    /// One expectation: the row a kind's printer gives for an object.
    struct Case {
        label: &'static str,
        group: &'static str,
        kind: &'static str,
        object: Value,
        cells: Value,
    }

    fn case(label: &'static str, group: &'static str, kind: &'static str, object: Value, cells: Value) -> Case {
        Case { label, group, kind, object, cells }
    }

    /// Checks each case's cells, and that a row has one cell per column.
    fn check(cases: Vec<Case>) {
        for case in cases {
            let got = Value::Array(cells(case.group, case.kind, &case.object, NOW));
            assert_eq!(got, case.cells, "{}", case.label);
            assert_eq!(
                columns(case.group, case.kind).len(),
                got.as_array().map_or(0, Vec::len),
                "{}: one cell per column",
                case.label
            );
        }
    }

    fn pod_with(status: Value) -> Value {
        json!({
            "metadata": {"name": "web", "creationTimestamp": ago(300)},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status,
        })
    }

    /// The five always-shown pod cells followed by the four wide ones with nothing assigned.
    fn pod_row(ready: &str, status: &str, restarts: &str) -> Value {
        json!(["web", ready, status, restarts, "5m", "<none>", "<none>", "<none>", "<none>"])
    }

    #[test]
    fn pod_status_ready_and_restarts() {
        check(vec![
            case("pending", "", "Pod", pod_with(json!({"phase": "Pending"})), pod_row("0/1", "Pending", "0")),
            case(
                "no status at all reads as a new pod",
                "",
                "Pod",
                pod_with(json!(null)),
                pod_row("0/1", "Pending", "0"),
            ),
            case(
                "waiting reason",
                "",
                "Pod",
                pod_with(json!({"phase": "Pending", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "ContainerCreating"}}}]})),
                pod_row("0/1", "ContainerCreating", "0"),
            ),
            case(
                "crash loop with last restart time",
                "",
                "Pod",
                pod_with(json!({"phase": "Running", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 5,
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(30)}},
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})),
                pod_row("0/1", "CrashLoopBackOff", "5 (30s ago)"),
            ),
            case(
                "restarts without a termination time print bare",
                "",
                "Pod",
                pod_with(json!({"phase": "Running", "containerStatuses": [
                    {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}}}]})),
                pod_row("1/1", "Running", "2"),
            ),
            case(
                "completed",
                "",
                "Pod",
                pod_with(json!({"phase": "Succeeded", "containerStatuses": [
                    {"name": "app", "ready": false,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})),
                pod_row("0/1", "Completed", "0"),
            ),
            case(
                "exit code and signal without a reason",
                "",
                "Pod",
                pod_with(json!({"phase": "Failed", "containerStatuses": [
                    {"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}},
                    {"name": "b", "state": {"terminated": {"exitCode": 2}}}]})),
                pod_row("0/1", "Signal:9", "0"),
            ),
            case(
                "init container running",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300)},
                    "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]},
                    "status": {"phase": "Pending",
                        "initContainerStatuses": [{"name": "init", "state": {"running": {}}}],
                        "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}]},
                }),
                pod_row("0/1", "Init:0/1", "0"),
            ),
            case(
                "init container crashing",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300)},
                    "spec": {"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "app"}]},
                    "status": {"phase": "Pending", "initContainerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0}}},
                        {"name": "b", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
                }),
                pod_row("0/1", "Init:CrashLoopBackOff", "3"),
            ),
            case(
                "init container failed",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300)},
                    "spec": {"initContainers": [{"name": "a"}], "containers": [{"name": "app"}]},
                    "status": {"phase": "Failed", "initContainerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
                }),
                pod_row("0/1", "Init:Error", "0"),
            ),
            case(
                "sidecar counts toward ready and total",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300)},
                    "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                             "containers": [{"name": "app"}]},
                    "status": {"phase": "Running",
                        "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                        "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1,
                            "state": {"running": {}}}],
                        "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]},
                }),
                pod_row("2/2", "Running", "1"),
            ),
            case(
                "terminating",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300), "deletionTimestamp": ago(0)},
                    "spec": {"containers": [{"name": "app"}]},
                    "status": {"phase": "Running", "containerStatuses": [
                        {"name": "app", "ready": true, "state": {"running": {}}}]},
                }),
                pod_row("1/1", "Terminating", "0"),
            ),
            case(
                "a finished pod being deleted keeps its status",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300), "deletionTimestamp": ago(0)},
                    "spec": {"containers": [{"name": "app"}]},
                    "status": {"phase": "Succeeded", "containerStatuses": [
                        {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]},
                }),
                pod_row("0/1", "Completed", "0"),
            ),
            case(
                "node lost",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300), "deletionTimestamp": ago(0)},
                    "spec": {"containers": [{"name": "app"}]},
                    "status": {"phase": "Running", "reason": "NodeLost"},
                }),
                pod_row("0/1", "Unknown", "0"),
            ),
            case(
                "scheduling gated",
                "",
                "Pod",
                pod_with(json!({"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})),
                pod_row("0/1", "SchedulingGated", "0"),
            ),
            case(
                "completed next to running is Running when the pod is ready",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300)},
                    "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                        "containerStatuses": [
                            {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                            {"name": "b", "ready": true, "state": {"running": {}}}]},
                }),
                pod_row("1/2", "Running", "0"),
            ),
            case(
                "completed next to running is NotReady otherwise",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300)},
                    "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                    "status": {"phase": "Running", "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "b", "ready": true, "state": {"running": {}}}]},
                }),
                pod_row("1/2", "NotReady", "0"),
            ),
            case(
                "wide cells and readiness gates",
                "",
                "Pod",
                json!({
                    "metadata": {"name": "web", "creationTimestamp": ago(300)},
                    "spec": {"nodeName": "node-1", "containers": [{"name": "a"}, {"name": "b"}],
                             "readinessGates": [{"conditionType": "x/ok"}, {"conditionType": "y/ok"}]},
                    "status": {"phase": "Running", "podIP": "10.42.0.9", "podIPs": [{"ip": "10.42.0.9"}, {"ip": "fd00::9"}],
                        "nominatedNodeName": "node-2",
                        "conditions": [{"type": "x/ok", "status": "True"}, {"type": "y/ok", "status": "False"}],
                        "containerStatuses": [
                            {"name": "a", "ready": true, "state": {"running": {}}},
                            {"name": "b", "ready": false, "state": {"running": {}}}]},
                }),
                json!(["web", "1/2", "Running", "0", "5m", "10.42.0.9", "node-1", "node-2", "1/2"]),
            ),
        ]);
    }

    fn service_with(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "svc", "creationTimestamp": ago(3 * 86_400)}, "spec": spec, "status": status})
    }

    #[test]
    fn service_types() {
        check(vec![
            case(
                "cluster ip",
                "",
                "Service",
                service_with(
                    json!({"type": "ClusterIP", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 9153, "protocol": "TCP"}],
                    "selector": {"k8s-app": "kube-dns"}}),
                    json!({}),
                ),
                json!(["svc", "ClusterIP", "10.43.0.10", "<none>", "53/UDP,9153/TCP", "3d", "k8s-app=kube-dns"]),
            ),
            case(
                "defaults: type, protocol and clusterIPs filled as on write",
                "",
                "Service",
                service_with(json!({"clusterIP": "10.43.0.1", "ports": [{"port": 443}]}), json!(null)),
                json!(["svc", "ClusterIP", "10.43.0.1", "<none>", "443/TCP", "3d", "<none>"]),
            ),
            case(
                "node port with external ips",
                "",
                "Service",
                service_with(
                    json!({"type": "NodePort", "clusterIPs": ["10.43.1.2"], "externalIPs": ["1.2.3.4", "5.6.7.8"],
                    "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
                    "selector": {"b": "2", "a": "1"}}),
                    json!({}),
                ),
                json!(["svc", "NodePort", "10.43.1.2", "1.2.3.4,5.6.7.8", "80:30080/TCP", "3d", "a=1,b=2"]),
            ),
            case(
                "load balancer with ingress addresses, sorted and deduplicated",
                "",
                "Service",
                service_with(
                    json!({"type": "LoadBalancer", "clusterIPs": ["10.43.1.3"],
                    "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}),
                    json!({"loadBalancer": {"ingress": [
                        {"ip": "192.168.1.11"}, {"ip": "192.168.1.10"}, {"ip": "192.168.1.10"},
                        {"hostname": "lb.example.com"}]}}),
                ),
                json!([
                    "svc",
                    "LoadBalancer",
                    "10.43.1.3",
                    "192.168.1.10,192.168.1.11,lb.example.com",
                    "443:31443/TCP",
                    "3d",
                    "<none>"
                ]),
            ),
            case(
                "load balancer still pending",
                "",
                "Service",
                service_with(
                    json!({"type": "LoadBalancer", "clusterIPs": ["10.43.1.3"],
                    "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}]}),
                    json!({"loadBalancer": {}}),
                ),
                json!(["svc", "LoadBalancer", "10.43.1.3", "<pending>", "80:30001/TCP", "3d", "<none>"]),
            ),
            case(
                "load balancer plus external ips",
                "",
                "Service",
                service_with(
                    json!({"type": "LoadBalancer", "clusterIPs": ["10.43.1.3"], "externalIPs": ["9.9.9.9"]}),
                    json!({"loadBalancer": {"ingress": [{"ip": "192.168.1.10"}]}}),
                ),
                json!(["svc", "LoadBalancer", "10.43.1.3", "192.168.1.10,9.9.9.9", "<none>", "3d", "<none>"]),
            ),
            case(
                "external name",
                "",
                "Service",
                service_with(json!({"type": "ExternalName", "externalName": "db.example.com"}), json!({})),
                json!(["svc", "ExternalName", "<none>", "db.example.com", "<none>", "3d", "<none>"]),
            ),
            case(
                "headless",
                "",
                "Service",
                service_with(
                    json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"],
                    "ports": [{"port": 5432, "protocol": "TCP"}]}),
                    json!({}),
                ),
                json!(["svc", "ClusterIP", "None", "<none>", "5432/TCP", "3d", "<none>"]),
            ),
        ]);
    }

    #[test]
    fn workloads() {
        check(vec![
            case(
                "deployment",
                "apps",
                "Deployment",
                json!({"metadata": {"name": "web", "creationTimestamp": ago(7200)},
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]},
                                             {"key": "canary", "operator": "DoesNotExist"}]},
                        "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"},
                                                            {"name": "log", "image": "busybox"}]}}},
                    "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
                json!(["web", "2/3", 3, 2, "120m", "nginx,log", "nginx:1.27,busybox", "app=web,!canary,tier in (a,b)"]),
            ),
            case(
                "deployment defaults replicas and prints an empty selector as nothing",
                "apps",
                "Deployment",
                json!({"metadata": {"name": "web"}, "spec": {}}),
                json!(["web", "0/1", 0, 0, "<unknown>", "", "", ""]),
            ),
            case(
                "deployment with an invalid selector",
                "apps",
                "Deployment",
                json!({"metadata": {"name": "web", "creationTimestamp": ago(5)},
                    "spec": {"replicas": 1, "selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}}),
                json!(["web", "0/1", 0, 0, "5s", "", "", "<invalid>"]),
            ),
            case(
                "replica set",
                "apps",
                "ReplicaSet",
                json!({"metadata": {"name": "web-abc", "creationTimestamp": ago(60)},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
                    "status": {"replicas": 2, "readyReplicas": 1}}),
                json!(["web-abc", 2, 2, 1, "60s", "", "", "app=web"]),
            ),
            case(
                "stateful set",
                "apps",
                "StatefulSet",
                json!({"metadata": {"name": "db", "creationTimestamp": ago(60)},
                    "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "pg", "image": "postgres"}]}}},
                    "status": {"readyReplicas": 3}}),
                json!(["db", "3/3", "60s", "pg", "postgres"]),
            ),
            case(
                "daemon set",
                "apps",
                "DaemonSet",
                json!({"metadata": {"name": "svclb", "creationTimestamp": ago(60)},
                    "spec": {"selector": {"matchLabels": {"app": "svclb"}},
                        "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                            "containers": [{"name": "lb", "image": "klipper-lb"}]}}},
                    "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                               "updatedNumberScheduled": 3, "numberAvailable": 2}}),
                json!(["svclb", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "60s", "lb", "klipper-lb", "app=svclb"]),
            ),
            case(
                "controller revision owned by a daemon set",
                "apps",
                "ControllerRevision",
                json!({"metadata": {"name": "svclb-7d9", "creationTimestamp": ago(60), "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Pod", "name": "other"},
                        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "svclb", "controller": true}]},
                    "revision": 4}),
                json!(["svclb-7d9", "daemonset.apps/svclb", 4, "60s"]),
            ),
        ]);
    }

    #[test]
    fn jobs_and_cron_jobs() {
        let job = |spec: Value, status: Value| {
            json!({"metadata": {"name": "pi", "creationTimestamp": ago(600)},
                "spec": spec, "status": status})
        };
        check(vec![
            case(
                "running job",
                "batch",
                "Job",
                job(
                    json!({"completions": 3, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
                           "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}}),
                    json!({"succeeded": 1, "startTime": ago(125)}),
                ),
                json!(["pi", "Running", "1/3", "2m5s", "10m", "pi", "perl", "batch.kubernetes.io/controller-uid=u1"]),
            ),
            case(
                "completed job measures start to completion",
                "batch",
                "Job",
                job(
                    json!({"completions": 1}),
                    json!({"succeeded": 1, "startTime": ago(500), "completionTime": ago(455),
                           "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                          {"type": "Complete", "status": "True"}]}),
                ),
                json!(["pi", "Complete", "1/1", "45s", "10m", "", "", "<none>"]),
            ),
            case(
                "work queue job with parallelism",
                "batch",
                "Job",
                job(json!({"parallelism": 3}), json!({})),
                json!(["pi", "Running", "0/1 of 3", "", "10m", "", "", "<none>"]),
            ),
            case(
                "failed job",
                "batch",
                "Job",
                job(
                    json!({"completions": 2}),
                    json!({"failed": 7, "startTime": ago(300),
                    "conditions": [{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]}),
                ),
                json!(["pi", "Failed", "0/2", "5m", "10m", "", "", "<none>"]),
            ),
            case(
                "suspended job",
                "batch",
                "Job",
                job(
                    json!({"completions": 2, "suspend": true}),
                    json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
                ),
                json!(["pi", "Suspended", "0/2", "", "10m", "", "", "<none>"]),
            ),
            case(
                "cron job",
                "batch",
                "CronJob",
                json!({"metadata": {"name": "backup", "creationTimestamp": ago(86_400)},
                    "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                        "containers": [{"name": "backup", "image": "restic"}]}}}}},
                    "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": ago(60)}}),
                json!(["backup", "*/5 * * * *", "<none>", "False", 1, "60s", "24h", "backup", "restic", "<none>"]),
            ),
            case(
                "suspended cron job with a time zone that never ran",
                "batch",
                "CronJob",
                json!({"metadata": {"name": "backup", "creationTimestamp": ago(86_400)},
                    "spec": {"schedule": "@daily", "timeZone": "Europe/Paris", "suspend": true}}),
                json!(["backup", "@daily", "Europe/Paris", "True", 0, "<none>", "24h", "", "", "<none>"]),
            ),
        ]);
    }

    #[test]
    fn nodes() {
        let node = |labels: Value, spec: Value, conditions: Value| {
            json!({"metadata": {"name": "n1", "creationTimestamp": ago(10 * 86_400), "labels": labels},
                "spec": spec,
                "status": {"conditions": conditions,
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "n1"}],
                    "nodeInfo": {"kubeletVersion": "v1.33.1+k3s1", "osImage": "Ubuntu 24.04",
                                 "kernelVersion": "6.8.0", "containerRuntimeVersion": "containerd://2.0.5"}}})
        };
        let ready = json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]);
        let tail = |status: &str, roles: &str| {
            json!([
                "n1",
                status,
                roles,
                "10d",
                "v1.33.1+k3s1",
                "10.0.0.5",
                "<none>",
                "Ubuntu 24.04",
                "6.8.0",
                "containerd://2.0.5"
            ])
        };
        check(vec![
            case(
                "control plane roles from labels, sorted",
                "",
                "Node",
                node(
                    json!({"node-role.kubernetes.io/master": "true", "node-role.kubernetes.io/control-plane": "true",
                            "node-role.kubernetes.io/etcd": "true", "node-role.kubernetes.io/": "ignored",
                            "kubernetes.io/hostname": "n1"}),
                    json!({}),
                    ready.clone(),
                ),
                tail("Ready", "control-plane,etcd,master"),
            ),
            case(
                "legacy role label merges with prefixed ones, sorted and deduplicated; cordoned",
                "",
                "Node",
                node(
                    json!({"kubernetes.io/role": "worker", "node-role.kubernetes.io/agent": "true",
                           "node-role.kubernetes.io/worker": ""}),
                    json!({"unschedulable": true}),
                    ready,
                ),
                tail("Ready,SchedulingDisabled", "agent,worker"),
            ),
            case(
                "not ready without roles",
                "",
                "Node",
                node(json!({}), json!({}), json!([{"type": "Ready", "status": "Unknown"}])),
                tail("NotReady", "<none>"),
            ),
            case(
                "no conditions yet",
                "",
                "Node",
                node(json!(null), json!(null), json!(null)),
                tail("Unknown", "<none>"),
            ),
        ]);
    }

    #[test]
    fn events_in_both_api_groups() {
        check(vec![
            case(
                "core event with a count",
                "",
                "Event",
                json!({"metadata": {"name": "web.17a"}, "type": "Warning", "reason": "BackOff",
                    "message": " Back-off restarting failed container \n", "count": 12,
                    "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
                    "source": {"component": "kubelet", "host": "n1"},
                    "firstTimestamp": ago(3600), "lastTimestamp": ago(20)}),
                json!([
                    "20s",
                    "Warning",
                    "BackOff",
                    "pod/web",
                    "spec.containers{app}",
                    "kubelet, n1",
                    "Back-off restarting failed container",
                    "60m",
                    12,
                    "web.17a"
                ]),
            ),
            case(
                "singleton event from the new API, stored through core",
                "",
                "Event",
                json!({"metadata": {"name": "e1"}, "type": "Normal", "reason": "Scheduled", "message": "ok",
                    "involvedObject": {"kind": "Pod", "name": "web"},
                    "eventTime": "2024-01-02T03:03:05.123456Z", "reportingController": "default-scheduler"}),
                // 59.876544 seconds ago: like Go, the fraction is cut, not rounded.
                json!(["59s", "Normal", "Scheduled", "pod/web", "", "default-scheduler", "ok", "59s", 1, "e1"]),
            ),
            case(
                "events.k8s.io event with a series",
                "events.k8s.io",
                "Event",
                json!({"metadata": {"name": "e2"}, "type": "Warning", "reason": "Unhealthy", "note": "probe failed",
                    "regarding": {"kind": "Pod", "name": "db"}, "reportingController": "kubelet",
                    "reportingInstance": "n2", "eventTime": time::format_rfc3339_micros(NOW - 600, 0),
                    "series": {"count": 4, "lastObservedTime": "2024-01-02T03:03:35.000000Z"}}),
                json!(["30s", "Warning", "Unhealthy", "pod/db", "", "kubelet, n2", "probe failed", "10m", 4, "e2"]),
            ),
            case(
                "event about a cluster-scoped kind without a name",
                "",
                "Event",
                json!({"metadata": {"name": "e3"}, "involvedObject": {"kind": "Node"}}),
                json!(["<unknown>", "", "", "node", "", "", "", "<unknown>", 1, "e3"]),
            ),
        ]);
    }

    #[test]
    fn config_storage_and_networking() {
        check(vec![
            case(
                "secret",
                "",
                "Secret",
                json!({"metadata": {"name": "tls", "creationTimestamp": ago(90)}, "type": "kubernetes.io/tls",
                    "data": {"tls.crt": "", "tls.key": ""}}),
                json!(["tls", "kubernetes.io/tls", 2, "90s"]),
            ),
            case(
                "secret type defaults to Opaque",
                "",
                "Secret",
                json!({"metadata": {"name": "s"}}),
                json!(["s", "Opaque", 0, "<unknown>"]),
            ),
            case(
                "config map counts binary data too",
                "",
                "ConfigMap",
                json!({"metadata": {"name": "cm", "creationTimestamp": ago(90)}, "data": {"a": "1"}, "binaryData": {"b": ""}}),
                json!(["cm", 2, "90s"]),
            ),
            case(
                "namespace",
                "",
                "Namespace",
                json!({"metadata": {"name": "kube-system", "creationTimestamp": ago(90)}, "status": {"phase": "Active"}}),
                json!(["kube-system", "Active", "90s"]),
            ),
            case(
                "bound claim shows the volume's canonical capacity",
                "",
                "PersistentVolumeClaim",
                json!({"metadata": {"name": "data", "creationTimestamp": ago(90)},
                    "spec": {"volumeName": "pvc-1", "storageClassName": "local-path", "accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}},
                    "status": {"phase": "Bound", "capacity": {"storage": "1024Mi"},
                               "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]}}),
                json!(["data", "Bound", "pvc-1", "1Gi", "RWO,RWX", "local-path", "<unset>", "90s", "Filesystem"]),
            ),
            case(
                "pending claim shows no capacity",
                "",
                "PersistentVolumeClaim",
                json!({"metadata": {"name": "data", "creationTimestamp": ago(90),
                        "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
                    "spec": {"storageClassName": "new", "volumeMode": "Block"}, "status": {"phase": "Pending"}}),
                json!(["data", "Pending", "", "", "", "old", "<unset>", "90s", "Block"]),
            ),
            case(
                "volume",
                "",
                "PersistentVolume",
                json!({"metadata": {"name": "pvc-1", "creationTimestamp": ago(90)},
                    "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                             "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "local-path",
                             "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
                    "status": {"phase": "Bound"}}),
                json!([
                    "pvc-1",
                    "5Gi",
                    "RWO",
                    "Delete",
                    "Bound",
                    "default/data",
                    "local-path",
                    "<unset>",
                    "",
                    "90s",
                    "Filesystem"
                ]),
            ),
            case(
                "ingress",
                "networking.k8s.io",
                "Ingress",
                json!({"metadata": {"name": "web", "creationTimestamp": ago(90)},
                    "spec": {"ingressClassName": "traefik", "tls": [{"hosts": ["a.example.com"]}],
                             "rules": [{"host": "a.example.com"}, {}, {"host": "b.example.com"}, {"host": "c.example.com"},
                                       {"host": "d.example.com"}]},
                    "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.20"}, {"ip": "192.168.1.10"}]}}}),
                json!([
                    "web",
                    "traefik",
                    "a.example.com,b.example.com,c.example.com + 2 more...",
                    "192.168.1.10,192.168.1.20",
                    "80, 443",
                    "90s"
                ]),
            ),
            case(
                "ingress without class, hosts or address",
                "networking.k8s.io",
                "Ingress",
                json!({"metadata": {"name": "web", "creationTimestamp": ago(90)}, "spec": {"rules": [{}]}}),
                json!(["web", "<none>", "*", "", "80", "90s"]),
            ),
            case(
                "ingress class with parameters",
                "networking.k8s.io",
                "IngressClass",
                json!({"metadata": {"name": "traefik", "creationTimestamp": ago(90)},
                    "spec": {"controller": "traefik.io/ingress-controller",
                             "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}),
                json!(["traefik", "traefik.io/ingress-controller", "IngressParameters.k8s.example.com/p", "90s"]),
            ),
            case(
                "network policy selecting everything",
                "networking.k8s.io",
                "NetworkPolicy",
                json!({"metadata": {"name": "deny", "creationTimestamp": ago(90)}, "spec": {"podSelector": {}}}),
                json!(["deny", "<none>", "90s"]),
            ),
            case(
                "endpoints, capped at three",
                "",
                "Endpoints",
                json!({"metadata": {"name": "web", "creationTimestamp": ago(90)}, "subsets": [
                    {"addresses": [{"ip": "10.42.0.1"}, {"ip": "fd00::2"}], "ports": [{"port": 80}, {"port": 443}]}]}),
                json!(["web", "10.42.0.1:80,[fd00::2]:80,10.42.0.1:443 + 1 more...", "90s"]),
            ),
            case(
                "endpoints without subsets",
                "",
                "Endpoints",
                json!({"metadata": {"name": "web", "creationTimestamp": ago(90)}}),
                json!(["web", "<none>", "90s"]),
            ),
            case(
                "endpoint slice",
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"metadata": {"name": "web-x", "creationTimestamp": ago(90)}, "addressType": "IPv4",
                    "ports": [{"port": 80, "name": "http"}, {"name": "metrics"}, {}],
                    "endpoints": [{"addresses": ["10.42.0.1"]}, {"addresses": ["10.42.0.2", "10.42.0.3", "10.42.0.4"]}]}),
                json!(["web-x", "IPv4", "80,metrics,*", "10.42.0.1,10.42.0.2,10.42.0.3 + 1 more...", "90s"]),
            ),
            case(
                "empty endpoint slice",
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"metadata": {"name": "web-x", "creationTimestamp": ago(90)}, "addressType": "IPv4"}),
                json!(["web-x", "IPv4", "<unset>", "<unset>", "90s"]),
            ),
            case(
                "default storage class",
                "storage.k8s.io",
                "StorageClass",
                json!({"metadata": {"name": "local-path", "creationTimestamp": ago(90),
                        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                    "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}),
                json!([
                    "local-path (default)",
                    "rancher.io/local-path",
                    "Delete",
                    "WaitForFirstConsumer",
                    false,
                    "90s"
                ]),
            ),
            case(
                "csi driver defaults",
                "storage.k8s.io",
                "CSIDriver",
                json!({"metadata": {"name": "csi.example.com", "creationTimestamp": ago(90)}, "spec": {}}),
                json!(["csi.example.com", true, false, false, "<unset>", false, "Persistent", "90s"]),
            ),
            case(
                "resource quota splits limits from requests",
                "",
                "ResourceQuota",
                json!({"metadata": {"name": "q", "creationTimestamp": ago(90)},
                    "status": {"hard": {"requests.cpu": "2", "limits.memory": "2048Mi", "pods": "10", "limits": "1"},
                               "used": {"requests.cpu": "500m", "limits.memory": "512Mi"}}}),
                json!(["q", "limits: 0/1, pods: 0/10, requests.cpu: 500m/2", "limits.memory: 512Mi/2Gi", "90s"]),
            ),
        ]);
    }

    #[test]
    fn autoscaling_policy_rbac_and_the_rest() {
        check(vec![
            case(
                "hpa v2 with several metrics",
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"apiVersion": "autoscaling/v2", "metadata": {"name": "web", "creationTimestamp": ago(90)},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10,
                        "metrics": [
                            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                            {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}}]},
                    "status": {"currentReplicas": 3, "currentMetrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}]}}),
                json!([
                    "web",
                    "Deployment/web",
                    "cpu: 35%/60%, memory: <unknown>/512Mi + 1 more...",
                    "2",
                    10,
                    3,
                    "90s"
                ]),
            ),
            case(
                "hpa v1 converts its cpu target",
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"apiVersion": "autoscaling/v1", "metadata": {"name": "web", "creationTimestamp": ago(90)},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
                             "targetCPUUtilizationPercentage": 70},
                    "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12}}),
                json!(["web", "Deployment/web", "cpu: 12%/70%", "1", 5, 1, "90s"]),
            ),
            case(
                "hpa without metrics defaults to 80% cpu",
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"metadata": {"name": "web", "creationTimestamp": ago(90)},
                    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}}),
                json!(["web", "Deployment/web", "cpu: <unknown>/80%", "1", 5, 0, "90s"]),
            ),
            case(
                "pod disruption budget",
                "policy",
                "PodDisruptionBudget",
                json!({"metadata": {"name": "pdb", "creationTimestamp": ago(90)},
                    "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}),
                json!(["pdb", "50%", "N/A", 1, "90s"]),
            ),
            case(
                "role binding subjects",
                "rbac.authorization.k8s.io",
                "RoleBinding",
                json!({"metadata": {"name": "rb", "creationTimestamp": ago(90)},
                    "roleRef": {"kind": "Role", "name": "reader"},
                    "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                                 {"kind": "Group", "name": "devs"},
                                 {"kind": "ServiceAccount", "namespace": "ci", "name": "runner"}]}),
                json!(["rb", "Role/reader", "90s", "alice, bob", "devs", "ci/runner"]),
            ),
            case(
                "roles use the default table",
                "rbac.authorization.k8s.io",
                "ClusterRole",
                json!({"metadata": {"name": "admin", "creationTimestamp": "2024-01-02T05:04:05+02:00"}}),
                json!(["admin", "2024-01-02T03:04:05Z"]),
            ),
            case(
                "default table without a creation time",
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"metadata": {"name": "widgets.example.com"}}),
                json!(["widgets.example.com", "0001-01-01T00:00:00Z"]),
            ),
            case(
                "certificate signing request",
                "certificates.k8s.io",
                "CertificateSigningRequest",
                json!({"metadata": {"name": "csr-1", "creationTimestamp": ago(90)},
                    "spec": {"signerName": "kubernetes.io/kubelet-serving", "username": "system:node:n1",
                             "expirationSeconds": 86_400},
                    "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}}),
                json!(["csr-1", "90s", "kubernetes.io/kubelet-serving", "system:node:n1", "24h", "Approved,Issued"]),
            ),
            case(
                "lease",
                "coordination.k8s.io",
                "Lease",
                json!({"metadata": {"name": "n1", "creationTimestamp": ago(90)}, "spec": {"holderIdentity": "n1"}}),
                json!(["n1", "n1", "90s"]),
            ),
            case(
                "priority class with defaulted preemption",
                "scheduling.k8s.io",
                "PriorityClass",
                json!({"metadata": {"name": "system-node-critical", "creationTimestamp": ago(90)}, "value": 2_000_001_000}),
                json!(["system-node-critical", 2_000_001_000, false, "90s", "PreemptLowerPriority"]),
            ),
            case(
                "runtime class",
                "node.k8s.io",
                "RuntimeClass",
                json!({"metadata": {"name": "nvidia", "creationTimestamp": ago(90)}, "handler": "nvidia"}),
                json!(["nvidia", "nvidia", "90s"]),
            ),
            case(
                "webhook configuration",
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
                json!({"metadata": {"name": "v", "creationTimestamp": ago(90)}, "webhooks": [{}, {}]}),
                json!(["v", 2, "90s"]),
            ),
            case(
                "admission policy binding by selector",
                "admissionregistration.k8s.io",
                "ValidatingAdmissionPolicyBinding",
                json!({"metadata": {"name": "b", "creationTimestamp": ago(90)},
                    "spec": {"policyName": "p", "paramRef": {"selector": {"matchLabels": {"z": "1", "a": "2"},
                        "matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}]}}}}),
                json!([
                    "b",
                    "p",
                    "&LabelSelector{MatchLabels:map[string]string{a: 2,z: 1,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}",
                    "90s"
                ]),
            ),
        ]);
        // IPAddress is checked on its own because its row is deliberately longer than its header.
        let row = cells(
            "networking.k8s.io",
            "IPAddress",
            &json!({"metadata": {"name": "10.43.0.1", "creationTimestamp": ago(90)},
                "spec": {"parentRef": {"resource": "services", "namespace": "default", "name": "kubernetes"}}}),
            NOW,
        );
        assert_eq!(Value::Array(row), json!(["10.43.0.1", "services/default/kubernetes", "90s"]));
    }

    #[test]
    fn column_definitions_match_upstream() {
        let shape = |group: &str, kind: &str| -> Vec<(&str, &str, &str, i32)> {
            columns(group, kind).iter().map(|c| (c.name, c.type_, c.format, c.priority)).collect()
        };
        assert_eq!(
            shape("", "Pod"),
            vec![
                ("Name", "string", "name", 0),
                ("Ready", "string", "", 0),
                ("Status", "string", "", 0),
                ("Restarts", "string", "", 0),
                ("Age", "string", "", 0),
                ("IP", "string", "", 1),
                ("Node", "string", "", 1),
                ("Nominated Node", "string", "", 1),
                ("Readiness Gates", "string", "", 1),
            ]
        );
        assert_eq!(
            shape("events.k8s.io", "Event"),
            vec![
                ("Last Seen", "string", "", 0),
                ("Type", "string", "", 0),
                ("Reason", "string", "", 0),
                ("Object", "string", "", 0),
                ("Subobject", "string", "", 1),
                ("Source", "string", "", 1),
                ("Message", "string", "", 0),
                ("First Seen", "string", "", 1),
                ("Count", "string", "", 1),
                ("Name", "string", "name", 1),
            ]
        );
        assert_eq!(
            shape("rbac.authorization.k8s.io", "Role"),
            vec![("Name", "string", "name", 0), ("Created At", "date", "", 0)]
        );
        assert_eq!(shape("", "LimitRange"), shape("example.com", "Widget"));
        assert_eq!(
            columns("batch", "CronJob").iter().map(|c| c.name).collect::<Vec<_>>(),
            [
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(columns("batch", "CronJob")[3].type_, "boolean");
        assert!(columns("", "Pod")[0].description.starts_with("Name must be unique within a namespace."));
        assert!(columns("", "Service")[3].description.starts_with("externalIPs is a list of IP addresses"));
        assert_eq!(columns("node.k8s.io", "RuntimeClass")[1].description, "");
    }

    #[test]
    fn quantities_print_canonically() {
        let cases = [
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("512Mi", "512Mi"),
            ("1000Mi", "1000Mi"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("0.5", "500m"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("2000M", "2G"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("10e2", "1e3"),
            ("0.1Ki", "102400m"),
            ("100Ki", "100Ki"),
            ("1023", "1023"),
            ("0.0000000001", "1n"),
            ("-1.5Gi", "-1536Mi"),
            ("+5", "+5"),
            ("0", "0"),
            ("000", "0"),
            (" 2Gi ", "2Gi"),
            ("12 apples", "12 apples"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(quantity(&json!(raw)), want, "{raw:?}");
        }
        assert_eq!(quantity(&json!(2048)), "2048");
        assert_eq!(quantity(&json!(4000)), "4k");
        assert_eq!(quantity(&Value::Null), "0");
        assert_eq!(quantity_or_nil(&Value::Null), "<nil>");
    }

    #[test]
    fn label_selectors_and_labels() {
        let cases = [
            (json!(null), "<none>"),
            (json!({}), "<none>"),
            (json!({"matchLabels": {"b": "2", "a": "1"}}), "a=1,b=2"),
            (
                json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]},
                                         {"key": "app", "operator": "Exists"}]}),
                "app,env notin (prod)",
            ),
            (json!({"matchExpressions": [{"key": "env", "operator": "In", "values": []}]}), "<error>"),
            (json!({"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["x"]}]}), "<error>"),
            (json!({"matchLabels": {"a": 1}}), "<error>"),
        ];
        for (selector, want) in cases {
            assert_eq!(format_label_selector(&selector), want, "{selector}");
        }
        // Labels sort as whole `key=value` strings, so `a-b=2` comes before `a=1`.
        let labels = json!({"a": "1", "a-b": "2"});
        assert_eq!(format_labels(labels.as_object()), "a-b=2,a=1");
        assert_eq!(format_labels(None), "<none>");
    }

    /// Every kind with a printer, for the robustness sweep.
    const KINDS: &[(&str, &str)] = &[
        ("", "Pod"),
        ("", "PodTemplate"),
        ("", "ReplicationController"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "Node"),
        ("", "Event"),
        ("", "Namespace"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ComponentStatus"),
        ("", "ConfigMap"),
        ("", "ResourceQuota"),
        ("", "LimitRange"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("networking.k8s.io", "IPAddress"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("events.k8s.io", "Event"),
        ("coordination.k8s.io", "Lease"),
        ("coordination.k8s.io", "LeaseCandidate"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSIStorageCapacity"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ];

    /// Malformed objects of every shape print a full row and never panic.
    #[test]
    fn malformed_objects_never_panic() {
        let everything_wrong = |leaf: Value| {
            let items = json!([leaf.clone(), null, 7, "x", [leaf.clone()], {"state": leaf.clone()}]);
            let mut object = Map::new();
            for key in [
                "metadata",
                "spec",
                "status",
                "subsets",
                "ports",
                "endpoints",
                "data",
                "binaryData",
                "type",
                "roleRef",
                "subjects",
                "webhooks",
                "conditions",
                "involvedObject",
                "regarding",
                "series",
                "count",
                "eventTime",
                "firstTimestamp",
                "lastTimestamp",
                "capacity",
                "revision",
                "value",
                "provisioner",
                "handler",
                "driverName",
                "secrets",
                "template",
                "apiVersion",
            ] {
                object.insert(key.to_string(), leaf.clone());
            }
            let mut nested = object.clone();
            for value in nested.values_mut() {
                *value = Value::Object(object.clone());
                if let Some(inner) = value.as_object_mut() {
                    for inner_value in inner.values_mut() {
                        *inner_value = items.clone();
                    }
                }
            }
            [Value::Object(object), Value::Object(nested), items]
        };
        let leaves = [
            json!(null),
            json!(-1),
            json!(u64::MAX),
            json!(1.5),
            json!(true),
            json!(""),
            json!("not a time"),
            json!("9999-12-31T23:59:59Z"),
            json!("0001-01-01T00:00:00Z"),
            json!([]),
            json!({}),
            json!({"terminated": {"exitCode": "0"}, "waiting": 3, "running": []}),
        ];
        for (group, kind) in KINDS {
            let width = columns(group, kind).len() + usize::from(*kind == "IPAddress");
            for leaf in &leaves {
                for object in everything_wrong(leaf.clone()) {
                    for now in [i64::MIN, -1, 0, NOW, i64::MAX] {
                        let row = cells(group, kind, &object, now);
                        assert_eq!(row.len(), width, "{group}/{kind} with {object}");
                    }
                }
            }
        }
    }
}
