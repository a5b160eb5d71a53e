//! kvbench: drives one fixed etcd v3 client load against a real etcd 3.4 and
//! against `bramble server --datastore-only`, one store after the other, and
//! prints one Markdown table for the README. It is a hand-run benchmark, not a
//! test: it asserts nothing about speed, and it talks to both stores only over
//! gRPC, never through the kvstore crate (cargo still builds that crate, as a
//! dependency of the package).
//!
//! Run: `cargo run --release --example kvbench -- --bramble target/release/bramble`
//! (`--only etcd|bramble`, `--etcd PATH`, `--keys N`). Progress goes to
//! stderr, the table to stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, ValueEnum};
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, GetOptions, KvClient, Txn, TxnOp, TxnOpResponse,
    WatchOptions,
};
use tokio::task::JoinSet;

mod common;
use common::{free_port, p50_p99, per_second, rss_bytes};

/// Size of every value written: a small Kubernetes object is of this order.
const VALUE_LEN: usize = 256;
/// Longest a store may take from spawn to answering a linearizable Get.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// Longest one phase may run before the store's column gets an error instead.
const PHASE_DEADLINE: Duration = Duration::from_secs(240);
/// Every key the benchmark writes lives under this prefix.
const ROOT: &str = "/registry/kvbench";

#[derive(Parser, Debug)]
#[command(about = "Compare bramble's etcd-compatible store with etcd 3.4 under the same client load")]
struct Args {
    /// The release `bramble` binary; without it only etcd's column is filled.
    #[arg(long)]
    bramble: Option<PathBuf>,
    /// The reference etcd 3.4 server.
    #[arg(long, default_value = "/usr/bin/etcd")]
    etcd: PathBuf,
    /// Keys written by the fill of phases 4 and 6.
    #[arg(long, default_value_t = 100_000)]
    keys: usize,
    /// Run a single store.
    #[arg(long, value_enum)]
    only: Option<Flavor>,
}

/// Which server a column measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Flavor {
    Etcd,
    Bramble,
}

/// How much work each phase does. Fixed, so that two runs do the same requests.
#[derive(Debug, Clone)]
struct Workload {
    sequential_puts: usize,
    puts_per_setting: usize,
    in_flight_settings: [usize; 3],
    sequential_updates: usize,
    concurrent_updates: usize,
    update_keys: usize,
    update_in_flight: usize,
    fill_keys: usize,
    fill_in_flight: usize,
    page_limit: i64,
    count_queries: usize,
    watch_puts: usize,
    watch_keys: usize,
}

impl Workload {
    fn new(fill_keys: usize) -> Workload {
        Workload {
            sequential_puts: 10_000,
            puts_per_setting: 10_000,
            in_flight_settings: [1, 16, 64],
            sequential_updates: 2_000,
            concurrent_updates: 4_000,
            update_keys: 8,
            update_in_flight: 16,
            fill_keys,
            fill_in_flight: 64,
            page_limit: 500,
            count_queries: 200,
            watch_puts: 2_000,
            watch_keys: 100,
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} sequential puts; {} puts at each of {:?} in flight; {} sequential and {} concurrent \
             ({} in flight) updates on {} keys; fill of {} keys ({} in flight); Range pages of {}; \
             {} count-only ranges; {} watched puts over {} keys; values of {} pseudo-random bytes",
            self.sequential_puts,
            self.puts_per_setting,
            self.in_flight_settings,
            self.sequential_updates,
            self.concurrent_updates,
            self.update_in_flight,
            self.update_keys,
            self.fill_keys,
            self.fill_in_flight,
            self.page_limit,
            self.count_queries,
            self.watch_puts,
            self.watch_keys,
            VALUE_LEN,
        )
    }
}

// ---------------------------------------------------------------------------
// What is measured

/// Whether a bigger figure is the better one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Lower,
    Higher,
    Neither,
}

/// One line of the table. The order of the variants is the order of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Row {
    SequentialPutP50,
    SequentialPutP99,
    SequentialPutRate,
    PutsInFlight1,
    PutsInFlight16,
    PutsInFlight64,
    UpdateSequential,
    UpdateConcurrent,
    UpdateConflicts,
    FillRate,
    PageCount,
    PageP50,
    PageP99,
    CountOnlyP50,
    CountOnlyP99,
    RssIdle,
    RssFilled,
    WatchP50,
    WatchP99,
    DiskFilled,
    DiskOverwritten,
    DiskDefragmented,
}

