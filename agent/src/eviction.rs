//! Node-pressure thresholds as the kubelet's `--eviction-hard` and
//! `--eviction-minimum-reclaim` write them, with k3s's defaults
//! (`imagefs.available<5%,nodefs.available<5%`, and 10% more reclaimed once
//! one is crossed), and the signals they are held against. Shared by the
//! Node's conditions and allocatable ([`crate::node`]) and the kubelet's
//! eviction manager ([`crate::kubelet::eviction`]).
//!
//! As in the kubelet, a `--eviction-hard` given replaces every default: k3s's
//! defaults have no memory or PID threshold, so a k3s node (and a bramble
//! node) reports MemoryPressure only when the operator sets one.

use std::collections::BTreeMap;
use std::fmt;

/// What a threshold watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    MemoryAvailable,
    NodefsAvailable,
    NodefsInodesFree,
    ImagefsAvailable,
    ImagefsInodesFree,
    PidAvailable,
}

/// Which node condition a signal feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Starved {
    Memory,
    Disk,
    Pid,
}

impl Signal {
    pub const ALL: [Signal; 6] = [
        Signal::MemoryAvailable,
        Signal::NodefsAvailable,
        Signal::NodefsInodesFree,
        Signal::ImagefsAvailable,
        Signal::ImagefsInodesFree,
        Signal::PidAvailable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Signal::MemoryAvailable => "memory.available",
            Signal::NodefsAvailable => "nodefs.available",
            Signal::NodefsInodesFree => "nodefs.inodesFree",
            Signal::ImagefsAvailable => "imagefs.available",
            Signal::ImagefsInodesFree => "imagefs.inodesFree",
            Signal::PidAvailable => "pid.available",
        }
    }

    pub fn parse(name: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn starved(self) -> Starved {
        match self {
            Signal::MemoryAvailable => Starved::Memory,
            Signal::PidAvailable => Starved::Pid,
            _ => Starved::Disk,
        }
    }

    /// The resource named in an eviction's message, as the kubelet names it.
    pub fn resource(self) -> &'static str {
        match self {
            Signal::MemoryAvailable => "memory",
            Signal::NodefsAvailable | Signal::ImagefsAvailable => "ephemeral-storage",
            Signal::NodefsInodesFree | Signal::ImagefsInodesFree => "inodes",
            Signal::PidAvailable => "pids",
        }
    }

    /// Whether the amounts are bytes (else counts: inodes, processes).
    fn bytes(self) -> bool {
        matches!(self, Signal::MemoryAvailable | Signal::NodefsAvailable | Signal::ImagefsAvailable)
    }
}

/// A threshold's or a reclaim's size: absolute, or a share of the capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    Absolute(u64),
    Percent(f64),
}

impl Amount {
    pub fn of(self, capacity: u64) -> u64 {
        match self {
            Amount::Absolute(n) => n,
            // Rounded up, as the kubelet's threshold quantity is.
            Amount::Percent(p) => (capacity as f64 * p / 100.0).ceil() as u64,
        }
    }

    fn parse(text: &str) -> Option<Amount> {
        let text = text.trim();
        if let Some(p) = text.strip_suffix('%') {
            let p: f64 = p.trim().parse().ok()?;
            return (0.0..=100.0).contains(&p).then_some(Amount::Percent(p));
        }
        parse_quantity(text).map(Amount::Absolute)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Absolute(n) => write!(f, "{n}"),
            Amount::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// A Kubernetes quantity (`100Mi`, `1.5Gi`, `500M`, `12345`) as a whole number.
pub fn parse_quantity(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "Pi" => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "Ei" => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let value = number * factor;
    (value.is_finite() && value >= 0.0).then_some(value.ceil() as u64)
}

/// Bytes as the kubelet prints quantities in its messages (`100Mi`, `1536Ki`, `12345`).
pub fn format_bytes(n: u64) -> String {
    for (suffix, unit) in [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if n >= unit && n.is_multiple_of(unit) {
            return format!("{}{suffix}", n / unit);
        }
    }
    if n >= 1 << 10 {
        return format!("{}Ki", n.div_ceil(1 << 10));
    }
    n.to_string()
}

/// One hard threshold: crossed when the signal's available amount is below
/// `amount`; once crossed, reclaim until `amount + min_reclaim` is available.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub signal: Signal,
    pub amount: Amount,
    pub min_reclaim: Amount,
}

/// What a signal reads now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Observation {
    pub capacity: u64,
    pub available: u64,
}

/// Every signal that could be read.
pub type Observations = BTreeMap<Signal, Observation>;

