//! The arithmetic of a rollout, on plain numbers, as upstream's deployment
//! controller does it: how far the new ReplicaSet may grow (maxSurge), how
//! far old ones may shrink (maxUnavailable), and how a scaling event in the
//! middle of a rollout is shared out between the ReplicaSets.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Resolves an IntOrString against `total`: a percentage rounds up for
/// maxSurge and down for maxUnavailable.
pub fn resolve(value: Option<&IntOrString>, total: i32, default_percent: i32, round_up: bool) -> i32 {
    let percent = match value {
        Some(IntOrString::Int(n)) => return (*n).max(0),
        Some(IntOrString::String(s)) => s.trim_end_matches('%').parse::<i32>().unwrap_or(default_percent),
        None => default_percent,
    };
    let scaled = i64::from(percent) * i64::from(total);
    let v = if round_up { (scaled + 99) / 100 } else { scaled / 100 };
    i32::try_from(v.max(0)).unwrap_or(i32::MAX)
}

/// maxSurge and maxUnavailable of a RollingUpdate for `replicas`; both zero
/// would stall, so maxUnavailable is then 1 (upstream's `ResolveFenceposts`).
pub fn fenceposts(max_surge: Option<&IntOrString>, max_unavailable: Option<&IntOrString>, replicas: i32) -> (i32, i32) {
    let surge = resolve(max_surge, replicas, 25, true);
    let unavailable = resolve(max_unavailable, replicas, 25, false);
    if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) }
}

/// The size the new ReplicaSet may have now: up to `replicas + surge` pods in all.
pub fn new_replicas(replicas: i32, surge: i32, all_pods: i32, new_current: i32) -> i32 {
    if new_current >= replicas {
        return replicas;
    }
    let max_total = replicas + surge;
    if all_pods >= max_total {
        return new_current;
    }
    let up = (max_total - all_pods).min(replicas - new_current);
    new_current + up
}

/// One old ReplicaSet as the scale-down sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Old {
    pub replicas: i32,
    pub available: i32,
}

/// How many pods each old ReplicaSet (oldest first) keeps, so that at least
/// `replicas - unavailable` pods stay available. Unhealthy pods go first,
/// then available ones down to the minimum.
pub fn scale_down_old(
    olds: &[Old],
    new_replicas: i32,
    new_available: i32,
    replicas: i32,
    unavailable: i32,
) -> Vec<i32> {
    let mut sizes: Vec<i32> = olds.iter().map(|o| o.replicas).collect();
    let old_total: i32 = sizes.iter().sum();
    if old_total == 0 {
        return sizes;
    }
    let all_pods = old_total + new_replicas;
    let min_available = replicas - unavailable;
    let new_unavailable = (new_replicas - new_available).max(0);
    let mut budget = all_pods - min_available - new_unavailable;
    if budget <= 0 {
        return sizes;
    }
    // Unhealthy pods of old sets first: they count for nothing.
    for (size, old) in sizes.iter_mut().zip(olds) {
        if budget == 0 {
            break;
        }
        let unhealthy = (*size - old.available).max(0);
        let cut = unhealthy.min(budget);
        *size -= cut;
        budget -= cut;
    }
    // Then available ones, as long as enough stay available.
    let available_total: i32 = olds.iter().zip(&sizes).map(|(o, s)| o.available.min(*s)).sum::<i32>() + new_available;
    let mut may_remove = (available_total - min_available).max(0).min(budget);
    for size in sizes.iter_mut() {
        if may_remove == 0 {
            break;
        }
        let cut = (*size).min(may_remove);
        *size -= cut;
        may_remove -= cut;
    }
    sizes
}

/// One active ReplicaSet in a proportional scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub replicas: i32,
    /// Its `max-replicas` annotation: the deployment's size plus surge when it was last scaled.
    pub max_replicas: Option<i32>,
}

