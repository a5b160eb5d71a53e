//! The RocksDB engine: one column family per [`Table`], sized for a Raspberry
//! Pi (small memtables and block cache, no periodic statistics written to disk).

use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType, Direction, IteratorMode,
    Options, ReadOptions, WriteOptions,
};

use super::{Durability, Engine, EngineError, Table, WriteBatch, WriteOp};

/// Memory the engine may use for reading: one LRU cache shared by all tables.
const BLOCK_CACHE_BYTES: usize = 8 << 20;
/// Memtable size per table; two of them at most per table.
const WRITE_BUFFER_BYTES: usize = 4 << 20;

pub struct RocksEngine {
    db: DB,
    path: PathBuf,
}

impl std::fmt::Debug for RocksEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksEngine").field("path", &self.path).finish()
    }
}

fn io(e: rocksdb::Error) -> EngineError {
    EngineError::Io(e.into_string())
}

impl RocksEngine {
    /// Opens the store at `path`, creating it when the directory is absent or
    /// empty. A directory with other content is refused, never overwritten.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let fresh = match std::fs::read_dir(path) {
            Ok(mut entries) => entries.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                return Err(EngineError::Open { path: path.to_owned(), reason: e.to_string() });
            }
        };
        if !fresh && !path.join("CURRENT").exists() {
            return Err(EngineError::Foreign {
                path: path.to_owned(),
                reason: "the directory is not empty and holds no RocksDB database".into(),
            });
        }
        if fresh {
            std::fs::create_dir_all(path)
                .map_err(|e| EngineError::Open { path: path.to_owned(), reason: e.to_string() })?;
        }

        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let mut table_opts = BlockBasedOptions::default();
        table_opts.set_block_cache(&cache);
        table_opts.set_bloom_filter(10.0, false);
        table_opts.set_cache_index_and_filter_blocks(true);

        let cf_opts = || {
            let mut o = Options::default();
            o.set_block_based_table_factory(&table_opts);
            o.set_write_buffer_size(WRITE_BUFFER_BYTES);
            o.set_max_write_buffer_number(2);
            o.set_compression_type(DBCompressionType::Lz4);
            o.set_bottommost_compression_type(DBCompressionType::Zstd);
            o
        };

        let mut db_opts = cf_opts();
        db_opts.create_if_missing(fresh);
        db_opts.create_missing_column_families(fresh);
        db_opts.set_max_background_jobs(2);
        // The WAL is freed only once every table has flushed what it holds.
        // The meta table takes a few small writes per log entry and rarely
        // fills its memtable, so this bound is what flushes it.
        db_opts.set_max_total_wal_size(16 << 20);
        db_opts.set_keep_log_file_num(2);
        db_opts.set_max_log_file_size(1 << 20);
        db_opts.set_stats_dump_period_sec(0);
        db_opts.set_stats_persist_period_sec(0);
        db_opts.set_paranoid_checks(true);

        let cfs = Table::ALL.iter().map(|t| ColumnFamilyDescriptor::new(t.name(), cf_opts()));
        let db = DB::open_cf_descriptors(&db_opts, path, cfs).map_err(|e| {
            let reason = e.into_string();
            if reason.contains("Column families not opened")
                || reason.contains("Invalid argument: Column family not found")
            {
                EngineError::Foreign {
                    path: path.to_owned(),
                    reason: format!("a RocksDB database of another program ({reason})"),
                }
            } else {
                EngineError::Open { path: path.to_owned(), reason }
            }
        })?;
        Ok(Self { db, path: path.to_owned() })
    }

    fn cf(&self, table: Table) -> Result<&ColumnFamily, EngineError> {
        self.db
            .cf_handle(table.name())
            .ok_or_else(|| EngineError::Io(format!("column family {} missing", table.name())))
    }
}

impl Engine for RocksEngine {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        self.db.get_cf(self.cf(table)?, key).map_err(io)
    }

    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), EngineError> {
        let mut wb = rocksdb::WriteBatch::default();
        for op in &batch.ops {
            match op {
                WriteOp::Put { table, key, value } => wb.put_cf(self.cf(*table)?, key, value),
                WriteOp::Delete { table, key } => wb.delete_cf(self.cf(*table)?, key),
                WriteOp::DeleteRange { table, from, to } => wb.delete_range_cf(self.cf(*table)?, from, to),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(durability == Durability::Synced);
        self.db.write_opt(wb, &wo).map_err(io)
    }

    fn sync(&self) -> Result<(), EngineError> {
        self.db.flush_wal(true).map_err(io)
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let mut ro = ReadOptions::default();
        if let Some(to) = to {
            ro.set_iterate_upper_bound(to.to_vec());
        }
        // Scans are one-off reads of history: keep them out of the cache.
        ro.fill_cache(false);
        let iter = self.db.iterator_cf_opt(self.cf(table)?, ro, IteratorMode::From(from, Direction::Forward));
        for item in iter {
            let (k, v) = item.map_err(io)?;
            if !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    fn last(&self, table: Table) -> Result<Option<(Vec<u8>, Vec<u8>)>, EngineError> {
        let mut iter = self.db.iterator_cf(self.cf(table)?, IteratorMode::End);
        match iter.next() {
            Some(item) => {
                let (k, v) = item.map_err(io)?;
                Ok(Some((k.to_vec(), v.to_vec())))
            }
            None => Ok(None),
        }
    }

    fn size_bytes(&self) -> u64 {
        dir_size(&self.path)
    }

    fn reclaim_space(&self) -> Result<(), EngineError> {
        for table in Table::ALL {
            self.db.compact_range_cf(self.cf(table)?, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
