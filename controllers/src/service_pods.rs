//! What the Endpoints and EndpointSlice controllers share: which pods a
//! Service selects and publishes, a pod's port for a service port
//! (`targetPort` by number or by container port name), its addresses by
//! family, the last-change trigger time (upstream's `TriggerTimeTracker`)
//! and which services last selected a pod, so that a pod whose labels
//! change is taken out of the services it left. No API calls here.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use crate::informer::Informer;
use crate::queue::Key;
use crate::{labels, pods};

/// When the change that the endpoints reflect happened (for latency SLOs).
pub const LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Marks the endpoints of a Service without a cluster IP.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A Service's selector, if it has endpoints managed from one: not for
/// ExternalName services, and not for a missing or empty selector (an empty
/// map does not survive the API's encoding, so it is no selector at all).
pub fn selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref().filter(|s| !s.is_empty())
}

/// The pods of the Service's namespace that its selector matches.
pub fn selected(service: &Service, pods: &Informer<Pod>) -> Vec<std::sync::Arc<Pod>> {
    let Some(selector) = selector(service) else { return Vec::new() };
    let namespace = service.metadata.namespace.as_deref().unwrap_or_default();
    let mut selected: Vec<_> = pods
        .in_namespace(namespace)
        .into_iter()
        .filter(|p| labels::matches_map(selector, p.metadata.labels.as_ref()))
        .collect();
    selected.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    selected
}

/// The services of the pod's namespace whose selector matches it now.
pub fn selecting(services: &Informer<Service>, pod: &Pod) -> Vec<Key> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    services
        .in_namespace(namespace)
        .into_iter()
        .filter(|s| selector(s).is_some_and(|sel| labels::matches_map(sel, pod.metadata.labels.as_ref())))
        .map(|s| Key::of(&s.metadata))
        .collect()
}

/// Whether the pod belongs in a Service's endpoints at all (upstream's
/// `ShouldPodBeInEndpoints`): not finished, has an IP, and not being
/// deleted unless terminating pods are wanted.
pub fn publishable(pod: &Pod, include_terminating: bool) -> bool {
    if pods::is_terminal(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The pod's IPs, primary first (`status.podIPs`, or `status.podIP` alone).
pub fn pod_ips(pod: &Pod) -> Vec<&str> {
    let Some(status) = pod.status.as_ref() else { return Vec::new() };
    let ips: Vec<&str> = status.pod_ips.iter().flatten().map(|p| p.ip.as_str()).filter(|ip| !ip.is_empty()).collect();
    if !ips.is_empty() {
        return ips;
    }
    status.pod_ip.as_deref().filter(|ip| !ip.is_empty()).into_iter().collect()
}

/// Whether `ip` is an IPv6 address (anything unparseable counts as not).
pub fn is_ipv6(ip: &str) -> bool {
    matches!(ip.parse::<IpAddr>(), Ok(IpAddr::V6(_)))
}

/// The pod's port for `port`: a numeric `targetPort` as it is, a named one
/// looked up among the ports of its containers (and sidecars: init
/// containers that restart always) with the same protocol.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    let name = match &port.target_port {
        None => return Some(port.port),
        Some(IntOrString::Int(n)) => return Some(*n),
        Some(IntOrString::String(name)) => name,
    };
    let spec = pod.spec.as_ref()?;
    let sidecars = spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
        .map(|p| p.container_port)
}

/// The hostname an endpoint carries: the pod's `hostname` when its
/// `subdomain` is this Service (upstream's `ShouldSetHostname`).
pub fn hostname(pod: &Pod, service: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    let same = spec.subdomain.as_deref() == service.metadata.name.as_deref()
        && pod.metadata.namespace == service.metadata.namespace;
    same.then(|| hostname.to_string())
}

/// Whether the Service has a cluster IP (is not headless).
pub fn has_cluster_ip(service: &Service) -> bool {
    let ip = service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()).unwrap_or_default();
    !ip.is_empty() && ip != "None"
}

/// A reference to the pod, as endpoints carry it.
pub fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// Two references to the same thing, whatever resourceVersion they name.
pub fn same_ref(a: Option<&ObjectReference>, b: Option<&ObjectReference>) -> bool {
    let strip = |r: Option<&ObjectReference>| r.cloned().map(|r| ObjectReference { resource_version: None, ..r });
    strip(a) == strip(b)
}

/// The moment a pod last changed in a way endpoints show: its Ready
/// condition's last transition.
fn pod_trigger(pod: &Pod) -> Option<Timestamp> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    conditions.iter().find(|c| c.type_ == "Ready")?.last_transition_time.as_ref().map(|t| t.0)
}

#[derive(Debug, Default)]
struct TriggerState {
    service: Option<Timestamp>,
    pods: HashMap<String, Timestamp>,
}

