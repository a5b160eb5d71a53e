//! `--kubelet-arg key=value`, as k3s passes them to its kubelet: the keys
//! bramble's kubelet knows (eviction thresholds, image garbage collection,
//! max pods). Any other key is refused at start with the list of known ones,
//! rather than accepted and silently ignored.

use std::time::Duration;

use crate::eviction::{ThresholdError, Thresholds};

/// When the kubelet deletes unused images: above `high_percent` of the image
/// filesystem used, the least recently used images older than `minimum_age`
/// go until `low_percent` is reached. The kubelet's defaults (k3s keeps them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageGcPolicy {
    pub high_percent: u8,
    pub low_percent: u8,
    pub minimum_age: Duration,
}

impl Default for ImageGcPolicy {
    fn default() -> Self {
        ImageGcPolicy { high_percent: 85, low_percent: 80, minimum_age: Duration::from_secs(120) }
    }
}

/// The kubelet settings that `--kubelet-arg` may change.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeletArgs {
    pub thresholds: Thresholds,
    pub image_gc: ImageGcPolicy,
    pub max_pods: u32,
}

impl Default for KubeletArgs {
    fn default() -> Self {
        KubeletArgs { thresholds: Thresholds::default(), image_gc: ImageGcPolicy::default(), max_pods: 110 }
    }
}

const KNOWN: &str = "eviction-hard, eviction-minimum-reclaim, image-gc-high-threshold, image-gc-low-threshold, image-minimum-gc-age, max-pods";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeletArgError {
    #[error("--kubelet-arg {0:?}: expected key=value")]
    Syntax(String),
    #[error("--kubelet-arg {key}: bramble's kubelet does not have this setting (it has {KNOWN})")]
    Unknown { key: String },
    #[error("--kubelet-arg {key}={value}: {reason}")]
    Value { key: String, value: String, reason: String },
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
}

impl KubeletArgs {
    /// Parses `key=value` entries (a leading `--` is allowed); a later entry of a key wins.
    pub fn parse(entries: &[String]) -> Result<KubeletArgs, KubeletArgError> {
        let mut hard = None;
        let mut reclaim = None;
        let mut args = KubeletArgs::default();
        for entry in entries {
            let (key, value) = entry
                .trim()
                .trim_start_matches("--")
                .split_once('=')
                .ok_or_else(|| KubeletArgError::Syntax(entry.clone()))?;
            let bad = |reason: &str| KubeletArgError::Value {
                key: key.to_string(),
                value: value.to_string(),
                reason: reason.to_string(),
            };
            match key {
                "eviction-hard" => hard = Some(value.to_string()),
                "eviction-minimum-reclaim" => reclaim = Some(value.to_string()),
                "image-gc-high-threshold" => {
                    args.image_gc.high_percent =
                        value.parse().ok().filter(|p| *p <= 100).ok_or_else(|| bad("a percentage, 0 to 100"))?
                }
                "image-gc-low-threshold" => {
                    args.image_gc.low_percent =
                        value.parse().ok().filter(|p| *p <= 100).ok_or_else(|| bad("a percentage, 0 to 100"))?
                }
                "image-minimum-gc-age" => {
                    args.image_gc.minimum_age = parse_duration(value).ok_or_else(|| bad("a duration such as 2m"))?
                }
                "max-pods" => {
                    args.max_pods = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| bad("a positive number"))?
                }
                _ => return Err(KubeletArgError::Unknown { key: key.to_string() }),
            }
        }
        if args.image_gc.low_percent > args.image_gc.high_percent {
            return Err(KubeletArgError::Value {
                key: "image-gc-low-threshold".into(),
                value: args.image_gc.low_percent.to_string(),
                reason: format!("must not exceed image-gc-high-threshold ({})", args.image_gc.high_percent),
            });
        }
        args.thresholds = Thresholds::parse(hard.as_deref(), reclaim.as_deref())?;
        Ok(args)
    }
}

/// A Go duration of whole units: `90s`, `2m`, `1h30m`.
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut number = String::new();
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        any = true;
    }
    (any && number.is_empty()).then(|| Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eviction::Signal;

    fn parse(entries: &[&str]) -> Result<KubeletArgs, KubeletArgError> {
        KubeletArgs::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn nothing_given_is_k3s() {
        assert_eq!(parse(&[]).unwrap(), KubeletArgs::default());
        assert_eq!(KubeletArgs::default().image_gc.high_percent, 85);
    }

    #[test]
    fn known_keys_are_taken() {
        let args = parse(&[
            "eviction-hard=memory.available<200Mi",
            "--image-gc-high-threshold=90",
            "image-gc-low-threshold=70",
            "image-minimum-gc-age=1h30m",
            "max-pods=250",
        ])
        .unwrap();
        assert_eq!(args.thresholds.list.len(), 1);
        assert_eq!(args.thresholds.list[0].signal, Signal::MemoryAvailable);
        assert_eq!(
            args.image_gc,
            ImageGcPolicy { high_percent: 90, low_percent: 70, minimum_age: Duration::from_secs(5400) }
        );
        assert_eq!(args.max_pods, 250);
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let err = |e: &[&str]| parse(e).unwrap_err().to_string();
        assert!(err(&["cgroup-driver=systemd"]).contains("does not have this setting"));
        assert!(err(&["max-pods"]).contains("expected key=value"));
        assert!(err(&["max-pods=0"]).contains("a positive number"));
        assert!(err(&["image-gc-high-threshold=101"]).contains("0 to 100"));
        assert!(err(&["image-gc-low-threshold=90"]).contains("must not exceed image-gc-high-threshold (85)"));
        assert!(err(&["image-minimum-gc-age=soon"]).contains("a duration"));
        assert!(err(&["eviction-hard=disk<1Gi"]).contains("\"disk<1Gi\""));
    }
}
