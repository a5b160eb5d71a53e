//! Model-based tests of the MVCC store on the memory engine: random writes
//! checked against a plain map of every revision, across compaction and a
//! reload from the engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use etcd_client::proto::{PbCompactionRequest, PbDeleteRequest, PbPutRequest, PbRangeRequest};
use proptest::prelude::*;

use super::MvccStore;
use crate::command::{Command, CommandResult};
use crate::engine::{Engine, MemoryEngine, WriteBatch};
use crate::error::KvError;
use crate::lease::Lessor;
use crate::watch::WatchHub;

/// key -> (value, create_revision, version)
type Snapshot = BTreeMap<Vec<u8>, (Vec<u8>, i64, i64)>;

fn open(engine: Arc<dyn Engine>) -> Arc<MvccStore> {
    MvccStore::open(engine, WatchHub::new(1 << 20), Arc::new(Lessor::new())).expect("store opens")
}

fn apply(store: &MvccStore, cmd: Command) -> CommandResult {
    store.apply(&cmd, WriteBatch::default()).expect("engine write")
}

fn all_at(store: &MvccStore, rev: i64) -> Result<Snapshot, KvError> {
    let resp =
        store.range(&PbRangeRequest { key: vec![0], range_end: vec![0], revision: rev, ..Default::default() })?;
    Ok(resp.kvs.into_iter().map(|kv| (kv.key, (kv.value, kv.create_revision, kv.version))).collect())
}

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u8),
    Delete(u8),
    DeletePrefixAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..6, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0u8..6).prop_map(Op::Delete),
        1 => Just(Op::DeletePrefixAll),
    ]
}

fn key(k: u8) -> Vec<u8> {
    format!("/k/{k}").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn history_matches_a_model(ops in proptest::collection::vec(op(), 1..60), compact_pick in any::<prop::sample::Index>()) {
        let engine: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
        let store = open(engine.clone());
        let mut model: Vec<(i64, Snapshot)> = vec![(1, Snapshot::new())];
        for op in ops {
            let mut next = model.last().expect("model has a first revision").1.clone();
            let rev = model.last().expect("non-empty").0 + 1;
            let changed = match op {
                Op::Put(k, v) => {
                    apply(&store, Command::Put(PbPutRequest { key: key(k), value: vec![v], ..Default::default() }));
                    let entry = next.entry(key(k)).or_insert((vec![], rev, 0));
                    entry.0 = vec![v];
                    entry.2 += 1;
                    true
                }
                Op::Delete(k) => {
                    apply(&store, Command::DeleteRange(PbDeleteRequest { key: key(k), ..Default::default() }));
                    next.remove(&key(k)).is_some()
                }
                Op::DeletePrefixAll => {
                    apply(&store, Command::DeleteRange(PbDeleteRequest { key: b"/k/".to_vec(), range_end: b"/k0".to_vec(), ..Default::default() }));
                    let any = !next.is_empty();
                    next.clear();
                    any
                }
            };
            if changed {
                model.push((rev, next));
            }
        }
        let current = model.last().expect("non-empty").0;
        prop_assert_eq!(store.current_revision(), current);
        for (rev, snap) in &model {
            prop_assert_eq!(&all_at(&store, *rev).expect("readable"), snap, "at revision {}", rev);
        }
        prop_assert_eq!(all_at(&store, current + 1), Err(KvError::FutureRevision));

        // Compact somewhere in the history: older reads fail, newer ones are unchanged.
        let at = model[compact_pick.index(model.len())].0;
        let result = apply(&store, Command::Compact(PbCompactionRequest { revision: at, physical: false }));
        if at <= 0 {
            prop_assert!(matches!(result, CommandResult::Failed(_)));
        }
        for (rev, snap) in &model {
            if *rev < at {
                prop_assert_eq!(all_at(&store, *rev), Err(KvError::Compacted));
            } else {
                prop_assert_eq!(&all_at(&store, *rev).expect("readable"), snap);
            }
        }

        // A reload from the engine sees the same store.
        drop(store);
        let reopened = open(engine);
        prop_assert_eq!(reopened.current_revision(), current);
        for (rev, snap) in model.iter().filter(|(r, _)| *r >= at) {
            prop_assert_eq!(&all_at(&reopened, *rev).expect("readable after reload"), snap);
        }
    }
}

#[test]
fn range_options_follow_etcd() {
    let store = open(Arc::new(MemoryEngine::new()));
    for (k, v) in [("a", "3"), ("b", "1"), ("c", "2"), ("d", "0")] {
        apply(&store, Command::Put(PbPutRequest { key: k.into(), value: v.into(), ..Default::default() }));
    }
    apply(&store, Command::Put(PbPutRequest { key: "b".into(), value: "9".into(), ..Default::default() }));
    let range = |f: &dyn Fn(&mut PbRangeRequest)| {
        let mut r = PbRangeRequest { key: b"a".to_vec(), range_end: b"z".to_vec(), ..Default::default() };
        f(&mut r);
        store.range(&r).expect("range")
    };
    let keys = |resp: &etcd_client::proto::PbRangeResponse| -> Vec<String> {
        resp.kvs.iter().map(|kv| String::from_utf8_lossy(&kv.key).into_owned()).collect()
    };
    let limited = range(&|r| r.limit = 2);
    assert_eq!((keys(&limited), limited.count, limited.more), (vec!["a".to_string(), "b".into()], 4, true));
    let by_value = range(&|r| {
        r.sort_target = 4;
        r.sort_order = 2;
    });
    assert_eq!(keys(&by_value), ["b", "a", "c", "d"]);
    let by_version_default_order = range(&|r| r.sort_target = 1);
    assert_eq!(keys(&by_version_default_order).last().map(String::as_str), Some("b"), "non-key targets sort ascending");
    let counted = range(&|r| r.count_only = true);
    assert_eq!((counted.kvs.len(), counted.count), (0, 4));
    let keys_only = range(&|r| r.keys_only = true);
    assert!(keys_only.kvs.iter().all(|kv| kv.value.is_empty()));
    let min_mod = range(&|r| r.min_mod_revision = 6);
    assert_eq!(
        (keys(&min_mod), min_mod.count),
        (vec!["b".to_string()], 4),
        "count ignores the filters, as etcd's does"
    );
    let from_key =
        store.range(&PbRangeRequest { key: b"c".to_vec(), range_end: vec![0], ..Default::default() }).expect("range");
    assert_eq!(keys(&from_key), ["c", "d"]);
}