/// The last-change trigger time of each Service's endpoints: the earliest
/// of the changes (pod readiness transitions, the Service's creation) seen
/// since the previous sync, or the Service's creation on its first sync.
/// As upstream's, it may be off when one object changes twice between syncs.
#[derive(Debug, Default)]
pub struct TriggerTimes {
    services: Mutex<HashMap<Key, TriggerState>>,
}

impl TriggerTimes {
    /// Records what this sync sees and returns the time to publish, if any.
    pub fn observe(&self, key: &Key, service: &Service, pods: &[std::sync::Arc<Pod>]) -> Option<Timestamp> {
        let mut all = self.services.lock().unwrap_or_else(|e| e.into_inner());
        let known = all.contains_key(key);
        let state = all.entry(key.clone()).or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut seen = HashMap::new();
        for pod in pods {
            let Some(at) = pod_trigger(pod) else { continue };
            let name = pod.metadata.name.clone().unwrap_or_default();
            if state.pods.get(&name).is_none_or(|before| at > *before) {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
            seen.insert(name, at);
        }
        let created = service.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(at) = created
            && state.service.is_none_or(|before| at > before)
        {
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
        state.pods = seen;
        state.service = created;
        if known { earliest } else { created }
    }

    /// Forgets a Service; whether it was known.
    pub fn forget(&self, key: &Key) -> bool {
        self.services.lock().unwrap_or_else(|e| e.into_inner()).remove(key).is_some()
    }
}

/// Formats a trigger time as upstream does (RFC 3339, UTC).
pub fn format_time(at: Timestamp) -> String {
    at.to_string()
}

#[derive(Debug, Default)]
struct MembershipState {
    by_service: HashMap<Key, BTreeSet<String>>,
    by_pod: HashMap<Key, HashSet<Key>>,
}

/// Which services selected each pod at their last sync, so that a change to
/// a pod reaches the services it no longer matches as well as those it now
/// matches (the informer hands over only the new version of a pod).
#[derive(Debug, Default)]
pub struct Membership {
    state: Mutex<MembershipState>,
}

impl Membership {
    /// Records the pods (by name) that `service` selected in this sync.
    pub fn set(&self, service: &Key, pods: &[std::sync::Arc<Pod>]) {
        let names: BTreeSet<String> = pods.iter().filter_map(|p| p.metadata.name.clone()).collect();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let before = state.by_service.remove(service).unwrap_or_default();
        for gone in before.difference(&names) {
            let pod = Key { namespace: service.namespace.clone(), name: gone.clone() };
            if let Some(set) = state.by_pod.get_mut(&pod) {
                set.remove(service);
                if set.is_empty() {
                    state.by_pod.remove(&pod);
                }
            }
        }
        for name in &names {
            let pod = Key { namespace: service.namespace.clone(), name: name.clone() };
            state.by_pod.entry(pod).or_default().insert(service.clone());
        }
        if !names.is_empty() {
            state.by_service.insert(service.clone(), names);
        }
    }

    pub fn forget(&self, service: &Key) {
        self.set(service, &[]);
    }

    /// The services that selected `pod` at their last sync.
    pub fn services_of(&self, pod: &Key) -> Vec<Key> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.by_pod.get(pod).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    use super::*;

    pub fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    /// A running pod on `node` with `ips`, ready or not since `since`.
    pub fn pod(name: &str, node: &str, ips: &[&str], ready: bool, since: i64) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some(node.into()),
                containers: vec![Container {
                    name: "c".into(),
                    ports: Some(vec![
                        ContainerPort { name: Some("http".into()), container_port: 8080, ..Default::default() },
                        ContainerPort {
                            name: Some("dns".into()),
                            container_port: 5353,
                            protocol: Some("UDP".into()),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: ips.first().map(|s| s.to_string()),
                pod_ips: Some(ips.iter().map(|ip| PodIP { ip: ip.to_string() }).collect()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    last_transition_time: Some(Time(at(since))),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    pub fn port(name: &str, port: i32, target: IntOrString, protocol: &str) -> ServicePort {
        ServicePort {
            name: Some(name.into()),
            port,
            target_port: Some(target),
            protocol: Some(protocol.into()),
            ..Default::default()
        }
    }

    pub fn service(name: &str, ports: Vec<ServicePort>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                creation_timestamp: Some(Time(at(100))),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some([("app".to_string(), "web".to_string())].into()),
                cluster_ip: Some("10.43.0.10".into()),
                ip_families: Some(vec!["IPv4".into()]),
                ports: Some(ports),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn target_ports_resolve_by_number_and_by_name_and_protocol() {
        let p = pod("a", "n", &["10.0.0.1"], true, 0);
        let check = |target: IntOrString, protocol: &str, want: Option<i32>| {
            assert_eq!(find_port(&p, &port("x", 80, target.clone(), protocol)), want, "{target:?}/{protocol}");
        };
        check(IntOrString::Int(9000), "TCP", Some(9000));
        check(IntOrString::String("http".into()), "TCP", Some(8080));
        check(IntOrString::String("http".into()), "UDP", None);
        check(IntOrString::String("dns".into()), "UDP", Some(5353));
        check(IntOrString::String("dns".into()), "TCP", None);
        check(IntOrString::String("nope".into()), "TCP", None);
        let unset = ServicePort { port: 81, ..Default::default() };
        assert_eq!(find_port(&p, &unset), Some(81));

        // A sidecar's named port counts; an ordinary init container's does not.
        let mut sidecar = p.clone();
        let spec = sidecar.spec.as_mut().unwrap();
        let init = |policy: Option<&str>, name: &str| Container {
            name: name.into(),
            restart_policy: policy.map(String::from),
            ports: Some(vec![ContainerPort { name: Some(name.into()), container_port: 7000, ..Default::default() }]),
            ..Default::default()
        };
        spec.init_containers = Some(vec![init(Some("Always"), "side"), init(None, "setup")]);
        assert_eq!(find_port(&sidecar, &port("x", 80, IntOrString::String("side".into()), "TCP")), Some(7000));
        assert_eq!(find_port(&sidecar, &port("x", 80, IntOrString::String("setup".into()), "TCP")), None);
    }

    #[test]
    fn publishable_pods_have_an_ip_and_are_not_finished_or_leaving() {
        let running = pod("a", "n", &["10.0.0.1"], false, 0);
        assert!(publishable(&running, false));
        let mut no_ip = running.clone();
        no_ip.status.as_mut().unwrap().pod_ips = None;
        no_ip.status.as_mut().unwrap().pod_ip = None;
        assert!(!publishable(&no_ip, true));
        let mut done = running.clone();
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!publishable(&done, true));
        let mut leaving = running.clone();
        leaving.metadata.deletion_timestamp = Some(Time(at(5)));
        assert!(!publishable(&leaving, false));
        assert!(publishable(&leaving, true));
    }

    #[test]
    fn trigger_time_is_creation_first_then_the_earliest_new_change() {
        let times = TriggerTimes::default();
        let key = Key::new(Some("ns"), "web");
        let svc = service("web", vec![]);
        let a = Arc::new(pod("a", "n", &["10.0.0.1"], true, 200));
        let b = Arc::new(pod("b", "n", &["10.0.0.2"], true, 300));
        assert_eq!(times.observe(&key, &svc, &[Arc::clone(&a)]), Some(at(100)));
        assert_eq!(times.observe(&key, &svc, &[Arc::clone(&a)]), None, "nothing changed");
        let a2 = Arc::new(pod("a", "n", &["10.0.0.1"], false, 400));
        assert_eq!(times.observe(&key, &svc, &[a2, b]), Some(at(300)));
        assert!(times.forget(&key));
        assert!(!times.forget(&key));
    }

    #[test]
    fn membership_remembers_which_services_selected_a_pod() {
        let m = Membership::default();
        let web = Key::new(Some("ns"), "web");
        let all = Key::new(Some("ns"), "all");
        let a = Arc::new(pod("a", "n", &["10.0.0.1"], true, 0));
        let b = Arc::new(pod("b", "n", &["10.0.0.2"], true, 0));
        m.set(&web, &[Arc::clone(&a), Arc::clone(&b)]);
        m.set(&all, &[Arc::clone(&a)]);
        let pod_a = Key::new(Some("ns"), "a");
        let mut of_a = m.services_of(&pod_a);
        of_a.sort();
        assert_eq!(of_a, [all.clone(), web.clone()]);
        m.set(&web, &[b]);
        assert_eq!(m.services_of(&pod_a), std::slice::from_ref(&all));
        m.forget(&all);
        assert!(m.services_of(&pod_a).is_empty());
        assert_eq!(m.services_of(&Key::new(Some("ns"), "b")), [web]);
    }

    #[test]
    fn selectors_and_hostnames() {
        let mut svc = service("web", vec![]);
        assert!(selector(&svc).is_some());
        svc.spec.as_mut().unwrap().selector = Some(BTreeMap::new());
        assert!(selector(&svc).is_none(), "an empty selector is none");
        let mut svc = service("web", vec![]);
        svc.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
        assert!(selector(&svc).is_none());

        let svc = service("web", vec![]);
        let mut p = pod("a", "n", &["10.0.0.1"], true, 0);
        assert_eq!(hostname(&p, &svc), None);
        let spec = p.spec.as_mut().unwrap();
        spec.hostname = Some("a-0".into());
        spec.subdomain = Some("other".into());
        assert_eq!(hostname(&p, &svc), None);
        p.spec.as_mut().unwrap().subdomain = Some("web".into());
        assert_eq!(hostname(&p, &svc).as_deref(), Some("a-0"));
        assert!(is_ipv6("fd00::1") && !is_ipv6("10.0.0.1") && !is_ipv6("junk"));
    }
}
