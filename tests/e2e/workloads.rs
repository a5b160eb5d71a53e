//! Workloads on hollow nodes, driven by kubectl as a user drives them: a
//! Deployment rolls out, is updated, rolled back, scaled, paused; the
//! scheduler spreads pods and says why one fits nowhere; deletes cascade
//! in the background and the foreground, or orphan; a node that stops
//! heartbeating is tainted and its pods are evicted.

use std::time::Duration;

use crate::cluster::Cluster;

use crate::scenario::{V, cluster_with_nodes, eventually, jsonpath, out};

fn rollout_status(cluster: &Cluster, version: &str, deployment: &str) -> String {
    cluster.ok(version, &["rollout", "status", deployment, "--timeout=60s"])
}

#[test]
fn a_deployment_rolls_out_updates_rolls_back_and_scales() {
    let (cluster, _nodes) = cluster_with_nodes();
    cluster.ok(V, &["create", "deployment", "web", "--image=busybox:1", "--replicas=4", "--", "sleep", "3600"]);
    let status = rollout_status(&cluster, V, "deployment/web");
    assert!(status.contains("deployment \"web\" successfully rolled out"), "{status}");
    let nodes = jsonpath(
        &cluster,
        &["pods", "-l", "app=web"],
        "{range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}",
    );
    assert_eq!(nodes.lines().filter(|l| l.ends_with(" Running")).count(), 4, "{nodes}");
    let first_rs = jsonpath(&cluster, &["rs", "-l", "app=web"], "{.items[0].metadata.name}");
    assert_eq!(
        jsonpath(&cluster, &["deploy", "web"], "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"),
        "1"
    );

    // An update rolls out a second ReplicaSet; the first is scaled to zero and kept.
    cluster.ok(V, &["set", "image", "deployment/web", "busybox=busybox:2"]);
    for version in ["1.27", "1.30", "1.33"] {
        let status = rollout_status(&cluster, version, "deployment/web");
        assert!(status.contains("successfully rolled out"), "kubectl {version}: {status}");
    }
    let sets = jsonpath(
        &cluster,
        &["rs", "-l", "app=web"],
        "{range .items[*]}{.metadata.name} {.spec.replicas} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}{\"\\n\"}{end}",
    );
    assert_eq!(sets.lines().count(), 2, "{sets}");
    assert!(sets.lines().any(|l| l == format!("{first_rs} 0 1")), "the old set is kept at 0: {sets}");
    let images =
        jsonpath(&cluster, &["pods", "-l", "app=web"], "{range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}");
    assert_eq!(images.lines().filter(|i| *i == "busybox:2").count(), 4, "{images}");
    let history = out(&cluster, &["rollout", "history", "deployment/web"]);
    assert!(history.contains("1 ") && history.contains("2 "), "{history}");

    // Undo brings the first template back, as revision 3 of the first ReplicaSet.
    cluster.ok(V, &["rollout", "undo", "deployment/web"]);
    rollout_status(&cluster, V, "deployment/web");
    assert_eq!(
        jsonpath(&cluster, &["rs", &first_rs], "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"),
        "3"
    );
    assert_eq!(jsonpath(&cluster, &["rs", &first_rs], "{.spec.replicas}"), "4");

    // Scale, and the counts follow.
    cluster.ok(V, &["scale", "deployment/web", "--replicas=6"]);
    eventually(Duration::from_secs(30), "6 available replicas", || {
        (jsonpath(&cluster, &["deploy", "web"], "{.status.availableReplicas}") == "6").then_some(())
    });
    let conditions = jsonpath(
        &cluster,
        &["deploy", "web"],
        "{range .status.conditions[*]}{.type}={.status}/{.reason}{\"\\n\"}{end}",
    );
    assert!(conditions.contains("Available=True/MinimumReplicasAvailable"), "{conditions}");
    assert!(conditions.contains("Progressing=True/NewReplicaSetAvailable"), "{conditions}");

    // Paused: a template change makes no new ReplicaSet until resumed.
    cluster.ok(V, &["rollout", "pause", "deployment/web"]);
    cluster.ok(V, &["set", "env", "deployment/web", "MODE=paused"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        jsonpath(&cluster, &["rs", "-l", "app=web"], "{range .items[*]}{.metadata.name}{\"\\n\"}{end}").lines().count(),
        2
    );
    let reason = jsonpath(&cluster, &["deploy", "web"], "{.status.conditions[?(@.type==\"Progressing\")].reason}");
    assert_eq!(reason, "DeploymentPaused");
    cluster.ok(V, &["rollout", "resume", "deployment/web"]);
    rollout_status(&cluster, V, "deployment/web");
    assert_eq!(
        jsonpath(&cluster, &["rs", "-l", "app=web"], "{range .items[*]}{.metadata.name}{\"\\n\"}{end}").lines().count(),
        3
    );

    // The events a user reads in `kubectl describe`.
    let describe = out(&cluster, &["describe", "deployment", "web"]);
    assert!(describe.contains("ScalingReplicaSet"), "{describe}");
    let pods = out(&cluster, &["get", "events", "--field-selector", "reason=Scheduled"]);
    assert!(pods.contains("Successfully assigned default/web-"), "{pods}");
}

#[test]
fn a_rolling_update_keeps_the_minimum_available() {
    let (cluster, _nodes) = cluster_with_nodes();
    let manifest = r#"{"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "careful"},
      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "careful"}},
        "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "progressDeadlineSeconds": 5,
        "template": {"metadata": {"labels": {"app": "careful"}},
          "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}}"#;
    cluster.expect_ok(V, &["apply", "-f", "-"], &cluster.kubectl_stdin(V, &["apply", "-f", "-"], manifest));
    rollout_status(&cluster, V, "deployment/careful");
    // The new pods never become ready: one surges, none of the old go, and the deadline passes.
    cluster.ok(
        V,
        &[
            "patch",
            "deployment",
            "careful",
            "-p",
            r#"{"spec":{"template":{"metadata":{"annotations":{"bramble.dev/hollow-ready":"false"}}}}}"#,
        ],
    );
    let failed = cluster.kubectl(V, &["rollout", "status", "deployment/careful", "--timeout=60s"]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success() && stderr.contains("exceeded its progress deadline"), "{stderr}");
    let pods = jsonpath(
        &cluster,
        &["pods", "-l", "app=careful"],
        "{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
    );
    assert_eq!(pods.lines().filter(|s| *s == "True").count(), 3, "the old pods stay: {pods}");
    assert_eq!(pods.lines().count(), 4, "one surge pod: {pods}");
}

