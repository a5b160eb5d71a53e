//! kill -9 under write load, several rounds over one data directory: every
//! acknowledged write survives with its revision, a txn is all or nothing,
//! revisions never go backwards, and leases and compaction survive the crash.
//! Runs against bramble and, to prove the test itself, against etcd 3.4. It
//! covers a single member only; losing a member of a cluster is not tested here.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use etcd_client::{Client, GetOptions, LeaseTimeToLiveOptions, PutOptions, Txn, TxnOp};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout, timeout_at};

use crate::support::{self, Flavor, SeededRng, Store};

const ROUNDS: usize = 5;
const WRITERS: usize = 16;
/// Each writer owns its keys, so the writes to one key come one after another.
const KEYS_PER_WRITER: u64 = 8;
/// The kill comes after this many acknowledged writes in a round, plus a random number below `KILL_SPREAD`.
const KILL_AFTER_AT_LEAST: u64 = 100;
const KILL_SPREAD: u64 = 2_000;
/// A writer's bound on writes in one round; the kill comes long before.
const MAX_WRITES_PER_WRITER: usize = 100_000;
const LEASE_TTL_SECONDS: i64 = 3_600;
const PREFIX: &str = "/crash/";
/// The bound on every wait: for the kill threshold, for writers to stop, for the restarted store to answer.
const STEP: Duration = Duration::from_secs(30);

/// The point: bramble loses nothing it acknowledged.
#[test]
fn crash_loop_bramble() {
    crash_loop(Flavor::Bramble);
}

/// The reference: etcd 3.4 passes the same test, so the test is right.
#[test]
fn crash_loop_etcd() {
    crash_loop(Flavor::Etcd);
}

/// Each round: compact, grant a lease, start the writers, SIGKILL the store
/// after a seeded number of acknowledged writes, restart it and check.
fn crash_loop(flavor: Flavor) {
    let seed = support::seed(&format!("crash_loop against {flavor:?}"));
    let mut rng = SeededRng::new(seed);
    let runtime = support::runtime();
    let mut store = Store::start(flavor);
    let mut ledger = Ledger::default();
    for round in 0..ROUNDS {
        let kill_after = (KILL_AFTER_AT_LEAST + rng.below(KILL_SPREAD)) as usize;
        println!("round {round}: kill -9 after {kill_after} acknowledged writes");
        runtime.block_on(prepare_round(&store, round, &mut ledger));

        let (acks_sender, mut acks) = watch::channel(0usize);
        let (killed_sender, killed) = watch::channel(Kill::NotYet);
        let writers: Vec<JoinHandle<WriterLog>> = (0..WRITERS)
            .map(|writer| {
                let url = store.url();
                let acks = acks_sender.clone();
                let killed = killed.clone();
                let seed = rng.next_u64();
                runtime.spawn(async move {
                    let client = support::connect(&url).await;
                    write_until_killed(client, Writer { index: writer, round, seed }, acks, killed).await
                })
            })
            .collect();

        let reached = runtime.block_on(async { timeout(STEP, acks.wait_for(|n| *n >= kill_after)).await.is_ok() });
        let acknowledged = *acks.borrow();
        // Errors are expected from here on; the writers stop once the process is gone.
        killed_sender.send_replace(Kill::Coming);
        store.kill9();
        killed_sender.send_replace(Kill::Done);
        let logs: Vec<WriterLog> = runtime.block_on(async {
            let deadline = Instant::now() + STEP;
            let mut logs = Vec::new();
            for writer in writers {
                let log = timeout_at(deadline, writer).await.expect("writers stop once the server is killed");
                logs.push(log.expect("a writer panicked"));
            }
            logs
        });
        let failures: Vec<&String> = logs.iter().filter_map(|l| l.failure.as_ref()).collect();
        assert!(failures.is_empty(), "writes failed before the kill: {failures:?}");
        assert!(reached, "only {acknowledged} of {kill_after} writes were acknowledged within {STEP:?}");
        println!(
            "round {round}: killed with {} writes acknowledged and {} in flight",
            logs.iter().map(|l| l.acked.len()).sum::<usize>(),
            logs.iter().filter(|l| l.in_doubt.is_some()).count()
        );

        store.restart();
        runtime.block_on(verify_round(&store, round, &logs, &mut ledger));
    }
}

