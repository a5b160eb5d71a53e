//! The agent's pod runtime: a watch of the pods bound to this node, one
//! worker per pod driving it through CRI ([`pod_worker`]), and one writer
//! that puts their statuses, events and final deletes to the API. At start
//! it removes the sandboxes of pods that no longer exist; workers adopt the
//! sandboxes and containers of pods that still do (fail-static). Image
//! import, CNI and streaming are elsewhere.

pub mod backoff;
pub mod env;
pub mod eviction;
pub mod image_gc;
pub mod pod_worker;
pub mod probe;
pub mod spec;
pub mod status;
pub mod volumes;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Event, EventSource, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::cri::CriError;
use crate::eviction::{Pressure, Thresholds};
use crate::kubelet_args::ImageGcPolicy;
use crate::paths::AgentPaths;
use pod_worker::{PodRuntime, Report};

#[derive(Debug, Clone)]
pub struct KubeletConfig {
    pub node_name: String,
    pub paths: AgentPaths,
    /// The CRI socket (containerd's).
    pub cri_socket: PathBuf,
    pub node_ip: String,
    /// The node's pod CIDR; `None`: wait for the Node's `spec.podCIDR`.
    pub pod_cidr: Option<String>,
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    /// The node's data directory: its filesystem is the nodefs of the eviction signals.
    pub data_dir: PathBuf,
    pub thresholds: Thresholds,
    pub image_gc: ImageGcPolicy,
    /// Images never garbage-collected: the sandbox image and the air-gap imports.
    pub pinned_images: Vec<String>,
    /// Where the eviction manager tells the node's status what pressure it sees.
    pub pressure: watch::Sender<Pressure>,
}

#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error("CRI: {0}")]
    Cri(#[from] CriError),
    #[error("reading Node {node}: {source}")]
    Node {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("watching pods of node {node}: {source}")]
    Watch {
        node: String,
        #[source]
        source: watcher::Error,
    },
}

/// Runs the pods bound to `config.node_name` until the pod watch ends.
pub async fn run(client: kube::Client, config: KubeletConfig) -> Result<(), KubeletError> {
    let cri = crate::cri::connect(&config.cri_socket).await?;
    let pod_cidr = match config.pod_cidr.clone() {
        Some(cidr) => cidr,
        None => wait_for_pod_cidr(&client, &config.node_name).await?,
    };
    let request = cri::UpdateRuntimeConfigRequest {
        runtime_config: Some(cri::RuntimeConfig { network_config: Some(cri::NetworkConfig { pod_cidr }) }),
    };
    if let Err(status) = cri.runtime.clone().update_runtime_config(request).await {
        tracing::warn!(error = %status, "UpdateRuntimeConfig (pod CIDR)");
    }
    let (reports_tx, reports_rx) = mpsc::unbounded_channel();
    let rt = Arc::new(PodRuntime {
        cri: cri.clone(),
        client: client.clone(),
        paths: config.paths.clone(),
        node_name: config.node_name.clone(),
        node_ip: config.node_ip.clone(),
        cluster_dns: config.cluster_dns.clone(),
        cluster_domain: config.cluster_domain.clone(),
        host_resolv_conf: std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        host_hosts: std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
        node_hostname: node_hostname(),
        memory_capacity: memory_capacity(),
        reports: reports_tx,
        active: Default::default(),
        evictions: Default::default(),
    });
    let mut tasks: JoinSet<Option<String>> = JoinSet::new();
    let node_name = config.node_name.clone();
    tasks.spawn(async move {
        write_reports(client, &node_name, reports_rx).await;
        None
    });
    let manager = eviction::EvictionManager {
        rt: rt.clone(),
        thresholds: config.thresholds.clone(),
        data_dir: config.data_dir.clone(),
        image_gc: image_gc::ImageGc::new(
            cri.clone(),
            config.image_gc,
            config.paths.containerd_root(),
            config.pinned_images.clone(),
        ),
        pressure: config.pressure.clone(),
    };
    tasks.spawn(async move {
        manager.run().await;
        None
    });
    let result = watch_pods(rt, &config, &mut tasks).await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    result
}