#[test]
fn the_scheduler_spreads_pods_and_says_why_one_fits_nowhere() {
    let (cluster, _nodes) = cluster_with_nodes();
    cluster.ok(V, &["taint", "node", "hollow-2", "dedicated=db:NoSchedule"]);
    cluster.ok(V, &["create", "deployment", "spread", "--image=busybox:1", "--replicas=6"]);
    rollout_status(&cluster, V, "deployment/spread");
    let nodes = jsonpath(&cluster, &["pods", "-l", "app=spread"], "{range .items[*]}{.spec.nodeName}{\"\\n\"}{end}");
    let on = |n: &str| nodes.lines().filter(|l| *l == n).count();
    assert_eq!(on("hollow-2"), 0, "the tainted node gets none: {nodes}");
    assert_eq!(on("hollow-0") + on("hollow-1"), 6, "{nodes}");

    let huge = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge"},
      "spec": {"containers": [{"name": "c", "image": "busybox:1", "resources": {"requests": {"cpu": "16"}}}]}}"#;
    cluster.expect_ok(V, &["create", "-f", "-"], &cluster.kubectl_stdin(V, &["create", "-f", "-"], huge));
    let want = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 Insufficient cpu. \
                preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.";
    eventually(Duration::from_secs(20), "the FailedScheduling reason", || {
        let message = jsonpath(&cluster, &["pod", "huge"], "{.status.conditions[?(@.type==\"PodScheduled\")].message}");
        (message == want).then_some(())
    });
    let reason = jsonpath(&cluster, &["pod", "huge"], "{.status.conditions[?(@.type==\"PodScheduled\")].reason}");
    assert_eq!(reason, "Unschedulable");
    let describe = out(&cluster, &["describe", "pod", "huge"]);
    assert!(describe.contains("FailedScheduling") && describe.contains(want), "{describe}");

    // A nodeSelector nobody matches, and then a node that does.
    let picky = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "picky"},
      "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "busybox:1"}]}}"#;
    cluster.expect_ok(V, &["create", "-f", "-"], &cluster.kubectl_stdin(V, &["create", "-f", "-"], picky));
    eventually(Duration::from_secs(20), "picky unschedulable", || {
        let m = jsonpath(&cluster, &["pod", "picky"], "{.status.conditions[?(@.type==\"PodScheduled\")].message}");
        m.contains("node(s) didn't match Pod's node affinity/selector").then_some(())
    });
    cluster.ok(V, &["label", "node", "hollow-1", "disk=ssd"]);
    eventually(Duration::from_secs(20), "picky placed once a node matches", || {
        (jsonpath(&cluster, &["pod", "picky"], "{.spec.nodeName}") == "hollow-1").then_some(())
    });
}