/// What the store must hold, carried from round to round.
#[derive(Debug, Default)]
struct Ledger {
    /// Every key with the value and mod_revision of its last acknowledged write.
    keys: BTreeMap<String, (String, i64)>,
    /// The highest revision the server has answered with.
    max_revision: i64,
    /// Leases granted so far, each with the key put on it.
    leases: Vec<(i64, String)>,
    /// The revision the last compaction was asked for; 0 before the first.
    compacted: i64,
}

impl Ledger {
    fn record(&mut self, key: String, value: String, revision: i64) {
        self.keys.insert(key, (value, revision));
        self.max_revision = self.max_revision.max(revision);
    }
}

/// Compacts (from the second round on, so that compaction may run when the
/// kill comes), then grants a lease and puts a key on it.
async fn prepare_round(store: &Store, round: usize, ledger: &mut Ledger) {
    let mut client = support::connect(&store.url()).await;
    if round > 0 {
        client.compact(ledger.max_revision, None).await.expect("compact before the round's writes");
        ledger.compacted = ledger.max_revision;
    }
    let lease = client.lease_grant(LEASE_TTL_SECONDS, None).await.expect("grant a lease").id();
    let key = format!("{PREFIX}lease/r{round}");
    let value = format!("leased by {lease}");
    let put = client
        .put(key.clone(), value.clone(), Some(PutOptions::new().with_lease(lease)))
        .await
        .expect("put on the lease");
    ledger.record(key.clone(), value, put.header().expect("put response has a header").revision());
    ledger.leases.push((lease, key));
}

/// A write the server acknowledged: every key it set, all at one revision.
#[derive(Debug, Clone)]
struct Acked {
    revision: i64,
    writes: Vec<(String, String)>,
}

/// What one writer did in a round.
#[derive(Debug, Default)]
struct WriterLog {
    /// In the order they were written; their revisions increase.
    acked: Vec<Acked>,
    /// The write that was in flight when the server died: it may or may not be there.
    in_doubt: Option<Vec<(String, String)>>,
    /// An error that came before the kill.
    failure: Option<String>,
}

/// Where the round is with respect to the kill, as the writers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// The server is up: a failed write is a bug.
    NotYet,
    /// SIGKILL is on its way: a failed write is expected.
    Coming,
    /// The process is gone: writers stop, and what they had in flight is in doubt.
    Done,
}

struct Writer {
    index: usize,
    round: usize,
    seed: u64,
}

/// Puts one key or txns two, as fast as the server answers, until the kill.
async fn write_until_killed(
    mut client: Client,
    writer: Writer,
    acks: watch::Sender<usize>,
    mut killed: watch::Receiver<Kill>,
) -> WriterLog {
    let mut rng = SeededRng::new(writer.seed);
    let mut log = WriterLog::default();
    let kill_state = killed.clone();
    for seq in 0..MAX_WRITES_PER_WRITER {
        let first = rng.below(KEYS_PER_WRITER);
        let mut keys = vec![first];
        if rng.chance(30) {
            keys.push((first + 1 + rng.below(KEYS_PER_WRITER - 1)) % KEYS_PER_WRITER);
        }
        let writes: Vec<(String, String)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    format!("{PREFIX}w{:02}/k{k}", writer.index),
                    format!("r{}.w{}.s{seq}.{i}", writer.round, writer.index),
                )
            })
            .collect();
        let request = async {
            if let [(key, value)] = writes.as_slice() {
                let put = client.put(key.clone(), value.clone(), None).await?;
                Ok::<i64, etcd_client::Error>(put.header().expect("put response has a header").revision())
            } else {
                let ops: Vec<TxnOp> = writes.iter().map(|(k, v)| TxnOp::put(k.clone(), v.clone(), None)).collect();
                let txn = client.txn(Txn::new().and_then(ops)).await?;
                assert!(txn.succeeded(), "a txn without compares succeeds");
                Ok(txn.header().expect("txn response has a header").revision())
            }
        };
        tokio::select! {
            result = request => match result {
                Ok(revision) => {
                    if let Some(previous) = log.acked.last() {
                        assert!(
                            revision > previous.revision,
                            "writer {} got revision {revision} after {}: revisions must follow real-time order",
                            writer.index,
                            previous.revision
                        );
                    }
                    log.acked.push(Acked { revision, writes });
                    acks.send_modify(|n| *n += 1);
                }
                Err(err) => {
                    if *kill_state.borrow() == Kill::NotYet {
                        log.failure = Some(format!("writer {}: {err}", writer.index));
                    }
                    log.in_doubt = Some(writes);
                    return log;
                }
            },
            _ = killed.wait_for(|k| *k == Kill::Done) => {
                log.in_doubt = Some(writes);
                return log;
            }
        }
    }
    log
}

