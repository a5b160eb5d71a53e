//! Node-pressure eviction and image garbage collection (issue 5), as a user
//! meets them: the agent's data directory (and so containerd's image store)
//! is a small tmpfs; a pod over its emptyDir `sizeLimit` is evicted at once;
//! a pod filling the disk turns the node DiskPressure (and tainted), the
//! unused image goes first, then the greediest pod is evicted with the
//! kubelet's reason, message, condition and event, while a small pod stays.
//! Needs root (namespaces, mounts, containerd).

use std::time::Duration;

use crate::pods::{AGENT, BUSYBOX, Options, PodCluster};
use crate::scenario::eventually;

/// The agent's data directory's size, MiB.
const TMPFS_MIB: u64 = 160;

fn pod(name: &str, command: &str, volumes: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {AGENT}\n  terminationGracePeriodSeconds: 2\n  containers:\n  - name: main\n    image: {BUSYBOX}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", \"{command}\"]\n    volumeMounts:\n    - name: scratch\n      mountPath: /data\n  volumes:\n  - name: scratch\n    emptyDir: {volumes}\n"
    )
}

fn free_mib(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df").args(["--output=avail", "-B1M"]).arg(path).output().expect("df");
    String::from_utf8_lossy(&out.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("df figure")
}

fn wait_evicted(cluster: &PodCluster, name: &str) -> serde_json::Value {
    eventually(Duration::from_secs(90), &format!("pod {name} evicted\n{}", cluster.describe(name)), || {
        let out = cluster.kubectl("1.33", &["get", "pod", name, "-o", "json"]);
        let pod: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (pod["status"]["reason"] == "Evicted").then_some(pod)
    })
}

#[test]
fn pods_over_their_limits_or_filling_the_disk_are_evicted() {
    let cluster = PodCluster::start_with(Options {
        agent_tmpfs_mib: Some(TMPFS_MIB),
        agent_args: vec!["--kubelet-arg".into(), "image-minimum-gc-age=0s".into()],
        ..Default::default()
    });
    let data = cluster.scratch().join("agent").join("data");

    // Over its own emptyDir limit: evicted whatever the node has free.
    cluster.apply(&pod("over-limit", "dd if=/dev/zero of=/data/f bs=1M count=4; sleep 3600", "{sizeLimit: 1Mi}"));
    let evicted = wait_evicted(&cluster, "over-limit");
    assert_eq!(evicted["status"]["phase"], "Failed");
    assert_eq!(evicted["status"]["message"], "Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". ");
    let conditions = evicted["status"]["conditions"].as_array().cloned().unwrap_or_default();
    assert!(conditions.iter().all(|c| c["type"] != "DisruptionTarget"), "{conditions:?}");

    // An image no container uses, not from the air-gap directory: the first thing reclaimed.
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let spare = images::oci::ImageBuilder::new("docker.io/bramble/spare:gc", arch)
        .file("/spare", vec![1u8; 2 << 20], 0o644)
        .cmd(["/spare"]);
    let socket = cluster.scratch().join("agent").join("run").join("containerd").join("containerd.sock");
    crate::support::runtime()
        .block_on(images::import::import_archive(&socket, spare.oci_archive()))
        .expect("import the spare image");
    assert!(cluster.ctr(1, &["images", "ls", "-q"]).contains("docker.io/bramble/spare:gc"));

    cluster.apply(&pod("bystander", "sleep 3600", "{}"));
    cluster.wait_running("bystander", false);
    // Fill the disk to below k3s's threshold (5% free) but not to the last byte.
    let fill = free_mib(&data).saturating_sub(TMPFS_MIB * 3 / 100);
    cluster.apply(&pod("hog", &format!("dd if=/dev/zero of=/data/fill bs=1M count={fill}; sleep 3600"), "{}"));

    eventually(Duration::from_secs(60), &format!("node {AGENT} DiskPressure\n{}", cluster.logs()), || {
        let path = "{.status.conditions[?(@.type==\"DiskPressure\")].status}";
        (cluster.jsonpath(&["node", AGENT], path) == "True").then_some(())
    });
    eventually(Duration::from_secs(60), "the disk-pressure taint", || {
        let taints = cluster.jsonpath(&["node", AGENT], "{.spec.taints[*].key}");
        taints.contains("node.kubernetes.io/disk-pressure").then_some(())
    });
    let hog = wait_evicted(&cluster, "hog");
    assert_eq!(hog["status"]["phase"], "Failed");
    let message = hog["status"]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.starts_with("The node was low on resource: ephemeral-storage. Threshold quantity: "), "{message}");
    assert!(message.contains("Container main was using "), "{message}");
    let conditions = hog["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let target = conditions.iter().find(|c| c["type"] == "DisruptionTarget").expect("a DisruptionTarget condition");
    assert_eq!(target["reason"], "TerminationByKubelet");
    let events: serde_json::Value =
        serde_json::from_str(&cluster.ok("1.33", &["get", "events", "-o", "json"])).expect("events JSON");
    let evicted_event = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["involvedObject"]["name"] == "hog" && e["reason"] == "Evicted" && e["type"] == "Warning");
    assert!(evicted_event.is_some(), "no Evicted event for hog: {events}");
    assert!(!cluster.ctr(1, &["images", "ls", "-q"]).contains("docker.io/bramble/spare:gc"), "the unused image stayed");
    assert!(cluster.ctr(1, &["images", "ls", "-q"]).contains(BUSYBOX), "an image in use or pinned went");
    // The hog's emptyDir went with it: the disk is free again; the small pod still runs.
    eventually(Duration::from_secs(30), "the disk freed", || (free_mib(&data) > TMPFS_MIB / 2).then_some(()));
    assert_eq!(cluster.jsonpath(&["pod", "bystander"], "{.status.phase}"), "Running");
    assert_eq!(cluster.jsonpath(&["pod", "bystander"], "{.status.reason}"), "");
    // Evicted pods stay in the API until deleted, as the kubelet leaves them; deleting works.
    cluster.ok("1.33", &["delete", "pod", "hog", "over-limit", "--wait=true", "--timeout=60s"]);
}
