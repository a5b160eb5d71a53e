//! Netlink requests inside a chosen network namespace. A netlink socket belongs to
//! the namespace of the thread that opens it, so each call runs on a thread of its
//! own that first `setns`es into the namespace (the process's other threads stay
//! where they are) and then drives one rtnetlink connection on a current-thread
//! runtime. Nothing here knows what the requests are.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};

use rustix::thread::LinkNameSpaceType;

use crate::error::CniError;

/// An opened network namespace file (`/run/netns/<name>`, `/proc/<pid>/ns/net`).
#[derive(Debug)]
pub struct Netns {
    path: PathBuf,
    file: File,
}

impl Netns {
    /// Opens the namespace; a path that does not exist is error code 3.
    pub fn open(path: &Path) -> Result<Self, CniError> {
        let file = File::open(path).map_err(|source| CniError::NoNetns { path: path.to_owned(), source })?;
        Ok(Self { path: path.to_owned(), file })
    }

    /// `None` when the namespace is gone, which DEL takes as "nothing to undo".
    pub fn open_if_exists(path: &Path) -> Result<Option<Self>, CniError> {
        match Self::open(path) {
            Ok(ns) => Ok(Some(ns)),
            Err(CniError::NoNetns { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Runs `work` with a netlink handle in `netns`, or in the caller's namespace for `None`.
pub fn with_netlink<T, F, Fut>(netns: Option<&Netns>, work: F) -> Result<T, CniError>
where
    T: Send + 'static,
    F: FnOnce(rtnetlink::Handle) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, CniError>>,
{
    let target = netns
        .map(|ns| ns.file.try_clone().map_err(|e| CniError::io(format!("cannot reopen {}", ns.path.display()), e)))
        .transpose()?;
    let path = netns.map(|ns| ns.path.clone());
    let worker = std::thread::Builder::new()
        .name("netd-netns".to_owned())
        .spawn(move || {
            if let Some(file) = &target {
                rustix::thread::move_into_link_name_space(
                    std::os::fd::AsFd::as_fd(file),
                    Some(LinkNameSpaceType::Network),
                )
                .map_err(|e| {
                    let shown = path.as_deref().unwrap_or(Path::new("?")).display().to_string();
                    CniError::io(format!("cannot enter network namespace {shown}"), e.into())
                })?;
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .map_err(|e| CniError::io("cannot start a runtime for netlink", e))?;
            runtime.block_on(async move {
                let (connection, handle, _) =
                    rtnetlink::new_connection().map_err(|e| CniError::io("cannot open a netlink socket", e))?;
                let driver = tokio::spawn(connection);
                let result = work(handle).await;
                driver.abort();
                result
            })
        })
        .map_err(|e| CniError::io("cannot start a thread for netlink", e))?;
    worker.join().unwrap_or_else(|_| Err(CniError::io("the netlink thread failed", std::io::Error::other("panicked"))))
}
