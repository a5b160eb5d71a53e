//! Pod priority and preemption on hollow nodes of one CPU each, driven by
//! kubectl: the system PriorityClasses exist and the `system-` prefix is
//! reserved; a pod's priority comes from its class and an unknown class is
//! refused; a high-priority pod that fits nowhere preempts one low-priority
//! pod (marked `DisruptionTarget`, deleted, a Preempted event) and runs in
//! its place; a pod whose class says `preemptionPolicy: Never` waits, with
//! upstream's FailedScheduling message.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, Datastore};
use crate::scenario::{V, eventually, jsonpath, out};

const CLASSES: &str = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "low"}, "value": 10},
  {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000},
  {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high-never"},
   "value": 1000, "preemptionPolicy": "Never"}]}"#;

fn pod(name: &str, class: &str, cpu: &str) -> String {
    format!(
        r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "{name}", "labels": {{"class": "{class}"}}}},
          "spec": {{"priorityClassName": "{class}",
            "containers": [{{"name": "c", "image": "busybox:1", "resources": {{"requests": {{"cpu": "{cpu}"}}}}}}]}}}}"#
    )
}

fn create(cluster: &Cluster, manifest: &str) -> std::process::Output {
    cluster.kubectl_stdin(V, &["create", "-f", "-"], manifest)
}

#[track_caller]
fn refused(cluster: &Cluster, manifest: &str) -> String {
    let o = create(cluster, manifest);
    assert!(!o.status.success(), "created: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scheduled_message(cluster: &Cluster, name: &str) -> String {
    jsonpath(cluster, &["pod", name], r#"{.status.conditions[?(@.type=="PodScheduled")].message}"#)
}

/// `name -> node` of the pods labelled `class=<class>`.
fn placement(cluster: &Cluster, class: &str) -> Vec<(String, String)> {
    let lines = jsonpath(
        cluster,
        &["pods", "-l", &format!("class={class}")],
        "{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{\"\\n\"}{end}",
    );
    lines
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() == 3 && f[2] == "Running").then(|| (f[0].to_string(), f[1].to_string()))
        })
        .collect()
}

