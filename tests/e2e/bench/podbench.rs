//! podbench: the pod runtime issue's benchmark. It starts the release
//! `bramble server --disable-agent` in one network namespace and one
//! `bramble agent` with its own containerd in another (the e2e suite's
//! netlab), hands the agent a busybox image as an air-gap archive, creates
//! 30 `sleep` pods and measures each pod's create → Running as a watch sees
//! it, the agent's RSS idle and with the pods (containerd and its shims
//! apart, since k3s's agent figure includes its embedded containerd), and
//! the time to delete them all. It prints one Markdown table beside the
//! issue's reference figures. A hand-run benchmark, not a test: it asserts
//! nothing about speed. Needs root (network namespaces, containerd).
//!
//! Run: `./x bench pods` (or `cargo run --release --example podbench --
//! --bramble target/release/bramble`). Progress and per-pod times go to
//! stderr, the table to stdout.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Client, Config};
use serde_json::json;
use tokio::sync::mpsc;

// The ports and the etcd command line serve the other benchmarks.
#[allow(dead_code)]
mod common;
use common::{percentile_ms, rss_bytes};

// The e2e suite's network namespaces; not every helper is used here.
#[allow(dead_code)]
#[path = "../netlab.rs"]
mod netlab;

#[derive(Parser, Debug)]
#[command(about = "Start pods on one bramble agent with real containerd, and measure latency and memory")]
struct Args {
    /// The release `bramble` binary.
    #[arg(long)]
    bramble: PathBuf,
    /// Pods to create, one right after another, without waiting for any.
    #[arg(long, default_value_t = 30)]
    pods: usize,
    /// Bind the pods with `spec.nodeName` instead of letting the scheduler place them.
    #[arg(long)]
    pin: bool,
    /// Seconds to let the agent settle before each RSS reading.
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// Copy the server's, the agent's and containerd's logs into this directory at the end.
    #[arg(long)]
    logs: Option<PathBuf>,
}

const SERVER_NODE: &str = "podbench-server";
const AGENT_NODE: &str = "podbench-node";
const IMAGE: &str = "docker.io/bramble/busybox:podbench";
const LABEL: &str = "app=podbench";
const DEADLINE: Duration = Duration::from_secs(300);
/// Linux reports process CPU times in USER_HZ, 100 on every architecture we build for.
const CLOCK_TICKS: f64 = 100.0;

/// Everything the benchmark started; removed when dropped, also on errors
/// and panics: processes, containers, pod network namespaces, mounts,
/// cgroups, then (as fields drop) the lab's namespaces and the files.
struct Bench {
    /// The `bramble` binary, an absolute path (nsenter runs it).
    bramble: PathBuf,
    server: Option<Child>,
    agent: Option<Child>,
    /// The pods created, by uid, so that their processes and cgroups can be found.
    uids: Vec<String>,
    /// `--logs`.
    keep_logs: Option<PathBuf>,
    lab: netlab::Lab,
    scratch: tempfile::TempDir,
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(dir) = &self.keep_logs {
            let _ = std::fs::create_dir_all(dir);
            for (from, to) in [
                ("server.log", "server.log"),
                ("agent.log", "agent.log"),
                ("agent/data/agent/containerd/containerd.log", "containerd.log"),
            ] {
                let _ = std::fs::copy(self.path(from), dir.join(to));
            }
        }
        for mut child in [self.agent.take(), self.server.take()].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let left = pod_pids(&self.uids);
        release_pod_netns(&left);
        for pid in &left {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        self.lab.kill_all();
        netlab::unmount_all(self.scratch.path());
        remove_pod_cgroups(&self.uids);
    }
}

impl Bench {
    fn path(&self, rel: &str) -> PathBuf {
        self.scratch.path().join(rel)
    }

    /// Starts `bramble args` in lab node `node`, its output in `<scratch>/<log>`.
    fn spawn(&self, node: usize, args: &[OsString], log: &str) -> Result<Child> {
        let file = std::fs::File::create(self.path(log)).with_context(|| format!("create {log}"))?;
        self.lab
            .command(node, &self.bramble)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .context("start bramble in the lab")
    }

