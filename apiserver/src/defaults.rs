//! Kubernetes v1.33's built-in defaulting for objects held as JSON: what `SetDefaults_*` and the
//! generated `zz_generated.defaults.go` walkers fill in on every decode, the conversion
//! normalisations a v1 round trip shows (`stringData`, `serviceAccount`, `podIP(s)`, ...), and,
//! separately, the create-time values that k3s's default admission plugins and registry
//! strategies add (`apply_admission_defaults`, `apply_service_account`).
//!
//! It does not validate (a field of the wrong type is left for validation to reject), allocate
//! (cluster IPs, node ports, names), look anything up (LimitRanges, PriorityClasses (priority.rs),
//! the default IngressClass or StorageClass, RuntimeClass overhead), canonicalise
//! resource quantities, or mimic Go's rendering of zero-valued structs (`resources: {}`,
//! `status: {}`, `creationTimestamp: null` in templates): those belong to other layers.

use serde_json::{Map, Number, Value, json};

type Object = Map<String, Value>;

/// Applies the defaults upstream applies whenever a request body or a stored object of this
/// group, version and kind is decoded: on create, update, patch results and reads alike.
///
/// `group` is `""` (or `"core"`) for the core group. A `...List` kind defaults each of its items.
/// Kinds without built-in defaults, and anything that is not a JSON object, are left untouched.
pub fn apply_defaults(group: &str, version: &str, kind: &str, obj: &mut Value) {
    let Some(object) = obj.as_object_mut() else { return };
    if let Some(item_kind) = kind.strip_suffix("List").filter(|k| !k.is_empty()) {
        for item in object.get_mut("items").and_then(Value::as_array_mut).into_iter().flatten() {
            apply_defaults(group, version, item_kind, item);
        }
        return;
    }
    let group = if group == "core" { "" } else { group };
    match (group, version, kind) {
        ("", "v1", "Pod") => default_pod(object),
        ("", "v1", "PodTemplate") => default_pod_template_at(object, "template"),
        ("", "v1", "ReplicationController") => default_replication_controller(object),
        ("", "v1", "Service") => default_service(object),
        ("", "v1", "Namespace") => default_namespace(object),
        ("", "v1", "Secret") => default_secret(object),
        ("", "v1", "PersistentVolume") => default_persistent_volume(object),
        ("", "v1", "PersistentVolumeClaim") => default_persistent_volume_claim(object),
        ("", "v1", "Node") => default_node(object),
        ("", "v1", "LimitRange") => default_limit_range(object),
        ("", "v1", "Endpoints") => default_endpoints(object),
        ("apps", "v1", "Deployment") => default_deployment(object),
        ("apps", "v1", "StatefulSet") => default_stateful_set(object),
        ("apps", "v1", "DaemonSet") => default_daemon_set(object),
        ("apps", "v1", "ReplicaSet") => default_replica_set(object),
        ("batch", "v1", "Job") => default_job(object),
        ("batch", "v1", "CronJob") => default_cron_job(object),
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => default_hpa_v1(object),
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => default_hpa_v2(object),
        ("networking.k8s.io", "v1", "NetworkPolicy") => default_network_policy(object),
        ("networking.k8s.io", "v1", "IngressClass") => default_ingress_class(object),
        ("storage.k8s.io", "v1", "StorageClass") => default_storage_class(object),
        ("storage.k8s.io", "v1", "CSIDriver") => default_csi_driver(object),
        ("storage.k8s.io", "v1", "VolumeAttachment") => default_volume_attachment(object),
        ("scheduling.k8s.io", "v1", "PriorityClass") => {
            default_pointer(object, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        ("rbac.authorization.k8s.io", "v1", "RoleBinding" | "ClusterRoleBinding") => default_role_binding(object),
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => {
            default_webhook_configuration(object, false);
        }
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => {
            default_webhook_configuration(object, true);
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy") => default_admission_policy(object),
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding") => {
            default_admission_policy_binding(object);
        }
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => default_crd(object),
        ("apiregistration.k8s.io", "v1", "APIService") => {
            if let Some(service) = nested_object(object, &["spec", "service"]) {
                default_pointer(service, "port", json!(443));
            }
        }
        ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema") => {
            if let Some(spec) = object_field(object, "spec") {
                default_int(spec, "matchingPrecedence", 1000);
            }
        }
        ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration") => default_priority_level(object),
        ("discovery.k8s.io", "v1", "EndpointSlice") => {
            for port in each_object(object, "ports") {
                default_pointer(port, "name", json!(""));
                default_pointer(port, "protocol", json!("TCP"));
            }
        }
        _ => {}
    }
}

/// Applies what a k3s server's default admission plugins and registry strategies add to an object
/// being created, after `apply_defaults` has run on it and after the strategy has dropped any
/// client-sent status:
///
/// - Pod: ServiceAccount (`serviceAccountName: default`, not for mirror pods), DefaultTolerationSeconds
///   (not-ready and unreachable `NoExecute` for 300 s), the strategy's `status.phase: Pending` and
///   `status.qosClass`, and the `matchLabelKeys`/`mismatchLabelKeys` merge into pod (anti-)affinity
///   selectors. Priority reads the stored PriorityClasses and is priority.rs's.
/// - Node: TaintNodesByCondition's `node.kubernetes.io/not-ready:NoSchedule` taint.
/// - PersistentVolume(Claim): StorageObjectInUseProtection's protection finalizer.
/// - Namespace: the `kubernetes` finalizer, and the name label again for a generated name.
/// - Service: `clusterIPs` from `clusterIP`, `ipFamilyPolicy` and `ipFamilies` for a single-stack
///   IPv4 cluster (headless services without a selector get `RequireDualStack` and both families,
///   as upstream does even on a single-stack cluster).
/// - Job: the generated selector and `job-name`/`controller-uid` labels; needs `metadata.uid` and
///   `metadata.name` (generated names included) to be set already, and does nothing when
///   `spec.manualSelector` is true.
/// - DaemonSet: the `deprecated.daemonset.template.generation: "1"` annotation.
///
/// DefaultTolerationSeconds also runs on pod updates upstream; on update the caller keeps what the
/// stored object has.
pub fn apply_admission_defaults(group: &str, kind: &str, obj: &mut Value) {
    let Some(object) = obj.as_object_mut() else { return };
    let group = if group == "core" { "" } else { group };
    match (group, kind) {
        ("", "Pod") => admit_pod(object),
        ("", "Node") => admit_node(object),
        ("", "PersistentVolume") => add_finalizer(object, "kubernetes.io/pv-protection"),
        ("", "PersistentVolumeClaim") => add_finalizer(object, "kubernetes.io/pvc-protection"),
        ("", "Namespace") => {
            // A name from `generateName` exists only now, so its label is set again.
            default_namespace(object);
            if let Some(spec) = object_field(object, "spec") {
                add_to_string_list(spec, "finalizers", "kubernetes");
            }
        }
        ("", "Service") => admit_service(object),
        ("batch", "Job") => admit_job(object),
        ("apps", "DaemonSet") => {
            if let Some(annotations) = nested_object_field(object, &["metadata", "annotations"]) {
                default_pointer(annotations, "deprecated.daemonset.template.generation", json!("1"));
            }
        }
        _ => {}
    }
}

/// What the ServiceAccount admission plugin needs to know about a new pod's service account,
/// which the caller has looked up (upstream rejects the pod when it does not exist).
#[derive(Debug, Clone, Copy)]
pub struct ServiceAccountFacts<'a> {
    /// The ServiceAccount's own `automountServiceAccountToken`; the pod's field wins over it.
    pub automount_token: Option<bool>,
    /// The ServiceAccount's `imagePullSecrets`, copied to a pod that names none.
    pub image_pull_secrets: &'a [Value],
    /// The end of the token volume's name, `kube-api-access-<suffix>`: upstream draws five
    /// characters from `bcdfghjklmnpqrstvwxz2456789` at random.
    pub token_volume_suffix: &'a str,
}

/// Applies the rest of the ServiceAccount admission plugin to a pod being created: the projected
/// `kube-api-access-*` token volume, its read-only mount at
/// `/var/run/secrets/kubernetes.io/serviceaccount` in every init and regular container that has
/// nothing mounted there, and the account's image pull secrets. Mirror pods are left alone.
pub fn apply_service_account(pod: &mut Value, account: &ServiceAccountFacts<'_>) {
    let Some(pod) = pod.as_object_mut() else { return };
    if is_mirror_pod(pod) {
        return;
    }
    let Some(spec) = object_field(pod, "spec") else { return };
    default_string(spec, "serviceAccountName", "default");
    mirror_service_account_name(spec);
    let automount = match spec.get("automountServiceAccountToken") {
        Some(Value::Bool(pod_choice)) => *pod_choice,
        _ => account.automount_token.unwrap_or(true),
    };
    if automount {
        mount_service_account_token(spec, account.token_volume_suffix);
    }
    if is_empty_collection(spec, "imagePullSecrets") && !account.image_pull_secrets.is_empty() {
        spec.insert("imagePullSecrets".to_owned(), Value::Array(account.image_pull_secrets.to_vec()));
    }
}

// ---------------------------------------------------------------------------------------------
// JSON helpers. Go decodes `null` and an absent field alike, and a value field (not a pointer)
// cannot tell an explicit zero from "unset", so each helper names which Go shape it stands for.
// ---------------------------------------------------------------------------------------------

fn is_unset(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Null))
}

/// A Go pointer field: filled when absent or null, whatever its zero value.
fn default_pointer(object: &mut Object, key: &str, value: Value) {
    if is_unset(object.get(key)) {
        object.insert(key.to_owned(), value);
    }
}

/// A Go string value field: filled when absent, null or empty.
fn default_string(object: &mut Object, key: &str, value: &str) {
    if is_unset_string(object, key) {
        object.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// Go's `x == ""` for a string value field; a value of another type is not unset.
fn is_unset_string(object: &Object, key: &str) -> bool {
    match object.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(current)) => current.is_empty(),
        Some(_) => false,
    }
}

/// A Go integer value field: filled when absent, null or zero.
fn default_int(object: &mut Object, key: &str, value: i64) {
    let unset = match object.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Number(current)) => is_zero(current),
        Some(_) => false,
    };
    if unset {
        object.insert(key.to_owned(), json!(value));
    }
}

fn is_zero(number: &Number) -> bool {
    number.as_f64() == Some(0.0)
}

/// A Go struct value field, or a pointer the defaulter allocates: the object under `key`, created
/// when absent or null. `None` when the field holds something other than an object.
fn object_field<'a>(object: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    let slot = object.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Object::new());
    }
    slot.as_object_mut()
}

/// [`object_field`] down a path of struct value fields.
fn nested_object_field<'a>(object: &'a mut Object, path: &[&str]) -> Option<&'a mut Object> {
    path.iter().try_fold(object, |current, key| object_field(current, key))
}

/// A Go pointer-to-struct field: the object under `key` only when the client set it.
fn present_object<'a>(object: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    object.get_mut(key).and_then(Value::as_object_mut)
}

/// [`present_object`] down a path.
fn nested_object<'a>(object: &'a mut Object, path: &[&str]) -> Option<&'a mut Object> {
    path.iter().try_fold(object, |current, key| present_object(current, key))
}

/// The objects in the list under `key`; anything else there is skipped.
fn each_object<'a>(object: &'a mut Object, key: &str) -> impl Iterator<Item = &'a mut Object> {
    object.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

/// The string under `key`, or `""` as Go would read an absent or mistyped one.
fn string_at<'a>(object: &'a Object, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Go's `len(x) == 0` for a list or map field.
fn is_empty_collection(object: &Object, key: &str) -> bool {
    match object.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(entries)) => entries.is_empty(),
        Some(_) => false,
    }
}

/// A non-empty map under `key`, cloned; Go would serialise an empty one as absent.
fn non_empty_map(object: &Object, key: &str) -> Option<Object> {
    object.get(key).and_then(Value::as_object).filter(|map| !map.is_empty()).cloned()
}

/// Appends `item` to the string list under `key` unless it is there already.
fn add_to_string_list(object: &mut Object, key: &str, item: &str) {
    let slot = object.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    if let Some(items) = slot.as_array_mut()
        && !items.iter().any(|existing| existing.as_str() == Some(item))
    {
        items.push(Value::String(item.to_owned()));
    }
}

fn add_finalizer(object: &mut Object, finalizer: &str) {
    if let Some(metadata) = object_field(object, "metadata") {
        add_to_string_list(metadata, "finalizers", finalizer);
    }
}

// ---------------------------------------------------------------------------------------------
// core/v1: pods and everything that embeds a pod template.
// ---------------------------------------------------------------------------------------------

const DEFAULT_FILE_MODE: i64 = 0o644;
const SERVICE_ACCOUNT_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const SERVICE_ACCOUNT_VOLUME_PREFIX: &str = "kube-api-access-";

/// Every member of `VolumeSource`; a volume that sets none of them becomes an `emptyDir`.
const VOLUME_SOURCES: [&str; 30] = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];

