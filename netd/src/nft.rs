//! Masquerade and hostPorts in nftables' table `ip bramble`, driven through the `nft`
//! binary (`nft -f -` with a script, `nft -j -a list` to find our rules). Only this
//! table is ever touched, and only rules tagged with a comment are removed: the
//! network's masquerade rule (`bramble-net:<network>`), the jumps into `hostports`
//! (`bramble-hostports`) and each pod's rules (`pod:<containerID>`), so DEL removes
//! exactly what ADD added. The scripts are built by pure functions; one function runs
//! the binary.
//!
//! ```text
//! table ip bramble {
//!   chain prerouting  { type nat hook prerouting priority dstnat; fib daddr type local jump hostports }
//!   chain output      { type nat hook output priority -100; ip daddr != 127.0.0.0/8 fib daddr type local jump hostports }
//!   chain postrouting { type nat hook postrouting priority srcnat;
//!                       ip saddr <subnet> ip daddr != <clusterCIDR> ip daddr != 224.0.0.0/4 masquerade
//!                       <hairpin and pod-to-hostPort masquerade, per pod> }
//!   chain hostports   { [ip daddr <hostIP>] tcp dport <hostPort> dnat to <podIP>:<containerPort> ... }
//! }
//! ```

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;
use serde_json::Value;

use crate::config::HostPort;
use crate::error::CniError;

/// The one table we own.
pub const TABLE: &str = "bramble";
const JUMP_TAG: &str = "bramble-hostports";

/// One rule of our table as `nft -j -a list table` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRule {
    pub chain: String,
    pub handle: u64,
    pub comment: Option<String>,
}

/// What masquerading a network needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkNat<'a> {
    pub network: &'a str,
    pub subnet: Ipv4Net,
    /// Destinations reached without masquerade.
    pub cluster_cidr: Option<Ipv4Net>,
    pub ip_masq: bool,
}

/// The comment that tags a pod's rules.
pub fn pod_tag(container_id: &str) -> String {
    format!("pod:{container_id}")
}

fn network_tag(network: &str) -> String {
    format!("bramble-net:{network}")
}

/// The rules of our table, or `None` if there is no table.
pub fn parse_listing(json: &str) -> Result<Vec<ListedRule>, CniError> {
    let listing: Value =
        serde_json::from_str(json).map_err(|e| CniError::Nft(format!("cannot read nft's JSON listing: {e}")))?;
    let items = listing["nftables"].as_array().cloned().unwrap_or_default();
    Ok(items
        .iter()
        .filter_map(|item| item.get("rule"))
        .filter_map(|rule| {
            Some(ListedRule {
                chain: rule["chain"].as_str()?.to_owned(),
                handle: rule["handle"].as_u64()?,
                comment: rule["comment"].as_str().map(str::to_owned),
            })
        })
        .collect())
}

/// The script that makes the table, its chains, the jumps and the network's
/// masquerade rule exist, adding only what `existing` lacks (`add table`/`add chain`
/// are idempotent in nft, `add rule` is not).
pub fn network_script(existing: &[ListedRule], nat: &NetworkNat<'_>) -> String {
    let has = |chain: &str, tag: &str| existing.iter().any(|r| r.chain == chain && r.comment.as_deref() == Some(tag));
    let mut script = format!(
        "add table ip {TABLE}\n\
         add chain ip {TABLE} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n\
         add chain ip {TABLE} output {{ type nat hook output priority -100; policy accept; }}\n\
         add chain ip {TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
         add chain ip {TABLE} hostports\n"
    );
    if !has("prerouting", JUMP_TAG) {
        script +=
            &format!("add rule ip {TABLE} prerouting fib daddr type local jump hostports comment \"{JUMP_TAG}\"\n");
    }
    if !has("output", JUMP_TAG) {
        // Loopback destinations stay on the host: a DNAT to a pod would leave with a
        // 127.0.0.1 source that no pod can answer.
        script += &format!(
            "add rule ip {TABLE} output ip daddr != 127.0.0.0/8 fib daddr type local jump hostports comment \"{JUMP_TAG}\"\n"
        );
    }
    let tag = network_tag(nat.network);
    if nat.ip_masq && !has("postrouting", &tag) {
        let inside = nat.cluster_cidr.unwrap_or(nat.subnet);
        script += &format!(
            "add rule ip {TABLE} postrouting ip saddr {} ip daddr != {inside} ip daddr != 224.0.0.0/4 masquerade comment \"{tag}\"\n",
            nat.subnet
        );
    }
    script
}

