//! The backup format streamed by Maintenance.Snapshot: a magic line, then
//! every record of the store's tables as length-prefixed pairs, an end mark,
//! zero padding to a multiple of 512 bytes, then the SHA-256 of everything
//! before it as the last 32 bytes. etcd clients check that shape (a bbolt
//! file is whole pages plus the checksum). Restoring from it is not built yet.

use sha2::{Digest, Sha256};

use crate::engine::{Engine, EngineError, Table};

pub const MAGIC: &[u8] = b"BRAMBLE-SNAPSHOT/1\n";
/// Marks the end of the records; padding follows.
const END: u8 = 0xff;
const ALIGN: u64 = 512;

/// Writes the snapshot in chunks of about `chunk` bytes to `sink`, which
/// returns `false` when the reader went away.
pub fn write_snapshot(
    engine: &dyn Engine,
    chunk: usize,
    sink: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<bool, EngineError> {
    let mut hasher = Sha256::new();
    let mut buf = Vec::with_capacity(chunk + 1024);
    buf.extend_from_slice(MAGIC);
    let mut open = true;
    let mut total = 0u64;
    for table in [Table::Meta, Table::Kv, Table::Lease] {
        engine.scan(table, &[], None, &mut |k, v| {
            buf.push(table as u8);
            buf.extend_from_slice(&(k.len() as u32).to_le_bytes());
            buf.extend_from_slice(k);
            buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
            buf.extend_from_slice(v);
            if buf.len() >= chunk {
                hasher.update(&buf);
                total += buf.len() as u64;
                open = sink(std::mem::take(&mut buf));
            }
            open
        })?;
        if !open {
            return Ok(false);
        }
    }
    buf.push(END);
    let len = total + buf.len() as u64;
    buf.resize(buf.len() + (len.next_multiple_of(ALIGN) - len) as usize, 0);
    hasher.update(&buf);
    buf.extend_from_slice(&hasher.finalize());
    Ok(sink(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Durability, MemoryEngine, WriteBatch};

    #[test]
    fn trailer_is_the_sha256_of_the_body() {
        let engine = MemoryEngine::new();
        let mut batch = WriteBatch::default();
        for i in 0..100u32 {
            batch.put(Table::Kv, i.to_be_bytes(), vec![7u8; 100]);
        }
        engine.write(batch, Durability::Synced).expect("memory write");
        let mut out = Vec::new();
        let mut chunks = 0;
        let done = write_snapshot(&engine, 1000, &mut |c| {
            chunks += 1;
            out.extend(c);
            true
        })
        .expect("snapshot");
        assert!(done);
        assert!(chunks > 5);
        let (body, sum) = out.split_at(out.len() - 32);
        assert!(body.starts_with(MAGIC));
        assert_eq!(body.len() % 512, 0, "etcd clients expect whole 512-byte pages before the checksum");
        assert_eq!(Sha256::digest(body).as_slice(), sum);
    }
}