async fn wait_for_pod_cidr(client: &kube::Client, node: &str) -> Result<String, KubeletError> {
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        match nodes.get_opt(node).await {
            Ok(Some(n)) => {
                if let Some(cidr) = n.spec.and_then(|s| s.pod_cidr).filter(|c| !c.is_empty()) {
                    return Ok(cidr);
                }
            }
            Ok(None) => {}
            Err(source) => return Err(KubeletError::Node { node: node.into(), source }),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn node_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn memory_capacity() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(1 << 30)
}

/// Workers by pod uid; a worker ends when its pod is deleted and its containers are gone.
async fn watch_pods(
    rt: Arc<PodRuntime>,
    config: &KubeletConfig,
    tasks: &mut JoinSet<Option<String>>,
) -> Result<(), KubeletError> {
    let pods: Api<Pod> = Api::all(rt.client.clone());
    let selector = format!("spec.nodeName={}", config.node_name);
    let mut stream = watcher(pods, watcher::Config::default().fields(&selector)).boxed();
    let mut workers: HashMap<String, watch::Sender<Option<Pod>>> = HashMap::new();
    let mut listed: Option<HashSet<String>> = None;
    let mut gc_done = false;
    loop {
        tokio::select! {
            event = stream.next() => {
                let Some(event) = event else { return Ok(()) };
                let event = match event {
                    Ok(event) => event,
                    Err(err) => {
                        // The watcher re-lists by itself; a backoff keeps it from spinning.
                        tracing::warn!(error = %err, "pod watch");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                match event {
                    watcher::Event::Init => listed = Some(HashSet::new()),
                    watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) => {
                        let Some(uid) = pod.metadata.uid.clone() else { continue };
                        if let Some(seen) = listed.as_mut() {
                            seen.insert(uid.clone());
                        }
                        match workers.get(&uid) {
                            Some(tx) => {
                                let _ = tx.send(Some(pod));
                            }
                            None => {
                                let (tx, rx) = watch::channel(Some(pod));
                                workers.insert(uid.clone(), tx);
                                let rt = rt.clone();
                                tasks.spawn(async move {
                                    pod_worker::run(rt, rx).await;
                                    Some(uid)
                                });
                            }
                        }
                    }
                    watcher::Event::Delete(pod) => {
                        if let Some(tx) = pod.metadata.uid.as_ref().and_then(|uid| workers.get(uid)) {
                            let _ = tx.send(None);
                        }
                    }
                    watcher::Event::InitDone => {
                        let seen = listed.take().unwrap_or_default();
                        // After a re-list, pods that vanished meanwhile are gone.
                        for (uid, tx) in &workers {
                            if !seen.contains(uid) {
                                let _ = tx.send(None);
                            }
                        }
                        if !gc_done {
                            gc_done = true;
                            remove_orphans(&rt, &seen).await;
                        }
                    }
                }
            }
            Some(done) = tasks.join_next() => {
                if let Ok(Some(uid)) = done {
                    workers.remove(&uid);
                }
            }
        }
    }
}

/// Stops and removes the sandboxes (and containers) of pods that no longer exist.
async fn remove_orphans(rt: &PodRuntime, live: &HashSet<String>) {
    let Ok(sandboxes) = rt.cri.list_pod_sandboxes(HashMap::new()).await else { return };
    for sandbox in sandboxes {
        let Some(uid) = sandbox.labels.get(spec::POD_UID_LABEL) else { continue };
        if live.contains(uid) {
            continue;
        }
        tracing::info!(sandbox = %sandbox.id, pod = %uid, "removing the sandbox of a pod that no longer exists");
        for c in rt.cri.list_containers(&sandbox.id, HashMap::new()).await.unwrap_or_default() {
            let _ = rt.cri.stop_container(&c.id, Duration::from_secs(2)).await;
            let _ = rt.cri.remove_container(&c.id).await;
        }
        let _ = rt.cri.stop_pod_sandbox(&sandbox.id).await;
        if let Err(err) = rt.cri.remove_pod_sandbox(&sandbox.id).await {
            tracing::warn!(sandbox = %sandbox.id, error = %err, "removing an orphaned sandbox");
        }
        let _ = volumes::cleanup(&rt.paths.pod_dir(uid));
    }
}

/// Puts the workers' reports to the API, one at a time, in order.
async fn write_reports(client: kube::Client, node_name: &str, mut reports: mpsc::UnboundedReceiver<Report>) {
    while let Some(report) = reports.recv().await {
        match report {
            Report::Status { namespace, name, uid, status } => {
                let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
                // The uid guards against writing a status onto a new pod of the same name.
                let patch = json!({"metadata": {"uid": uid}, "status": status});
                if let Err(err) = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    tracing::warn!(pod = %name, %namespace, error = %err, "writing pod status");
                }
            }
            Report::Terminated { namespace, name, uid } => {
                let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions { uid: Some(uid), resource_version: None }),
                    ..Default::default()
                };
                match api.delete(&name, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
                    Err(err) => tracing::warn!(pod = %name, %namespace, error = %err, "finishing the pod's delete"),
                }
            }
            Report::Event { namespace, name, uid, reason, message, warning } => {
                let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
                let now = Timestamp::now();
                let event = Event {
                    metadata: ObjectMeta {
                        name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                        namespace: Some(namespace.clone()),
                        ..Default::default()
                    },
                    involved_object: ObjectReference {
                        api_version: Some("v1".into()),
                        kind: Some("Pod".into()),
                        name: Some(name.clone()),
                        namespace: Some(namespace.clone()),
                        uid: Some(uid),
                        ..Default::default()
                    },
                    reason: Some(reason),
                    message: Some(message),
                    type_: Some(if warning { "Warning" } else { "Normal" }.into()),
                    // As the kubelet's legacy recorder writes them: no eventTime (with one,
                    // validation asks for an action, as for events.k8s.io events).
                    source: Some(EventSource { component: Some("kubelet".into()), host: Some(node_name.into()) }),
                    first_timestamp: Some(Time(now)),
                    last_timestamp: Some(Time(now)),
                    event_time: None,
                    count: Some(1),
                    reporting_component: Some("kubelet".into()),
                    reporting_instance: Some(node_name.into()),
                    action: None,
                    related: None,
                    series: None,
                };
                if let Err(err) = api.create(&PostParams::default(), &event).await {
                    tracing::warn!(pod = %name, error = %err, "recording an event");
                }
            }
        }
    }
}
