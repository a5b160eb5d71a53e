//! Real pods (issue 5): a server with its own agent and a second node,
//! `bramble agent`, each in its own network namespace with its own
//! containerd, driven by real kubectl. Images are built here from Debian's
//! busybox-static and handed to the agent as an air-gap archive. Needs root.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::netlab::Lab;
use crate::scenario::eventually;

/// The busybox image every test runs, imported from `<data-dir>/agent/images`.
pub const BUSYBOX: &str = "docker.io/bramble/busybox:e2e";

/// The node names: the server's and the agent's.
pub const SERVER: &str = "pod-server";
pub const AGENT: &str = "pod-agent";

/// A busybox image from the machine's busybox-static: every applet linked,
/// `/etc/passwd` with root and nobody, `sh` as the command.
pub fn busybox_archive() -> Vec<u8> {
    busybox_image(BUSYBOX).oci_archive()
}

/// The busybox image's builder under another name, for tests that add files
/// of their own (and so get an image with another digest).
pub fn busybox_image(name: &str) -> images::oci::ImageBuilder {
    let busybox = crate::support::required_program("busybox", "busybox-static");
    let bytes = std::fs::read(&busybox).expect("read busybox");
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let mut image = images::oci::ImageBuilder::new(name, arch);
    image = image.dir("/bin").dir("/tmp").dir("/etc").dir("/var/www");
    image = image.file("/bin/busybox", bytes, 0o755);
    let list = Command::new(&busybox).arg("--list").output().expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "busybox" {
            image = image.symlink(&format!("/bin/{applet}"), "busybox");
        }
    }
    image
        .file("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n".to_vec(), 0o644)
        .file("/etc/group", b"root:x:0:\nnobody:x:65534:\n".to_vec(), 0o644)
        .file("/var/www/index.html", b"hello from busybox httpd\n".to_vec(), 0o644)
        .env(["PATH=/bin"])
        .cmd(["sh"])
}

/// A process in a lab node (`bramble`, or what a test starts there); killed when dropped.
pub struct NodeProcess {
    child: Child,
    log: PathBuf,
}