#[test]
fn deletes_cascade_in_the_background_and_foreground_or_orphan() {
    let (cluster, _nodes) = cluster_with_nodes();
    for name in ["bg", "fg", "orphan"] {
        cluster.ok(V, &["create", "deployment", name, "--image=busybox:1", "--replicas=2"]);
    }
    for name in ["bg", "fg", "orphan"] {
        rollout_status(&cluster, V, &format!("deployment/{name}"));
    }
    let count = |app: &str| {
        let rs =
            jsonpath(&cluster, &["rs", "-l", &format!("app={app}")], "{range .items[*]}{.metadata.name}{\"\\n\"}{end}");
        let pods = jsonpath(
            &cluster,
            &["pods", "-l", &format!("app={app}")],
            "{range .items[*]}{.metadata.name}{\"\\n\"}{end}",
        );
        (rs.lines().count(), pods.lines().count())
    };
    cluster.ok(V, &["delete", "deployment", "bg"]);
    eventually(Duration::from_secs(30), "background cascade", || (count("bg") == (0, 0)).then_some(()));

    // kubectl waits until the owner is gone, which is after its dependents.
    cluster.ok(V, &["delete", "deployment", "fg", "--cascade=foreground", "--timeout=60s"]);
    assert_eq!(count("fg"), (0, 0), "foreground: the dependents went first");

    cluster.ok(V, &["delete", "deployment", "orphan", "--cascade=orphan"]);
    eventually(Duration::from_secs(30), "the orphaned ReplicaSet released", || {
        let owners = jsonpath(&cluster, &["rs", "-l", "app=orphan"], "{.items[0].metadata.ownerReferences}");
        owners.is_empty().then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count("orphan"), (1, 2), "orphaned dependents stay");
    assert!(out(&cluster, &["get", "deployment", "orphan", "--ignore-not-found"]).trim().is_empty());
}

#[test]
fn a_node_that_stops_heartbeating_is_tainted_and_its_pods_evicted() {
    let (cluster, mut nodes) = cluster_with_nodes();
    let pod = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "short"},
      "spec": {"nodeName": "hollow-0", "containers": [{"name": "c", "image": "busybox:1"}],
        "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]}}"#;
    cluster.expect_ok(V, &["create", "-f", "-"], &cluster.kubectl_stdin(V, &["create", "-f", "-"], pod));
    eventually(Duration::from_secs(20), "the pod running", || {
        (jsonpath(&cluster, &["pod", "short"], "{.status.phase}") == "Running").then_some(())
    });
    nodes.kill9();
    // 40 s of silence, then Unknown, the unreachable taints, and the eviction.
    eventually(Duration::from_secs(90), "hollow-0 NotReady with the unreachable taint", || {
        let ready = jsonpath(&cluster, &["node", "hollow-0"], "{.status.conditions[?(@.type==\"Ready\")].status}");
        let taints = jsonpath(&cluster, &["node", "hollow-0"], "{.spec.taints}");
        (ready == "Unknown" && taints.contains("node.kubernetes.io/unreachable") && taints.contains("NoExecute"))
            .then_some(())
    });
    let get = out(&cluster, &["get", "node", "hollow-0"]);
    assert!(get.contains("NotReady"), "{get}");
    eventually(Duration::from_secs(30), "the pod evicted (marked for deletion)", || {
        let gone = out(
            &cluster,
            &["get", "pod", "short", "--ignore-not-found", "-o", "jsonpath={.metadata.deletionTimestamp}"],
        );
        let events = out(&cluster, &["get", "events", "--field-selector", "involvedObject.name=short"]);
        (events.contains("TaintManagerEviction") || !gone.trim().is_empty()).then_some(())
    });
}

/// The ReplicationController, the oldest workload kind, still keeps its
/// replicas: `kubectl scale rc` and a deleted pod are made good.
#[test]
fn a_replication_controller_keeps_its_replicas() {
    let (cluster, _nodes) = cluster_with_nodes();
    let rc = "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: old\nspec:\n  replicas: 2\n  template:\n    metadata:\n      labels: {app: old}\n    spec:\n      containers:\n      - {name: c, image: busybox:1}\n";
    let created = cluster.kubectl_stdin(V, &["apply", "-f", "-"], rc);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let ready = |n: &str| (jsonpath(&cluster, &["rc", "old"], "{.status.readyReplicas}") == n).then_some(());
    eventually(Duration::from_secs(30), "two ready replicas", || ready("2"));
    let owner = jsonpath(&cluster, &["pods", "-l", "app=old"], "{.items[0].metadata.ownerReferences[0].kind}");
    assert_eq!(owner, "ReplicationController");
    cluster.ok(V, &["scale", "rc", "old", "--replicas=3"]);
    eventually(Duration::from_secs(30), "three ready replicas", || ready("3"));
    let victim = jsonpath(&cluster, &["pods", "-l", "app=old"], "{.items[0].metadata.name}");
    cluster.ok(V, &["delete", "pod", &victim, "--wait=false"]);
    eventually(Duration::from_secs(30), "the deleted pod replaced", || {
        let names = out(&cluster, &["get", "pods", "-l", "app=old", "-o", "name"]);
        (names.lines().count() == 3 && !names.contains(&victim)).then_some(())
    });
    let table = out(&cluster, &["get", "rc", "old"]);
    assert!(table.contains("old") && table.contains('3'), "{table}");
}
