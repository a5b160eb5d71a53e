//! The CNI protocol's own types: spec versions, the `CNI_*` environment of one
//! invocation, and the result object in the shape each version expects. No
//! networking here; `plugin.rs` reads the process and `bridge.rs`/`loopback.rs` act.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde_json::{Value, json};

use crate::error::CniError;

/// Spec versions whose configurations and results this plugin speaks, oldest first.
/// containerd 1.6 runs `loopback` with a 0.3.1 configuration of its own.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0"];

/// One of [`SUPPORTED_VERSIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SpecVersion {
    V0_3_0,
    V0_3_1,
    V0_4_0,
    V1_0_0,
}

impl SpecVersion {
    /// The version a configuration asks for, or error code 1.
    pub fn parse(text: &str) -> Result<Self, CniError> {
        match text {
            "0.3.0" => Ok(Self::V0_3_0),
            "0.3.1" => Ok(Self::V0_3_1),
            "0.4.0" => Ok(Self::V0_4_0),
            "1.0.0" => Ok(Self::V1_0_0),
            _ => Err(CniError::IncompatibleVersion { requested: text.to_owned(), supported: SUPPORTED_VERSIONS }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_3_0 => "0.3.0",
            Self::V0_3_1 => "0.3.1",
            Self::V0_4_0 => "0.4.0",
            Self::V1_0_0 => "1.0.0",
        }
    }
}

/// `CNI_COMMAND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Version,
    /// Spec 1.1: release what no valid attachment holds.
    Gc,
    /// Spec 1.1: is the plugin ready for ADDs.
    Status,
}

impl Command {
    fn parse(text: &str) -> Result<Self, CniError> {
        match text {
            "ADD" => Ok(Self::Add),
            "DEL" => Ok(Self::Del),
            "CHECK" => Ok(Self::Check),
            "VERSION" => Ok(Self::Version),
            "GC" => Ok(Self::Gc),
            "STATUS" => Ok(Self::Status),
            other => Err(CniError::UnknownCommand(other.to_owned())),
        }
    }
}

