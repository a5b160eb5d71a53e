//! schedbench: the controllers-and-scheduler issue's benchmark. It starts
//! the release `bramble server` on a fresh data directory, registers N
//! hollow nodes (`bramble hollow-nodes`, a separate process), creates
//! Deployments totalling P pods, and measures how fast the ReplicaSet
//! controller creates them, the scheduler binds them and the hollow
//! kubelets report them Running, and the server's RSS at that scale. It
//! prints one Markdown table beside the targets. A hand-run
//! benchmark, not a test: it asserts nothing about speed.
//!
//! Run: `./x bench sched` (or `cargo run --release --example schedbench --
//! --bramble target/release/bramble`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

// The percentiles and the etcd command line serve the other benchmarks.
#[allow(dead_code)]
mod common;
use common::{free_port, per_second, rss_bytes};

#[derive(Parser, Debug)]
#[command(about = "Schedule and run pods on hollow nodes, and measure the server")]
struct Args {
    /// The release `bramble` binary.
    #[arg(long)]
    bramble: PathBuf,
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    #[arg(long, default_value_t = 3000)]
    pods: usize,
    /// Pods per Deployment.
    #[arg(long, default_value_t = 100)]
    per_deployment: usize,
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child> {
    let file = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file).spawn().context("spawn")
}

async fn client(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let scratch = tempfile::Builder::new().prefix("schedbench-").tempdir()?;
    let kubeconfig = scratch.path().join("kubeconfig.yaml");
    let config_file = scratch.path().join("config.yaml");
    std::fs::write(&config_file, "{}\n")?;
    let mut cmd = Command::new(&args.bramble);
    cmd.args(["server", "--config"])
        .arg(&config_file)
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        .args(["--https-listen-port", &free_port().to_string(), "--bind-address", "127.0.0.1"])
        .args(["--etcd-listen-client-urls", &format!("http://127.0.0.1:{}", free_port())])
        .args(["--node-name", "schedbench", "--node-ip", "127.0.0.1", "--disable-agent"])
        .arg("--write-kubeconfig")
        .arg(&kubeconfig)
        .env("RUST_LOG", "warn");
    let server = Killed(spawn_logged(cmd, &scratch.path().join("server.log"))?);
    let pid = server.0.id();
    let started = Instant::now();
    let client = loop {
        if kubeconfig.exists()
            && let Ok(c) = client(&kubeconfig).await
            && Api::<Node>::all(c.clone()).list(&ListParams::default()).await.is_ok()
        {
            break c;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let rss_idle = rss_bytes(pid)?;

    let mut hollow = Command::new(&args.bramble);
    hollow
        .args(["hollow-nodes", "--nodes", &args.nodes.to_string(), "--max-pods", "110", "--kubeconfig"])
        .arg(&kubeconfig);
    hollow.env("RUST_LOG", "warn");
    let _hollow = Killed(spawn_logged(hollow, &scratch.path().join("hollow.log"))?);
    let nodes: Api<Node> = Api::all(client.clone());
    eprintln!("waiting for {} Ready, untainted nodes", args.nodes);
    loop {
        let list = nodes.list(&ListParams::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|n| n.spec.as_ref().and_then(|s| s.taints.as_ref()).is_none_or(Vec::is_empty))
            .count();
        if ready >= args.nodes {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let count = args.pods.div_ceil(args.per_deployment);
    eprintln!("creating {count} Deployments of {} pods", args.per_deployment);
    let t0 = Instant::now();
    for i in 0..count {
        let replicas = args.per_deployment.min(args.pods - i * args.per_deployment);
        let d: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("bench-{i}")},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"bench": format!("d{i}")}},
              "template": {"metadata": {"labels": {"bench": format!("d{i}")}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1",
                  "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}
        }))?;
        deployments.create(&PostParams::default(), &d).await?;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (mut created_at, mut bound_at, mut running_at) = (None, None, None);
    let mut peak_rss = 0;
    loop {
        let list = pods.list(&ListParams::default()).await?;
        peak_rss = peak_rss.max(rss_bytes(pid)?);
        let created = list.items.len();
        let bound = list.items.iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()).count();
        let running =
            list.items.iter().filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).count();
        eprintln!("{:>5.1}s created {created} bound {bound} running {running}", t0.elapsed().as_secs_f64());
        if created >= args.pods && created_at.is_none() {
            created_at = Some(t0.elapsed());
        }
        if bound >= args.pods && bound_at.is_none() {
            bound_at = Some(t0.elapsed());
        }
        if running >= args.pods {
            running_at = Some(t0.elapsed());
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rss_end = rss_bytes(pid)?;
    let rate = |t: Option<Duration>| {
        t.map_or("not reached".to_string(), |t| {
            format!("{:.0} pods/s ({:.1} s)", per_second(args.pods, t), t.as_secs_f64())
        })
    };
    println!("| {} pods on {} hollow nodes | bramble | target |", args.pods, args.nodes);
    println!("|---|---|---|");
    println!("| pods created (ReplicaSet controller) | {} | |", rate(created_at));
    println!("| pods bound (scheduler) | {} | ≥ 100 pods/s |", rate(bound_at));
    println!("| pods Running (hollow kubelets) | {} | |", rate(running_at));
    println!("| server RSS idle | {} | |", mib(rss_idle));
    println!("| server RSS peak / end | {} / {} | far below k3s's 1.2–1.6 GB |", mib(peak_rss), mib(rss_end));
    Ok(())
}
