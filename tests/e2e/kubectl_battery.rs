//! The kubectl battery of the API server issue: real kubectl of several
//! versions against a real `bramble server`, once on the embedded store and
//! once on a real etcd 3.4 through `--datastore-endpoint`. Each version
//! works in its own namespace so that the versions cannot see each other's
//! objects.

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use crate::cluster::{Cluster, Datastore, KUBECTL_VERSIONS};

const MANIFEST: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: production
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  colour: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: credentials
stringData:
  password: hunter2
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: builder
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox:1.36
        command: ["true"]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: restic
            image: restic/restic:0.16
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: web.home.arpa
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
"#;

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[track_caller]
fn assert_contains(haystack: &str, needle: &str, what: &str) {
    assert!(haystack.contains(needle), "{what}: expected {needle:?} in:\n{haystack}");
}

fn battery(cluster: &Cluster, v: &str) {
    let ns = format!("battery-{}", v.replace('.', "-"));
    let ns = ns.as_str();

    // Version, discovery, cluster-info.
    let version = cluster.ok(v, &["version"]);
    assert_contains(&version, "v1.33.5+bramble", "kubectl version");
    let versions = cluster.ok(v, &["api-versions"]);
    for gv in ["v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "autoscaling/v2", "rbac.authorization.k8s.io/v1"] {
        assert!(versions.lines().any(|l| l == gv), "api-versions lacks {gv}:\n{versions}");
    }
    let resources = cluster.ok(v, &["api-resources"]);
    let deploy = resources.lines().find(|l| l.starts_with("deployments ")).unwrap_or_default();
    assert_eq!(
        deploy.split_whitespace().collect::<Vec<_>>(),
        ["deployments", "deploy", "apps/v1", "true", "Deployment"],
        "api-resources:\n{resources}"
    );
    // cluster-info colours its output even into a pipe.
    let info = strip_ansi(&cluster.ok(v, &["cluster-info"]));
    assert_contains(&info, "Kubernetes control plane is running at https://127.0.0.1:", "cluster-info");

    // Namespaces.
    let created = cluster.ok(v, &["create", "namespace", ns]);
    assert_eq!(created.trim(), format!("namespace/{ns} created"));
    let again = cluster.kubectl(v, &["create", "namespace", ns]);
    assert!(!again.status.success());
    assert_contains(
        &String::from_utf8_lossy(&again.stderr),
        &format!("namespaces \"{ns}\" already exists"),
        "second create",
    );

    // A multi-document manifest, with no warning about fields the server does not know.
    let first_apply = cluster.kubectl_stdin(v, &["apply", "-n", ns, "-f", "-"], MANIFEST);
    let applied = cluster.expect_ok(v, &["apply"], &first_apply);
    let stderr = String::from_utf8_lossy(&first_apply.stderr);
    assert!(!stderr.contains("unknown field"), "kubectl {v} apply warned:\n{stderr}");
    for line in [
        "deployment.apps/web created",
        "service/web created",
        "configmap/settings created",
        "secret/credentials created",
        "serviceaccount/builder created",
        "job.batch/migrate created",
        "cronjob.batch/backup created",
        "ingress.networking.k8s.io/web created",
    ] {
        assert_contains(&applied, line, "apply");
    }
    // Applying the same manifest again changes nothing, and diff agrees.
    let reapplied =
        cluster.expect_ok(v, &["apply"], &cluster.kubectl_stdin(v, &["apply", "-n", ns, "-f", "-"], MANIFEST));
    assert_contains(&reapplied, "deployment.apps/web unchanged", "second apply");
    let diff = cluster.kubectl_stdin(v, &["diff", "-n", ns, "-f", "-"], MANIFEST);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "kubectl diff after apply must show nothing:\n{}\n{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );

    // get, in every output format.
    let names = cluster.ok(v, &["get", "deploy,svc,cm", "-n", ns, "-o", "name"]);
    for name in ["deployment.apps/web", "service/web", "configmap/settings"] {
        assert!(names.lines().any(|l| l == name), "-o name lacks {name}:\n{names}");
    }
    let wide = cluster.ok(v, &["get", "deployments", "-n", ns, "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
    assert_contains(&wide, "nginx:1.27", "-o wide");
    let yaml = cluster.ok(v, &["get", "deployment", "web", "-n", ns, "-o", "yaml"]);
    assert_contains(&yaml, "kind: Deployment", "-o yaml");
    assert_contains(&yaml, "progressDeadlineSeconds: 600", "-o yaml shows defaults");
    let json = cluster.ok(v, &["get", "service", "web", "-n", ns, "-o", "json"]);
    let svc: serde_json::Value = serde_json::from_str(&json).expect("-o json is JSON");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    let cluster_ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default();
    assert!(cluster_ip.starts_with("10.43.") && cluster_ip != "10.43.0.1", "a ClusterIP from --service-cidr: {svc}");
    assert_eq!(svc["spec"]["clusterIPs"], serde_json::json!([cluster_ip]));
    assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");
    let path = cluster.ok(v, &["get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.colour}"]);
    assert_eq!(path, "blue");
    let all = cluster.ok(v, &["get", "all", "-n", ns]);
    for name in ["service/web", "deployment.apps/web", "job.batch/migrate", "cronjob.batch/backup"] {
        assert_contains(&all, name, "get all");
    }
    let everywhere = cluster.ok(v, &["get", "configmaps", "-A"]);
    assert!(everywhere.lines().any(|l| l.split_whitespace().take(2).eq([ns, "settings"])), "get -A:\n{everywhere}");
    let labelled = cluster.ok(v, &["get", "all", "-n", ns, "-l", "app=web", "-o", "name"]);
    // The Service and the Deployment, and what the controllers made for it (a ReplicaSet, pods).
    for name in ["service/web", "deployment.apps/web"] {
        assert!(labelled.lines().any(|l| l == name), "-l app=web lists {name}:\n{labelled}");
    }
    assert!(
        labelled.lines().all(|l| l == "service/web"
            || l.starts_with("deployment.apps/web")
            || l.starts_with("replicaset.apps/web-")
            || l.starts_with("pod/web-")),
        "-l app=web lists only the web objects:\n{labelled}"
    );
    let fielded =
        cluster.ok(v, &["get", "configmaps", "-n", ns, "--field-selector", "metadata.name=settings", "-o", "name"]);
    assert_eq!(fielded.trim(), "configmap/settings");
    let bad = cluster.kubectl(v, &["get", "configmaps", "-n", ns, "--field-selector", "spec.nope=1"]);
    assert_contains(
        &String::from_utf8_lossy(&bad.stderr),
        "\"spec.nope\" is not a known field selector",
        "bad field selector",
    );

    // get -w sees add, modify and delete.
    watch_sees_changes(cluster, v, ns);

    // label, annotate, the three patch types, scripted edit.
    cluster.ok(v, &["label", "configmap", "settings", "-n", ns, "tier=backend"]);
    cluster.ok(v, &["annotate", "configmap", "settings", "-n", ns, "owner=ops"]);
    cluster.ok(
        v,
        &[
            "patch",
            "deployment",
            "web",
            "-n",
            ns,
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}"#,
        ],
    );
    cluster
        .ok(v, &["patch", "configmap", "settings", "-n", ns, "--type", "merge", "-p", r#"{"data":{"size":"large"}}"#]);
    cluster.ok(
        v,
        &[
            "patch",
            "configmap",
            "settings",
            "-n",
            ns,
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/data/colour","value":"green"}]"#,
        ],
    );
    let cm: serde_json::Value =
        serde_json::from_str(&cluster.ok(v, &["get", "configmap", "settings", "-n", ns, "-o", "json"])).expect("json");
    assert_eq!(cm["metadata"]["labels"]["tier"], "backend");
    assert_eq!(cm["metadata"]["annotations"]["owner"], "ops");
    assert_eq!(cm["data"], serde_json::json!({"colour": "green", "size": "large"}));
    let deployment: serde_json::Value =
        serde_json::from_str(&cluster.ok(v, &["get", "deployment", "web", "-n", ns, "-o", "json"])).expect("json");
    let containers = &deployment["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:1.28", "strategic merge kept one container: {containers}");
    assert_eq!(containers[0]["env"][0]["name"], "MODE", "strategic merge kept the env: {containers}");
    assert_eq!(deployment["metadata"]["generation"], 2);
    let edited = cluster.kubectl_env(
        v,
        &["edit", "configmap", "settings", "-n", ns],
        &[("KUBE_EDITOR", "sed -i s/colour:\\ green/colour:\\ red/"), ("EDITOR", "")],
    );
    cluster.expect_ok(v, &["edit"], &edited);
    assert_eq!(cluster.ok(v, &["get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data.colour}"]), "red");

    // Server-side apply: a second apply that leaves out a field it applied before removes it; others stay.
    let ssa = |labels: &str, colour: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels: {{{labels}}}\ndata: {{colour: {colour}}}\n"
        )
    };
    let out = cluster.kubectl_stdin(
        v,
        &["apply", "--server-side", "-n", ns, "-f", "-"],
        &ssa("app: web, tier: front", "blue"),
    );
    assert_contains(
        &cluster.expect_ok(v, &["apply --server-side"], &out),
        "configmap/applied serverside-applied",
        "SSA",
    );
    cluster.ok(v, &["annotate", "configmap", "applied", "-n", ns, "owner=ops"]);
    let out = cluster.kubectl_stdin(v, &["apply", "--server-side", "-n", ns, "-f", "-"], &ssa("app: web", "green"));
    cluster.expect_ok(v, &["apply --server-side"], &out);
    let applied: serde_json::Value = serde_json::from_str(
        &cluster.ok(v, &["get", "configmap", "applied", "-n", ns, "-o", "json", "--show-managed-fields"]),
    )
    .expect("json");
    assert_eq!(applied["metadata"]["labels"], serde_json::json!({"app": "web"}), "the released label is gone");
    assert_eq!(applied["metadata"]["annotations"]["owner"], "ops", "a field the applier never owned stays");
    assert_eq!(applied["data"]["colour"], "green");
    assert_eq!(applied["metadata"]["managedFields"][0]["operation"], "Apply", "{applied}");
    let diff = cluster.kubectl_stdin(v, &["diff", "--server-side", "-n", ns, "-f", "-"], &ssa("app: web", "green"));
    assert_eq!(
        diff.status.code(),
        Some(0),
        "kubectl diff --server-side after apply: {}",
        String::from_utf8_lossy(&diff.stdout)
    );

    // Server-side dry run writes nothing.
    let dry = cluster.kubectl_stdin(
        v,
        &["apply", "--dry-run=server", "-n", ns, "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata: {a: b}\n",
    );
    assert_contains(
        &cluster.expect_ok(v, &["apply --dry-run=server"], &dry),
        "configmap/dry created (server dry run)",
        "dry run",
    );
    let missing = cluster.kubectl(v, &["get", "configmap", "dry", "-n", ns]);
    assert!(!missing.status.success(), "a dry-run object must not be stored");

    // explain reads the OpenAPI documents.
    let explained = cluster.ok(v, &["explain", "deployment.spec.replicas"]);
    assert_contains(&explained, "replicas", "explain");
    assert_contains(&explained, "<integer>", "explain");

    // Unknown fields: kubectl's default (--validate=strict) makes them a 400; with --validate=warn the
    // server drops them and says so.
    let typo = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata: {a: b}\ndta: {c: d}\n";
    let strict = cluster.kubectl_stdin(v, &["apply", "-n", ns, "-f", "-"], typo);
    assert!(!strict.status.success(), "kubectl {v}: an unknown field must fail under --validate=strict");
    assert_contains(
        &String::from_utf8_lossy(&strict.stderr),
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"dta\"",
        "strict field validation",
    );
    let warned = cluster.kubectl_stdin(v, &["apply", "--validate=warn", "-n", ns, "-f", "-"], typo);
    cluster.expect_ok(v, &["apply --validate=warn"], &warned);
    assert_contains(
        &String::from_utf8_lossy(&warned.stderr),
        "Warning: unknown field \"dta\"",
        "warn field validation",
    );
    let stored: serde_json::Value =
        serde_json::from_str(&cluster.ok(v, &["get", "configmap", "typo", "-n", ns, "-o", "json"])).expect("json");
    assert!(stored.get("dta").is_none(), "an unknown field is dropped, not stored: {stored}");

    // Validation errors come back as 422 with field paths.
    let invalid = cluster.kubectl_stdin(
        v,
        &["apply", "-n", ns, "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n",
    );
    assert!(!invalid.status.success());
    assert_contains(
        &String::from_utf8_lossy(&invalid.stderr),
        "is invalid: metadata.name: Invalid value: \"Bad_Name\"",
        "invalid name",
    );

    // delete with each cascade mode, then the namespace.
    for (name, cascade) in [("a", "background"), ("b", "foreground"), ("c", "orphan")] {
        cluster.ok(v, &["create", "configmap", name, "-n", ns, "--from-literal=k=v"]);
        let deleted = cluster.ok(v, &["delete", "configmap", name, "-n", ns, &format!("--cascade={cascade}")]);
        assert_contains(&deleted, &format!("configmap \"{name}\" deleted"), "delete");
    }
    let deleted = cluster.ok(v, &["delete", "namespace", ns, "--timeout=60s"]);
    assert_contains(&deleted, &format!("namespace \"{ns}\" deleted"), "delete namespace");
    let gone = cluster.kubectl(v, &["get", "namespace", ns]);
    assert!(!gone.status.success(), "the namespace must be gone after kubectl delete returns");
    let leftovers = cluster.ok(v, &["get", "configmaps,deployments,secrets", "-n", ns, "-o", "name"]);
    assert!(leftovers.trim().is_empty(), "deleting a namespace deletes its contents:\n{leftovers}");
}

fn watch_sees_changes(cluster: &Cluster, v: &str, ns: &str) {
    // The table output of a watch: kubectl asks for Tables and prints one row per event.
    let mut child = cluster.kubectl_spawn(v, &["get", "configmaps", "-n", ns, "--watch-only", "--output-watch-events"]);
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // "ADDED   watched-0   1   0s" -> ("ADDED", "watched-0"); the header is skipped.
            let fields: Vec<String> = line.split_whitespace().take(2).map(String::from).collect();
            if fields.len() == 2 && fields[0] != "EVENT" && tx.send((fields[0].clone(), fields[1].clone())).is_err() {
                break;
            }
        }
    });
    // The watch is established once kubectl has made its request; changes made
    // before then would be missed, so keep poking until the first event shows.
    let mut first = None;
    for attempt in 0..50 {
        let name = format!("watched-{attempt}");
        cluster.ok(v, &["create", "configmap", &name, "-n", ns, "--from-literal=a=1"]);
        if let Ok(event) = rx.recv_timeout(Duration::from_millis(500)) {
            first = Some(event);
            break;
        }
    }
    let (kind, name) = first.unwrap_or_else(|| panic!("kubectl {v} get -w printed nothing"));
    assert!(kind == "ADDED" && name.starts_with("watched-"), "first watch event: {kind} {name}");
    cluster.ok(v, &["label", "configmap", &name, "-n", ns, "seen=yes"]);
    cluster.ok(v, &["delete", "configmap", &name, "-n", ns]);
    let mut rest = Vec::new();
    while rest.len() < 2 {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok((kind, seen)) if seen == name => rest.push(kind),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(rest, ["MODIFIED", "DELETED"], "kubectl {v} get -w on {name}");
}

fn run(datastore: Datastore) {
    let cluster = Cluster::start(datastore);
    for v in KUBECTL_VERSIONS {
        battery(&cluster, v);
    }
}

#[test]
fn kubectl_battery_on_the_embedded_store() {
    run(Datastore::Embedded);
}

#[test]
fn kubectl_battery_on_external_etcd() {
    run(Datastore::ExternalEtcd);
}

#[test]
fn anonymous_and_unknown_users_get_upstreams_401_and_403() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "s3cret-admin,alice,1001,\"system:masters\"\nplain-token,bob,1002\n")
        .expect("write tokens");
    let arg = format!("token-auth-file={}", tokens.display());
    let cluster = Cluster::start_with(Datastore::Embedded, &["--kube-apiserver-arg", &arg]);
    let anonymous = |path: &str| {
        Command::new("curl")
            .args(["-sk", "-o", "/dev/stdout", "-w", "\n%{http_code}"])
            .arg(format!("https://127.0.0.1:{}{path}", cluster.port))
            .output()
            .expect("run curl")
    };
    let out = anonymous("/readyz");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n200");
    let out = anonymous("/api/v1/namespaces/default/pods");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n403"), "{text}");
    assert_contains(
        &text,
        r#""message":"pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"""#,
        "403 body",
    );
    let bad_token = Command::new("curl")
        .args(["-sk", "-H", "Authorization: Bearer nope", "-w", "\n%{http_code}"])
        .arg(format!("https://127.0.0.1:{}/api", cluster.port))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&bad_token.stdout);
    assert!(text.ends_with("\n401"), "{text}");
    assert_contains(&text, r#""reason":"Unauthorized""#, "401 body");
    let as_user = |token: &str, path: &str| {
        let out = Command::new("curl")
            .args(["-sk", "-H", &format!("Authorization: Bearer {token}"), "-w", "\n%{http_code}"])
            .arg(format!("https://127.0.0.1:{}{path}", cluster.port))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let alice = as_user("s3cret-admin", "/api/v1/namespaces/default");
    assert!(alice.ends_with("\n200"), "a system:masters token may read: {alice}");
    let bob = as_user("plain-token", "/apis/apps/v1/deployments");
    assert!(bob.ends_with("\n403"), "{bob}");
    assert_contains(
        &bob,
        r#"deployments.apps is forbidden: User \"bob\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope"#,
        "403 for a token user",
    );

    // Reviews: kubectl auth can-i / whoami, for the admin and, impersonated, for bob.
    let v = "1.33";
    assert_eq!(cluster.ok(v, &["auth", "can-i", "create", "pods"]).trim(), "yes");
    let as_bob = cluster.kubectl(v, &["auth", "can-i", "get", "pods", "--as=bob"]);
    assert_eq!(String::from_utf8_lossy(&as_bob.stdout).trim(), "no");
    assert_eq!(as_bob.status.code(), Some(1), "kubectl auth can-i exits 1 for no");
    let whoami = cluster.ok(v, &["auth", "whoami", "--as=bob", "--as-group=devs"]);
    assert!(whoami.contains("bob") && whoami.contains("devs"), "{whoami}");
    let statuses = cluster.ok(v, &["get", "componentstatuses"]);
    assert!(statuses.lines().any(|l| l.starts_with("etcd-0") && l.contains("Healthy")), "{statuses}");
    // bob may ask about himself, and may not impersonate.
    let review = Command::new("curl")
        .args(["-sk", "-H", "Authorization: Bearer plain-token", "-H", "Content-Type: application/json", "-X", "POST"])
        .args(["-d", r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}}"#])
        .arg(format!("https://127.0.0.1:{}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", cluster.port))
        .output()
        .expect("run curl");
    assert_contains(&String::from_utf8_lossy(&review.stdout), r#""status":{"allowed":false}"#, "bob's review");
    let impersonating = Command::new("curl")
        .args(["-sk", "-H", "Authorization: Bearer plain-token", "-H", "Impersonate-User: alice"])
        .arg(format!("https://127.0.0.1:{}/api/v1/namespaces", cluster.port))
        .output()
        .expect("run curl");
    assert_contains(
        &String::from_utf8_lossy(&impersonating.stdout),
        r#"User \"bob\" cannot impersonate resource \"users\""#,
        "impersonation by a non-admin",
    );
}

#[test]
fn services_get_cluster_ips_and_node_ports_and_kubernetes_is_there() {
    let cluster = Cluster::start(Datastore::Embedded);
    let v = "1.33";
    let kubernetes: serde_json::Value =
        serde_json::from_str(&cluster.ok(v, &["get", "service", "kubernetes", "-n", "default", "-o", "json"]))
            .expect("json");
    assert_eq!(kubernetes["spec"]["clusterIP"], "10.43.0.1");
    assert_eq!(kubernetes["spec"]["ports"][0]["port"], 443);
    let endpoints = cluster.ok(
        v,
        &[
            "get",
            "endpoints",
            "kubernetes",
            "-n",
            "default",
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}",
        ],
    );
    assert_eq!(endpoints, format!("127.0.0.1:{}", cluster.port));
    cluster.ok(v, &["get", "endpointslice", "kubernetes", "-n", "default"]);

    cluster.ok(v, &["create", "service", "nodeport", "np", "--tcp=80:8080"]);
    let np: serde_json::Value =
        serde_json::from_str(&cluster.ok(v, &["get", "service", "np", "-o", "json"])).expect("json");
    let node_port = np["spec"]["ports"][0]["nodePort"].as_u64().unwrap_or_default();
    assert!((30000..=32767).contains(&node_port), "a node port: {np}");
    // A node port and a ClusterIP asked for by number are given, or refused when taken.
    let fixed = |name: &str, ip: &str, port: u64| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  type: NodePort\n  clusterIP: {ip}\n  ports: [{{port: 53, nodePort: {port}}}]\n"
        )
    };
    let dns = cluster.kubectl_stdin(v, &["create", "-f", "-"], &fixed("dns", "10.43.0.10", 30053));
    cluster.expect_ok(v, &["create dns"], &dns);
    assert_eq!(cluster.ok(v, &["get", "service", "dns", "-o", "jsonpath={.spec.clusterIP}"]), "10.43.0.10");
    let taken = cluster.kubectl_stdin(v, &["create", "-f", "-"], &fixed("dns2", "10.43.0.10", 30054));
    assert!(!taken.status.success());
    assert_contains(
        &String::from_utf8_lossy(&taken.stderr),
        "failed to allocate IP 10.43.0.10: provided IP is already allocated",
        "taken IP",
    );
    let port_taken = cluster.kubectl_stdin(v, &["create", "-f", "-"], &fixed("dns3", "10.43.0.11", 30053));
    assert_contains(
        &String::from_utf8_lossy(&port_taken.stderr),
        "spec.ports[0].nodePort: Invalid value: 30053: provided port is already allocated",
        "taken port",
    );
    let outside = cluster.kubectl_stdin(v, &["create", "-f", "-"], &fixed("dns4", "192.168.1.1", 30055));
    assert_contains(
        &String::from_utf8_lossy(&outside.stderr),
        "is not in the valid range. The range of valid IPs is 10.43.0.0/16",
        "IP outside",
    );
    // Deleting a Service frees its address and port; a replace without them keeps them.
    cluster.ok(v, &["delete", "service", "dns"]);
    let again = cluster.kubectl_stdin(v, &["create", "-f", "-"], &fixed("dns", "10.43.0.10", 30053));
    cluster.expect_ok(v, &["create dns again"], &again);
    let replaced = cluster.kubectl_stdin(
        v,
        &["replace", "-f", "-"],
        "apiVersion: v1\nkind: Service\nmetadata: {name: dns}\nspec:\n  type: NodePort\n  ports: [{port: 53}]\n",
    );
    cluster.expect_ok(v, &["replace"], &replaced);
    assert_eq!(
        cluster.ok(v, &["get", "service", "dns", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}"]),
        "10.43.0.10 30053"
    );
}

