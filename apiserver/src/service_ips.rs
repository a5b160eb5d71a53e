//! ClusterIPs and node ports for Services, allocated as kube-apiserver
//! allocates them when a Service is created: a ClusterIP from
//! `--service-cidr` (claimed as a `networking.k8s.io/v1` IPAddress object
//! named after the address, as upstream's allocator does since 1.33), and a
//! node port from 30000-32767 for each port of a NodePort or LoadBalancer
//! Service. Every claim is a create-if-absent in the store, so two servers
//! never hand out the same address; a claim is released when its Service
//! is deleted. Also the `kubernetes` Service in `default`, on the range's
//! first address, with the Endpoints and EndpointSlice of this server.
//!
//! Not here yet: releasing node ports that an update removes, and the
//! repair loop that frees claims whose Service vanished in a crash.

use std::net::Ipv4Addr;

use kvstore::datastore::WriteOutcome;
use serde_json::{Value, json};

use crate::Api;
use crate::catalog;
use crate::status::{ApiError, Cause};
use crate::storage;

/// Node ports, as kube-apiserver's default `--service-node-port-range`.
pub const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;
/// Where node port claims live: one key per port.
const NODE_PORT_PREFIX: &str = "/registry/bramble/nodeports/";

/// Whether `resource` is core/v1 Services, whose writes allocate and release here.
pub(crate) fn is_services(resource: &catalog::Resource) -> bool {
    resource.group.is_empty() && resource.plural == "services"
}

/// The Service network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceNetwork {
    base: u32,
    prefix: u32,
}

impl ServiceNetwork {
    /// From a CIDR such as `10.43.0.0/16` (IPv4; a prefix of at most /30).
    pub fn parse(cidr: &str) -> Result<ServiceNetwork, String> {
        let (addr, prefix) =
            cidr.split_once('/').ok_or_else(|| format!("{cidr} is not a CIDR such as 10.43.0.0/16"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("{cidr}: {addr} is not an IPv4 address"))?;
        let prefix: u32 = prefix
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("{cidr}: the prefix length must be between 8 and 30"))?;
        let mask = u32::MAX << (32 - prefix);
        Ok(ServiceNetwork { base: u32::from(addr) & mask, prefix })
    }

    fn size(&self) -> u32 {
        1 << (32 - self.prefix)
    }

    /// The first host address: the `kubernetes` Service's.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 1)
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & (u32::MAX << (32 - self.prefix)) == self.base
    }

    /// Host addresses other than the first, from a starting offset, wrapping once.
    fn candidates(&self, start: u32) -> impl Iterator<Item = Ipv4Addr> + '_ {
        let hosts = self.size() - 3; // not the network, the first, nor the broadcast address
        (0..hosts).map(move |i| Ipv4Addr::from(self.base + 2 + (start + i) % hosts))
    }
}

impl std::fmt::Display for ServiceNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    ApiError::Invalid {
        qualified_kind: "Service".into(),
        group: String::new(),
        kind: "Service".into(),
        name: name.into(),
        message: format!("Service \"{name}\" is invalid: {field}: {message}"),
        causes: vec![Cause { reason: "FieldValueInvalid".into(), message, field: field.into() }],
    }
}

fn ip_key(ip: Ipv4Addr) -> Result<Vec<u8>, ApiError> {
    let resource = catalog::find("networking.k8s.io", "v1", "ipaddresses").ok_or(ApiError::NoSuchResource)?;
    Ok(storage::key(resource, None, &ip.to_string()))
}

/// Claims `ip` for the Service `namespace/name`; false when it is taken.
async fn claim_ip(api: &Api, ip: Ipv4Addr, namespace: &str, name: &str) -> Result<bool, ApiError> {
    let resource = catalog::find("networking.k8s.io", "v1", "ipaddresses").ok_or(ApiError::NoSuchResource)?;
    let object = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {
            "name": ip.to_string(),
            "uid": crate::rest::new_uid(),
            "creationTimestamp": crate::rest::now_rfc3339(),
            "labels": {
                "ipaddress.kubernetes.io/ip-family": "IPv4",
                "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
            },
        },
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": namespace, "name": name}},
    });
    let bytes = storage::encode(resource, &object)?;
    Ok(matches!(api.store.create(&ip_key(ip)?, &bytes, 0).await?, WriteOutcome::Written { .. }))
}

async fn claim_port(api: &Api, port: u16, namespace: &str, name: &str) -> Result<bool, ApiError> {
    let key = format!("{NODE_PORT_PREFIX}{port}");
    let owner = format!("{namespace}/{name}");
    Ok(matches!(api.store.create(key.as_bytes(), owner.as_bytes(), 0).await?, WriteOutcome::Written { .. }))
}

