//! The in-memory key index: for every key, the revisions at which it changed.
//! Values stay on disk; the index answers "which revision of which key is live
//! at revision R" and "how many keys are live in a range" without disk reads.

use std::collections::BTreeMap;

use super::{KeyRange, Revision};

/// One key's changes in revision order; `true` marks a tombstone (delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    changes: Vec<(Revision, bool)>,
}

impl History {
    /// The revision holding the key's value at `main`, if the key is live then.
    pub fn live_at(&self, main: i64) -> Option<Revision> {
        let idx = self.changes.partition_point(|(r, _)| r.main <= main);
        match idx.checked_sub(1).map(|i| self.changes[i]) {
            Some((rev, false)) => Some(rev),
            _ => None,
        }
    }

    /// The revision holding the key's value just before `rev`, for prev_kv.
    pub fn live_before(&self, rev: Revision) -> Option<Revision> {
        let idx = self.changes.partition_point(|(r, _)| *r < rev);
        match idx.checked_sub(1).map(|i| self.changes[i]) {
            Some((prev, false)) => Some(prev),
            _ => None,
        }
    }

    pub fn contains(&self, rev: Revision) -> bool {
        self.changes.binary_search_by(|(r, _)| r.cmp(&rev)).is_ok()
    }

    pub fn latest(&self) -> Option<(Revision, bool)> {
        self.changes.last().copied()
    }

    /// Forgets every change that no read at or after `at` can see. Returns
    /// `true` when nothing is left.
    fn compact(&mut self, at: i64) -> bool {
        let idx = self.changes.partition_point(|(r, _)| r.main <= at);
        if let Some(last) = idx.checked_sub(1) {
            let keep_from = if self.changes[last].1 { last + 1 } else { last };
            self.changes.drain(..keep_from);
        }
        self.changes.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct KeyIndex {
    keys: BTreeMap<Vec<u8>, History>,
}

impl KeyIndex {
    pub fn record(&mut self, key: &[u8], rev: Revision, tombstone: bool) {
        match self.keys.get_mut(key) {
            Some(h) => h.changes.push((rev, tombstone)),
            None => {
                self.keys.insert(key.to_vec(), History { changes: vec![(rev, tombstone)] });
            }
        }
    }

    pub fn history(&self, key: &[u8]) -> Option<&History> {
        self.keys.get(key)
    }

    /// Live keys of `range` at `main`, in key order, with the revision that
    /// holds each one's value.
    pub fn live_in(&self, range: &KeyRange, main: i64) -> impl Iterator<Item = (&[u8], Revision)> {
        let iter = range.bounds().map(|b| self.keys.range::<[u8], _>(b));
        iter.into_iter().flatten().filter_map(move |(k, h)| h.live_at(main).map(|r| (k.as_slice(), r)))
    }

    pub fn count_live(&self, range: &KeyRange, main: i64) -> usize {
        self.live_in(range, main).count()
    }

    /// Compacts every key's history at `at`.
    pub fn compact(&mut self, at: i64) {
        self.keys.retain(|_, h| !h.compact(at));
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    #[test]
    fn history_reads_and_compaction() {
        let mut idx = KeyIndex::default();
        idx.record(b"k", rev(2), false);
        idx.record(b"k", rev(4), false);
        idx.record(b"k", rev(6), true);
        idx.record(b"k", rev(8), false);
        let h = idx.history(b"k").expect("key recorded");
        let cases = [(1, None), (2, Some(2)), (3, Some(2)), (5, Some(4)), (6, None), (7, None), (9, Some(8))];
        for (at, want) in cases {
            assert_eq!(h.live_at(at), want.map(rev), "live_at({at})");
        }
        assert_eq!(h.live_before(rev(4)), Some(rev(2)));
        assert_eq!(h.live_before(rev(8)), None, "a re-create has no prev after a tombstone");

        let mut c = h.clone();
        assert!(!c.compact(5));
        assert_eq!(c.live_at(5), Some(rev(4)), "the value live at the compaction point survives");
        assert!(!c.compact(7));
        assert_eq!(c.changes, vec![(rev(8), false)], "a tombstone at the compaction point is dropped");

        idx.record(b"gone", rev(3), false);
        idx.record(b"gone", rev(5), true);
        idx.compact(5);
        assert!(idx.history(b"gone").is_none());
        assert_eq!(idx.count_live(&KeyRange::From(vec![0]), 9), 1);
    }
}
