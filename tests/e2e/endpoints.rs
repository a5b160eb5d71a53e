//! Endpoints and EndpointSlices on hollow nodes, as kubectl shows them: a
//! Deployment exposed by `kubectl expose` gets its pods' IPs and resolved
//! ports in both, an unready pod is listed as not ready, scaling changes the
//! set, nothing is rewritten while nothing changes, `kubectl describe
//! service` shows the endpoints, and deleting the Service removes them. The
//! `kubernetes` Service's own endpoints stay as the API server made them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::scenario::{V, cluster_with_nodes, eventually, jsonpath, out};

const ZONE: &str = "zone-a";

fn words(text: &str) -> BTreeSet<String> {
    text.split_whitespace().map(String::from).collect()
}

/// The IPs of the Deployment's running pods (not the stray pod), once all `n` have one.
fn deployment_ips(cluster: &Cluster, n: usize) -> Option<BTreeSet<String>> {
    let pods = jsonpath(
        cluster,
        &["pods", "-l", "app=web,pod-template-hash"],
        "{range .items[*]}{.status.phase}/{.status.podIP}/{.metadata.deletionTimestamp}{\"\\n\"}{end}",
    );
    let lines: Vec<&str> = pods.lines().collect();
    let ips: BTreeSet<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Running/"))
        .filter_map(|l| l.strip_suffix('/'))
        .filter(|ip| !ip.is_empty())
        .map(String::from)
        .collect();
    (lines.len() == n && ips.len() == n).then_some(ips)
}

/// Each endpoint of the Service's slices as `ip ready serving terminating node zone`.
fn slice_endpoints(cluster: &Cluster) -> BTreeSet<String> {
    let text = jsonpath(
        cluster,
        &["endpointslices", "-l", "kubernetes.io/service-name=web"],
        "{range .items[*].endpoints[*]}{.addresses[0]} {.conditions.ready} {.conditions.serving} {.conditions.terminating} {.nodeName} {.zone}{\"\\n\"}{end}",
    );
    text.lines().map(String::from).collect()
}

fn ready_in_slices(cluster: &Cluster) -> BTreeSet<String> {
    let all = slice_endpoints(cluster);
    all.iter()
        .filter(|l| l.split(' ').nth(1) == Some("true"))
        .filter_map(|l| l.split(' ').next())
        .map(String::from)
        .collect()
}

const DEPLOYMENT: &str = r#"{"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "labels": {"app": "web"}},
  "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}},
      "spec": {"containers": [{"name": "c", "image": "busybox:1",
        "ports": [{"name": "http", "containerPort": 8080}]}]}}}}"#;

const STRAY: &str = r#"{"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "stray", "labels": {"app": "web"}, "annotations": {"bramble.dev/hollow-ready": "false"}},
  "spec": {"containers": [{"name": "c", "image": "busybox:1", "ports": [{"name": "http", "containerPort": 8080}]}]}}"#;

