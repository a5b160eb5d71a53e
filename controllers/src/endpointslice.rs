//! The EndpointSlice controller: for each Service with a selector,
//! discovery.k8s.io/v1 EndpointSlices (labelled with the Service's name and
//! `managed-by: endpointslice-controller.k8s.io`, controlled by the
//! Service) holding its pods' endpoints, at most 100 per slice, one set of
//! slices per address type and per distinct set of resolved ports, as
//! upstream's reconciler packs them: endpoints are updated in place, slices
//! refilled before new ones are made, emptied slices deleted, and a Service
//! without endpoints gets one empty placeholder slice. Slices of other
//! managers (such as `default/kubernetes`'s) are never touched; slices of a
//! deleted Service are the garbage collector's. Topology hints are not set.
//!
//! Slices are created with `generateName`, so a create is not refused when
//! the cache has not yet shown the previous one: the slices this controller
//! wrote are remembered until the cache shows them ([`Unseen`], upstream's
//! `EndpointSliceTracker`), and a Service is not synced on a stale cache.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};

use crate::events::{Recorder, Type};
use crate::informer::{self, Informer};
use crate::queue::{self, Key, Next, Queue};
use crate::service_pods::{self, Membership, TriggerTimes};
use crate::unseen::{Seen, Unseen};
use crate::{owner, pods};

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Most endpoints in one slice (upstream's `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// How soon to look again when the cache lags behind our last writes.
const UNSEEN_RETRY: Duration = Duration::from_millis(500);
/// How soon to look again when pods sit on nodes not (yet) in the cache.
const MISSING_NODE_RETRY: Duration = Duration::from_secs(5);

pub struct Controller {
    client: kube::Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    slices: Arc<Informer<EndpointSlice>>,
    queue: Arc<Queue>,
    triggers: TriggerTimes,
    members: Membership,
    tracker: Unseen,
    events: Recorder,
}

pub async fn run(
    client: kube::Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    slices: Arc<Informer<EndpointSlice>>,
    events: Recorder,
) {
    let controller = Arc::new(Controller {
        client,
        services,
        pods,
        nodes,
        slices,
        queue: Queue::new(),
        triggers: TriggerTimes::default(),
        members: Membership::default(),
        tracker: Unseen::default(),
        events,
    });
    let service_changes = controller.services.subscribe();
    let pod_changes = controller.pods.subscribe();
    let slice_changes = controller.slices.subscribe();
    controller.services.ready().await;
    controller.pods.ready().await;
    controller.nodes.ready().await;
    controller.slices.ready().await;
    controller.enqueue_all();
    let worker = Arc::clone(&controller);
    let _workers = queue::spawn_workers(Arc::clone(&controller.queue), 4, "endpointslice", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    });
    tokio::join!(
        informer::feed(
            service_changes,
            || controller.enqueue_all(),
            |svc| controller.queue.add(Key::of(&svc.metadata))
        ),
        informer::feed(pod_changes, || controller.enqueue_all(), |pod| controller.pod_changed(pod)),
        informer::feed(slice_changes, || controller.enqueue_all(), |slice| controller.slice_changed(slice)),
    );
}

impl Controller {
    fn enqueue_all(&self) {
        for svc in self.services.store.state() {
            self.queue.add(Key::of(&svc.metadata));
        }
    }

    /// The services that select the pod now, and those that did.
    fn pod_changed(&self, pod: &Pod) {
        let mut keys: BTreeSet<Key> = service_pods::selecting(&self.services, pod).into_iter().collect();
        keys.extend(self.members.services_of(&Key::of(&pod.metadata)));
        for key in keys {
            self.queue.add(key);
        }
    }

