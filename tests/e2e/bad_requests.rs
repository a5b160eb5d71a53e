//! Bad input to the API server, sent as a user's tools send it (`kubectl
//! create --raw` posts the bytes it is given): each gets upstream's
//! `metav1.Status` with the right code and reason, nothing is stored, and
//! the server keeps serving.

use crate::cluster::{Cluster, Datastore};

const V: &str = "1.33";
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

/// Posts `body` to `path`; returns kubectl's stderr, asserting that it failed.
fn rejected(cluster: &Cluster, path: &str, body: &str) -> String {
    let out = cluster.kubectl_stdin(V, &["create", "--raw", path, "-f", "-"], body);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{path} accepted {body:.80}: {}", String::from_utf8_lossy(&out.stdout));
    stderr
}

#[track_caller]
fn expect(stderr: &str, needle: &str) {
    assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
}

#[test]
fn bad_bodies_get_upstreams_status_and_change_nothing() {
    let cluster = Cluster::start(Datastore::Embedded);

    let malformed =
        rejected(&cluster, CONFIGMAPS, r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "#);
    expect(&malformed, "Error from server (BadRequest)");
    expect(&malformed, "the object provided is unrecognized");

    let not_an_object = rejected(&cluster, CONFIGMAPS, "[1, 2, 3]");
    expect(&not_an_object, "Error from server (BadRequest)");

    let wrong_kind =
        rejected(&cluster, CONFIGMAPS, r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}"#);
    expect(&wrong_kind, "Error from server (BadRequest)");
    expect(&wrong_kind, "does not match the expected kind (ConfigMap)");

    let wrong_version =
        rejected(&cluster, CONFIGMAPS, r#"{"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}"#);
    expect(&wrong_version, "does not match the expected API version (v1)");

    let invalid =
        rejected(&cluster, CONFIGMAPS, r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "-bad-"}}"#);
    expect(&invalid, r#"The ConfigMap "-bad-" is invalid"#);
    expect(&invalid, r#"metadata.name: Invalid value: "-bad-""#);

    let strict = rejected(
        &cluster,
        &format!("{CONFIGMAPS}?fieldValidation=Strict"),
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "colour": "red"}, "dta": {}}"#,
    );
    expect(&strict, r#"strict decoding error: unknown field "dta", unknown field "metadata.colour""#);

    let bad_param = rejected(&cluster, &format!("{CONFIGMAPS}?fieldValidation=Loud"), r#"{"metadata": {"name": "x"}}"#);
    expect(&bad_param, "invalid fieldValidation value: Loud");

    // Over kube-apiserver's 3 MiB limit: 413, and the server is not hurt.
    let huge = format!(
        r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "huge"}}, "data": {{"a": "{}"}}}}"#,
        "x".repeat(3 << 20)
    );
    let too_large = rejected(&cluster, CONFIGMAPS, &huge);
    expect(&too_large, "the request body is too large");

    let stored = cluster.ok(V, &["get", "configmaps", "-n", "default", "-o", "name"]);
    // (kube-root-ca.crt is the one a controller may have made.)
    let ours: Vec<&str> = stored.lines().filter(|l| *l != "configmap/kube-root-ca.crt").collect();
    assert!(ours.is_empty(), "nothing was stored: {ours:?}");
    cluster.ok(V, &["create", "configmap", "fine", "-n", "default", "--from-literal=a=b"]);
    assert_eq!(
        cluster.ok(V, &["get", "configmap", "fine", "-o", "jsonpath={.data.a}"]),
        "b",
        "the server still serves"
    );
}