/// A threshold that is crossed, with its figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossed {
    pub threshold: Threshold,
    pub observed: Observation,
    /// The threshold quantity: below this much available, the node is starved.
    pub limit: u64,
    /// Reclaim until this much is available.
    pub target: u64,
}

impl Crossed {
    /// How much must be freed to reach the target.
    pub fn to_free(&self) -> u64 {
        self.target.saturating_sub(self.observed.available)
    }

    /// The quantity as a message shows it.
    pub fn show(&self, n: u64) -> String {
        if self.threshold.signal.bytes() { format_bytes(n) } else { n.to_string() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error(
        "--kubelet-arg {flag}: {entry:?} is not <signal>{op}<quantity or percentage>, the signal one of memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available"
    )]
    Entry { flag: &'static str, entry: String, op: char },
}

/// The node's hard thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub list: Vec<Threshold>,
}

impl Default for Thresholds {
    /// k3s's: `--eviction-hard=imagefs.available<5%,nodefs.available<5%` and
    /// `--eviction-minimum-reclaim=imagefs.available=10%,nodefs.available=10%`.
    fn default() -> Self {
        let t = |signal| Threshold { signal, amount: Amount::Percent(5.0), min_reclaim: Amount::Percent(10.0) };
        Thresholds { list: vec![t(Signal::ImagefsAvailable), t(Signal::NodefsAvailable)] }
    }
}

fn entries<'a>(
    text: &'a str,
    flag: &'static str,
    op: char,
) -> impl Iterator<Item = Result<(Signal, Amount), ThresholdError>> + 'a {
    text.split(',').map(str::trim).filter(|e| !e.is_empty()).map(move |entry| {
        let bad = || ThresholdError::Entry { flag, entry: entry.to_string(), op };
        let (name, amount) = entry.split_once(op).ok_or_else(bad)?;
        let signal = Signal::parse(name.trim()).ok_or_else(bad)?;
        let amount = Amount::parse(amount).ok_or_else(bad)?;
        Ok((signal, amount))
    })
}

impl Thresholds {
    /// `--eviction-hard` (replacing the defaults when given) and
    /// `--eviction-minimum-reclaim` (replacing the default reclaims when given).
    pub fn parse(hard: Option<&str>, min_reclaim: Option<&str>) -> Result<Thresholds, ThresholdError> {
        let mut thresholds = match hard {
            None => Thresholds::default(),
            Some(text) => {
                let mut list: Vec<Threshold> = Vec::new();
                for entry in entries(text, "eviction-hard", '<') {
                    let (signal, amount) = entry?;
                    list.retain(|t| t.signal != signal);
                    list.push(Threshold { signal, amount, min_reclaim: Amount::Absolute(0) });
                }
                Thresholds { list }
            }
        };
        if let Some(text) = min_reclaim {
            let mut reclaims = BTreeMap::new();
            for entry in entries(text, "eviction-minimum-reclaim", '=') {
                let (signal, amount) = entry?;
                reclaims.insert(signal, amount);
            }
            for t in &mut thresholds.list {
                t.min_reclaim = reclaims.get(&t.signal).copied().unwrap_or(Amount::Absolute(0));
            }
        } else if hard.is_some() {
            // A custom --eviction-hard keeps k3s's reclaims for the signals k3s sets them on.
            let defaults = Thresholds::default();
            for t in &mut thresholds.list {
                if let Some(d) = defaults.list.iter().find(|d| d.signal == t.signal) {
                    t.min_reclaim = d.min_reclaim;
                }
            }
        }
        Ok(thresholds)
    }

    /// What allocatable holds back from `capacity` for `signal`: its threshold.
    pub fn reserved(&self, signal: Signal, capacity: u64) -> u64 {
        self.list.iter().filter(|t| t.signal == signal).map(|t| t.amount.of(capacity)).max().unwrap_or(0)
    }

    /// The thresholds that the observations cross, the most starved first.
    pub fn crossed(&self, observations: &Observations) -> Vec<Crossed> {
        let mut crossed: Vec<Crossed> = self
            .list
            .iter()
            .filter_map(|t| {
                let observed = *observations.get(&t.signal)?;
                let limit = t.amount.of(observed.capacity);
                (observed.available < limit).then(|| Crossed {
                    threshold: *t,
                    observed,
                    limit,
                    target: limit.saturating_add(t.min_reclaim.of(observed.capacity)).min(observed.capacity),
                })
            })
            .collect();
        crossed.sort_by_key(|c| std::cmp::Reverse(c.limit.saturating_sub(c.observed.available)));
        crossed
    }

    pub fn pressure(&self, observations: &Observations) -> Pressure {
        let mut pressure = Pressure::default();
        for c in self.crossed(observations) {
            match c.threshold.signal.starved() {
                Starved::Memory => pressure.memory = true,
                Starved::Disk => pressure.disk = true,
                Starved::Pid => pressure.pid = true,
            }
        }
        pressure
    }
}