    /// A slice's Service: its own writes showing up, or someone else's
    /// changes (a deleted or relabelled slice) to undo.
    fn slice_changed(&self, slice: &EndpointSlice) {
        if let Some(service) = slice.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)) {
            self.queue.add(Key::new(slice.metadata.namespace.as_deref(), service));
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(service) = self.services.get(Some(&key.namespace), &key.name) else {
            self.triggers.forget(&key);
            self.members.forget(&key);
            self.tracker.forget(&key);
            return Ok(Next::Done);
        };
        if service_pods::selector(&service).is_none() {
            self.members.forget(&key);
            return Ok(Next::Done);
        }
        if self.tracker.pending(&key, &self.slices) {
            // The slice events that end this wait enqueue the Service again.
            return Ok(Next::After(UNSEEN_RETRY));
        }
        let pods = service_pods::selected(&service, &self.pods);
        self.members.set(&key, &pods);
        let existing: Vec<Arc<EndpointSlice>> = self
            .slices
            .in_namespace(&key.namespace)
            .into_iter()
            .filter(|s| managed_for(s, &key.name) && s.metadata.deletion_timestamp.is_none())
            .collect();
        let trigger = self.triggers.observe(&key, &service, &pods);
        let zone_of = |node: &str| {
            let node = self.nodes.get(None, node)?;
            Some(node.metadata.labels.as_ref().and_then(|l| l.get(service_pods::ZONE_LABEL)).cloned())
        };
        let mut plan = plan(&service, &pods, &zone_of, &existing, MAX_ENDPOINTS_PER_SLICE);
        let missing_nodes = std::mem::take(&mut plan.missing_nodes);
        if let Err(e) = self.apply(&key, &service, plan, trigger).await {
            if !matches!(&e, kube::Error::Api(s) if s.code == 409) {
                let message = format!("Error updating Endpoint Slices for Service {key}: {e}");
                self.events.record(service.as_ref(), Type::Warning, "FailedToUpdateEndpointSlices", message);
            }
            return Err(e);
        }
        if !missing_nodes.is_empty() {
            tracing::debug!(service = %key, pods = ?missing_nodes, "pods on nodes not in the cache left out");
            return Ok(Next::After(MISSING_NODE_RETRY));
        }
        Ok(Next::Done)
    }

    async fn apply(
        &self,
        key: &Key,
        service: &Service,
        plan: Plan,
        trigger: Option<Timestamp>,
    ) -> Result<(), kube::Error> {
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &key.namespace);
        let params = PostParams::default();
        // Creating while the Service is being deleted would race the garbage collector.
        if service.metadata.deletion_timestamp.is_none() {
            for mut slice in plan.create {
                set_trigger_time(&mut slice, trigger);
                match api.create(&params, &slice).await {
                    Ok(created) => {
                        self.tracker.expect(key, created.metadata.name.unwrap_or_default(), Seen::Present);
                    }
                    Err(e) if crate::is_terminating(&e) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        }
        for mut slice in plan.update {
            set_trigger_time(&mut slice, trigger);
            let name = slice.metadata.name.clone().unwrap_or_default();
            let replaced = slice.metadata.resource_version.clone().unwrap_or_default();
            api.replace(&name, &params, &slice).await?;
            self.tracker.expect(key, name, Seen::Not(replaced));
        }
        for slice in plan.delete {
            let name = slice.metadata.name.clone().unwrap_or_default();
            let version = slice.metadata.resource_version.clone().unwrap_or_default();
            let params = DeleteParams {
                preconditions: Some(Preconditions { uid: None, resource_version: Some(version.clone()) }),
                ..Default::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
            self.tracker.expect(key, name, Seen::Not(version));
        }
        Ok(())
    }
}

/// Whether the slice is this controller's, for the Service named `service`.
fn managed_for(slice: &EndpointSlice, service: &str) -> bool {
    let labels = slice.metadata.labels.as_ref();
    labels.and_then(|l| l.get(SERVICE_NAME_LABEL)).map(String::as_str) == Some(service)
        && labels.and_then(|l| l.get(MANAGED_BY_LABEL)).map(String::as_str) == Some(CONTROLLER_NAME)
}

fn set_trigger_time(slice: &mut EndpointSlice, trigger: Option<Timestamp>) {
    let mut annotations = slice.metadata.annotations.take().unwrap_or_default();
    match trigger {
        Some(at) => annotations.insert(service_pods::LAST_CHANGE_TRIGGER_TIME.into(), service_pods::format_time(at)),
        None => annotations.remove(service_pods::LAST_CHANGE_TRIGGER_TIME),
    };
    slice.metadata.annotations = Some(annotations).filter(|a| !a.is_empty());
}

/// The writes one sync makes.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// New slices, named by the server.
    pub create: Vec<EndpointSlice>,
    /// Changed slices, each with the resourceVersion it replaces.
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<Arc<EndpointSlice>>,
    /// Pods left out because their node is not in the cache.
    pub missing_nodes: Vec<String>,
}

