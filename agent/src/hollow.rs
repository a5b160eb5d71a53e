//! Hollow nodes: N Node objects with a heartbeat Lease each, and one
//! process playing all their kubelets. A pod bound to a hollow node is
//! reported Running and Ready (containers "started" at once, no images,
//! no processes); a pod marked for deletion is removed, as a kubelet's
//! final delete. Annotations steer a pod's fate for tests:
//! `bramble.dev/hollow-ready: "false"` keeps it unready, and
//! `bramble.dev/hollow-exit: "<code>"` ends its containers with that code
//! after `bramble.dev/hollow-run-seconds` (default 0), making the pod
//! Succeeded or Failed (or restarting it, under restartPolicy Always).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeStatus, NodeSystemInfo, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio::sync::{Mutex, mpsc};

pub use crate::node::{HEARTBEAT, KUBELET_VERSION};

pub const READY_ANNOTATION: &str = "bramble.dev/hollow-ready";
pub const EXIT_ANNOTATION: &str = "bramble.dev/hollow-exit";
pub const RUN_SECONDS_ANNOTATION: &str = "bramble.dev/hollow-run-seconds";

#[derive(Debug, Clone)]
pub struct Config {
    /// Nodes are `<prefix>-0` .. `<prefix>-<count-1>`.
    pub prefix: String,
    pub count: usize,
    pub cpu: String,
    pub memory: String,
    pub max_pods: u32,
    /// Extra labels on every node.
    pub labels: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            prefix: "hollow".into(),
            count: 3,
            cpu: "4".into(),
            memory: "8Gi".into(),
            max_pods: 110,
            labels: BTreeMap::new(),
        }
    }
}

fn node_name(config: &Config, i: usize) -> String {
    format!("{}-{i}", config.prefix)
}

fn now() -> Time {
    Time(Timestamp::now())
}

fn node_object(config: &Config, i: usize) -> Node {
    let name = node_name(config, i);
    let mut labels = config.labels.clone();
    labels.insert("kubernetes.io/hostname".into(), name.clone());
    labels.insert("kubernetes.io/os".into(), "linux".into());
    labels.insert("kubernetes.io/arch".into(), "arm64".into());
    labels.insert("beta.kubernetes.io/os".into(), "linux".into());
    labels.insert("beta.kubernetes.io/arch".into(), "arm64".into());
    labels.insert("bramble.dev/hollow".into(), "true".into());
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", config.cpu.clone()),
        ("memory", config.memory.clone()),
        ("pods", config.max_pods.to_string()),
        ("ephemeral-storage", "30Gi".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v)))
    .collect();
    Node {
        metadata: ObjectMeta { name: Some(name.clone()), labels: Some(labels), ..Default::default() },
        spec: None,
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            addresses: Some(vec![
                NodeAddress { type_: "InternalIP".into(), address: node_ip(i) },
                NodeAddress { type_: "Hostname".into(), address: name },
            ]),
            conditions: Some(crate::node::conditions(Default::default(), &BTreeMap::new())),
            node_info: Some(NodeSystemInfo {
                architecture: "arm64".into(),
                boot_id: String::new(),
                container_runtime_version: "hollow://1.0".into(),
                kernel_version: "hollow".into(),
                kube_proxy_version: String::new(),
                kubelet_version: KUBELET_VERSION.into(),
                machine_id: String::new(),
                operating_system: "linux".into(),
                os_image: "bramble hollow node".into(),
                system_uuid: String::new(),
                swap: None,
            }),
            ..Default::default()
        }),
    }
}

/// 10.99.x.y: hollow nodes' addresses, never routed.
fn node_ip(i: usize) -> String {
    format!("10.99.{}.{}", i / 250, i % 250 + 1)
}

/// Registers the nodes (or takes over existing ones) and plays their
/// kubelets until the process ends.
pub async fn run(client: kube::Client, config: Config) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut uids = Vec::new();
    for i in 0..config.count {
        let node = node_object(&config, i);
        let name = node.metadata.name.clone().unwrap_or_default();
        let created = match nodes.create(&PostParams::default(), &node).await {
            Ok(n) => n,
            Err(kube::Error::Api(s)) if s.code == 409 => nodes.get(&name).await?,
            Err(e) => return Err(e),
        };
        let status = json!({"status": node.status});
        nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await?;
        uids.push((name, created.metadata.uid.unwrap_or_default()));
    }
    tracing::info!(count = config.count, prefix = %config.prefix, "hollow nodes registered");
    tokio::spawn(heartbeats(client.clone(), uids.clone()));
    let names: HashMap<String, usize> = uids.iter().enumerate().map(|(i, (n, _))| (n.clone(), i)).collect();
    kubelets(client, Arc::new(names)).await;
    Ok(())
}

/// Renews every node's Lease in `kube-node-lease` every [`HEARTBEAT`].
async fn heartbeats(client: kube::Client, nodes: Vec<(String, String)>) {
    let leases: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tick.tick().await;
        let beats = nodes.iter().cloned().map(|(name, uid)| {
            let leases = leases.clone();
            async move {
                if let Err(e) = crate::node::renew_lease(&leases, &name, &uid).await {
                    tracing::debug!(node = %name, "heartbeat failed: {e}");
                }
            }
        });
        futures::stream::iter(beats).buffer_unordered(16).collect::<Vec<()>>().await;
    }
}

/// What the hollow kubelets have done to a pod, by uid.
#[derive(Debug, Default)]
struct Seen {
    running: HashSet<String>,
    ips: HashMap<usize, u32>,
}