impl NodeProcess {
    /// Everything the process wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cluster: node 0 runs `bramble server` (with its agent), node 1 `bramble agent`.
pub struct PodCluster {
    // Dropped in order: processes, then the lab (which kills what is left in
    // its namespaces: containerd, shims, containers), then the files.
    server: Option<NodeProcess>,
    agent: Option<NodeProcess>,
    lab: Lab,
    scratch: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    agent_args: Vec<OsString>,
}

impl Drop for PodCluster {
    fn drop(&mut self) {
        self.agent.take();
        self.server.take();
        self.lab.kill_all();
        crate::netlab::unmount_all(self.scratch.path());
    }
}

/// What a [`PodCluster`] is started with beyond the defaults.
#[derive(Debug, Default)]
pub struct Options {
    /// The agent node's registries.yaml (`--private-registry`); none written when `None`.
    pub agent_registries: Option<String>,
    /// The agent's data directory (and so containerd's image store) on a tmpfs of this many MiB.
    pub agent_tmpfs_mib: Option<u64>,
    /// More flags for `bramble agent`.
    pub agent_args: Vec<String>,
}

impl PodCluster {
    pub fn start() -> PodCluster {
        PodCluster::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> PodCluster {
        let lab = Lab::new(2);
        let scratch = tempfile::tempdir().expect("scratch directory");
        let root = scratch.path();
        let archive = busybox_archive();
        if let Some(mib) = options.agent_tmpfs_mib {
            let data = root.join("agent").join("data");
            std::fs::create_dir_all(&data).expect("the agent's data dir");
            crate::netlab::sh(
                "mount",
                &["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs", &data.to_string_lossy()],
            );
        }
        for node in ["server", "agent"] {
            let images = root.join(node).join("data").join("agent").join("images");
            std::fs::create_dir_all(&images).expect("images dir");
            std::fs::write(images.join("busybox.tar"), &archive).expect("write the busybox archive");
        }
        let config = root.join("config.yaml");
        std::fs::write(&config, "{}\n").expect("config file");
        let kubeconfig = root.join("kubeconfig.yaml");
        let mut server_args: Vec<OsString> = vec!["server".into(), "--config".into(), config.clone().into()];
        server_args.extend(node_flags(root, "server", SERVER, &lab.ip(0)));
        server_args.extend(["--write-kubeconfig".into(), kubeconfig.clone().into()]);
        server_args.extend(["--tls-san".into(), lab.ip(0).into()]);
        let server_log = root.join("server.log");
        let server = NodeProcess {
            child: lab.spawn(0, env!("CARGO_BIN_EXE_bramble"), &server_args, &server_log),
            log: server_log,
        };
        let mut cluster = PodCluster {
            server: Some(server),
            agent: None,
            lab,
            scratch,
            kubeconfig: kubeconfig.clone(),
            agent_args: Vec::new(),
        };
        // The kubeconfig names 127.0.0.1 (right inside node 0); the test reaches the server on the lab bridge.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !kubeconfig.exists() {
            assert!(Instant::now() < deadline, "the server wrote no kubeconfig; log:\n{}", cluster.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(200));
        let text = std::fs::read_to_string(&kubeconfig).expect("read the kubeconfig");
        let rewritten = text.replace("https://127.0.0.1:6443", &format!("https://{}:6443", cluster.lab.ip(0)));
        cluster.kubeconfig = cluster.scratch.path().join("lab-kubeconfig.yaml");
        std::fs::write(&cluster.kubeconfig, rewritten).expect("write the lab kubeconfig");
        let token_path = cluster.scratch.path().join("server/data/server/token");
        let token =
            eventually(Duration::from_secs(30), "the server token", || std::fs::read_to_string(&token_path).ok());
        let mut agent_args: Vec<OsString> = vec![
            "agent".into(),
            "--server".into(),
            format!("https://{}:6443", cluster.lab.ip(0)).into(),
            "--token".into(),
            token.trim().into(),
        ];
        agent_args.extend(node_flags(cluster.scratch.path(), "agent", AGENT, &cluster.lab.ip(1)));
        if let Some(text) = &options.agent_registries {
            std::fs::write(cluster.scratch.path().join("agent").join("registries.yaml"), text)
                .expect("write the agent's registries.yaml");
        }
        agent_args.extend(options.agent_args.iter().map(OsString::from));
        cluster.agent_args = agent_args;
        cluster.start_agent();
        for node in [SERVER, AGENT] {
            cluster.wait_ready(node);
        }
        cluster
    }

    /// Starts (again) `bramble agent` on node 1 with the same flags.
    pub fn start_agent(&mut self) {
        let log = self.scratch.path().join("agent.log");
        let child = self.lab.spawn(1, env!("CARGO_BIN_EXE_bramble"), &self.agent_args, &log);
        self.agent = Some(NodeProcess { child, log });
    }

    /// The lab the nodes run in.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The cluster's scratch directory (node directories, logs), removed on drop.
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Starts `program args` in node `i`, its output in `<scratch>/<log_name>`;
    /// the process is killed when the returned handle is dropped (and by the
    /// lab's teardown at the latest).
    pub fn spawn(&self, i: usize, program: &Path, args: &[OsString], log_name: &str) -> NodeProcess {
        let log = self.scratch.path().join(log_name);
        let child = self.lab.spawn(i, program, args, &log);
        NodeProcess { child, log }
    }

    /// `kill -9` of the agent process only: containerd and the containers stay.
    pub fn kill9_agent(&mut self) {
        self.agent.take();
    }

    fn wait_ready(&self, node: &str) {
        let path = "{.status.conditions[?(@.type==\"Ready\")].status}";
        eventually(Duration::from_secs(90), &format!("node {node} Ready\n{}", self.logs()), || {
            let out = self.kubectl("1.33", &["get", "node", node, "-o", &format!("jsonpath={path}")]);
            (String::from_utf8_lossy(&out.stdout) == "True").then_some(())
        });
    }

    /// Both processes' logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for (name, proc) in [("server", &self.server), ("agent", &self.agent)] {
            if let Some(p) = proc {
                let log = std::fs::read_to_string(&p.log).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                text += &format!(
                    "--- {name} log (last 60 lines)\n{}\n",
                    lines[lines.len().saturating_sub(60)..].join("\n")
                );
            }
        }
        text
    }

