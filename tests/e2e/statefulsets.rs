//! StatefulSets and local-path storage on hollow nodes, driven by kubectl:
//! pods come up in order, each with a claim bound to a volume the
//! provisioner made on the pod's node; updates roll from the highest
//! ordinal down to the partition; history and undo work; scale-down keeps
//! the claim; a deleted claim's volume is reclaimed. The scheduler binds
//! volumes and says why it cannot.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::scenario::{V, cluster_with_nodes, eventually, jsonpath, out};

const WEB: &str = r#"{"apiVersion": "apps/v1", "kind": "StatefulSet",
  "metadata": {"name": "web"},
  "spec": {"serviceName": "web", "replicas": 3,
    "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}},
      "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}},
    "volumeClaimTemplates": [{"metadata": {"name": "data"},
      "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}"#;

/// Lines a long-running `kubectl get -w` prints, read on a thread.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(cluster: &Cluster, args: &[&str]) -> Watch {
        let mut child = cluster.kubectl_spawn(V, args);
        let stdout = child.stdout.take().expect("kubectl's stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watch { child, lines, seen: Vec::new() }
    }

    /// Reads lines until one satisfies `done`; returns all seen so far.
    #[track_caller]
    fn until(&mut self, limit: Duration, what: &str, done: impl Fn(&str) -> bool) -> &[String] {
        let deadline = Instant::now() + limit;
        loop {
            if self.seen.last().is_some_and(|l| done(l)) {
                return &self.seen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("{what}: not within {limit:?}; seen:\n{}", self.seen.join("\n")),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn first(lines: &[String], what: impl Fn(&str) -> bool) -> usize {
    lines.iter().position(|l| what(l)).unwrap_or(usize::MAX)
}

fn create(cluster: &Cluster, manifest: &str) {
    cluster.expect_ok(V, &["create", "-f", "-"], &cluster.kubectl_stdin(V, &["create", "-f", "-"], manifest));
}

fn pods(cluster: &Cluster) -> String {
    jsonpath(cluster, &["pods", "-l", "app=web"], "{range .items[*]}{.metadata.name}{\"\\n\"}{end}")
}

#[test]
fn a_statefulset_comes_up_in_order_on_local_path_volumes_and_rolls_by_ordinal() {
    let (cluster, _nodes) = cluster_with_nodes();
    let classes = out(&cluster, &["get", "storageclass"]);
    assert!(classes.contains("local-path (default)") && classes.contains("rancher.io/local-path"), "{classes}");
    assert!(classes.contains("Delete") && classes.contains("WaitForFirstConsumer"), "{classes}");

    // web-N is created only once web-(N-1) is Running and Ready.
    let ready = r#"{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}"#;
    let mut watch =
        Watch::start(&cluster, &["get", "pods", "-l", "app=web", "--watch", "-o", &format!("jsonpath={ready}")]);
    create(&cluster, WEB);
    let lines = watch.until(Duration::from_secs(90), "web-2 Ready", |l| l == "web-2 True").to_vec();
    for (before, after) in [("web-0", "web-1"), ("web-1", "web-2")] {
        let ready_at = first(&lines, |l| l == format!("{before} True"));
        let created_at = first(&lines, |l| l.starts_with(&format!("{after} ")));
        assert!(ready_at < created_at, "{after} appeared before {before} was Ready:\n{}", lines.join("\n"));
    }
    drop(watch);
    let status = cluster.ok(V, &["rollout", "status", "statefulset/web", "--timeout=60s"]);
    assert!(status.contains("roll out complete"), "{status}");

    // Each claim from the template is Bound to a local-path volume on its pod's node.
    for i in 0..3 {
        let pod = format!("web-{i}");
        let claim = format!("data-web-{i}");
        let node = jsonpath(&cluster, &["pod", &pod], "{.spec.nodeName}");
        assert!(node.starts_with("hollow-"), "{pod} on {node:?}");
        assert_eq!(jsonpath(&cluster, &["pod", &pod], "{.spec.hostname}.{.spec.subdomain}"), format!("{pod}.web"));
        let labels = jsonpath(&cluster, &["pod", &pod], "{.metadata.labels}");
        assert!(labels.contains(&format!("\"statefulset.kubernetes.io/pod-name\":\"{pod}\"")), "{labels}");
        assert!(labels.contains(&format!("\"apps.kubernetes.io/pod-index\":\"{i}\"")), "{labels}");
        assert!(labels.contains("controller-revision-hash"), "{labels}");
        let c = eventually(Duration::from_secs(20), "the claim bound", || {
            let c = jsonpath(
                &cluster,
                &["pvc", &claim],
                "{.status.phase} {.spec.storageClassName} {.spec.volumeName} {.metadata.annotations.volume\\.kubernetes\\.io/selected-node}",
            );
            c.starts_with("Bound ").then_some(c)
        });
        let fields: Vec<&str> = c.split(' ').collect();
        assert_eq!(fields[1], "local-path", "the default class was given to the claim: {c}");
        assert_eq!(fields[3], node, "the scheduler chose the pod's node for the claim: {c}");
        let volume = fields[2];
        let uid = jsonpath(&cluster, &["pvc", &claim], "{.metadata.uid}");
        assert_eq!(volume, format!("pvc-{uid}"));
        let pv = jsonpath(
            &cluster,
            &["pv", volume],
            "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key}={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]} {.spec.hostPath.path} {.spec.hostPath.type} {.spec.claimRef.name} {.status.phase} {.spec.persistentVolumeReclaimPolicy} {.metadata.annotations.pv\\.kubernetes\\.io/provisioned-by}",
        );
        let want_path =
            format!("/storage/{volume}_default_{claim} DirectoryOrCreate {claim} Bound Delete rancher.io/local-path");
        assert!(pv.starts_with(&format!("kubernetes.io/hostname={node} ")) && pv.ends_with(&want_path), "{pv}");
        assert_eq!(
            jsonpath(&cluster, &["pvc", &claim], "{.metadata.annotations.pv\\.kubernetes\\.io/bind-completed}"),
            "yes"
        );
    }

    // An update with partition 2 replaces web-2 only.
    let revision_1 = jsonpath(&cluster, &["sts", "web"], "{.status.currentRevision}");
    cluster.ok(V, &["patch", "sts", "web", "-p", r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}"#]);
    cluster.ok(V, &["set", "image", "statefulset/web", "c=busybox:2"]);
    let status = cluster.ok(V, &["rollout", "status", "statefulset/web", "--timeout=60s"]);
    assert!(status.contains("partitioned roll out complete: 1 new pods have been updated"), "{status}");
    let image = r#"{range .items[*]}{.metadata.name}={.spec.containers[0].image}{"\n"}{end}"#;
    let images = jsonpath(&cluster, &["pods", "-l", "app=web"], image);
    assert_eq!(images, "web-0=busybox:1\nweb-1=busybox:1\nweb-2=busybox:2", "partition 2 keeps web-0 and web-1");
    assert_eq!(jsonpath(&cluster, &["sts", "web"], "{.status.currentRevision}"), revision_1);
    let revision_2 = jsonpath(&cluster, &["sts", "web"], "{.status.updateRevision}");
    assert_ne!(revision_1, revision_2);

    // Partition 0: web-1, then web-0, each waiting for the one before to be Ready.
    let line = r#"{.metadata.name} {.spec.containers[0].image} {.status.conditions[?(@.type=="Ready")].status}{"\n"}"#;
    let mut watch =
        Watch::start(&cluster, &["get", "pods", "-l", "app=web", "--watch", "-o", &format!("jsonpath={line}")]);
    cluster.ok(V, &["patch", "sts", "web", "-p", r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#]);
    let lines =
        watch.until(Duration::from_secs(90), "web-0 updated and Ready", |l| l == "web-0 busybox:2 True").to_vec();
    let web1_ready = first(&lines, |l| l == "web-1 busybox:2 True");
    let web0_new = first(&lines, |l| l.starts_with("web-0 busybox:2"));
    assert!(web1_ready < web0_new, "web-0 was replaced before web-1 was Ready again:\n{}", lines.join("\n"));
    drop(watch);
    let status = cluster.ok(V, &["rollout", "status", "statefulset/web", "--timeout=60s"]);
    assert!(status.contains("roll out complete: 3 new pods have been updated"), "{status}");
    eventually(Duration::from_secs(20), "the update revision current", || {
        (jsonpath(&cluster, &["sts", "web"], "{.status.currentRevision} {.status.updatedReplicas}")
            == format!("{revision_2} 3"))
        .then_some(())
    });

    // History and undo: revision 1's template comes back as revision 3.
    let history = out(&cluster, &["rollout", "history", "statefulset/web"]);
    assert!(history.contains("1 ") && history.contains("2 "), "{history}");
    let revision_detail = out(&cluster, &["rollout", "history", "statefulset/web", "--revision=1"]);
    assert!(revision_detail.contains("busybox:1"), "{revision_detail}");
    cluster.ok(V, &["rollout", "undo", "statefulset/web"]);
    cluster.ok(V, &["rollout", "status", "statefulset/web", "--timeout=90s"]);
    eventually(Duration::from_secs(60), "the undo rolled out", || {
        let images = jsonpath(&cluster, &["pods", "-l", "app=web"], image);
        (images == "web-0=busybox:1\nweb-1=busybox:1\nweb-2=busybox:1"
            && jsonpath(&cluster, &["sts", "web"], "{.status.currentRevision}") == revision_1)
            .then_some(())
    });
    let revisions = jsonpath(
        &cluster,
        &["controllerrevisions", "-l", "app=web"],
        "{range .items[*]}{.metadata.name}={.revision}{\"\\n\"}{end}",
    );
    let mut revisions: Vec<&str> = revisions.lines().collect();
    revisions.sort();
    let mut want = vec![format!("{revision_1}=3"), format!("{revision_2}=2")];
    want.sort();
    assert_eq!(revisions, want, "the old template was renumbered, not copied");

    // Scale down removes web-2 and keeps its claim (Retain).
    cluster.ok(V, &["scale", "statefulset/web", "--replicas=2"]);
    eventually(Duration::from_secs(30), "web-2 gone", || (pods(&cluster) == "web-0\nweb-1").then_some(()));
    assert_eq!(jsonpath(&cluster, &["pvc", "data-web-2"], "{.status.phase}"), "Bound", "the claim stays");
    let describe = out(&cluster, &["describe", "statefulset", "web"]);
    assert!(
        describe.contains("SuccessfulDelete") && describe.contains("delete Pod web-2 in StatefulSet web successful"),
        "{describe}"
    );

    // With the set gone, deleting a claim reclaims its volume (Delete).
    let volume_2 = jsonpath(&cluster, &["pvc", "data-web-2"], "{.spec.volumeName}");
    let volume_0 = jsonpath(&cluster, &["pvc", "data-web-0"], "{.spec.volumeName}");
    cluster.ok(V, &["delete", "statefulset", "web"]);
    eventually(Duration::from_secs(30), "the set's pods gone", || pods(&cluster).is_empty().then_some(()));
    cluster.ok(V, &["delete", "pvc", "data-web-2", "--timeout=60s"]);
    eventually(Duration::from_secs(30), "the released volume deleted", || {
        out(&cluster, &["get", "pv", &volume_2, "--ignore-not-found"]).trim().is_empty().then_some(())
    });
    assert_eq!(jsonpath(&cluster, &["pv", &volume_0], "{.status.phase}"), "Bound", "other claims keep their volumes");
}

#[test]
fn the_scheduler_binds_claims_and_says_why_a_pod_cannot_have_its_volumes() {
    let (cluster, _nodes) = cluster_with_nodes();
    // A missing claim keeps the pod off every node, with upstream's words.
    let pod = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "needs-claim"},
      "spec": {"containers": [{"name": "c", "image": "busybox:1"}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "later"}}]}}"#;
    create(&cluster, pod);
    let want = "0/3 nodes are available: persistentvolumeclaim \"later\" not found. \
                preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    let scheduled = r#"{.status.conditions[?(@.type=="PodScheduled")].message}"#;
    eventually(Duration::from_secs(20), "the missing claim reported", || {
        (jsonpath(&cluster, &["pod", "needs-claim"], scheduled) == want).then_some(())
    });
    // Once it exists (of the default class), the pod is placed where its volume is provisioned.
    let claim = r#"{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "later"},
      "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}}"#;
    create(&cluster, claim);
    let node = eventually(Duration::from_secs(30), "the pod running", || {
        let s = jsonpath(&cluster, &["pod", "needs-claim"], "{.status.phase} {.spec.nodeName}");
        s.strip_prefix("Running ").map(str::to_string)
    });
    let volume = jsonpath(&cluster, &["pvc", "later"], "{.spec.volumeName}");
    let affinity = jsonpath(
        &cluster,
        &["pv", &volume],
        "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}",
    );
    assert_eq!(affinity, node);
    let events = out(&cluster, &["get", "events", "--field-selector", "involvedObject.name=later"]);
    assert!(
        events.contains("ProvisioningSucceeded")
            && events.contains(&format!("Successfully provisioned volume {volume}")),
        "{events}"
    );

    // A claim bound to a volume pinned to hollow-0 keeps a pod that wants hollow-1 off every node.
    let volume = r#"{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pinned"},
      "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
        "hostPath": {"path": "/tmp/pinned"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
          {"key": "kubernetes.io/hostname", "operator": "In", "values": ["hollow-0"]}]}]}}}}"#;
    create(&cluster, volume);
    let claim = r#"{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pinned"},
      "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": "pinned",
        "resources": {"requests": {"storage": "1Gi"}}}}"#;
    create(&cluster, claim);
    eventually(Duration::from_secs(20), "the pre-bound claim bound", || {
        (jsonpath(&cluster, &["pvc", "pinned"], "{.status.phase}") == "Bound").then_some(())
    });
    let pod = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "elsewhere"},
      "spec": {"nodeSelector": {"kubernetes.io/hostname": "hollow-1"}, "containers": [{"name": "c", "image": "busybox:1"}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "pinned"}}]}}"#;
    create(&cluster, pod);
    let want = "0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s) didn't match Pod's node affinity/selector. \
                preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    eventually(Duration::from_secs(20), "the volume node affinity conflict", || {
        (jsonpath(&cluster, &["pod", "elsewhere"], scheduled) == want).then_some(())
    });
    // Without the selector it lands on hollow-0.
    cluster.ok(V, &["delete", "pod", "elsewhere", "--wait=false"]);
    let pod =
        pod.replace("\"nodeSelector\": {\"kubernetes.io/hostname\": \"hollow-1\"}, ", "").replace("elsewhere", "there");
    create(&cluster, &pod);
    eventually(Duration::from_secs(20), "the pod on the volume's node", || {
        (jsonpath(&cluster, &["pod", "there"], "{.spec.nodeName}") == "hollow-0").then_some(())
    });
}

