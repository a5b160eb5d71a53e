//! Node IPAM: each node gets its pod network, `spec.podCIDR(s)`, cut from
//! `--cluster-cidr` (k3s: 10.42.0.0/16 in /24s; a second, IPv6 range in
//! /64s for dual stack), as kube-controller-manager's range allocator does.
//! A range is never handed out twice: the ranges of every node in the cache
//! are taken before any is given, and a node's range is free again only
//! when the node is gone.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};

/// One address family's cluster range, cut into equal node ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterCidr {
    base: IpAddr,
    prefix: u8,
    node_prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    #[error("invalid CIDR {0:?}: expected an address and a prefix length, e.g. 10.42.0.0/16")]
    Syntax(String),
    #[error("CIDR {cidr:?} is narrower than a node's /{node_prefix}")]
    TooSmall { cidr: String, node_prefix: u8 },
}

impl ClusterCidr {
    /// Parses `10.42.0.0/16` (nodes get /24s) or `fd00:42::/56` (nodes get /64s).
    pub fn parse(text: &str) -> Result<ClusterCidr, CidrError> {
        let text = text.trim();
        let syntax = || CidrError::Syntax(text.to_string());
        let (addr, prefix) = text.split_once('/').ok_or_else(syntax)?;
        let addr: IpAddr = addr.parse().map_err(|_| syntax())?;
        let prefix: u8 = prefix.parse().map_err(|_| syntax())?;
        let (bits, node_prefix) = if addr.is_ipv4() { (32, 24) } else { (128, 64) };
        if prefix > bits {
            return Err(syntax());
        }
        if prefix > node_prefix {
            return Err(CidrError::TooSmall { cidr: text.to_string(), node_prefix });
        }
        let base = mask(addr, prefix);
        Ok(ClusterCidr { base, prefix, node_prefix })
    }

    /// How many node ranges fit (capped: no cluster has 2^32 nodes).
    fn capacity(&self) -> u64 {
        1u64 << u32::from(self.node_prefix - self.prefix).min(32)
    }

    /// The `index`th node range.
    fn range(&self, index: u64) -> String {
        let bits = if self.base.is_ipv4() { 32 } else { 128 };
        let shift = bits - u32::from(self.node_prefix);
        let ip = match self.base {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) | ((index as u32) << shift))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) | (u128::from(index) << shift))),
        };
        format!("{ip}/{}", self.node_prefix)
    }

    /// The index of `cidr` if it is one of this range's node ranges.
    fn index_of(&self, cidr: &str) -> Option<u64> {
        let (addr, prefix) = cidr.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        if prefix.parse::<u8>().ok()? != self.node_prefix || mask(addr, self.prefix) != self.base {
            return None;
        }
        let bits = if self.base.is_ipv4() { 32 } else { 128 };
        let shift = bits - u32::from(self.node_prefix);
        let offset = match (addr, self.base) {
            (IpAddr::V4(a), IpAddr::V4(b)) => u128::from(u32::from(a) - u32::from(b)),
            (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) - u128::from(b),
            _ => return None,
        };
        u64::try_from(offset >> shift).ok()
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & m))
        }
        IpAddr::V6(v6) => {
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & m))
        }
    }
}

/// Parses `--cluster-cidr`: one range, or an IPv4 and an IPv6 one separated by a comma.
pub fn parse_cluster_cidrs(text: &str) -> Result<Vec<ClusterCidr>, CidrError> {
    text.split(',').filter(|s| !s.trim().is_empty()).map(ClusterCidr::parse).collect()
}

/// The ranges given out, per family.
#[derive(Debug)]
struct Allocator {
    families: Vec<(ClusterCidr, BTreeSet<u64>)>,
    /// Node name -> its indexes, to free them when it goes.
    by_node: HashMap<String, Vec<(usize, u64)>>,
}

impl Allocator {
    fn new(cidrs: Vec<ClusterCidr>) -> Allocator {
        Allocator { families: cidrs.into_iter().map(|c| (c, BTreeSet::new())).collect(), by_node: HashMap::new() }
    }

    /// Records the ranges a node already has.
    fn occupy(&mut self, node: &str, cidrs: &[String]) {
        let mut held = Vec::new();
        for cidr in cidrs {
            for (family, (range, used)) in self.families.iter_mut().enumerate() {
                if let Some(i) = range.index_of(cidr) {
                    used.insert(i);
                    held.push((family, i));
                }
            }
        }
        self.by_node.insert(node.to_string(), held);
    }

    fn release(&mut self, node: &str) {
        for (family, i) in self.by_node.remove(node).unwrap_or_default() {
            self.families[family].1.remove(&i);
        }
    }

    /// The lowest free range of every family, or `None` if one is full.
    fn allocate(&mut self, node: &str) -> Option<Vec<String>> {
        let mut picked = Vec::new();
        for (range, used) in &self.families {
            let free = (0..range.capacity()).find(|i| !used.contains(i))?;
            picked.push(free);
        }
        let mut cidrs = Vec::new();
        let mut held = Vec::new();
        for (family, ((range, used), i)) in self.families.iter_mut().zip(picked).enumerate() {
            used.insert(i);
            held.push((family, i));
            cidrs.push(range.range(i));
        }
        self.by_node.insert(node.to_string(), held);
        Some(cidrs)
    }
}