/// Shares `replicas + surge - current total` between `sets`, given largest
/// (and for growth, newest) first, in proportion to their sizes; what
/// rounding leaves goes to the first. Returns the new sizes in the same order.
pub fn proportional(sets: &[Share], replicas: i32, surge: i32) -> Vec<i32> {
    let total: i32 = sets.iter().map(|s| s.replicas).sum();
    let allowed = replicas + surge;
    let to_add = allowed - total;
    let mut sizes: Vec<i32> = sets.iter().map(|s| s.replicas).collect();
    if to_add == 0 || sets.is_empty() {
        return sizes;
    }
    let mut added = 0;
    for (i, set) in sets.iter().enumerate() {
        let fraction = if replicas == 0 {
            -set.replicas
        } else {
            let annotated = set.max_replicas.filter(|m| *m > 0).unwrap_or(total.max(1));
            let size = (f64::from(set.replicas) * f64::from(allowed) / f64::from(annotated)).round() as i32;
            size - set.replicas
        };
        let step = if to_add > 0 { fraction.min(to_add - added) } else { fraction.max(to_add - added) };
        sizes[i] += step;
        added += step;
    }
    if added != to_add {
        sizes[0] += to_add - added;
    }
    for s in &mut sizes {
        *s = (*s).max(0);
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        assert_eq!(fenceposts(None, None, 10), (3, 2));
        assert_eq!(fenceposts(Some(&pct("50%")), Some(&IntOrString::Int(0)), 3), (2, 0));
        assert_eq!(fenceposts(Some(&IntOrString::Int(0)), Some(&IntOrString::Int(0)), 3), (0, 1));
        assert_eq!(fenceposts(None, None, 1), (1, 0));
    }

    #[test]
    fn the_new_set_grows_within_the_surge() {
        assert_eq!(new_replicas(3, 1, 3, 0), 1);
        assert_eq!(new_replicas(3, 1, 4, 1), 1);
        assert_eq!(new_replicas(3, 1, 3, 1), 2);
        assert_eq!(new_replicas(3, 1, 5, 4), 3);
        assert_eq!(new_replicas(10, 3, 10, 0), 3);
    }

    #[test]
    fn old_sets_shrink_keeping_the_minimum_available() {
        // 3 replicas, surge 1, unavailable 0: new has 1 (not yet available).
        assert_eq!(scale_down_old(&[Old { replicas: 3, available: 3 }], 1, 0, 3, 0), vec![3]);
        // The new pod became available: one old pod may go.
        assert_eq!(scale_down_old(&[Old { replicas: 3, available: 3 }], 1, 1, 3, 0), vec![2]);
        // Unhealthy old pods go first, within what may be scaled down at all
        // (4 pods, 2 must stay available, the new one is not yet: 1 may go).
        assert_eq!(scale_down_old(&[Old { replicas: 3, available: 1 }], 1, 0, 3, 1), vec![2]);
        assert_eq!(scale_down_old(&[Old { replicas: 3, available: 1 }], 1, 1, 3, 1), vec![1]);
        // Oldest first, across several old sets.
        let olds = [Old { replicas: 2, available: 2 }, Old { replicas: 2, available: 2 }];
        assert_eq!(scale_down_old(&olds, 2, 2, 4, 1), vec![0, 1]);
    }

    #[test]
    fn a_scale_mid_rollout_is_shared_in_proportion() {
        // Upstream's example: 10 replicas (surge 3) over sets of 8 and 5, scaled to 15 (surge 3 → allowed 18).
        let sets = [Share { replicas: 8, max_replicas: Some(13) }, Share { replicas: 5, max_replicas: Some(13) }];
        let sizes = proportional(&sets, 15, 3);
        assert_eq!(sizes.iter().sum::<i32>(), 18);
        assert_eq!(sizes, vec![11, 7]);
        // Down to zero.
        assert_eq!(proportional(&sets, 0, 0), vec![0, 0]);
    }
}