/// DefaultStorageClass admission: a claim that names no class has the
/// default one (`local-path`) in the very answer to its create, and one
/// asking for no class (`""`) keeps none.
#[test]
fn a_claim_without_a_class_gets_the_default_one_at_once() {
    let cluster = Cluster::start(crate::cluster::Datastore::Embedded);
    eventually(Duration::from_secs(30), "the local-path StorageClass", || {
        cluster.kubectl(V, &["get", "storageclass", "local-path"]).status.success().then_some(())
    });
    let claim = |name: &str, class: &str| {
        format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n{class}  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n"
        )
    };
    let created = cluster.kubectl_stdin(
        V,
        &["create", "-f", "-", "-o", "jsonpath={.spec.storageClassName}"],
        &claim("plain", ""),
    );
    assert_eq!(String::from_utf8_lossy(&created.stdout), "local-path", "{}", String::from_utf8_lossy(&created.stderr));
    let none = cluster.kubectl_stdin(
        V,
        &["create", "-f", "-", "-o", "jsonpath={.spec.storageClassName}"],
        &claim("classless", "  storageClassName: \"\"\n"),
    );
    assert!(none.status.success(), "{}", String::from_utf8_lossy(&none.stderr));
    assert_eq!(String::from_utf8_lossy(&none.stdout), "");
    assert_eq!(jsonpath(&cluster, &["pvc", "classless"], "{.spec.storageClassName}"), "");
}
