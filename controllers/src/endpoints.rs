//! The Endpoints controller: for each Service with a selector, an Endpoints
//! object of the same name listing the selected pods' addresses (ready in
//! `addresses`, the others in `notReadyAddresses` unless the Service
//! publishes not-ready addresses) with the ports their `targetPort`s
//! resolve to, in upstream's canonical layout (`RepackSubsets`), capped at
//! 1000 addresses. The Endpoints goes when its Service goes. It writes only
//! when the subsets, labels or the capacity mark differ, and not before the
//! cache shows its previous write (a stale cache would cost a 409: creates
//! are by name, updates carry the resourceVersion).
//! Services without a selector (such as `default/kubernetes`) are left to
//! whoever manages their endpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};
use crate::pods;
use crate::queue::{self, Key, Next, Queue};
use crate::service_pods::{self, Membership, TriggerTimes};
use crate::unseen::{Seen, Unseen};

/// Most addresses one Endpoints object holds (upstream's `maxCapacity`).
pub const MAX_CAPACITY: usize = 1000;
/// Set to `truncated` on an Endpoints object holding fewer addresses than its pods.
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Endpoints that hold a leader-election record have no Service and are not ours to delete.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
/// How soon to look again when the cache lags behind our last write.
const UNSEEN_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

pub struct Controller {
    client: kube::Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    endpoints: Arc<Informer<Endpoints>>,
    queue: Arc<Queue>,
    triggers: TriggerTimes,
    members: Membership,
    unseen: Unseen,
    events: Recorder,
}

pub async fn run(
    client: kube::Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    endpoints: Arc<Informer<Endpoints>>,
    events: Recorder,
) {
    let controller = Arc::new(Controller {
        client,
        services,
        pods,
        endpoints,
        queue: Queue::new(),
        triggers: TriggerTimes::default(),
        members: Membership::default(),
        unseen: Unseen::default(),
        events,
    });
    let service_changes = controller.services.subscribe();
    let pod_changes = controller.pods.subscribe();
    let endpoints_changes = controller.endpoints.subscribe();
    controller.services.ready().await;
    controller.pods.ready().await;
    controller.endpoints.ready().await;
    controller.enqueue_all();
    let worker = Arc::clone(&controller);
    let _workers = queue::spawn_workers(Arc::clone(&controller.queue), 4, "endpoints", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    });
    let own_writes = async {
        let mut endpoints_changes = endpoints_changes;
        while let Some(change) = informer::next(&mut endpoints_changes).await {
            match change {
                // Someone deleted an Endpoints object: put it back if its Service wants it.
                Change::Deleted(ep) => controller.queue.add(Key::of(&ep.metadata)),
                // Our own write showing up: the Service may have waited for it.
                Change::Applied(ep) => {
                    let key = Key::of(&ep.metadata);
                    if controller.unseen.waiting(&key) {
                        controller.queue.add(key);
                    }
                }
                Change::Relisted => controller.enqueue_all(),
            }
        }
    };
    tokio::join!(
        informer::feed(
            service_changes,
            || controller.enqueue_all(),
            |svc| controller.queue.add(Key::of(&svc.metadata))
        ),
        informer::feed(pod_changes, || controller.enqueue_all(), |pod| controller.pod_changed(pod)),
        own_writes,
    );
}

