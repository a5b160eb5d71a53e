//! bramble-cni: pods on a Linux bridge. ADD allocates an address, makes the bridge
//! (gateway = the subnet's first address), a veth pair with the host side on the
//! bridge and the peer in the pod as `CNI_IFNAME` with its address and default route,
//! turns on forwarding, and adds masquerade and hostPort rules; a failure undoes
//! what was done. DEL undoes all of it and succeeds on what is already gone. IPv4 only.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use crate::config::BridgeConf;
use crate::error::CniError;
use crate::ipam::{Holder, Pool};
use crate::netns::{Netns, with_netlink};
use crate::spec::{Attachment, Interface, IpConfig, Outcome, Route};
use crate::{links, nft};

/// The host side's name: `veth` and 8 hex digits of a hash of the attachment, so DEL
/// finds it again without any state.
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    format!("veth{:08x}", fnv1a(&format!("{container_id}\n{ifname}")))
}

/// The bridge's MAC: locally administered, unicast, and the same every time for
/// one bridge and subnet (so a re-created bridge keeps the pods' ARP entries valid).
pub fn bridge_mac(bridge: &str, subnet: Ipv4Net) -> [u8; 6] {
    let [h0, h1, h2, h3] = fnv1a(&format!("{bridge}\n{subnet}")).to_be_bytes();
    [0x02, b'b', h0, h1, h2, h3]
}

/// FNV-1a: stable across builds and platforms, unlike std's hasher.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn holder(attachment: &Attachment) -> Holder {
    Holder { container_id: attachment.container_id.clone(), ifname: attachment.ifname.clone() }
}

fn nat(conf: &BridgeConf) -> nft::NetworkNat<'_> {
    nft::NetworkNat { network: &conf.name, subnet: conf.subnet, cluster_cidr: conf.cluster_cidr, ip_masq: conf.ip_masq }
}

/// ADD. The network's lock is held throughout, so concurrent ADDs and DELs of one
/// network never interleave their bridge, address and nft steps.
pub fn add(conf: &BridgeConf, attachment: &Attachment) -> Result<Outcome, CniError> {
    let netns_path = attachment.netns.as_deref().ok_or(CniError::MissingEnv("CNI_NETNS"))?;
    let netns = Netns::open(netns_path)?;
    let pool = Pool::new(&conf.data_dir, &conf.name, conf.subnet);
    let lock = pool.lock()?;
    let pod_ip = pool.allocate(&lock, &holder(attachment))?;
    match attach(conf, attachment, &netns, pod_ip, pool.gateway()) {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            // Undo in reverse; the first error is the one reported.
            let _ = nft::remove_pod(&attachment.container_id);
            let host = host_veth_name(&attachment.container_id, &attachment.ifname);
            let _ = with_netlink(None, move |h| async move { links::delete(&h, &host).await });
            let _ = pool.release(&lock, &holder(attachment));
            Err(e)
        }
    }
}

fn attach(
    conf: &BridgeConf,
    attachment: &Attachment,
    netns: &Netns,
    pod_ip: Ipv4Addr,
    gateway: Ipv4Addr,
) -> Result<Outcome, CniError> {
    let prefix = conf.subnet.prefix_len();
    let host_name = host_veth_name(&attachment.container_id, &attachment.ifname);
    let (bridge_name, ifname, mtu, hairpin) =
        (conf.bridge.clone(), attachment.ifname.clone(), conf.mtu, conf.hairpin_mode);
    let peer_fd = links::netns_fd(netns.file());
    let mac = bridge_mac(&conf.bridge, conf.subnet);
    let host = host_name.clone();
    let (bridge, host_link) = with_netlink(None, move |h| async move {
        let bridge = links::ensure_bridge(&h, &bridge_name, mac, gateway, prefix, mtu).await?;
        // A veth of an earlier, failed ADD of this attachment is ours to replace.
        links::delete(&h, &host).await?;
        links::create_veth(&h, &host, &ifname, peer_fd, mtu).await?;
        let host_link = links::attach(&h, &host, bridge.index, hairpin).await?;
        Ok((bridge, host_link))
    })?;
    let ifname = attachment.ifname.clone();
    let pod_link = with_netlink(Some(netns), move |h| async move {
        links::configure_container(&h, &ifname, pod_ip, prefix, gateway).await
    })?;
    enable_forwarding()?;
    if conf.ip_masq || !conf.port_mappings.is_empty() {
        nft::ensure_network(&nat(conf))?;
    }
    if !conf.port_mappings.is_empty() {
        nft::apply(&nft::pod_script(&attachment.container_id, pod_ip, conf.subnet, &conf.port_mappings))?;
    }
    let address = Ipv4Net::new(pod_ip, prefix).map_err(|e| CniError::InvalidConfig(e.to_string()))?;
    Ok(Outcome {
        interfaces: vec![
            Interface { name: conf.bridge.clone(), mac: bridge.mac, sandbox: None },
            Interface { name: host_name, mac: host_link.mac, sandbox: None },
            Interface {
                name: attachment.ifname.clone(),
                mac: pod_link.mac,
                sandbox: Some(netns.path().display().to_string()),
            },
        ],
        ips: vec![IpConfig { address: IpNet::V4(address), gateway: Some(IpAddr::V4(gateway)), interface: Some(2) }],
        routes: vec![Route {
            dst: "0.0.0.0/0".parse().map_err(|_| CniError::InvalidConfig("route".into()))?,
            gw: Some(IpAddr::V4(gateway)),
        }],
    })
}

