//! Revisions: etcd's (main, sub) pair. `main` counts write transactions, `sub`
//! orders the changes inside one. Encoded big-endian so engine order is
//! revision order.

/// A point in the store's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

impl Revision {
    pub const ENCODED_LEN: usize = 16;

    pub fn new(main: i64, sub: i64) -> Self {
        Self { main, sub }
    }

    pub fn encode(self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&(self.main as u64).to_be_bytes());
        out[8..].copy_from_slice(&(self.sub as u64).to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        let main = u64::from_be_bytes(bytes[..8].try_into().ok()?) as i64;
        let sub = u64::from_be_bytes(bytes[8..].try_into().ok()?) as i64;
        Some(Self { main, sub })
    }

    /// The first encoded key of revision `main`.
    pub fn start_of(main: i64) -> [u8; Self::ENCODED_LEN] {
        Self::new(main, 0).encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_preserves_order() {
        let revs = [Revision::new(1, 0), Revision::new(1, 1), Revision::new(2, 0), Revision::new(256, 3)];
        for pair in revs.windows(2) {
            assert!(pair[0].encode() < pair[1].encode());
            assert_eq!(Revision::decode(&pair[1].encode()), Some(pair[1]));
        }
        assert_eq!(Revision::decode(&[1, 2, 3]), None);
    }
}