/// The address types a Service's slices carry: its IP families, or for a
/// Service without them the family of its cluster IP, or both when headless.
fn address_types(service: &Service) -> BTreeSet<&'static str> {
    let spec = service.spec.as_ref();
    let mut types: BTreeSet<&'static str> = spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|f| match f.as_str() {
            "IPv4" => Some("IPv4"),
            "IPv6" => Some("IPv6"),
            _ => None,
        })
        .collect();
    if types.is_empty() {
        if service_pods::has_cluster_ip(service) {
            let ip = spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or_default();
            types.insert(if service_pods::is_ipv6(ip) { "IPv6" } else { "IPv4" });
        } else {
            types.extend(["IPv4", "IPv6"]);
        }
    }
    types
}

/// A set of ports as slices are grouped by: sorted (name, protocol, port, appProtocol).
type PortsKey = Vec<(String, String, i32, String)>;

fn ports_key(ports: &[EndpointPort]) -> PortsKey {
    let mut key: PortsKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.app_protocol.clone().unwrap_or_default(),
            )
        })
        .collect();
    key.sort();
    key
}

/// The ports of the Service the pod serves, resolved against its
/// containers and sorted as [`ports_key`] sorts them.
fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let Some(spec) = service.spec.as_ref() else { return Vec::new() };
    let mut ports: Vec<EndpointPort> = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|port| {
            let number = service_pods::find_port(pod, port)?;
            Some(EndpointPort {
                name: Some(port.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: port.app_protocol.clone(),
            })
        })
        .collect();
    ports.sort_by_key(|p| ports_key(std::slice::from_ref(p)));
    ports
}

/// An endpoint's identity within a Service's slices: its addresses,
/// hostname and pod. Conditions, node and zone may change in place.
type EndpointKey = (Vec<String>, String, String, String);

fn endpoint_key(endpoint: &Endpoint) -> EndpointKey {
    let mut addresses = endpoint.addresses.clone();
    addresses.sort();
    let target = endpoint.target_ref.as_ref();
    (
        addresses,
        endpoint.hostname.clone().unwrap_or_default(),
        target.and_then(|t| t.namespace.clone()).unwrap_or_default(),
        target.and_then(|t| t.name.clone()).unwrap_or_default(),
    )
}

/// Whether two endpoints of the same key are the same (upstream's
/// `EndpointsEqualBeyondHash`; a pod's resourceVersion does not count).
fn same_endpoint(a: &Endpoint, b: &Endpoint) -> bool {
    let conditions = |e: &Endpoint| {
        let c = e.conditions.clone().unwrap_or_default();
        (c.ready, c.serving, c.terminating)
    };
    a.node_name == b.node_name
        && a.zone == b.zone
        && conditions(a) == conditions(b)
        && service_pods::same_ref(a.target_ref.as_ref(), b.target_ref.as_ref())
}