/// One container attachment as the runtime names it: what ADD, DEL and CHECK act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// `CNI_CONTAINERID`, checked against the spec's grammar (so it is safe in file
    /// contents and nft comments).
    pub container_id: String,
    /// `CNI_NETNS`: absent only for DEL.
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME`, a valid Linux interface name.
    pub ifname: String,
}

/// The environment of one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    /// Present for ADD, DEL and CHECK.
    pub attachment: Option<Attachment>,
    /// `CNI_ARGS` as key/value pairs (`K8S_POD_NAMESPACE=...;K8S_POD_NAME=...`).
    pub args: Vec<(String, String)>,
}

impl Invocation {
    /// Reads the `CNI_*` variables through `env`. `CNI_PATH` is not required: this
    /// plugin delegates to no other plugin.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, CniError> {
        let set = |name: &'static str| env(name).filter(|v| !v.is_empty());
        let command = Command::parse(&set("CNI_COMMAND").ok_or(CniError::MissingEnv("CNI_COMMAND"))?)?;
        let args = set("CNI_ARGS").map(|a| parse_args(&a)).transpose()?.unwrap_or_default();
        let attachment = match command {
            Command::Version | Command::Gc | Command::Status => None,
            Command::Add | Command::Del | Command::Check => {
                let container_id = set("CNI_CONTAINERID").ok_or(CniError::MissingEnv("CNI_CONTAINERID"))?;
                check_container_id(&container_id)?;
                let ifname = set("CNI_IFNAME").ok_or(CniError::MissingEnv("CNI_IFNAME"))?;
                check_ifname(&ifname)?;
                let netns = set("CNI_NETNS").map(PathBuf::from);
                if netns.is_none() && command != Command::Del {
                    return Err(CniError::MissingEnv("CNI_NETNS"));
                }
                Some(Attachment { container_id, netns, ifname })
            }
        };
        Ok(Self { command, attachment, args })
    }
}

fn parse_args(text: &str) -> Result<Vec<(String, String)>, CniError> {
    text.split(';')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(CniError::InvalidEnv { name: "CNI_ARGS", reason: format!("{pair:?} is not KEY=VALUE") }),
        })
        .collect()
}

/// The spec: "must start with an alphanumeric character, optionally followed by any
/// combination of one or more alphanumeric characters, underscore, dot or hyphen".
fn check_container_id(id: &str) -> Result<(), CniError> {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        Ok(())
    } else {
        Err(CniError::InvalidEnv {
            name: "CNI_CONTAINERID",
            reason: format!("{id:?} is not alphanumeric with '_', '.' and '-'"),
        })
    }
}

/// Linux's rules for interface names (at most 15 bytes, no '/', ':' or space, not "." or "..").
pub(crate) fn check_ifname(name: &str) -> Result<(), CniError> {
    let bad = name.len() > 15
        || name == "."
        || name == ".."
        || name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        return Err(CniError::InvalidEnv { name: "CNI_IFNAME", reason: format!("{name:?} is not an interface name") });
    }
    Ok(())
}

/// An interface of the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    /// The netns path, for interfaces inside the container.
    pub sandbox: Option<String>,
}

/// An address of the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfig {
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    /// Index into the result's interfaces.
    pub interface: Option<usize>,
}

/// A route of the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
}

/// What ADD made, rendered per spec version by [`Outcome::to_json`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub interfaces: Vec<Interface>,
    pub ips: Vec<IpConfig>,
    pub routes: Vec<Route>,
}

impl Outcome {
    /// The result object. Versions before 1.0.0 carry `"version": "4"|"6"` on each IP.
    pub fn to_json(&self, version: SpecVersion) -> Value {
        let interfaces: Vec<Value> = self
            .interfaces
            .iter()
            .map(|i| {
                let mut v = json!({"name": i.name, "mac": i.mac});
                if let Some(sandbox) = &i.sandbox {
                    v["sandbox"] = json!(sandbox);
                }
                v
            })
            .collect();
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut v = json!({"address": ip.address.to_string()});
                if version < SpecVersion::V1_0_0 {
                    v["version"] = json!(if ip.address.addr().is_ipv4() { "4" } else { "6" });
                }
                if let Some(gw) = ip.gateway {
                    v["gateway"] = json!(gw.to_string());
                }
                if let Some(index) = ip.interface {
                    v["interface"] = json!(index);
                }
                v
            })
            .collect();
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| {
                let mut v = json!({"dst": r.dst.to_string()});
                if let Some(gw) = r.gw {
                    v["gw"] = json!(gw.to_string());
                }
                v
            })
            .collect();
        json!({
            "cniVersion": version.as_str(),
            "interfaces": interfaces,
            "ips": ips,
            "routes": routes,
            "dns": {},
        })
    }
}

/// The answer to VERSION.
pub fn version_info() -> Value {
    json!({"cniVersion": "1.0.0", "supportedVersions": SUPPORTED_VERSIONS})
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn invocation(vars: &[(&str, &str)]) -> Result<Invocation, CniError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Invocation::from_env(&|k| map.get(k).cloned())
    }

    #[test]
    fn environment_is_read_and_checked() {
        let add = invocation(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc123"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web"),
        ])
        .expect("valid");
        assert_eq!(add.command, Command::Add);
        let attachment = add.attachment.expect("attachment");
        assert_eq!(attachment.container_id, "abc123");
        assert_eq!(attachment.netns, Some(PathBuf::from("/run/netns/x")));
        assert_eq!(add.args[1], ("K8S_POD_NAME".to_owned(), "web".to_owned()));

        let del = invocation(&[("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "abc"), ("CNI_IFNAME", "eth0")]);
        assert_eq!(del.expect("DEL needs no netns").attachment.and_then(|a| a.netns), None);

        let codes = |vars: &[(&str, &str)]| invocation(vars).map(|_| 0).unwrap_or_else(|e| e.code());
        assert_eq!(codes(&[]), 4);
        assert_eq!(codes(&[("CNI_COMMAND", "FROB")]), 4);
        assert_eq!(codes(&[("CNI_COMMAND", "VERSION")]), 0);
        assert_eq!(codes(&[("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "abc"), ("CNI_IFNAME", "eth0")]), 4);
        let bad_id = [("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "-abc"), ("CNI_IFNAME", "eth0")];
        assert_eq!(codes(&bad_id), 4);
        let quote_id = [("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "a\"b"), ("CNI_IFNAME", "eth0")];
        assert_eq!(codes(&quote_id), 4);
        let long_if = [("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "a"), ("CNI_IFNAME", "eth0123456789abc")];
        assert_eq!(codes(&long_if), 4);
        let bad_args = [("CNI_COMMAND", "VERSION"), ("CNI_ARGS", "novalue")];
        assert_eq!(codes(&bad_args), 4);
    }

    #[test]
    fn versions_parse_and_refuse() {
        for text in SUPPORTED_VERSIONS {
            assert_eq!(SpecVersion::parse(text).expect("supported").as_str(), *text);
        }
        assert_eq!(SpecVersion::parse("0.2.0").map(|_| ()).unwrap_err().code(), 1);
        assert_eq!(SpecVersion::parse("1.1.0").map(|_| ()).unwrap_err().code(), 1);
    }

    #[test]
    fn results_have_each_versions_shape() {
        let outcome = Outcome {
            interfaces: vec![Interface {
                name: "eth0".into(),
                mac: "0a:00:00:00:00:01".into(),
                sandbox: Some("/run/netns/x".into()),
            }],
            ips: vec![IpConfig {
                address: "10.42.0.5/24".parse().expect("net"),
                gateway: Some("10.42.0.1".parse().expect("ip")),
                interface: Some(0),
            }],
            routes: vec![Route { dst: "0.0.0.0/0".parse().expect("net"), gw: Some("10.42.0.1".parse().expect("ip")) }],
        };
        assert_eq!(
            outcome.to_json(SpecVersion::V1_0_0),
            json!({
                "cniVersion": "1.0.0",
                "interfaces": [{"name": "eth0", "mac": "0a:00:00:00:00:01", "sandbox": "/run/netns/x"}],
                "ips": [{"address": "10.42.0.5/24", "gateway": "10.42.0.1", "interface": 0}],
                "routes": [{"dst": "0.0.0.0/0", "gw": "10.42.0.1"}],
                "dns": {},
            })
        );
        let old = outcome.to_json(SpecVersion::V0_4_0);
        assert_eq!(old["cniVersion"], "0.4.0");
        assert_eq!(old["ips"][0]["version"], "4");
        assert_eq!(version_info()["supportedVersions"], json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0"]));
    }
}