impl Row {
    const ALL: [Row; 22] = [
        Row::SequentialPutP50,
        Row::SequentialPutP99,
        Row::SequentialPutRate,
        Row::PutsInFlight1,
        Row::PutsInFlight16,
        Row::PutsInFlight64,
        Row::UpdateSequential,
        Row::UpdateConcurrent,
        Row::UpdateConflicts,
        Row::FillRate,
        Row::PageCount,
        Row::PageP50,
        Row::PageP99,
        Row::CountOnlyP50,
        Row::CountOnlyP99,
        Row::RssIdle,
        Row::RssFilled,
        Row::WatchP50,
        Row::WatchP99,
        Row::DiskFilled,
        Row::DiskOverwritten,
        Row::DiskDefragmented,
    ];

    /// Label, unit and direction.
    fn spec(self) -> (&'static str, &'static str, Better) {
        use Better::{Higher, Lower, Neither};
        match self {
            Row::SequentialPutP50 => ("1 sequential put, p50", "ms", Lower),
            Row::SequentialPutP99 => ("1 sequential put, p99", "ms", Lower),
            Row::SequentialPutRate => ("1 sequential put", "puts/s", Higher),
            Row::PutsInFlight1 => ("2 puts, 1 in flight", "puts/s", Higher),
            Row::PutsInFlight16 => ("2 puts, 16 in flight", "puts/s", Higher),
            Row::PutsInFlight64 => ("2 puts, 64 in flight", "puts/s", Higher),
            Row::UpdateSequential => ("3 update txn, sequential", "txn/s", Higher),
            Row::UpdateConcurrent => ("3 update txn, 16 in flight", "txn/s", Higher),
            Row::UpdateConflicts => ("3 update txn, 16 in flight: failed compares", "%", Neither),
            Row::FillRate => ("4 fill, 64 in flight", "puts/s", Higher),
            Row::PageCount => ("4 range limit 500: `count`", "keys", Neither),
            Row::PageP50 => ("4 range limit 500, p50", "ms", Lower),
            Row::PageP99 => ("4 range limit 500, p99", "ms", Lower),
            Row::CountOnlyP50 => ("4 count_only over prefix, p50", "ms", Lower),
            Row::CountOnlyP99 => ("4 count_only over prefix, p99", "ms", Lower),
            Row::RssIdle => ("4 RSS idle after start-up", "MiB", Lower),
            Row::RssFilled => ("4 RSS after fill", "MiB", Lower),
            Row::WatchP50 => ("5 put → watch event, p50", "ms", Lower),
            Row::WatchP99 => ("5 put → watch event, p99", "ms", Lower),
            Row::DiskFilled => ("6 disk after fill", "MiB", Lower),
            Row::DiskOverwritten => ("6 disk after overwriting all", "MiB", Lower),
            Row::DiskDefragmented => ("6 disk after compact + defrag", "MiB", Lower),
        }
    }
}

/// Everything one store produced: figures, and what went wrong instead.
#[derive(Debug, Default)]
struct Column {
    figures: BTreeMap<Row, f64>,
    errors: Vec<String>,
    notes: Vec<String>,
    elapsed: Option<Duration>,
}

impl Column {
    fn record(&mut self, what: &str, outcome: Result<Vec<(Row, f64)>>) {
        self.record_with_notes(what, outcome.map(|figures| (figures, Vec::new())));
    }