impl Controller {
    /// Every Service, and every Endpoints object (so that those whose Service
    /// went while no controller ran are deleted, as upstream's leftover check).
    fn enqueue_all(&self) {
        for svc in self.services.store.state() {
            self.queue.add(Key::of(&svc.metadata));
        }
        for ep in self.endpoints.store.state() {
            if ep.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(LEADER_ANNOTATION)) {
                continue;
            }
            self.queue.add(Key::of(&ep.metadata));
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

    async fn reconcile(&self, key: Key) -> Result<Next, kube::Error> {
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &key.namespace);
        let Some(service) = self.services.get(Some(&key.namespace), &key.name) else {
            self.members.forget(&key);
            self.unseen.forget(&key);
            // Known to us (we may have just created its Endpoints) or in the cache: delete.
            let known = self.triggers.forget(&key);
            if known || self.endpoints.get(Some(&key.namespace), &key.name).is_some() {
                match api.delete(&key.name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(Next::Done);
        };
        if service_pods::selector(&service).is_none() {
            self.members.forget(&key);
            return Ok(Next::Done);
        }
        if self.unseen.pending(&key, &self.endpoints) {
            // The cache has not shown our last write yet; its event brings the key back.
            return Ok(Next::After(UNSEEN_RETRY));
        }
        let pods = service_pods::selected(&service, &self.pods);
        self.members.set(&key, &pods);
        let trigger = self.triggers.observe(&key, &service, &pods);
        let current = self.endpoints.get(Some(&key.namespace), &key.name);
        let subsets = subsets_for(&service, &pods);
        let Some(endpoints) = desired(&service, subsets, current.as_deref(), trigger) else {
            return Ok(Next::Done);
        };
        let params = PostParams::default();
        let result = match current {
            None => api.create(&params, &endpoints).await,
            Some(_) => api.replace(&key.name, &params, &endpoints).await,
        };
        match result {
            Ok(written) => {
                let seen = match current {
                    None => Seen::Present,
                    Some(before) => Seen::Not(before.metadata.resource_version.clone().unwrap_or_default()),
                };
                self.unseen.expect(&key, written.metadata.name.unwrap_or_default(), seen);
                Ok(Next::Done)
            }
            // The namespace is going away: nothing to create.
            Err(e) if current.is_none() && crate::is_terminating(&e) => Ok(Next::Done),
            Err(e) => {
                // A conflict is a stale cache, retried; anything else is worth telling.
                if !matches!(&e, kube::Error::Api(s) if s.code == 409) {
                    let (reason, message) = match current {
                        None => ("FailedToCreateEndpoint", format!("Failed to create endpoint for service {key}: {e}")),
                        Some(_) => ("FailedToUpdateEndpoint", format!("Failed to update endpoint {key}: {e}")),
                    };
                    self.events.record(&endpoints, Type::Warning, reason, message);
                }
                Err(e)
            }
        }
    }
}

/// The address of `pod` for `service`: its first IP of the Service's
/// primary family (from `ipFamilies`, else the cluster IP, else, headless,
/// the pod's own primary IP).
fn address_for(service: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let spec = service.spec.as_ref()?;
    let ips = service_pods::pod_ips(pod);
    let v6 = match spec.ip_families.as_ref().and_then(|f| f.first()) {
        Some(family) => family == "IPv6",
        None if service_pods::has_cluster_ip(service) => {
            service_pods::is_ipv6(spec.cluster_ip.as_deref().unwrap_or_default())
        }
        None => ips.first().is_some_and(|ip| service_pods::is_ipv6(ip)),
    };
    let ip = ips.into_iter().find(|ip| service_pods::is_ipv6(ip) == v6)?;
    Some(EndpointAddress {
        ip: ip.to_string(),
        hostname: service_pods::hostname(pod, service),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()),
        target_ref: Some(service_pods::target_ref(pod)),
    })
}

/// The subsets `service` should have for the pods it selects, repacked.
pub fn subsets_for(service: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let Some(spec) = service.spec.as_ref() else { return Vec::new() };
    let tolerate_unready = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.as_deref().unwrap_or_default();
    let headless = spec.cluster_ip.as_deref() == Some("None");
    let mut subsets = Vec::new();
    for pod in pods {
        if !service_pods::publishable(pod, tolerate_unready) {
            continue;
        }
        let Some(address) = address_for(service, pod) else { continue };
        let ready = tolerate_unready || pods::is_ready(pod);
        let subset = |ports: Option<Vec<EndpointPort>>| {
            let (addresses, not_ready) =
                if ready { (vec![address.clone()], vec![]) } else { (vec![], vec![address.clone()]) };
            EndpointSubset { addresses: Some(addresses), not_ready_addresses: Some(not_ready), ports }
        };
        if ports.is_empty() {
            // A headless Service may have no ports: its addresses stand alone.
            if headless {
                subsets.push(subset(None));
            }
            continue;
        }
        for port in ports {
            let Some(number) = service_pods::find_port(pod, port) else { continue };
            subsets.push(subset(Some(vec![EndpointPort {
                name: port.name.clone().filter(|n| !n.is_empty()),
                port: number,
                protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: port.app_protocol.clone(),
            }])));
        }
    }
    repack(&subsets)
}

/// An address's identity in a repack: IP and pod UID.
type AddressKey = (String, String);
/// A port's identity, in the order ports are sorted: number, name, protocol, appProtocol.
type PortKey = (i32, String, String, String);

fn address_key(a: &EndpointAddress) -> AddressKey {
    (a.ip.clone(), a.target_ref.as_ref().and_then(|r| r.uid.clone()).unwrap_or_default())
}

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.port,
        p.name.clone().unwrap_or_default(),
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone().unwrap_or_default(),
    )
}