/// The node conditions that the thresholds set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pressure {
    pub memory: bool,
    pub disk: bool,
    pub pid: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(pairs: &[(Signal, u64, u64)]) -> Observations {
        pairs.iter().map(|&(s, capacity, available)| (s, Observation { capacity, available })).collect()
    }

    #[test]
    fn quantities_parse_as_kubernetes_writes_them() {
        assert_eq!(parse_quantity("100Mi"), Some(100 << 20));
        assert_eq!(parse_quantity("1.5Gi"), Some(3 << 29));
        assert_eq!(parse_quantity("500M"), Some(500_000_000));
        assert_eq!(parse_quantity("12345"), Some(12345));
        assert_eq!(parse_quantity("1k"), Some(1000));
        assert_eq!(parse_quantity("10X"), None);
        assert_eq!(parse_quantity(""), None);
        assert_eq!(parse_quantity("-1"), None);
        assert_eq!(format_bytes(100 << 20), "100Mi");
        assert_eq!(format_bytes(1536 << 10), "1536Ki");
        assert_eq!(format_bytes(1500), "2Ki");
        assert_eq!(format_bytes(12), "12");
    }

    #[test]
    fn defaults_are_k3s() {
        let t = Thresholds::default();
        assert_eq!(t, Thresholds::parse(None, None).unwrap());
        let signals: Vec<Signal> = t.list.iter().map(|t| t.signal).collect();
        assert_eq!(signals, [Signal::ImagefsAvailable, Signal::NodefsAvailable]);
        // No memory threshold: allocatable memory is the capacity, as on k3s.
        assert_eq!(t.reserved(Signal::MemoryAvailable, 8 << 30), 0);
        assert_eq!(t.reserved(Signal::NodefsAvailable, 1000), 50);
    }

    #[test]
    fn a_given_eviction_hard_replaces_the_defaults() {
        let t = Thresholds::parse(Some("memory.available<100Mi, nodefs.available<10%"), None).unwrap();
        assert_eq!(t.list.len(), 2);
        assert_eq!(
            t.list[0],
            Threshold {
                signal: Signal::MemoryAvailable,
                amount: Amount::Absolute(100 << 20),
                min_reclaim: Amount::Absolute(0)
            }
        );
        // k3s's reclaim stays on the signal it has one for.
        assert_eq!(t.list[1].min_reclaim, Amount::Percent(10.0));
        let t = Thresholds::parse(Some("nodefs.available<10%"), Some("nodefs.available=1Gi")).unwrap();
        assert_eq!(t.list[0].min_reclaim, Amount::Absolute(1 << 30));
    }

    #[test]
    fn bad_entries_name_themselves() {
        for (hard, reclaim) in [
            (Some("memory<100Mi"), None),
            (Some("memory.available=100Mi"), None),
            (Some("memory.available<lots"), None),
            (Some("nodefs.available<120%"), None),
            (None, Some("nodefs.available<1Gi")),
        ] {
            let err = Thresholds::parse(hard, reclaim).unwrap_err().to_string();
            let entry = hard.or(reclaim).unwrap();
            assert!(err.contains(&format!("{entry:?}")), "{err}");
        }
    }

    #[test]
    fn crossing_and_reclaim_targets() {
        let t = Thresholds::default();
        let fine = obs(&[(Signal::NodefsAvailable, 1000, 60), (Signal::ImagefsAvailable, 1000, 900)]);
        assert!(t.crossed(&fine).is_empty());
        assert_eq!(t.pressure(&fine), Pressure::default());
        let low = obs(&[(Signal::NodefsAvailable, 1000, 40), (Signal::ImagefsAvailable, 1000, 45)]);
        let crossed = t.crossed(&low);
        assert_eq!(crossed.len(), 2);
        // The most starved first; reclaim to 5% + 10%.
        assert_eq!(crossed[0].threshold.signal, Signal::NodefsAvailable);
        assert_eq!((crossed[0].limit, crossed[0].target, crossed[0].to_free()), (50, 150, 110));
        assert_eq!(t.pressure(&low), Pressure { disk: true, ..Default::default() });
        // A signal that cannot be read crosses nothing.
        assert!(t.crossed(&Observations::new()).is_empty());
        let mem = Thresholds::parse(Some("memory.available<100Mi,pid.available<10%"), None).unwrap();
        let starved = obs(&[(Signal::MemoryAvailable, 1 << 30, 50 << 20), (Signal::PidAvailable, 1000, 50)]);
        assert_eq!(mem.pressure(&starved), Pressure { memory: true, pid: true, disk: false });
    }
}