#[test]
fn a_high_priority_pod_preempts_a_low_one_and_a_never_pod_waits() {
    let cluster = Cluster::start(Datastore::Embedded);
    let _nodes = cluster.hollow_nodes(2, &["--cpu", "1"]);
    eventually(Duration::from_secs(30), "two untainted Ready nodes", || {
        let taints = jsonpath(&cluster, &["nodes"], "{range .items[*]}{.metadata.name}={.spec.taints}{\"\\n\"}{end}");
        let lines: Vec<&str> = taints.lines().collect();
        (lines.len() == 2 && lines.iter().all(|l| l.ends_with('='))).then_some(())
    });

    // The system classes are there from the start; the prefix is theirs.
    let classes = out(&cluster, &["get", "priorityclasses"]);
    assert!(classes.contains("system-node-critical") && classes.contains("2000001000"), "{classes}");
    assert!(classes.contains("system-cluster-critical") && classes.contains("2000000000"), "{classes}");
    let mine = r#"{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-mine"}, "value": 5}"#;
    let stderr = refused(&cluster, mine);
    assert!(
        stderr.contains("priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"),
        "{stderr}"
    );
    cluster.expect_ok(V, &["create", "-f", "-"], &create(&cluster, CLASSES));

    // A class nobody made is refused with upstream's words; so is a priority the class disagrees with.
    let stderr = refused(&cluster, &pod("lost", "foo", "100m"));
    assert!(
        stderr.contains(r#"Error from server (Forbidden)"#)
            && stderr.contains(r#"pods "lost" is forbidden: no PriorityClass with name foo was found"#),
        "{stderr}"
    );
    let stderr = refused(
        &cluster,
        &pod("liar", "low", "100m").replace(r#""priorityClassName""#, r#""priority": 7, "priorityClassName""#),
    );
    assert!(stderr.contains("the integer value of priority (7) must not be provided in pod spec"), "{stderr}");

    // Fill both nodes: two low pods of 400m each on each.
    for i in 0..4 {
        cluster.expect_ok(V, &["create", "-f", "-"], &create(&cluster, &pod(&format!("low-{i}"), "low", "400m")));
    }
    let low = eventually(Duration::from_secs(30), "four low pods running", || {
        let p = placement(&cluster, "low");
        (p.len() == 4).then_some(p)
    });
    assert_eq!(
        jsonpath(&cluster, &["pod", "low-0"], "{.spec.priority} {.spec.preemptionPolicy}"),
        "10 PreemptLowerPriority"
    );

    // Watch the low pods, to see a victim marked before it goes.
    let mut watch = cluster.kubectl_spawn(
        V,
        &[
            "get",
            "pods",
            "-l",
            "class=low",
            "-w",
            "-o",
            r#"jsonpath={.metadata.name} {.status.conditions[?(@.type=="DisruptionTarget")].reason} {.metadata.deletionTimestamp}{"\n"}"#,
        ],
    );
    let (tx, lines) = mpsc::channel::<String>();
    let stdout = watch.stdout.take().expect("kubectl's stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 4 {
        seen.push(lines.recv_timeout(Duration::from_secs(20)).expect("the watch lists the low pods"));
    }

    // 500m fits on neither node (200m free on each): one low pod makes room.
    cluster.expect_ok(V, &["create", "-f", "-"], &create(&cluster, &pod("urgent", "high", "500m")));
    let node = eventually(Duration::from_secs(30), "the urgent pod running", || {
        let p = placement(&cluster, "high");
        p.first().map(|(_, node)| node.clone())
    });
    let uid = jsonpath(&cluster, &["pod", "urgent"], "{.metadata.uid}");
    assert_eq!(
        jsonpath(&cluster, &["pod", "urgent"], "{.spec.priority} {.status.nominatedNodeName}"),
        format!("1000 {node}")
    );
    let events = eventually(Duration::from_secs(20), "the Preempted event", || {
        let e = jsonpath(
            &cluster,
            &["events", "--field-selector", "reason=Preempted"],
            "{range .items[*]}{.involvedObject.name}|{.type}|{.message}{\"\\n\"}{end}",
        );
        (!e.trim().is_empty()).then_some(e)
    });
    let lines_of_events: Vec<&str> = events.lines().collect();
    assert_eq!(lines_of_events.len(), 1, "exactly one victim: {events}");
    let [victim, kind, message] = lines_of_events[0].split('|').collect::<Vec<_>>()[..] else { panic!("{events}") };
    assert_eq!(kind, "Normal");
    assert_eq!(message, format!("Preempted by pod {uid} on node {node}"));
    assert!(low.iter().any(|(name, n)| name == victim && *n == node), "the victim was on {node}: {low:?}");
    let remaining = placement(&cluster, "low");
    assert_eq!(remaining.len(), 3, "{remaining:?}");
    assert!(remaining.iter().all(|(name, _)| name != victim), "{remaining:?}");
    // The victim was marked DisruptionTarget (PreemptionByScheduler) before its deletion.
    let deadline = Instant::now() + Duration::from_secs(20);
    let marked_then_deleted = |seen: &[String]| {
        let marked = seen.iter().position(|l| l.starts_with(&format!("{victim} PreemptionByScheduler")));
        marked.is_some_and(|i| {
            seen[i..].iter().any(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                f.first() == Some(&victim) && f.get(2).is_some_and(|t| !t.is_empty())
            })
        })
    };
    while !marked_then_deleted(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("the victim marked then deleted; watch saw:\n{}", seen.join("\n")),
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();

    // A pod that may not preempt waits, and says why.
    cluster.expect_ok(V, &["create", "-f", "-"], &create(&cluster, &pod("patient", "high-never", "500m")));
    let want = "0/2 nodes are available: 2 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.";
    eventually(Duration::from_secs(20), "the patient pod's reason", || {
        (scheduled_message(&cluster, "patient") == want).then_some(())
    });
    assert_eq!(
        jsonpath(&cluster, &["pod", "patient"], "{.spec.priority} {.spec.preemptionPolicy} {.spec.nodeName}"),
        "1000 Never"
    );
    let describe = out(&cluster, &["describe", "pod", "patient"]);
    assert!(describe.contains("FailedScheduling") && describe.contains(want), "{describe}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(placement(&cluster, "low").len(), 3, "nothing more was preempted");
    assert!(jsonpath(&cluster, &["pod", "patient"], "{.spec.nodeName}").is_empty());
}

#[test]
fn a_pod_without_lower_priority_victims_says_preemption_cannot_help() {
    let cluster = Cluster::start(Datastore::Embedded);
    let _nodes = cluster.hollow_nodes(2, &["--cpu", "1"]);
    eventually(Duration::from_secs(30), "two untainted Ready nodes", || {
        let taints = jsonpath(&cluster, &["nodes"], "{range .items[*]}{.metadata.name}={.spec.taints}{\"\\n\"}{end}");
        let lines: Vec<&str> = taints.lines().collect();
        (lines.len() == 2 && lines.iter().all(|l| l.ends_with('='))).then_some(())
    });
    cluster.ok(V, &["taint", "node", "hollow-1", "dedicated=db:NoSchedule"]);
    // A default class: pods naming none get it, and its name.
    let everyone = r#"{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "everyone"},
      "value": 100, "globalDefault": true}"#;
    cluster.expect_ok(V, &["create", "-f", "-"], &create(&cluster, everyone));
    let second = everyone.replace("everyone", "another");
    let stderr = refused(&cluster, &second);
    assert!(
        stderr.contains(r#"priorityclasses.scheduling.k8s.io "another" is forbidden: PriorityClass everyone is already marked as default. Only one default can exist"#),
        "{stderr}"
    );
    let plain = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "first"},
      "spec": {"containers": [{"name": "c", "image": "busybox:1", "resources": {"requests": {"cpu": "800m"}}}]}}"#;
    cluster.expect_ok(V, &["create", "-f", "-"], &create(&cluster, plain));
    eventually(Duration::from_secs(30), "the first pod on hollow-0", || {
        (jsonpath(&cluster, &["pod", "first"], "{.spec.nodeName}") == "hollow-0").then_some(())
    });
    assert_eq!(jsonpath(&cluster, &["pod", "first"], "{.spec.priorityClassName} {.spec.priority}"), "everyone 100");
    // Same priority: no victims on hollow-0, and the taint on hollow-1 no eviction cures.
    cluster.expect_ok(V, &["create", "-f", "-"], &create(&cluster, &plain.replace("first", "second")));
    let want = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: db}. \
                preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.";
    eventually(Duration::from_secs(20), "the second pod's reason", || {
        (scheduled_message(&cluster, "second") == want).then_some(())
    });
    assert_eq!(jsonpath(&cluster, &["pod", "first"], "{.status.phase}"), "Running");
}
