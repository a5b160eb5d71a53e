//! Resource quantities (`100m`, `0.5`, `128Mi`, `1G`, `1e3`) as whole
//! thousandths, which is exact for every quantity the API accepts at the
//! scale of a node, and what a pod asks for in all.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// A quantity times 1000 (millicores for cpu, milli-bytes for memory),
/// rounded up; `None` if it does not parse.
pub fn milli(q: &str) -> Option<i128> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let (num, den): (i128, i128) = parse_decimal(number)?;
    let (mul, div): (i128, i128) = match suffix {
        "" => (1000, 1),
        "m" => (1, 1),
        "u" => (1, 1000),
        "n" => (1, 1_000_000),
        "k" => (1_000_000, 1),
        "M" => (1_000_000_000, 1),
        "G" => (1_000_000_000_000, 1),
        "T" => (1_000_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000_000, 1),
        "Ki" => (1000 << 10, 1),
        "Mi" => (1000 << 20, 1),
        "Gi" => (1000 << 30, 1),
        "Ti" => (1000 << 40, 1),
        "Pi" => (1000 << 50, 1),
        "Ei" => (1000 << 60, 1),
        s if s.starts_with(['e', 'E']) => {
            let exp: u32 = s[1..].parse().ok()?;
            (1000 * 10i128.checked_pow(exp)?, 1)
        }
        _ => return None,
    };
    let n = num.checked_mul(mul)?;
    let d = den.checked_mul(div)?;
    Some((n + d - 1).div_euclid(d))
}

/// `"1.25"` as 125/100.
fn parse_decimal(s: &str) -> Option<(i128, i128)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = format!("{int}{frac}");
    let num: i128 = digits.parse().ok()?;
    Some((num, 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?))
}

/// Resource name -> amount in thousandths.
pub type Resources = BTreeMap<String, i128>;

pub fn of_map(map: Option<&BTreeMap<String, Quantity>>) -> Resources {
    map.into_iter().flatten().filter_map(|(k, v)| Some((k.clone(), milli(&v.0)?))).collect()
}

fn requests(c: &Container) -> Resources {
    of_map(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

fn add(into: &mut Resources, more: &Resources) {
    for (k, v) in more {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// What a pod asks of a node, as upstream's `computePodResourceRequest`:
/// the larger of its containers' sum (with restartable init containers,
/// which keep running) and each init container's own peak, plus the pod's
/// overhead.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else { return Resources::new() };
    let mut total = Resources::new();
    for c in &spec.containers {
        add(&mut total, &requests(c));
    }
    let mut sidecars = Resources::new();
    for c in spec.init_containers.iter().flatten() {
        let r = requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            add(&mut sidecars, &r);
            add(&mut total, &r);
        } else {
            let mut peak = sidecars.clone();
            add(&mut peak, &r);
            for (k, v) in peak {
                let e = total.entry(k).or_default();
                *e = (*e).max(v);
            }
        }
    }
    add(&mut total, &of_map(spec.overhead.as_ref()));
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(milli("100m"), Some(100));
        assert_eq!(milli("0.5"), Some(500));
        assert_eq!(milli("2"), Some(2000));
        assert_eq!(milli("128Mi"), Some(128 * 1024 * 1024 * 1000));
        assert_eq!(milli("1G"), Some(1_000_000_000_000));
        assert_eq!(milli("1e3"), Some(1_000_000));
        assert_eq!(milli("1.5Gi"), Some(1536 * 1024 * 1024 * 1000));
        assert_eq!(milli("1u"), Some(1));
        assert_eq!(milli("abc"), None);
        assert_eq!(milli("5X"), None);
    }
}
