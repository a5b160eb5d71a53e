//! Differential test: one script of real `etcdctl` commands (etcdctl/script.txt)
//! runs against a fresh etcd 3.4 and a fresh bramble, and every exit code,
//! stdout and stderr must be identical once what is random by design (ids,
//! terms, sizes, remaining lease time) is normalised. It says nothing about
//! behaviour that etcdctl cannot observe.

#[path = "etcdctl/normalise.rs"]
mod normalise;
#[path = "etcdctl/script.rs"]
mod script;
#[path = "etcdctl/transcript.rs"]
mod transcript;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::thread;

use crate::support::Flavor;
use transcript::Outcome;

const SCRIPT: &str = include_str!("etcdctl/script.txt");

/// How many differing commands a failure shows in full; later ones are often
/// consequences of the first.
const SHOWN_DIFFERENCES: usize = 3;

#[test]
fn etcdctl_cannot_tell_bramble_from_etcd() {
    check("bramble", Flavor::Etcd, Flavor::Bramble);
}

/// Two etcds must agree with each other: proof that the normalisation removes
/// all nondeterminism, so that any difference from bramble is bramble's.
#[test]
fn etcdctl_script_is_deterministic_on_etcd() {
    check("etcd", Flavor::Etcd, Flavor::Etcd);
}

/// Runs the script against a fresh `expected` and a fresh `actual` store in
/// parallel, writes both transcripts to the target directory, and fails with
/// the first differing commands.
fn check(label: &str, expected: Flavor, actual: Flavor) {
    let steps = script::parse(SCRIPT).unwrap_or_else(|e| panic!("{e}"));
    let (want, got) = thread::scope(|s| {
        let want = s.spawn(|| transcript::record(expected, &steps));
        let got = s.spawn(|| transcript::record(actual, &steps));
        let join =
            |h: thread::ScopedJoinHandle<'_, Vec<Outcome>>| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (join(want), join(got))
    });
    let want_file = write_transcript(label, "expected", &want);
    let got_file = write_transcript(label, "actual", &got);
    assert_eq!(want.len(), got.len(), "both runs record one outcome per command");

    let differing: Vec<(&Outcome, &Outcome)> = want.iter().zip(&got).filter(|(w, g)| w != g).collect();
    if differing.is_empty() {
        return;
    }
    let mut report = format!(
        "{} of {} etcdctl commands print differently on {actual:?} than on {expected:?}.\n\
         Full transcripts: diff -u {} {}\n",
        differing.len(),
        want.len(),
        want_file.display(),
        got_file.display()
    );
    for (w, g) in differing.iter().take(SHOWN_DIFFERENCES) {
        let _ = write!(report, "\n=== script.txt line {}: etcdctl {}\n", w.line, w.command);
        let parts = [
            ("ending", w.ending.to_string(), g.ending.to_string()),
            ("stdout", w.stdout.clone(), g.stdout.clone()),
            ("stderr", w.stderr.clone(), g.stderr.clone()),
        ];
        for (part, want, got) in parts.iter().filter(|(_, w, g)| w != g) {
            let _ = write!(report, "--- {part} expected ({expected:?}):\n{}", quoted(want));
            let _ = write!(report, "+++ {part} got ({actual:?}):\n{}", quoted(got));
        }
    }
    panic!("{report}");
}

/// Prefixes every line with `| ` so that empty output and trailing blank
/// lines stay visible.
fn quoted(text: &str) -> String {
    if text.is_empty() {
        return "  (nothing)\n".to_owned();
    }
    text.lines().map(|l| format!("  | {l}\n")).collect()
}

/// Writes a normalised transcript next to the build, for `diff -u`.
fn write_transcript(label: &str, side: &str, outcomes: &[Outcome]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("etcdctl_diff");
    std::fs::create_dir_all(&dir).expect("create the transcript directory");
    let path = dir.join(format!("{label}.{side}.txt"));
    let mut text = String::new();
    for o in outcomes {
        let _ = write!(text, "=== line {}: etcdctl {}\n--- {}\n", o.line, o.command, o.ending);
        let _ = write!(text, "--- stdout\n{}--- stderr\n{}\n", quoted(&o.stdout), quoted(&o.stderr));
    }
    std::fs::write(&path, text).expect("write the transcript");
    path
}
