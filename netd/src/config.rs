//! The network configuration bramble-cni reads on stdin, and the conflist the agent
//! writes for containerd. Parsing checks every field once, so the code that acts
//! never meets an unusable value.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::Deserialize;

use crate::error::CniError;
use crate::spec::SpecVersion;

/// Where allocations live when the configuration names no `dataDir`.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/bramble/agent/cni/networks";
/// The bridge when the configuration names none (k3s's name).
pub const DEFAULT_BRIDGE: &str = "cni0";

/// `runtimeConfig.portMappings[]` as CRI passes it for `hostPort`s.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    #[serde(default, rename = "hostIP")]
    pub host_ip: String,
}

fn default_protocol() -> String {
    "tcp".to_owned()
}

/// A port mapping checked for use in an nft rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort {
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
    /// Only this host address, or any of the host's addresses.
    pub host_ip: Option<Ipv4Addr>,
}

/// Transport protocols a hostPort may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeConfig {
    #[serde(default)]
    port_mappings: Vec<PortMapping>,
}

/// The stdin JSON as sent, before checks; unknown fields are ignored as the spec asks.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNetConf {
    cni_version: String,
    name: String,
    bridge: Option<String>,
    subnet: Option<String>,
    data_dir: Option<PathBuf>,
    mtu: Option<u32>,
    #[serde(default)]
    ip_masq: bool,
    #[serde(rename = "clusterCIDR")]
    cluster_cidr: Option<String>,
    #[serde(default)]
    hairpin_mode: bool,
    #[serde(default)]
    runtime_config: RuntimeConfig,
}

/// Only the version and name, which every plugin's configuration has.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommonConf {
    pub cni_version: String,
    #[serde(default)]
    pub name: String,
}

impl CommonConf {
    pub fn parse(stdin: &[u8]) -> Result<Self, CniError> {
        serde_json::from_slice(stdin).map_err(CniError::Decode)
    }
}

/// bramble-cni's configuration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConf {
    pub version: SpecVersion,
    /// The network's name: the allocations' directory and the masquerade rule's tag.
    pub name: String,
    pub bridge: String,
    /// The node's pod range; its first address is the gateway on the bridge.
    pub subnet: Ipv4Net,
    pub data_dir: PathBuf,
    pub mtu: u32,
    pub ip_masq: bool,
    /// Destinations that are not masqueraded (the whole cluster's pods); without it
    /// only the node's own subnet is exempt.
    pub cluster_cidr: Option<Ipv4Net>,
    pub hairpin_mode: bool,
    pub port_mappings: Vec<HostPort>,
}

impl BridgeConf {
    pub fn parse(stdin: &[u8]) -> Result<Self, CniError> {
        let raw: RawNetConf = serde_json::from_slice(stdin).map_err(CniError::Decode)?;
        let version = SpecVersion::parse(&raw.cni_version)?;
        let invalid = |m: String| CniError::InvalidConfig(m);
        if raw.name.is_empty() || raw.name.contains('/') || raw.name.starts_with('.') || raw.name.contains('"') {
            return Err(invalid(format!("network name {:?} cannot name a directory", raw.name)));
        }
        let bridge = raw.bridge.unwrap_or_else(|| DEFAULT_BRIDGE.to_owned());
        crate::spec::check_ifname(&bridge)
            .map_err(|_| invalid(format!("bridge {bridge:?} is not an interface name")))?;
        let subnet_text = raw.subnet.ok_or_else(|| invalid("subnet is missing".to_owned()))?;
        let subnet = parse_net(&subnet_text, "subnet")?;
        if subnet.prefix_len() > 30 {
            return Err(invalid(format!("subnet {subnet} has no room for pods (at most /30)")));
        }
        let cluster_cidr = raw.cluster_cidr.map(|c| parse_net(&c, "clusterCIDR")).transpose()?;
        let mtu = raw.mtu.unwrap_or(1500);
        if !(576..=65535).contains(&mtu) {
            return Err(invalid(format!("mtu {mtu} is out of range")));
        }
        let port_mappings = raw
            .runtime_config
            .port_mappings
            .iter()
            .filter_map(|m| host_port(m).transpose())
            .collect::<Result<_, _>>()?;
        Ok(Self {
            version,
            name: raw.name,
            bridge,
            subnet,
            data_dir: raw.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            mtu,
            ip_masq: raw.ip_masq,
            cluster_cidr,
            hairpin_mode: raw.hairpin_mode,
            port_mappings,
        })
    }
}

fn parse_net(text: &str, field: &str) -> Result<Ipv4Net, CniError> {
    let net: Ipv4Net =
        text.parse().map_err(|_| CniError::InvalidConfig(format!("{field} {text:?} is not an IPv4 CIDR")))?;
    Ok(net.trunc())
}