fn port_of(key: &PortKey) -> EndpointPort {
    let some = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    EndpointPort { port: key.0, name: some(&key.1), protocol: some(&key.2), app_protocol: some(&key.3) }
}

/// Upstream's `RepackSubsets`: expands subsets to (address, port, ready)
/// and packs them again so that addresses offering the same ports share a
/// subset, an address not ready on a port counts as not ready there, and
/// addresses without ports are kept. Sorted (addresses by IP then UID,
/// ports and subsets in a fixed order), so two repacks of the same
/// endpoints are equal. Empty lists are left out, as the API stores them.
pub fn repack(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut addresses: BTreeMap<AddressKey, EndpointAddress> = BTreeMap::new();
    // `None` stands for "no port", so port-less addresses survive.
    let mut by_port: BTreeMap<Option<PortKey>, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    for subset in subsets {
        let ports: Vec<Option<PortKey>> = match subset.ports.as_deref() {
            Some(ports) if !ports.is_empty() => ports.iter().map(|p| Some(port_key(p))).collect(),
            _ => vec![None],
        };
        let listed = [(true, &subset.addresses), (false, &subset.not_ready_addresses)];
        for (ready, list) in listed {
            for address in list.iter().flatten() {
                let key = address_key(address);
                addresses.entry(key.clone()).or_insert_with(|| address.clone());
                for port in &ports {
                    let state = by_port.entry(port.clone()).or_default().entry(key.clone()).or_insert(ready);
                    *state = *state && ready;
                }
            }
        }
    }
    let mut by_addresses: BTreeMap<Vec<(AddressKey, bool)>, Vec<PortKey>> = BTreeMap::new();
    for (port, set) in by_port {
        let ports = by_addresses.entry(set.into_iter().collect()).or_default();
        ports.extend(port);
    }
    by_addresses
        .into_iter()
        .map(|(set, mut ports)| {
            ports.sort();
            let pick = |want: bool| {
                let list: Vec<EndpointAddress> =
                    set.iter().filter(|(_, ready)| *ready == want).map(|(k, _)| addresses[k].clone()).collect();
                Some(list).filter(|l| !l.is_empty())
            };
            EndpointSubset {
                addresses: pick(true),
                not_ready_addresses: pick(false),
                ports: Some(ports.iter().map(port_of).collect()).filter(|p: &Vec<_>| !p.is_empty()),
            }
        })
        .collect()
}

