//! apibench: the API server issue's benchmark. It starts the release
//! `bramble server` twice on fresh data directories, once on its embedded
//! store and once on a real etcd 3.4 (`--datastore-endpoint`), drives the same
//! load through a real client library (kube-rs over HTTPS with the admin
//! certificate), and prints one Markdown table beside the targets.
//! It is a hand-run benchmark, not a test: it asserts nothing about speed.
//!
//! Run: `./x bench api` (or `cargo run --release --example apibench --
//! --bramble target/release/bramble`). Progress goes to stderr, the table to
//! stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use http::Request;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

mod common;
use common::{free_port, p50_p99, per_second, rss_bytes};

#[derive(Parser, Debug)]
#[command(about = "Measure bramble's Kubernetes API server on its embedded store and on etcd 3.4")]
struct Args {
    /// The release `bramble` binary.
    #[arg(long)]
    bramble: PathBuf,
    /// The reference etcd 3.4 server, for the second column.
    #[arg(long, default_value = "/usr/bin/etcd")]
    etcd: PathBuf,
    /// Objects created for the "with N objects" figures.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
}

/// Pods in the namespace that the LIST figures read.
const LIST_PODS: usize = 1_000;
const LISTS: usize = 50;
const SEQUENTIAL_CREATES: usize = 500;
const IN_FLIGHT: usize = 16;
const WATCHED_WRITES: usize = 500;
const START_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Row {
    StartToReady,
    RssIdle,
    CreateP50,
    CreateP99,
    CreatesPerSecond,
    RssWithObjects,
    ListJsonP50,
    ListJsonP99,
    ListTableP50,
    ListTableP99,
    WatchP50,
    WatchP99,
    RssAfter,
}

impl Row {
    const ALL: [Row; 13] = [
        Row::StartToReady,
        Row::RssIdle,
        Row::CreateP50,
        Row::CreateP99,
        Row::CreatesPerSecond,
        Row::RssWithObjects,
        Row::ListJsonP50,
        Row::ListJsonP99,
        Row::ListTableP50,
        Row::ListTableP99,
        Row::WatchP50,
        Row::WatchP99,
        Row::RssAfter,
    ];

    /// Label, unit, and the target where it sets one.
    fn spec(self, objects: usize) -> (String, &'static str, &'static str) {
        let (label, unit, target) = match self {
            Row::StartToReady => ("start to /readyz".to_string(), "ms", "~2000 (whole node)"),
            Row::RssIdle => ("RSS idle after start".to_string(), "MiB", "< 60"),
            Row::CreateP50 => ("create pod, sequential, p50".to_string(), "ms", ""),
            Row::CreateP99 => ("create pod, sequential, p99".to_string(), "ms", ""),
            Row::CreatesPerSecond => (format!("create pods, {IN_FLIGHT} in flight"), "pods/s", ""),
            Row::RssWithObjects => (format!("RSS with {objects} pods"), "MiB", ""),
            Row::ListJsonP50 => (format!("LIST {LIST_PODS} pods, JSON, p50"), "ms", "< 30"),
            Row::ListJsonP99 => (format!("LIST {LIST_PODS} pods, JSON, p99"), "ms", ""),
            Row::ListTableP50 => (format!("LIST {LIST_PODS} pods, Table, p50"), "ms", "< 30"),
            Row::ListTableP99 => (format!("LIST {LIST_PODS} pods, Table, p99"), "ms", ""),
            Row::WatchP50 => ("create → watch event, p50".to_string(), "ms", ""),
            Row::WatchP99 => ("create → watch event, p99".to_string(), "ms", ""),
            Row::RssAfter => ("RSS at the end".to_string(), "MiB", ""),
        };
        (label, unit, target)
    }
}

