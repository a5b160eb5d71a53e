//! Completion indexes of an Indexed Job: the set written as upstream writes
//! `status.completedIndexes` ("1,3-5,7"), and the index a pod carries.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

pub const ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

/// The index of `pod`, from its annotation (upstream reads the annotation,
/// the label being a copy); `None` when absent or outside `[0, completions)`.
pub fn of(pod: &Pod, completions: i32) -> Option<i32> {
    let value = pod.metadata.annotations.as_ref()?.get(ANNOTATION)?;
    let index: i32 = value.parse().ok()?;
    (0..completions).contains(&index).then_some(index)
}

/// Parses "1,3-5,7", keeping only indexes below `completions` and ignoring
/// malformed parts, as upstream's `parseIndexesFromString` does.
pub fn parse(text: Option<&str>, completions: i32) -> BTreeSet<i32> {
    let mut set = BTreeSet::new();
    for part in text.unwrap_or_default().split(',').filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        let (Ok(first), Ok(last)) = (first, last) else { continue };
        for i in first.max(0)..=last.min(completions - 1) {
            set.insert(i);
        }
    }
    set
}

/// Writes `set` with runs of consecutive indexes as ranges.
pub fn format(set: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last += 1;
            iter.next();
        }
        parts.push(if first == last { first.to_string() } else { format!("{first}-{last}") });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_and_clip_to_completions() {
        let set = parse(Some("0,2-4,6,x,9-12"), 10);
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), [0, 2, 3, 4, 6, 9]);
        assert_eq!(format(&set), "0,2-4,6,9");
        assert_eq!(format(&BTreeSet::new()), "");
        assert!(parse(None, 3).is_empty());
    }
}
