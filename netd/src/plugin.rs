//! The CNI protocol around the plugins: read `CNI_*` and the configuration, pick the
//! plugin by the name we were started as, print the result or the error object. The
//! only place that touches the process's environment, stdin and stdout.

use std::io::{Read, Write};

use serde_json::Value;

use crate::config::{BridgeConf, CommonConf};
use crate::error::CniError;
use crate::ipam::Holder;
use crate::spec::{Command, Invocation, SpecVersion, version_info};
use crate::{bridge, loopback};

/// The plugins this binary can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    /// `bramble-cni`: bridge, veth, IPAM, masquerade, hostPort.
    Bridge,
    /// `loopback`: `lo` up.
    Loopback,
}

impl Plugin {
    pub fn from_name(name: &str) -> Result<Self, CniError> {
        match name {
            "bramble-cni" => Ok(Self::Bridge),
            "loopback" => Ok(Self::Loopback),
            other => Err(CniError::UnknownPlugin(other.to_owned())),
        }
    }
}

/// What one invocation prints and exits with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub code: i32,
}

/// The process entry point: `plugin` is argv[0]'s file name. Returns the exit code.
pub fn plugin_main(plugin: &str) -> i32 {
    let mut stdin = Vec::new();
    let reply = match std::io::stdin().read_to_end(&mut stdin) {
        Ok(_) => run(plugin, &|name| std::env::var(name).ok(), &stdin),
        Err(e) => failure(&CniError::io("cannot read the configuration from stdin", e), "1.0.0"),
    };
    let mut out = std::io::stdout().lock();
    // Nothing is left to tell anyone if stdout itself is gone.
    let _ = out.write_all(reply.stdout.as_bytes()).and_then(|()| out.flush());
    reply.code
}

/// One invocation with its environment (`env`) and stdin given: it acts on the
/// system, but reads no process state and prints nothing itself.
pub fn run(plugin: &str, env: &dyn Fn(&str) -> Option<String>, stdin: &[u8]) -> Reply {
    let version = CommonConf::parse(stdin).map(|c| c.cni_version).unwrap_or_else(|_| "1.0.0".to_owned());
    match dispatch(plugin, env, stdin) {
        Ok(Some(result)) => Reply { stdout: format!("{result}\n"), code: 0 },
        Ok(None) => Reply { stdout: String::new(), code: 0 },
        Err(e) => failure(&e, &version),
    }
}

fn failure(error: &CniError, version: &str) -> Reply {
    Reply { stdout: format!("{}\n", error.to_wire(version)), code: 1 }
}

fn dispatch(plugin: &str, env: &dyn Fn(&str) -> Option<String>, stdin: &[u8]) -> Result<Option<Value>, CniError> {
    let plugin = Plugin::from_name(plugin)?;
    let invocation = Invocation::from_env(env)?;
    match invocation.command {
        Command::Version => return Ok(Some(version_info())),
        // Spec 1.1's commands, answered whatever version the configuration names.
        Command::Status => return Ok(None),
        Command::Gc => return gc(plugin, stdin).map(|()| None),
        Command::Add | Command::Del | Command::Check => {}
    }
    let common = CommonConf::parse(stdin)?;
    let version = SpecVersion::parse(&common.cni_version)?;
    let attachment = invocation.attachment.as_ref().ok_or(CniError::MissingEnv("CNI_CONTAINERID"))?;
    if invocation.command == Command::Check && version < SpecVersion::V0_4_0 {
        return Err(CniError::CommandNotInVersion { version: version.as_str(), command: "CHECK" });
    }
    match (plugin, invocation.command) {
        (Plugin::Loopback, Command::Add) => loopback::add(attachment).map(|o| Some(o.to_json(version))),
        (Plugin::Loopback, Command::Del) => loopback::del(attachment).map(|()| None),
        (Plugin::Loopback, _) => loopback::check(attachment).map(|()| None),
        (Plugin::Bridge, command) => {
            let conf = BridgeConf::parse(stdin)?;
            match command {
                Command::Add => bridge::add(&conf, attachment).map(|o| Some(o.to_json(version))),
                Command::Del => bridge::del(&conf, attachment).map(|()| None),
                _ => bridge::check(&conf, attachment).map(|()| None),
            }
        }
    }
}

fn gc(plugin: Plugin, stdin: &[u8]) -> Result<(), CniError> {
    if plugin == Plugin::Loopback {
        return Ok(());
    }
    let mut conf: Value = serde_json::from_slice(stdin).map_err(CniError::Decode)?;
    let Some(fields) = conf.as_object_mut() else {
        return Err(CniError::InvalidConfig("the configuration is not a JSON object".to_owned()));
    };
    fields.insert("cniVersion".to_owned(), Value::String(SpecVersion::V1_0_0.as_str().to_owned()));
    let valid: Vec<Holder> = conf["cni.dev/valid-attachments"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some(Holder {
                        container_id: a["containerID"].as_str()?.to_owned(),
                        ifname: a["ifname"].as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let conf = BridgeConf::parse(conf.to_string().as_bytes())?;
    bridge::gc(&conf, &valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(plugin: &str, command: &str, stdin: &str) -> (i32, Value) {
        let env = |name: &str| match name {
            "CNI_COMMAND" => Some(command.to_owned()),
            "CNI_CONTAINERID" => Some("abc".to_owned()),
            "CNI_IFNAME" => Some("eth0".to_owned()),
            "CNI_NETNS" => Some("/run/netns/bramble-cni-none".to_owned()),
            _ => None,
        };
        let Reply { stdout, code } = run(plugin, &env, stdin.as_bytes());
        let value = if stdout.is_empty() { Value::Null } else { serde_json::from_str(&stdout).expect("json") };
        (code, value)
    }

    #[test]
    fn answers_without_touching_the_system() {
        let (code, version) = reply("loopback", "VERSION", "");
        assert_eq!((code, version), (0, version_info()));
        assert_eq!(reply("bramble-cni", "STATUS", "{}"), (0, Value::Null));
        assert_eq!(reply("loopback", "GC", "{}"), (0, Value::Null));

        let check = |plugin: &str, command: &str, stdin: &str, code: u32, version: &str| {
            let (exit, error) = reply(plugin, command, stdin);
            assert_eq!((exit, error["code"].clone(), error["cniVersion"].clone()), (1, code.into(), version.into()));
            assert!(error["msg"].as_str().is_some_and(|m| !m.is_empty()));
        };
        check("flannel", "ADD", "{}", 7, "1.0.0");
        check("bramble-cni", "FROB", "{}", 4, "1.0.0");
        // No subnet: refused before the missing namespace is looked at.
        check("bramble-cni", "ADD", r#"{"cniVersion":"0.4.0","name":"n"}"#, 7, "0.4.0");
        check("loopback", "ADD", r#"{"cniVersion":"1.0.0","name":"lo"}"#, 3, "1.0.0");
        check("bramble-cni", "DEL", "{", 6, "1.0.0");
        check("bramble-cni", "DEL", r#"{"cniVersion":"9.9.9","name":"n"}"#, 1, "9.9.9");
        check("bramble-cni", "DEL", r#"{"cniVersion":"1.0.0","name":"n"}"#, 7, "1.0.0");
        check("loopback", "CHECK", r#"{"cniVersion":"0.3.1","name":"lo"}"#, 1, "0.3.1");
        check("bramble-cni", "GC", "[1]", 7, "1.0.0");
    }
}