/// After the restart: every acknowledged write is readable at its revision,
/// the in-doubt ones are all or nothing, the store holds exactly the ledger,
/// revisions went on from where they were, and the leases and compaction are kept.
async fn verify_round(store: &Store, round: usize, logs: &[WriterLog], ledger: &mut Ledger) {
    let mut client = support::connect(&store.url()).await;
    let revision_after_restart = first_answer(&mut client).await;

    let before_round = ledger.max_revision;
    let mut revisions = HashSet::new();
    for acked in logs.iter().flat_map(|l| &l.acked) {
        assert!(
            acked.revision > before_round,
            "a write of round {round} got revision {} <= {before_round}",
            acked.revision
        );
        assert!(revisions.insert(acked.revision), "two acknowledged writes got revision {}", acked.revision);
    }
    let max_acked = revisions.iter().copied().max().unwrap_or(before_round);
    assert!(
        revision_after_restart >= max_acked,
        "the revision went back from {max_acked} to {revision_after_restart} over the restart"
    );

    let checks: Vec<JoinHandle<()>> = logs
        .iter()
        .map(|log| {
            let mut client = client.clone();
            let acked = log.acked.clone();
            tokio::spawn(async move {
                for write in acked {
                    for (key, value) in write.writes {
                        let options = GetOptions::new().with_revision(write.revision);
                        let got = client
                            .get(key.clone(), Some(options))
                            .await
                            .expect("get an acknowledged write at its revision");
                        let kv = got.kvs().first().unwrap_or_else(|| {
                            panic!("{key} is missing at its acknowledged revision {}", write.revision)
                        });
                        assert_eq!(kv.value(), value.as_bytes(), "{key} at revision {}", write.revision);
                        assert_eq!(
                            kv.mod_revision(),
                            write.revision,
                            "{key}'s mod_revision at revision {}",
                            write.revision
                        );
                    }
                }
            })
        })
        .collect();
    for check in checks {
        check.await.expect("an acknowledged write was lost");
    }

    let current = read_all(&mut client).await;
    let mut in_doubt_applied = 0;
    for log in logs {
        for acked in &log.acked {
            for (key, value) in &acked.writes {
                ledger.record(key.clone(), value.clone(), acked.revision);
            }
        }
        if let Some(writes) = &log.in_doubt {
            let applied: Vec<i64> = writes
                .iter()
                .filter_map(|(key, value)| current.get(key).filter(|(v, _)| v == value).map(|(_, revision)| *revision))
                .collect();
            assert!(
                applied.is_empty() || applied.len() == writes.len(),
                "an in-doubt txn was applied in part: {writes:?}, found {current:?}"
            );
            if let Some(revision) = applied.first() {
                assert!(applied.iter().all(|r| r == revision), "one txn, several revisions: {applied:?}");
                assert!(
                    *revision > before_round && !revisions.contains(revision),
                    "an in-doubt write was applied at revision {revision}, which is not a new one"
                );
                in_doubt_applied += 1;
                for (key, value) in writes {
                    ledger.record(key.clone(), value.clone(), *revision);
                }
            }
        }
    }
    assert!(
        revision_after_restart >= ledger.max_revision,
        "the store answers with revision {revision_after_restart}, below {} that it has handed out",
        ledger.max_revision
    );
    for (key, expected) in &ledger.keys {
        assert_eq!(current.get(key), Some(expected), "{key} after the restart of round {round} (value, mod_revision)");
    }
    let unexpected: Vec<&String> = current.keys().filter(|k| !ledger.keys.contains_key(*k)).collect();
    assert!(unexpected.is_empty(), "keys nobody wrote: {unexpected:?}");

    println!(
        "round {round}: {} acknowledged writes read back at their revisions, {in_doubt_applied} in-flight writes \
         applied, revision {max_acked} acknowledged before the kill and {revision_after_restart} after the restart",
        revisions.len()
    );

    let key = format!("{PREFIX}after/r{round}");
    let put = client.put(key.clone(), "first write after the restart", None).await.expect("put after the restart");
    let revision = put.header().expect("put response has a header").revision();
    assert!(
        revision > revision_after_restart.max(ledger.max_revision),
        "the first put after the restart got revision {revision}, not above {revision_after_restart} and {}",
        ledger.max_revision
    );
    ledger.record(key, "first write after the restart".to_owned(), revision);

    for (lease, key) in &ledger.leases {
        let options = LeaseTimeToLiveOptions::new().with_keys();
        let live = client.lease_time_to_live(*lease, Some(options)).await.expect("lease TimeToLive");
        assert!(live.ttl() > 0, "lease {lease} is gone after the restart (ttl {})", live.ttl());
        assert_eq!(live.granted_ttl(), LEASE_TTL_SECONDS, "lease {lease}'s granted TTL");
        assert_eq!(live.keys(), [key.as_bytes().to_vec()], "lease {lease}'s keys");
        let got = client.get(key.clone(), None).await.expect("get a leased key");
        let kv = got.kvs().first().unwrap_or_else(|| panic!("leased key {key} is gone"));
        assert_eq!(kv.lease(), *lease, "{key} is still on its lease");
    }

    if ledger.compacted > 1 {
        let below = client.get(PREFIX, Some(GetOptions::new().with_prefix().with_revision(ledger.compacted - 1))).await;
        let err = below.expect_err("a get below the compacted revision must fail after the restart");
        assert!(err.to_string().contains("required revision has been compacted"), "a get below the compaction: {err}");
        let at = client.get(PREFIX, Some(GetOptions::new().with_prefix().with_revision(ledger.compacted))).await;
        at.expect("a get at the compacted revision works");
    }
}

