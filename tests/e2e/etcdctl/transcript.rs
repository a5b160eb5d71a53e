//! Runs the parsed script against one fresh store and records, per command, how
//! it ended and what it printed, already normalised. Comparing two transcripts
//! is the caller's job.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Child;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use super::normalise::Normaliser;
use super::script::{Action, Step, Until};
use crate::support::{self, Flavor, Store};

/// How long a foreground etcdctl may take: its own dial and command timeouts
/// (2 s + 5 s) end it well before, so hitting this means it hung.
const COMMAND_DEADLINE: Duration = Duration::from_secs(20);
/// How long `@collect` waits for a background command's expected output.
const COLLECT_DEADLINE: Duration = Duration::from_secs(5);
/// How long `@await-empty` keeps polling; the shortest etcd lease lives 2 s.
const AWAIT_DEADLINE: Duration = Duration::from_secs(15);
const AWAIT_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How much of a crashed server's log a failure shows.
const LOG_TAIL_LINES: usize = 40;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// It printed the expected number of lines and the test stopped it.
    Stopped,
    /// It was still running at its deadline and the test killed it.
    Hung(Duration),
    /// `@await-empty` gave up: the last attempt is what the outcome shows.
    NeverEmpty(Duration),
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Exited(Some(code)) => write!(f, "exit code {code}"),
            Ending::Exited(None) => write!(f, "killed by a signal"),
            Ending::Stopped => write!(f, "printed the expected lines, then stopped by the test"),
            Ending::Hung(after) => write!(f, "still running after {after:?}, killed by the test"),
            Ending::NeverEmpty(after) => write!(f, "output still not empty after {after:?}"),
        }
    }
}

/// One recorded command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub line: usize,
    pub command: String,
    pub ending: Ending,
    pub stdout: String,
    pub stderr: String,
}

/// What a process printed before it ended, not yet normalised.
struct Raw {
    ending: Ending,
    stdout: String,
    stderr: String,
}

/// A command started by `@spawn`, waiting for its `@collect`.
struct Background {
    child: Child,
    until: Until,
    snapshot: bool,
}

/// Starts a fresh store of `flavor`, runs every step against it and returns
/// one outcome per command, in script order.
pub fn record(flavor: Flavor, steps: &[Step]) -> Vec<Outcome> {
    let mut store = Store::start(flavor);
    let scratch = tempfile::tempdir().expect("create a scratch directory for the script's {DIR}");
    let scratch_path = scratch.path().to_str().expect("temporary directories have UTF-8 paths");
    let mut norm = Normaliser::new(&store.endpoint(), scratch_path);
    let mut background: HashMap<String, Background> = HashMap::new();
    let mut outcomes = Vec::new();
    for step in steps {
        let raw = match &step.action {
            Action::Run { args, stdin } => {
                let child = spawn(&store, &norm, args, stdin);
                Some((finish(child, Until::Exit, COMMAND_DEADLINE), is_snapshot(args)))
            }
            Action::Spawn { name, until, args } => {
                let child = spawn(&store, &norm, args, "");
                let snapshot = is_snapshot(args);
                background.insert(name.clone(), Background { child, until: *until, snapshot });
                None
            }
            Action::Collect { name } => {
                let job = background.remove(name).expect("the script parser pairs every collect with a spawn");
                Some((finish(job.child, job.until, COLLECT_DEADLINE), job.snapshot))
            }
            Action::AwaitEmpty { args } => Some((await_empty(&store, &norm, args), false)),
        };
        if let Some(status) = store.exit_status() {
            let log = store.log_text();
            let tail: Vec<&str> = log.lines().rev().take(LOG_TAIL_LINES).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "{flavor:?} exited ({status}) during script.txt line {}: etcdctl {}\nlast lines of its log:\n{}",
                step.line,
                step.command,
                tail.join("\n")
            );
        }
        if let Some((raw, snapshot)) = raw {
            outcomes.push(Outcome {
                line: step.line,
                command: step.command.clone(),
                ending: raw.ending,
                stdout: norm.stdout(&raw.stdout),
                stderr: norm.stderr(&raw.stderr, snapshot),
            });
        }
    }
    outcomes
}

/// `snapshot save` logs from two goroutines in no fixed order: only its
/// outcome is compared.
fn is_snapshot(args: &[String]) -> bool {
    args.first().is_some_and(|a| a == "snapshot")
}

fn spawn(store: &Store, norm: &Normaliser, args: &[String], stdin: &str) -> Child {
    let args: Vec<String> = args.iter().map(|a| norm.expand(a)).collect();
    let mut child = support::etcdctl_spawn(&store.endpoint(), &args);
    let mut input = child.stdin.take().expect("etcdctl_spawn pipes stdin");
    // Inputs are small enough for the pipe buffer, so writing cannot block.
    // etcdctl may already have exited (a broken pipe): its outcome shows why.
    if let Err(e) = input.write_all(norm.expand(stdin).as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write etcdctl's stdin: {e}");
    }
    drop(input);
    child
}

/// Collects a child's output until `until` is met or `deadline` passes, then
/// kills it if it is still running.
fn finish(mut child: Child, until: Until, deadline: Duration) -> Raw {
    let stdout = child.stdout.take().expect("etcdctl_spawn pipes stdout");
    let mut stderr = child.stderr.take().expect("etcdctl_spawn pipes stderr");
    let (lines_tx, lines) = mpsc::channel();
    let stdout_reader = thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if lines_tx.send(line).is_err() => break,
                Ok(_) => {}
            }
        }
    });
    let stderr_reader = thread::spawn(move || {
        let mut text = Vec::new();
        // A read error only truncates what the transcript shows.
        let _ = stderr.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });

    let started = Instant::now();
    let mut out = String::new();
    let mut count = 0;
    let stopped = loop {
        if until == Until::Lines(count) {
            break Some(Ending::Stopped);
        }
        let left = deadline.saturating_sub(started.elapsed());
        match lines.recv_timeout(left) {
            Ok(line) => {
                out.push_str(&line);
                count += 1;
            }
            Err(RecvTimeoutError::Disconnected) => break None,
            Err(RecvTimeoutError::Timeout) => break Some(Ending::Hung(deadline)),
        }
    };
    if stopped.is_some() {
        // It may have exited in the meantime; then there is nothing to kill.
        let _ = child.kill();
    }
    let status = child.wait().expect("wait for etcdctl");
    stdout_reader.join().expect("the stdout reader does not panic");
    // Lines beyond the expected count are kept: they are a difference too.
    out.extend(lines.try_iter());
    let stderr = stderr_reader.join().expect("the stderr reader does not panic");
    Raw { ending: stopped.unwrap_or(Ending::Exited(status.code())), stdout: out, stderr }
}

/// Runs a command until it succeeds with empty stdout, e.g. until a key
/// attached to an expiring lease is gone.
fn await_empty(store: &Store, norm: &Normaliser, args: &[String]) -> Raw {
    let started = Instant::now();
    loop {
        let raw = finish(spawn(store, norm, args, ""), Until::Exit, COMMAND_DEADLINE);
        if raw.ending == Ending::Exited(Some(0)) && raw.stdout.is_empty() {
            return raw;
        }
        if started.elapsed() > AWAIT_DEADLINE {
            return Raw { ending: Ending::NeverEmpty(AWAIT_DEADLINE), ..raw };
        }
        thread::sleep(AWAIT_POLL_INTERVAL);
    }
}
