//! Address allocation from the node's pod subnet, kept as files so that it survives
//! restarts of the plugin, containerd and bramble: under `<dataDir>/<network>/`, one
//! file per allocated address named by the address and holding `<containerID>\n<ifname>`,
//! a `last_reserved_ip` hint so a released address is not handed out again at once,
//! and a `lock` file whose flock serialises the plugin processes of one network.
//!
//! Nothing here is fsynced. Allocations only need to outlive processes, not the
//! machine: after a power cut every pod's network namespace (in /run, a tmpfs) is
//! gone too, so a lost allocation file can only belong to a pod that no longer
//! exists. Sparing the fsyncs spares the SD card one flush per pod start.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use rustix::fs::FlockOperation;

use crate::error::CniError;

const LOCK_FILE: &str = "lock";
const LAST_RESERVED: &str = "last_reserved_ip";

/// The allocations of one network.
#[derive(Debug, Clone)]
pub struct Pool {
    dir: PathBuf,
    network: String,
    subnet: Ipv4Net,
}

/// Proof that this process holds the pool's lock; released on drop (closing the file).
#[derive(Debug)]
pub struct PoolLock {
    _file: File,
}

/// Who holds an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub container_id: String,
    pub ifname: String,
}

impl Pool {
    pub fn new(data_dir: &Path, network: &str, subnet: Ipv4Net) -> Self {
        Self { dir: data_dir.join(network), network: network.to_owned(), subnet }
    }

