//! A real client library against a real `bramble server`: kube-rs (kube 5,
//! the Rust counterpart of client-go) reads the admin kubeconfig and does
//! what controllers and operators do: paginated lists, conflicting updates,
//! watches resumed from a resourceVersion, watch bookmarks, streaming lists
//! (`sendInitialEvents`), 410 Gone after compaction, and kube-runtime's
//! watcher, which relists when told its resourceVersion is gone.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, VersionMatch, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::cluster::{Cluster, Datastore};
use crate::support::runtime;

const NS: &str = "client-library";
/// Every object the test makes carries this label, and every list and watch selects it:
/// the namespace also holds what controllers put there (kube-root-ca.crt).
const MINE: &str = "made-by=client-library";

async fn client(cluster: &Cluster) -> Client {
    // One crypto provider for the whole process, as the binary does.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig).expect("read the admin kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration from the kubeconfig");
    Client::try_from(config).expect("a kube client")
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("made-by".to_string(), "client-library".to_string())].into()),
            ..Default::default()
        },
        data: Some([("value".to_string(), value.to_string())].into()),
        ..Default::default()
    }
}

/// The next watch event, or a panic naming what was awaited.
async fn next_event<S>(stream: &mut S, what: &str) -> WatchEvent<ConfigMap>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("{what}: the watch failed: {e}"),
        Ok(None) => panic!("{what}: the watch ended"),
        Err(_) => panic!("{what}: no event within 10 s"),
    }
}

/// The names a list returns, in its order.
async fn names(maps: &Api<ConfigMap>, params: &ListParams) -> Vec<String> {
    maps.list(params).await.expect("list").items.into_iter().filter_map(|o| o.metadata.name).collect()
}

fn name_of(event: &WatchEvent<ConfigMap>) -> String {
    match event {
        WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
            o.metadata.name.clone().unwrap_or_default()
        }
        other => format!("{other:?}"),
    }
}

