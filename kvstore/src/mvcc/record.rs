//! One MVCC record as stored under its revision: the key-value pair after the
//! change, or a tombstone. A hand-written, versioned encoding: records are the
//! bulk of the data on disk, so they carry no field names.

use super::Revision;

const FORMAT_V1: u8 = 1;
const FLAG_TOMBSTONE: u8 = 1;

/// A key's state written at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub key: Vec<u8>,
    pub create_revision: i64,
    pub version: i64,
    pub lease: i64,
    pub value: Vec<u8>,
    pub tombstone: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("corrupt MVCC record at revision {main}.{sub}: {what}")]
pub struct RecordError {
    pub main: i64,
    pub sub: i64,
    pub what: &'static str,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 4 + self.key.len() + 24 + self.value.len());
        out.push(FORMAT_V1);
        out.push(if self.tombstone { FLAG_TOMBSTONE } else { 0 });
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.create_revision.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.lease.to_le_bytes());
        out.extend_from_slice(&self.value);
        out
    }

    pub fn decode(rev: Revision, bytes: &[u8]) -> Result<Self, RecordError> {
        let err = |what| RecordError { main: rev.main, sub: rev.sub, what };
        let (&format, rest) = bytes.split_first().ok_or_else(|| err("empty"))?;
        if format != FORMAT_V1 {
            return Err(err("unknown record format"));
        }
        let (&flags, rest) = rest.split_first().ok_or_else(|| err("no flags"))?;
        let (len, rest) = rest.split_at_checked(4).ok_or_else(|| err("no key length"))?;
        let key_len = u32::from_le_bytes(len.try_into().map_err(|_| err("key length"))?) as usize;
        let (key, rest) = rest.split_at_checked(key_len).ok_or_else(|| err("key truncated"))?;
        let (nums, value) = rest.split_at_checked(24).ok_or_else(|| err("header truncated"))?;
        let num = |i: usize| i64::from_le_bytes(nums[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        Ok(Record {
            key: key.to_vec(),
            create_revision: num(0),
            version: num(1),
            lease: num(2),
            value: value.to_vec(),
            tombstone: flags & FLAG_TOMBSTONE != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let rec = Record {
            key: b"/a".to_vec(),
            create_revision: 3,
            version: 2,
            lease: 7,
            value: b"v".to_vec(),
            tombstone: false,
        };
        let rev = Revision::new(4, 0);
        assert_eq!(Record::decode(rev, &rec.encode()).expect("decodes"), rec);
        let tomb = Record { key: b"/a".to_vec(), tombstone: true, ..Default::default() };
        assert_eq!(Record::decode(rev, &tomb.encode()).expect("decodes"), tomb);
        let bytes = rec.encode();
        for cut in [0, 1, 3, 7, 20] {
            assert!(Record::decode(rev, &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = bytes.clone();
        bad[0] = 9;
        assert!(Record::decode(rev, &bad).unwrap_err().to_string().contains("4.0"));
    }
}
