//! The CNI plugins for real, as root: throwaway network namespaces (`bramble-cni-*`),
//! the `netd-plugin` binary run through the CNI protocol (env, stdin, stdout) under
//! the names containerd uses. Each test runs the "host" side inside a node namespace
//! of its own, so the bridge, the nft table and ip_forward never touch the real host
//! and vanish with the namespace.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// One test's namespaces, bridge, subnet and data dir; Drop removes them all.
struct Lab {
    id: u32,
    node: String,
    pods: Vec<String>,
    bin: tempfile::TempDir,
    data: tempfile::TempDir,
    children: Vec<Child>,
}

fn sh(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().expect("run command")
}

fn ok(args: &[&str]) -> String {
    let out = sh(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Lab {
    fn new() -> Self {
        let n = NEXT_LAB.fetch_add(1, Ordering::SeqCst);
        // The third octet is unique per process and test, well away from the host's 192.0.2.0/24.
        let id = (std::process::id() % 50) * 5 + n;
        let node = format!("bramble-cni-node-{}-{n}", std::process::id());
        ok(&["ip", "netns", "add", &node]);
        let bin = tempfile::tempdir().expect("tempdir");
        for name in ["bramble-cni", "loopback"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_netd-plugin"), bin.path().join(name)).expect("symlink");
        }
        let lab =
            Self { id, node, pods: Vec::new(), bin, data: tempfile::tempdir().expect("tempdir"), children: Vec::new() };
        lab.in_node(&["ip", "link", "set", "lo", "up"]);
        lab
    }

    fn subnet(&self) -> String {
        format!("10.231.{}.0/24", self.id)
    }

    fn gateway(&self) -> String {
        format!("10.231.{}.1", self.id)
    }

    fn bridge(&self) -> String {
        format!("cnit{}", self.id)
    }

    fn pod(&mut self, i: usize) -> String {
        let name = format!("bramble-cni-pod-{}-{}-{i}", std::process::id(), self.id);
        ok(&["ip", "netns", "add", &name]);
        self.pods.push(name.clone());
        name
    }

    fn in_node(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", &self.node];
        all.extend_from_slice(args);
        ok(&all)
    }

    fn conf(&self, mappings: Value) -> Value {
        let text = netd::conflist("bramble-test", &self.subnet(), "10.231.0.0/16", self.data.path());
        let list: Value = serde_json::from_str(&text).expect("conflist");
        let mut conf = list["plugins"][0].clone();
        conf["name"] = list["name"].clone();
        conf["cniVersion"] = list["cniVersion"].clone();
        conf["bridge"] = json!(self.bridge());
        conf["runtimeConfig"] = json!({"portMappings": mappings});
        conf
    }

    /// Runs the plugin binary in the node namespace as containerd would.
    fn plugin(&self, plugin: &str, command: &str, cid: &str, netns: Option<&str>, conf: &Value) -> (i32, Value) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.node])
            .arg(self.bin.path().join(plugin))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", cid)
            .env("CNI_IFNAME", if plugin == "loopback" { "lo" } else { "eth0" })
            .env("CNI_PATH", self.bin.path())
            .env("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(ns) = netns {
            cmd.env("CNI_NETNS", netns_path(ns));
        }
        let mut child = cmd.spawn().expect("spawn plugin");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), conf.to_string().as_bytes())
            .expect("write conf");
        let out = child.wait_with_output().expect("plugin");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{command} printed {stdout:?}: {e}"))
        };
        (out.status.code().unwrap_or(-1), value)
    }

    fn nft_table(&self) -> Option<String> {
        let out = sh(&["ip", "netns", "exec", &self.node, "nft", "list", "table", "ip", "bramble"]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn allocations(&self) -> Vec<String> {
        let dir = self.data.path().join("bramble-test");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        names.retain(|n| n.parse::<Ipv4Addr>().is_ok());
        names.sort();
        names
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.pods.iter().chain([&self.node]) {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
    }
}

fn netns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

fn ping(from: &str, to: &str) -> bool {
    sh(&["ip", "netns", "exec", from, "busybox", "ping", "-c1", "-W2", to]).status.success()
}

fn pod_ip(result: &Value) -> String {
    let address = result["ips"][0]["address"].as_str().expect("address");
    address.split('/').next().expect("ip").to_owned()
}

/// Needs root: namespaces, veths, a bridge and nft inside them.
#[test]
fn root_two_pods_on_the_bridge_through_the_binary() {
    let mut lab = Lab::new();
    let (a, b) = (lab.pod(0), lab.pod(1));
    let conf = lab.conf(json!([]));

    let (code, version) = lab.plugin("bramble-cni", "VERSION", "x", None, &conf);
    assert_eq!((code, version["supportedVersions"].clone()), (0, json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0"])));

    // containerd's own loopback configuration is 0.3.1.
    let lo_conf = json!({"cniVersion": "0.3.1", "name": "cni-loopback", "type": "loopback"});
    let (code, lo) = lab.plugin("loopback", "ADD", "ctr-a", Some(&a), &lo_conf);
    assert_eq!(code, 0, "{lo}");
    assert_eq!(lo["interfaces"][0]["name"], "lo");
    assert_eq!(lo["ips"][0], json!({"address": "127.0.0.1/8", "version": "4", "interface": 0}));
    assert!(ok(&["ip", "-n", &a, "link", "show", "lo"]).contains("UP"));

    let (code, ra) = lab.plugin("bramble-cni", "ADD", "ctr-a", Some(&a), &conf);
    assert_eq!(code, 0, "{ra}");
    let (code, rb) = lab.plugin("bramble-cni", "ADD", "ctr-b", Some(&b), &conf);
    assert_eq!(code, 0, "{rb}");
    let (ip_a, ip_b) = (pod_ip(&ra), pod_ip(&rb));
    assert_eq!(ip_a, format!("10.231.{}.2", lab.id));
    assert_eq!(ip_b, format!("10.231.{}.3", lab.id));
    assert_eq!(ra["cniVersion"], "1.0.0");
    assert_eq!(ra["ips"][0]["gateway"], lab.gateway());
    assert_eq!(ra["ips"][0]["interface"], 2);
    assert_eq!(ra["interfaces"][2]["name"], "eth0");
    assert_eq!(ra["interfaces"][2]["sandbox"], netns_path(&a).display().to_string());
    assert_eq!(ra["routes"][0], json!({"dst": "0.0.0.0/0", "gw": lab.gateway()}));
    let mac = netd::bridge::bridge_mac(&lab.bridge(), lab.subnet().parse().expect("subnet"));
    let mac = mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    assert_eq!((ra["interfaces"][0]["mac"].clone(), rb["interfaces"][0]["mac"].clone()), (json!(mac), json!(mac)));

    let addr = ok(&["ip", "-n", &a, "addr", "show", "eth0"]);
    assert!(addr.contains(&format!("inet {ip_a}/24")), "{addr}");
    assert!(ok(&["ip", "-n", &a, "route"]).contains(&format!("default via {}", lab.gateway())));
    let host_veth = ra["interfaces"][1]["name"].as_str().expect("veth").to_owned();
    let port = lab.in_node(&["ip", "-d", "link", "show", &host_veth]);
    assert!(port.contains(&format!("master {}", lab.bridge())) && port.contains("hairpin on"), "{port}");
    assert_eq!(lab.in_node(&["cat", "/proc/sys/net/ipv4/ip_forward"]).trim(), "1");

    assert!(ping(&a, &lab.gateway()), "pod a cannot reach the gateway");
    assert!(ping(&a, &ip_b), "pod a cannot reach pod b over the bridge");
    assert!(ping(&b, &ip_a), "pod b cannot reach pod a over the bridge");

    let table = lab.nft_table().expect("table");
    assert!(table.contains(&format!("ip saddr {} ip daddr != 10.231.0.0/16", lab.subnet())), "{table}");

    let (code, check) = lab.plugin("bramble-cni", "CHECK", "ctr-a", Some(&a), &conf);
    assert_eq!((code, check), (0, Value::Null));
    let (code, check) = lab.plugin("loopback", "CHECK", "ctr-a", Some(&a), &lo_conf);
    assert_eq!(code, 1, "CHECK is not in 0.3.1: {check}");
    assert_eq!(check["code"], 1);

    // Allocations are files, so every later process (each call is one) sees them.
    assert_eq!(lab.allocations(), vec![ip_a.clone(), ip_b.clone()]);
    let (code, again) = lab.plugin("bramble-cni", "ADD", "ctr-a", Some(&a), &conf);
    assert_eq!((code, pod_ip(&again)), (0, ip_a.clone()), "a repeated ADD keeps the address");
    assert!(ping(&a, &ip_b), "pod a lost its network after a repeated ADD");

    let (code, out) = lab.plugin("bramble-cni", "DEL", "ctr-b", Some(&b), &conf);
    assert_eq!((code, out), (0, Value::Null));
    assert!(!ok(&["ip", "-n", &b, "link"]).contains("eth0"));
    assert_eq!(lab.allocations(), vec![ip_a.clone()]);
    let (code, out) = lab.plugin("bramble-cni", "DEL", "ctr-b", Some(&b), &conf);
    assert_eq!((code, out), (0, Value::Null), "DEL twice");

    // The namespace goes first, as when a sandbox is torn down after a crash.
    ok(&["ip", "netns", "del", &a]);
    let (code, out) = lab.plugin("bramble-cni", "DEL", "ctr-a", Some(&a), &conf);
    assert_eq!((code, out), (0, Value::Null), "DEL with the netns gone");
    let (code, _) = lab.plugin("loopback", "DEL", "ctr-a", Some(&a), &lo_conf);
    assert_eq!(code, 0);
    assert!(lab.allocations().is_empty());
    assert!(!lab.in_node(&["ip", "link"]).contains(&host_veth));

    // The next pod does not get a just-released address.
    let c = lab.pod(2);
    let (code, rc) = lab.plugin("bramble-cni", "ADD", "ctr-c", Some(&c), &conf);
    assert_eq!((code, pod_ip(&rc)), (0, format!("10.231.{}.4", lab.id)));
}

/// Needs root. hostPort: the DNAT rules appear with the pod and go with it, and a
/// connection to the node's own address on the host port reaches the pod, from the
/// node and from another pod.
#[test]
fn root_host_ports_reach_the_pod_and_go_away_on_del() {
    let mut lab = Lab::new();
    let (web, client) = (lab.pod(0), lab.pod(1));
    let conf = lab.conf(json!([
        {"hostPort": 18080, "containerPort": 80, "protocol": "tcp", "hostIP": ""},
        {"hostPort": 15353, "containerPort": 53, "protocol": "udp", "hostIP": ""},
    ]));
    let (code, result) = lab.plugin("bramble-cni", "ADD", "ctr-web", Some(&web), &conf);
    assert_eq!(code, 0, "{result}");
    let web_ip = pod_ip(&result);
    let (code, result) = lab.plugin("bramble-cni", "ADD", "ctr-client", Some(&client), &lab.conf(json!([])));
    assert_eq!(code, 0, "{result}");

    let table = lab.nft_table().expect("table");
    assert!(table.contains(&format!("tcp dport 18080 dnat to {web_ip}:80 comment \"pod:ctr-web\"")), "{table}");
    assert!(table.contains(&format!("udp dport 15353 dnat to {web_ip}:53 comment \"pod:ctr-web\"")), "{table}");

    ok(&["ip", "netns", "exec", &web, "ip", "link", "set", "lo", "up"]);
    let server = Command::new("ip")
        .args(["netns", "exec", &web, "busybox", "nc", "-ll", "-p", "80", "-e", "/bin/busybox", "echo", "hello"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server");
    lab.children.push(server);
    let fetch = |ns: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = sh(&["ip", "netns", "exec", ns, "busybox", "nc", "-w", "2", &lab.gateway(), "18080"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("hello") || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert!(fetch(&lab.node).contains("hello"), "node -> hostPort");
    assert!(fetch(&client).contains("hello"), "pod -> node's hostPort");

    let (code, _) = lab.plugin("bramble-cni", "DEL", "ctr-web", Some(&web), &conf);
    assert_eq!(code, 0);
    let table = lab.nft_table().expect("table");
    assert!(!table.contains("pod:ctr-web"), "{table}");
    assert!(table.contains("masquerade comment \"bramble-net:bramble-test\""), "{table}");
}

/// Needs root. Errors come back as CNI error objects, and a failed ADD leaves no
/// allocation and no veth behind.
#[test]
fn root_errors_are_cni_objects_and_failed_adds_roll_back() {
    let mut lab = Lab::new();
    let pod = lab.pod(0);
    let conf = lab.conf(json!([]));

    let mut bad = conf.clone();
    bad["subnet"] = json!("not-a-cidr");
    let (code, error) = lab.plugin("bramble-cni", "ADD", "ctr-x", Some(&pod), &bad);
    assert_eq!(code, 1);
    assert_eq!(error["code"], 7);
    assert_eq!(error["cniVersion"], "1.0.0");
    assert!(error["msg"].as_str().expect("msg").contains("not-a-cidr"), "{error}");

    let (code, error) = lab.plugin("bramble-cni", "ADD", "ctr-x", Some("bramble-cni-no-such-ns"), &conf);
    assert_eq!((code, error["code"].clone()), (1, json!(3)));

    let mut old = conf.clone();
    old["cniVersion"] = json!("0.2.0");
    let (code, error) = lab.plugin("bramble-cni", "ADD", "ctr-x", Some(&pod), &old);
    assert_eq!((code, error["code"].clone()), (1, json!(1)));

    // eth0 already exists in the pod: creating the veth's peer there fails.
    ok(&["ip", "-n", &pod, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0peer"]);
    let (code, error) = lab.plugin("bramble-cni", "ADD", "ctr-x", Some(&pod), &conf);
    assert_eq!(code, 1, "{error}");
    assert_eq!(error["code"], netd::error::CODE_NETLINK, "{error}");
    assert!(lab.allocations().is_empty(), "the address was not released");
    let host_veth = netd::bridge::host_veth_name("ctr-x", "eth0");
    assert!(!lab.in_node(&["ip", "link"]).contains(&host_veth));

    let (code, out) = lab.plugin("bramble-cni", "DEL", "never-added", None, &conf);
    assert_eq!((code, out), (0, Value::Null), "DEL of nothing, without a netns");
}

/// Needs root. Concurrent ADDs (separate processes, as containerd starts sandboxes in
/// parallel) race for the bridge and the addresses and all win distinct ones; GC then
/// frees every attachment that is not listed as valid.
#[test]
fn root_concurrent_adds_then_gc() {
    let mut lab = Lab::new();
    let pods: Vec<String> = (0..6).map(|i| lab.pod(i)).collect();
    let conf = lab.conf(json!([{"hostPort": 18081, "containerPort": 80, "protocol": "tcp"}]));
    let results: Vec<(i32, Value)> = std::thread::scope(|scope| {
        let lab = &lab;
        let conf = &conf;
        let handles: Vec<_> = pods
            .iter()
            .enumerate()
            .map(|(i, pod)| scope.spawn(move || lab.plugin("bramble-cni", "ADD", &format!("ctr-{i}"), Some(pod), conf)))
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let mut ips: Vec<String> = results
        .iter()
        .map(|(code, result)| {
            assert_eq!(*code, 0, "{result}");
            pod_ip(result)
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 6, "{ips:?}");
    assert_eq!(lab.allocations().len(), 6);
    for (pod, result) in pods.iter().zip(&results) {
        assert!(ping(pod, &lab.gateway()), "{pod} ({}) cannot reach the gateway", pod_ip(&result.1));
    }

    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] =
        json!([{"containerID": "ctr-0", "ifname": "eth0"}, {"containerID": "ctr-3", "ifname": "eth0"}]);
    let (code, out) = lab.plugin("bramble-cni", "GC", "unused", None, &gc);
    assert_eq!((code, out), (0, Value::Null));
    let kept: Vec<String> = [0, 3].iter().map(|&i| pod_ip(&results[i].1)).collect();
    let mut want = kept.clone();
    want.sort();
    assert_eq!(lab.allocations(), want);
    let table = lab.nft_table().expect("table");
    assert!(table.contains("pod:ctr-0") && table.contains("pod:ctr-3") && !table.contains("pod:ctr-1"), "{table}");
    assert!(!ok(&["ip", "-n", &pods[1], "link"]).contains("eth0"), "GC left ctr-1's veth");
    assert!(ping(&pods[0], &lab.gateway()), "GC broke a valid attachment");
    let (code, out) = lab.plugin("bramble-cni", "STATUS", "unused", None, &conf);
    assert_eq!((code, out), (0, Value::Null));
}