/// A pod's hostPort rules: DNAT from the host port to the pod, and masquerade for
/// pods of this node reaching it through the host port (itself included, over the
/// hairpin), whose replies would otherwise bypass the DNAT's reverse.
pub fn pod_script(container_id: &str, pod_ip: Ipv4Addr, subnet: Ipv4Net, mappings: &[HostPort]) -> String {
    let tag = pod_tag(container_id);
    let mut script = String::new();
    for m in mappings {
        let proto = m.protocol.as_str();
        let daddr = m.host_ip.map(|ip| format!("ip daddr {ip} ")).unwrap_or_default();
        script += &format!(
            "add rule ip {TABLE} hostports {daddr}{proto} dport {} dnat to {pod_ip}:{} comment \"{tag}\"\n",
            m.host_port, m.container_port
        );
        script += &format!(
            "add rule ip {TABLE} postrouting ip saddr {subnet} ip daddr {pod_ip} {proto} dport {} ct status dnat ct original proto-dst {} masquerade comment \"{tag}\"\n",
            m.container_port, m.host_port
        );
    }
    script
}

/// The script that deletes every listed rule tagged `tag`.
pub fn delete_script(existing: &[ListedRule], tag: &str) -> String {
    existing
        .iter()
        .filter(|r| r.comment.as_deref() == Some(tag))
        .map(|r| format!("delete rule ip {TABLE} {} handle {}\n", r.chain, r.handle))
        .collect()
}

/// Our table's rules, `None` if the table does not exist.
pub fn list() -> Result<Option<Vec<ListedRule>>, CniError> {
    let output = run(&["-j", "-a", "list", "table", "ip", TABLE], None)?;
    match output {
        Ok(json) => parse_listing(&json).map(Some),
        // nft says "No such file or directory" for a table that does not exist.
        Err(stderr) if stderr.contains("No such file or directory") => Ok(None),
        Err(stderr) => Err(CniError::Nft(stderr)),
    }
}

/// Makes the network's base rules exist.
pub fn ensure_network(nat: &NetworkNat<'_>) -> Result<(), CniError> {
    let existing = list()?.unwrap_or_default();
    apply(&network_script(&existing, nat))
}

/// Removes a pod's rules; a missing table or no rules is not an error.
pub fn remove_pod(container_id: &str) -> Result<(), CniError> {
    let Some(existing) = list()? else { return Ok(()) };
    let script = delete_script(&existing, &pod_tag(container_id));
    if script.is_empty() { Ok(()) } else { apply(&script) }
}

/// Runs a script in one transaction: all of it applies or none.
pub fn apply(script: &str) -> Result<(), CniError> {
    run(&["-f", "-"], Some(script))?.map(|_| ()).map_err(|stderr| CniError::Nft(format!("{}: {script}", stderr.trim())))
}

