//! Image garbage collection, as the kubelet's: every five minutes, when the
//! image filesystem is more than `high_percent` used, the images no
//! container uses (a stopped container counts as a user), oldest last use
//! first, and none younger than `minimum_age`, are removed through CRI until
//! `low_percent` is reached. The eviction manager asks for every unused image
//! to go when the disk is starved. The sandbox image, images the runtime
//! pins, and the air-gap images imported at start are kept: a node without a
//! registry could not get them back.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use k8s_cri::v1 as cri;
use tokio::time::{Duration, Instant};

use crate::cri::Cri;
use crate::kubelet_args::ImageGcPolicy;

pub const PERIOD: Duration = Duration::from_secs(300);

/// What the collector knows of one image between passes.
#[derive(Debug, Clone, Copy)]
struct Record {
    first_detected: Instant,
    last_used: Instant,
}

/// An image the collector may consider, with what it needs to order it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub size: u64,
    pub first_detected: Instant,
    pub last_used: Instant,
}

/// Picks what to delete to free `bytes`: least recently used first, then
/// oldest detected; none detected after `newest`.
pub fn choose(mut candidates: Vec<Candidate>, bytes: u64, newest: Instant) -> Vec<Candidate> {
    candidates.retain(|c| c.first_detected <= newest);
    candidates.sort_by_key(|c| (c.last_used, c.first_detected));
    let mut freed = 0u64;
    let mut chosen = Vec::new();
    for c in candidates {
        if freed >= bytes {
            break;
        }
        freed = freed.saturating_add(c.size);
        chosen.push(c);
    }
    chosen
}