async fn exercise(cluster: &Cluster) {
    let client = client(cluster).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace { metadata: ObjectMeta { name: Some(NS.into()), ..Default::default() }, ..Default::default() };
    namespaces.create(&PostParams::default(), &ns).await.expect("create the namespace");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);

    // Pagination: 25 objects (and whatever controllers added) in pages of 10, each page carrying a
    // continue token and the count of what remains, but the last.
    for i in 0..25 {
        maps.create(&PostParams::default(), &config_map(&format!("page-{i:02}"), "x")).await.expect("create");
    }
    let everything = names(&maps, &ListParams::default()).await;
    let total = everything.len();
    assert!(total >= 25, "{everything:?}");
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = ListParams::default().limit(10);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = maps.list(&params).await.expect("list a page");
        pages += 1;
        assert!(page.items.len() <= 10, "a page holds at most the limit");
        seen.extend(page.items.iter().filter_map(|o| o.metadata.name.clone()));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
        assert_eq!(page.metadata.remaining_item_count, Some((total - seen.len()) as i64), "remainingItemCount");
    }
    assert_eq!(pages, total.div_ceil(10));
    assert_eq!(seen, everything, "pages come in name order, each object once");
    let mine = names(&maps, &ListParams::default().labels(MINE)).await;
    let expected: Vec<String> = (0..25).map(|i| format!("page-{i:02}")).collect();
    assert_eq!(mine, expected, "a label selector finds exactly the test's objects");

    // Optimistic concurrency: an update carrying a stale resourceVersion is a 409.
    let first = maps.get("page-00").await.expect("get");
    let mut newer = first.clone();
    newer.data = Some([("value".to_string(), "newer".to_string())].into());
    let updated = maps.replace("page-00", &PostParams::default(), &newer).await.expect("update");
    assert_ne!(updated.metadata.resource_version, first.metadata.resource_version);
    let mut stale = first.clone();
    stale.data = Some([("value".to_string(), "stale".to_string())].into());
    match maps.replace("page-00", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(status)) => {
            assert!(status.is_conflict(), "{status:?}");
            assert_eq!(status.code, 409);
            assert!(
                status.message.contains(
                    "the object has been modified; please apply your changes to the latest version and try again"
                ),
                "{}",
                status.message
            );
        }
        other => panic!("a stale update must be a 409 Conflict, got {other:?}"),
    }
    match maps.create(&PostParams::default(), &config_map("page-00", "again")).await {
        Err(kube::Error::Api(status)) => assert!(status.is_already_exists() && status.code == 409, "{status:?}"),
        other => panic!("creating an existing name must be 409 AlreadyExists, got {other:?}"),
    }

    // Server-side apply, as operators and Flux do it: create, then take fields over.
    let params = PatchParams::apply("client-library").force();
    let applied = maps.patch("applied", &params, &Patch::Apply(&config_map("applied", "one"))).await.expect("apply");
    assert_eq!(applied.data.as_ref().and_then(|d| d.get("value")).map(String::as_str), Some("one"));
    let again =
        maps.patch("applied", &params, &Patch::Apply(&config_map("applied", "two"))).await.expect("apply again");
    assert_eq!(again.data.as_ref().and_then(|d| d.get("value")).map(String::as_str), Some("two"));
    let managers: Vec<_> = again.metadata.managed_fields.iter().flatten().filter_map(|m| m.manager.clone()).collect();
    assert_eq!(managers, ["client-library"]);
    maps.delete("applied", &DeleteParams::default()).await.expect("delete");

    // A watch resumed from a list's resourceVersion sees exactly what came after it.
    let listed = maps.list(&ListParams::default().labels(MINE)).await.expect("list");
    let from = listed.metadata.resource_version.clone().expect("a list has a resourceVersion");
    maps.create(&PostParams::default(), &config_map("after-list", "1")).await.expect("create");
    let mut changed = updated.clone();
    changed.metadata.resource_version = None;
    changed.data = Some([("value".to_string(), "changed".to_string())].into());
    maps.replace("page-00", &PostParams::default(), &changed).await.expect("update");
    maps.delete("page-01", &DeleteParams::default()).await.expect("delete");
    let mut resumed = maps.watch(&WatchParams::default().labels(MINE).timeout(30), &from).await.expect("watch").boxed();
    let events = [
        next_event(&mut resumed, "resumed watch, 1st").await,
        next_event(&mut resumed, "resumed watch, 2nd").await,
        next_event(&mut resumed, "resumed watch, 3rd").await,
    ];
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let kind = match e {
                WatchEvent::Added(_) => "Added",
                WatchEvent::Modified(_) => "Modified",
                WatchEvent::Deleted(_) => "Deleted",
                _ => "other",
            };
            (kind.to_string(), name_of(e))
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("Added".into(), "after-list".into()),
            ("Modified".into(), "page-00".into()),
            ("Deleted".into(), "page-01".into())
        ]
    );
    drop(resumed);

    // A streaming list: every object as Added, then a bookmark marking the end of the initial events.
    let params = WatchParams::streaming_lists().labels(MINE).timeout(30);
    let mut stream = maps.watch(&params, "").await.expect("watch-list").boxed();
    let mut initial = BTreeSet::new();
    loop {
        match next_event(&mut stream, "streaming list").await {
            WatchEvent::Added(o) => {
                initial.insert(o.metadata.name.unwrap_or_default());
            }
            WatchEvent::Bookmark(b) => {
                assert_eq!(b.metadata.annotations.get("k8s.io/initial-events-end").map(String::as_str), Some("true"));
                assert!(!b.metadata.resource_version.is_empty());
                break;
            }
            other => panic!("unexpected event in the initial events: {other:?}"),
        }
    }
    assert_eq!(initial.len(), 25, "24 pages and after-list: {initial:?}");
    maps.create(&PostParams::default(), &config_map("after-bookmark", "1")).await.expect("create");
    match next_event(&mut stream, "after the bookmark").await {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("after-bookmark")),
        other => panic!("expected the new object, got {other:?}"),
    }
    drop(stream);

    // 410 Gone: after compaction, an old resourceVersion can neither be listed exactly nor watched from
    // (the watch cache keeps a window of recent events, as upstream's does; older starts go to the store).
    compact(cluster).await;
    match maps.list(&ListParams::default().at(&from).matching(VersionMatch::Exact)).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 410, "{status:?}");
            assert_eq!(status.reason, "Expired", "{status:?}");
        }
        other => panic!("an exact list at a compacted revision must be 410, got {other:?}"),
    }
    // Revision 1 is older than any watch cache window (the server's bootstrap wrote after it).
    let gone = maps.watch(&WatchParams::default().timeout(30), "1").await;
    match gone {
        Ok(stream) => {
            let mut stream = stream.boxed();
            match next_event(&mut stream, "watch from a compacted revision").await {
                WatchEvent::Error(status) => {
                    assert_eq!(status.code, 410, "{status:?}");
                    assert_eq!(status.reason, "Expired", "{status:?}");
                }
                other => panic!("expected a 410 ERROR event, got {other:?}"),
            }
        }
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 410, "{status:?}"),
        Err(e) => panic!("watch from a compacted revision: {e}"),
    }

    // kube-runtime's watcher (what operators are built on) lists, watches, and sees changes.
    let watcher =
        kube::runtime::watcher(maps.clone(), kube::runtime::watcher::Config::default().labels(MINE).page_size(7));
    let mut applied = Box::pin(kube::runtime::WatchStreamExt::applied_objects(watcher));
    let mut names = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut created_last = false;
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(2), applied.try_next()).await {
            Ok(Ok(Some(cm))) => {
                names.insert(cm.metadata.name.unwrap_or_default());
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => panic!("kube-runtime watcher: {e}"),
            Err(_) => {}
        }
        if names.len() >= 26 && !created_last {
            maps.create(&PostParams::default(), &config_map("from-watcher", "1")).await.expect("create");
            created_last = true;
        }
        if names.contains("from-watcher") {
            break;
        }
    }
    assert!(names.contains("from-watcher"), "the watcher saw {} objects but not the new one: {names:?}", names.len());
    assert!(names.contains("page-24") && names.contains("after-bookmark"), "{names:?}");
}

/// Compacts the cluster's store to its current revision, as the API
/// server's compactor would after its interval.
async fn compact(cluster: &Cluster) {
    let mut etcd = etcd_client::Client::connect([cluster.etcd_url.as_str()], None).await.expect("connect to the store");
    let revision = etcd.get("/", None).await.expect("read the store revision").header().expect("a header").revision();
    etcd.compact(revision, Some(etcd_client::CompactionOptions::new().with_physical())).await.expect("compact");
}

fn run(datastore: Datastore) {
    let cluster = Cluster::start(datastore);
    runtime().block_on(exercise(&cluster));
}

#[test]
fn kube_rs_on_the_embedded_store() {
    run(Datastore::Embedded);
}

#[test]
fn kube_rs_on_external_etcd() {
    run(Datastore::ExternalEtcd);
}