fn default_pod(pod: &mut Object) {
    if let Some(spec) = object_field(pod, "spec") {
        default_pod_only_spec_fields(spec);
        default_pod_spec(spec);
    }
    if let Some(status) = present_object(pod, "status") {
        mirror_ip_list(status, "podIP", "podIPs");
        mirror_ip_list(status, "hostIP", "hostIPs");
    }
}

/// `SetDefaults_Pod`: the defaults that exist on Pods only, not in pod templates, so that adding
/// one never changes a workload's template hash.
fn default_pod_only_spec_fields(spec: &mut Object) {
    for key in ["containers", "initContainers"] {
        for container in each_object(spec, key) {
            requests_from_limits(container);
        }
    }
    default_pointer(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork") == Some(&Value::Bool(true)) {
        for key in ["containers", "initContainers"] {
            for container in each_object(spec, key) {
                for port in each_object(container, "ports") {
                    if let Some(container_port) = port.get("containerPort").filter(|p| p.is_number()).cloned() {
                        default_int_to(port, "hostPort", container_port);
                    }
                }
            }
        }
    }
}

/// [`default_int`] with a value taken from elsewhere in the object.
fn default_int_to(object: &mut Object, key: &str, value: Value) {
    let unset = match object.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Number(current)) => is_zero(current),
        Some(_) => false,
    };
    if unset {
        object.insert(key.to_owned(), value);
    }
}

/// A container that sets limits but not requests for a resource requests what it is limited to.
fn requests_from_limits(container: &mut Object) {
    let Some(resources) = present_object(container, "resources") else { return };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else { return };
    let requests = match resources.get("requests") {
        None | Some(Value::Null) => Object::new(),
        Some(Value::Object(requests)) => requests.clone(),
        Some(_) => return,
    };
    let mut merged = requests;
    for (name, quantity) in limits {
        merged.entry(name).or_insert(quantity);
    }
    if !merged.is_empty() {
        resources.insert("requests".to_owned(), Value::Object(merged));
    }
}

/// `SetDefaults_PodSpec` and everything the generated walkers default below a pod spec; shared by
/// Pods and every pod template.
fn default_pod_spec(spec: &mut Object) {
    default_string(spec, "dnsPolicy", "ClusterFirst");
    default_string(spec, "restartPolicy", "Always");
    default_pointer(spec, "securityContext", json!({}));
    default_pointer(spec, "terminationGracePeriodSeconds", json!(30));
    default_string(spec, "schedulerName", "default-scheduler");
    mirror_service_account_name(spec);
    for volume in each_object(spec, "volumes") {
        default_volume(volume);
    }
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for container in each_object(spec, key) {
            default_container(container);
        }
    }
}

/// The v1 conversion: `serviceAccount` is the deprecated spelling of `serviceAccountName`, read
/// when the new one is empty and always written back equal to it.
fn mirror_service_account_name(spec: &mut Object) {
    if is_unset_string(spec, "serviceAccountName")
        && let Some(Value::String(old)) = spec.get("serviceAccount")
        && !old.is_empty()
    {
        let old = old.clone();
        spec.insert("serviceAccountName".to_owned(), Value::String(old));
    }
    if let Some(Value::String(name)) = spec.get("serviceAccountName")
        && !name.is_empty()
        && matches!(spec.get("serviceAccount"), None | Some(Value::Null | Value::String(_)))
    {
        let name = name.clone();
        spec.insert("serviceAccount".to_owned(), Value::String(name));
    }
}

/// The v1 conversion of a singular IP and its list (`podIP`/`podIPs`, `hostIP`/`hostIPs`): the
/// singular one wins when both are set and differ, and each fills the other when it is empty.
fn mirror_ip_list(status: &mut Object, single: &str, list: &str) {
    let single_ip = match status.get(single) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(ip)) => ip.clone(),
        Some(_) => return,
    };
    let listed = match status.get(list) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ips)) => ips.clone(),
        Some(_) => return,
    };
    let first_listed = listed.first().map(|first| first.get("ip").and_then(Value::as_str));
    match first_listed {
        Some(Some(first)) if single_ip.is_empty() => {
            status.insert(single.to_owned(), Value::String(first.to_owned()));
        }
        Some(Some(first)) if first != single_ip => {
            status.insert(list.to_owned(), json!([{ "ip": single_ip }]));
        }
        None if !single_ip.is_empty() => {
            status.insert(list.to_owned(), json!([{ "ip": single_ip }]));
        }
        _ => {}
    }
}

fn default_container(container: &mut Object) {
    if is_unset_string(container, "imagePullPolicy") {
        let policy = default_pull_policy(string_at(container, "image"));
        container.insert("imagePullPolicy".to_owned(), json!(policy));
    }
    default_string(container, "terminationMessagePath", "/dev/termination-log");
    default_string(container, "terminationMessagePolicy", "File");
    for port in each_object(container, "ports") {
        default_string(port, "protocol", "TCP");
    }
    for env in each_object(container, "env") {
        if let Some(field_ref) = nested_object(env, &["valueFrom", "fieldRef"]) {
            default_string(field_ref, "apiVersion", "v1");
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = present_object(container, key) {
            default_probe(probe);
        }
    }
    if let Some(lifecycle) = present_object(container, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(http_get) = nested_object(lifecycle, &[key, "httpGet"]) {
                default_http_get(http_get);
            }
        }
    }
}

fn default_probe(probe: &mut Object) {
    default_int(probe, "timeoutSeconds", 1);
    default_int(probe, "periodSeconds", 10);
    default_int(probe, "successThreshold", 1);
    default_int(probe, "failureThreshold", 3);
    if let Some(http_get) = present_object(probe, "httpGet") {
        default_http_get(http_get);
    }
    if let Some(grpc) = present_object(probe, "grpc") {
        default_pointer(grpc, "service", json!(""));
    }
}

fn default_http_get(http_get: &mut Object) {
    default_string(http_get, "path", "/");
    default_string(http_get, "scheme", "HTTP");
}

