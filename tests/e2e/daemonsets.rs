//! DaemonSets on hollow nodes, driven by kubectl: one pod per node, none on
//! a node with an untolerated taint, one again when the taint goes; a
//! rolling update that `kubectl rollout status` follows, with its history
//! and `kubectl rollout undo`.

use std::time::Duration;

use crate::scenario::{V, cluster_with_nodes, eventually, jsonpath};

const AGENT: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: busybox:1
        command: ["sleep", "3600"]
"#;

/// `node=image` for each of the DaemonSet's live pods, sorted.
fn placement(cluster: &crate::cluster::Cluster) -> Vec<String> {
    let text = jsonpath(
        cluster,
        &["pods", "-l", "app=agent"],
        "{range .items[?(@.status.phase==\"Running\")]}{.spec.nodeName}={.spec.containers[0].image}{\"\\n\"}{end}",
    );
    let mut v: Vec<String> = text.lines().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn a_daemonset_covers_the_nodes_skips_a_tainted_one_and_rolls() {
    let (cluster, _nodes) = cluster_with_nodes();
    cluster.ok(V, &["taint", "node", "hollow-2", "dedicated=db:NoSchedule"]);
    let applied = cluster.kubectl_stdin(V, &["apply", "-f", "-"], AGENT);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let status = cluster.ok(V, &["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    assert_eq!(placement(&cluster), ["hollow-0=busybox:1", "hollow-1=busybox:1"]);
    assert_eq!(jsonpath(&cluster, &["ds", "agent"], "{.status.desiredNumberScheduled}"), "2");

    // The taint goes: the third node gets its pod.
    cluster.ok(V, &["taint", "node", "hollow-2", "dedicated-"]);
    eventually(Duration::from_secs(30), "a pod on hollow-2", || (placement(&cluster).len() == 3).then_some(()));

    // A cordoned node keeps its daemon (daemon pods tolerate unschedulable).
    cluster.ok(V, &["cordon", "hollow-1"]);

    // A new image rolls node by node.
    cluster.ok(V, &["set", "image", "daemonset/agent", "agent=busybox:2"]);
    let status = cluster.ok(V, &["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    eventually(Duration::from_secs(30), "every node on busybox:2", || {
        (placement(&cluster) == ["hollow-0=busybox:2", "hollow-1=busybox:2", "hollow-2=busybox:2"]).then_some(())
    });
    let history = cluster.ok(V, &["rollout", "history", "daemonset/agent"]);
    assert!(history.lines().filter(|l| l.trim_start().starts_with(['1', '2'])).count() == 2, "{history}");

    cluster.ok(V, &["rollout", "undo", "daemonset/agent"]);
    let status = cluster.ok(V, &["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    eventually(Duration::from_secs(30), "every node back on busybox:1", || {
        (placement(&cluster) == ["hollow-0=busybox:1", "hollow-1=busybox:1", "hollow-2=busybox:1"]).then_some(())
    });
    // Going back renumbers the old revision as the newest: revisions 2 and 3.
    let revisions = jsonpath(&cluster, &["controllerrevisions", "-l", "app=agent"], "{.items[*].revision}");
    let mut numbers: Vec<&str> = revisions.split_whitespace().collect();
    numbers.sort();
    assert_eq!(numbers, ["2", "3"], "{revisions}");
}