    /// The gateway: the subnet's first address, never allocated to a pod.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.subnet.network()) + 1)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the network's lock, waiting for another plugin process that holds it.
    pub fn lock(&self) -> Result<PoolLock, CniError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| CniError::io(format!("cannot create {}", self.dir.display()), e))?;
        let path = self.dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CniError::io(format!("cannot open {}", path.display()), e))?;
        rustix::fs::flock(&file, FlockOperation::LockExclusive)
            .map_err(|e| CniError::io(format!("cannot lock {}", path.display()), e.into()))?;
        Ok(PoolLock { _file: file })
    }

    /// The address held by this attachment, or a new one. The file is created with
    /// O_EXCL, so two processes never take the same address even without the lock.
    pub fn allocate(&self, _lock: &PoolLock, holder: &Holder) -> Result<Ipv4Addr, CniError> {
        if let Some(ip) = self.find(holder)? {
            return Ok(ip);
        }
        let first = u32::from(self.subnet.network()) + 2;
        let last = u32::from(self.subnet.broadcast()) - 1;
        let start = self
            .last_reserved()
            .map(u32::from)
            .filter(|ip| (first..=last).contains(ip))
            .map_or(first, |ip| if ip == last { first } else { ip + 1 });
        let candidates = (start..=last).chain(first..start);
        for candidate in candidates {
            let ip = Ipv4Addr::from(candidate);
            let path = self.dir.join(ip.to_string());
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    let content = format!("{}\n{}", holder.container_id, holder.ifname);
                    if let Err(e) = file.write_all(content.as_bytes()) {
                        let _ = std::fs::remove_file(&path);
                        return Err(CniError::io(format!("cannot write {}", path.display()), e));
                    }
                    self.write_last_reserved(ip)?;
                    return Ok(ip);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(CniError::io(format!("cannot create {}", path.display()), e)),
            }
        }
        Err(CniError::RangeFull { network: self.network.clone(), subnet: self.subnet.to_string() })
    }

    /// Frees what this attachment holds; nothing held is not an error (DEL is idempotent).
    pub fn release(&self, _lock: &PoolLock, holder: &Holder) -> Result<Option<Ipv4Addr>, CniError> {
        let Some(ip) = self.find(holder)? else { return Ok(None) };
        let path = self.dir.join(ip.to_string());
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(Some(ip)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CniError::io(format!("cannot remove {}", path.display()), e)),
        }
    }

    /// Frees every allocation `keep` refuses (GC); returns what was freed.
    pub fn release_unless(
        &self,
        _lock: &PoolLock,
        keep: impl Fn(&Holder) -> bool,
    ) -> Result<Vec<(Ipv4Addr, Holder)>, CniError> {
        let mut freed = Vec::new();
        for (ip, holder) in self.allocations()? {
            if !keep(&holder) {
                let path = self.dir.join(ip.to_string());
                match std::fs::remove_file(&path) {
                    Ok(()) => freed.push((ip, holder)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(CniError::io(format!("cannot remove {}", path.display()), e)),
                }
            }
        }
        Ok(freed)
    }

    /// The address this attachment holds.
    pub fn find(&self, holder: &Holder) -> Result<Option<Ipv4Addr>, CniError> {
        Ok(self.allocations()?.into_iter().find(|(_, h)| h == holder).map(|(ip, _)| ip))
    }

    /// Every allocation on disk. A missing directory is an empty pool.
    pub fn allocations(&self) -> Result<Vec<(Ipv4Addr, Holder)>, CniError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CniError::io(format!("cannot read {}", self.dir.display()), e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CniError::io(format!("cannot read {}", self.dir.display()), e))?;
            let Some(ip) = entry.file_name().to_str().and_then(|n| n.parse::<Ipv4Addr>().ok()) else { continue };
            let text = match std::fs::read_to_string(entry.path()) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CniError::io(format!("cannot read {}", entry.path().display()), e)),
            };
            let mut lines = text.lines().map(str::trim);
            let container_id = lines.next().unwrap_or_default().to_owned();
            let ifname = lines.next().unwrap_or_default().to_owned();
            found.push((ip, Holder { container_id, ifname }));
        }
        found.sort_by_key(|(ip, _)| *ip);
        Ok(found)
    }

    /// A torn or missing hint only means the search starts at the beginning.
    fn last_reserved(&self) -> Option<Ipv4Addr> {
        std::fs::read_to_string(self.dir.join(LAST_RESERVED)).ok()?.trim().parse().ok()
    }

    fn write_last_reserved(&self, ip: Ipv4Addr) -> Result<(), CniError> {
        let path = self.dir.join(LAST_RESERVED);
        std::fs::write(&path, ip.to_string()).map_err(|e| CniError::io(format!("cannot write {}", path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(id: &str) -> Holder {
        Holder { container_id: id.to_owned(), ifname: "eth0".to_owned() }
    }

    #[test]
    fn allocates_skipping_network_gateway_and_broadcast_until_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = Pool::new(dir.path(), "net", "10.9.0.0/29".parse().expect("net"));
        assert_eq!(pool.gateway(), Ipv4Addr::new(10, 9, 0, 1));
        let lock = pool.lock().expect("lock");
        let got: Vec<Ipv4Addr> =
            (0..5).map(|i| pool.allocate(&lock, &holder(&format!("c{i}"))).expect("free address")).collect();
        let want: Vec<Ipv4Addr> = (2..=6).map(|i| Ipv4Addr::new(10, 9, 0, i)).collect();
        assert_eq!(got, want);
        let full = pool.allocate(&lock, &holder("c5")).expect_err("full");
        assert_eq!(full.code(), crate::error::CODE_RANGE_FULL);
        assert_eq!(full.to_string(), "no free address left in 10.9.0.0/29 for network net");
        let text = std::fs::read_to_string(dir.path().join("net/10.9.0.4")).expect("file");
        assert_eq!(text, "c2\neth0");
    }

    #[test]
    fn same_attachment_gets_same_address_and_released_ones_wait_their_turn() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pool = Pool::new(dir.path(), "net", "10.9.0.0/24".parse().expect("net"));
        let lock = pool.lock().expect("lock");
        let a = pool.allocate(&lock, &holder("a")).expect("a");
        assert_eq!(pool.allocate(&lock, &holder("a")).expect("again"), a);
        let b = pool.allocate(&lock, &holder("b")).expect("b");
        assert_eq!(pool.release(&lock, &holder("a")).expect("release"), Some(a));
        assert_eq!(pool.release(&lock, &holder("a")).expect("twice"), None);
        let c = pool.allocate(&lock, &holder("c")).expect("c");
        assert!(c > b, "{c} reuses a released address too soon");
        drop(lock);

        // A second "process": a new pool over the same files sees the same state.
        let again = Pool::new(dir.path(), "net", "10.9.0.0/24".parse().expect("net"));
        let lock = again.lock().expect("lock");
        assert_eq!(again.find(&holder("b")).expect("find"), Some(b));
        assert_eq!(again.find(&holder("a")).expect("find"), None);
        let freed = again.release_unless(&lock, |h| h.container_id == "c").expect("gc");
        assert_eq!(freed, vec![(b, holder("b"))]);
        assert_eq!(again.allocations().expect("list"), vec![(c, holder("c"))]);
    }

    #[test]
    fn concurrent_allocations_never_share_an_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_owned();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let pool = Pool::new(&path, "net", "10.9.0.0/24".parse().expect("net"));
                    (0..10)
                        .map(|i| {
                            let lock = pool.lock().expect("lock");
                            pool.allocate(&lock, &holder(&format!("t{t}-{i}"))).expect("address")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Ipv4Addr> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
        all.sort();
        let before = all.len();
        all.dedup();
        assert_eq!(all.len(), before);
        assert_eq!(before, 80);
    }
}
