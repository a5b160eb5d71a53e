//! Node lifecycle: the taints that mirror a node's conditions
//! (TaintNodesByCondition: `not-ready`, `unreachable`, the pressures,
//! `unschedulable`, all NoSchedule), the heartbeat check (a node whose
//! Lease in `kube-node-lease` has not been renewed for
//! [`GRACE`] gets its conditions set Unknown and the `unreachable`
//! NoExecute taint, a NotReady one the `not-ready` NoExecute taint), and
//! eviction of the pods that do not tolerate a node's NoExecute taints,
//! after their tolerationSeconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;

use crate::events::{Recorder, Type};
use crate::informer::{Change, Informer};

/// How long a node may go without a heartbeat (`--node-monitor-grace-period`).
pub const GRACE: Duration = Duration::from_secs(40);
const PERIOD: Duration = Duration::from_secs(5);

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

pub async fn run(
    client: kube::Client,
    nodes: Arc<Informer<Node>>,
    leases: Arc<Informer<Lease>>,
    pods: Arc<Informer<Pod>>,
    events: Recorder,
) {
    nodes.ready().await;
    leases.ready().await;
    pods.ready().await;
    // When this process first saw each node's heartbeat change, as client-go judges leases: by local time.
    let mut seen: HashMap<String, (Option<Timestamp>, tokio::time::Instant)> = HashMap::new();
    let mut tick = tokio::time::interval(PERIOD);
    let mut changes = nodes.subscribe();
    loop {
        // A node's own change (a kubelet reporting Ready, a pressure) is mirrored in its
        // taints at once; the heartbeat check and evictions run on the tick.
        tokio::select! {
            _ = tick.tick() => {}
            change = crate::informer::next(&mut changes) => {
                if let Some(Change::Applied(node)) = change {
                    let name = node.metadata.name.clone().unwrap_or_default();
                    let silent = seen
                        .get(&name)
                        .is_some_and(|(_, at)| tokio::time::Instant::now().duration_since(*at) > GRACE);
                    let api: Api<Node> = Api::all(client.clone());
                    if let Err(e) = reconcile(&api, &node, silent, &events).await {
                        tracing::debug!(node = %name, "node lifecycle: {e}");
                    }
                }
                continue;
            }
        }
        let api: Api<Node> = Api::all(client.clone());
        for node in nodes.store.state() {
            let name = node.metadata.name.clone().unwrap_or_default();
            let renewed = leases
                .get(Some("kube-node-lease"), &name)
                .and_then(|l| l.spec.as_ref().and_then(|s| s.renew_time.as_ref()).map(|t| t.0));
            let now = tokio::time::Instant::now();
            let entry = seen.entry(name.clone()).or_insert((renewed, now));
            if entry.0 != renewed {
                *entry = (renewed, now);
            }
            let silent = now.duration_since(entry.1) > GRACE;
            if let Err(e) = reconcile(&api, &node, silent, &events).await {
                tracing::debug!(node = %name, "node lifecycle: {e}");
            }
            evict(&client, &node, &pods, &events).await;
        }
        seen.retain(|name, _| nodes.get(None, name).is_some());
    }
}

fn condition_status(node: &Node, type_: &str) -> Option<String> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_).map(|c| c.status.clone())
}

/// The taints a node should carry for its conditions, and which others of ours to drop.
fn wanted_taints(node: &Node) -> Vec<Taint> {
    let mut out = Vec::new();
    let taint = |key: &str, effect: &str| Taint {
        key: key.into(),
        effect: effect.into(),
        time_added: (effect == "NoExecute").then(|| Time(Timestamp::now())),
        value: None,
    };
    match condition_status(node, "Ready").as_deref() {
        Some("True") => {}
        Some("False") => {
            out.push(taint(NOT_READY, "NoSchedule"));
            out.push(taint(NOT_READY, "NoExecute"));
        }
        Some(_) => {
            out.push(taint(UNREACHABLE, "NoSchedule"));
            out.push(taint(UNREACHABLE, "NoExecute"));
        }
        None => out.push(taint(NOT_READY, "NoSchedule")),
    }
    for (cond, key) in [
        ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "node.kubernetes.io/disk-pressure"),
        ("PIDPressure", "node.kubernetes.io/pid-pressure"),
        ("NetworkUnavailable", "node.kubernetes.io/network-unavailable"),
    ] {
        if condition_status(node, cond).as_deref() == Some("True") {
            out.push(taint(key, "NoSchedule"));
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        out.push(taint("node.kubernetes.io/unschedulable", "NoSchedule"));
    }
    out
}