async fn kubelets(client: kube::Client, nodes: Arc<HashMap<String, usize>>) {
    let pods: Api<Pod> = Api::all(client.clone());
    let (tx, rx) = mpsc::unbounded_channel::<Pod>();
    let rx = Arc::new(Mutex::new(rx));
    let seen = Arc::new(Mutex::new(Seen::default()));
    for _ in 0..8 {
        let rx = Arc::clone(&rx);
        let client = client.clone();
        let seen = Arc::clone(&seen);
        let nodes = Arc::clone(&nodes);
        tokio::spawn(async move {
            loop {
                let Some(pod) = rx.lock().await.recv().await else { return };
                if let Err(e) = play(&client, &nodes, &seen, pod).await {
                    tracing::debug!("hollow kubelet: {e}");
                }
            }
        });
    }
    let mut events = watcher(pods, watcher::Config::default()).default_backoff().boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
                let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
                if nodes.contains_key(node) {
                    let _ = tx.send(pod);
                }
            }
            Ok(watcher::Event::Delete(pod)) => {
                seen.lock().await.running.remove(pod.metadata.uid.as_deref().unwrap_or_default());
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("hollow kubelets' pod watch: {e}"),
        }
    }
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

async fn play(
    client: &kube::Client,
    nodes: &HashMap<String, usize>,
    seen: &Mutex<Seen>,
    pod: Pod,
) -> Result<(), kube::Error> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    if pod.metadata.deletion_timestamp.is_some() {
        // As a kubelet, the pod's containers are killed and its phase made
        // terminal before the object goes (finalizers may hold it a while).
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
        if !matches!(phase, "Succeeded" | "Failed") && pod.spec.as_ref().is_some_and(|s| s.node_name.is_some()) {
            let mut status = finished_status(&pod, 137);
            status["phase"] = json!("Failed");
            if let Err(e) =
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await
            {
                tracing::debug!(pod = %name, "hollow kubelet: cannot mark the deleted pod failed: {e}");
            }
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions { uid: Some(uid.clone()), resource_version: None }),
            ..Default::default()
        };
        return match api.delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e),
        };
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if matches!(phase, "Succeeded" | "Failed") {
        return Ok(());
    }
    let exit: Option<i32> = annotation(&pod, EXIT_ANNOTATION).and_then(|v| v.parse().ok());
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    let first = {
        let mut seen = seen.lock().await;
        seen.running.insert(uid.clone())
    };
    if phase == "Running" && !first {
        return Ok(());
    }
    if phase == "Running" && exit.is_none() {
        return Ok(());
    }
    let index = nodes.get(&node).copied().unwrap_or(0);
    let ip = {
        let mut seen = seen.lock().await;
        let n = seen.ips.entry(index).or_insert(1);
        *n = n.wrapping_add(1);
        format!("10.42.{}.{}", index % 256, (*n % 250) + 2)
    };
    let ready = annotation(&pod, READY_ANNOTATION) != Some("false");
    let status = running_status(&pod, &node_ip(index), &ip, ready);
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await?;
    if let Some(code) = exit {
        let run_for: u64 = annotation(&pod, RUN_SECONDS_ANNOTATION).and_then(|v| v.parse().ok()).unwrap_or(0);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(run_for)).await;
            let status = finished_status(&pod, code);
            if let Err(e) =
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await
            {
                tracing::debug!(pod = %name, "hollow kubelet: cannot finish the pod: {e}");
            }
        });
    }
    Ok(())
}

fn container_names(pod: &Pod) -> Vec<(String, String)> {
    pod.spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| (c.name.clone(), c.image.clone().unwrap_or_default())).collect())
        .unwrap_or_default()
}

fn running_status(pod: &Pod, host_ip: &str, pod_ip: &str, ready: bool) -> serde_json::Value {
    let t = now();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let ready_s = if ready { "True" } else { "False" };
    let containers: Vec<_> = container_names(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": format!("hollow://{image}"),
                "containerID": format!("hollow://{uid}-{name}"), "ready": ready, "started": true,
                "restartCount": 0, "state": {"running": {"startedAt": t}},
            })
        })
        .collect();
    let mut conditions = vec![
        json!({"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": t}),
        json!({"type": "Initialized", "status": "True", "lastTransitionTime": t}),
        json!({"type": "Ready", "status": ready_s, "lastTransitionTime": t}),
        json!({"type": "ContainersReady", "status": ready_s, "lastTransitionTime": t}),
        json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": t}),
    ];
    if !ready {
        for c in &mut conditions[2..4] {
            c["reason"] = json!("ContainersNotReady");
        }
    }
    json!({
        "phase": "Running", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": t, "qosClass": "BestEffort",
        "conditions": conditions, "containerStatuses": containers,
    })
}

fn finished_status(pod: &Pod, code: i32) -> serde_json::Value {
    let t = now();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    let reason = if code == 0 { "Completed" } else { "Error" };
    let containers: Vec<_> = container_names(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": format!("hollow://{image}"),
                "containerID": format!("hollow://{uid}-{name}"), "ready": false, "started": false,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": t, "finishedAt": t}},
            })
        })
        .collect();
    let restarted = policy == "Always" || (policy == "OnFailure" && code != 0);
    // A container that would be restarted leaves the pod Running, unready.
    let why = if restarted { "ContainersNotReady" } else { "PodCompleted" };
    let conditions = json!([
        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": t},
        {"type": "Initialized", "status": "True", "lastTransitionTime": t},
        {"type": "Ready", "status": "False", "reason": why, "lastTransitionTime": t},
        {"type": "ContainersReady", "status": "False", "reason": why, "lastTransitionTime": t},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
    ]);
    if restarted {
        return json!({"conditions": conditions, "containerStatuses": containers});
    }
    json!({"phase": phase, "conditions": conditions, "containerStatuses": containers})
}