    fn tail(&self, log: &str) -> String {
        let text = std::fs::read_to_string(self.path(log)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- {log}\n{}", lines[lines.len().saturating_sub(30)..].join("\n"))
    }

    /// The containerd containers (sandboxes included) of the agent.
    fn containerd_containers(&self) -> usize {
        let socket = self.path("agent/run/containerd/containerd.sock");
        Command::new("ctr")
            .arg("--address")
            .arg(socket)
            .args(["-n", "k8s.io", "containers", "ls", "-q"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or(usize::MAX)
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

/// A busybox image from the machine's busybox-static (Debian's), every applet linked.
fn busybox_archive() -> Result<Vec<u8>> {
    let busybox = Path::new("/bin/busybox");
    let bytes = std::fs::read(busybox).context("read /bin/busybox: run `./x deps` (busybox-static)")?;
    let arch = if std::env::consts::ARCH == "aarch64" { "arm64" } else { "amd64" };
    let mut image = images::oci::ImageBuilder::new(IMAGE, arch).dir("/bin").dir("/tmp").dir("/etc");
    image = image.file("/bin/busybox", bytes, 0o755);
    let list = Command::new(busybox).arg("--list").output().context("busybox --list")?;
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "busybox" {
            image = image.symlink(&format!("/bin/{applet}"), "busybox");
        }
    }
    image = image
        .file("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n".to_vec(), 0o644)
        .file("/etc/group", b"root:x:0:\n".to_vec(), 0o644)
        .env(["PATH=/bin"])
        .cmd(["sh"]);
    Ok(image.oci_archive())
}

async fn client(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The anonymous part of a process's RSS (`RssAnon`): what is not file pages such as its code.
fn rss_anon_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("RssAnon:")).and_then(|r| r.split_whitespace().next());
    kib.and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// Proportional set size (shared pages divided among their users), from `smaps_rollup`.
fn pss_bytes(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let kib = text.lines().find_map(|l| l.strip_prefix("Pss:")).and_then(|r| r.split_whitespace().next());
    kib.and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// User plus system CPU time a process has used so far, and that of the
/// children it has waited for (short-lived ones: CNI plugins, runc).
fn cpu_time(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0) as f64 / CLOCK_TICKS;
    // utime, stime, cutime, cstime are the 14th to 17th fields; `rest` starts at the 3rd.
    (Duration::from_secs_f64(ticks(11) + ticks(12)), Duration::from_secs_f64(ticks(13) + ticks(14)))
}

fn cpu_with_children(pid: u32) -> Duration {
    let (own, children) = cpu_time(pid);
    own + children
}

/// The long-lived processes whose CPU the benchmark follows.
#[derive(Clone, Copy)]
struct Pids {
    agent: u32,
    containerd: u32,
    server: u32,
}

/// CPU time used so far, by who used it.
#[derive(Debug, Default, Clone, Copy)]
struct CpuUse {
    agent: Duration,
    containerd: Duration,
    /// What containerd ran and waited for: the CNI plugins, `containerd-shim-runc-v2 start`.
    containerd_children: Duration,
    /// The shims with the runc runs they waited for.
    shims: Duration,
    /// The pods' processes (pause, sh, sleep), runc's init before it became them included.
    pods: Duration,
    server: Duration,
    /// This benchmark (its client and watch).
    bench: Duration,
    /// The kernel's threads (kworkers: network namespace and cgroup teardown, softirqs, ...).
    kernel: Duration,
    /// The whole machine, every core.
    machine: Duration,
}

impl CpuUse {
    fn now(bench: &Bench, pids: Pids) -> CpuUse {
        let (containerd, containerd_children) = cpu_time(pids.containerd);
        let shims = netns_pids(bench.lab.ns(1)).into_iter().filter(|&p| comm(p) == "containerd-shim");
        CpuUse {
            agent: cpu_time(pids.agent).0,
            containerd,
            containerd_children,
            shims: shims.map(cpu_with_children).sum(),
            pods: pod_pids(&bench.uids).into_iter().map(cpu_with_children).sum(),
            server: cpu_time(pids.server).0,
            bench: cpu_time(std::process::id()).0,
            kernel: kernel_threads_cpu(),
            machine: machine_busy(),
        }
    }

    fn since(self, before: CpuUse) -> CpuUse {
        CpuUse {
            agent: self.agent.saturating_sub(before.agent),
            containerd: self.containerd.saturating_sub(before.containerd),
            containerd_children: self.containerd_children.saturating_sub(before.containerd_children),
            shims: self.shims.saturating_sub(before.shims),
            pods: self.pods.saturating_sub(before.pods),
            server: self.server.saturating_sub(before.server),
            bench: self.bench.saturating_sub(before.bench),
            kernel: self.kernel.saturating_sub(before.kernel),
            machine: self.machine.saturating_sub(before.machine),
        }
    }

    /// The machine's CPU not used by any of the above: other work on the
    /// machine (a build would show here), and processes that came and went
    /// without a parent that waited for them.
    fn rest(&self) -> Duration {
        let ours = self.agent
            + self.containerd
            + self.containerd_children
            + self.shims
            + self.pods
            + self.server
            + self.bench
            + self.kernel;
        self.machine.saturating_sub(ours)
    }
}

/// CPU time the whole machine has spent busy (not idle, not waiting for IO), all cores.
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|rest| rest.split_whitespace().filter_map(|t| t.parse().ok()).collect())
        .unwrap_or_default();
    // user nice system idle iowait irq softirq steal; guests are inside user already.
    let busy: u64 = ticks.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, t)| t).sum();
    Duration::from_secs_f64(busy as f64 / CLOCK_TICKS)
}