/// A mapping we can serve, `None` for one that is not ours to serve (an IPv6 host
/// address: this network is IPv4 only), or an error.
fn host_port(m: &PortMapping) -> Result<Option<HostPort>, CniError> {
    let protocol = match m.protocol.to_ascii_lowercase().as_str() {
        "tcp" | "" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        other => {
            return Err(CniError::InvalidConfig(format!("port mapping protocol {other:?} is not tcp, udp or sctp")));
        }
    };
    if m.host_port == 0 || m.container_port == 0 {
        return Err(CniError::InvalidConfig(format!(
            "port mapping {}:{} has a zero port",
            m.host_port, m.container_port
        )));
    }
    let host_ip = match m.host_ip.as_str() {
        "" | "0.0.0.0" => None,
        text => match text.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => Some(ip),
            Ok(std::net::IpAddr::V6(_)) => return Ok(None),
            Err(_) => return Err(CniError::InvalidConfig(format!("port mapping hostIP {text:?} is not an address"))),
        },
    };
    Ok(Some(HostPort { host_port: m.host_port, container_port: m.container_port, protocol, host_ip }))
}

/// The `10-bramble.conflist` for containerd's CNI conf dir: one bramble-cni plugin on
/// bridge `cni0` serving `subnet` (the node's podCIDR), masquerading what leaves
/// `cluster_cidr`, with hostPorts.
pub fn conflist(name: &str, subnet: &str, cluster_cidr: &str, data_dir: &Path) -> String {
    let list = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [{
            "type": "bramble-cni",
            "bridge": DEFAULT_BRIDGE,
            "subnet": subnet,
            "dataDir": data_dir.to_string_lossy(),
            "mtu": 1500,
            "ipMasq": true,
            "clusterCIDR": cluster_cidr,
            "hairpinMode": true,
            "capabilities": {"portMappings": true},
        }],
    });
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_plugin_parses_as_our_config() {
        let text = conflist("bramble", "10.42.3.0/24", "10.42.0.0/16", Path::new("/var/lib/x"));
        let list: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(list["name"], "bramble");
        assert_eq!(list["plugins"][0]["capabilities"]["portMappings"], true);
        // What libcni sends: the plugin object with the list's name and version added.
        let mut plugin = list["plugins"][0].clone();
        plugin["name"] = list["name"].clone();
        plugin["cniVersion"] = list["cniVersion"].clone();
        plugin["runtimeConfig"] = serde_json::json!({"portMappings": [
            {"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""},
            {"hostPort": 5353, "containerPort": 53, "protocol": "UDP", "hostIP": "192.0.2.2"},
            {"hostPort": 9090, "containerPort": 90, "protocol": "tcp", "hostIP": "::1"},
        ]});
        let conf = BridgeConf::parse(plugin.to_string().as_bytes()).expect("valid");
        assert_eq!(conf.version, SpecVersion::V1_0_0);
        assert_eq!(conf.bridge, "cni0");
        assert_eq!(conf.subnet.to_string(), "10.42.3.0/24");
        assert_eq!(conf.cluster_cidr.map(|c| c.to_string()).as_deref(), Some("10.42.0.0/16"));
        assert_eq!(conf.data_dir, PathBuf::from("/var/lib/x"));
        assert!(conf.ip_masq && conf.hairpin_mode);
        assert_eq!(
            conf.port_mappings,
            vec![
                HostPort { host_port: 8080, container_port: 80, protocol: Protocol::Tcp, host_ip: None },
                HostPort {
                    host_port: 5353,
                    container_port: 53,
                    protocol: Protocol::Udp,
                    host_ip: Some(Ipv4Addr::new(192, 0, 2, 2))
                },
            ]
        );
    }

    #[test]
    fn bad_configs_are_refused_with_their_codes() {
        let check = |json: &str, code: u32| {
            let got = BridgeConf::parse(json.as_bytes()).map(|_| 0).unwrap_or_else(|e| e.code());
            assert_eq!(got, code, "{json}");
        };
        check("{", 6);
        check(r#"{"name":"n","subnet":"10.0.0.0/24"}"#, 6);
        check(r#"{"cniVersion":"0.2.0","name":"n","subnet":"10.0.0.0/24"}"#, 1);
        check(r#"{"cniVersion":"1.0.0","name":"n"}"#, 7);
        check(r#"{"cniVersion":"1.0.0","name":"../x","subnet":"10.0.0.0/24"}"#, 7);
        check(r#"{"cniVersion":"1.0.0","name":"n","subnet":"10.0.0.0/31"}"#, 7);
        check(r#"{"cniVersion":"1.0.0","name":"n","subnet":"fd00::/64"}"#, 7);
        check(r#"{"cniVersion":"1.0.0","name":"n","subnet":"10.0.0.0/24","bridge":"a-very-long-bridge"}"#, 7);
        check(r#"{"cniVersion":"1.0.0","name":"n","subnet":"10.0.0.0/24","mtu":10}"#, 7);
        let mapping = |m: &str| {
            format!(
                r#"{{"cniVersion":"1.0.0","name":"n","subnet":"10.0.0.0/24","runtimeConfig":{{"portMappings":[{m}]}}}}"#
            )
        };
        check(&mapping(r#"{"hostPort":80,"containerPort":80,"protocol":"icmp"}"#), 7);
        check(&mapping(r#"{"hostPort":0,"containerPort":80}"#), 7);
        check(&mapping(r#"{"hostPort":80,"containerPort":80,"hostIP":"nope"}"#), 7);
        check(&mapping(r#"{"hostPort":80,"containerPort":80}"#), 0);
        check(r#"{"cniVersion":"0.4.0","name":"n","subnet":"10.0.0.7/24","extra":1}"#, 0);
    }
}
