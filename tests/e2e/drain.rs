//! `kubectl drain` against PodDisruptionBudgets on hollow nodes, as an
//! operator drains a node for maintenance: evictions go as far as the
//! budget allows and are refused (429) beyond it until the evicted pods
//! are back elsewhere, so the application never has fewer ready pods than
//! the budget asks; a budget that allows nothing makes the drain time out.
//! kubectl 1.33 and 1.27 both, and the Eviction API's answers read with
//! kube-rs (the 429's causes, dry runs, a pod under two budgets).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::cluster::Cluster;
use crate::scenario::{cluster_with_nodes, eventually, jsonpath};
use crate::support::runtime;

use crate::scenario::V;
const OLD: &str = "1.27";
const REFUSED: &str = "Cannot evict pod as it would violate the pod's disruption budget";

fn out(cluster: &Cluster, version: &str, args: &[&str]) -> String {
    let o = cluster.kubectl(version, args);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn apply(cluster: &Cluster, manifest: &str) {
    cluster.expect_ok(V, &["apply", "-f", "-"], &cluster.kubectl_stdin(V, &["apply", "-f", "-"], manifest));
}

fn deployment(name: &str, replicas: u32) -> String {
    format!(
        r#"{{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {{"name": "{name}"}},
          "spec": {{"replicas": {replicas}, "selector": {{"matchLabels": {{"app": "{name}"}}}},
            "template": {{"metadata": {{"labels": {{"app": "{name}"}}}},
              "spec": {{"containers": [{{"name": "c", "image": "busybox:1"}}]}}}}}}}}"#
    )
}

/// `(node, name, ready, deleting)` for each pod of `app`.
fn pods_of(cluster: &Cluster, app: &str) -> Vec<(String, String, bool, bool)> {
    let lines = jsonpath(
        cluster,
        &["pods", "-l", &format!("app={app}")],
        "{range .items[*]}{.spec.nodeName},{.metadata.name},{.status.conditions[?(@.type==\"Ready\")].status},\
         {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    );
    lines
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let [node, name, ready, deleting] = f.as_slice() else { return None };
            Some((node.to_string(), name.to_string(), *ready == "True", !deleting.is_empty()))
        })
        .collect()
}

/// Pods of `app` the budget counts as healthy: Ready and not being deleted.
fn healthy(cluster: &Cluster, app: &str) -> usize {
    pods_of(cluster, app).iter().filter(|(_, _, ready, deleting)| *ready && !*deleting).count()
}

/// `currentHealthy desiredHealthy expectedPods disruptionsAllowed observedGeneration`.
fn budget_status(cluster: &Cluster, name: &str) -> String {
    jsonpath(
        cluster,
        &["pdb", name],
        "{.status.currentHealthy} {.status.desiredHealthy} {.status.expectedPods} {.status.disruptionsAllowed} \
         {.status.observedGeneration}",
    )
}

fn condition(cluster: &Cluster, name: &str) -> String {
    jsonpath(
        cluster,
        &["pdb", name],
        "{.status.conditions[?(@.type==\"DisruptionAllowed\")].status}/{.status.conditions[?(@.type==\"DisruptionAllowed\")].reason}",
    )
}

/// The row of `kubectl get pdb` for `name`, under upstream's header.
fn get_pdb_row(cluster: &Cluster, version: &str, name: &str) -> Vec<String> {
    let table = cluster.ok(version, &["get", "pdb", name]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"],
        "kubectl {version}: {table}"
    );
    lines.next().unwrap_or_default().split_whitespace().map(String::from).collect()
}