/// The pod as an endpoint of `address_type`: serving when Ready, ready when
/// serving and not terminating (or always, if the Service publishes
/// not-ready addresses).
fn pod_endpoint(pod: &Pod, zone: Option<String>, service: &Service, address_type: &str) -> Endpoint {
    let serving = pods::is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let tolerate = service.spec.as_ref().and_then(|s| s.publish_not_ready_addresses).unwrap_or(false);
    let v6 = address_type == "IPv6";
    Endpoint {
        addresses: service_pods::pod_ips(pod)
            .into_iter()
            .filter(|ip| service_pods::is_ipv6(ip) == v6)
            .map(String::from)
            .collect(),
        conditions: Some(EndpointConditions {
            ready: Some(tolerate || (serving && !terminating)),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: service_pods::hostname(pod, service),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()),
        target_ref: Some(service_pods::target_ref(pod)),
        zone: zone.filter(|z| !z.is_empty()),
        ..Default::default()
    }
}

fn is_reserved(label: &str) -> bool {
    label == SERVICE_NAME_LABEL || label == MANAGED_BY_LABEL || label == service_pods::HEADLESS_LABEL
}

/// A slice's labels: the Service's (but reserved keys), the headless mark,
/// the Service's name and this controller. Also whether the non-reserved
/// labels differ from the slice's now (changes of reserved labels alone do
/// not make an update, as upstream).
fn slice_labels(current: Option<&BTreeMap<String, String>>, service: &Service) -> (BTreeMap<String, String>, bool) {
    let strip = |labels: Option<&BTreeMap<String, String>>| -> BTreeMap<String, String> {
        labels.into_iter().flatten().filter(|(k, _)| !is_reserved(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let mut labels = strip(service.metadata.labels.as_ref());
    let changed = strip(current) != labels;
    if !service_pods::has_cluster_ip(service) {
        labels.insert(service_pods::HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(SERVICE_NAME_LABEL.into(), service.metadata.name.clone().unwrap_or_default());
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    (labels, changed)
}

fn new_slice(service: &Service, ports: Vec<EndpointPort>, address_type: &str) -> EndpointSlice {
    let name = service.metadata.name.as_deref().unwrap_or_default();
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: service.metadata.namespace.clone(),
            labels: Some(slice_labels(None, service).0),
            owner_references: Some(vec![owner::controller_ref(service)]),
            ..Default::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: Some(ports),
    }
}

fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    let uid = service.metadata.uid.as_deref().unwrap_or_default();
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == uid && r.kind == "Service" && r.api_version == "v1")
}

/// Whether `slice` is already the placeholder the Service would get.
fn is_placeholder(slice: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    slice.metadata.namespace == placeholder.metadata.namespace
        && slice.metadata.labels.clone().unwrap_or_default() == placeholder.metadata.labels.clone().unwrap_or_default()
        && slice.address_type == placeholder.address_type
        && slice.endpoints.is_empty()
        && slice.ports.as_ref().is_none_or(Vec::is_empty)
}

/// Decides the creates, updates and deletes that make `existing` (the
/// slices this controller manages for `service`) hold the endpoints of
/// `pods`. `zone_of` gives a node's zone label (`None`: no such node).
pub fn plan(
    service: &Service,
    pods: &[Arc<Pod>],
    zone_of: &dyn Fn(&str) -> Option<Option<String>>,
    existing: &[Arc<EndpointSlice>],
    max: usize,
) -> Plan {
    let types = address_types(service);
    let mut plan = Plan::default();
    let mut unsupported = Vec::new();
    let mut by_type: BTreeMap<&str, Vec<Arc<EndpointSlice>>> = BTreeMap::new();
    for slice in existing {
        match types.get(slice.address_type.as_str()) {
            Some(t) => by_type.entry(*t).or_default().push(Arc::clone(slice)),
            None => unsupported.push(Arc::clone(slice)),
        }
    }
    for address_type in types {
        let slices = by_type.remove(address_type).unwrap_or_default();
        plan_address_type(service, pods, zone_of, &slices, address_type, max, &mut plan);
    }
    plan.delete.extend(unsupported);
    plan.missing_nodes.sort();
    plan.missing_nodes.dedup();
    plan
}

/// Upstream's `reconcileByAddressType` and `finalize` for one address type.
fn plan_address_type(
    service: &Service,
    pods: &[Arc<Pod>],
    zone_of: &dyn Fn(&str) -> Option<Option<String>>,
    existing: &[Arc<EndpointSlice>],
    address_type: &str,
    max: usize,
    plan: &mut Plan,
) {
    let tolerate = service.spec.as_ref().and_then(|s| s.publish_not_ready_addresses).unwrap_or(false);
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut deletes = Vec::new();
    let mut by_ports: BTreeMap<PortsKey, Vec<Arc<EndpointSlice>>> = BTreeMap::new();
    for slice in existing {
        if owned_by(slice, service) {
            by_ports.entry(ports_key(slice.ports.as_deref().unwrap_or_default())).or_default().push(Arc::clone(slice));
        } else {
            deletes.push(Arc::clone(slice));
        }
    }
    let mut desired: BTreeMap<PortsKey, (Vec<EndpointPort>, BTreeMap<EndpointKey, Endpoint>)> = BTreeMap::new();
    for pod in pods {
        if !service_pods::publishable(pod, true) {
            continue;
        }
        let ports = endpoint_ports(service, pod);
        let entry = desired.entry(ports_key(&ports)).or_insert_with(|| (ports, BTreeMap::new()));
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
        let zone = match zone_of(node) {
            Some(zone) => zone,
            // A pod on an unknown node is left out (and retried), unless the
            // Service publishes not-ready addresses anyway.
            None if tolerate => None,
            None => {
                plan.missing_nodes.push(pod.metadata.name.clone().unwrap_or_default());
                continue;
            }
        };
        let endpoint = pod_endpoint(pod, zone, service, address_type);
        if !endpoint.addresses.is_empty() {
            entry.1.insert(endpoint_key(&endpoint), endpoint);
        }
    }
    for (key, (ports, mut endpoints)) in desired.iter().map(|(k, v)| (k, v.clone())) {
        let current = by_ports.get(key).map(Vec::as_slice).unwrap_or_default();
        let (c, u, d) = plan_ports(service, current, &mut endpoints, ports, address_type, max);
        creates.extend(c);
        updates.extend(u);
        deletes.extend(d);
    }
    for (key, slices) in &by_ports {
        if !desired.contains_key(key) {
            deletes.extend(slices.iter().cloned());
        }
    }
    // A Service without endpoints still gets one (empty) slice.
    if existing.len() == deletes.len() && creates.is_empty() {
        let placeholder = new_slice(service, Vec::new(), address_type);
        if deletes.len() == 1 && is_placeholder(&deletes[0], &placeholder) {
            deletes.clear();
        } else {
            creates.push(placeholder);
        }
    }
    // Creates and deletes together: reuse the slices that would go.
    let mut i = 0;
    while i < deletes.len() {
        let old = &deletes[i];
        if old.address_type == address_type && owned_by(old, service) {
            let Some(mut slice) = creates.pop() else { break };
            let mut meta = old.metadata.clone();
            meta.labels = slice.metadata.labels.take();
            meta.owner_references = slice.metadata.owner_references.take();
            slice.metadata = meta;
            updates.push(slice);
            deletes.remove(i);
        } else {
            i += 1;
        }
    }
    plan.create.extend(creates);
    plan.update.extend(updates);
    plan.delete.extend(deletes);
}

/// Upstream's `reconcileByPortMapping`: keeps desired endpoints where they
/// are (updating those that changed), drops the others, fills the changed
/// slices up, then the unchanged slice that the rest fits best, then new
/// slices. `desired` is drained. Returns creates, updates, deletes.
fn plan_ports(
    service: &Service,
    existing: &[Arc<EndpointSlice>],
    desired: &mut BTreeMap<EndpointKey, Endpoint>,
    ports: Vec<EndpointPort>,
    address_type: &str,
    max: usize,
) -> (Vec<EndpointSlice>, Vec<EndpointSlice>, Vec<Arc<EndpointSlice>>) {
    let mut existing: Vec<&Arc<EndpointSlice>> = existing.iter().collect();
    existing.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut slices: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut deletes = Vec::new();

    // 1. Keep what is still desired, in place; note what changed.
    for slice in existing {
        let name = slice.metadata.name.clone().unwrap_or_default();
        let mut kept = Vec::new();
        let mut changed = false;
        for endpoint in &slice.endpoints {
            if let Some(want) = desired.remove(&endpoint_key(endpoint)) {
                changed |= !same_endpoint(&want, endpoint);
                kept.push(want);
            }
        }
        let (labels, relabelled) = slice_labels(slice.metadata.labels.as_ref(), service);
        if changed || kept.len() != slice.endpoints.len() {
            if kept.is_empty() {
                deletes.push(Arc::clone(slice));
                continue;
            }
            let mut copy = EndpointSlice::clone(slice);
            copy.endpoints = kept;
            copy.metadata.labels = Some(labels);
            slices.insert(name.clone(), copy);
            to_update.insert(name);
        } else if relabelled {
            let mut copy = EndpointSlice::clone(slice);
            copy.metadata.labels = Some(labels);
            slices.insert(name.clone(), copy);
            to_update.insert(name);
        } else {
            slices.insert(name.clone(), EndpointSlice::clone(slice));
            unchanged.insert(name);
        }
    }

    let fill = |slice: &mut EndpointSlice, desired: &mut BTreeMap<EndpointKey, Endpoint>| {
        while slice.endpoints.len() < max {
            let Some((_, endpoint)) = desired.pop_first() else { break };
            slice.endpoints.push(endpoint);
        }
    };

    // 2. Fill the slices being updated anyway, fullest first.
    if !desired.is_empty() && !to_update.is_empty() {
        let mut order: Vec<String> = to_update.iter().cloned().collect();
        order.sort_by_key(|n| std::cmp::Reverse(slices[n].endpoints.len()));
        for name in order {
            if let Some(slice) = slices.get_mut(&name) {
                fill(slice, desired);
            }
        }
    }

    // 3. The rest: into the unchanged slice it fits best, or new slices.
    let mut creates = Vec::new();
    while !desired.is_empty() {
        let target = if desired.len() < max {
            let lens = unchanged.iter().map(|n| (n, slices[n].endpoints.len()));
            best_fit(lens, desired.len(), max).cloned()
        } else {
            None
        };
        match target.and_then(|name| slices.get_mut(&name).map(|s| (name, s))) {
            Some((name, slice)) => {
                fill(slice, desired);
                unchanged.remove(&name);
                to_update.insert(name);
            }
            None => {
                let mut slice = new_slice(service, ports.clone(), address_type);
                fill(&mut slice, desired);
                creates.push(slice);
            }
        }
    }
    let updates = to_update.iter().filter_map(|n| slices.remove(n)).collect();
    (creates, updates, deletes)
}

/// The slice closest to full once `adding` endpoints join it, if any has room.
fn best_fit<'a>(slices: impl Iterator<Item = (&'a String, usize)>, adding: usize, max: usize) -> Option<&'a String> {
    let mut best: Option<(&String, usize)> = None;
    for (name, len) in slices {
        let Some(room) = max.checked_sub(adding + len) else { continue };
        if best.is_none_or(|(_, r)| room < r) {
            best = Some((name, room));
            if room == 0 {
                break;
            }
        }
    }
    best.map(|(n, _)| n)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    use super::*;
    use crate::service_pods::tests::{at, pod, port, service};

    fn zones(node: &str) -> Option<Option<String>> {
        match node {
            "n1" => Some(Some("zone-a".into())),
            "n2" => Some(None),
            _ => None,
        }
    }

    fn web() -> Service {
        service("web", vec![port("http", 80, IntOrString::String("http".into()), "TCP")])
    }

    fn pods(n: usize) -> Vec<Arc<Pod>> {
        (0..n)
            .map(|i| Arc::new(pod(&format!("p{i:03}"), "n1", &[&format!("10.0.{}.{}", i / 200, i % 200 + 1)], true, 0)))
            .collect()
    }

    /// Stores the plan's writes as the API would: names for creates, new versions for updates.
    fn store(existing: &[Arc<EndpointSlice>], plan: &Plan, next: &mut u32) -> Vec<Arc<EndpointSlice>> {
        let mut by_name: BTreeMap<String, EndpointSlice> =
            existing.iter().map(|s| (s.metadata.name.clone().unwrap(), EndpointSlice::clone(s))).collect();
        for s in &plan.delete {
            by_name.remove(s.metadata.name.as_deref().unwrap());
        }
        for s in plan.update.iter().chain(&plan.create) {
            let mut s = s.clone();
            *next += 1;
            let name = s.metadata.name.clone().unwrap_or_else(|| format!("web-{next}"));
            s.metadata.name = Some(name.clone());
            s.metadata.resource_version = Some(next.to_string());
            by_name.insert(name, s);
        }
        by_name.into_values().map(Arc::new).collect()
    }

    fn sizes(slices: &[Arc<EndpointSlice>]) -> Vec<usize> {
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        sizes
    }

    #[test]
    fn slices_hold_at_most_max_endpoints_and_change_in_place() {
        let svc = web();
        let mut rv = 0;
        let first = plan(&svc, &pods(250), &zones, &[], MAX_ENDPOINTS_PER_SLICE);
        assert_eq!((first.create.len(), first.update.len(), first.delete.len()), (3, 0, 0));
        let slices = store(&[], &first, &mut rv);
        assert_eq!(sizes(&slices), [50, 100, 100]);
        let s = &slices[0];
        let labels = s.metadata.labels.clone().unwrap();
        assert_eq!(labels[SERVICE_NAME_LABEL], "web");
        assert_eq!(labels[MANAGED_BY_LABEL], CONTROLLER_NAME);
        assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
        let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("Service", "web", Some(true)));
        assert_eq!(s.address_type, "IPv4");
        let port = &s.ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.port, port.protocol.as_deref()),
            (Some("http"), Some(8080), Some("TCP"))
        );
        let e = &s.endpoints[0];
        assert_eq!(e.node_name.as_deref(), Some("n1"));
        assert_eq!(e.zone.as_deref(), Some("zone-a"));
        assert_eq!(e.target_ref.as_ref().unwrap().kind.as_deref(), Some("Pod"));
        let c = e.conditions.clone().unwrap();
        assert_eq!((c.ready, c.serving, c.terminating), (Some(true), Some(true), Some(false)));

        // Nothing changed: nothing to write.
        let again = plan(&svc, &pods(250), &zones, &slices, MAX_ENDPOINTS_PER_SLICE);
        assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty(), "{again:?}");

        // Twenty more pods go into the slice with room, in place.
        let more = plan(&svc, &pods(270), &zones, &slices, MAX_ENDPOINTS_PER_SLICE);
        assert_eq!((more.create.len(), more.update.len(), more.delete.len()), (0, 1, 0));
        assert!(more.update[0].metadata.resource_version.is_some(), "updates carry the version they replace");
        let slices = store(&slices, &more, &mut rv);
        assert_eq!(sizes(&slices), [70, 100, 100]);

        // One pod turns unready: one slice changes, in place.
        let mut changed = pods(270);
        changed[5] = Arc::new(pod("p005", "n1", &["10.0.0.6"], false, 10));
        let unready = plan(&svc, &changed, &zones, &slices, MAX_ENDPOINTS_PER_SLICE);
        assert_eq!((unready.create.len(), unready.update.len(), unready.delete.len()), (0, 1, 0));
        let e = unready.update[0].endpoints.iter().find(|e| e.addresses == ["10.0.0.6"]).unwrap();
        let c = e.conditions.clone().unwrap();
        assert_eq!((c.ready, c.serving, c.terminating), (Some(false), Some(false), Some(false)));

        // Scaled down to 30: the emptied slices go, the rest stay.
        let down = plan(&svc, &pods(30), &zones, &slices, MAX_ENDPOINTS_PER_SLICE);
        assert_eq!((down.create.len(), down.delete.len()), (0, 1), "{down:?}");
        let slices = store(&slices, &down, &mut rv);
        assert_eq!(sizes(&slices).iter().sum::<usize>(), 30);
        assert_eq!(slices.len(), 2, "slices are not repacked: {:?}", sizes(&slices));

        // No pods at all: one empty placeholder (a slice reused), kept as it is.
        let none = plan(&svc, &[], &zones, &slices, MAX_ENDPOINTS_PER_SLICE);
        assert_eq!((none.create.len(), none.update.len(), none.delete.len()), (0, 1, 1), "{none:?}");
        let slices = store(&slices, &none, &mut rv);
        assert_eq!(sizes(&slices), [0]);
        assert_eq!(slices[0].ports.as_deref(), Some(&[][..]));
        let still = plan(&svc, &[], &zones, &slices, MAX_ENDPOINTS_PER_SLICE);
        assert!(still.create.is_empty() && still.update.is_empty() && still.delete.is_empty(), "{still:?}");
        assert_eq!(plan(&svc, &[], &zones, &[], MAX_ENDPOINTS_PER_SLICE).create.len(), 1);
    }

    #[test]
    fn terminating_pods_stay_serving_but_not_ready() {
        let svc = web();
        let mut leaving = pod("p", "n2", &["10.0.0.1"], true, 0);
        leaving.metadata.deletion_timestamp = Some(Time(at(5)));
        let p = plan(&svc, &[Arc::new(leaving.clone())], &zones, &[], MAX_ENDPOINTS_PER_SLICE);
        let e = &p.create[0].endpoints[0];
        let c = e.conditions.clone().unwrap();
        assert_eq!((c.ready, c.serving, c.terminating), (Some(false), Some(true), Some(true)));
        assert_eq!(e.zone, None, "no zone label on n2");
        let mut tolerant = svc.clone();
        tolerant.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let p = plan(&tolerant, &[Arc::new(leaving)], &zones, &[], MAX_ENDPOINTS_PER_SLICE);
        assert_eq!(p.create[0].endpoints[0].conditions.clone().unwrap().ready, Some(true));
    }

    #[test]
    fn pods_on_unknown_nodes_are_left_out_and_retried() {
        let svc = web();
        let pods =
            vec![Arc::new(pod("a", "n1", &["10.0.0.1"], true, 0)), Arc::new(pod("b", "gone", &["10.0.0.2"], true, 0))];
        let p = plan(&svc, &pods, &zones, &[], MAX_ENDPOINTS_PER_SLICE);
        assert_eq!(p.missing_nodes, ["b"]);
        assert_eq!(p.create[0].endpoints.len(), 1);
    }

    #[test]
    fn address_types_and_port_groups_make_separate_slices() {
        let mut svc = web();
        let spec = svc.spec.as_mut().unwrap();
        spec.ip_families = Some(vec!["IPv4".into(), "IPv6".into()]);
        spec.ports = Some(vec![
            port("http", 80, IntOrString::String("http".into()), "TCP"),
            port("alt", 81, IntOrString::String("alt".into()), "TCP"),
        ]);
        let mut with_alt = pod("b", "n1", &["10.0.0.2", "fd00::2"], true, 0);
        with_alt.spec.as_mut().unwrap().containers[0].ports.as_mut().unwrap().push(
            k8s_openapi::api::core::v1::ContainerPort {
                name: Some("alt".into()),
                container_port: 8081,
                ..Default::default()
            },
        );
        let pods = vec![Arc::new(pod("a", "n1", &["10.0.0.1", "fd00::1"], true, 0)), Arc::new(with_alt)];
        let p = plan(&svc, &pods, &zones, &[], MAX_ENDPOINTS_PER_SLICE);
        let mut seen: Vec<String> = p
            .create
            .iter()
            .map(|s| {
                let ports: Vec<String> = s.ports.iter().flatten().map(|p| p.port.unwrap().to_string()).collect();
                let ips: Vec<String> = s.endpoints.iter().flat_map(|e| e.addresses.clone()).collect();
                format!("{} [{}] {}", s.address_type, ports.join(","), ips.join(","))
            })
            .collect();
        seen.sort();
        // Ports are ordered by name: alt (8081) before http (8080).
        assert_eq!(
            seen,
            ["IPv4 [8080] 10.0.0.1", "IPv4 [8081,8080] 10.0.0.2", "IPv6 [8080] fd00::1", "IPv6 [8081,8080] fd00::2"]
        );

        // A slice of a family the Service no longer has, or of another owner, goes.
        let mut rv = 0;
        let slices = store(&[], &p, &mut rv);
        let v4_only = web();
        let next = plan(&v4_only, &pods, &zones, &slices, MAX_ENDPOINTS_PER_SLICE);
        let deleted: BTreeSet<&str> = next.delete.iter().map(|s| s.address_type.as_str()).collect();
        assert!(deleted.contains("IPv6"), "{next:?}");
        let mut other = EndpointSlice::clone(&slices[0]);
        other.metadata.owner_references.as_mut().unwrap()[0].uid = "someone-else".into();
        other.metadata.name = Some("web-stale".into());
        let with_stale: Vec<Arc<EndpointSlice>> = slices.iter().cloned().chain([Arc::new(other)]).collect();
        let next = plan(&svc, &pods, &zones, &with_stale, MAX_ENDPOINTS_PER_SLICE);
        let names: Vec<&str> = next.delete.iter().filter_map(|s| s.metadata.name.as_deref()).collect();
        assert_eq!(names, ["web-stale"]);
        assert!(next.create.is_empty() && next.update.is_empty());
    }

    #[test]
    fn service_labels_are_mirrored_but_reserved_ones_are_ours() {
        let mut svc = web();
        svc.metadata.labels =
            Some([("team".to_string(), "a".to_string()), (MANAGED_BY_LABEL.to_string(), "me".to_string())].into());
        let (labels, changed) = slice_labels(None, &svc);
        assert!(changed);
        assert_eq!(labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(labels[MANAGED_BY_LABEL], CONTROLLER_NAME);
        assert_eq!(slice_labels(Some(&labels), &svc), (labels.clone(), false));
        let mut headless = svc.clone();
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        headless.spec.as_mut().unwrap().ip_families = None;
        assert!(slice_labels(None, &headless).0.contains_key(service_pods::HEADLESS_LABEL));
        assert_eq!(address_types(&headless), BTreeSet::from(["IPv4", "IPv6"]));

        // A relabelled Service updates its slices' labels only.
        let mut rv = 0;
        let slices = store(&[], &plan(&svc, &pods(3), &zones, &[], MAX_ENDPOINTS_PER_SLICE), &mut rv);
        let mut relabelled = svc.clone();
        relabelled.metadata.labels = Some([("team".to_string(), "b".to_string())].into());
        let p = plan(&relabelled, &pods(3), &zones, &slices, MAX_ENDPOINTS_PER_SLICE);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        assert_eq!(p.update[0].metadata.labels.as_ref().unwrap()["team"], "b");
        assert_eq!(p.update[0].endpoints.len(), 3);
    }

    #[test]
    fn the_best_fit_is_the_slice_left_fullest() {
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let fit = |lens: [usize; 3], adding| best_fit(names.iter().zip(lens), adding, 100).map(String::as_str);
        assert_eq!(fit([10, 80, 95], 15), Some("b"));
        assert_eq!(fit([10, 85, 95], 15), Some("b"));
        assert_eq!(fit([90, 95, 99], 15), None);
    }
}