/// A `bramble server` (and its etcd, for the second column), killed when dropped.
struct Server {
    child: Child,
    etcd: Option<Child>,
    client: Client,
    log: PathBuf,
    _scratch: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        for child in [Some(&mut self.child), self.etcd.as_mut()].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child> {
    let file = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file).spawn().context("spawn")
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Starts the server and returns it once `/readyz` answers, with the time that took.
async fn start(args: &Args, external: bool) -> Result<(Server, Duration)> {
    let scratch = tempfile::Builder::new().prefix("apibench-").tempdir()?;
    let etcd_url = format!("http://127.0.0.1:{}", free_port());
    let etcd = if external {
        let cmd = common::etcd_command(&args.etcd, &scratch.path().join("etcd"), &etcd_url);
        let child = spawn_logged(cmd, &scratch.path().join("etcd.log"))?;
        // etcd answers once it has elected itself; give it a moment before bramble dials it.
        wait_for_etcd(&etcd_url).await?;
        Some(child)
    } else {
        None
    };
    let kubeconfig = scratch.path().join("kubeconfig.yaml");
    let config_file = scratch.path().join("config.yaml");
    std::fs::write(&config_file, "{}\n")?;
    let log = scratch.path().join("server.log");
    let mut cmd = Command::new(&args.bramble);
    cmd.args(["server", "--config"])
        .arg(&config_file)
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        .args(["--https-listen-port", &free_port().to_string(), "--bind-address", "127.0.0.1"])
        .args(["--node-name", "apibench", "--node-ip", "127.0.0.1", "--disable-agent"])
        .arg("--write-kubeconfig")
        .arg(&kubeconfig)
        // Per-request logging would measure the logger, not the server.
        .env("RUST_LOG", "warn");
    if external {
        cmd.args(["--datastore-endpoint", &etcd_url]);
    } else {
        cmd.args(["--etcd-listen-client-urls", &etcd_url]);
    }
    let started = Instant::now();
    let mut child = spawn_logged(cmd, &log)?;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("bramble exited during start-up with {status}:\n{}", tail(&log));
        }
        if kubeconfig.exists()
            && let Ok(client) = client(&kubeconfig).await
            && client.request_text(get("/readyz")).await.is_ok()
        {
            let ready = started.elapsed();
            let server = Server { child, etcd, client, log, _scratch: scratch };
            return Ok((server, ready));
        }
        if started.elapsed() > START_DEADLINE {
            let _ = child.kill();
            bail!("bramble was not ready within {START_DEADLINE:?}:\n{}", tail(&log));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait_for_etcd(url: &str) -> Result<()> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Ok(mut c) = etcd_client::Client::connect([url], None).await
            && c.get("/", None).await.is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("etcd did not answer on {url}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn client(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

fn get(path: &str) -> Request<Vec<u8>> {
    Request::get(path).body(Vec::new()).expect("a GET request")
}

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "apibench", "tier": "web"}},
        "spec": {"containers": [{
            "name": "app",
            "image": "registry.home.arpa/app:1.0",
            "ports": [{"containerPort": 8080, "name": "http"}],
            "env": [{"name": "MODE", "value": "bench"}],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        }]},
    })
}

async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let req = Request::post("/api/v1/namespaces")
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())?;
    client.request_text(req).await.with_context(|| format!("create namespace {name}"))?;
    Ok(())
}

async fn create_pod(client: &Client, namespace: &str, name: &str) -> Result<()> {
    let req = Request::post(format!("/api/v1/namespaces/{namespace}/pods"))
        .header("content-type", "application/json")
        .body(pod(name).to_string().into_bytes())?;
    client.request_text(req).await.with_context(|| format!("create pod {namespace}/{name}"))?;
    Ok(())
}

/// Creates `count` pods with `in_flight` requests outstanding; returns pods per second.
async fn create_pods(client: &Client, namespace: &str, prefix: &str, count: usize, in_flight: usize) -> Result<f64> {
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let client = client.clone();
            async move { create_pod(&client, namespace, &format!("{prefix}-{i:05}")).await }
        })
        .buffer_unordered(in_flight)
        .try_collect::<()>()
        .await?;
    Ok(per_second(count, started.elapsed()))
}

async fn measure(args: &Args, external: bool, figures: &mut BTreeMap<Row, f64>) -> Result<()> {
    let (server, ready) = start(args, external).await?;
    let outcome = load(&server, ready, args, figures).await;
    outcome.with_context(|| format!("server log tail:\n{}", tail(&server.log)))
}

