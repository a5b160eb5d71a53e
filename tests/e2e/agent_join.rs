//! `bramble agent` joining a server with k3s's token: the node registers
//! Ready with k3s's labels and a heartbeat Lease, a wrong secret gets a
//! clear refusal and no certificate, a token for another CA stops before
//! any credential is sent, and the node's credentials are a node's only.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, Datastore};

/// A `bramble agent` process; killed when dropped.
struct Agent {
    child: Child,
    log: PathBuf,
    data_dir: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The containerd it started outlives it by design (fail-static).
        crate::support::kill_processes_mentioning(&self.data_dir);
    }
}

impl Agent {
    fn start(cluster: &Cluster, name: &str, token: &str, data_dir: &Path) -> Agent {
        let args: Vec<OsString> = [
            "agent",
            "--server",
            &format!("https://127.0.0.1:{}", cluster.port),
            "--token",
            token,
            "--node-name",
            name,
            "--node-ip",
            "127.0.0.1",
            "--node-label",
            "bramble.dev/e2e=agent-join",
        ]
        .iter()
        .map(Into::into)
        .chain(isolation_flags(data_dir))
        .collect();
        let (child, log) = cluster.spawn_bramble(name, &args);
        Agent { child, log, data_dir: data_dir.to_path_buf() }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the agent to exit (it should, on a refused join) and returns its log.
    fn refused(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(!status.success(), "a refused join must fail; log:\n{}", self.log_text());
                return self.log_text();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the agent did not give up within 30 s; log:\n{}", self.log_text());
    }
}

/// Agents of these tests share the host's network namespace and run side by
/// side: each gets its own data, run and log directories, containerd and
/// kubelet port, and no registries file of the host's.
fn isolation_flags(data_dir: &Path) -> Vec<OsString> {
    let port = crate::support::free_port().to_string();
    vec![
        "--data-dir".into(),
        data_dir.into(),
        "--run-dir".into(),
        data_dir.join("run").into(),
        "--pod-log-dir".into(),
        data_dir.join("pods").into(),
        "--private-registry".into(),
        data_dir.join("registries.yaml").into(),
        "--kubelet-port".into(),
        port.into(),
    ]
}

fn server_token(cluster: &Cluster) -> String {
    let path = cluster.data_dir().join("server").join("token");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("the server token exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{} must be private", path.display());
    std::fs::read_to_string(&path).expect("read the server token").trim().to_string()
}

/// Polls `kubectl get node <name>` until `check` accepts its JSON.
fn wait_node(
    cluster: &Cluster,
    name: &str,
    agent: &Agent,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let out = cluster.kubectl("1.33", &["get", "node", name, "-o", "json"]);
        if out.status.success() {
            let node: serde_json::Value = serde_json::from_slice(&out.stdout).expect("node JSON");
            if check(&node) {
                return node;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "node {name} did not get there in 60 s; agent log:\n{}\nserver log:\n{}",
        agent.log_text(),
        cluster.log_text()
    );
}

fn supervisor_requests(cluster: &Cluster) -> usize {
    cluster.log_text().lines().filter(|l| l.contains("/v1-k3s/")).count()
}

#[test]
fn an_agent_joins_with_the_server_token() {
    let cluster = Cluster::start_with(
        Datastore::Embedded,
        &[
            "--disable-agent",
            "--cluster-cidr",
            "10.60.0.0/16",
            "--cluster-dns",
            "10.43.0.53",
            "--cluster-domain",
            "pi.lan",
        ],
    );
    let token = server_token(&cluster);
    assert!(token.starts_with("K10") && token.contains("::server:"), "{token}");
    let scratch = tempfile::tempdir().expect("scratch");

    // A token for another CA: refused before any credential goes out.
    let before = supervisor_requests(&cluster);
    let secret = token.split_once("::").expect("full token").1;
    let other_ca = format!("K10{}::{secret}", "0".repeat(64));
    let log = Agent::start(&cluster, "worker-x", &other_ca, &scratch.path().join("x")).refused();
    assert!(log.contains("the token expects CA hash 0000000000"), "{log}");
    assert!(log.contains(&format!("with hash {}", &token[3..67])), "{log}");
    assert!(log.contains("no credentials were sent"), "{log}");
    assert_eq!(
        supervisor_requests(&cluster),
        before,
        "the agent reached the certificate endpoints:\n{}",
        cluster.log_text()
    );

    // The right CA with a wrong secret: a clear refusal, and no certificate written.
    let wrong = format!("{}::server:not-the-password", &token[..67]);
    let dir = scratch.path().join("wrong");
    let log = Agent::start(&cluster, "worker-w", &wrong, &dir).refused();
    assert!(log.contains("the server refused the token (401)"), "{log}");
    assert!(supervisor_requests(&cluster) > before, "the refusal is logged by the server");
    for file in ["client-kubelet.crt", "client-kubelet.key", "serving-kubelet.crt", "kubelet.kubeconfig"] {
        assert!(!dir.join("agent").join(file).exists(), "{file} written after a refused join");
    }
    assert_eq!(cluster.kubectl("1.33", &["get", "node", "worker-w"]).status.code(), Some(1));

    // The server token: worker-1 registers Ready with k3s's labels and renews its Lease.
    let dir = scratch.path().join("worker-1");
    let agent = Agent::start(&cluster, "worker-1", &token, &dir);
    let ready = |n: &serde_json::Value| {
        n["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    };
    let node = wait_node(&cluster, "worker-1", &agent, ready);
    let labels = &node["metadata"]["labels"];
    assert_eq!(labels["kubernetes.io/hostname"], "worker-1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert!(matches!(labels["kubernetes.io/arch"].as_str(), Some("amd64" | "arm64" | "arm")), "{labels}");
    assert_eq!(labels["node.kubernetes.io/instance-type"], "k3s");
    assert_eq!(labels["bramble.dev/e2e"], "agent-join");
    let status = &node["status"];
    for resource in ["cpu", "memory", "pods", "ephemeral-storage"] {
        assert!(status["capacity"][resource].is_string() && status["allocatable"][resource].is_string(), "{status}");
    }
    assert!(status["nodeInfo"]["kubeletVersion"].as_str().is_some_and(|v| v.ends_with("+bramble")), "{status}");
    assert!(
        status["addresses"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["type"] == "InternalIP" && a["address"] == "127.0.0.1"))
    );
    // The agent learnt the cluster's networks and DNS from the server.
    let log = agent.log_text();
    let networks = log.lines().find(|l| l.contains("cluster networks")).unwrap_or_else(|| panic!("{log}"));
    for expected in ["cluster_cidr=10.60.0.0/16", "cluster_dns=10.43.0.53", "cluster_domain=pi.lan"] {
        assert!(networks.contains(expected), "{networks}");
    }
    let table = cluster.ok("1.33", &["get", "nodes"]);
    assert!(table.lines().any(|l| l.starts_with("worker-1") && l.contains(" Ready ")), "{table}");
    let lease = cluster
        .ok("1.33", &["-n", "kube-node-lease", "get", "lease", "worker-1", "-o", "jsonpath={.spec.holderIdentity}"]);
    assert_eq!(lease, "worker-1");
    for file in
        ["client-kubelet.crt", "client-kubelet.key", "serving-kubelet.crt", "serving-kubelet.key", "server-ca.crt"]
    {
        assert!(dir.join("agent").join(file).exists(), "{file} missing");
    }

    // The node's kubeconfig is a node's: it reads nodes, but cannot make a namespace.
    let node_kubeconfig = dir.join("agent").join("kubelet.kubeconfig");
    let kubectl = crate::cluster::kubectl_path("1.33");
    let as_node = |args: &[&str]| {
        std::process::Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&node_kubeconfig)
            .arg("--cache-dir")
            .arg(scratch.path().join("node-cache"))
            .args(args)
            .env("HOME", scratch.path())
            .output()
            .expect("run kubectl")
    };
    let out = as_node(&["get", "nodes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = as_node(&["create", "namespace", "not-for-nodes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a node created a namespace");
    assert!(stderr.contains("Forbidden") && stderr.contains("system:node:worker-1"), "{stderr}");

    // It reads a secret only once one of its pods refers to it, and changes only its own pods.
    cluster.ok("1.33", &["create", "secret", "generic", "app-secret", "--from-literal=k=v"]);
    cluster.ok("1.33", &["create", "secret", "generic", "unrelated", "--from-literal=k=v"]);
    let refused = |out: std::process::Output| {
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && stderr.contains("Forbidden"), "not refused: {stderr}");
        stderr
    };
    let stderr = refused(as_node(&["get", "secret", "app-secret"]));
    assert!(stderr.contains("no relationship found between node 'worker-1'"), "{stderr}");
    let pod = |name: &str, node: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {node}\n  containers:\n  - name: c\n    image: 127.0.0.1:1/none:1\n    env:\n    - name: K\n      valueFrom: {{secretKeyRef: {{name: app-secret, key: k}}}}\n"
        )
    };
    let manifests = scratch.path().join("pods.yaml");
    std::fs::write(&manifests, format!("{}---\n{}", pod("mine", "worker-1"), pod("theirs", "worker-2")))
        .expect("write pods");
    cluster.ok("1.33", &["create", "-f", &manifests.to_string_lossy()]);
    let out = as_node(&["get", "secret", "app-secret", "-o", "name"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    refused(as_node(&["get", "secret", "unrelated"]));
    let stderr = refused(as_node(&["delete", "pod", "theirs", "--wait=false"]));
    assert!(stderr.contains("can only modify pods bound to it"), "{stderr}");
    let out = as_node(&["delete", "pod", "mine", "--wait=false"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A restart reuses the stored certificates.
    let cert = std::fs::read(dir.join("agent").join("client-kubelet.crt")).expect("cert");
    drop(agent);
    let agent = Agent::start(&cluster, "worker-1", &token, &dir);
    let deadline = Instant::now() + Duration::from_secs(30);
    // The log file is shared with the first run: wait for a second registration.
    while agent.log_text().matches("node registered").count() < 2 {
        assert!(Instant::now() < deadline, "the restarted agent did not register; log:\n{}", agent.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(agent.log_text().contains("reusing the node certificates"), "{}", agent.log_text());
    assert_eq!(std::fs::read(dir.join("agent").join("client-kubelet.crt")).expect("cert"), cert);
}

#[test]
fn bootstrap_tokens_from_token_create_join_too() {
    let cluster = Cluster::start_with(Datastore::Embedded, &["--disable-agent"]);
    let args: Vec<OsString> = ["token", "create", "--ttl", "1h", "--kubeconfig"]
        .iter()
        .map(Into::into)
        .chain([cluster.kubeconfig.clone().into()])
        .collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bramble")).args(&args).output().expect("run token create");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let server = server_token(&cluster);
    assert!(token.starts_with(&server[..67]), "the same CA hash as the server token: {token} vs {server}");
    let id = token.split("::").nth(1).and_then(|c| c.split_once('.')).expect("id.secret").0.to_string();
    let stored = cluster.ok(
        "1.33",
        &["-n", "kube-system", "get", "secret", &format!("bootstrap-token-{id}"), "-o", "jsonpath={.type}"],
    );
    assert_eq!(stored, "bootstrap.kubernetes.io/token");
    let scratch = tempfile::tempdir().expect("scratch");
    let agent = Agent::start(&cluster, "worker-b", &token, &scratch.path().join("b"));
    wait_node(&cluster, "worker-b", &agent, |n| n["status"]["nodeInfo"]["kubeletVersion"].is_string());
    // Once the token's Secret is gone, it joins nothing.
    cluster.ok("1.33", &["-n", "kube-system", "delete", "secret", &format!("bootstrap-token-{id}")]);
    let log = Agent::start(&cluster, "worker-c", &token, &scratch.path().join("c")).refused();
    assert!(log.contains("the server refused the token (401)"), "{log}");
}