/// The host forwards between the bridge and the world; written only when off, as
/// /proc/sys writes are not free on a Pi.
fn enable_forwarding() -> Result<(), CniError> {
    const PATH: &str = "/proc/sys/net/ipv4/ip_forward";
    let now = std::fs::read_to_string(PATH).map_err(|e| CniError::io(format!("cannot read {PATH}"), e))?;
    if now.trim() != "1" {
        std::fs::write(PATH, "1").map_err(|e| CniError::io(format!("cannot write {PATH}"), e))?;
    }
    Ok(())
}

/// DEL: every step tolerates its object being gone already.
pub fn del(conf: &BridgeConf, attachment: &Attachment) -> Result<(), CniError> {
    let pool = Pool::new(&conf.data_dir, &conf.name, conf.subnet);
    let lock = pool.lock()?;
    nft::remove_pod(&attachment.container_id)?;
    if let Some(path) = attachment.netns.as_deref()
        && let Some(netns) = Netns::open_if_exists(path)?
    {
        let ifname = attachment.ifname.clone();
        with_netlink(Some(&netns), move |h| async move { links::delete(&h, &ifname).await })?;
    }
    // Deleting either end removes the pair; this covers a namespace already gone.
    let host = host_veth_name(&attachment.container_id, &attachment.ifname);
    with_netlink(None, move |h| async move { links::delete(&h, &host).await })?;
    pool.release(&lock, &holder(attachment))?;
    Ok(())
}

/// CHECK: the allocation, the pod's interface with its address, and the host side on
/// the bridge are all still there.
pub fn check(conf: &BridgeConf, attachment: &Attachment) -> Result<(), CniError> {
    let netns_path = attachment.netns.as_deref().ok_or(CniError::MissingEnv("CNI_NETNS"))?;
    let netns = Netns::open(netns_path)?;
    let pool = Pool::new(&conf.data_dir, &conf.name, conf.subnet);
    let ip = pool
        .find(&holder(attachment))?
        .ok_or_else(|| CniError::CheckFailed(format!("no address is allocated to {}", attachment.container_id)))?;
    let ifname = attachment.ifname.clone();
    let addresses = with_netlink(Some(&netns), move |h| async move {
        let link = links::find(&h, &ifname)
            .await?
            .ok_or_else(|| CniError::CheckFailed(format!("{ifname} is missing in the pod")))?;
        if !link.up {
            return Err(CniError::CheckFailed(format!("{ifname} is down")));
        }
        links::addresses(&h, link.index).await
    })?;
    if !addresses.contains(&(IpAddr::V4(ip), conf.subnet.prefix_len())) {
        return Err(CniError::CheckFailed(format!("{} lacks its address {ip}", attachment.ifname)));
    }
    let (host, bridge) = (host_veth_name(&attachment.container_id, &attachment.ifname), conf.bridge.clone());
    with_netlink(None, move |h| async move {
        let bridge = links::find(&h, &bridge)
            .await?
            .ok_or_else(|| CniError::CheckFailed(format!("bridge {bridge} is missing")))?;
        let veth = links::find(&h, &host).await?.ok_or_else(|| CniError::CheckFailed(format!("{host} is missing")))?;
        if veth.controller != Some(bridge.index) {
            return Err(CniError::CheckFailed(format!("{host} is not on the bridge")));
        }
        Ok(())
    })
}

/// GC (spec 1.1): frees the allocations, veths and nft rules of every attachment not
/// in `valid` (`cni.dev/valid-attachments`).
pub fn gc(conf: &BridgeConf, valid: &[Holder]) -> Result<(), CniError> {
    let pool = Pool::new(&conf.data_dir, &conf.name, conf.subnet);
    let lock = pool.lock()?;
    let freed = pool.release_unless(&lock, |h| valid.contains(h))?;
    for (_, holder) in freed {
        nft::remove_pod(&holder.container_id)?;
        let host = host_veth_name(&holder.container_id, &holder.ifname);
        with_netlink(None, move |h| async move { links::delete(&h, &host).await })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_veth_names_are_stable_and_short() {
        let name = host_veth_name("0123456789abcdef", "eth0");
        assert_eq!(name, host_veth_name("0123456789abcdef", "eth0"));
        assert_ne!(name, host_veth_name("0123456789abcdef", "eth1"));
        assert_eq!(name.len(), 12);
        assert!(name.starts_with("veth"));
        let mac = bridge_mac("cni0", "10.42.0.0/24".parse().expect("net"));
        assert_eq!(mac, bridge_mac("cni0", "10.42.0.0/24".parse().expect("net")));
        assert_ne!(mac, bridge_mac("cni0", "10.42.1.0/24".parse().expect("net")));
        assert_eq!(mac[0] & 0x03, 0x02, "locally administered unicast");
    }
}