/// Cuts subsets down to [`MAX_CAPACITY`] addresses as upstream does: ready
/// addresses first, each subset keeping its share (rounded up) of what fits.
/// Returns whether anything was cut.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |l: &Option<Vec<EndpointAddress>>| l.as_ref().map_or(0, Vec::len);
    let ready: usize = subsets.iter().map(|s| count(&s.addresses)).sum();
    let not_ready: usize = subsets.iter().map(|s| count(&s.not_ready_addresses)).sum();
    if ready + not_ready <= MAX_CAPACITY {
        return false;
    }
    let cut_ready = ready > MAX_CAPACITY;
    let (room, total) = if cut_ready { (MAX_CAPACITY, ready) } else { (MAX_CAPACITY - ready, not_ready) };
    let mut left = room;
    for subset in subsets.iter_mut() {
        let list = if cut_ready { &mut subset.addresses } else { &mut subset.not_ready_addresses };
        let here = count(list);
        let share = (here * room).div_ceil(total).min(left);
        if let Some(l) = list.as_mut() {
            l.truncate(share);
        }
        left -= count(list);
        if list.as_ref().is_some_and(Vec::is_empty) {
            *list = None;
        }
        if cut_ready {
            subset.not_ready_addresses = None;
        }
    }
    true
}

/// Subsets as they compare: repacked, pod resourceVersions ignored.
fn comparable(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut subsets = repack(subsets);
    for subset in &mut subsets {
        for address in subset.addresses.iter_mut().chain(subset.not_ready_addresses.iter_mut()).flatten() {
            if let Some(r) = address.target_ref.as_mut() {
                r.resource_version = None;
            }
        }
    }
    subsets
}

