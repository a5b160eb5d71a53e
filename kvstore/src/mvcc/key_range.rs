//! Key ranges as the etcd API spells them: a key alone, a key and a range end,
//! or `"\0"` as range end for "every key from here on".

use std::ops::Bound;

/// A set of keys named by a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    /// Exactly one key (empty range end).
    Single(Vec<u8>),
    /// Every key `>= start` (range end `"\0"`).
    From(Vec<u8>),
    /// Keys in `[start, end)`; empty when `end <= start`.
    Between(Vec<u8>, Vec<u8>),
}

impl KeyRange {
    /// The range of a Range, DeleteRange or Compare: `range_end` empty means
    /// `key` alone, `"\0"` means every key from `key`.
    pub fn from_etcd(key: &[u8], range_end: &[u8]) -> Self {
        match range_end {
            [] => KeyRange::Single(key.to_vec()),
            [0] => KeyRange::From(key.to_vec()),
            end => KeyRange::Between(key.to_vec(), end.to_vec()),
        }
    }

    /// The range of a watch: like [`Self::from_etcd`], but an empty key means
    /// the smallest key `"\0"`, as etcd does.
    pub fn for_watch(key: &[u8], range_end: &[u8]) -> Self {
        let key = if key.is_empty() { &[0u8][..] } else { key };
        Self::from_etcd(key, range_end)
    }

    pub fn contains(&self, k: &[u8]) -> bool {
        match self {
            KeyRange::Single(key) => k == key.as_slice(),
            KeyRange::From(start) => k >= start.as_slice(),
            KeyRange::Between(start, end) => k >= start.as_slice() && k < end.as_slice(),
        }
    }

    pub fn is_single(&self) -> bool {
        matches!(self, KeyRange::Single(_))
    }

    /// Bounds for an ordered map; `None` when the range is empty.
    pub fn bounds(&self) -> Option<(Bound<&[u8]>, Bound<&[u8]>)> {
        match self {
            KeyRange::Single(k) => Some((Bound::Included(k), Bound::Included(k))),
            KeyRange::From(s) => Some((Bound::Included(s), Bound::Unbounded)),
            KeyRange::Between(s, e) if s < e => Some((Bound::Included(s), Bound::Excluded(e))),
            KeyRange::Between(..) => None,
        }
    }

    /// Whether this range and `other` share at least one key.
    pub fn overlaps(&self, other: &KeyRange) -> bool {
        let lo = |r: &KeyRange| -> Vec<u8> {
            match r {
                KeyRange::Single(k) | KeyRange::From(k) | KeyRange::Between(k, _) => k.clone(),
            }
        };
        // Upper bound, exclusive; None = unbounded.
        let hi = |r: &KeyRange| -> Option<Vec<u8>> {
            match r {
                KeyRange::Single(k) => {
                    let mut e = k.clone();
                    e.push(0);
                    Some(e)
                }
                KeyRange::From(_) => None,
                KeyRange::Between(_, e) => Some(e.clone()),
            }
        };
        if self.bounds().is_none() || other.bounds().is_none() {
            return false;
        }
        let (a_lo, a_hi, b_lo, b_hi) = (lo(self), hi(self), lo(other), hi(other));
        let a_before_b_ends = b_hi.as_ref().is_none_or(|bh| &a_lo < bh);
        let b_before_a_ends = a_hi.as_ref().is_none_or(|ah| &b_lo < ah);
        a_before_b_ends && b_before_a_ends
    }
}

#[cfg(test)]
mod tests {
    use super::KeyRange::*;
    use super::*;

    #[test]
    fn etcd_spellings() {
        let cases: [(&[u8], &[u8], KeyRange); 3] = [
            (b"a", b"", Single(b"a".to_vec())),
            (b"a", b"\0", From(b"a".to_vec())),
            (b"a", b"c", Between(b"a".to_vec(), b"c".to_vec())),
        ];
        for (key, end, want) in cases {
            assert_eq!(KeyRange::from_etcd(key, end), want);
        }
        assert_eq!(KeyRange::for_watch(b"", b"\0"), From(vec![0]));
        assert!(Between(b"b".to_vec(), b"a".to_vec()).bounds().is_none());
    }

    #[test]
    fn overlap() {
        let r = |a: &[u8], b: &[u8]| KeyRange::from_etcd(a, b);
        assert!(r(b"a", b"").overlaps(&r(b"a", b"")));
        assert!(!r(b"a", b"").overlaps(&r(b"b", b"")));
        assert!(r(b"a", b"c").overlaps(&r(b"b", b"")));
        assert!(!r(b"a", b"c").overlaps(&r(b"c", b"")));
        assert!(r(b"a", b"\0").overlaps(&r(b"z", b"zz")));
        assert!(!r(b"b", b"\0").overlaps(&r(b"a", b"")));
    }
}