#[test]
fn an_exposed_deployment_has_endpoints_and_slices_of_its_pods() {
    let (cluster, _nodes) = cluster_with_nodes();
    cluster.ok(V, &["label", "nodes", "--all", &format!("topology.kubernetes.io/zone={ZONE}")]);
    cluster.expect_ok(V, &["apply", "-f", "-"], &cluster.kubectl_stdin(V, &["apply", "-f", "-"], DEPLOYMENT));
    cluster.ok(V, &["rollout", "status", "deployment/web", "--timeout=60s"]);
    cluster.ok(V, &["expose", "deployment", "web", "--port=80", "--target-port=http"]);
    cluster.ok(V, &["create", "service", "externalname", "ext", "--external-name=example.com"]);

    // Endpoints: the three pods' IPs, the named port resolved, from the Service's labels.
    let ips = eventually(Duration::from_secs(20), "three pod IPs", || deployment_ips(&cluster, 3));
    eventually(Duration::from_secs(20), "the Endpoints of web list the pods", || {
        let listed = words(&jsonpath(&cluster, &["endpoints", "web"], "{.subsets[*].addresses[*].ip}"));
        (listed == ips).then_some(())
    });
    let ep = |path: &str| jsonpath(&cluster, &["endpoints", "web"], path);
    assert_eq!(ep("{.subsets[*].ports[*].port}"), "8080");
    assert_eq!(ep("{.subsets[*].ports[*].protocol}"), "TCP");
    assert_eq!(words(&ep("{.subsets[*].addresses[*].targetRef.kind}")), words("Pod"));
    assert!(ep("{.subsets[*].addresses[*].nodeName}").split(' ').all(|n| n.starts_with("hollow-")));
    assert_eq!(ep("{.metadata.labels.app}"), "web");
    assert!(!ep("{.metadata.annotations.endpoints\\.kubernetes\\.io/last-change-trigger-time}").is_empty());
    assert_eq!(ep("{.subsets[*].notReadyAddresses}"), "");
    let table = out(&cluster, &["get", "endpoints", "web"]);
    let first = ips.iter().next().cloned().unwrap_or_default();
    assert!(table.contains(&format!("{first}:8080")), "{table}");

    // EndpointSlices: the same pods, ready, with node and zone, owned by the Service.
    eventually(Duration::from_secs(20), "the slices of web list the pods", || {
        let want: BTreeSet<String> = ips.iter().map(|ip| format!("{ip} true true false")).collect();
        let got: BTreeSet<String> = slice_endpoints(&cluster)
            .iter()
            .filter(|l| l.ends_with(&format!(" {ZONE}")) && l.contains(" hollow-"))
            .map(|l| l.split(' ').take(4).collect::<Vec<_>>().join(" "))
            .collect();
        (got == want).then_some(())
    });
    let slices = |path: &str| jsonpath(&cluster, &["endpointslices", "-l", "kubernetes.io/service-name=web"], path);
    assert_eq!(
        slices("{.items[*].metadata.labels.endpointslice\\.kubernetes\\.io/managed-by}"),
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slices("{.items[*].metadata.generateName}"), "web-");
    assert_eq!(
        slices("{.items[*].metadata.ownerReferences[*].kind}/{.items[*].metadata.ownerReferences[*].name}"),
        "Service/web"
    );
    assert_eq!(slices("{.items[*].addressType}"), "IPv4");
    assert_eq!(slices("{.items[*].ports[*].port}/{.items[*].ports[*].protocol}"), "8080/TCP");
    let table = out(&cluster, &["get", "endpointslices", "-l", "kubernetes.io/service-name=web"]);
    assert!(table.contains("IPv4") && table.contains("8080") && table.contains(&first), "{table}");

    // Nothing changes: nothing is written.
    let versions = || {
        let e = jsonpath(&cluster, &["endpoints", "web"], "{.metadata.resourceVersion}");
        (e, slices("{.items[*].metadata.resourceVersion}"))
    };
    let before = versions();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(versions(), before, "no writes while nothing changes");

    // A pod that never turns ready: listed as not ready.
    cluster.expect_ok(V, &["create", "-f", "-"], &cluster.kubectl_stdin(V, &["create", "-f", "-"], STRAY));
    let stray = eventually(Duration::from_secs(20), "the stray pod's IP", || {
        let ip = jsonpath(&cluster, &["pod", "stray"], "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    });
    eventually(Duration::from_secs(20), "the stray pod in notReadyAddresses", || {
        let not_ready = ep("{.subsets[*].notReadyAddresses[*].ip}");
        let ready = words(&ep("{.subsets[*].addresses[*].ip}"));
        (not_ready == stray && ready == ips).then_some(())
    });
    eventually(Duration::from_secs(20), "the stray pod not ready in the slices", || {
        slice_endpoints(&cluster).iter().any(|l| l.starts_with(&format!("{stray} false false false "))).then_some(())
    });

    // Scaling up and down changes the set.
    for n in [5, 1] {
        cluster.ok(V, &["scale", "deployment/web", &format!("--replicas={n}")]);
        let ips = eventually(Duration::from_secs(30), "the scaled pods' IPs", || deployment_ips(&cluster, n));
        eventually(Duration::from_secs(20), "the Endpoints follow the scale", || {
            (words(&ep("{.subsets[*].addresses[*].ip}")) == ips).then_some(())
        });
        eventually(Duration::from_secs(20), "the slices follow the scale", || {
            (ready_in_slices(&cluster) == ips).then_some(())
        });
    }
    let ips = deployment_ips(&cluster, 1).unwrap_or_default();
    let ip = ips.iter().next().cloned().unwrap_or_default();

    // `kubectl describe service` shows them (1.27 reads Endpoints, newer ones the slices).
    for version in ["1.27", "1.30", "1.33"] {
        let describe = cluster.ok(version, &["describe", "service", "web"]);
        let line = describe.lines().find(|l| l.starts_with("Endpoints:")).unwrap_or_default();
        assert!(line.contains(&format!("{ip}:8080")), "kubectl {version}: {describe}");
    }

    // The API server's own endpoints, and an ExternalName Service's lack of them, are left alone.
    let kubernetes = jsonpath(&cluster, &["endpoints", "kubernetes", "-n", "default"], "{.subsets[0].addresses[*].ip}");
    assert_eq!(kubernetes, "127.0.0.1");
    let managed = jsonpath(
        &cluster,
        &["endpointslice", "kubernetes", "-n", "default"],
        "{.metadata.labels.endpointslice\\.kubernetes\\.io/managed-by}",
    );
    assert_eq!(managed, "", "the kubernetes slice is not the controller's");
    assert_eq!(out(&cluster, &["get", "endpoints", "ext", "--ignore-not-found"]).trim(), "");
    assert_eq!(jsonpath(&cluster, &["endpointslices", "-l", "kubernetes.io/service-name=ext"], "{.items}"), "[]");

    // Deleting the Service removes both.
    cluster.ok(V, &["delete", "service", "web"]);
    eventually(Duration::from_secs(30), "the Endpoints and slices of web gone", || {
        let endpoints = out(&cluster, &["get", "endpoints", "web", "--ignore-not-found", "-o", "name"]);
        let slices = jsonpath(&cluster, &["endpointslices", "-l", "kubernetes.io/service-name=web"], "{.items}");
        (endpoints.trim().is_empty() && slices == "[]").then_some(())
    });
}