/// `nft` is looked for where Debian and Raspberry Pi OS put it, since containerd may
/// start plugins with a short PATH. Ok(Err(stderr)) is nft's refusal.
fn run(args: &[&str], stdin: Option<&str>) -> Result<Result<String, String>, CniError> {
    let binary = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nft");
    let mut child = Command::new(binary)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CniError::Nft(format!("cannot run {binary}: {e}")))?;
    if let (Some(script), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(script.as_bytes()).map_err(|e| CniError::Nft(format!("cannot write to nft: {e}")))?;
    }
    let output = child.wait_with_output().map_err(|e| CniError::Nft(format!("cannot wait for nft: {e}")))?;
    if output.status.success() {
        Ok(Ok(String::from_utf8_lossy(&output.stdout).into_owned()))
    } else {
        Ok(Err(String::from_utf8_lossy(&output.stderr).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;

    fn nat(ip_masq: bool) -> NetworkNat<'static> {
        NetworkNat {
            network: "bramble",
            subnet: "10.42.0.0/24".parse().expect("net"),
            cluster_cidr: Some("10.42.0.0/16".parse().expect("net")),
            ip_masq,
        }
    }

    #[test]
    fn network_script_adds_only_what_is_missing() {
        let fresh = network_script(&[], &nat(true));
        assert!(fresh.contains("add rule ip bramble prerouting fib daddr type local jump hostports"));
        assert!(fresh.contains("add rule ip bramble output ip daddr != 127.0.0.0/8 fib daddr type local jump"));
        assert!(fresh.contains(
            "add rule ip bramble postrouting ip saddr 10.42.0.0/24 ip daddr != 10.42.0.0/16 ip daddr != 224.0.0.0/4 masquerade comment \"bramble-net:bramble\""
        ));
        let existing = [
            ListedRule { chain: "prerouting".into(), handle: 5, comment: Some(JUMP_TAG.into()) },
            ListedRule { chain: "output".into(), handle: 6, comment: Some(JUMP_TAG.into()) },
            ListedRule { chain: "postrouting".into(), handle: 7, comment: Some("bramble-net:bramble".into()) },
        ];
        let again = network_script(&existing, &nat(true));
        assert!(!again.contains("add rule"), "{again}");
        assert!(!network_script(&[], &nat(false)).contains("masquerade"));
    }

    #[test]
    fn pod_rules_are_tagged_and_deleted_by_tag() {
        let mappings = [
            HostPort { host_port: 8080, container_port: 80, protocol: Protocol::Tcp, host_ip: None },
            HostPort {
                host_port: 5353,
                container_port: 53,
                protocol: Protocol::Udp,
                host_ip: Some(Ipv4Addr::new(192, 0, 2, 2)),
            },
        ];
        let script = pod_script("abc", Ipv4Addr::new(10, 42, 0, 5), "10.42.0.0/24".parse().expect("net"), &mappings);
        assert_eq!(
            script,
            "add rule ip bramble hostports tcp dport 8080 dnat to 10.42.0.5:80 comment \"pod:abc\"\n\
             add rule ip bramble postrouting ip saddr 10.42.0.0/24 ip daddr 10.42.0.5 tcp dport 80 ct status dnat ct original proto-dst 8080 masquerade comment \"pod:abc\"\n\
             add rule ip bramble hostports ip daddr 192.0.2.2 udp dport 5353 dnat to 10.42.0.5:53 comment \"pod:abc\"\n\
             add rule ip bramble postrouting ip saddr 10.42.0.0/24 ip daddr 10.42.0.5 udp dport 53 ct status dnat ct original proto-dst 5353 masquerade comment \"pod:abc\"\n"
        );
        let listing = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "ip", "name": "bramble", "handle": 1}},
            {"rule": {"family": "ip", "table": "bramble", "chain": "hostports", "handle": 8, "comment": "pod:abc", "expr": []}},
            {"rule": {"family": "ip", "table": "bramble", "chain": "hostports", "handle": 9, "comment": "pod:abcd", "expr": []}},
            {"rule": {"family": "ip", "table": "bramble", "chain": "postrouting", "handle": 10, "comment": "pod:abc", "expr": []}},
            {"rule": {"family": "ip", "table": "bramble", "chain": "postrouting", "handle": 11, "expr": []}}]}"#;
        let rules = parse_listing(listing).expect("listing");
        assert_eq!(rules.len(), 4);
        assert_eq!(
            delete_script(&rules, &pod_tag("abc")),
            "delete rule ip bramble hostports handle 8\ndelete rule ip bramble postrouting handle 10\n"
        );
        assert_eq!(delete_script(&rules, &pod_tag("zzz")), "");
    }
}