const MANAGED: [&str; 7] = [
    NOT_READY,
    UNREACHABLE,
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
    "node.kubernetes.io/unschedulable",
];

async fn reconcile(api: &Api<Node>, node: &Node, silent: bool, events: &Recorder) -> Result<(), kube::Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    if silent && condition_status(node, "Ready").as_deref() != Some("Unknown") {
        let now = Time(Timestamp::now());
        let conditions: Vec<_> = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|mut c| {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(now.clone());
                c
            })
            .collect();
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": {"conditions": conditions}})))
            .await?;
        events.record(node, Type::Normal, "NodeNotReady", format!("Node {name} status is now: NodeNotReady"));
        // The taints follow on the next pass, from the Unknown condition.
        return Ok(());
    }
    let current: Vec<Taint> = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let wanted = wanted_taints(node);
    let mut next: Vec<Taint> = current.iter().filter(|t| !MANAGED.contains(&t.key.as_str())).cloned().collect();
    for w in wanted {
        // Keep an existing taint as it is (its timeAdded counts for tolerationSeconds).
        let existing = current.iter().find(|t| t.key == w.key && t.effect == w.effect).cloned();
        next.push(existing.unwrap_or(w));
    }
    let same = |a: &[Taint], b: &[Taint]| {
        let key = |t: &Taint| (t.key.clone(), t.effect.clone());
        let mut x: Vec<_> = a.iter().map(key).collect();
        let mut y: Vec<_> = b.iter().map(key).collect();
        x.sort();
        y.sort();
        x == y
    };
    if same(&current, &next) {
        return Ok(());
    }
    let patch = json!({"metadata": {"resourceVersion": node.metadata.resource_version}, "spec": {"taints": if next.is_empty() { serde_json::Value::Null } else { json!(next) }}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(())
}

/// Deletes the pods on `node` that do not tolerate its NoExecute taints, or
/// whose tolerationSeconds ran out.
async fn evict(client: &kube::Client, node: &Node, pods: &Informer<Pod>, events: &Recorder) {
    let taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.effect == "NoExecute")
        .collect();
    if taints.is_empty() {
        return;
    }
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let now = Timestamp::now().as_second();
    for pod in pods.store.state() {
        if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some(name)
            || pod.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.clone()).unwrap_or_default();
        let due = taints.iter().any(|taint| {
            let matching: Vec<_> =
                tolerations.iter().filter(|t| crate::scheduler::tolerates(std::slice::from_ref(t), taint)).collect();
            if matching.is_empty() {
                return true;
            }
            // The shortest tolerationSeconds among those that match; none means forever.
            let seconds = matching.iter().filter_map(|t| t.toleration_seconds).min();
            let Some(seconds) = seconds else { return false };
            let added = taint.time_added.as_ref().map_or(now, |t| t.0.as_second());
            now >= added + seconds.max(0)
        });
        if !due {
            continue;
        }
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let params = DeleteParams {
            preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&pod_name, &params).await {
            Ok(_) => events.record(
                pod.as_ref(),
                Type::Normal,
                "TaintManagerEviction",
                format!("Marking for deletion Pod {namespace}/{pod_name}"),
            ),
            Err(e) => tracing::debug!(pod = %pod_name, "eviction failed: {e}"),
        }
    }
}