/// CPU time of the kernel's threads (kthreadd and its children) so far.
fn kernel_threads_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Duration::ZERO };
    let mut total = Duration::ZERO;
    for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if pid == 2 || ppid == Some(2) {
            total += cpu_time(pid).0;
        }
    }
    total
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

/// The processes of a lab node's network namespace (the agent, containerd, its shims).
fn netns_pids(ns: &str) -> Vec<u32> {
    let out = Command::new("ip").args(["netns", "pids", ns]).output().map(|o| o.stdout).unwrap_or_default();
    String::from_utf8_lossy(&out).split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// The processes in the pods' cgroups (pause, sh, sleep): they live in the
/// pods' own network namespaces, not the node's.
fn pod_pids(uids: &[String]) -> Vec<u32> {
    if uids.is_empty() {
        return Vec::new();
    }
    let marks: Vec<String> = uids.iter().map(|u| format!("pod{u}")).collect();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            marks.iter().any(|m| cgroups.contains(m.as_str()))
        })
        .collect()
}

/// Unmounts and removes the `cni-*` network namespaces that containerd made
/// for pods whose processes are `pids` (only after a failed run: deleted
/// pods take theirs with them).
fn release_pod_netns(pids: &[u32]) {
    let inodes: Vec<u64> =
        pids.iter().filter_map(|pid| std::fs::metadata(format!("/proc/{pid}/ns/net")).ok().map(|m| m.ino())).collect();
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let named_by_cni = entry.file_name().to_string_lossy().starts_with("cni-");
        if named_by_cni && std::fs::metadata(&path).is_ok_and(|m| inodes.contains(&m.ino())) {
            let _ = Command::new("umount").arg("-l").arg(&path).status();
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes the (empty, once their processes are gone) cgroups of the pods,
/// `kubepods/<qos>/pod<uid>` and their containers', under every hierarchy.
fn remove_pod_cgroups(uids: &[String]) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else { return };
    let roots: Vec<PathBuf> =
        hierarchies.flatten().map(|e| e.path()).chain([PathBuf::from("/sys/fs/cgroup")]).collect();
    for root in roots {
        for qos in ["", "burstable", "besteffort"] {
            for uid in uids {
                let pod = root.join("kubepods").join(qos).join(format!("pod{uid}"));
                if let Ok(children) = std::fs::read_dir(&pod) {
                    for child in children.flatten().filter(|c| c.path().is_dir()) {
                        let _ = std::fs::remove_dir(child.path());
                    }
                    let _ = std::fs::remove_dir(&pod);
                }
            }
        }
    }
}

/// Memory of the agent's node: the agent, containerd, the shims and the pods' processes.
#[derive(Debug, Default)]
struct NodeMemory {
    agent: u64,
    /// The agent's RSS that is its own (heap, stacks), not pages of the binary.
    agent_anon: u64,
    containerd: u64,
    shims: usize,
    shims_rss: u64,
    shims_pss: u64,
    containers: usize,
    containers_rss: u64,
}

fn node_memory(bench: &Bench, agent: u32) -> Result<NodeMemory> {
    let mut m = NodeMemory { agent: rss_bytes(agent)?, agent_anon: rss_anon_bytes(agent), ..Default::default() };
    for pid in netns_pids(bench.lab.ns(1)) {
        match comm(pid).as_str() {
            "containerd" => m.containerd += rss_bytes(pid).unwrap_or(0),
            // comm is cut at 15 bytes: containerd-shim-runc-v2.
            "containerd-shim" => {
                m.shims += 1;
                m.shims_rss += rss_bytes(pid).unwrap_or(0);
                m.shims_pss += pss_bytes(pid);
            }
            _ => {}
        }
    }
    for pid in pod_pids(&bench.uids) {
        m.containers += 1;
        m.containers_rss += rss_bytes(pid).unwrap_or(0);
    }
    Ok(m)
}

/// The pid of containerd in the agent's namespace.
fn containerd_pid(bench: &Bench) -> Option<u32> {
    netns_pids(bench.lab.ns(1)).into_iter().find(|&pid| comm(pid) == "containerd")
}

/// What the pod watch saw, and when.
enum Seen {
    /// The watch has listed and is now following changes.
    Synced,
    Bound(String),
    Running(String),
    Gone(String),
}

/// The first time each pod was seen bound, Running and gone.
#[derive(Default)]
struct Timeline {
    bound: HashMap<String, Instant>,
    running: HashMap<String, Instant>,
    gone: HashMap<String, Instant>,
}

impl Timeline {
    fn absorb(&mut self, seen: Seen, at: Instant) {
        let (map, name) = match seen {
            Seen::Synced => return,
            Seen::Bound(n) => (&mut self.bound, n),
            Seen::Running(n) => (&mut self.running, n),
            Seen::Gone(n) => (&mut self.gone, n),
        };
        map.entry(name).or_insert(at);
    }
}

/// Follows the benchmark's pods and reports what changed, stamped on arrival.
async fn watch_pods(pods: Api<Pod>, tx: mpsc::UnboundedSender<(Seen, Instant)>) {
    let mut stream = watcher(pods, watcher::Config::default().labels(LABEL)).boxed();
    while let Some(event) = stream.next().await {
        let at = Instant::now();
        let pod = match event {
            Ok(watcher::Event::InitDone) => {
                let _ = tx.send((Seen::Synced, at));
                continue;
            }
            Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => pod,
            Ok(watcher::Event::Delete(pod)) => {
                let _ = tx.send((Seen::Gone(pod.metadata.name.unwrap_or_default()), at));
                continue;
            }
            Ok(watcher::Event::Init) => continue,
            Err(err) => {
                eprintln!("pod watch: {err}");
                continue;
            }
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        if pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
            let _ = tx.send((Seen::Bound(name.clone()), at));
        }
        if pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
            let _ = tx.send((Seen::Running(name), at));
        }
    }
}

