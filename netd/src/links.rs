//! The netlink requests the plugins make: look up, create and configure links,
//! addresses and routes. Each function is one step a plugin names; "already there"
//! and "already gone" are answered here so the callers can be idempotent.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, RawFd};

use futures::TryStreamExt;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkBridgePort, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::error::CniError;

const EEXIST: i32 = 17;
const ENODEV: i32 = 19;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

/// A link as the plugins need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub mac: String,
    pub up: bool,
    /// The bridge (or other controller) it is attached to.
    pub controller: Option<u32>,
}

impl Link {
    fn from_message(msg: &LinkMessage) -> Self {
        let mut link = Self {
            index: msg.header.index,
            mac: String::new(),
            up: msg.header.flags.contains(LinkFlags::Up),
            controller: None,
        };
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::Address(bytes) => {
                    link.mac = bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
                }
                LinkAttribute::Controller(index) => link.controller = Some(*index),
                _ => {}
            }
        }
        link
    }
}

/// The link named `name`, `None` if there is none.
pub async fn find(handle: &Handle, name: &str) -> Result<Option<Link>, CniError> {
    let mut links = handle.link().get().match_name(name).execute();
    match links.try_next().await {
        Ok(found) => Ok(found.as_ref().map(Link::from_message)),
        Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
        Err(e) => Err(CniError::netlink(format!("cannot look up link {name}"), e)),
    }
}

async fn get(handle: &Handle, name: &str) -> Result<Link, CniError> {
    find(handle, name).await?.ok_or_else(|| {
        CniError::netlink(format!("link {name} vanished"), rtnetlink::Error::NamespaceError(format!("no {name}")))
    })
}

/// Makes the bridge exist, up, with `gateway/prefix` on it. A new bridge gets `mac`
/// explicitly: a bridge with a kernel-chosen address takes the lowest address of its
/// ports, so the gateway's MAC would change (and pods' ARP entries go stale) as pods
/// come and go.
pub async fn ensure_bridge(
    handle: &Handle,
    name: &str,
    mac: [u8; 6],
    gateway: Ipv4Addr,
    prefix: u8,
    mtu: u32,
) -> Result<Link, CniError> {
    if find(handle, name).await?.is_none() {
        match handle.link().add(LinkBridge::new(name).mtu(mtu).address(mac.to_vec()).build()).execute().await {
            Ok(()) => {}
            // Another plugin process made it first.
            Err(e) if errno(&e) == Some(EEXIST) => {}
            Err(e) => return Err(CniError::netlink(format!("cannot create bridge {name}"), e)),
        }
    }
    let bridge = get(handle, name).await?;
    add_address(handle, bridge.index, IpAddr::V4(gateway), prefix, name).await?;
    if !bridge.up {
        set_up(handle, bridge.index, name).await?;
    }
    get(handle, name).await
}

async fn add_address(handle: &Handle, index: u32, ip: IpAddr, prefix: u8, name: &str) -> Result<(), CniError> {
    match handle.address().add(index, ip, prefix).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
        Err(e) => Err(CniError::netlink(format!("cannot add {ip}/{prefix} to {name}"), e)),
    }
}

async fn set_up(handle: &Handle, index: u32, name: &str) -> Result<(), CniError> {
    handle
        .link()
        .change(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| CniError::netlink(format!("cannot bring {name} up"), e))
}

/// Creates a veth pair whose peer is made directly inside `peer_netns` as `peer_name`,
/// so no temporary name is ever visible on the host.
pub async fn create_veth(
    handle: &Handle,
    host_name: &str,
    peer_name: &str,
    peer_netns: RawFd,
    mtu: u32,
) -> Result<(), CniError> {
    let peer = LinkUnspec::new_with_name(peer_name).mtu(mtu).setns_by_fd(peer_netns).build();
    let veth = LinkVeth::new(host_name, peer_name).mtu(mtu).set_info_data(InfoData::Veth(InfoVeth::Peer(peer))).build();
    handle
        .link()
        .add(veth)
        .execute()
        .await
        .map_err(|e| CniError::netlink(format!("cannot create veth {host_name} with peer {peer_name}"), e))
}

/// Puts a link on the bridge (hairpin as asked) and brings it up.
pub async fn attach(handle: &Handle, name: &str, bridge: u32, hairpin: bool) -> Result<Link, CniError> {
    let link = get(handle, name).await?;
    handle
        .link()
        .change(LinkUnspec::new_with_index(link.index).controller(bridge).build())
        .execute()
        .await
        .map_err(|e| CniError::netlink(format!("cannot attach {name} to the bridge"), e))?;
    if hairpin {
        handle
            .link()
            .set_port(LinkBridgePort::new(link.index).hairpin(true).build())
            .execute()
            .await
            .map_err(|e| CniError::netlink(format!("cannot turn hairpin on for {name}"), e))?;
    }
    set_up(handle, link.index, name).await?;
    get(handle, name).await
}

/// Deletes a link; one that does not exist is fine. Returns whether it existed.
pub async fn delete(handle: &Handle, name: &str) -> Result<bool, CniError> {
    let Some(link) = find(handle, name).await? else { return Ok(false) };
    match handle.link().del(link.index).execute().await {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(ENODEV) => Ok(false),
        Err(e) => Err(CniError::netlink(format!("cannot delete {name}"), e)),
    }
}

/// Inside the container: the address, the link up, and the default route via `gateway`.
pub async fn configure_container(
    handle: &Handle,
    name: &str,
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> Result<Link, CniError> {
    let link = get(handle, name).await?;
    add_address(handle, link.index, IpAddr::V4(ip), prefix, name).await?;
    set_up(handle, link.index, name).await?;
    let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gateway).output_interface(link.index).build();
    match handle.route().add(route).execute().await {
        Ok(()) => {}
        Err(e) if errno(&e) == Some(EEXIST) => {}
        Err(e) => return Err(CniError::netlink(format!("cannot add the default route via {gateway}"), e)),
    }
    get(handle, name).await
}

/// Brings a link up or down by name.
pub async fn set_state(handle: &Handle, name: &str, up: bool) -> Result<Link, CniError> {
    let link = get(handle, name).await?;
    let message =
        if up { LinkUnspec::new_with_index(link.index).up() } else { LinkUnspec::new_with_index(link.index).down() };
    handle
        .link()
        .change(message.build())
        .execute()
        .await
        .map_err(|e| CniError::netlink(format!("cannot set {name} {}", if up { "up" } else { "down" }), e))?;
    get(handle, name).await
}

/// The addresses on a link, with their prefix lengths.
pub async fn addresses(handle: &Handle, index: u32) -> Result<Vec<(IpAddr, u8)>, CniError> {
    let messages: Vec<_> = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(|e| CniError::netlink("cannot list addresses", e))?;
    Ok(messages
        .iter()
        .filter_map(|m| {
            m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some((*ip, m.header.prefix_len)),
                _ => None,
            })
        })
        .collect())
}

/// The raw fd of an opened namespace file, for netlink's IFLA_NET_NS_FD.
pub fn netns_fd(file: &std::fs::File) -> RawFd {
    file.as_raw_fd()
}