/// Commands of every kind, including ones that fail at apply time (a put on a
/// lease that does not exist, a revoke of an unknown lease, a CAS that loses).
#[derive(Debug, Clone)]
enum Cmd {
    Put(u8, u8, Option<i64>),
    Delete(u8),
    Cas(u8, u8, i64),
    Grant(i64),
    Revoke(i64),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        6 => (0u8..4, any::<u8>(), proptest::option::of(1i64..3)).prop_map(|(k, v, l)| Cmd::Put(k, v, l)),
        2 => (0u8..4).prop_map(Cmd::Delete),
        3 => (0u8..4, any::<u8>(), 0i64..8).prop_map(|(k, v, m)| Cmd::Cas(k, v, m)),
        1 => (1i64..3).prop_map(Cmd::Grant),
        1 => (1i64..3).prop_map(Cmd::Revoke),
    ]
}

fn command(c: &Cmd) -> Command {
    match *c {
        Cmd::Put(k, v, lease) => {
            Command::Put(PbPutRequest { key: key(k), value: vec![v], lease: lease.unwrap_or(0), ..Default::default() })
        }
        Cmd::Delete(k) => Command::DeleteRange(PbDeleteRequest { key: key(k), prev_kv: true, ..Default::default() }),
        Cmd::Cas(k, v, m) => Command::Txn(crate::datastore::convert::cas_put(&key(k), &[v], m, 0)),
        Cmd::Grant(id) => Command::LeaseGrant { id, ttl: 60 },
        Cmd::Revoke(id) => Command::LeaseRevoke { id },
    }
}

/// A watcher of the whole keyspace, with prev_kv.
fn heard(hub: &Arc<WatchHub>) -> (crate::watch::StreamId, crate::watch::WatchReceiver) {
    let (id, rx) = hub.open_stream();
    hub.create(
        id,
        crate::watch::WatchCreate {
            key: vec![0],
            range_end: vec![0],
            start_revision: 0,
            progress_notify: false,
            filters: vec![],
            prev_kv: true,
            watch_id: 1,
            fragment: false,
        },
    );
    (id, rx)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A batch entry is applied exactly as its commands logged one by one:
    /// the same results, the same history at every revision, the same watch
    /// events, and the same store after a reload.
    #[test]
    fn a_batch_is_its_commands_in_order(cmds in proptest::collection::vec(cmd(), 1..40), cuts in proptest::collection::vec(1usize..6, 1..20)) {
        let single_engine: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
        let single_hub = WatchHub::new(1 << 20);
        let single = MvccStore::open(single_engine.clone(), single_hub.clone(), Arc::new(Lessor::new())).expect("opens");
        let batched_engine: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
        let batched_hub = WatchHub::new(1 << 20);
        let batched = MvccStore::open(batched_engine.clone(), batched_hub.clone(), Arc::new(Lessor::new())).expect("opens");
        let (_, mut single_rx) = heard(&single_hub);
        let (_, mut batched_rx) = heard(&batched_hub);

        let single_results: Vec<String> = cmds.iter().map(|c| format!("{:?}", apply(&single, command(c)))).collect();
        let mut batched_results = Vec::new();
        let mut rest = &cmds[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((*cut).min(rest.len()));
            rest = later;
            match apply(&batched, Command::Batch(now.iter().map(command).collect())) {
                CommandResult::Batch(results) => {
                    prop_assert_eq!(results.len(), now.len());
                    batched_results.extend(results.iter().map(|r| format!("{r:?}")));
                }
                other => prop_assert!(false, "a batch answered {:?}", other),
            }
        }
        prop_assert_eq!(&single_results, &batched_results);

        let current = single.current_revision();
        prop_assert_eq!(batched.current_revision(), current);
        for rev in 1..=current {
            prop_assert_eq!(all_at(&single, rev), all_at(&batched, rev), "at revision {}", rev);
        }
        let drain = |rx: &mut crate::watch::WatchReceiver| {
            let mut out = Vec::new();
            while let Some(Some(msg)) = futures::FutureExt::now_or_never(rx.recv()) {
                out.push(format!("{:?}", msg.events));
            }
            out
        };
        let events = drain(&mut single_rx);
        prop_assert!(current == 1 || events.iter().any(|e| e != "[]"), "the watcher heard the writes");
        prop_assert_eq!(events, drain(&mut batched_rx));

        drop(batched);
        let reopened = open(batched_engine);
        prop_assert_eq!(reopened.current_revision(), current);
        prop_assert_eq!(all_at(&reopened, current), all_at(&single, current));
    }
}
