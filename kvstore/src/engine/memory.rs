//! An in-memory engine for unit tests: the same contract as RocksDB, with
//! `sync` a no-op. Not used by the server.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

use super::{Durability, Engine, EngineError, Table, WriteBatch, WriteOp};

#[derive(Debug, Default)]
pub struct MemoryEngine {
    tables: RwLock<BTreeMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>>,
}

impl MemoryEngine {
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned() -> EngineError {
    EngineError::Io("memory engine lock poisoned".into())
}

impl Engine for MemoryEngine {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let tables = self.tables.read().map_err(|_| poisoned())?;
        Ok(tables.get(&table).and_then(|t| t.get(key).cloned()))
    }

    fn write(&self, batch: WriteBatch, _durability: Durability) -> Result<(), EngineError> {
        let mut tables = self.tables.write().map_err(|_| poisoned())?;
        for op in batch.ops {
            match op {
                WriteOp::Put { table, key, value } => {
                    tables.entry(table).or_default().insert(key, value);
                }
                WriteOp::Delete { table, key } => {
                    tables.entry(table).or_default().remove(&key);
                }
                WriteOp::DeleteRange { table, from, to } => {
                    let t = tables.entry(table).or_default();
                    let doomed: Vec<Vec<u8>> = t
                        .range::<[u8], _>((Bound::Included(&from[..]), Bound::Excluded(&to[..])))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in doomed {
                        t.remove(&k);
                    }
                }
            }
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), EngineError> {
        Ok(())
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let tables = self.tables.read().map_err(|_| poisoned())?;
        let Some(t) = tables.get(&table) else { return Ok(()) };
        let upper = match to {
            Some(to) => Bound::Excluded(to),
            None => Bound::Unbounded,
        };
        for (k, v) in t.range::<[u8], _>((Bound::Included(from), upper)) {
            if !visit(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn last(&self, table: Table) -> Result<Option<(Vec<u8>, Vec<u8>)>, EngineError> {
        let tables = self.tables.read().map_err(|_| poisoned())?;
        Ok(tables.get(&table).and_then(|t| t.iter().next_back().map(|(k, v)| (k.clone(), v.clone()))))
    }

    fn size_bytes(&self) -> u64 {
        let Ok(tables) = self.tables.read() else { return 0 };
        tables.values().flat_map(|t| t.iter()).map(|(k, v)| (k.len() + v.len()) as u64).sum()
    }

    fn reclaim_space(&self) -> Result<(), EngineError> {
        Ok(())
    }
}