fn pod_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.as_ref();
    let mut cidrs: Vec<String> = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
    if cidrs.is_empty() {
        cidrs.extend(spec.and_then(|s| s.pod_cidr.clone()).filter(|c| !c.is_empty()));
    }
    cidrs
}

pub async fn run(client: kube::Client, cidrs: Vec<ClusterCidr>, nodes: Arc<Informer<Node>>, events: Recorder) {
    if cidrs.is_empty() {
        return;
    }
    let mut changes = nodes.subscribe();
    nodes.ready().await;
    let mut allocator = Allocator::new(cidrs);
    let api: Api<Node> = Api::all(client);
    // Everything taken first, so that no range given now is already someone's.
    for node in nodes.store.state() {
        allocator.occupy(node.metadata.name.as_deref().unwrap_or_default(), &pod_cidrs(&node));
    }
    for node in nodes.store.state() {
        assign(&api, &mut allocator, &node, &events).await;
    }
    while let Some(change) = informer::next(&mut changes).await {
        match change {
            Change::Applied(node) => {
                let name = node.metadata.name.clone().unwrap_or_default();
                let cidrs = pod_cidrs(&node);
                if cidrs.is_empty() {
                    assign(&api, &mut allocator, &node, &events).await;
                } else if !allocator.by_node.contains_key(&name) {
                    allocator.occupy(&name, &cidrs);
                }
            }
            Change::Deleted(node) => allocator.release(node.metadata.name.as_deref().unwrap_or_default()),
            Change::Relisted => {
                let live: Vec<Arc<Node>> = nodes.store.state();
                let names: BTreeSet<String> = live.iter().filter_map(|n| n.metadata.name.clone()).collect();
                let gone: Vec<String> = allocator.by_node.keys().filter(|n| !names.contains(*n)).cloned().collect();
                for name in gone {
                    allocator.release(&name);
                }
                for node in &live {
                    let name = node.metadata.name.clone().unwrap_or_default();
                    let cidrs = pod_cidrs(node);
                    if !cidrs.is_empty() && !allocator.by_node.contains_key(&name) {
                        allocator.occupy(&name, &cidrs);
                    }
                }
                for node in live {
                    assign(&api, &mut allocator, &node, &events).await;
                }
            }
        }
    }
}

async fn assign(api: &Api<Node>, allocator: &mut Allocator, node: &Node, events: &Recorder) {
    let name = node.metadata.name.clone().unwrap_or_default();
    if !pod_cidrs(node).is_empty() || allocator.by_node.get(&name).is_some_and(|held| !held.is_empty()) {
        return;
    }
    let Some(cidrs) = allocator.allocate(&name) else {
        events.record(node, Type::Normal, "CIDRNotAvailable", format!("Node {name} status is now: CIDRNotAvailable"));
        tracing::warn!(node = %name, "no pod network left in --cluster-cidr for this node");
        return;
    };
    let patch = json!({"spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}});
    match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => tracing::info!(node = %name, cidrs = ?cidrs, "assigned the node's pod network"),
        Err(e) => {
            // Not given: free it, and try again when the node next changes.
            allocator.release(&name);
            tracing::warn!(node = %name, "cannot set the node's pod network: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_cut_in_order_and_reused_after_release() {
        let cidrs = parse_cluster_cidrs("10.42.0.0/16,fd00:42::/56").unwrap();
        let mut a = Allocator::new(cidrs);
        a.occupy("old", &["10.42.0.0/24".into(), "fd00:42::/64".into()]);
        assert_eq!(a.allocate("n1").unwrap(), ["10.42.1.0/24", "fd00:42:0:1::/64"]);
        assert_eq!(a.allocate("n2").unwrap(), ["10.42.2.0/24", "fd00:42:0:2::/64"]);
        a.release("n1");
        assert_eq!(a.allocate("n3").unwrap(), ["10.42.1.0/24", "fd00:42:0:1::/64"]);
    }

    #[test]
    fn a_full_range_gives_nothing() {
        let mut a = Allocator::new(parse_cluster_cidrs("10.42.0.0/23").unwrap());
        assert!(a.allocate("a").is_some());
        assert!(a.allocate("b").is_some());
        assert_eq!(a.allocate("c"), None);
    }

    #[test]
    fn bad_cidrs_are_named() {
        assert_eq!(ClusterCidr::parse("10.42.0.0"), Err(CidrError::Syntax("10.42.0.0".into())),);
        assert!(matches!(ClusterCidr::parse("10.42.0.0/25"), Err(CidrError::TooSmall { .. })));
        assert_eq!(ClusterCidr::parse("10.42.7.9/16").unwrap().range(3), "10.42.3.0/24");
    }
}