pub struct ImageGc {
    cri: Cri,
    policy: ImageGcPolicy,
    /// containerd's root: the image filesystem.
    imagefs: PathBuf,
    /// Names never collected (the sandbox image, the air-gap imports).
    pinned: HashSet<String>,
    records: HashMap<String, Record>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageGcError {
    #[error("CRI {call}: {status}")]
    Cri { call: &'static str, status: Box<tonic::Status> },
}

fn cri_error(call: &'static str) -> impl FnOnce(tonic::Status) -> ImageGcError {
    move |status| ImageGcError::Cri { call, status: Box::new(status) }
}

impl ImageGc {
    pub fn new(cri: Cri, policy: ImageGcPolicy, imagefs: PathBuf, pinned: impl IntoIterator<Item = String>) -> ImageGc {
        ImageGc { cri, policy, imagefs, pinned: pinned.into_iter().collect(), records: HashMap::new() }
    }

    fn is_pinned(&self, image: &cri::Image) -> bool {
        image.pinned
            || self.pinned.contains(&image.id)
            || image.repo_tags.iter().chain(&image.repo_digests).any(|name| self.pinned.contains(name))
    }

    /// Lists images and containers, updates first-detected and last-used
    /// times, and returns the images no container uses and nothing pins.
    async fn detect(&mut self, now: Instant) -> Result<Vec<Candidate>, ImageGcError> {
        let images = self
            .cri
            .images
            .clone()
            .list_images(cri::ListImagesRequest { filter: None })
            .await
            .map_err(cri_error("ListImages"))?
            .into_inner()
            .images;
        let containers = self
            .cri
            .runtime
            .clone()
            .list_containers(cri::ListContainersRequest { filter: None })
            .await
            .map_err(cri_error("ListContainers"))?
            .into_inner()
            .containers;
        // A container names its image by ID (image_ref), or by the name it was created with.
        let in_use: HashSet<&str> = containers
            .iter()
            .flat_map(|c| [c.image_ref.as_str()].into_iter().chain(c.image.as_ref().map(|i| i.image.as_str())))
            .collect();
        let ids: HashSet<&str> = images.iter().map(|i| i.id.as_str()).collect();
        self.records.retain(|id, _| ids.contains(id.as_str()));
        let mut candidates = Vec::new();
        for image in &images {
            let used = in_use.contains(image.id.as_str())
                || image.repo_tags.iter().chain(&image.repo_digests).any(|n| in_use.contains(n.as_str()));
            let record = self.records.entry(image.id.clone()).or_insert(Record { first_detected: now, last_used: now });
            if used {
                record.last_used = now;
                continue;
            }
            let record = *record;
            if self.is_pinned(image) {
                continue;
            }
            candidates.push(Candidate {
                id: image.id.clone(),
                size: image.size,
                first_detected: record.first_detected,
                last_used: record.last_used,
            });
        }
        Ok(candidates)
    }

    /// Removes unused images, least recently used first, until `bytes` are
    /// freed (by the images' sizes). Returns the bytes freed.
    pub async fn free(&mut self, bytes: u64) -> Result<u64, ImageGcError> {
        let now = Instant::now();
        let candidates = self.detect(now).await?;
        let newest = now.checked_sub(self.policy.minimum_age).unwrap_or(now);
        let mut freed = 0;
        for image in choose(candidates, bytes, newest) {
            let request = cri::RemoveImageRequest {
                image: Some(cri::ImageSpec { image: image.id.clone(), ..Default::default() }),
            };
            match self.cri.images.clone().remove_image(request).await {
                Ok(_) => {
                    tracing::info!(image = %image.id, size = image.size, "removed an unused image");
                    self.records.remove(&image.id);
                    freed += image.size;
                }
                Err(status) => tracing::warn!(image = %image.id, error = %status, "removing an unused image"),
            }
        }
        Ok(freed)
    }

    /// One periodic pass: frees down to `low_percent` when above `high_percent`.
    pub async fn collect(&mut self) -> Result<u64, ImageGcError> {
        let Ok(fs) = rustix::fs::statvfs(&self.imagefs) else {
            // Still record first-detected times, so that ages are right once it can be read.
            self.detect(Instant::now()).await?;
            return Ok(0);
        };
        let capacity = fs.f_blocks * fs.f_frsize;
        let used = capacity.saturating_sub(fs.f_bavail * fs.f_frsize);
        let to_free = bytes_to_free(capacity, used, self.policy);
        if to_free == 0 {
            self.detect(Instant::now()).await?;
            return Ok(0);
        }
        tracing::info!(
            used_percent = used * 100 / capacity.max(1),
            high = self.policy.high_percent,
            to_free,
            "image filesystem above the garbage collection threshold"
        );
        self.free(to_free).await
    }
}

/// What a periodic pass must free: nothing below `high_percent`, else down to `low_percent`.
pub fn bytes_to_free(capacity: u64, used: u64, policy: ImageGcPolicy) -> u64 {
    if capacity == 0 || policy.high_percent >= 100 {
        return 0;
    }
    if used * 100 < capacity * u64::from(policy.high_percent) {
        return 0;
    }
    used.saturating_sub(capacity * u64::from(policy.low_percent) / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    #[test]
    fn least_recently_used_go_first_until_enough_is_freed() {
        let base = Instant::now();
        let c = |id: &str, size, detected, used| Candidate {
            id: id.into(),
            size,
            first_detected: at(base, detected),
            last_used: at(base, used),
        };
        let all = vec![c("new", 10, 50, 50), c("stale", 10, 0, 5), c("older", 10, 0, 1), c("mid", 10, 0, 20)];
        let ids = |v: Vec<Candidate>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(choose(all.clone(), 15, at(base, 100))), ["older", "stale"]);
        assert_eq!(ids(choose(all.clone(), 1000, at(base, 100))), ["older", "stale", "mid", "new"]);
        // Too young to go, whatever is asked.
        assert_eq!(ids(choose(all.clone(), 1000, at(base, 30))), ["older", "stale", "mid"]);
        assert!(choose(all, 0, at(base, 100)).is_empty());
    }

    #[test]
    fn periodic_passes_free_from_high_to_low() {
        let policy = ImageGcPolicy::default();
        assert_eq!(bytes_to_free(1000, 849, policy), 0);
        assert_eq!(bytes_to_free(1000, 850, policy), 50);
        assert_eq!(bytes_to_free(1000, 990, policy), 190);
        assert_eq!(bytes_to_free(0, 0, policy), 0);
        assert_eq!(bytes_to_free(1000, 1000, ImageGcPolicy { high_percent: 100, ..policy }), 0);
    }
}