/// Samples the healthy pods of `app` until stopped; the fewest seen.
struct Watch {
    stop: Arc<AtomicBool>,
    fewest: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Watch {
    fn start(cluster: &Arc<Cluster>, app: &'static str) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let fewest = Arc::new(AtomicUsize::new(usize::MAX));
        let (cluster, s, f) = (Arc::clone(cluster), Arc::clone(&stop), Arc::clone(&fewest));
        let thread = std::thread::spawn(move || {
            let mut samples = 0;
            while !s.load(Ordering::SeqCst) {
                f.fetch_min(healthy(&cluster, app), Ordering::SeqCst);
                samples += 1;
            }
            samples
        });
        Watch { stop, fewest, thread: Some(thread) }
    }

    /// Stops sampling; the fewest healthy pods seen, and how many samples.
    fn finish(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        let samples = self.thread.take().map(|t| t.join().expect("the sampling thread")).unwrap_or(0);
        (self.fewest.load(Ordering::SeqCst), samples)
    }
}

/// The node with most pods of `app`.
fn crowded_node(cluster: &Cluster, app: &str) -> (String, usize) {
    let pods = pods_of(cluster, app);
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for (node, ..) in &pods {
        *counts.entry(node.clone()).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).expect("pods on some node")
}

/// Drains `node` with kubectl `version`, watching that `app` never has
/// fewer than `floor` healthy pods; returns kubectl's combined output.
fn drain_within_budget(cluster: &Arc<Cluster>, version: &str, node: &str, app: &'static str, floor: usize) -> String {
    let watch = Watch::start(cluster, app);
    let args = ["drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=120s"];
    let drained = cluster.kubectl(version, &args);
    let (fewest, samples) = watch.finish();
    let output = format!("{}{}", String::from_utf8_lossy(&drained.stdout), String::from_utf8_lossy(&drained.stderr));
    assert!(drained.status.success(), "kubectl {version} drain {node} failed:\n{output}\n{}", cluster.log_text());
    assert!(output.contains(&format!("node/{node} drained")), "kubectl {version}: {output}");
    assert!(samples > 3, "the healthy pods were sampled during the drain ({samples} samples)");
    assert!(fewest >= floor, "kubectl {version}: only {fewest} healthy pods at one point (budget: {floor}):\n{output}");
    assert_eq!(jsonpath(cluster, &["node", node], "{.spec.unschedulable}"), "true", "drain cordons the node");
    eventually(Duration::from_secs(60), "the evicted pods back, ready, on other nodes", || {
        let pods = pods_of(cluster, app);
        let settled = pods.len() == 3 && pods.iter().all(|(n, _, ready, deleting)| n != node && *ready && !*deleting);
        settled.then_some(())
    });
    output
}

#[test]
fn drain_evicts_within_the_budget_and_the_pods_move() {
    let (cluster, _nodes) = cluster_with_nodes();
    let cluster = Arc::new(cluster);
    // With hollow-2 cordoned, three pods fit on two nodes: one holds two of them.
    cluster.ok(V, &["cordon", "hollow-2"]);
    apply(&cluster, &deployment("web", 3));
    cluster.ok(V, &["rollout", "status", "deployment/web", "--timeout=60s"]);
    cluster.ok(V, &["create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=2"]);
    cluster.ok(V, &["uncordon", "hollow-2"]);
    eventually(Duration::from_secs(30), "the budget's status", || {
        (budget_status(&cluster, "web") == "3 2 3 1 1").then_some(())
    });
    assert_eq!(condition(&cluster, "web"), "True/SufficientPods");
    for version in [V, OLD] {
        let row = get_pdb_row(&cluster, version, "web");
        assert_eq!(&row[..4], ["web", "2", "N/A", "1"], "kubectl {version}: {row:?}");
    }

    // A dry-run eviction answers as a real one would, and changes nothing.
    let (node, on_it) = crowded_node(&cluster, "web");
    assert_eq!(on_it, 2, "{:?}", pods_of(&cluster, "web"));
    let victim = pods_of(&cluster, "web").into_iter().find(|p| p.0 == node).map(|p| p.1).expect("a pod");
    runtime().block_on(async {
        let pods: Api<Pod> = Api::namespaced(client(&cluster).await, "default");
        let dry =
            EvictParams { post_options: PostParams { dry_run: true, ..Default::default() }, ..Default::default() };
        pods.evict(&victim, &dry).await.expect("a dry-run eviction within the budget");
    });
    assert_eq!(budget_status(&cluster, "web"), "3 2 3 1 1", "a dry run takes nothing from the budget");
    assert_eq!(healthy(&cluster, "web"), 3);
    assert!(!jsonpath(&cluster, &["pod", &victim], "{.status.conditions[*].type}").contains("DisruptionTarget"));

    // The second pod of the node waits (429) until the first is back elsewhere.
    let output = drain_within_budget(&cluster, V, &node, "web", 2);
    assert!(output.contains(REFUSED), "the budget held the second eviction back:\n{output}");
    assert!(output.contains(&format!("evicting pod default/{victim}")), "{output}");
    eventually(Duration::from_secs(30), "the budget whole again, its evictions forgotten", || {
        let disrupted = jsonpath(&cluster, &["pdb", "web"], "{.status.disruptedPods}");
        (budget_status(&cluster, "web") == "3 2 3 1 1" && disrupted.is_empty()).then_some(())
    });
    let events = out(&cluster, V, &["get", "events", "--field-selector", "involvedObject.kind=Pod"]);
    assert!(!events.contains("NotDeleted"), "no evicted pod stayed: {events}");

    // kubectl 1.27 drains the next node the same way.
    cluster.ok(V, &["uncordon", &node]);
    let (next, _) = crowded_node(&cluster, "web");
    drain_within_budget(&cluster, OLD, &next, "web", 2);
}

#[test]
fn a_budget_that_allows_no_disruption_blocks_the_drain() {
    let (cluster, _nodes) = cluster_with_nodes();
    apply(&cluster, &deployment("db", 3));
    cluster.ok(V, &["rollout", "status", "deployment/db", "--timeout=60s"]);
    cluster.ok(V, &["create", "pdb", "db", "--selector=app=db", "--max-unavailable=0"]);
    // maxUnavailable counts from the Deployment's scale: 3 expected, 3 desired, none to spare.
    eventually(Duration::from_secs(30), "the budget's status", || {
        (budget_status(&cluster, "db") == "3 3 3 0 1").then_some(())
    });
    assert_eq!(condition(&cluster, "db"), "False/InsufficientPods");
    for version in [V, OLD] {
        let row = get_pdb_row(&cluster, version, "db");
        assert_eq!(&row[..4], ["db", "N/A", "0", "0"], "kubectl {version}: {row:?}");
    }

    let node = pods_of(&cluster, "db").first().map(|p| p.0.clone()).expect("a db pod");
    for version in [V, OLD] {
        let args = ["drain", node.as_str(), "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=10s"];
        let started = Instant::now();
        let drained = cluster.kubectl(version, &args);
        let stderr = String::from_utf8_lossy(&drained.stderr);
        assert!(!drained.status.success(), "kubectl {version}: the drain must fail:\n{stderr}");
        assert!(stderr.contains(REFUSED), "kubectl {version}: {stderr}");
        assert!(stderr.contains("global timeout reached: 10s"), "kubectl {version}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(60), "kubectl {version} gave up at its timeout");
        assert_eq!(jsonpath(&cluster, &["node", &node], "{.spec.unschedulable}"), "true", "still cordoned");
        let pods = pods_of(&cluster, "db");
        assert_eq!(pods.iter().filter(|(_, _, ready, deleting)| *ready && !*deleting).count(), 3, "{pods:?}");
        cluster.ok(V, &["uncordon", &node]);
    }
    assert_eq!(budget_status(&cluster, "db"), "3 3 3 0 1");

    runtime().block_on(async {
        let client = client(&cluster).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let victim = pods_of(&cluster, "db").first().map(|p| p.1.clone()).expect("a db pod");
        // The refusal as upstream words it, with the budget's numbers in its cause.
        let refused = pods.evict(&victim, &EvictParams::default()).await.expect_err("the budget refuses");
        let kube::Error::Api(status) = refused else { panic!("not an API error: {refused:?}") };
        assert_eq!((status.code, status.reason.as_str()), (429, "TooManyRequests"), "{status:?}");
        assert_eq!(status.message, format!("{REFUSED}."));
        let causes = status.details.as_ref().map(|d| d.causes.clone()).unwrap_or_default();
        assert_eq!(causes.len(), 1, "{status:?}");
        assert_eq!(causes[0].reason, "DisruptionBudget");
        assert_eq!(causes[0].message, "The disruption budget db needs 3 healthy pods and has 3 currently");

        // A pod under two budgets cannot be evicted at all.
        let budgets: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> = Api::namespaced(client, "default");
        let second: k8s_openapi::api::policy::v1::PodDisruptionBudget = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db-too"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}, "minAvailable": 1},
        }))
        .expect("a budget");
        budgets.create(&PostParams::default(), &second).await.expect("create a second budget");
        let refused = pods.evict(&victim, &EvictParams::default()).await.expect_err("two budgets");
        let kube::Error::Api(status) = refused else { panic!("not an API error: {refused:?}") };
        assert_eq!(status.code, 500, "{status:?}");
        assert_eq!(
            status.message,
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
        );
    });
    assert_eq!(healthy(&cluster, "db"), 3, "nothing was evicted");
}

async fn client(cluster: &Cluster) -> Client {
    // One crypto provider for the whole process, as the binary does.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig).expect("read the admin kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration from the kubeconfig");
    // The test reads the 429s itself: kube-rs would retry them for minutes.
    config.default_retry = false;
    Client::try_from(config).expect("a kube client")
}