async fn load(server: &Server, ready: Duration, args: &Args, figures: &mut BTreeMap<Row, f64>) -> Result<()> {
    figures.insert(Row::StartToReady, ready.as_secs_f64() * 1e3);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = server.child.id();
    figures.insert(Row::RssIdle, rss_bytes(pid)? as f64);
    let client = &server.client;

    eprintln!("  sequential creates");
    create_namespace(client, "sequential").await?;
    let mut sample = Vec::with_capacity(SEQUENTIAL_CREATES);
    for i in 0..SEQUENTIAL_CREATES {
        let t = Instant::now();
        create_pod(client, "sequential", &format!("seq-{i:05}")).await?;
        sample.push(t.elapsed());
    }
    let (p50, p99) = p50_p99(sample);
    figures.insert(Row::CreateP50, p50);
    figures.insert(Row::CreateP99, p99);

    eprintln!("  {} creates, {IN_FLIGHT} in flight", args.objects);
    create_namespace(client, "fill").await?;
    let rate = create_pods(client, "fill", "fill", args.objects, IN_FLIGHT).await?;
    figures.insert(Row::CreatesPerSecond, rate);
    figures.insert(Row::RssWithObjects, rss_bytes(pid)? as f64);

    eprintln!("  LIST of {LIST_PODS} pods");
    create_namespace(client, "list").await?;
    create_pods(client, "list", "list", LIST_PODS, IN_FLIGHT).await?;
    for (accept, rows) in [
        ("application/json", (Row::ListJsonP50, Row::ListJsonP99)),
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", (Row::ListTableP50, Row::ListTableP99)),
    ] {
        let mut sample = Vec::with_capacity(LISTS);
        for _ in 0..LISTS {
            let req = Request::get("/api/v1/namespaces/list/pods").header("accept", accept).body(Vec::new())?;
            let t = Instant::now();
            let body = client.request_text(req).await.context("LIST pods")?;
            sample.push(t.elapsed());
            let list: Value = serde_json::from_str(&body)?;
            let n = list["items"].as_array().or(list["rows"].as_array()).map_or(0, Vec::len);
            if n != LIST_PODS {
                bail!("a LIST of the list namespace returned {n} items, not {LIST_PODS}");
            }
        }
        let (p50, p99) = p50_p99(sample);
        figures.insert(rows.0, p50);
        figures.insert(rows.1, p99);
    }

    eprintln!("  watch latency");
    create_namespace(client, "watch").await?;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "watch");
    let mut events = maps.watch(&WatchParams::default().timeout(290), "0").await?.boxed();
    let mut sample = Vec::with_capacity(WATCHED_WRITES);
    for i in 0..WATCHED_WRITES {
        let name = format!("w-{i:05}");
        let cm = ConfigMap {
            metadata: kube::api::ObjectMeta { name: Some(name.clone()), ..Default::default() },
            data: Some([("i".to_string(), i.to_string())].into()),
            ..Default::default()
        };
        let t = Instant::now();
        maps.create(&PostParams::default(), &cm).await?;
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
                .await
                .context("no watch event within 10 s")??
                .context("the watch ended")?;
            if let WatchEvent::Added(o) = event
                && o.metadata.name.as_deref() == Some(name.as_str())
            {
                break;
            }
        }
        sample.push(t.elapsed());
    }
    let (p50, p99) = p50_p99(sample);
    figures.insert(Row::WatchP50, p50);
    figures.insert(Row::WatchP99, p99);
    figures.insert(Row::RssAfter, rss_bytes(pid)? as f64);
    Ok(())
}

fn cell(unit: &str, figure: Option<f64>) -> String {
    match figure {
        None => "—".into(),
        Some(f) if unit == "MiB" => format!("{:.1}", f / (1024.0 * 1024.0)),
        Some(f) if unit == "ms" && f < 10.0 => format!("{f:.2}"),
        Some(f) if unit == "ms" => format!("{f:.1}"),
        Some(f) => format!("{f:.0}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut columns = Vec::new();
    for (name, external) in [("embedded store", false), ("etcd 3.4", true)] {
        eprintln!("bramble server on {name}");
        let mut figures = BTreeMap::new();
        let outcome = measure(&args, external, &mut figures).await;
        if let Err(e) = &outcome {
            eprintln!("  failed: {e:#}");
        }
        columns.push((name, figures, outcome.err().map(|e| format!("{e:#}"))));
    }
    let mut out = String::new();
    let _ = writeln!(out, "| figure | bramble, embedded store | bramble on etcd 3.4 | target |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for row in Row::ALL {
        let (label, unit, target) = row.spec(args.objects);
        let _ = writeln!(
            out,
            "| {label} ({unit}) | {} | {} | {target} |",
            cell(unit, columns[0].1.get(&row).copied()),
            cell(unit, columns[1].1.get(&row).copied()),
        );
    }
    let _ = writeln!(
        out,
        "\nOne client (kube-rs, HTTP/2 over TLS with the admin certificate) on the same machine; pods of about 0.6 KiB \
         before defaulting; {SEQUENTIAL_CREATES} sequential creates, {} creates with {IN_FLIGHT} in flight, \
         {LISTS} LISTs of each kind, {WATCHED_WRITES} watched creates (time from sending the create to receiving its \
         ADDED event).",
        args.objects
    );
    for (name, _, error) in &columns {
        if let Some(error) = error {
            let _ = writeln!(out, "\n**{name}: {error}**");
        }
    }
    print!("{out}");
    Ok(())
}
