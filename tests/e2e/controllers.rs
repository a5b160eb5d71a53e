//! The controllers inside `bramble server`, seen through kubectl: every
//! namespace gets its `default` ServiceAccount and the `kube-root-ca.crt`
//! ConfigMap (put back when deleted or changed), and of two servers on one
//! datastore exactly one holds the `kube-controller-manager` Lease; when it
//! dies, the other takes over.

use std::time::{Duration, Instant};

use base64::Engine;

use crate::cluster::{Cluster, Datastore};
use crate::support::{Flavor, Store};

const V: &str = "1.33";

/// Polls `check` until it returns `Some`, for at most `limit`.
#[track_caller]
fn eventually<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(cluster: &Cluster, args: &[&str]) -> Option<String> {
    let out = cluster.kubectl(V, args);
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The CA the kubeconfig trusts, as PEM.
fn kubeconfig_ca(cluster: &Cluster) -> String {
    let text = std::fs::read_to_string(&cluster.kubeconfig).expect("read the kubeconfig");
    let data = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data:"))
        .expect("certificate-authority-data")
        .trim();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).expect("base64")).expect("PEM")
}

#[test]
fn every_namespace_gets_a_default_service_account_and_the_root_ca() {
    let cluster = Cluster::start(Datastore::Embedded);
    cluster.ok(V, &["create", "namespace", "team-a"]);
    let limit = Duration::from_secs(15);
    eventually(limit, "the default ServiceAccount", || {
        get(&cluster, &["get", "serviceaccount", "default", "-n", "team-a"])
    });
    let ca = eventually(limit, "kube-root-ca.crt", || {
        get(&cluster, &["get", "configmap", "kube-root-ca.crt", "-n", "team-a", "-o", "jsonpath={.data.ca\\.crt}"])
    });
    assert_eq!(ca.trim(), kubeconfig_ca(&cluster).trim(), "kube-root-ca.crt holds the CA that signs the API server");
    // The system namespaces have them too.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        eventually(limit, ns, || get(&cluster, &["get", "serviceaccount", "default", "-n", ns]));
    }
    // Deleted or changed, they come back.
    cluster.ok(V, &["delete", "serviceaccount", "default", "-n", "team-a"]);
    eventually(limit, "the default ServiceAccount again", || {
        get(&cluster, &["get", "serviceaccount", "default", "-n", "team-a"])
    });
    cluster.ok(
        V,
        &[
            "patch",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "team-a",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"ca.crt":"forged"}}"#,
        ],
    );
    eventually(limit, "the CA put back", || {
        get(&cluster, &["get", "configmap", "kube-root-ca.crt", "-n", "team-a", "-o", "jsonpath={.data.ca\\.crt}"])
            .filter(|data| data.trim() == kubeconfig_ca(&cluster).trim())
    });
}

/// Which server's identity holds the Lease (identities start with the node name).
fn holder(cluster: &Cluster) -> Option<String> {
    get(
        cluster,
        &["get", "lease", "kube-controller-manager", "-n", "kube-system", "-o", "jsonpath={.spec.holderIdentity}"],
    )
    .filter(|h| !h.is_empty())
}

#[test]
fn of_two_servers_one_leads_and_the_other_takes_over_when_it_dies() {
    let etcd = Store::start(Flavor::Etcd);
    let url = etcd.url();
    let mut a = Cluster::start_on_etcd(&url, &["--node-name", "server-a"]);
    let mut b = Cluster::start_on_etcd(&url, &["--node-name", "server-b"]);
    let first = eventually(Duration::from_secs(15), "a leader", || holder(&b));
    assert!(first.starts_with("server-a_") || first.starts_with("server-b_"), "{first}");
    // It stays with one holder while both live.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(holder(&b).as_deref(), Some(first.as_str()), "the lease does not move while its holder lives");
    if first.starts_with("server-a_") {
        a.kill9();
        let next = eventually(Duration::from_secs(40), "server-b taking over", || {
            holder(&b).filter(|h| h.starts_with("server-b_"))
        });
        assert_ne!(next, first);
        let transitions = get(
            &b,
            &[
                "get",
                "lease",
                "kube-controller-manager",
                "-n",
                "kube-system",
                "-o",
                "jsonpath={.spec.leaseTransitions}",
            ],
        );
        assert_eq!(transitions.as_deref(), Some("1"));
    } else {
        // b leads: kill it and watch a take over, reading through a.
        b.kill9();
        let next = eventually(Duration::from_secs(40), "server-a taking over", || {
            holder(&a).filter(|h| h.starts_with("server-a_"))
        });
        assert_ne!(next, first);
    }
    // The new leader's controllers work: a new namespace gets its default ServiceAccount.
    let survivor = if first.starts_with("server-a_") { &b } else { &a };
    survivor.ok(V, &["create", "namespace", "after-failover"]);
    eventually(Duration::from_secs(15), "controllers on the new leader", || {
        get(survivor, &["get", "serviceaccount", "default", "-n", "after-failover"])
    });
}

/// Events expire as with kube-apiserver's `--event-ttl` (1 h): each is
/// stored with an etcd lease, shared by the events of a minute, which
/// etcdctl shows with its time to live.
#[test]
fn events_are_stored_with_a_lease_of_the_event_ttl() {
    let cluster = Cluster::start(Datastore::Embedded);
    let event = "apiVersion: v1\nkind: Event\nmetadata:\n  name: hello\ninvolvedObject: {kind: Pod, name: p, namespace: default}\nreason: Tested\nmessage: hello\ntype: Normal\n";
    let created = cluster.kubectl_stdin(V, &["create", "-f", "-"], event);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let runtime = crate::support::runtime();
    let lease = runtime.block_on(async {
        let mut etcd = crate::support::connect(&cluster.etcd_url).await;
        let got = etcd.get("/registry/events/default/hello", None).await.expect("get the event's key");
        got.kvs().first().map(|kv| kv.lease()).expect("the event is stored")
    });
    assert_ne!(lease, 0, "the event must carry a lease");
    let ttl = runtime.block_on(async {
        let mut etcd = crate::support::connect(&cluster.etcd_url).await;
        let options = etcd_client::LeaseTimeToLiveOptions::new().with_keys();
        etcd.lease_time_to_live(lease, Some(options)).await.expect("the lease's time to live")
    });
    assert!((3600..=3660).contains(&ttl.granted_ttl()), "granted {}", ttl.granted_ttl());
    assert!(ttl.keys().iter().any(|k| k.as_slice() == b"/registry/events/default/hello"));
    // A second event within the minute shares the lease.
    let second = event.replace("name: hello", "name: again");
    assert!(cluster.kubectl_stdin(V, &["create", "-f", "-"], &second).status.success());
    let again = runtime.block_on(async {
        let mut etcd = crate::support::connect(&cluster.etcd_url).await;
        let got = etcd.get("/registry/events/default/again", None).await.expect("get");
        got.kvs().first().map(|kv| kv.lease()).expect("stored")
    });
    assert_eq!(again, lease);
    // ConfigMaps do not expire.
    cluster.ok(V, &["create", "configmap", "kept", "--from-literal=k=v"]);
    let kept = runtime.block_on(async {
        let mut etcd = crate::support::connect(&cluster.etcd_url).await;
        let got = etcd.get("/registry/configmaps/default/kept", None).await.expect("get");
        got.kvs().first().map(|kv| kv.lease()).expect("stored")
    });
    assert_eq!(kept, 0);
}