/// The header revision of the first answer of a restarted store. A store
/// that listens before it serves (etcd elects itself first) is asked again.
async fn first_answer(client: &mut Client) -> i64 {
    let deadline = Instant::now() + STEP;
    let mut last_error = String::new();
    while Instant::now() < deadline {
        match timeout(
            Duration::from_secs(2),
            client.get(PREFIX, Some(GetOptions::new().with_prefix().with_count_only())),
        )
        .await
        {
            Ok(Ok(response)) => return response.header().expect("get response has a header").revision(),
            Ok(Err(err)) => last_error = err.to_string(),
            Err(_) => last_error = "no answer within 2 s".to_owned(),
        }
        sleep(Duration::from_millis(100)).await;
    }
    panic!("the restarted store did not answer within {STEP:?}: {last_error}");
}

/// Every key under the prefix with its value and mod_revision.
async fn read_all(client: &mut Client) -> BTreeMap<String, (String, i64)> {
    let response = client.get(PREFIX, Some(GetOptions::new().with_prefix())).await.expect("get the whole prefix");
    response
        .kvs()
        .iter()
        .map(|kv| {
            let key = String::from_utf8(kv.key().to_vec()).expect("the test writes ASCII keys");
            let value = String::from_utf8(kv.value().to_vec()).expect("the test writes ASCII values");
            (key, (value, kv.mod_revision()))
        })
        .collect()
}