/// What a Service holds, to give back.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    ips: Vec<Ipv4Addr>,
    ports: Vec<u16>,
}

fn claims_of(svc: &Value) -> Claims {
    let spec = &svc["spec"];
    let ips = spec["clusterIPs"]
        .as_array()
        .map(|ips| ips.iter().filter_map(|ip| ip.as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    let ports = spec["ports"]
        .as_array()
        .map(|ports| ports.iter().filter_map(|p| u16::try_from(p["nodePort"].as_u64()?).ok()).collect())
        .unwrap_or_default();
    Claims { ips, ports }
}

/// Gives back what `claims` holds. Errors are logged: a leaked claim costs an address, not correctness.
pub(crate) async fn release_claims(api: &Api, claims: &Claims) {
    for ip in &claims.ips {
        if let Ok(key) = ip_key(*ip)
            && let Err(e) = api.store.delete(&key, None).await
        {
            tracing::warn!(%ip, "cannot release a ClusterIP: {e}");
        }
    }
    for port in &claims.ports {
        if let Err(e) = api.store.delete(format!("{NODE_PORT_PREFIX}{port}").as_bytes(), None).await {
            tracing::warn!(port, "cannot release a node port: {e}");
        }
    }
}

/// After a Service is deleted: its ClusterIP and node ports are free again.
pub(crate) async fn release(api: &Api, svc: &Value) {
    release_claims(api, &claims_of(svc)).await;
}

fn needs_node_ports(spec: &Value) -> bool {
    match spec["type"].as_str() {
        Some("NodePort") => true,
        Some("LoadBalancer") => spec["allocateLoadBalancerNodePorts"].as_bool() != Some(false),
        _ => false,
    }
}

/// Allocates what a new Service needs, writing it into `svc`; returns the
/// claims so that a create that then fails can give them back.
pub(crate) async fn allocate(api: &Api, svc: &mut Value, namespace: &str, name: &str) -> Result<Claims, ApiError> {
    let network = api.service_network;
    let mut claims = Claims::default();
    let result = allocate_into(api, network, svc, namespace, name, &mut claims).await;
    if result.is_err() {
        release_claims(api, &claims).await;
    }
    result.map(|()| claims)
}

async fn allocate_into(
    api: &Api,
    network: ServiceNetwork,
    svc: &mut Value,
    namespace: &str,
    name: &str,
    claims: &mut Claims,
) -> Result<(), ApiError> {
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
    let kind = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    let requested = spec.get("clusterIP").and_then(Value::as_str).unwrap_or("").to_string();
    if kind != "ExternalName" && requested != "None" {
        let ip = if requested.is_empty() {
            let start = rand::random_range(0..network.size());
            let mut chosen = None;
            for candidate in network.candidates(start) {
                if claim_ip(api, candidate, namespace, name).await? {
                    chosen = Some(candidate);
                    break;
                }
            }
            chosen.ok_or_else(|| {
                ApiError::Internal(format!("failed to allocate a serviceIP: range is full ({network})"))
            })?
        } else {
            let ip: Ipv4Addr = requested.parse().map_err(|_| {
                invalid(name, "spec.clusterIPs", format!("Invalid value: \"{requested}\": must be a valid IP address"))
            })?;
            if !network.contains(ip) {
                return Err(invalid(
                    name,
                    "spec.clusterIPs",
                    format!(
                        "Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {network}"
                    ),
                ));
            }
            if !claim_ip(api, ip, namespace, name).await? {
                return Err(invalid(
                    name,
                    "spec.clusterIPs",
                    format!("Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is already allocated"),
                ));
            }
            ip
        };
        claims.ips.push(ip);
        spec.insert("clusterIP".into(), json!(ip.to_string()));
        spec.insert("clusterIPs".into(), json!([ip.to_string()]));
    }
    if !needs_node_ports(&Value::Object(spec.clone())) {
        return Ok(());
    }
    let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) else { return Ok(()) };
    for (i, port) in ports.iter_mut().enumerate() {
        let Some(port) = port.as_object_mut() else { continue };
        match port.get("nodePort").and_then(Value::as_u64).filter(|p| *p != 0) {
            Some(wanted) => {
                let wanted = u16::try_from(wanted).ok().filter(|p| NODE_PORTS.contains(p)).ok_or_else(|| {
                    invalid(
                        name,
                        &format!("spec.ports[{i}].nodePort"),
                        format!("Invalid value: {wanted}: provided port is not in the valid range. The range of valid ports is 30000-32767"),
                    )
                })?;
                if !claim_port(api, wanted, namespace, name).await? {
                    return Err(invalid(
                        name,
                        &format!("spec.ports[{i}].nodePort"),
                        format!("Invalid value: {wanted}: provided port is already allocated"),
                    ));
                }
                claims.ports.push(wanted);
            }
            None => {
                let span = u32::from(*NODE_PORTS.end() - *NODE_PORTS.start()) + 1;
                let start = rand::random_range(0..span);
                let mut chosen = None;
                for offset in 0..span {
                    let candidate = *NODE_PORTS.start() + ((start + offset) % span) as u16;
                    if claim_port(api, candidate, namespace, name).await? {
                        chosen = Some(candidate);
                        break;
                    }
                }
                let chosen =
                    chosen.ok_or_else(|| ApiError::Internal("failed to allocate a nodePort: range is full".into()))?;
                claims.ports.push(chosen);
                port.insert("nodePort".into(), json!(chosen));
            }
        }
    }
    Ok(())
}

/// The `kubernetes` Service in `default` on the range's first address, and
/// its Endpoints and EndpointSlice pointing at this server, made at start
/// (the endpoints are rewritten on every start, as upstream's reconciler does).
pub(crate) async fn bootstrap_kubernetes_service(api: &Api, advertise: Ipv4Addr, port: u16) -> Result<(), ApiError> {
    let services = catalog::find("", "v1", "services").ok_or(ApiError::NoSuchResource)?;
    let key = storage::key(services, Some("default"), "kubernetes");
    let first = api.service_network.first();
    if api.store.get(&key).await?.is_none() {
        // Claimed on first start; on a later start it is already ours.
        let _ = claim_ip(api, first, "default", "kubernetes").await?;
        let svc = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "uid": crate::rest::new_uid(),
                "creationTimestamp": crate::rest::now_rfc3339(),
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": first.to_string(),
                "clusterIPs": [first.to_string()],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
                "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            },
            "status": {"loadBalancer": {}},
        });
        let _ = api.store.create(&key, &storage::encode(services, &svc)?, 0).await?;
    }
    let endpoints = catalog::find("", "v1", "endpoints").ok_or(ApiError::NoSuchResource)?;
    let object = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{
            "addresses": [{"ip": advertise.to_string()}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }],
    });
    put_system_object(api, endpoints, "kubernetes", object).await?;
    let slices = catalog::find("discovery.k8s.io", "v1", "endpointslices").ok_or(ApiError::NoSuchResource)?;
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "kubernetes"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [advertise.to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    put_system_object(api, slices, "kubernetes", slice).await
}