    fn command(&self, version: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::cluster::kubectl_path(version));
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.scratch.path().join(format!("kube-cache-{version}")))
            .args(args)
            .env("HOME", self.scratch.path())
            .env_remove("KUBECONFIG");
        cmd
    }

    pub fn kubectl(&self, version: &str, args: &[&str]) -> Output {
        self.command(version, args).stdin(Stdio::null()).output().expect("run kubectl")
    }

    pub fn kubectl_spawn(&self, version: &str, args: &[&str]) -> Child {
        self.command(version, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl")
    }

    pub fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(version, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }

    /// kubectl that must succeed; its stdout.
    pub fn ok(&self, version: &str, args: &[&str]) -> String {
        let out = self.kubectl(version, args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn apply(&self, manifest: &str) {
        let out = self.kubectl_stdin("1.33", &["apply", "-f", "-"], manifest);
        assert!(out.status.success(), "apply failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args = vec!["get"];
        args.extend(what);
        let path = format!("jsonpath={path}");
        args.extend(["-o", &path]);
        String::from_utf8_lossy(&self.kubectl("1.33", &args).stdout).into_owned()
    }

    /// Waits for a pod's phase (and, with `ready`, its Ready condition).
    pub fn wait_running(&self, pod: &str, ready: bool) {
        eventually(Duration::from_secs(120), &format!("pod {pod} Running\n{}", self.describe(pod)), || {
            let phase = self.jsonpath(&["pod", pod], "{.status.phase}");
            let is_ready = self.jsonpath(&["pod", pod], "{.status.conditions[?(@.type==\"Ready\")].status}");
            (phase == "Running" && (!ready || is_ready == "True")).then_some(())
        });
    }

    pub fn describe(&self, pod: &str) -> String {
        let out = self.kubectl("1.33", &["get", "pod", pod, "-o", "yaml"]);
        format!("{}\n{}", String::from_utf8_lossy(&out.stdout), self.logs())
    }

    /// `ctr` against node `i`'s containerd, in the k8s.io namespace.
    pub fn ctr(&self, i: usize, args: &[&str]) -> String {
        let node = if i == 0 { "server" } else { "agent" };
        let socket = self.scratch.path().join(node).join("run").join("containerd").join("containerd.sock");
        let out = self
            .lab
            .command(i, "ctr")
            .arg("--address")
            .arg(socket)
            .args(["-n", "k8s.io"])
            .args(args)
            .output()
            .expect("run ctr");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Containers (sandboxes included) of node `i`'s containerd.
    pub fn containers(&self, i: usize) -> Vec<String> {
        self.ctr(i, &["containers", "ls", "-q"]).lines().map(str::to_string).collect()
    }
}

/// The flags of one lab node: its own data, run and log directories, address and name.
fn node_flags(root: &Path, dir: &str, name: &str, ip: &str) -> Vec<OsString> {
    let base = root.join(dir);
    vec![
        "--data-dir".into(),
        base.join("data").into(),
        "--run-dir".into(),
        base.join("run").into(),
        "--pod-log-dir".into(),
        base.join("pods").into(),
        "--node-name".into(),
        name.into(),
        "--node-ip".into(),
        ip.into(),
        "--private-registry".into(),
        base.join("registries.yaml").into(),
    ]
}

pub fn pod_manifest(name: &str, node: &str, containers: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 2\n  containers:\n{containers}"
    )
}

/// A Deployment of busybox reaches Running on the agent; its logs show its
/// output; exec runs a command in it; a ConfigMap and a Secret are visible
/// in the container, as env and as files; deleting the pod removes its
/// containers and sandbox.
#[test]
fn a_deployment_runs_on_the_agent_with_logs_exec_and_config() {
    let cluster = PodCluster::start();
    cluster.ok("1.33", &["create", "configmap", "settings", "--from-literal=colour=green"]);
    cluster.ok("1.33", &["create", "secret", "generic", "creds", "--from-literal=password=s3cret"]);
    cluster.apply(&format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 1
  selector:
    matchLabels: {{app: hello}}
  template:
    metadata:
      labels: {{app: hello}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: {AGENT}}}
      terminationGracePeriodSeconds: 3
      containers:
      - name: main
        image: {BUSYBOX}
        command: ["sh", "-c", "echo hello from $POD_NAME colour=$COLOUR; while true; do sleep 1; done"]
        env:
        - name: POD_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
        - name: COLOUR
          valueFrom: {{configMapKeyRef: {{name: settings, key: colour}}}}
        volumeMounts:
        - {{name: creds, mountPath: /etc/creds, readOnly: true}}
      volumes:
      - name: creds
        secret: {{secretName: creds}}
"#
    ));
    let pod = eventually(Duration::from_secs(60), "a pod of the deployment", || {
        let name = cluster.jsonpath(&["pods", "-l", "app=hello"], "{.items[0].metadata.name}");
        (!name.is_empty()).then_some(name)
    });
    cluster.wait_running(&pod, true);
    assert_eq!(cluster.jsonpath(&["pod", &pod], "{.spec.nodeName}"), AGENT);
    let ip = cluster.jsonpath(&["pod", &pod], "{.status.podIP}");
    assert!(ip.starts_with("10.42."), "the pod has an address from the node's podCIDR: {ip:?}");

    for version in ["1.27", "1.30", "1.33"] {
        let logs = eventually(Duration::from_secs(30), "the pod's output in its logs", || {
            let out = cluster.kubectl(version, &["logs", &pod]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("hello from").then_some(text)
        });
        assert!(logs.contains(&format!("hello from {pod} colour=green")), "kubectl {version} logs: {logs}");
        let out = cluster.kubectl(version, &["exec", &pod, "--", "cat", "/etc/creds/password"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "s3cret",
            "kubectl {version} exec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = cluster.kubectl("1.33", &["exec", &pod, "--", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "exec passes the exit code on");

    let before = cluster.containers(1);
    assert!(before.len() >= 2, "a sandbox and a container on the agent: {before:?}");
    cluster.ok("1.33", &["delete", "deployment", "hello", "--wait=false"]);
    eventually(Duration::from_secs(60), &format!("the pod gone from the API\n{}", cluster.describe(&pod)), || {
        let out = cluster.kubectl("1.33", &["get", "pod", &pod]);
        (!out.status.success()).then_some(())
    });
    eventually(Duration::from_secs(30), "the pod's containers and sandbox gone from containerd", || {
        let left = cluster.containers(1);
        left.is_empty().then_some(())
    });
}

/// A readiness probe gates Ready; a failing liveness probe restarts the
/// container; a container whose process is killed is restarted with its
/// lastState; the server's own agent runs pods too.
#[test]
fn probes_and_restarts() {
    let cluster = PodCluster::start();
    let containers = format!(
        r#"  - name: main
    image: {BUSYBOX}
    command: ["sh", "-c", "echo started; sleep 3; touch /tmp/ready; while true; do sleep 1; done"]
    readinessProbe:
      exec: {{command: ["cat", "/tmp/ready"]}}
      periodSeconds: 1
    livenessProbe:
      exec: {{command: ["test", "!", "-e", "/tmp/die"]}}
      periodSeconds: 1
      failureThreshold: 2
"#
    );
    cluster.apply(&pod_manifest("probed", SERVER, &containers));
    cluster.wait_running("probed", false);
    assert_eq!(
        cluster.jsonpath(&["pod", "probed"], "{.status.containerStatuses[0].ready}"),
        "false",
        "not ready before the readiness probe passes"
    );
    cluster.wait_running("probed", true);

    cluster.ok("1.33", &["exec", "probed", "--", "touch", "/tmp/die"]);
    eventually(Duration::from_secs(60), &format!("a liveness restart\n{}", cluster.describe("probed")), || {
        (cluster.jsonpath(&["pod", "probed"], "{.status.containerStatuses[0].restartCount}") == "1").then_some(())
    });
    cluster.wait_running("probed", true);

    // Kill the container's process (from the node: init ignores SIGKILL from inside its
    // namespace): the kubelet restarts it and reports why it ended.
    let id = cluster.jsonpath(&["pod", "probed"], "{.status.containerStatuses[0].containerID}");
    let id = id.strip_prefix("containerd://").expect("a containerd container id").to_string();
    cluster.ctr(0, &["tasks", "kill", "-s", "SIGKILL", &id]);
    eventually(Duration::from_secs(60), &format!("a restart after kill\n{}", cluster.describe("probed")), || {
        (cluster.jsonpath(&["pod", "probed"], "{.status.containerStatuses[0].restartCount}") == "2").then_some(())
    });
    let last = cluster.jsonpath(&["pod", "probed"], "{.status.containerStatuses[0].lastState.terminated.exitCode}");
    assert_eq!(last, "137", "lastState records the SIGKILL");
    let logs = cluster.ok("1.33", &["logs", "probed", "--previous"]);
    assert!(logs.contains("started"), "--previous shows the last run's output: {logs}");
}

/// `kubectl port-forward` reaches a busybox httpd in a pod, with each kubectl version.
#[test]
fn port_forward_reaches_httpd() {
    let cluster = PodCluster::start();
    let containers = format!(
        "  - name: web\n    image: {BUSYBOX}\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/var/www\"]\n    ports:\n    - containerPort: 8080\n"
    );
    cluster.apply(&pod_manifest("web", AGENT, &containers));
    cluster.wait_running("web", true);
    for version in ["1.27", "1.30", "1.33"] {
        let port = crate::support::free_port();
        let mut forward = cluster.kubectl_spawn(version, &["port-forward", "pod/web", &format!("{port}:8080")]);
        let body = eventually(Duration::from_secs(30), &format!("kubectl {version} port-forward"), || {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            use std::io::{Read, Write};
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            stream.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
            let mut text = String::new();
            stream.read_to_string(&mut text).ok()?;
            text.contains("hello from busybox httpd").then_some(text)
        });
        assert!(body.starts_with("HTTP/1."), "{body}");
        let _ = forward.kill();
        let _ = forward.wait();
    }
}

/// `kill -9` of the agent leaves its containers running; the agent started
/// again adopts them: same containers, no restarts, no duplicates.
#[test]
fn agent_restart_adopts_running_containers() {
    let mut cluster = PodCluster::start();
    let containers = format!(
        "  - name: main\n    image: {BUSYBOX}\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n"
    );
    cluster.apply(&pod_manifest("steady", AGENT, &containers));
    cluster.wait_running("steady", true);
    let id = cluster.jsonpath(&["pod", "steady"], "{.status.containerStatuses[0].containerID}");
    let before = cluster.containers(1);
    cluster.kill9_agent();
    std::thread::sleep(Duration::from_secs(2));
    let out = cluster.ctr(1, &["tasks", "ls"]);
    assert!(out.contains("RUNNING"), "the containers run on without their agent:\n{out}");
    cluster.start_agent();
    std::thread::sleep(Duration::from_secs(10));
    cluster.wait_running("steady", true);
    assert_eq!(cluster.jsonpath(&["pod", "steady"], "{.status.containerStatuses[0].containerID}"), id);
    assert_eq!(cluster.jsonpath(&["pod", "steady"], "{.status.containerStatuses[0].restartCount}"), "0");
    let mut after = cluster.containers(1);
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(before, after, "no container was added or removed by the restarted agent");
}