#[test]
fn pods_are_bound_and_evicted_through_their_subresources() {
    let cluster = Cluster::start(Datastore::Embedded);
    let v = "1.33";
    cluster.ok(v, &["run", "p1", "--image=busybox", "--restart=Never", "--", "sleep", "1000"]);
    let binding = r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1","annotations":{"scheduled-by":"test"}},"target":{"apiVersion":"v1","kind":"Node","name":"node-a"}}"#;
    let bound = cluster.kubectl_stdin(
        v,
        &["create", "--raw", "/api/v1/namespaces/default/pods/p1/binding", "-f", "-"],
        binding,
    );
    assert_contains(&cluster.expect_ok(v, &["binding"], &bound), r#""status":"Success""#, "binding");
    let pod: serde_json::Value =
        serde_json::from_str(&cluster.ok(v, &["get", "pod", "p1", "-o", "json"])).expect("json");
    assert_eq!(pod["spec"]["nodeName"], "node-a");
    assert_eq!(pod["metadata"]["annotations"]["scheduled-by"], "test");
    let scheduled = pod["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled"));
    assert_eq!(scheduled.map(|c| c["status"].clone()), Some(serde_json::json!("True")), "{pod}");
    let again = cluster.kubectl_stdin(
        v,
        &["create", "--raw", "/api/v1/namespaces/default/pods/p1/binding", "-f", "-"],
        binding,
    );
    assert!(!again.status.success());
    assert_contains(
        &String::from_utf8_lossy(&again.stderr),
        "is already assigned to node \"node-a\"",
        "second binding",
    );
    let eviction = r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p1","namespace":"default"}}"#;
    let evicted = cluster.kubectl_stdin(
        v,
        &["create", "--raw", "/api/v1/namespaces/default/pods/p1/eviction", "-f", "-"],
        eviction,
    );
    assert_contains(&cluster.expect_ok(v, &["eviction"], &evicted), r#""status":"Success""#, "eviction");
    // A bound pod waits for its kubelet to confirm; until then it is Terminating.
    let deleting = cluster.ok(v, &["get", "pod", "p1", "-o", "jsonpath={.metadata.deletionTimestamp}"]);
    assert!(!deleting.is_empty(), "the evicted pod is being deleted");
}
