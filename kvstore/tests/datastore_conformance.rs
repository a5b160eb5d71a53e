//! One conformance suite for every [`Datastore`]: the embedded store (in
//! process, on RocksDB in a temp dir) and a real etcd 3.4 from Debian through
//! the external implementation. Needs `/usr/bin/etcd` (package etcd-server):
//! without it the etcd case fails, it never skips.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use kvstore::datastore::{
    Datastore, DatastoreError, Embedded, EventKind, External, ListRequest, WatchMessage, WatchRequest, WriteOutcome,
    prefix_end,
};
use kvstore::{KvConfig, KvNode};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().expect("address").port()
}

struct EtcdProcess(Child, #[allow(dead_code, reason = "keeps the data dir until etcd is gone")] tempfile::TempDir);

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_etcd() -> (EtcdProcess, String) {
    assert!(
        std::path::Path::new("/usr/bin/etcd").exists(),
        "/usr/bin/etcd is missing: install Debian's etcd-server (./x deps)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let (client, peer) = (format!("http://127.0.0.1:{}", free_port()), format!("http://127.0.0.1:{}", free_port()));
    let child = Command::new("/usr/bin/etcd")
        .args(["--name", "c", "--data-dir"])
        .arg(dir.path().join("etcd"))
        .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
        .arg(format!("--initial-cluster=c={peer}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start etcd");
    (EtcdProcess(child, dir), client)
}

async fn embedded() -> (Arc<dyn Datastore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = KvNode::open(KvConfig::new(dir.path().join("kv"))).await.expect("open the embedded store");
    (Arc::new(Embedded(node)), dir)
}

async fn external(url: &str) -> Arc<dyn Datastore> {
    for _ in 0..100 {
        if let Ok(ds) = External::connect(url).await
            && ds.current_revision().await.is_ok()
        {
            return Arc::new(ds);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("etcd at {url} did not answer within 10 s");
}

async fn next(watch: &mut kvstore::datastore::Watch) -> WatchMessage {
    tokio::time::timeout(Duration::from_secs(10), watch.messages.recv())
        .await
        .expect("a watch message within 10 s")
        .expect("the watch is open")
        .expect("no watch error")
}

/// What kube-apiserver does, start to finish.
async fn conformance(ds: Arc<dyn Datastore>) {
    let base = ds.current_revision().await.expect("current revision");

    // create-if-absent
    let WriteOutcome::Written { revision: r1 } = ds.create(b"/registry/pods/a", b"1", 0).await.expect("create") else {
        panic!("first create must write");
    };
    assert!(r1 > base);
    let again = ds.create(b"/registry/pods/a", b"x", 0).await.expect("second create");
    assert!(matches!(again, WriteOutcome::Conflict { current: Some(ref kv) } if kv.value == b"1"), "{again:?}");

    // compare-and-swap update
    let stale = ds.update(b"/registry/pods/a", b"2", r1 - 1, 0).await.expect("stale update");
    assert!(matches!(stale, WriteOutcome::Conflict { current: Some(ref kv) } if kv.mod_revision == r1));
    let WriteOutcome::Written { revision: r2 } = ds.update(b"/registry/pods/a", b"2", r1, 0).await.expect("update")
    else {
        panic!("update at the right revision must write");
    };
    let got = ds.get(b"/registry/pods/a").await.expect("get").expect("key exists");
    assert_eq!((got.value.as_slice(), got.mod_revision, got.create_revision, got.version), (&b"2"[..], r2, r1, 2));

    // paged list with the total count
    for i in 0..5 {
        ds.create(format!("/registry/pods/p{i}").as_bytes(), b"v", 0).await.expect("create pod");
    }
    let prefix = b"/registry/pods/".to_vec();
    let page = ds
        .list(ListRequest { start: prefix.clone(), end: prefix_end(&prefix), limit: 2, ..Default::default() })
        .await
        .expect("list");
    assert_eq!((page.kvs.len(), page.count, page.more), (2, 6, true));
    let mut next_key = page.kvs[1].key.clone();
    next_key.push(0);
    let rest = ds
        .list(ListRequest { start: next_key, end: prefix_end(&prefix), revision: page.revision, ..Default::default() })
        .await
        .expect("second page");
    assert_eq!((rest.kvs.len(), rest.more), (4, false));
    let counted = ds
        .list(ListRequest { start: prefix.clone(), end: prefix_end(&prefix), count_only: true, ..Default::default() })
        .await
        .expect("count");
    assert_eq!((counted.count, counted.kvs.len()), (6, 0));

    // watch with prev values, from a past revision, and progress
    let mut watch = ds
        .watch(WatchRequest { start: prefix.clone(), end: prefix_end(&prefix), start_revision: r2 })
        .await
        .expect("watch");
    let WatchMessage::Events(events) = next(&mut watch).await else { panic!("events first") };
    assert_eq!(events[0].kv.mod_revision, r2, "replay starts at the start revision");
    assert_eq!(events[0].prev.as_ref().map(|p| p.value.clone()), Some(b"1".to_vec()));
    let mut seen = events.len();
    while seen < 6 {
        match next(&mut watch).await {
            WatchMessage::Events(e) => seen += e.len(),
            other => panic!("expected the replay, got {other:?}"),
        }
    }
    let WriteOutcome::Written { revision: r_del } = ds.delete(b"/registry/pods/a", Some(r2)).await.expect("delete")
    else {
        panic!("delete at the right revision must succeed");
    };
    let WatchMessage::Events(del) = next(&mut watch).await else { panic!("the delete event") };
    assert_eq!(del[0].kind, EventKind::Delete);
    assert_eq!(del[0].kv.mod_revision, r_del);
    assert_eq!(del[0].prev.as_ref().map(|p| p.value.clone()), Some(b"2".to_vec()), "deletes carry prev_kv");
    watch.request_progress().await.expect("ask for progress");
    loop {
        match next(&mut watch).await {
            WatchMessage::Progress { revision } => {
                assert!(revision >= r_del);
                break;
            }
            WatchMessage::Events(_) => continue,
            other => panic!("expected progress, got {other:?}"),
        }
    }
    let gone = ds.delete(b"/registry/pods/a", None).await.expect("delete of a missing key");
    assert_eq!(gone, WriteOutcome::Conflict { current: None });

    // leases: keys attached to a lease go with it
    let lease = ds.grant_lease(60).await.expect("grant");
    ds.create(b"/registry/events/e1", b"e", lease).await.expect("create with lease");
    assert_eq!(ds.get(b"/registry/events/e1").await.expect("get").map(|kv| kv.lease), Some(lease));
    assert_eq!(ds.create(b"/registry/events/e2", b"e", 12345).await, Err(DatastoreError::LeaseNotFound));

    // compaction: old revisions are gone, watches from them are cancelled
    let now = ds.current_revision().await.expect("revision");
    ds.compact(now).await.expect("compact");
    let old = ds
        .list(ListRequest { start: prefix.clone(), end: prefix_end(&prefix), revision: r1, ..Default::default() })
        .await;
    assert_eq!(old, Err(DatastoreError::Compacted));
    let mut late = ds
        .watch(WatchRequest { start: prefix.clone(), end: prefix_end(&prefix), start_revision: r1 })
        .await
        .expect("watch");
    assert_eq!(next(&mut late).await, WatchMessage::Compacted { compact_revision: now });
    assert_eq!(ds.compact(now).await, Err(DatastoreError::Compacted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_conforms() {
    let (ds, _dir) = embedded().await;
    conformance(ds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_etcd_conforms() {
    let (_etcd, url) = start_etcd().await;
    conformance(external(&url).await).await;
}
