//! Deleting a namespace, as a user does it with kubectl: its workloads and
//! objects go, an object held by a finalizer holds the namespace (and its
//! conditions say so, as `kubectl describe namespace` shows them), and the
//! namespace goes once the finalizer is removed.

use std::time::Duration;

use crate::scenario::{V, cluster_with_nodes, eventually, jsonpath, out};

#[test]
fn a_namespace_empties_reports_what_holds_it_and_goes() {
    let (cluster, _nodes) = cluster_with_nodes();
    cluster.ok(V, &["create", "namespace", "shop"]);
    cluster.ok(V, &["create", "deployment", "web", "-n", "shop", "--image=busybox:1", "--replicas=2"]);
    cluster.ok(V, &["rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s"]);
    let held =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\ndata: {k: v}\n";
    let created = cluster.kubectl_stdin(V, &["apply", "-n", "shop", "-f", "-"], held);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    cluster.ok(V, &["delete", "namespace", "shop", "--wait=false"]);
    let message = eventually(Duration::from_secs(60), "the namespace says what holds it", || {
        let m = jsonpath(
            &cluster,
            &["namespace", "shop"],
            "{.status.conditions[?(@.type==\"NamespaceFinalizersRemaining\")].message}",
        );
        m.contains("example.com/hold").then_some(m)
    });
    assert_eq!(
        message,
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    eventually(Duration::from_secs(60), "only the held ConfigMap is left", || {
        let m = jsonpath(
            &cluster,
            &["namespace", "shop"],
            "{.status.conditions[?(@.type==\"NamespaceContentRemaining\")].message}",
        );
        (m == "Some resources are remaining: configmaps. has 1 resource instances").then_some(())
    });
    assert_eq!(jsonpath(&cluster, &["namespace", "shop"], "{.status.phase}"), "Terminating");
    assert!(out(&cluster, &["get", "pods,deployments,replicasets", "-n", "shop", "-o", "name"]).trim().is_empty());
    let described = out(&cluster, &["describe", "namespace", "shop"]);
    assert!(described.contains("NamespaceFinalizersRemaining"), "{described}");
    // Creating in a terminating namespace is refused with upstream's words.
    let refused = cluster.kubectl(V, &["create", "configmap", "late", "-n", "shop"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("because it is being terminated"));

    cluster.ok(
        V,
        &["patch", "configmap", "held", "-n", "shop", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#],
    );
    eventually(Duration::from_secs(30), "the namespace is gone", || {
        (!cluster.kubectl(V, &["get", "namespace", "shop"]).status.success()).then_some(())
    });
}
