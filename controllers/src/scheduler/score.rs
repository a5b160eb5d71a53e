//! Scores of the default profile, each 0 to 100 and weighted as upstream's:
//! least allocated (1) and balanced allocation (1) of cpu and memory,
//! PreferNoSchedule taints (3), preferred node affinity (2), and spreading
//! the pods of one owner over nodes (2, standing in for the default
//! topology spread). Ties go to a random node among the best.

use k8s_openapi::api::core::v1::Pod;

use super::filters::{self, NodeView};
use super::quantity::Resources;

/// Requests a pod without them counts as, for scoring only (upstream's non-zero defaults).
const DEFAULT_CPU_MILLI: i128 = 100;
const DEFAULT_MEMORY_MILLI: i128 = 200 * 1024 * 1024 * 1000;

fn fractions(requests: &Resources, view: &NodeView<'_>) -> [f64; 2] {
    let allocatable = view.allocatable();
    let mut requested = Resources::new();
    for p in &view.placed {
        for (k, v) in &p.requests {
            *requested.entry(k.clone()).or_default() += v;
        }
        if !p.requests.contains_key("cpu") {
            *requested.entry("cpu".into()).or_default() += DEFAULT_CPU_MILLI;
        }
        if !p.requests.contains_key("memory") {
            *requested.entry("memory".into()).or_default() += DEFAULT_MEMORY_MILLI;
        }
    }
    let mine = |name: &str, default: i128| requests.get(name).copied().filter(|v| *v > 0).unwrap_or(default);
    let frac = |name: &str, default: i128| {
        let cap = allocatable.get(name).copied().unwrap_or(0);
        if cap <= 0 {
            return 1.0;
        }
        ((requested.get(name).copied().unwrap_or(0) + mine(name, default)) as f64 / cap as f64).min(1.0)
    };
    [frac("cpu", DEFAULT_CPU_MILLI), frac("memory", DEFAULT_MEMORY_MILLI)]
}

fn least_allocated(f: [f64; 2]) -> f64 {
    ((1.0 - f[0]) + (1.0 - f[1])) / 2.0 * 100.0
}

fn balanced(f: [f64; 2]) -> f64 {
    let mean = (f[0] + f[1]) / 2.0;
    let std = (((f[0] - mean).powi(2) + (f[1] - mean).powi(2)) / 2.0).sqrt();
    (1.0 - std) * 100.0
}

fn score(pod: &Pod, requests: &Resources, view: &NodeView<'_>, max_owned: usize) -> f64 {
    let f = fractions(requests, view);
    let mut total = least_allocated(f) + balanced(f);
    let spec = pod.spec.clone().unwrap_or_default();
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    let untolerated = view
        .node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "PreferNoSchedule" && !filters::tolerates(&tolerations, t))
        .count();
    total += 3.0 * if untolerated == 0 { 100.0 } else { 100.0 / (1.0 + untolerated as f64) };
    let preferred = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.preferred_during_scheduling_ignored_during_execution.clone())
        .unwrap_or_default();
    let max_weight: i32 = preferred.iter().map(|p| p.weight).sum();
    if max_weight > 0 {
        let got: i32 = preferred
            .iter()
            .filter(|p| filters::term_matches(&p.preference, &view.labels, view.name))
            .map(|p| p.weight)
            .sum();
        total += 2.0 * 100.0 * f64::from(got) / f64::from(max_weight);
    } else {
        total += 2.0 * 100.0;
    }
    let owner = crate::owner::controller_of(&pod.metadata).map(|r| r.uid.as_str());
    if let Some(owner) = owner {
        let here = view.placed.iter().filter(|p| p.owner.as_deref() == Some(owner)).count();
        let spread = if max_owned == 0 { 100.0 } else { 100.0 * (max_owned - here) as f64 / max_owned as f64 };
        total += 2.0 * spread;
    } else {
        total += 2.0 * 100.0;
    }
    total
}

/// The best feasible node's name.
pub fn best<'a>(
    pod: &Pod,
    requests: &Resources,
    feasible: &[&'a NodeView<'a>],
    _all: &[NodeView<'_>],
) -> Option<&'a str> {
    let owner = crate::owner::controller_of(&pod.metadata).map(|r| r.uid.clone());
    let max_owned = feasible
        .iter()
        .map(|v| v.placed.iter().filter(|p| owner.is_some() && p.owner == owner).count())
        .max()
        .unwrap_or(0);
    let scored: Vec<(f64, &str)> = feasible.iter().map(|v| (score(pod, requests, v, max_owned), v.name)).collect();
    let top = scored.iter().map(|(s, _)| *s).fold(f64::NEG_INFINITY, f64::max);
    let best: Vec<&str> = scored.iter().filter(|(s, _)| (top - *s).abs() < 1e-9).map(|(_, n)| *n).collect();
    if best.is_empty() {
        return None;
    }
    Some(best[rand::random_range(0..best.len())])
}