/// The Endpoints object to write for `service` with `subsets` (repacked),
/// or `None` when `current` already has these subsets, the Service's labels
/// and the right capacity mark. A new trigger time is written only with a
/// change, as upstream.
pub fn desired(
    service: &Service,
    mut subsets: Vec<EndpointSubset>,
    current: Option<&Endpoints>,
    trigger: Option<Timestamp>,
) -> Option<Endpoints> {
    let truncated = truncate(&mut subsets);
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if service_pods::has_cluster_ip(service) {
        labels.remove(service_pods::HEADLESS_LABEL);
    } else {
        labels.insert(service_pods::HEADLESS_LABEL.into(), String::new());
    }
    if let Some(current) = current {
        let marked = current.metadata.annotations.as_ref().and_then(|a| a.get(OVER_CAPACITY)).map(String::as_str);
        let same = comparable(current.subsets.as_deref().unwrap_or_default()) == comparable(&subsets)
            && current.metadata.labels.clone().unwrap_or_default() == labels
            && marked == truncated.then_some("truncated");
        if same {
            return None;
        }
    }
    let mut endpoints = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            ..Default::default()
        },
        subsets: None,
    });
    let mut annotations = endpoints.metadata.annotations.take().unwrap_or_default();
    match trigger {
        Some(at) => annotations.insert(service_pods::LAST_CHANGE_TRIGGER_TIME.into(), service_pods::format_time(at)),
        None => annotations.remove(service_pods::LAST_CHANGE_TRIGGER_TIME),
    };
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    endpoints.metadata.annotations = Some(annotations).filter(|a| !a.is_empty());
    endpoints.metadata.labels = Some(labels).filter(|l| !l.is_empty());
    endpoints.subsets = Some(subsets).filter(|s| !s.is_empty());
    Some(endpoints)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    use super::*;
    use crate::service_pods::tests::{at, pod, port, service};

    fn addr(ip: &str, uid: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.into(),
            target_ref: Some(ObjectReference { uid: Some(uid.into()), ..Default::default() }),
            ..Default::default()
        }
    }

    fn eport(name: &str, port: i32) -> EndpointPort {
        EndpointPort { name: Some(name.into()), port, protocol: Some("TCP".into()), app_protocol: None }
    }

    fn subset(
        ready: Vec<EndpointAddress>,
        not_ready: Vec<EndpointAddress>,
        ports: Vec<EndpointPort>,
    ) -> EndpointSubset {
        let some = |l: Vec<EndpointAddress>| Some(l).filter(|l| !l.is_empty());
        EndpointSubset {
            addresses: some(ready),
            not_ready_addresses: some(not_ready),
            ports: Some(ports).filter(|p| !p.is_empty()),
        }
    }

    /// A compact picture of subsets: `ready|not-ready|ports` per subset.
    fn show(subsets: &[EndpointSubset]) -> Vec<String> {
        subsets
            .iter()
            .map(|s| {
                let ips = |l: &Option<Vec<EndpointAddress>>| {
                    l.iter().flatten().map(|a| a.ip.clone()).collect::<Vec<_>>().join(",")
                };
                let ports: Vec<String> = s
                    .ports
                    .iter()
                    .flatten()
                    .map(|p| {
                        format!(
                            "{}:{}/{}",
                            p.name.clone().unwrap_or_default(),
                            p.port,
                            p.protocol.clone().unwrap_or_default()
                        )
                    })
                    .collect();
                format!("{}|{}|{}", ips(&s.addresses), ips(&s.not_ready_addresses), ports.join(","))
            })
            .collect()
    }

    #[test]
    fn repack_groups_addresses_by_their_ports_and_not_ready_wins() {
        let (a, b, c) = (addr("10.0.0.1", "a"), addr("10.0.0.2", "b"), addr("10.0.0.3", "c"));
        let (http, dns) = (eport("http", 80), eport("dns", 53));
        let check = |input: Vec<EndpointSubset>, want: &[&str]| {
            let packed = repack(&input);
            assert_eq!(show(&packed), want, "{input:?}");
            assert_eq!(repack(&packed), packed, "repacking is idempotent");
        };
        // One subset per (pod, port), as the controller builds them.
        check(
            vec![
                subset(vec![b.clone()], vec![], vec![http.clone()]),
                subset(vec![a.clone()], vec![], vec![http.clone()]),
                subset(vec![a.clone()], vec![], vec![dns.clone()]),
                subset(vec![b.clone()], vec![], vec![dns.clone()]),
            ],
            &["10.0.0.1,10.0.0.2||dns:53/TCP,http:80/TCP"],
        );
        // Different port sets make different subsets; order of input does not matter.
        let one = vec![
            subset(vec![a.clone()], vec![], vec![http.clone(), dns.clone()]),
            subset(vec![c.clone()], vec![], vec![http.clone()]),
        ];
        let mut other = one.clone();
        other.reverse();
        assert_eq!(repack(&one), repack(&other));
        check(one, &["10.0.0.1||dns:53/TCP", "10.0.0.1,10.0.0.3||http:80/TCP"]);
        // The same address ready and not ready on one port is not ready.
        check(
            vec![
                subset(vec![a.clone()], vec![], vec![http.clone()]),
                subset(vec![], vec![a.clone()], vec![http.clone()]),
            ],
            &["|10.0.0.1|http:80/TCP"],
        );
        // Same IP, different pods: two addresses. No ports: kept.
        let a2 = addr("10.0.0.1", "a2");
        check(vec![subset(vec![a.clone(), a2], vec![b.clone()], vec![])], &["10.0.0.1,10.0.0.1|10.0.0.2|"]);
        check(vec![], &[]);
    }

    #[test]
    fn subsets_resolve_ports_and_split_ready_from_not_ready() {
        let svc = service(
            "web",
            vec![
                port("http", 80, IntOrString::String("http".into()), "TCP"),
                port("raw", 81, IntOrString::Int(9000), "TCP"),
                port("dns", 53, IntOrString::String("dns".into()), "UDP"),
            ],
        );
        let mut no_dns = pod("c", "n2", &["10.0.0.3"], true, 0);
        no_dns.spec.as_mut().unwrap().containers[0].ports.as_mut().unwrap().truncate(1);
        let mut no_ip = pod("d", "n2", &[], true, 0);
        no_ip.status.as_mut().unwrap().pod_ip = None;
        let pods: Vec<Arc<Pod>> = vec![
            Arc::new(pod("a", "n1", &["10.0.0.1"], true, 0)),
            Arc::new(pod("b", "n1", &["10.0.0.2"], false, 0)),
            Arc::new(no_dns),
            Arc::new(no_ip),
        ];
        let subsets = subsets_for(&svc, &pods);
        assert_eq!(
            show(&subsets),
            ["10.0.0.1|10.0.0.2|dns:5353/UDP", "10.0.0.1,10.0.0.3|10.0.0.2|http:8080/TCP,raw:9000/TCP",]
        );
        let first = &subsets[1].addresses.as_ref().unwrap()[0];
        assert_eq!(first.node_name.as_deref(), Some("n1"));
        let target = first.target_ref.as_ref().unwrap();
        assert_eq!(
            (target.kind.as_deref(), target.name.as_deref(), target.namespace.as_deref(), target.uid.as_deref()),
            (Some("Pod"), Some("a"), Some("ns"), Some("uid-a"))
        );

        // publishNotReadyAddresses: all ready, terminating pods too.
        let mut tolerant = svc.clone();
        tolerant.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let mut leaving = pod("e", "n1", &["10.0.0.5"], true, 0);
        leaving.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(1)));
        let mut with_leaving = pods.clone();
        with_leaving.push(Arc::new(leaving));
        let all_ready = show(&subsets_for(&tolerant, &with_leaving));
        assert!(
            all_ready.contains(&"10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.5||http:8080/TCP,raw:9000/TCP".into()),
            "{all_ready:?}"
        );
        assert_eq!(show(&subsets_for(&svc, &with_leaving))[1], "10.0.0.1,10.0.0.3|10.0.0.2|http:8080/TCP,raw:9000/TCP");

        // Headless without ports: bare addresses. Without the headless mark and ports: nothing.
        let mut headless = service("web", vec![]);
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        assert_eq!(show(&subsets_for(&headless, &pods)), ["10.0.0.1,10.0.0.3|10.0.0.2|"]);
        assert!(subsets_for(&service("web", vec![]), &pods).is_empty());
    }

    #[test]
    fn the_address_family_follows_the_service() {
        let dual = Arc::new(pod("a", "n", &["10.0.0.1", "fd00::1"], true, 0));
        let mut v6 = service("web", vec![port("", 80, IntOrString::Int(80), "TCP")]);
        v6.spec.as_mut().unwrap().ip_families = Some(vec!["IPv6".into()]);
        assert_eq!(show(&subsets_for(&v6, &[Arc::clone(&dual)])), ["fd00::1||:80/TCP"]);
        let v4 = service("web", vec![port("", 80, IntOrString::Int(80), "TCP")]);
        assert_eq!(show(&subsets_for(&v4, &[Arc::clone(&dual)])), ["10.0.0.1||:80/TCP"]);
        let only_v6 = Arc::new(pod("b", "n", &["fd00::2"], true, 0));
        assert!(subsets_for(&v4, &[only_v6]).is_empty(), "no address of the service's family");
    }

    #[test]
    fn over_capacity_keeps_ready_addresses_first_and_marks_the_object() {
        let many = |n: usize, prefix: &str| -> Vec<EndpointAddress> {
            (0..n).map(|i| addr(&format!("{prefix}.{}.{}", i / 250, i % 250), &format!("{prefix}-{i}"))).collect()
        };
        let count = |s: &[EndpointSubset]| -> (usize, usize) {
            let n = |l: &Option<Vec<EndpointAddress>>| l.as_ref().map_or(0, Vec::len);
            (s.iter().map(|s| n(&s.addresses)).sum(), s.iter().map(|s| n(&s.not_ready_addresses)).sum())
        };
        // 900 ready and 300 not ready over two subsets: ready kept, not ready shared out.
        let mut subsets = vec![
            subset(many(600, "10"), many(200, "11"), vec![eport("a", 1)]),
            subset(many(300, "12"), many(100, "13"), vec![eport("b", 2)]),
        ];
        assert!(truncate(&mut subsets));
        assert_eq!(count(&subsets), (900, 100));
        assert_eq!(count(&subsets[..1]), (600, 67));
        // More ready than fit: not ready ones all go.
        let mut subsets = vec![subset(many(1200, "10"), many(5, "11"), vec![eport("a", 1)])];
        assert!(truncate(&mut subsets));
        assert_eq!(count(&subsets), (1000, 0));
        let mut small = vec![subset(many(10, "10"), vec![], vec![eport("a", 1)])];
        assert!(!truncate(&mut small));

        let svc = service("web", vec![]);
        let big = vec![subset(many(1001, "10"), vec![], vec![eport("a", 1)])];
        let written = desired(&svc, repack(&big), None, None).unwrap();
        let annotations = written.metadata.annotations.clone().unwrap();
        assert_eq!(annotations.get(OVER_CAPACITY).map(String::as_str), Some("truncated"));
        assert_eq!(count(written.subsets.as_deref().unwrap()), (1000, 0));
        assert!(desired(&svc, repack(&big), Some(&written), None).is_none(), "truncated and marked: no write");
        // Back under capacity: the mark goes.
        let fewer = desired(&svc, repack(&small), Some(&written), None).unwrap();
        assert!(fewer.metadata.annotations.is_none_or(|a| !a.contains_key(OVER_CAPACITY)));
    }

    #[test]
    fn desired_writes_only_changes_and_carries_labels_and_the_trigger_time() {
        let mut svc = service("web", vec![port("http", 80, IntOrString::String("http".into()), "TCP")]);
        svc.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        let pods = vec![Arc::new(pod("a", "n1", &["10.0.0.1"], true, 0))];
        let created = desired(&svc, subsets_for(&svc, &pods), None, Some(at(100))).unwrap();
        assert_eq!(created.metadata.name.as_deref(), Some("web"));
        assert_eq!(created.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(created.metadata.labels, svc.metadata.labels);
        let annotations = created.metadata.annotations.clone().unwrap();
        assert_eq!(annotations[service_pods::LAST_CHANGE_TRIGGER_TIME], "1970-01-01T00:01:40Z");

        // The same subsets in another order, a pod resourceVersion, a new trigger time: no write.
        let mut stored = created.clone();
        stored.metadata.resource_version = Some("7".into());
        let subsets = stored.subsets.as_mut().unwrap();
        subsets[0].addresses.as_mut().unwrap()[0].target_ref.as_mut().unwrap().resource_version = Some("3".into());
        assert!(desired(&svc, subsets_for(&svc, &pods), Some(&stored), Some(at(200))).is_none());

        // A pod turns unready: a write, keeping the object's identity, with the new trigger time.
        let unready = vec![Arc::new(pod("a", "n1", &["10.0.0.1"], false, 300))];
        let update = desired(&svc, subsets_for(&svc, &unready), Some(&stored), Some(at(300))).unwrap();
        assert_eq!(update.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(show(update.subsets.as_deref().unwrap()), ["|10.0.0.1|http:8080/TCP"]);
        assert_eq!(
            update.metadata.annotations.unwrap()[service_pods::LAST_CHANGE_TRIGGER_TIME],
            "1970-01-01T00:05:00Z"
        );

        // New service labels: a write. A headless Service: the headless label.
        let mut relabelled = svc.clone();
        relabelled.metadata.labels = Some([("app".to_string(), "web2".to_string())].into());
        assert!(desired(&relabelled, subsets_for(&svc, &pods), Some(&stored), None).is_some());
        let mut headless = svc.clone();
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        let labels = desired(&headless, subsets_for(&svc, &pods), None, None).unwrap().metadata.labels.unwrap();
        assert_eq!(labels.get(service_pods::HEADLESS_LABEL).map(String::as_str), Some(""));

        // No pods: no subsets at all.
        let empty = desired(&svc, subsets_for(&svc, &[]), Some(&stored), None).unwrap();
        assert_eq!(empty.subsets, None);
    }
}
