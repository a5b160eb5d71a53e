//! A `bramble server` killed with SIGKILL and started again on the same data
//! directory keeps everything a user relies on: its CAs (the kubeconfig
//! copied before the crash still works), every acknowledged object, and
//! resourceVersions that keep counting up, so clients resume their watches.

use crate::cluster::{Cluster, Datastore};

/// The `certificate-authority-data` line of a kubeconfig.
fn ca_of(kubeconfig: &str) -> String {
    kubeconfig
        .lines()
        .find(|l| l.trim_start().starts_with("certificate-authority-data:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn a_killed_server_comes_back_with_its_pki_and_objects() {
    let mut cluster = Cluster::start(Datastore::Embedded);
    let v = "1.33";
    let before = std::fs::read_to_string(&cluster.kubeconfig).expect("read the kubeconfig");
    cluster.ok(v, &["create", "namespace", "durable"]);
    cluster.ok(v, &["create", "configmap", "kept", "-n", "durable", "--from-literal=a=1"]);
    cluster.ok(v, &["create", "deployment", "web", "-n", "durable", "--image=nginx:1.27", "--replicas=0"]);
    let rv_before: i64 = cluster
        .ok(v, &["get", "configmap", "kept", "-n", "durable", "-o", "jsonpath={.metadata.resourceVersion}"])
        .parse()
        .expect("a numeric resourceVersion");
    let saved = cluster.kubeconfig.with_extension("before-crash.yaml");
    std::fs::copy(&cluster.kubeconfig, &saved).expect("keep a copy of the kubeconfig");

    cluster.restart();

    let after = std::fs::read_to_string(&cluster.kubeconfig).expect("read the kubeconfig");
    assert!(!ca_of(&before).is_empty(), "the kubeconfig names its CA:\n{before}");
    assert_eq!(ca_of(&before), ca_of(&after), "the cluster CA survives a restart");
    let old_copy = cluster
        .ok(v, &["--kubeconfig", saved.to_str().expect("utf-8 path"), "get", "namespace", "durable", "-o", "name"]);
    assert_eq!(old_copy.trim(), "namespace/durable", "the kubeconfig from before the crash still works");
    assert_eq!(cluster.ok(v, &["get", "configmap", "kept", "-n", "durable", "-o", "jsonpath={.data.a}"]), "1");
    assert_eq!(
        cluster.ok(v, &["get", "deployment", "web", "-n", "durable", "-o", "jsonpath={.spec.replicas}"]),
        "0",
        "an explicit replicas: 0 (sent as protobuf by kubectl 1.33) survives"
    );
    cluster.ok(v, &["create", "configmap", "new", "-n", "durable", "--from-literal=b=2"]);
    let rv_after: i64 = cluster
        .ok(v, &["get", "configmap", "new", "-n", "durable", "-o", "jsonpath={.metadata.resourceVersion}"])
        .parse()
        .expect("a numeric resourceVersion");
    assert!(rv_after > rv_before, "resourceVersions keep counting: {rv_after} after {rv_before}");
    // A watch resumed from before the crash gets what happened since.
    let events = cluster.ok(
        v,
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/durable/configmaps?watch=1&resourceVersion={rv_before}&timeoutSeconds=1"),
        ],
    );
    assert!(
        events.lines().any(|l| l.contains(r#""type":"ADDED""#) && l.contains(r#""name":"new""#)),
        "the resumed watch saw the configmap created after the restart:\n{events}"
    );
}