/// `SetDefaults_Volume` and the walkers below it. The image volume's pull policy is defaulted
/// only behind the ImageVolume gate, which v1.33 ships disabled.
fn default_volume(volume: &mut Object) {
    if VOLUME_SOURCES.iter().all(|source| is_unset(volume.get(*source))) {
        volume.insert("emptyDir".to_owned(), json!({}));
    }
    for key in ["secret", "configMap"] {
        if let Some(source) = present_object(volume, key) {
            default_pointer(source, "defaultMode", json!(DEFAULT_FILE_MODE));
        }
    }
    if let Some(downward_api) = present_object(volume, "downwardAPI") {
        default_pointer(downward_api, "defaultMode", json!(DEFAULT_FILE_MODE));
        default_downward_api_items(downward_api);
    }
    if let Some(projected) = present_object(volume, "projected") {
        default_pointer(projected, "defaultMode", json!(DEFAULT_FILE_MODE));
        for projection in each_object(projected, "sources") {
            if let Some(downward_api) = present_object(projection, "downwardAPI") {
                default_downward_api_items(downward_api);
            }
            if let Some(token) = present_object(projection, "serviceAccountToken") {
                default_pointer(token, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(claim_spec) =
        nested_object(volume, &["ephemeral", "volumeClaimTemplate"]).and_then(|template| object_field(template, "spec"))
    {
        default_pointer(claim_spec, "volumeMode", json!("Filesystem"));
    }
    default_storage_sources(volume);
}

fn default_downward_api_items(downward_api: &mut Object) {
    for item in each_object(downward_api, "items") {
        if let Some(field_ref) = present_object(item, "fieldRef") {
            default_string(field_ref, "apiVersion", "v1");
        }
    }
}

/// The volume sources a Pod volume and a PersistentVolume share, with the same defaults.
fn default_storage_sources(source: &mut Object) {
    if let Some(host_path) = present_object(source, "hostPath") {
        default_pointer(host_path, "type", json!(""));
    }
    if let Some(iscsi) = present_object(source, "iscsi") {
        default_string(iscsi, "iscsiInterface", "default");
    }
    if let Some(rbd) = present_object(source, "rbd") {
        default_string(rbd, "pool", "rbd");
        default_string(rbd, "user", "admin");
        default_string(rbd, "keyring", "/etc/ceph/keyring");
    }
    if let Some(azure_disk) = present_object(source, "azureDisk") {
        default_pointer(azure_disk, "cachingMode", json!("ReadWrite"));
        default_pointer(azure_disk, "kind", json!("Shared"));
        default_pointer(azure_disk, "fsType", json!("ext4"));
        default_pointer(azure_disk, "readOnly", json!(false));
    }
    if let Some(scale_io) = present_object(source, "scaleIO") {
        default_string(scale_io, "storageMode", "ThinProvisioned");
        default_string(scale_io, "fsType", "xfs");
    }
}

/// A pod template held by value under `key` (Deployment, Job, PodTemplate, ...).
fn default_pod_template_at(owner: &mut Object, key: &str) {
    if let Some(spec) = object_field(owner, key).and_then(|template| object_field(template, "spec")) {
        default_pod_spec(spec);
    }
}

// ---------------------------------------------------------------------------------------------
// core/v1: the other kinds.
// ---------------------------------------------------------------------------------------------

fn default_replication_controller(controller: &mut Object) {
    let template_labels = nested_object(controller, &["spec", "template", "metadata"])
        .and_then(|metadata| non_empty_map(metadata, "labels"));
    if let Some(labels) = template_labels {
        if let Some(spec) = object_field(controller, "spec")
            && is_empty_collection(spec, "selector")
        {
            spec.insert("selector".to_owned(), Value::Object(labels.clone()));
        }
        if let Some(metadata) = object_field(controller, "metadata")
            && is_empty_collection(metadata, "labels")
        {
            metadata.insert("labels".to_owned(), Value::Object(labels));
        }
    }
    if let Some(spec) = object_field(controller, "spec") {
        default_pointer(spec, "replicas", json!(1));
        if let Some(pod_spec) = present_object(spec, "template").and_then(|template| object_field(template, "spec")) {
            default_pod_spec(pod_spec);
        }
    }
}

fn default_service(service: &mut Object) {
    let Some(spec) = object_field(service, "spec") else { return };
    default_string(spec, "sessionAffinity", "None");
    match string_at(spec, "sessionAffinity") {
        // Upstream drops a config that has nothing to configure rather than rejecting it.
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => default_client_ip_affinity(spec),
        _ => {}
    }
    default_string(spec, "type", "ClusterIP");
    for port in each_object(spec, "ports") {
        default_string(port, "protocol", "TCP");
        let target_unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(target)) => is_zero(target),
            Some(Value::String(target)) => target.is_empty(),
            Some(_) => false,
        };
        if target_unset && let Some(number) = port.get("port").filter(|p| p.is_number()).cloned() {
            port.insert("targetPort".to_owned(), number);
        }
    }
    let service_type = string_at(spec, "type").to_owned();
    let has_external_ips = !is_empty_collection(spec, "externalIPs");
    let externally_accessible = matches!(service_type.as_str(), "LoadBalancer" | "NodePort")
        || (service_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_string(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(service_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_pointer(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        default_pointer(spec, "allocateLoadBalancerNodePorts", json!(true));
        if let Some(load_balancer) = nested_object(service, &["status", "loadBalancer"]) {
            for ingress in each_object(load_balancer, "ingress") {
                if !string_at(ingress, "ip").is_empty() {
                    default_pointer(ingress, "ipMode", json!("VIP"));
                }
            }
        }
    }
}

/// `ClientIP` affinity needs a timeout; without one the whole config becomes the default.
fn default_client_ip_affinity(spec: &mut Object) {
    let config = spec.get("sessionAffinityConfig");
    let timeout = match config {
        None | Some(Value::Null) => None,
        Some(Value::Object(config)) => match config.get("clientIP") {
            None | Some(Value::Null) => None,
            Some(Value::Object(client_ip)) => Some(client_ip.get("timeoutSeconds")),
            Some(_) => return,
        },
        Some(_) => return,
    };
    if is_unset(timeout.flatten()) {
        spec.insert("sessionAffinityConfig".to_owned(), json!({ "clientIP": { "timeoutSeconds": 10800 } }));
    }
}

fn default_namespace(namespace: &mut Object) {
    // The label always equals the name, overwriting any other value, because NetworkPolicies
    // select namespaces by it and must be able to trust it.
    if let Some(metadata) = present_object(namespace, "metadata") {
        let name = string_at(metadata, "name").to_owned();
        if !name.is_empty()
            && let Some(labels) = object_field(metadata, "labels")
        {
            labels.insert("kubernetes.io/metadata.name".to_owned(), Value::String(name));
        }
    }
    if let Some(status) = object_field(namespace, "status") {
        default_string(status, "phase", "Active");
    }
}

fn default_secret(secret: &mut Object) {
    default_string(secret, "type", "Opaque");
    // The v1 conversion folds `stringData` into `data`, overwriting keys present in both.
    let Some(Value::Object(string_data)) = secret.get("stringData") else { return };
    if string_data.is_empty() {
        secret.remove("stringData");
        return;
    }
    let encoded: Vec<(String, Value)> = string_data
        .iter()
        .filter_map(|(key, value)| value.as_str().map(|text| (key.clone(), Value::String(base64(text.as_bytes())))))
        .collect();
    if encoded.len() != string_data.len() {
        return;
    }
    let Some(data) = object_field(secret, "data") else { return };
    data.extend(encoded);
    secret.remove("stringData");
}

fn default_persistent_volume(volume: &mut Object) {
    if let Some(spec) = object_field(volume, "spec") {
        default_string(spec, "persistentVolumeReclaimPolicy", "Retain");
        default_pointer(spec, "volumeMode", json!("Filesystem"));
        default_storage_sources(spec);
    }
    if let Some(status) = object_field(volume, "status") {
        default_string(status, "phase", "Pending");
    }
}

fn default_persistent_volume_claim(claim: &mut Object) {
    if let Some(spec) = object_field(claim, "spec") {
        default_pointer(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = object_field(claim, "status") {
        default_string(status, "phase", "Pending");
    }
}

fn default_node(node: &mut Object) {
    if let Some(spec) = present_object(node, "spec") {
        mirror_pod_cidrs(spec);
    }
    if let Some(status) = present_object(node, "status")
        && is_unset(status.get("allocatable"))
        && let Some(capacity) = non_empty_map(status, "capacity")
    {
        status.insert("allocatable".to_owned(), Value::Object(capacity));
    }
}

/// The v1 conversion: `podCIDR` is the first of `podCIDRs`, and fills them when they are empty.
fn mirror_pod_cidrs(spec: &mut Object) {
    let single = match spec.get("podCIDR") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(cidr)) => cidr.clone(),
        Some(_) => return,
    };
    let first = match spec.get("podCIDRs") {
        None | Some(Value::Null) => None,
        Some(Value::Array(cidrs)) => cidrs.first().cloned(),
        Some(_) => return,
    };
    match first {
        Some(Value::String(first)) if single.is_empty() => {
            spec.insert("podCIDR".to_owned(), Value::String(first));
        }
        None if !single.is_empty() => {
            spec.insert("podCIDRs".to_owned(), json!([single]));
        }
        _ => {}
    }
}

/// A container limit range fills its default limit from max, its default request from the
/// default limit, and then from min.
fn default_limit_range(limit_range: &mut Object) {
    let Some(spec) = present_object(limit_range, "spec") else { return };
    for item in each_object(spec, "limits") {
        if string_at(item, "type") != "Container" {
            continue;
        }
        fill_missing_keys(item, "default", "max");
        fill_missing_keys(item, "defaultRequest", "default");
        fill_missing_keys(item, "defaultRequest", "min");
    }
}

/// Copies every key of the map `from` that the map `into` lacks, creating `into` only when
/// something is copied (Go would omit an empty map).
fn fill_missing_keys(item: &mut Object, into: &str, from: &str) {
    let Some(source) = item.get(from).and_then(Value::as_object).cloned() else { return };
    let mut target = match item.get(into) {
        None | Some(Value::Null) => Object::new(),
        Some(Value::Object(target)) => target.clone(),
        Some(_) => return,
    };
    for (name, quantity) in source {
        target.entry(name).or_insert(quantity);
    }
    if !target.is_empty() {
        item.insert(into.to_owned(), Value::Object(target));
    }
}

fn default_endpoints(endpoints: &mut Object) {
    for subset in each_object(endpoints, "subsets") {
        for port in each_object(subset, "ports") {
            default_string(port, "protocol", "TCP");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// apps/v1 and batch/v1.
// ---------------------------------------------------------------------------------------------

fn default_deployment(deployment: &mut Object) {
    let Some(spec) = object_field(deployment, "spec") else { return };
    default_pointer(spec, "replicas", json!(1));
    if let Some(strategy) = object_field(spec, "strategy") {
        default_string(strategy, "type", "RollingUpdate");
        if string_at(strategy, "type") == "RollingUpdate"
            && let Some(rolling_update) = object_field(strategy, "rollingUpdate")
        {
            default_pointer(rolling_update, "maxUnavailable", json!("25%"));
            default_pointer(rolling_update, "maxSurge", json!("25%"));
        }
    }
    default_pointer(spec, "revisionHistoryLimit", json!(10));
    default_pointer(spec, "progressDeadlineSeconds", json!(600));
    default_pod_template_at(spec, "template");
}

fn default_daemon_set(daemon_set: &mut Object) {
    let Some(spec) = object_field(daemon_set, "spec") else { return };
    if let Some(strategy) = object_field(spec, "updateStrategy") {
        default_string(strategy, "type", "RollingUpdate");
        if string_at(strategy, "type") == "RollingUpdate"
            && let Some(rolling_update) = object_field(strategy, "rollingUpdate")
        {
            default_pointer(rolling_update, "maxUnavailable", json!(1));
            default_pointer(rolling_update, "maxSurge", json!(0));
        }
    }
    default_pointer(spec, "revisionHistoryLimit", json!(10));
    default_pod_template_at(spec, "template");
}

/// StatefulSet's partition is defaulted only inside a `rollingUpdate` that exists or that the
/// defaulter itself created for an empty strategy type; maxUnavailable stays unset because the
/// MaxUnavailableStatefulSet gate is off in v1.33.
fn default_stateful_set(stateful_set: &mut Object) {
    let Some(spec) = object_field(stateful_set, "spec") else { return };
    default_string(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = object_field(spec, "updateStrategy") {
        if is_unset_string(strategy, "type") {
            strategy.insert("type".to_owned(), json!("RollingUpdate"));
            default_pointer(strategy, "rollingUpdate", json!({}));
        }
        if string_at(strategy, "type") == "RollingUpdate"
            && let Some(rolling_update) = present_object(strategy, "rollingUpdate")
        {
            default_pointer(rolling_update, "partition", json!(0));
        }
    }
    if let Some(policy) = object_field(spec, "persistentVolumeClaimRetentionPolicy") {
        default_string(policy, "whenDeleted", "Retain");
        default_string(policy, "whenScaled", "Retain");
    }
    default_pointer(spec, "replicas", json!(1));
    default_pointer(spec, "revisionHistoryLimit", json!(10));
    default_pod_template_at(spec, "template");
    for claim in each_object(spec, "volumeClaimTemplates") {
        // The apps/v1 conversion writes the embedded claims' type meta.
        default_string(claim, "apiVersion", "v1");
        default_string(claim, "kind", "PersistentVolumeClaim");
        default_persistent_volume_claim(claim);
    }
}

fn default_replica_set(replica_set: &mut Object) {
    let Some(spec) = object_field(replica_set, "spec") else { return };
    default_pointer(spec, "replicas", json!(1));
    default_pod_template_at(spec, "template");
}

fn default_job(job: &mut Object) {
    if let Some(spec) = object_field(job, "spec") {
        default_job_spec(spec);
    }
    copy_template_labels_to_job(job);
}

fn default_job_spec(spec: &mut Object) {
    if is_unset(spec.get("completions")) && is_unset(spec.get("parallelism")) {
        spec.insert("completions".to_owned(), json!(1));
        spec.insert("parallelism".to_owned(), json!(1));
    }
    default_pointer(spec, "parallelism", json!(1));
    if is_unset(spec.get("backoffLimit")) {
        // With a per-index limit the global one must not cut in first.
        let limit = if is_unset(spec.get("backoffLimitPerIndex")) { 6 } else { i64::from(i32::MAX) };
        spec.insert("backoffLimit".to_owned(), json!(limit));
    }
    default_pointer(spec, "completionMode", json!("NonIndexed"));
    default_pointer(spec, "suspend", json!(false));
    let replacement = if is_unset(spec.get("podFailurePolicy")) { "TerminatingOrFailed" } else { "Failed" };
    default_pointer(spec, "podReplacementPolicy", json!(replacement));
    default_pointer(spec, "manualSelector", json!(false));
    default_pod_failure_policy(spec);
    default_pod_template_at(spec, "template");
}

fn default_pod_failure_policy(job_spec: &mut Object) {
    let Some(policy) = present_object(job_spec, "podFailurePolicy") else { return };
    for rule in each_object(policy, "rules") {
        for pattern in each_object(rule, "onPodConditions") {
            default_string(pattern, "status", "True");
        }
    }
}

/// A Job without labels of its own carries its pod template's labels.
fn copy_template_labels_to_job(job: &mut Object) {
    let template_labels =
        nested_object(job, &["spec", "template", "metadata"]).and_then(|m| non_empty_map(m, "labels"));
    if let Some(labels) = template_labels
        && let Some(metadata) = object_field(job, "metadata")
        && is_empty_collection(metadata, "labels")
    {
        metadata.insert("labels".to_owned(), Value::Object(labels));
    }
}

/// A CronJob's job template gets the pod template defaults but not `SetDefaults_Job`: the Job
/// created from it is defaulted when it is created.
fn default_cron_job(cron_job: &mut Object) {
    let Some(spec) = object_field(cron_job, "spec") else { return };
    default_string(spec, "concurrencyPolicy", "Allow");
    default_pointer(spec, "suspend", json!(false));
    default_pointer(spec, "successfulJobsHistoryLimit", json!(3));
    default_pointer(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_spec) = nested_object_field(spec, &["jobTemplate", "spec"]) {
        default_pod_failure_policy(job_spec);
        default_pod_template_at(job_spec, "template");
    }
}

// ---------------------------------------------------------------------------------------------
// The remaining groups.
// ---------------------------------------------------------------------------------------------

fn default_hpa_v1(hpa: &mut Object) {
    if let Some(spec) = object_field(hpa, "spec") {
        default_pointer(spec, "minReplicas", json!(1));
    }
}

/// autoscaling/v2: CPU at 80% when no metric is given, and a behavior that is set at all gets
/// every unset rule filled. Scale-down keeps no stabilization window so that the controller's
/// `--horizontal-pod-autoscaler-downscale-stabilization` applies.
fn default_hpa_v2(hpa: &mut Object) {
    let Some(spec) = object_field(hpa, "spec") else { return };
    default_pointer(spec, "minReplicas", json!(1));
    if is_empty_collection(spec, "metrics") {
        spec.insert(
            "metrics".to_owned(),
            json!([{
                "type": "Resource",
                "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 80 } }
            }]),
        );
    }
    let Some(behavior) = present_object(spec, "behavior") else { return };
    fill_scaling_rules(
        behavior,
        "scaleUp",
        json!({
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                { "type": "Pods", "value": 4, "periodSeconds": 15 },
                { "type": "Percent", "value": 100, "periodSeconds": 15 }
            ]
        }),
    );
    fill_scaling_rules(
        behavior,
        "scaleDown",
        json!({
            "selectPolicy": "Max",
            "policies": [{ "type": "Percent", "value": 100, "periodSeconds": 15 }]
        }),
    );
}

fn fill_scaling_rules(behavior: &mut Object, key: &str, defaults: Value) {
    let Value::Object(defaults) = defaults else { return };
    match behavior.get_mut(key) {
        None | Some(Value::Null) => {
            behavior.insert(key.to_owned(), Value::Object(defaults));
        }
        Some(Value::Object(rules)) => {
            for (field, value) in defaults {
                default_pointer(rules, &field, value);
            }
        }
        Some(_) => {}
    }
}

fn default_network_policy(policy: &mut Object) {
    let Some(spec) = object_field(policy, "spec") else { return };
    for direction in ["ingress", "egress"] {
        for rule in each_object(spec, direction) {
            for port in each_object(rule, "ports") {
                default_pointer(port, "protocol", json!("TCP"));
            }
        }
    }
    if is_empty_collection(spec, "policyTypes") {
        let types = if is_empty_collection(spec, "egress") { json!(["Ingress"]) } else { json!(["Ingress", "Egress"]) };
        spec.insert("policyTypes".to_owned(), types);
    }
}

fn default_ingress_class(class: &mut Object) {
    if let Some(parameters) = nested_object(class, &["spec", "parameters"]) {
        default_pointer(parameters, "scope", json!("Cluster"));
    }
}

fn default_storage_class(class: &mut Object) {
    default_pointer(class, "reclaimPolicy", json!("Delete"));
    default_pointer(class, "volumeBindingMode", json!("Immediate"));
}

fn default_csi_driver(driver: &mut Object) {
    let Some(spec) = object_field(driver, "spec") else { return };
    default_pointer(spec, "attachRequired", json!(true));
    default_pointer(spec, "podInfoOnMount", json!(false));
    default_pointer(spec, "storageCapacity", json!(false));
    default_pointer(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    if is_empty_collection(spec, "volumeLifecycleModes") {
        spec.insert("volumeLifecycleModes".to_owned(), json!(["Persistent"]));
    }
    default_pointer(spec, "requiresRepublish", json!(false));
    default_pointer(spec, "seLinuxMount", json!(false));
}

fn default_volume_attachment(attachment: &mut Object) {
    if let Some(inline) = nested_object(attachment, &["spec", "source", "inlineVolumeSpec"]) {
        default_storage_sources(inline);
    }
}

fn default_role_binding(binding: &mut Object) {
    if let Some(role_ref) = object_field(binding, "roleRef") {
        default_string(role_ref, "apiGroup", "rbac.authorization.k8s.io");
    }
    for subject in each_object(binding, "subjects") {
        if matches!(string_at(subject, "kind"), "User" | "Group") {
            default_string(subject, "apiGroup", "rbac.authorization.k8s.io");
        }
    }
}

fn default_webhook_configuration(configuration: &mut Object, mutating: bool) {
    for webhook in each_object(configuration, "webhooks") {
        default_pointer(webhook, "failurePolicy", json!("Fail"));
        default_pointer(webhook, "matchPolicy", json!("Equivalent"));
        default_pointer(webhook, "namespaceSelector", json!({}));
        default_pointer(webhook, "objectSelector", json!({}));
        default_pointer(webhook, "timeoutSeconds", json!(10));
        if mutating {
            default_pointer(webhook, "reinvocationPolicy", json!("Never"));
        }
        if let Some(service) = nested_object(webhook, &["clientConfig", "service"]) {
            default_pointer(service, "port", json!(443));
        }
        for rule in each_object(webhook, "rules") {
            default_pointer(rule, "scope", json!("*"));
        }
    }
}

fn default_admission_policy(policy: &mut Object) {
    let Some(spec) = object_field(policy, "spec") else { return };
    default_pointer(spec, "failurePolicy", json!("Fail"));
    if let Some(constraints) = present_object(spec, "matchConstraints") {
        default_match_resources(constraints);
    }
}

fn default_admission_policy_binding(binding: &mut Object) {
    if let Some(match_resources) = nested_object(binding, &["spec", "matchResources"]) {
        default_match_resources(match_resources);
    }
}

fn default_match_resources(match_resources: &mut Object) {
    default_pointer(match_resources, "matchPolicy", json!("Equivalent"));
    default_pointer(match_resources, "namespaceSelector", json!({}));
    default_pointer(match_resources, "objectSelector", json!({}));
    for key in ["resourceRules", "excludeResourceRules"] {
        for rule in each_object(match_resources, key) {
            default_pointer(rule, "scope", json!("*"));
        }
    }
}

fn default_crd(crd: &mut Object) {
    let storage_version = {
        let Some(spec) = object_field(crd, "spec") else { return };
        if let Some(names) = present_object(spec, "names") {
            let kind = string_at(names, "kind").to_owned();
            if !kind.is_empty() {
                default_string(names, "singular", &kind.to_lowercase());
                default_string(names, "listKind", &format!("{kind}List"));
            }
        }
        default_pointer(spec, "conversion", json!({ "strategy": "None" }));
        if let Some(service) = nested_object(spec, &["conversion", "webhook", "clientConfig", "service"]) {
            default_pointer(service, "port", json!(443));
        }
        spec.get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|version| version.get("storage") == Some(&Value::Bool(true)))
            .and_then(|version| version.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(version) = storage_version
        && let Some(status) = object_field(crd, "status")
        && is_empty_collection(status, "storedVersions")
    {
        status.insert("storedVersions".to_owned(), json!([version]));
    }
}

fn default_priority_level(configuration: &mut Object) {
    let Some(spec) = present_object(configuration, "spec") else { return };
    if let Some(limited) = present_object(spec, "limited") {
        default_pointer(limited, "nominalConcurrencyShares", json!(30));
        default_pointer(limited, "lendablePercent", json!(0));
        if let Some(queuing) = nested_object(limited, &["limitResponse", "queuing"]) {
            default_int(queuing, "handSize", 8);
            default_int(queuing, "queues", 64);
            default_int(queuing, "queueLengthLimit", 50);
        }
    }
    if let Some(exempt) = present_object(spec, "exempt") {
        default_pointer(exempt, "nominalConcurrencyShares", json!(0));
        default_pointer(exempt, "lendablePercent", json!(0));
    }
}

// ---------------------------------------------------------------------------------------------
// Create-time admission and strategy defaults.
// ---------------------------------------------------------------------------------------------

fn is_mirror_pod(pod: &Object) -> bool {
    pod.get("metadata")
        .and_then(|metadata| metadata.get("annotations"))
        .and_then(Value::as_object)
        .is_some_and(|annotations| annotations.contains_key("kubernetes.io/config.mirror"))
}

fn admit_pod(pod: &mut Object) {
    let mirror = is_mirror_pod(pod);
    let labels = pod
        .get("metadata")
        .and_then(|metadata| metadata.get("labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(spec) = object_field(pod, "spec") else { return };
    if !mirror {
        default_string(spec, "serviceAccountName", "default");
        mirror_service_account_name(spec);
    }
    add_default_tolerations(spec);
    merge_affinity_label_keys(spec, &labels);
    let qos_class = pod_qos_class(spec);
    if let Some(status) = object_field(pod, "status") {
        default_string(status, "phase", "Pending");
        if let Some(qos_class) = qos_class {
            default_string(status, "qosClass", qos_class);
        }
    }
}

/// DefaultTolerationSeconds: a pod evicted from a not-ready or unreachable node after five
/// minutes unless it already tolerates that taint (a toleration with an empty key or effect
/// tolerates it too).
fn add_default_tolerations(spec: &mut Object) {
    if !matches!(spec.get("tolerations"), None | Some(Value::Null | Value::Array(_))) {
        return;
    }
    let tolerates = |spec: &Object, taint: &str| {
        spec.get("tolerations").and_then(Value::as_array).into_iter().flatten().any(|toleration| {
            let key = toleration.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = toleration.get("effect").and_then(Value::as_str).unwrap_or("");
            (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    let missing: Vec<&str> = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
        .into_iter()
        .filter(|taint| !tolerates(spec, taint))
        .collect();
    if missing.is_empty() {
        return;
    }
    let slot = spec.entry("tolerations".to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    if let Some(tolerations) = slot.as_array_mut() {
        for taint in missing {
            tolerations.push(json!({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300
            }));
        }
    }
}

/// The pod strategy turns `matchLabelKeys`/`mismatchLabelKeys` of pod (anti-)affinity terms into
/// `In`/`NotIn` requirements on the pod's own label values (MatchLabelKeysInPodAffinity, on in
/// v1.33). Requirements already present are not added twice.
fn merge_affinity_label_keys(spec: &mut Object, labels: &Object) {
    let Some(affinity) = present_object(spec, "affinity") else { return };
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(rules) = present_object(affinity, kind) else { continue };
        for term in each_object(rules, "requiredDuringSchedulingIgnoredDuringExecution") {
            merge_term_label_keys(term, labels);
        }
        for weighted in each_object(rules, "preferredDuringSchedulingIgnoredDuringExecution") {
            if let Some(term) = present_object(weighted, "podAffinityTerm") {
                merge_term_label_keys(term, labels);
            }
        }
    }
}

fn merge_term_label_keys(term: &mut Object, labels: &Object) {
    let keys_of = |term: &Object, field: &str| -> Vec<String> {
        term.get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let requirements: Vec<(String, &str)> = keys_of(term, "matchLabelKeys")
        .into_iter()
        .map(|key| (key, "In"))
        .chain(keys_of(term, "mismatchLabelKeys").into_iter().map(|key| (key, "NotIn")))
        .collect();
    if requirements.is_empty() {
        return;
    }
    // A missing selector matches nothing and stays missing.
    let Some(selector) = present_object(term, "labelSelector") else { return };
    let slot = selector.entry("matchExpressions".to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    let Some(expressions) = slot.as_array_mut() else { return };
    for (key, operator) in requirements {
        let Some(value) = labels.get(&key).and_then(Value::as_str) else { continue };
        let requirement = json!({ "key": key, "operator": operator, "values": [value] });
        if !expressions.contains(&requirement) {
            expressions.push(requirement);
        }
    }
}

/// The pod's QoS class from its containers' cpu and memory (after requests were defaulted from
/// limits); `None` when a quantity cannot be read, which validation will reject anyway.
fn pod_qos_class(spec: &Object) -> Option<&'static str> {
    let mut requests: Vec<(String, i128)> = Vec::new();
    let mut limits: Vec<(String, i128)> = Vec::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|key| spec.get(key).and_then(Value::as_array).into_iter().flatten());
    for container in containers {
        let resources = container.get("resources");
        let list = |name: &str| resources.and_then(|r| r.get(name)).and_then(Value::as_object);
        for (name, quantity) in list("requests").into_iter().flatten() {
            add_qos_quantity(&mut requests, name, quantity)?;
        }
        let mut limited = (false, false);
        for (name, quantity) in list("limits").into_iter().flatten() {
            if add_qos_quantity(&mut limits, name, quantity)? {
                limited.0 |= name == "cpu";
                limited.1 |= name == "memory";
            }
        }
        guaranteed &= limited == (true, true);
    }
    if requests.is_empty() && limits.is_empty() {
        return Some("BestEffort");
    }
    let matches = requests.len() == limits.len()
        && requests
            .iter()
            .all(|(name, request)| limits.iter().any(|(limit_name, limit)| limit_name == name && limit == request));
    Some(if guaranteed && matches { "Guaranteed" } else { "Burstable" })
}

/// Adds a positive cpu or memory quantity to its running sum; `Some(false)` when the resource
/// does not count for QoS or is not positive.
fn add_qos_quantity(sums: &mut Vec<(String, i128)>, name: &str, quantity: &Value) -> Option<bool> {
    if name != "cpu" && name != "memory" {
        return Some(false);
    }
    let millis = match quantity {
        Value::String(text) => quantity_millis(text)?,
        Value::Number(number) => quantity_millis(&number.to_string())?,
        _ => return None,
    };
    if millis <= 0 {
        return Some(false);
    }
    match sums.iter_mut().find(|(existing, _)| existing == name) {
        Some((_, sum)) => *sum = sum.checked_add(millis)?,
        None => sums.push((name.to_owned(), millis)),
    }
    Some(true)
}

fn admit_node(node: &mut Object) {
    let Some(spec) = object_field(node, "spec") else { return };
    let taint = json!({ "key": "node.kubernetes.io/not-ready", "effect": "NoSchedule" });
    let slot = spec.entry("taints".to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    let Some(taints) = slot.as_array_mut() else { return };
    let present = taints
        .iter()
        .any(|existing| existing.get("key") == taint.get("key") && existing.get("effect") == taint.get("effect"));
    if !present {
        taints.push(taint);
    }
}

/// The service strategy's `clusterIPs` normalisation and the allocator's IP family defaults for a
/// single-stack IPv4 cluster. What upstream rejects here (an IPv6 cluster IP, `RequireDualStack`
/// on a headful service) is left in place for validation to reject.
fn admit_service(service: &mut Object) {
    let Some(spec) = object_field(service, "spec") else { return };
    let cluster_ip = string_at(spec, "clusterIP").to_owned();
    if !cluster_ip.is_empty() && is_empty_collection(spec, "clusterIPs") {
        spec.insert("clusterIPs".to_owned(), json!([cluster_ip]));
    }
    if string_at(spec, "type") == "ExternalName" {
        return;
    }
    let headless_without_selector = cluster_ip == "None" && is_empty_collection(spec, "selector");
    let policy = if headless_without_selector { "RequireDualStack" } else { "SingleStack" };
    default_pointer(spec, "ipFamilyPolicy", json!(policy));
    let cluster_ips: Vec<String> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let slot = spec.entry("ipFamilies".to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    let Some(families) = slot.as_array_mut() else { return };
    for (index, ip) in cluster_ips.iter().enumerate() {
        if ip == "None" {
            break;
        }
        if index >= families.len() {
            families.push(json!(if ip.contains(':') { "IPv6" } else { "IPv4" }));
        }
    }
    if families.is_empty() {
        families.push(json!("IPv4"));
    }
    let single_stack = spec.get("ipFamilyPolicy").and_then(Value::as_str) == Some("SingleStack");
    if headless_without_selector
        && !single_stack
        && let Some(families) = spec.get_mut("ipFamilies").and_then(Value::as_array_mut)
        && families.len() == 1
    {
        let other = if families.first().and_then(Value::as_str) == Some("IPv6") { "IPv4" } else { "IPv6" };
        families.push(json!(other));
    }
}

/// The Job strategy's generated selector: the pods of this Job, and only they, carry its uid.
fn admit_job(job: &mut Object) {
    let Some(metadata) = job.get("metadata").and_then(Value::as_object) else { return };
    let uid = string_at(metadata, "uid").to_owned();
    let name = string_at(metadata, "name").to_owned();
    if uid.is_empty() {
        return;
    }
    // `SetDefaults_Job` hands the Job the template's label map itself, not a copy, so upstream's
    // generated labels land in both; equal maps are taken to be that shared one.
    let template_labels = |job: &Object| {
        job.get("spec")
            .and_then(|spec| spec.get("template"))
            .and_then(|template| template.get("metadata"))
            .and_then(|metadata| metadata.get("labels"))
            .cloned()
    };
    let shared_labels = template_labels(job).is_some_and(|labels| metadata.get("labels") == Some(&labels));
    let Some(spec) = object_field(job, "spec") else { return };
    if spec.get("manualSelector") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(labels) = nested_object_field(spec, &["template", "metadata", "labels"]) {
        for (key, value) in [
            ("job-name", &name),
            ("batch.kubernetes.io/job-name", &name),
            ("controller-uid", &uid),
            ("batch.kubernetes.io/controller-uid", &uid),
        ] {
            labels.entry(key.to_owned()).or_insert_with(|| Value::String(value.clone()));
        }
    }
    if let Some(match_labels) = nested_object_field(spec, &["selector", "matchLabels"]) {
        match_labels.entry("batch.kubernetes.io/controller-uid".to_owned()).or_insert_with(|| Value::String(uid));
    }
    if shared_labels
        && let Some(labels) = template_labels(job)
        && let Some(metadata) = present_object(job, "metadata")
    {
        metadata.insert("labels".to_owned(), labels);
    }
    copy_template_labels_to_job(job);
}

fn mount_service_account_token(spec: &mut Object, suffix: &str) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|volume| volume.get("name").and_then(Value::as_str))
        .find(|name| name.starts_with(SERVICE_ACCOUNT_VOLUME_PREFIX))
        .map(str::to_owned);
    let has_volume = existing.is_some();
    let volume_name = existing.unwrap_or_else(|| format!("{SERVICE_ACCOUNT_VOLUME_PREFIX}{suffix}"));
    let mount = json!({ "name": volume_name, "readOnly": true, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH });
    let mut mounted = false;
    for key in ["initContainers", "containers"] {
        for container in each_object(spec, key) {
            let slot = container.entry("volumeMounts".to_owned()).or_insert(Value::Null);
            if slot.is_null() {
                *slot = Value::Array(Vec::new());
            }
            let Some(mounts) = slot.as_array_mut() else { continue };
            let taken =
                mounts.iter().any(|m| m.get("mountPath").and_then(Value::as_str) == Some(SERVICE_ACCOUNT_MOUNT_PATH));
            if !taken {
                mounts.push(mount.clone());
                mounted = true;
            }
        }
    }
    if has_volume || !mounted {
        return;
    }
    let slot = spec.entry("volumes".to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    if let Some(volumes) = slot.as_array_mut() {
        volumes.push(json!({
            "name": volume_name,
            "projected": {
                "defaultMode": DEFAULT_FILE_MODE,
                "sources": [
                    { "serviceAccountToken": { "expirationSeconds": 3607, "path": "token" } },
                    { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } },
                    { "downwardAPI": { "items": [{
                        "path": "namespace",
                        "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" }
                    }] } }
                ]
            }
        }));
    }
}

// ---------------------------------------------------------------------------------------------
// Value parsing: image references, resource quantities, base64.
// ---------------------------------------------------------------------------------------------

/// `Always` for a `latest` tag or for a reference with neither tag nor digest, `IfNotPresent`
/// otherwise, including for a reference that does not parse (as upstream, which ignores the
/// parse error and sees no tag).
fn default_pull_policy(image: &str) -> &'static str {
    match parse_image_reference(image) {
        Some((Some("latest"), _)) | Some((None, false)) => "Always",
        _ => "IfNotPresent",
    }
}

/// The tag and whether there is a digest, for a reference the docker reference grammar accepts.
fn parse_image_reference(image: &str) -> Option<(Option<&str>, bool)> {
    let all_hex = image.len() == 64 && image.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if image.is_empty() || all_hex {
        return None;
    }
    let (named, digest) = match image.split_once('@') {
        Some((named, digest)) => (named, Some(digest)),
        None => (image, None),
    };
    if digest.is_some_and(|digest| !is_valid_digest(digest)) {
        return None;
    }
    let last_slash = named.rfind('/');
    let (name, tag) = match named.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => (&named[..colon], Some(&named[colon + 1..])),
        _ => (named, None),
    };
    if tag.is_some_and(|tag| !is_valid_tag(tag)) || name.len() > 255 || !is_valid_repository(name) {
        return None;
    }
    Some((tag, digest.is_some()))
}

fn is_valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else { return false };
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == length && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes.first().copied().is_some_and(word)
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// A repository name: an optional registry host (told apart as docker does: it has a dot or a
/// colon, is `localhost`, or has capitals) and lowercase path components.
fn is_valid_repository(name: &str) -> bool {
    let mut components = name.split('/').peekable();
    if let Some(first) = components.peek().copied()
        && name.contains('/')
        && (first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()))
    {
        let host_ok = !first.is_empty()
            && first.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
        if !host_ok {
            return false;
        }
        components.next();
    }
    let mut any = false;
    for component in components {
        any = true;
        if !is_valid_path_component(component) {
            return false;
        }
    }
    any
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn is_valid_path_component(component: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    if !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
        return false;
    }
    bytes
        .split(alnum)
        .filter(|separator| !separator.is_empty())
        .all(|separator| matches!(separator, b"." | b"_" | b"__") || separator.iter().all(|&b| b == b'-'))
}

/// A resource quantity in thousandths, rounded up as `SetDefaults_ResourceList` rounds it.
fn quantity_millis(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = unsigned.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return None;
    }
    let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let fraction_scale = u32::try_from(fraction.len()).ok()?;
    let (multiplier, divisor_exponent) = quantity_suffix(suffix)?;
    let numerator = mantissa.checked_mul(multiplier)?.checked_mul(1000)?;
    let denominator = 10_i128.checked_pow(fraction_scale.checked_add(divisor_exponent)?)?;
    let millis = numerator.checked_add(denominator - 1)? / denominator;
    Some(if negative { -(numerator / denominator) } else { millis })
}

/// A quantity suffix as (multiplier, power of ten to divide by).
fn quantity_suffix(suffix: &str) -> Option<(i128, u32)> {
    let decimal = |exponent: u32| Some((10_i128.checked_pow(exponent)?, 0));
    match suffix {
        "" => Some((1, 0)),
        "Ki" => Some((1 << 10, 0)),
        "Mi" => Some((1 << 20, 0)),
        "Gi" => Some((1 << 30, 0)),
        "Ti" => Some((1 << 40, 0)),
        "Pi" => Some((1 << 50, 0)),
        "Ei" => Some((1 << 60, 0)),
        "n" => Some((1, 9)),
        "u" => Some((1, 6)),
        "m" => Some((1, 3)),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        _ => {
            let exponent: i32 = suffix.strip_prefix(['e', 'E'])?.parse().ok()?;
            if !(-30..=30).contains(&exponent) {
                return None;
            }
            if exponent >= 0 { decimal(exponent.unsigned_abs()) } else { Some((1, exponent.unsigned_abs())) }
        }
    }
}

/// Standard base64 with padding, as Go encodes `[]byte` in JSON.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let group = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (group >> (18 - 6 * position)) & 0x3f;
                encoded.push(char::from(ALPHABET[index as usize]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    //! Expected outputs are what kube-apiserver v1.33 returns for the same input, less the zero
    //! values Go's encoder adds on its own (`resources: {}`, `status: {}`,
    //! `creationTimestamp: null`) and less allocated values (cluster IPs, uids).

    use super::*;

    /// When a case's defaults apply.
    #[derive(Debug, Clone, Copy)]
    enum Stage {
        /// Decode-time defaulting only: updates, patches, reads.
        Decode,
        /// Decode-time defaulting followed by the create-time admission defaults.
        Create,
    }

    struct Case {
        name: &'static str,
        stage: Stage,
        input: Value,
        expected: Value,
    }

    fn case(name: &'static str, stage: Stage, input: Value, expected: Value) -> Case {
        Case { name, stage, input, expected }
    }

    /// Runs the stage on a copy of the object, reading group, version and kind from the object.
    fn run(stage: Stage, input: &Value) -> Value {
        let mut object = input.clone();
        let api_version = input.get("apiVersion").and_then(Value::as_str).unwrap_or("v1");
        let kind = input.get("kind").and_then(Value::as_str).unwrap_or("");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        apply_defaults(group, version, kind, &mut object);
        if let Stage::Create = stage {
            apply_admission_defaults(group, kind, &mut object);
        }
        object
    }

    fn check(case: &Case) {
        let actual = run(case.stage, &case.input);
        assert_eq!(
            actual,
            case.expected,
            "case {:?}: got\n{}",
            case.name,
            serde_json::to_string_pretty(&actual).unwrap()
        );
    }

    #[test]
    fn every_case_matches_upstream() {
        for case in cases() {
            check(&case);
        }
    }

    #[test]
    fn defaulting_twice_equals_defaulting_once() {
        for case in cases() {
            let once = run(case.stage, &case.input);
            let twice = run(case.stage, &once);
            assert_eq!(twice, once, "case {:?} is not idempotent", case.name);
        }
    }

    /// Replaces every value in every case, one at a time, by values of each JSON type: the
    /// defaulter must never panic, must return a replaced scalar verbatim, and must keep a replaced
    /// list or map of the type it was given (it may add defaults inside a map). Null is exempt (it
    /// means "unset"), and so are the fields upstream itself rewrites or drops.
    #[test]
    fn mistyped_fields_never_panic_and_are_left_alone() {
        let replacements =
            [json!(null), json!(true), json!(7), json!(-1.5), json!("text"), json!([1, "x"]), json!({ "x": 1 })];
        let rewritten_upstream = [
            "sessionAffinityConfig",
            "stringData",
            "kubernetes.io/metadata.name",
            "serviceAccount",
            "podIPs",
            "hostIPs",
        ];
        let mut failures = Vec::new();
        for case in cases() {
            for path in paths(&case.input, &mut Vec::new()) {
                for replacement in &replacements {
                    let mut input = case.input.clone();
                    *pointer_mut(&mut input, &path) = replacement.clone();
                    for stage in [Stage::Decode, Stage::Create] {
                        let output = run(stage, &input);
                        let exempt = replacement.is_null()
                            || path.first().is_some_and(|root| root == "apiVersion" || root == "kind")
                            || path.iter().any(|step| rewritten_upstream.contains(&step.as_str()))
                            || (path.first().is_some_and(|root| root == "data")
                                && case.input.get("stringData").is_some());
                        if exempt {
                            continue;
                        }
                        let after = output.pointer(&to_pointer(&path));
                        let kept = match replacement {
                            Value::Object(_) => after.is_some_and(Value::is_object),
                            Value::Array(_) => after == Some(replacement),
                            _ => after == Some(replacement),
                        };
                        if !kept {
                            failures.push(format!(
                                "case {:?} ({stage:?}): {replacement} at {path:?} became {after:?}",
                                case.name
                            ));
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} rewritten values:\n{}", failures.len(), failures.join("\n"));
    }

    fn paths(value: &Value, prefix: &mut Vec<String>) -> Vec<Vec<String>> {
        let mut found = Vec::new();
        let children: Vec<(String, &Value)> = match value {
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Value::Array(items) => items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
            _ => Vec::new(),
        };
        for (key, child) in children {
            prefix.push(key);
            found.push(prefix.clone());
            found.extend(paths(child, prefix));
            prefix.pop();
        }
        found
    }

    fn to_pointer(path: &[String]) -> String {
        path.iter().map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1"))).collect()
    }

    fn pointer_mut<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
        value.pointer_mut(&to_pointer(path)).unwrap()
    }

    #[test]
    fn mistyped_values_are_kept_verbatim() {
        let input = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "d" },
            "spec": {
                "replicas": "3",
                "strategy": "fast",
                "revisionHistoryLimit": null,
                "template": { "spec": { "containers": { "name": "c" }, "dnsPolicy": 5, "volumes": ["v", 1] } }
            }
        });
        check(&case(
            "mistyped deployment",
            Stage::Create,
            input,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "d" },
                "spec": {
                    "replicas": "3",
                    "strategy": "fast",
                    "revisionHistoryLimit": 10,
                    "progressDeadlineSeconds": 600,
                    "template": { "spec": {
                        "containers": { "name": "c" }, "dnsPolicy": 5, "volumes": ["v", 1],
                        "restartPolicy": "Always", "schedulerName": "default-scheduler",
                        "securityContext": {}, "terminationGracePeriodSeconds": 30
                    } }
                }
            }),
        ));
        for not_an_object in [json!(null), json!("Pod"), json!([1]), json!(3)] {
            let mut value = not_an_object.clone();
            apply_defaults("", "v1", "Pod", &mut value);
            apply_admission_defaults("", "Pod", &mut value);
            assert_eq!(value, not_an_object);
        }
    }

    #[test]
    fn service_account_admission_mounts_the_token_volume() {
        let mut pod = run(
            Stage::Create,
            &json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "p", "namespace": "default" },
                "spec": {
                    "initContainers": [{ "name": "init", "image": "busybox:1.36" }],
                    "containers": [
                        { "name": "app", "image": "busybox:1.36" },
                        { "name": "own", "image": "busybox:1.36", "volumeMounts": [
                            { "name": "mine", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount" }
                        ] }
                    ],
                    "volumes": [{ "name": "mine", "emptyDir": {} }]
                }
            }),
        );
        let pull_secrets = [json!({ "name": "registry" })];
        let account = ServiceAccountFacts {
            automount_token: None,
            image_pull_secrets: &pull_secrets,
            token_volume_suffix: "x7k2q",
        };
        apply_service_account(&mut pod, &account);
        let once = pod.clone();
        apply_service_account(&mut pod, &account);
        assert_eq!(pod, once, "applying the plugin twice must not add a second mount");
        let mount = json!({
            "name": "kube-api-access-x7k2q", "readOnly": true,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"
        });
        assert_eq!(pod["spec"]["initContainers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(pod["spec"]["containers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(pod["spec"]["containers"][1]["volumeMounts"].as_array().unwrap().len(), 1);
        assert_eq!(pod["spec"]["imagePullSecrets"], json!([{ "name": "registry" }]));
        assert_eq!(
            pod["spec"]["volumes"][1],
            json!({
                "name": "kube-api-access-x7k2q",
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        { "serviceAccountToken": { "expirationSeconds": 3607, "path": "token" } },
                        { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } },
                        { "downwardAPI": { "items": [{
                            "path": "namespace",
                            "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" }
                        }] } }
                    ]
                }
            })
        );

        let mut opted_out =
            json!({ "spec": { "automountServiceAccountToken": false, "containers": [{ "name": "a" }] } });
        let account =
            ServiceAccountFacts { automount_token: Some(true), image_pull_secrets: &[], token_volume_suffix: "abcde" };
        apply_service_account(&mut opted_out, &account);
        assert_eq!(
            opted_out,
            json!({ "spec": {
                "automountServiceAccountToken": false, "containers": [{ "name": "a" }],
                "serviceAccountName": "default", "serviceAccount": "default"
            } })
        );
    }

    #[test]
    fn image_references_choose_the_pull_policy() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for (image, expected) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("docker.io/library/nginx", "Always"),
            ("localhost:5000/app", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("localhost:5000/app:v1", "IfNotPresent"),
            ("registry.example.com:443/team/app_x--y.z:1.0-rc.1", "IfNotPresent"),
            (&format!("nginx@{digest}"), "IfNotPresent"),
            (&format!("nginx:latest@{digest}"), "Always"),
            (&format!("nginx:1.27@{digest}"), "IfNotPresent"),
            ("nginx@sha256:short", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
            ("nginx:", "IfNotPresent"),
            ("", "IfNotPresent"),
            ("ngïnx", "IfNotPresent"),
            ("a//b", "IfNotPresent"),
            ("a-", "IfNotPresent"),
        ] {
            assert_eq!(default_pull_policy(image), expected, "image {image:?}");
        }
    }

    #[test]
    fn quantities_read_in_rounded_up_thousandths() {
        for (text, expected) in [
            ("1", Some(1000)),
            ("500m", Some(500)),
            ("0.5", Some(500)),
            ("1.5Gi", Some(1_610_612_736_000)),
            ("128Mi", Some(134_217_728_000)),
            ("1k", Some(1_000_000)),
            ("1e3", Some(1_000_000)),
            ("1E-3", Some(1)),
            ("1n", Some(1)),
            ("100u", Some(1)),
            ("-1", Some(-1000)),
            ("+2", Some(2000)),
            ("1Ei", Some(1_152_921_504_606_846_976_000)),
            ("", None),
            ("m", None),
            ("1.2.3", None),
            ("1Kb", None),
            ("1e", None),
        ] {
            assert_eq!(quantity_millis(text), expected, "quantity {text:?}");
        }
    }

    #[test]
    fn base64_matches_go() {
        for (text, expected) in
            [("", ""), ("a", "YQ=="), ("ab", "YWI="), ("admin", "YWRtaW4="), ("hello world!?", "aGVsbG8gd29ybGQhPw==")]
        {
            assert_eq!(base64(text.as_bytes()), expected);
        }
    }

    fn defaulted_container(name: &str, image: &str, pull_policy: &str) -> Value {
        json!({
            "name": name, "image": image, "imagePullPolicy": pull_policy,
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
        })
    }

    /// `SetDefaults_PodSpec` on a spec whose only other content is `extra`.
    fn defaulted_template_spec(extra: Value) -> Value {
        let mut spec = json!({
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "securityContext": {}, "terminationGracePeriodSeconds": 30
        });
        if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
            spec.extend(extra);
        }
        spec
    }

    fn admitted_pod_spec(extra: Value) -> Value {
        let mut spec = defaulted_template_spec(json!({
            "enableServiceLinks": true, "serviceAccountName": "default", "serviceAccount": "default",
            "tolerations": [
                { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
                { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }
            ]
        }));
        if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
            spec.extend(extra);
        }
        spec
    }

    fn cases() -> Vec<Case> {
        let digest = "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac";
        vec![
            case(
                "minimal deployment",
                Stage::Decode,
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": { "name": "web", "labels": { "app": "web" } },
                    "spec": {
                        "selector": { "matchLabels": { "app": "web" } },
                        "template": {
                            "metadata": { "labels": { "app": "web" } },
                            "spec": { "containers": [{ "name": "nginx", "image": "nginx:1.27", "ports": [{ "containerPort": 80 }] }] }
                        }
                    }
                }),
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": { "name": "web", "labels": { "app": "web" } },
                    "spec": {
                        "replicas": 1,
                        "revisionHistoryLimit": 10,
                        "progressDeadlineSeconds": 600,
                        "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } },
                        "selector": { "matchLabels": { "app": "web" } },
                        "template": {
                            "metadata": { "labels": { "app": "web" } },
                            "spec": defaulted_template_spec(json!({ "containers": [{
                                "name": "nginx", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                                "ports": [{ "containerPort": 80, "protocol": "TCP" }],
                                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
                            }] }))
                        }
                    }
                }),
            ),
            case(
                "deployment with Recreate and explicit zero replicas",
                Stage::Create,
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "db" },
                    "spec": { "replicas": 0, "revisionHistoryLimit": 0, "strategy": { "type": "Recreate" },
                              "template": { "spec": { "containers": [{ "name": "db", "image": "postgres" }] } } }
                }),
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "db" },
                    "spec": { "replicas": 0, "revisionHistoryLimit": 0, "progressDeadlineSeconds": 600,
                              "strategy": { "type": "Recreate" },
                              "template": { "spec": defaulted_template_spec(json!({
                                  "containers": [defaulted_container("db", "postgres", "Always")]
                              })) } }
                }),
            ),
            case(
                "pod with a latest image, created",
                Stage::Create,
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "web", "namespace": "default" },
                    "spec": { "containers": [{ "name": "web", "image": "nginx:latest" }] }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "web", "namespace": "default" },
                    "spec": admitted_pod_spec(json!({ "containers": [defaulted_container("web", "nginx:latest", "Always")] })),
                    "status": { "phase": "Pending", "qosClass": "BestEffort" }
                }),
            ),
            case(
                "pod with a digest, decoded",
                Stage::Decode,
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "pinned" },
                    "spec": {
                        "serviceAccount": "builder",
                        "containers": [{ "name": "app", "image": format!("nginx@{digest}") }]
                    },
                    "status": { "podIPs": [{ "ip": "10.42.0.7" }], "hostIP": "192.168.1.10" }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "pinned" },
                    "spec": defaulted_template_spec(json!({
                        "enableServiceLinks": true,
                        "serviceAccount": "builder", "serviceAccountName": "builder",
                        "containers": [defaulted_container("app", &format!("nginx@{digest}"), "IfNotPresent")]
                    })),
                    "status": {
                        "podIP": "10.42.0.7", "podIPs": [{ "ip": "10.42.0.7" }],
                        "hostIP": "192.168.1.10", "hostIPs": [{ "ip": "192.168.1.10" }]
                    }
                }),
            ),
            case(
                "pod whose deprecated spellings disagree, decoded",
                Stage::Decode,
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "p" },
                    "spec": { "serviceAccountName": "new", "serviceAccount": "old", "containers": [] },
                    "status": { "podIP": "10.42.0.9", "podIPs": [{ "ip": "10.42.0.7" }], "hostIPs": [{ "ip": "192.168.1.10" }] }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "p" },
                    "spec": defaulted_template_spec(json!({
                        "serviceAccountName": "new", "serviceAccount": "new", "containers": [], "enableServiceLinks": true
                    })),
                    "status": { "podIP": "10.42.0.9", "podIPs": [{ "ip": "10.42.0.9" }],
                                "hostIP": "192.168.1.10", "hostIPs": [{ "ip": "192.168.1.10" }] }
                }),
            ),
            case(
                "node with pod CIDRs only",
                Stage::Decode,
                json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": "pi-2" },
                        "spec": { "podCIDRs": ["10.42.1.0/24", "fd00:42::/64"] }, "status": { "allocatable": { "cpu": "3" } } }),
                json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": "pi-2" },
                        "spec": { "podCIDR": "10.42.1.0/24", "podCIDRs": ["10.42.1.0/24", "fd00:42::/64"] },
                        "status": { "allocatable": { "cpu": "3" } } }),
            ),
            case(
                "pod with limits only is Guaranteed",
                Stage::Create,
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "g" },
                    "spec": {
                        "priorityClassName": "system-node-critical",
                        "tolerations": [{ "operator": "Exists" }],
                        "containers": [{ "name": "a", "image": "app:1", "imagePullPolicy": "Never",
                                         "resources": { "limits": { "cpu": "500m", "memory": "128Mi" } } }]
                    }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "g" },
                    "spec": defaulted_template_spec(json!({
                        "priorityClassName": "system-node-critical",
                        "tolerations": [{ "operator": "Exists" }],
                        "enableServiceLinks": true, "serviceAccountName": "default", "serviceAccount": "default",
                        "containers": [{
                            "name": "a", "image": "app:1", "imagePullPolicy": "Never",
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                            "resources": {
                                "limits": { "cpu": "500m", "memory": "128Mi" },
                                "requests": { "cpu": "500m", "memory": "128Mi" }
                            }
                        }]
                    })),
                    "status": { "phase": "Pending", "qosClass": "Guaranteed" }
                }),
            ),
            case(
                "pod with a request only is Burstable; a mirror pod gets no service account",
                Stage::Create,
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": { "name": "b", "annotations": { "kubernetes.io/config.mirror": "abc" } },
                    "spec": { "containers": [{ "name": "a", "image": "app:1", "resources": { "requests": { "cpu": "0.1" } } }] }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": { "name": "b", "annotations": { "kubernetes.io/config.mirror": "abc" } },
                    "spec": defaulted_template_spec(json!({
                        "enableServiceLinks": true,
                        "tolerations": [
                            { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
                            { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }
                        ],
                        "containers": [{
                            "name": "a", "image": "app:1", "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                            "resources": { "requests": { "cpu": "0.1" } }
                        }]
                    })),
                    "status": { "phase": "Pending", "qosClass": "Burstable" }
                }),
            ),
            case(
                "pod with probes, env, volumes and host network",
                Stage::Decode,
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "full" },
                    "spec": {
                        "hostNetwork": true,
                        "containers": [{
                            "name": "app", "image": "app:2",
                            "ports": [{ "containerPort": 8080 }, { "containerPort": 53, "protocol": "UDP", "hostPort": 5353 }],
                            "env": [{ "name": "NODE", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } }],
                            "livenessProbe": { "httpGet": { "port": 8080 }, "timeoutSeconds": 0 },
                            "readinessProbe": { "grpc": { "port": 9090 }, "periodSeconds": 5 },
                            "startupProbe": { "tcpSocket": { "port": 8080 } },
                            "lifecycle": { "preStop": { "httpGet": { "port": 8080, "path": "/quit" } } }
                        }],
                        "volumes": [
                            { "name": "scratch" },
                            { "name": "config", "configMap": { "name": "cfg" } },
                            { "name": "creds", "secret": { "secretName": "s", "defaultMode": 256 } },
                            { "name": "host", "hostPath": { "path": "/var/log" } },
                            { "name": "info", "downwardAPI": { "items": [{ "path": "labels", "fieldRef": { "fieldPath": "metadata.labels" } }] } },
                            { "name": "token", "projected": { "sources": [{ "serviceAccountToken": { "path": "t", "audience": "vault" } }] } },
                            { "name": "claim", "ephemeral": { "volumeClaimTemplate": { "spec": { "accessModes": ["ReadWriteOnce"] } } } },
                            { "name": "ceph", "rbd": { "monitors": ["m"], "image": "i" } }
                        ]
                    }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "full" },
                    "spec": defaulted_template_spec(json!({
                        "hostNetwork": true, "enableServiceLinks": true,
                        "containers": [{
                            "name": "app", "image": "app:2", "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                            "ports": [
                                { "containerPort": 8080, "protocol": "TCP", "hostPort": 8080 },
                                { "containerPort": 53, "protocol": "UDP", "hostPort": 5353 }
                            ],
                            "env": [{ "name": "NODE", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName", "apiVersion": "v1" } } }],
                            "livenessProbe": {
                                "httpGet": { "port": 8080, "path": "/", "scheme": "HTTP" },
                                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
                            },
                            "readinessProbe": {
                                "grpc": { "port": 9090, "service": "" },
                                "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3
                            },
                            "startupProbe": {
                                "tcpSocket": { "port": 8080 },
                                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
                            },
                            "lifecycle": { "preStop": { "httpGet": { "port": 8080, "path": "/quit", "scheme": "HTTP" } } }
                        }],
                        "volumes": [
                            { "name": "scratch", "emptyDir": {} },
                            { "name": "config", "configMap": { "name": "cfg", "defaultMode": 420 } },
                            { "name": "creds", "secret": { "secretName": "s", "defaultMode": 256 } },
                            { "name": "host", "hostPath": { "path": "/var/log", "type": "" } },
                            { "name": "info", "downwardAPI": { "defaultMode": 420, "items": [{
                                "path": "labels", "fieldRef": { "fieldPath": "metadata.labels", "apiVersion": "v1" }
                            }] } },
                            { "name": "token", "projected": { "defaultMode": 420, "sources": [{
                                "serviceAccountToken": { "path": "t", "audience": "vault", "expirationSeconds": 3600 }
                            }] } },
                            { "name": "claim", "ephemeral": { "volumeClaimTemplate": { "spec": {
                                "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"
                            } } } },
                            { "name": "ceph", "rbd": {
                                "monitors": ["m"], "image": "i", "pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"
                            } }
                        ]
                    }))
                }),
            ),
            case(
                "pod affinity matchLabelKeys merge into the selector on create",
                Stage::Create,
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": { "name": "a", "labels": { "pod-template-hash": "abc", "app": "web" } },
                    "spec": {
                        "serviceAccountName": "web",
                        "priorityClassName": "custom",
                        "tolerations": [{ "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute" }],
                        "containers": [{ "name": "a", "image": "app:1" }],
                        "affinity": { "podAntiAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": [{
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": { "matchLabels": { "app": "web" } },
                            "matchLabelKeys": ["pod-template-hash", "missing"]
                        }] } }
                    }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": { "name": "a", "labels": { "pod-template-hash": "abc", "app": "web" } },
                    "spec": defaulted_template_spec(json!({
                        "serviceAccountName": "web", "serviceAccount": "web", "enableServiceLinks": true,
                        "priorityClassName": "custom",
                        "tolerations": [
                            { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute" },
                            { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }
                        ],
                        "containers": [defaulted_container("a", "app:1", "IfNotPresent")],
                        "affinity": { "podAntiAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": [{
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {
                                "matchLabels": { "app": "web" },
                                "matchExpressions": [{ "key": "pod-template-hash", "operator": "In", "values": ["abc"] }]
                            },
                            "matchLabelKeys": ["pod-template-hash", "missing"]
                        }] } }
                    })),
                    "status": { "phase": "Pending", "qosClass": "BestEffort" }
                }),
            ),
            case(
                "service with one port, created",
                Stage::Create,
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" },
                    "spec": { "selector": { "app": "web" }, "ports": [{ "port": 80 }] }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" },
                    "spec": {
                        "selector": { "app": "web" },
                        "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 80 }],
                        "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                        "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]
                    }
                }),
            ),
            case(
                "load balancer service with client IP affinity, decoded",
                Stage::Decode,
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "lb" },
                    "spec": { "type": "LoadBalancer", "sessionAffinity": "ClientIP",
                              "ports": [{ "name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns" }] },
                    "status": { "loadBalancer": { "ingress": [{ "ip": "192.168.1.240" }, { "hostname": "lb.example" }] } }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "lb" },
                    "spec": {
                        "type": "LoadBalancer", "sessionAffinity": "ClientIP",
                        "sessionAffinityConfig": { "clientIP": { "timeoutSeconds": 10800 } },
                        "ports": [{ "name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns" }],
                        "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                        "allocateLoadBalancerNodePorts": true
                    },
                    "status": { "loadBalancer": { "ingress": [{ "ip": "192.168.1.240", "ipMode": "VIP" }, { "hostname": "lb.example" }] } }
                }),
            ),
            case(
                "headless service without selector, created",
                Stage::Create,
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "ext" },
                    "spec": { "clusterIP": "None", "sessionAffinityConfig": { "clientIP": { "timeoutSeconds": 5 } },
                              "ports": [{ "port": 5432, "targetPort": 0 }] }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "ext" },
                    "spec": {
                        "clusterIP": "None", "clusterIPs": ["None"],
                        "ports": [{ "port": 5432, "targetPort": 5432, "protocol": "TCP" }],
                        "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                        "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]
                    }
                }),
            ),
            case(
                "external name service, created",
                Stage::Create,
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "db" },
                    "spec": { "type": "ExternalName", "externalName": "db.example.com" }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "db" },
                    "spec": { "type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None" }
                }),
            ),
            case(
                "service with a fixed cluster IP, created",
                Stage::Create,
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "dns" },
                    "spec": { "clusterIP": "10.43.0.10", "type": "NodePort", "selector": { "k8s-app": "kube-dns" },
                              "ports": [{ "port": 53, "protocol": "UDP" }] }
                }),
                json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": { "name": "dns" },
                    "spec": {
                        "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], "type": "NodePort",
                        "selector": { "k8s-app": "kube-dns" },
                        "ports": [{ "port": 53, "protocol": "UDP", "targetPort": 53 }],
                        "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                        "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]
                    }
                }),
            ),
            case(
                "job, decoded",
                Stage::Decode,
                json!({
                    "apiVersion": "batch/v1", "kind": "Job", "metadata": { "name": "pi" },
                    "spec": { "backoffLimit": 4, "template": { "spec": {
                        "containers": [{ "name": "pi", "image": "perl:5.34.0", "command": ["perl", "-e", "print 1"] }],
                        "restartPolicy": "Never"
                    } } }
                }),
                json!({
                    "apiVersion": "batch/v1", "kind": "Job", "metadata": { "name": "pi" },
                    "spec": {
                        "backoffLimit": 4, "completions": 1, "parallelism": 1, "completionMode": "NonIndexed",
                        "suspend": false, "podReplacementPolicy": "TerminatingOrFailed", "manualSelector": false,
                        "template": { "spec": defaulted_template_spec(json!({
                            "restartPolicy": "Never",
                            "containers": [{
                                "name": "pi", "image": "perl:5.34.0", "command": ["perl", "-e", "print 1"],
                                "imagePullPolicy": "IfNotPresent",
                                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
                            }]
                        })) }
                    }
                }),
            ),
            case(
                "indexed job with a failure policy, created",
                Stage::Create,
                json!({
                    "apiVersion": "batch/v1", "kind": "Job",
                    "metadata": { "name": "work", "uid": "0e1dd2b1-2f55-4d87-9f0a-5b4b2d1c2e3f" },
                    "spec": {
                        "completions": 5, "completionMode": "Indexed", "backoffLimitPerIndex": 1,
                        "podFailurePolicy": { "rules": [{ "action": "Ignore", "onPodConditions": [{ "type": "DisruptionTarget" }] }] },
                        "template": { "metadata": { "labels": { "app": "work" } },
                                      "spec": { "containers": [{ "name": "w", "image": "w:1" }], "restartPolicy": "Never" } }
                    }
                }),
                json!({
                    "apiVersion": "batch/v1", "kind": "Job",
                    "metadata": { "name": "work", "uid": "0e1dd2b1-2f55-4d87-9f0a-5b4b2d1c2e3f", "labels": {
                        "app": "work", "job-name": "work", "batch.kubernetes.io/job-name": "work",
                        "controller-uid": "0e1dd2b1-2f55-4d87-9f0a-5b4b2d1c2e3f",
                        "batch.kubernetes.io/controller-uid": "0e1dd2b1-2f55-4d87-9f0a-5b4b2d1c2e3f"
                    } },
                    "spec": {
                        "completions": 5, "parallelism": 1, "completionMode": "Indexed", "backoffLimitPerIndex": 1,
                        "backoffLimit": 2_147_483_647, "suspend": false, "podReplacementPolicy": "Failed",
                        "manualSelector": false,
                        "podFailurePolicy": { "rules": [{ "action": "Ignore",
                            "onPodConditions": [{ "type": "DisruptionTarget", "status": "True" }] }] },
                        "selector": { "matchLabels": { "batch.kubernetes.io/controller-uid": "0e1dd2b1-2f55-4d87-9f0a-5b4b2d1c2e3f" } },
                        "template": {
                            "metadata": { "labels": {
                                "app": "work", "job-name": "work", "batch.kubernetes.io/job-name": "work",
                                "controller-uid": "0e1dd2b1-2f55-4d87-9f0a-5b4b2d1c2e3f",
                                "batch.kubernetes.io/controller-uid": "0e1dd2b1-2f55-4d87-9f0a-5b4b2d1c2e3f"
                            } },
                            "spec": defaulted_template_spec(json!({
                                "restartPolicy": "Never", "containers": [defaulted_container("w", "w:1", "IfNotPresent")]
                            }))
                        }
                    }
                }),
            ),
            case(
                "cron job, decoded",
                Stage::Decode,
                json!({
                    "apiVersion": "batch/v1", "kind": "CronJob", "metadata": { "name": "hello" },
                    "spec": { "schedule": "* * * * *", "jobTemplate": { "spec": { "template": { "spec": {
                        "containers": [{ "name": "hello", "image": "busybox:1.28" }], "restartPolicy": "OnFailure"
                    } } } } }
                }),
                json!({
                    "apiVersion": "batch/v1", "kind": "CronJob", "metadata": { "name": "hello" },
                    "spec": {
                        "schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": false,
                        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                        "jobTemplate": { "spec": { "template": { "spec": defaulted_template_spec(json!({
                            "restartPolicy": "OnFailure",
                            "containers": [defaulted_container("hello", "busybox:1.28", "IfNotPresent")]
                        })) } } }
                    }
                }),
            ),
            case(
                "stateful set with a claim template",
                Stage::Decode,
                json!({
                    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": { "name": "web" },
                    "spec": {
                        "serviceName": "web", "selector": { "matchLabels": { "app": "web" } },
                        "template": { "metadata": { "labels": { "app": "web" } },
                                      "spec": { "containers": [{ "name": "nginx", "image": "nginx:1.27" }] } },
                        "volumeClaimTemplates": [{ "metadata": { "name": "www" }, "spec": {
                            "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } }
                        } }]
                    }
                }),
                json!({
                    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": { "name": "web" },
                    "spec": {
                        "serviceName": "web", "selector": { "matchLabels": { "app": "web" } },
                        "replicas": 1, "revisionHistoryLimit": 10, "podManagementPolicy": "OrderedReady",
                        "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } },
                        "persistentVolumeClaimRetentionPolicy": { "whenDeleted": "Retain", "whenScaled": "Retain" },
                        "template": { "metadata": { "labels": { "app": "web" } },
                                      "spec": defaulted_template_spec(json!({
                                          "containers": [defaulted_container("nginx", "nginx:1.27", "IfNotPresent")]
                                      })) },
                        "volumeClaimTemplates": [{
                            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": { "name": "www" },
                            "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } },
                                      "volumeMode": "Filesystem" },
                            "status": { "phase": "Pending" }
                        }]
                    }
                }),
            ),
            case(
                "stateful set with an explicit RollingUpdate type gets no partition",
                Stage::Decode,
                json!({
                    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": { "name": "s" },
                    "spec": { "podManagementPolicy": "Parallel", "updateStrategy": { "type": "RollingUpdate" },
                              "template": { "spec": {} } }
                }),
                json!({
                    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": { "name": "s" },
                    "spec": {
                        "podManagementPolicy": "Parallel", "updateStrategy": { "type": "RollingUpdate" },
                        "persistentVolumeClaimRetentionPolicy": { "whenDeleted": "Retain", "whenScaled": "Retain" },
                        "replicas": 1, "revisionHistoryLimit": 10,
                        "template": { "spec": defaulted_template_spec(json!({})) }
                    }
                }),
            ),
            case(
                "daemon set, created",
                Stage::Create,
                json!({
                    "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": { "name": "agent" },
                    "spec": { "template": { "spec": { "containers": [{ "name": "a", "image": "agent:3" }] } } }
                }),
                json!({
                    "apiVersion": "apps/v1", "kind": "DaemonSet",
                    "metadata": { "name": "agent", "annotations": { "deprecated.daemonset.template.generation": "1" } },
                    "spec": {
                        "revisionHistoryLimit": 10,
                        "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1, "maxSurge": 0 } },
                        "template": { "spec": defaulted_template_spec(json!({
                            "containers": [defaulted_container("a", "agent:3", "IfNotPresent")]
                        })) }
                    }
                }),
            ),
            case(
                "replica set and its list",
                Stage::Decode,
                json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSetList",
                    "items": [{ "metadata": { "name": "rs" }, "spec": { "template": { "spec": {} } } }]
                }),
                json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSetList",
                    "items": [{ "metadata": { "name": "rs" },
                                "spec": { "replicas": 1, "template": { "spec": defaulted_template_spec(json!({})) } } }]
                }),
            ),
            case(
                "replication controller takes its selector and labels from the template",
                Stage::Decode,
                json!({
                    "apiVersion": "v1", "kind": "ReplicationController", "metadata": { "name": "rc" },
                    "spec": { "template": { "metadata": { "labels": { "app": "old" } }, "spec": { "containers": [] } } }
                }),
                json!({
                    "apiVersion": "v1", "kind": "ReplicationController",
                    "metadata": { "name": "rc", "labels": { "app": "old" } },
                    "spec": { "replicas": 1, "selector": { "app": "old" },
                              "template": { "metadata": { "labels": { "app": "old" } },
                                            "spec": defaulted_template_spec(json!({ "containers": [] })) } }
                }),
            ),
            case(
                "pod template",
                Stage::Decode,
                json!({ "apiVersion": "v1", "kind": "PodTemplate", "metadata": { "name": "t" },
                        "template": { "spec": { "serviceAccountName": "sa", "containers": [{ "name": "c", "image": "c" }] } } }),
                json!({ "apiVersion": "v1", "kind": "PodTemplate", "metadata": { "name": "t" },
                        "template": { "spec": defaulted_template_spec(json!({
                            "serviceAccountName": "sa", "serviceAccount": "sa",
                            "containers": [defaulted_container("c", "c", "Always")]
                        })) } }),
            ),
            case(
                "namespace, created",
                Stage::Create,
                json!({ "apiVersion": "v1", "kind": "Namespace",
                        "metadata": { "name": "team-a", "labels": { "kubernetes.io/metadata.name": "spoofed" } } }),
                json!({ "apiVersion": "v1", "kind": "Namespace",
                        "metadata": { "name": "team-a", "labels": { "kubernetes.io/metadata.name": "team-a" } },
                        "spec": { "finalizers": ["kubernetes"] },
                        "status": { "phase": "Active" } }),
            ),
            case(
                "secret with string data",
                Stage::Decode,
                json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s" },
                        "data": { "user": "YWRtaW4=", "password": "b2xk" }, "stringData": { "password": "s3cr3t" } }),
                json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s" }, "type": "Opaque",
                        "data": { "user": "YWRtaW4=", "password": "czNjcjN0" } }),
            ),
            case(
                "config map is left as it is",
                Stage::Create,
                json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "c" }, "data": { "k": "v" } }),
                json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "c" }, "data": { "k": "v" } }),
            ),
            case(
                "persistent volume claim, created",
                Stage::Create,
                json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": { "name": "data" },
                        "spec": { "accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                                  "resources": { "requests": { "storage": "2Gi" } } } }),
                json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": { "name": "data", "finalizers": ["kubernetes.io/pvc-protection"] },
                        "spec": { "accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                                  "resources": { "requests": { "storage": "2Gi" } }, "volumeMode": "Filesystem" },
                        "status": { "phase": "Pending" } }),
            ),
            case(
                "persistent volume, created",
                Stage::Create,
                json!({ "apiVersion": "v1", "kind": "PersistentVolume", "metadata": { "name": "pv" },
                        "spec": { "capacity": { "storage": "5Gi" }, "hostPath": { "path": "/data" },
                                  "accessModes": ["ReadWriteOnce"], "volumeMode": "Block" } }),
                json!({ "apiVersion": "v1", "kind": "PersistentVolume",
                        "metadata": { "name": "pv", "finalizers": ["kubernetes.io/pv-protection"] },
                        "spec": { "capacity": { "storage": "5Gi" }, "hostPath": { "path": "/data", "type": "" },
                                  "accessModes": ["ReadWriteOnce"], "volumeMode": "Block",
                                  "persistentVolumeReclaimPolicy": "Retain" },
                        "status": { "phase": "Pending" } }),
            ),
            case(
                "node, created",
                Stage::Create,
                json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": "pi-1" },
                        "spec": { "podCIDR": "10.42.0.0/24" },
                        "status": { "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110" } } }),
                json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": "pi-1" },
                        "spec": { "podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"],
                                  "taints": [{ "key": "node.kubernetes.io/not-ready", "effect": "NoSchedule" }] },
                        "status": { "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110" },
                                    "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110" } } }),
            ),
            case(
                "limit range",
                Stage::Decode,
                json!({ "apiVersion": "v1", "kind": "LimitRange", "metadata": { "name": "lr" },
                        "spec": { "limits": [
                            { "type": "Container", "max": { "cpu": "2", "memory": "1Gi" }, "min": { "cpu": "100m", "ephemeral-storage": "1Mi" },
                              "default": { "memory": "512Mi" } },
                            { "type": "Pod", "max": { "cpu": "4" } }
                        ] } }),
                json!({ "apiVersion": "v1", "kind": "LimitRange", "metadata": { "name": "lr" },
                        "spec": { "limits": [
                            { "type": "Container", "max": { "cpu": "2", "memory": "1Gi" }, "min": { "cpu": "100m", "ephemeral-storage": "1Mi" },
                              "default": { "memory": "512Mi", "cpu": "2" },
                              "defaultRequest": { "memory": "512Mi", "cpu": "2", "ephemeral-storage": "1Mi" } },
                            { "type": "Pod", "max": { "cpu": "4" } }
                        ] } }),
            ),
            case(
                "endpoints and endpoint slices",
                Stage::Decode,
                json!({ "apiVersion": "v1", "kind": "Endpoints", "metadata": { "name": "e" },
                        "subsets": [{ "addresses": [{ "ip": "10.42.0.5" }], "ports": [{ "port": 80 }] }] }),
                json!({ "apiVersion": "v1", "kind": "Endpoints", "metadata": { "name": "e" },
                        "subsets": [{ "addresses": [{ "ip": "10.42.0.5" }], "ports": [{ "port": 80, "protocol": "TCP" }] }] }),
            ),
            case(
                "endpoint slice",
                Stage::Decode,
                json!({ "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": { "name": "e-1" },
                        "addressType": "IPv4", "endpoints": [], "ports": [{ "port": 80 }, { "name": "dns", "port": 53, "protocol": "UDP" }] }),
                json!({ "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": { "name": "e-1" },
                        "addressType": "IPv4", "endpoints": [],
                        "ports": [{ "port": 80, "name": "", "protocol": "TCP" }, { "name": "dns", "port": 53, "protocol": "UDP" }] }),
            ),
            case(
                "horizontal pod autoscaler v2 with a partial behavior",
                Stage::Decode,
                json!({ "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": { "name": "h" },
                        "spec": { "maxReplicas": 5, "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "web" },
                                  "behavior": { "scaleDown": { "stabilizationWindowSeconds": 60 } } } }),
                json!({ "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": { "name": "h" },
                        "spec": {
                            "maxReplicas": 5, "minReplicas": 1,
                            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "web" },
                            "metrics": [{ "type": "Resource", "resource": { "name": "cpu",
                                "target": { "type": "Utilization", "averageUtilization": 80 } } }],
                            "behavior": {
                                "scaleUp": { "stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                                    { "type": "Pods", "value": 4, "periodSeconds": 15 },
                                    { "type": "Percent", "value": 100, "periodSeconds": 15 }
                                ] },
                                "scaleDown": { "stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                                    { "type": "Percent", "value": 100, "periodSeconds": 15 }
                                ] }
                            }
                        } }),
            ),
            case(
                "horizontal pod autoscaler v1",
                Stage::Decode,
                json!({ "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": { "name": "h" },
                        "spec": { "maxReplicas": 3 } }),
                json!({ "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": { "name": "h" },
                        "spec": { "maxReplicas": 3, "minReplicas": 1 } }),
            ),
            case(
                "network policy with egress rules",
                Stage::Decode,
                json!({ "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": { "name": "np" },
                        "spec": { "podSelector": {}, "ingress": [{ "ports": [{ "port": 80 }] }],
                                  "egress": [{ "ports": [{ "port": 53, "protocol": "UDP" }] }] } }),
                json!({ "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": { "name": "np" },
                        "spec": { "podSelector": {}, "ingress": [{ "ports": [{ "port": 80, "protocol": "TCP" }] }],
                                  "egress": [{ "ports": [{ "port": 53, "protocol": "UDP" }] }],
                                  "policyTypes": ["Ingress", "Egress"] } }),
            ),
            case(
                "ingress class parameters",
                Stage::Decode,
                json!({ "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": { "name": "traefik" },
                        "spec": { "controller": "traefik.io/ingress-controller",
                                  "parameters": { "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p" } } }),
                json!({ "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": { "name": "traefik" },
                        "spec": { "controller": "traefik.io/ingress-controller",
                                  "parameters": { "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p",
                                                  "scope": "Cluster" } } }),
            ),
            case(
                "storage class",
                Stage::Decode,
                json!({ "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": { "name": "local-path" },
                        "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer" }),
                json!({ "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": { "name": "local-path" },
                        "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer",
                        "reclaimPolicy": "Delete" }),
            ),
            case(
                "csi driver",
                Stage::Decode,
                json!({ "apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": { "name": "d" }, "spec": {} }),
                json!({ "apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": { "name": "d" },
                        "spec": { "attachRequired": true, "podInfoOnMount": false, "storageCapacity": false,
                                  "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                                  "requiresRepublish": false, "seLinuxMount": false } }),
            ),
            case(
                "priority class",
                Stage::Decode,
                json!({ "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": { "name": "high" }, "value": 1000 }),
                json!({ "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": { "name": "high" }, "value": 1000,
                        "preemptionPolicy": "PreemptLowerPriority" }),
            ),
            case(
                "role binding",
                Stage::Decode,
                json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": { "name": "b" },
                        "roleRef": { "kind": "ClusterRole", "name": "view" },
                        "subjects": [{ "kind": "User", "name": "jane" }, { "kind": "Group", "name": "devs" },
                                     { "kind": "ServiceAccount", "name": "ci", "namespace": "default" }] }),
                json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": { "name": "b" },
                        "roleRef": { "kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io" },
                        "subjects": [{ "kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io" },
                                     { "kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io" },
                                     { "kind": "ServiceAccount", "name": "ci", "namespace": "default" }] }),
            ),
            case(
                "mutating webhook configuration",
                Stage::Decode,
                json!({ "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                        "metadata": { "name": "w" },
                        "webhooks": [{ "name": "w.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                                       "clientConfig": { "service": { "namespace": "n", "name": "s" } },
                                       "rules": [{ "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"] }] }] }),
                json!({ "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                        "metadata": { "name": "w" },
                        "webhooks": [{ "name": "w.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                                       "clientConfig": { "service": { "namespace": "n", "name": "s", "port": 443 } },
                                       "rules": [{ "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                                   "resources": ["pods"], "scope": "*" }],
                                       "failurePolicy": "Fail", "matchPolicy": "Equivalent", "namespaceSelector": {},
                                       "objectSelector": {}, "timeoutSeconds": 10, "reinvocationPolicy": "Never" }] }),
            ),
            case(
                "validating admission policy and binding",
                Stage::Decode,
                json!({ "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                        "metadata": { "name": "p" },
                        "spec": { "matchConstraints": { "resourceRules": [{ "operations": ["*"], "resources": ["deployments"] }] },
                                  "validations": [{ "expression": "true" }] } }),
                json!({ "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                        "metadata": { "name": "p" },
                        "spec": { "failurePolicy": "Fail",
                                  "matchConstraints": { "resourceRules": [{ "operations": ["*"], "resources": ["deployments"], "scope": "*" }],
                                                        "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {} },
                                  "validations": [{ "expression": "true" }] } }),
            ),
            case(
                "custom resource definition",
                Stage::Decode,
                json!({ "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                        "metadata": { "name": "helmcharts.helm.cattle.io" },
                        "spec": { "group": "helm.cattle.io", "scope": "Namespaced",
                                  "names": { "kind": "HelmChart", "plural": "helmcharts" },
                                  "versions": [{ "name": "v1", "served": true, "storage": true }] } }),
                json!({ "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                        "metadata": { "name": "helmcharts.helm.cattle.io" },
                        "spec": { "group": "helm.cattle.io", "scope": "Namespaced",
                                  "names": { "kind": "HelmChart", "plural": "helmcharts", "singular": "helmchart",
                                             "listKind": "HelmChartList" },
                                  "conversion": { "strategy": "None" },
                                  "versions": [{ "name": "v1", "served": true, "storage": true }] },
                        "status": { "storedVersions": ["v1"] } }),
            ),
            case(
                "api service",
                Stage::Decode,
                json!({ "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": { "name": "v1beta1.metrics.k8s.io" },
                        "spec": { "service": { "namespace": "kube-system", "name": "metrics-server" } } }),
                json!({ "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": { "name": "v1beta1.metrics.k8s.io" },
                        "spec": { "service": { "namespace": "kube-system", "name": "metrics-server", "port": 443 } } }),
            ),
            case(
                "priority level configuration",
                Stage::Decode,
                json!({ "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
                        "metadata": { "name": "workload" },
                        "spec": { "type": "Limited", "limited": { "nominalConcurrencyShares": 0,
                                  "limitResponse": { "type": "Queue", "queuing": { "queues": 128 } } } } }),
                json!({ "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
                        "metadata": { "name": "workload" },
                        "spec": { "type": "Limited", "limited": { "nominalConcurrencyShares": 0, "lendablePercent": 0,
                                  "limitResponse": { "type": "Queue", "queuing": { "queues": 128, "handSize": 8, "queueLengthLimit": 50 } } } } }),
            ),
            case(
                "flow schema",
                Stage::Decode,
                json!({ "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": { "name": "f" },
                        "spec": { "priorityLevelConfiguration": { "name": "workload" }, "matchingPrecedence": 0 } }),
                json!({ "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": { "name": "f" },
                        "spec": { "priorityLevelConfiguration": { "name": "workload" }, "matchingPrecedence": 1000 } }),
            ),
            case(
                "kinds without defaults and unknown versions are untouched",
                Stage::Create,
                json!({ "apiVersion": "apps/v1beta9", "kind": "Deployment", "metadata": { "name": "x" }, "spec": {} }),
                json!({ "apiVersion": "apps/v1beta9", "kind": "Deployment", "metadata": { "name": "x" }, "spec": {} }),
            ),
        ]
    }
}