/// Writes an object the server owns in `default`, keeping its uid and creation time if it exists.
async fn put_system_object(
    api: &Api,
    resource: &catalog::Resource,
    name: &str,
    mut object: Value,
) -> Result<(), ApiError> {
    let key = storage::key(resource, Some("default"), name);
    for _ in 0..8 {
        let current = api.store.get(&key).await?;
        let (uid, created) = match &current {
            Some(kv) => {
                let old = storage::decode(resource, kv)?;
                (old["metadata"]["uid"].clone(), old["metadata"]["creationTimestamp"].clone())
            }
            None => (json!(crate::rest::new_uid()), json!(crate::rest::now_rfc3339())),
        };
        object["metadata"]["uid"] = uid;
        object["metadata"]["creationTimestamp"] = created;
        let bytes = storage::encode(resource, &object)?;
        let outcome = match &current {
            Some(kv) if kv.value == bytes => return Ok(()),
            Some(kv) => api.store.update(&key, &bytes, kv.mod_revision, 0).await?,
            None => api.store.create(&key, &bytes, 0).await?,
        };
        if matches!(outcome, WriteOutcome::Written { .. }) {
            return Ok(());
        }
    }
    Err(ApiError::Internal(format!("cannot write the {name} {}", resource.kind)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_candidates() {
        let net = ServiceNetwork::parse("10.43.7.9/16").expect("a CIDR");
        assert_eq!(net.to_string(), "10.43.0.0/16");
        assert_eq!(net.first(), Ipv4Addr::new(10, 43, 0, 1));
        assert!(net.contains(Ipv4Addr::new(10, 43, 255, 254)));
        assert!(!net.contains(Ipv4Addr::new(10, 44, 0, 1)));
        let small = ServiceNetwork::parse("192.168.0.0/29").expect("a CIDR");
        let all: Vec<Ipv4Addr> = small.candidates(3).collect();
        // .2 to .6: not the network (.0), the kubernetes Service (.1) nor the broadcast (.7).
        assert_eq!(all.len(), 5);
        assert_eq!(all[0], Ipv4Addr::new(192, 168, 0, 5));
        assert!(all.iter().all(|ip| (2..=6).contains(&ip.octets()[3])));
        for bad in ["10.43.0.0", "10.43.0.0/33", "10.43.0.0/31", "fd00::/108", "x/16"] {
            assert!(ServiceNetwork::parse(bad).is_err(), "{bad}");
        }
    }
}