    fn record_with_notes(&mut self, what: &str, outcome: Result<(Vec<(Row, f64)>, Vec<String>)>) {
        match outcome {
            Ok((figures, notes)) => {
                self.figures.extend(figures);
                self.notes.extend(notes);
            }
            Err(err) => {
                eprintln!("  {what} failed: {err:#}");
                self.errors.push(format!("{what}: {err:#}"));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Store processes

/// How to start one flavor of store.
#[derive(Debug, Clone)]
struct StoreCommand {
    flavor: Flavor,
    program: PathBuf,
}

impl StoreCommand {
    fn command(&self, data_dir: &Path, url: &str) -> Command {
        let mut cmd = Command::new(&self.program);
        match self.flavor {
            Flavor::Bramble => {
                cmd.args(["server", "--datastore-only", "--data-dir"])
                    .arg(data_dir)
                    .args(["--etcd-listen-client-urls", url])
                    // Per-request logging would measure the logger, not the store.
                    .env("RUST_LOG", "warn");
            }
            Flavor::Etcd => cmd = common::etcd_command(&self.program, data_dir, url),
        }
        cmd
    }
}

/// A store running on a fresh data directory, SIGKILLed when dropped.
#[derive(Debug)]
struct StoreProcess {
    child: Child,
    url: String,
    data_dir: PathBuf,
    log: PathBuf,
    _scratch: tempfile::TempDir,
}

impl StoreProcess {
    /// Spawns the store and returns it with a client once it answers a Get.
    async fn start(store: &StoreCommand) -> Result<(StoreProcess, Client)> {
        let scratch = tempfile::Builder::new().prefix("kvbench-").tempdir().context("create a scratch directory")?;
        let data_dir = scratch.path().join("data");
        let log = scratch.path().join("server.log");
        let url = format!("http://127.0.0.1:{}", free_port());
        let log_file = std::fs::File::create(&log).context("create the server log")?;
        let child = store
            .command(&data_dir, &url)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().context("clone the server log handle")?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("spawn {}", store.program.display()))?;
        let mut process = StoreProcess { child, url, data_dir, log, _scratch: scratch };
        let client = process.wait_ready().await?;
        Ok((process, client))
    }

    async fn wait_ready(&mut self) -> Result<Client> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().context("poll the store process")? {
                bail!("exited during start-up with {status}; log tail:\n{}", self.log_tail());
            }
            if let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(3), probe(&self.url)).await {
                return Ok(client);
            }
            if Instant::now() > deadline {
                bail!("did not answer a Get on {} within {START_DEADLINE:?}; log tail:\n{}", self.url, self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for StoreProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects and proves the store serves a linearizable read.
async fn probe(url: &str) -> Result<Client> {
    let options = ConnectOptions::new().with_connect_timeout(Duration::from_secs(1));
    let mut client = Client::connect([url], Some(options)).await?;
    client.get(format!("{ROOT}/ready"), None).await?;
    Ok(client)
}

/// Bytes allocated on disk under a data directory, as `du` counts them
/// (512-byte blocks), by the directory holding the files: etcd's preallocated
/// WAL and its bbolt file are told apart this way, and so are bramble's parts.
#[derive(Debug, Default)]
struct DiskUsage {
    by_dir: BTreeMap<PathBuf, u64>,
}

impl DiskUsage {
    fn of(root: &Path) -> Result<DiskUsage> {
        let mut usage = DiskUsage::default();
        usage.walk(root, Path::new(""))?;
        Ok(usage)
    }

    fn walk(&mut self, dir: &Path, relative: &Path) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        for entry in std::fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))? {
            let entry = entry.with_context(|| format!("list {}", dir.display()))?;
            let meta = entry.metadata().with_context(|| format!("stat {}", entry.path().display()))?;
            *self.by_dir.entry(relative.to_owned()).or_default() += meta.blocks() * 512;
            if meta.is_dir() {
                self.walk(&entry.path(), &relative.join(entry.file_name()))?;
            }
        }
        Ok(())
    }

    fn total(&self) -> u64 {
        self.by_dir.values().sum()
    }

    /// "member/wal 128.0, member/snap 32.1 MiB": directories holding at least 1 MiB.
    fn breakdown(&self) -> String {
        let parts: Vec<String> = self
            .by_dir
            .iter()
            .filter(|(_, bytes)| **bytes >= 1 << 20)
            .map(|(dir, bytes)| format!("{} {:.1}", dir.display(), *bytes as f64 / (1024.0 * 1024.0)))
            .collect();
        format!("{} MiB", parts.join(", "))
    }
}

// ---------------------------------------------------------------------------
// Workload helpers

fn key(group: &str, index: usize) -> String {
    format!("{ROOT}/{group}/{index:08}")
}

/// The first key after every key that starts with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// A deterministic, incompressible value, so that neither store gains from
/// compressing the benchmark's own padding.
fn value(seed: u64, index: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64;
    let mut out = Vec::with_capacity(VALUE_LEN);
    while out.len() < VALUE_LEN {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(VALUE_LEN);
    out
}

/// Puts `count` keys of `group` with `in_flight` requests outstanding on the
/// client's one channel; returns puts per second.
async fn put_many(client: &Client, group: &str, seed: u64, count: usize, in_flight: usize) -> Result<f64> {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for lane in 0..in_flight {
        let mut kv = client.kv_client();
        let group = group.to_owned();
        tasks.spawn(async move {
            for index in (lane..count).step_by(in_flight) {
                kv.put(key(&group, index), value(seed, index), None)
                    .await
                    .with_context(|| format!("put {}", key(&group, index)))?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a put task panicked")??;
    }
    Ok(per_second(count, started.elapsed()))
}

// ---------------------------------------------------------------------------
// Phases

/// Phase 1: one put at a time.
async fn phase_sequential_put(client: &Client, work: &Workload) -> Result<Vec<(Row, f64)>> {
    let mut kv = client.kv_client();
    let mut latencies = Vec::with_capacity(work.sequential_puts);
    let started = Instant::now();
    for index in 0..work.sequential_puts {
        let sent = Instant::now();
        kv.put(key("sequential", index), value(1, index), None)
            .await
            .with_context(|| format!("put {}", key("sequential", index)))?;
        latencies.push(sent.elapsed());
    }
    let rate = per_second(work.sequential_puts, started.elapsed());
    let (p50, p99) = p50_p99(latencies);
    Ok(vec![(Row::SequentialPutP50, p50), (Row::SequentialPutP99, p99), (Row::SequentialPutRate, rate)])
}

/// Phase 2: the same number of puts with 1, 16 and 64 requests in flight.
async fn phase_puts_in_flight(client: &Client, work: &Workload) -> Result<Vec<(Row, f64)>> {
    let rows = [Row::PutsInFlight1, Row::PutsInFlight16, Row::PutsInFlight64];
    let mut figures = Vec::new();
    for (row, in_flight) in rows.into_iter().zip(work.in_flight_settings) {
        let group = format!("in-flight-{in_flight}");
        figures.push((row, put_many(client, &group, 2, work.puts_per_setting, in_flight).await?));
    }
    Ok(figures)
}

/// Phase 3: kube-apiserver's GuaranteedUpdate, sequential and concurrent.
async fn phase_updates(client: &Client, work: &Workload) -> Result<Vec<(Row, f64)>> {
    let sequential = run_updates(client, work, 1, work.sequential_updates, "update-sequential").await?;
    let concurrent =
        run_updates(client, work, work.update_in_flight, work.concurrent_updates, "update-concurrent").await?;
    Ok(vec![
        (Row::UpdateSequential, sequential.txns_per_second),
        (Row::UpdateConcurrent, concurrent.txns_per_second),
        (Row::UpdateConflicts, concurrent.failed_compares as f64 * 100.0 / concurrent.txns as f64),
    ])
}

#[derive(Debug, Default)]
struct UpdateOutcome {
    txns: usize,
    failed_compares: usize,
    txns_per_second: f64,
}

/// `updates` successful updates spread over `workers` tasks; worker `w` owns
/// key `w % update_keys`, so workers sharing a key race as apiservers do.
async fn run_updates(
    client: &Client,
    work: &Workload,
    workers: usize,
    updates: usize,
    group: &str,
) -> Result<UpdateOutcome> {
    let mut kv = client.kv_client();
    let mut revisions = Vec::with_capacity(work.update_keys);
    for index in 0..work.update_keys {
        let put = kv.put(key(group, index), value(3, index), None).await.context("create an update key")?;
        revisions.push(put.header().context("put response without a header")?.revision());
    }
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for worker in 0..workers {
        let kv = client.kv_client();
        let target = key(group, worker % work.update_keys);
        let revision = revisions[worker % work.update_keys];
        let quota = (worker..updates).step_by(workers).count();
        tasks.spawn(update_loop(kv, target, revision, quota));
    }
    let mut outcome = UpdateOutcome::default();
    while let Some(joined) = tasks.join_next().await {
        let (txns, failed) = joined.context("an update task panicked")??;
        outcome.txns += txns;
        outcome.failed_compares += failed;
    }
    outcome.txns_per_second = per_second(outcome.txns, started.elapsed());
    Ok(outcome)
}

/// Updates `target` `quota` times with compare-and-swap on its mod_revision,
/// refreshing the revision from the failure branch's Range; returns
/// (transactions sent, compares that failed).
async fn update_loop(mut kv: KvClient, target: String, mut revision: i64, quota: usize) -> Result<(usize, usize)> {
    const MAX_TXNS_PER_UPDATE: usize = 1_000;
    let (mut txns, mut failed) = (0, 0);
    for update in 0..quota {
        let mut attempts = 0;
        loop {
            ensure!(attempts < MAX_TXNS_PER_UPDATE, "{target}: {attempts} failed compares in a row");
            attempts += 1;
            txns += 1;
            let txn = Txn::new()
                .when([Compare::mod_revision(target.clone(), CompareOp::Equal, revision)])
                .and_then([TxnOp::put(target.clone(), value(4, update), None)])
                .or_else([TxnOp::get(target.clone(), None)]);
            let response = kv.txn(txn).await.with_context(|| format!("update txn on {target}"))?;
            if response.succeeded() {
                revision = response.header().context("txn response without a header")?.revision();
                break;
            }
            failed += 1;
            revision = current_revision(&response.op_responses(), &target)?;
        }
    }
    Ok((txns, failed))
}

fn current_revision(responses: &[TxnOpResponse], target: &str) -> Result<i64> {
    match responses.first() {
        Some(TxnOpResponse::Get(range)) => {
            Ok(range.kvs().first().with_context(|| format!("failure-branch Range found no {target}"))?.mod_revision())
        }
        other => bail!("failure branch answered {other:?} instead of one Range"),
    }
}

/// Phases 4 and 6 share one data set: fill, read it, overwrite, compact, defrag.
async fn phase_fill(client: &Client, store: &StoreProcess, work: &Workload) -> Result<(Vec<(Row, f64)>, Vec<String>)> {
    let rate = put_many(client, "fill", 5, work.fill_keys, work.fill_in_flight).await?;
    let disk = DiskUsage::of(&store.data_dir)?;
    let figures = vec![
        (Row::FillRate, rate),
        (Row::RssFilled, rss_bytes(store.pid())? as f64),
        (Row::DiskFilled, disk.total() as f64),
    ];
    Ok((figures, vec![format!("disk after fill: {}", disk.breakdown())]))
}

/// Phase 4 reads: kube-apiserver-style paginated LIST, then count_only.
async fn phase_reads(client: &Client, work: &Workload) -> Result<Vec<(Row, f64)>> {
    let (count, pages) = paginate(client, work).await?;
    let (page_p50, page_p99) = p50_p99(pages);
    let (count_p50, count_p99) = p50_p99(count_only(client, work).await?);
    Ok(vec![
        (Row::PageCount, count as f64),
        (Row::PageP50, page_p50),
        (Row::PageP99, page_p99),
        (Row::CountOnlyP50, count_p50),
        (Row::CountOnlyP99, count_p99),
    ])
}

/// Lists the fill prefix in pages of `page_limit`, every page after the first
/// pinned to the first page's revision as kube-apiserver does; returns the
/// first page's `count` and each page's latency.
async fn paginate(client: &Client, work: &Workload) -> Result<(i64, Vec<Duration>)> {
    let mut kv = client.kv_client();
    let prefix = format!("{ROOT}/fill/");
    let end = prefix_end(&prefix);
    let max_pages = work.fill_keys / work.page_limit as usize + 2;
    let mut start = prefix.into_bytes();
    let (mut first_count, mut revision, mut seen) = (None, 0, 0);
    let mut latencies = Vec::new();
    for _ in 0..max_pages {
        let mut options = GetOptions::new().with_range(end.clone()).with_limit(work.page_limit);
        if revision != 0 {
            options = options.with_revision(revision);
        }
        let sent = Instant::now();
        let page = kv.get(start.clone(), Some(options)).await.context("Range page over the fill")?;
        latencies.push(sent.elapsed());
        if first_count.is_none() {
            first_count = Some(page.count());
            revision = page.header().context("Range response without a header")?.revision();
        }
        seen += page.kvs().len();
        ensure!(page.kvs().len() as i64 <= work.page_limit, "a page held {} keys", page.kvs().len());
        let Some(last) = page.kvs().last() else { break };
        if !page.more() {
            break;
        }
        start = [last.key(), b"\0"].concat();
    }
    let count = first_count.context("no page was read")?;
    ensure!(count == work.fill_keys as i64, "first page reported count {count}, expected {}", work.fill_keys);
    ensure!(seen == work.fill_keys, "pages returned {seen} keys in all, expected {}", work.fill_keys);
    Ok((count, latencies))
}

async fn count_only(client: &Client, work: &Workload) -> Result<Vec<Duration>> {
    let mut kv = client.kv_client();
    let prefix = format!("{ROOT}/fill/");
    let mut latencies = Vec::with_capacity(work.count_queries);
    for _ in 0..work.count_queries {
        let sent = Instant::now();
        let reply = kv
            .get(prefix.clone(), Some(GetOptions::new().with_prefix().with_count_only()))
            .await
            .context("count_only Range over the fill")?;
        latencies.push(sent.elapsed());
        ensure!(
            reply.count() == work.fill_keys as i64,
            "count_only said {}, expected {}",
            reply.count(),
            work.fill_keys
        );
        ensure!(reply.kvs().is_empty(), "count_only returned {} key-values", reply.kvs().len());
    }
    Ok(latencies)
}

/// Phase 6: overwrite every filled key once, compact to now, defragment.
async fn phase_reclaim(
    client: &Client,
    store: &StoreProcess,
    work: &Workload,
) -> Result<(Vec<(Row, f64)>, Vec<String>)> {
    put_many(client, "fill", 6, work.fill_keys, work.fill_in_flight).await?;
    let overwritten = DiskUsage::of(&store.data_dir)?;
    let mut kv = client.kv_client();
    let now = kv.get(key("fill", 0), None).await.context("read the current revision")?;
    let revision = now.header().context("Range response without a header")?.revision();
    kv.compact(revision, Some(CompactionOptions::new().with_physical()))
        .await
        .with_context(|| format!("compact to revision {revision}"))?;
    client.maintenance_client().defragment().await.context("defragment")?;
    let defragmented = DiskUsage::of(&store.data_dir)?;
    let figures =
        vec![(Row::DiskOverwritten, overwritten.total() as f64), (Row::DiskDefragmented, defragmented.total() as f64)];
    let notes = vec![
        format!("disk after overwriting all: {}", overwritten.breakdown()),
        format!("disk after compact + defrag: {}", defragmented.breakdown()),
    ];
    Ok((figures, notes))
}

/// Phase 5: one prefix watch with prev_kv; latency from sending each put to
/// receiving its event.
async fn phase_watch(client: &Client, work: &Workload) -> Result<Vec<(Row, f64)>> {
    let mut kv = client.kv_client();
    for index in 0..work.watch_keys {
        kv.put(key("watch", index), value(7, index), None).await.context("create a watched key")?;
    }
    let options = WatchOptions::new().with_prefix().with_prev_key();
    let (_requests, mut events) =
        client.watch_client().watch(format!("{ROOT}/watch/"), Some(options)).await.context("open the watch")?.split();
    let created = events.message().await.context("watch create response")?;
    ensure!(created.is_some_and(|r| r.created()), "the watch's first response is not `created`");

    let receiver = tokio::spawn(receive_events(events, work.watch_puts));
    let mut sent = Vec::with_capacity(work.watch_puts);
    for index in 0..work.watch_puts {
        sent.push(Instant::now());
        let target = key("watch", index % work.watch_keys);
        kv.put(target.clone(), value(8, index), None).await.with_context(|| format!("put {target}"))?;
    }
    let received = tokio::time::timeout(Duration::from_secs(30), receiver)
        .await
        .context("events still missing 30 s after the last put")?
        .context("the watch receiver panicked")??;

    let mut latencies = Vec::with_capacity(work.watch_puts);
    for (index, (event_key, at)) in received.into_iter().enumerate() {
        let expected = key("watch", index % work.watch_keys);
        ensure!(
            event_key == expected.as_bytes(),
            "event {index} is for {}, expected {expected}",
            String::from_utf8_lossy(&event_key)
        );
        latencies.push(at.duration_since(sent[index]));
    }
    let (p50, p99) = p50_p99(latencies);
    Ok(vec![(Row::WatchP50, p50), (Row::WatchP99, p99)])
}

/// Collects `wanted` events with their arrival time, checking each has a prev_kv.
async fn receive_events(
    mut events: etcd_client::WatchResponseStream,
    wanted: usize,
) -> Result<Vec<(Vec<u8>, Instant)>> {
    let mut received = Vec::with_capacity(wanted);
    while received.len() < wanted {
        let response = events.message().await.context("watch stream")?.context("watch stream ended")?;
        let at = Instant::now();
        ensure!(!response.canceled(), "watch cancelled: {}", response.cancel_reason());
        for event in response.events() {
            let kv = event.kv().context("event without a key-value")?;
            ensure!(event.prev_kv().is_some(), "event for {} has no prev_kv", String::from_utf8_lossy(kv.key()));
            received.push((kv.key().to_vec(), at));
        }
    }
    Ok(received)
}

// ---------------------------------------------------------------------------
// Running a store through every phase

async fn measure(store: &StoreCommand, work: &Workload) -> Column {
    let mut column = Column::default();
    let started = Instant::now();
    if let Err(err) = run_sessions(store, work, &mut column).await {
        eprintln!("  {:?} did not start: {err:#}", store.flavor);
        column.errors.push(format!("did not start: {err:#}"));
    }
    column.elapsed = Some(started.elapsed());
    column
}

/// Each session starts the store on a fresh data directory; phase failures
/// are recorded and the run goes on, a failed start ends it.
async fn run_sessions(store: &StoreCommand, work: &Workload, column: &mut Column) -> Result<()> {
    let (process, client) = session(store, "phase 1").await?;
    column.record("phase 1", deadline(phase_sequential_put(&client, work)).await);
    drop(process);

    let (process, client) = session(store, "phase 2").await?;
    column.record("phase 2", deadline(phase_puts_in_flight(&client, work)).await);
    drop(process);

    let (process, client) = session(store, "phase 3").await?;
    column.record("phase 3", deadline(phase_updates(&client, work)).await);
    drop(process);

    let (process, client) = session(store, "phases 4 and 6").await?;
    column.record("phase 4 idle RSS", rss_bytes(process.pid()).map(|rss| vec![(Row::RssIdle, rss as f64)]));
    let filled = deadline(phase_fill(&client, &process, work)).await;
    let fill_failed = filled.is_err();
    column.record_with_notes("phase 4 fill", filled);
    if !fill_failed {
        column.record("phase 4 reads", deadline(phase_reads(&client, work)).await);
        column.record_with_notes("phase 6", deadline(phase_reclaim(&client, &process, work)).await);
    }
    drop(process);

    let (process, client) = session(store, "phase 5").await?;
    column.record("phase 5", deadline(phase_watch(&client, work)).await);
    drop(process);
    Ok(())
}

async fn session(store: &StoreCommand, phases: &str) -> Result<(StoreProcess, Client)> {
    eprintln!("{:?}: {phases} on a fresh data directory", store.flavor);
    StoreProcess::start(store).await
}

async fn deadline<T>(phase: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(PHASE_DEADLINE, phase)
        .await
        .with_context(|| format!("still running after {PHASE_DEADLINE:?}"))?
}

// ---------------------------------------------------------------------------
// Report

fn format_figure(row: Row, figure: f64) -> String {
    let (_, unit, _) = row.spec();
    match unit {
        "MiB" => format!("{:.1}", figure / (1024.0 * 1024.0)),
        "ms" if figure < 10.0 => format!("{figure:.2}"),
        "ms" => format!("{figure:.1}"),
        "%" => format!("{figure:.1}"),
        _ => format!("{figure:.0}"),
    }
}

fn format_cell(row: Row, figure: Option<f64>) -> String {
    figure.map_or_else(|| "—".to_owned(), |f| format_figure(row, f))
}

fn format_ratio(etcd: Option<f64>, bramble: Option<f64>) -> String {
    match (etcd, bramble) {
        (Some(e), Some(b)) if e != 0.0 => format!("{:.2}×", b / e),
        _ => "—".to_owned(),
    }
}

fn render(machine: &str, work: &Workload, etcd: &Column, bramble: &Column, bramble_absent: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{machine}\n");
    let _ = writeln!(out, "| phase | etcd 3.4 | bramble | ratio |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for row in Row::ALL {
        let (label, unit, better) = row.spec();
        let arrow = match better {
            Better::Lower => " ↓",
            Better::Higher => " ↑",
            Better::Neither => "",
        };
        let (e, b) = (etcd.figures.get(&row).copied(), bramble.figures.get(&row).copied());
        let _ = writeln!(
            out,
            "| {label} ({unit}){arrow} | {} | {} | {} |",
            format_cell(row, e),
            format_cell(row, b),
            format_ratio(e, b)
        );
    }
    let _ = writeln!(out, "\nratio = bramble ÷ etcd; ↑ higher is better, ↓ lower is better.");
    let _ = writeln!(out, "Workload: {}.", work.describe());
    for (name, column) in [("etcd", etcd), ("bramble", bramble)] {
        if let Some(elapsed) = column.elapsed {
            let _ = writeln!(out, "{name} run took {:.0} s.", elapsed.as_secs_f64());
        }
        for note in &column.notes {
            let _ = writeln!(out, "{name} {note}.");
        }
    }
    if let Some(reason) = bramble_absent {
        let _ = writeln!(out, "\n**bramble's column is missing: {reason}.**");
    }
    for (name, column) in [("etcd", etcd), ("bramble", bramble)] {
        for error in &column.errors {
            let _ = writeln!(out, "\n{name} error, {error}");
        }
    }
    out
}

/// nproc, kernel, CPU, memory, etcd version and the scratch filesystem.
fn machine_description(etcd: &Path) -> String {
    let nproc = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    let etcd_version = Command::new(etcd)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned))
        .unwrap_or_else(|| format!("{} --version failed", etcd.display()));
    // Other work on a 2-CPU machine moves every figure; the load says whether there was any.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_1m = load.split_whitespace().next().unwrap_or("?");
    let scratch = std::env::temp_dir();
    format!(
        "Machine: {nproc} CPUs ({cpu}), {memory} RAM, Linux {}, {etcd_version}; data directories under {} ({}); \
         load average {load_1m} at the start.",
        kernel.trim(),
        scratch.display(),
        filesystem_of(&scratch)
    )
}

/// The filesystem type of the mount holding `path`, from /proc/mounts.
fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point).then(|| (point.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "unknown filesystem".to_owned(), |(_, kind)| kind)
}

async fn run(args: Args) -> Result<()> {
    let work = Workload::new(args.keys);
    ensure!(work.fill_keys > 0, "--keys must be at least 1");
    let machine = machine_description(&args.etcd);
    eprintln!("{machine}\nWorkload: {}.", work.describe());

    let etcd = if args.only == Some(Flavor::Bramble) {
        Column::default()
    } else {
        measure(&StoreCommand { flavor: Flavor::Etcd, program: args.etcd.clone() }, &work).await
    };
    let (bramble, absent) = match (&args.bramble, args.only) {
        (_, Some(Flavor::Etcd)) => (Column::default(), Some("not run (`--only etcd`)".to_owned())),
        (None, _) => (Column::default(), Some("no `--bramble <binary>` was given".to_owned())),
        (Some(program), _) => {
            let column = measure(&StoreCommand { flavor: Flavor::Bramble, program: program.clone() }, &work).await;
            let absent =
                column.figures.is_empty().then(|| "bramble produced no figures, see its errors below".to_owned());
            (column, absent)
        }
    };
    print!("{}", render(&machine, &work, &etcd, &bramble, absent.as_deref()));
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    // Ctrl-C drops `run`, and with it the running store, which kills the process.
    tokio::select! {
        outcome = run(args) => outcome,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}