/// Takes watch reports into `timeline` until `done` holds or the deadline passes.
async fn follow(
    rx: &mut mpsc::UnboundedReceiver<(Seen, Instant)>,
    timeline: &mut Timeline,
    what: &str,
    done: impl Fn(&Timeline) -> bool,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !done(timeline) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((seen, at))) => timeline.absorb(seen, at),
            Ok(None) => bail!("the pod watch ended while waiting for {what}"),
            Err(_) => bail!("{what} did not happen within {DEADLINE:?}"),
        }
    }
    Ok(())
}

/// Per-pod durations, sorted, from `from[name]` to `to[name]`.
fn spans(names: &[String], from: &HashMap<String, Instant>, to: &HashMap<String, Instant>) -> Vec<Duration> {
    let mut out: Vec<Duration> =
        names.iter().filter_map(|n| Some(to.get(n)?.saturating_duration_since(*from.get(n)?))).collect();
    out.sort_unstable();
    out
}

fn ms(sorted: &[Duration], pct: f64) -> String {
    format!("{:.0} ms", percentile_ms(sorted, pct))
}

/// Waits for the agent's node to be Ready, then for it to carry no taint
/// (the node lifecycle controller removes `not-ready`); returns when each happened.
async fn wait_node_schedulable(nodes: &Api<Node>, bench: &Bench) -> Result<(Instant, Instant)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut ready_at = None;
    loop {
        if let Some(node) = nodes.get_opt(AGENT_NODE).await.ok().flatten() {
            let conditions = node.status.and_then(|s| s.conditions).unwrap_or_default();
            if ready_at.is_none() && conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True") {
                ready_at = Some(Instant::now());
            }
            let untainted = node.spec.and_then(|s| s.taints).is_none_or(|t| t.is_empty());
            if let (Some(ready), true) = (ready_at, untainted) {
                return Ok((ready, Instant::now()));
            }
        }
        if Instant::now() > deadline {
            bail!("node {AGENT_NODE} was not Ready and untainted within 120 s\n{}", bench.tail("agent.log"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pod_object(name: &str, pin: bool) -> Result<Pod> {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "podbench"}},
        "spec": {
            "terminationGracePeriodSeconds": 10,
            "containers": [{
                "name": "sleep", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                // sh as PID 1 leaves on SIGTERM, so the delete measures the agent, not the grace period.
                "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"],
            }],
        },
    });
    if pin {
        pod["spec"]["nodeName"] = json!(AGENT_NODE);
    }
    Ok(serde_json::from_value(pod)?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let bramble = std::fs::canonicalize(&args.bramble).with_context(|| format!("{}", args.bramble.display()))?;
    let before = machine_busy();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let others = 100.0 * machine_busy().saturating_sub(before).as_secs_f64() / cores as f64;
    eprintln!("the machine was {others:.0} % busy before the run (other work there skews the figures)");
    let scratch = tempfile::Builder::new().prefix("podbench-").tempdir()?;
    let lab = netlab::Lab::new(2);
    let mut bench =
        Bench { bramble, server: None, agent: None, uids: Vec::new(), keep_logs: args.logs.clone(), lab, scratch };
    let root = bench.scratch.path().to_path_buf();

    let images = root.join("agent/data/agent/images");
    std::fs::create_dir_all(&images)?;
    std::fs::write(images.join("busybox.tar"), busybox_archive()?)?;
    let config = root.join("config.yaml");
    std::fs::write(&config, "{}\n")?;
    let kubeconfig = root.join("kubeconfig.yaml");
    let (server_ip, agent_ip) = (bench.lab.ip(0), bench.lab.ip(1));

    eprintln!("starting the server in {} ({server_ip})", bench.lab.ns(0));
    let mut server_args: Vec<OsString> = vec!["server".into(), "--config".into(), config.into()];
    server_args.extend(node_flags(&root, "server", SERVER_NODE, &server_ip));
    server_args.extend(["--disable-agent".into(), "--tls-san".into(), server_ip.clone().into()]);
    server_args.extend(["--write-kubeconfig".into(), kubeconfig.clone().into()]);
    bench.server = Some(bench.spawn(0, &server_args, "server.log")?);
    let server_pid = bench.server.as_ref().map(Child::id).unwrap_or_default();
    let token_path = root.join("server/data/server/token");
    let started = Instant::now();
    let (client, token) = loop {
        if let (Ok(text), Ok(token)) = (std::fs::read_to_string(&kubeconfig), std::fs::read_to_string(&token_path)) {
            // The kubeconfig names 127.0.0.1, right inside node 0; we reach the server on the lab bridge.
            let lab_kubeconfig = root.join("lab-kubeconfig.yaml");
            std::fs::write(&lab_kubeconfig, text.replace("127.0.0.1", &server_ip))?;
            if let Ok(c) = client(&lab_kubeconfig).await
                && Api::<Node>::all(c.clone()).list(&Default::default()).await.is_ok()
            {
                break (c, token.trim().to_string());
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server did not start\n{}", bench.tail("server.log"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    eprintln!("starting the agent in {} ({agent_ip})", bench.lab.ns(1));
    let mut agent_args: Vec<OsString> =
        vec!["agent".into(), "--server".into(), format!("https://{server_ip}:6443").into(), "--token".into()];
    agent_args.push(token.into());
    agent_args.extend(node_flags(&root, "agent", AGENT_NODE, &agent_ip));
    let agent_started = Instant::now();
    bench.agent = Some(bench.spawn(1, &agent_args, "agent.log")?);
    let agent_pid = bench.agent.as_ref().map(Child::id).unwrap_or_default();
    let nodes: Api<Node> = Api::all(client.clone());
    let (ready_at, schedulable_at) = wait_node_schedulable(&nodes, &bench).await?;
    let to_ready = ready_at.saturating_duration_since(agent_started);
    let to_schedulable = schedulable_at.saturating_duration_since(agent_started);
    if comm(agent_pid) != "bramble" || comm(server_pid) != "bramble" {
        bail!("the lab's processes are not bramble: {} and {}", comm(agent_pid), comm(server_pid));
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    while accounts.get_opt("default").await?.is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "node Ready after {}, untainted after {}; settling {} s",
        secs(to_ready),
        secs(to_schedulable),
        args.settle
    );
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let idle = node_memory(&bench, agent_pid)?;
    let server_idle = rss_bytes(server_pid)?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watch = tokio::spawn(watch_pods(pods.clone(), tx));
    match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
        Ok(Some((Seen::Synced, _))) => {}
        _ => bail!("the pod watch did not start"),
    }
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(agent_pid).unwrap_or(0), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let containerd = containerd_pid(&bench).context("no containerd in the agent's namespace")?;
    let pids = Pids { agent: agent_pid, containerd, server: server_pid };
    let cpu_before = CpuUse::now(&bench, pids);

    let names: Vec<String> = (0..args.pods).map(|i| format!("podbench-{i:02}")).collect();
    let placement = if args.pin { "pinned with spec.nodeName" } else { "placed by the scheduler" };
    eprintln!("creating {} pods, {placement}", args.pods);
    let mut created = HashMap::new();
    let first_create = Instant::now();
    for name in &names {
        created.insert(name.clone(), Instant::now());
        let pod = pods.create(&PostParams::default(), &pod_object(name, args.pin)?).await?;
        bench.uids.extend(pod.metadata.uid);
    }
    let creates_took = first_create.elapsed();
    let mut timeline = Timeline::default();
    let all_running = |t: &Timeline| names.iter().all(|n| t.running.contains_key(n));
    if let Err(err) = follow(&mut rx, &mut timeline, "all pods Running", all_running).await {
        bail!("{err}\n{}", bench.tail("agent.log"));
    }
    let last_running = names.iter().filter_map(|n| timeline.running.get(n)).max().copied().unwrap_or(first_create);
    let cpu = CpuUse::now(&bench, pids).since(cpu_before);
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let to_running = spans(&names, &created, &timeline.running);
    let to_bound = spans(&names, &created, &timeline.bound);
    let bound_to_running = spans(&names, &timeline.bound, &timeline.running);
    eprintln!("pod        bound   Running  (ms after its create)");
    for name in &names {
        let after = |map: &HashMap<String, Instant>| {
            map.get(name).map_or(f64::NAN, |t| t.saturating_duration_since(created[name]).as_secs_f64() * 1e3)
        };
        eprintln!("{name} {:>7.0} {:>8.0}", after(&timeline.bound), after(&timeline.running));
    }

    eprintln!("all Running; settling {} s", args.settle);
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let busy = node_memory(&bench, agent_pid)?;
    let server_busy = rss_bytes(server_pid)?;

    eprintln!("deleting the pods");
    let mut deleted = HashMap::new();
    let first_delete = Instant::now();
    for name in &names {
        deleted.insert(name.clone(), Instant::now());
        pods.delete(name, &DeleteParams::default()).await?;
    }
    let all_gone = |t: &Timeline| names.iter().all(|n| t.gone.contains_key(n));
    if let Err(err) = follow(&mut rx, &mut timeline, "all pods gone", all_gone).await {
        bail!("{err}\n{}", bench.tail("agent.log"));
    }
    let last_gone = names.iter().filter_map(|n| timeline.gone.get(n)).max().copied().unwrap_or(first_delete);
    let to_gone = spans(&names, &deleted, &timeline.gone);
    let containerd_empty = loop {
        if bench.containerd_containers() == 0 {
            break first_delete.elapsed();
        }
        if first_delete.elapsed() > DEADLINE {
            bail!("containers left in containerd {DEADLINE:?} after the deletes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let after = node_memory(&bench, agent_pid)?;
    watch.abort();

    let n = args.pods;
    println!("| {n} pods, one node, {placement}, local image | bramble | k3s / target |");
    println!("|---|---:|---:|");
    println!("| machine busy before the run (other work) | {others:.0} % | |");
    println!("| agent start → node Ready | {} | |", secs(to_ready));
    println!("| agent start → node untainted (schedulable) | {} | |", secs(to_schedulable));
    println!("| pod create → Running, p50 | {} | < 1 s |", ms(&to_running, 50.0));
    println!("| pod create → Running, p99 | {} | |", ms(&to_running, 99.0));
    println!("| pod create → Running, max | {} | |", ms(&to_running, 100.0));
    println!("| pod create → bound, p50 / max | {} / {} | |", ms(&to_bound, 50.0), ms(&to_bound, 100.0));
    println!(
        "| pod bound → Running, p50 / max | {} / {} | |",
        ms(&bound_to_running, 50.0),
        ms(&bound_to_running, 100.0)
    );
    println!(
        "| all {n} Running, from the first create ({n} creates took {:.0} ms) | {} | |",
        creates_took.as_secs_f64() * 1e3,
        secs(last_running.saturating_duration_since(first_create))
    );
    let start_wall = last_running.saturating_duration_since(first_create);
    println!(
        "| machine CPU busy while starting them ({cores} cores) | {} ({:.0} %) | |",
        secs(cpu.machine),
        100.0 * cpu.machine.as_secs_f64() / (start_wall.as_secs_f64() * cores as f64)
    );
    println!(
        "| … of it: agent / containerd / CNI plugins and shim launches / shims with runc / pods' processes | \
         {} / {} / {} / {} / {} | |",
        secs(cpu.agent),
        secs(cpu.containerd),
        secs(cpu.containerd_children),
        secs(cpu.shims),
        secs(cpu.pods)
    );
    println!(
        "| … of it: server / this benchmark / kernel threads / everything else (other work) | {} / {} / {} / {} | |",
        secs(cpu.server),
        secs(cpu.bench),
        secs(cpu.kernel),
        secs(cpu.rest())
    );
    println!("| pod delete → gone from the API, p50 | {} | |", ms(&to_gone, 50.0));
    println!("| delete → all {n} gone from the API | {} | |", secs(last_gone.saturating_duration_since(first_delete)));
    println!("| delete → no container or sandbox left in containerd | {} | |", secs(containerd_empty));
    println!("| agent RSS idle (bramble agent alone) | {} | < 40 MiB |", mib(idle.agent));
    println!("| agent RSS with {n} pods | {} | < 40 MiB; k3s ~268 MB (Pi 4) |", mib(busy.agent));
    println!(
        "| … of it anonymous (heap, stacks; the rest is the binary's pages), idle / with {n} pods | {} / {} | |",
        mib(idle.agent_anon),
        mib(busy.agent_anon)
    );
    println!(
        "| agent RSS peak while starting them / after deleting them | {} / {} | |",
        mib(peak.load(Ordering::Relaxed)),
        mib(after.agent)
    );
    println!("| containerd RSS idle / with {n} pods | {} / {} | |", mib(idle.containerd), mib(busy.containerd));
    println!("| agent + containerd RSS with {n} pods | {} | k3s ~268 MB (Pi 4) |", mib(busy.agent + busy.containerd));
    println!(
        "| {} containerd-shim-runc-v2, RSS sum / PSS sum | {} / {} | |",
        busy.shims,
        mib(busy.shims_rss),
        mib(busy.shims_pss)
    );
    println!(
        "| {} container processes (pause, sh, sleep), RSS sum | {} | |",
        busy.containers,
        mib(busy.containers_rss)
    );
    println!("| server RSS idle / with {n} pods (`--disable-agent`) | {} / {} | |", mib(server_idle), mib(server_busy));
    println!("| server + agent RSS with {n} pods | {} | < 150 MiB (budget) |", mib(server_busy + busy.agent));
    println!();
    println!(
        "k3s's ~268 MB is its agent process on a Pi 4, containerd embedded in it (the shims and containers are \
         separate processes there too): compare it with agent + containerd. Server + agent is two processes \
         here (`server --disable-agent` and `agent`); `bramble server` with its own agent is one."
    );
    Ok(())
}
