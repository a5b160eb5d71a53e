//! `GET /containerLogs/{namespace}/{pod}/{container}`: a container's CRI
//! log file as text, with the kubelet's query parameters. With `follow`
//! the file is read as it grows (polled, no inotify), and when the
//! container is restarted the next attempt's file is followed; the stream
//! ends when the newest instance is no longer running and nothing newer
//! appears. Log rotation is not handled: containerd's files are not rotated
//! by anyone but the kubelet, and bramble does not rotate them.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::cri_log::{self, ByteBudget, LineJoiner, LogLine, LogOptions};
use super::lookup::{self, ContainerInstance};
use super::{Failure, State};

/// How often a followed file is checked for growth.
const POLL: Duration = Duration::from_millis(200);
/// How often, while a followed file does not grow, the runtime is asked whether the container still runs.
const STATUS_EVERY: u32 = 5;

/// Parses the query of `containerLogs`, as the kubelet does (`follow=true`, `tailLines=10`, ...).
pub fn parse_options(query: Option<&str>, now: SystemTime) -> Result<LogOptions, Failure> {
    let mut options = LogOptions::default();
    let flag = |v: &str| matches!(v, "true" | "1" | "True" | "TRUE" | "t" | "T");
    let number = |key: &str, v: &str| -> Result<i64, Failure> {
        v.parse::<i64>().map_err(|_| Failure::BadRequest(format!("invalid {key} {v:?}: must be an integer")))
    };
    for (key, value) in form_pairs(query.unwrap_or("")) {
        match key.as_str() {
            "follow" => options.follow = flag(&value),
            "previous" => options.previous = flag(&value),
            "timestamps" => options.timestamps = flag(&value),
            "tailLines" => {
                let n = number("tailLines", &value)?;
                // Negative means "all lines", as the kubelet reads it.
                options.tail_lines = u64::try_from(n).ok();
            }
            "limitBytes" => {
                let n = number("limitBytes", &value)?;
                if n < 1 {
                    return Err(Failure::BadRequest(format!("limitBytes must be greater than zero, got {n}")));
                }
                options.limit_bytes = u64::try_from(n).ok();
            }
            "sinceSeconds" => {
                let n = number("sinceSeconds", &value)?;
                if n < 1 {
                    return Err(Failure::BadRequest(format!("sinceSeconds must be greater than zero, got {n}")));
                }
                let now = now.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or_default();
                options.since_unix_nanos = Some(now - i128::from(n) * 1_000_000_000);
            }
            "sinceTime" => {
                let at = cri_log::parse_rfc3339_nanos(&value)
                    .ok_or_else(|| Failure::BadRequest(format!("invalid sinceTime {value:?}: not an RFC 3339 time")))?;
                options.since_unix_nanos = Some(at);
            }
            _ => {}
        }
    }
    Ok(options)
}

pub(crate) fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Which file to read first, and the instance it belongs to.
fn pick(
    state: &State,
    instances: &[ContainerInstance],
    namespace: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<(ContainerInstance, PathBuf), Failure> {
    let newest = instances.last().ok_or_else(|| {
        Failure::NotFound(format!("container {container:?} in pod {pod:?} is not known to the runtime"))
    })?;
    let chosen = if previous {
        let wanted = newest.attempt.checked_sub(1).ok_or_else(|| {
            Failure::BadRequest(format!("previous terminated container {container:?} in pod {pod:?} not found"))
        })?;
        instances.iter().rev().find(|c| c.attempt == wanted).cloned().unwrap_or(ContainerInstance {
            id: String::new(),
            attempt: wanted,
            running: false,
            ..newest.clone()
        })
    } else {
        newest.clone()
    };
    let path = state.paths.container_log(namespace, pod, &chosen.pod_uid, container, chosen.attempt);
    Ok((chosen, path))
}

/// Starts streaming the log; the receiver gets the body's chunks.
pub async fn stream(
    state: std::sync::Arc<State>,
    namespace: String,
    pod: String,
    container: String,
    options: LogOptions,
) -> Result<mpsc::Receiver<Bytes>, Failure> {
    let cri = state.cri().await?;
    let instances = lookup::container_instances(&cri, &namespace, &pod, &container).await.map_err(Failure::Runtime)?;
    let (mut instance, path) = pick(&state, &instances, &namespace, &pod, &container, options.previous)?;
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => {
            return Err(Failure::NotFound(format!("failed to open log file {:?}: {e}", path.display().to_string())));
        }
    };
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut budget = ByteBudget::new(options.limit_bytes);
        let mut joiner = LineJoiner::default();
        let mut existing = Vec::new();
        if let Err(e) = file.read_to_end(&mut existing).await {
            tracing::debug!(path = %path.display(), "reading a log file: {e}");
            return;
        }
        let mut lines = joiner.push(&existing);
        let follow = options.follow && !options.previous;
        if !follow {
            lines.extend(joiner.finish());
        }
        for line in cri_log::select(lines, &options) {
            if !send(&tx, &line, &options, &mut budget).await {
                return;
            }
        }
        if !follow {
            return;
        }
        let mut idle: u32 = 0;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut chunk).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(path = %path.display(), "following a log file: {e}");
                    return;
                }
            };
            if n > 0 {
                idle = 0;
                for line in joiner.push(&chunk[..n]) {
                    if options.since_unix_nanos.is_some_and(|since| line.unix_nanos < since) {
                        continue;
                    }
                    if !send(&tx, &line, &options, &mut budget).await {
                        return;
                    }
                }
                continue;
            }
            if tx.is_closed() {
                return;
            }
            idle += 1;
            if idle.is_multiple_of(STATUS_EVERY) {
                match next_instance(&state, &namespace, &pod, &container, &instance).await {
                    Next::Same => {}
                    Next::Gone => {
                        // One more read: the container may have written its last words meanwhile.
                        let mut rest = Vec::new();
                        let _ = file.read_to_end(&mut rest).await;
                        let mut lines = joiner.push(&rest);
                        lines.extend(joiner.finish());
                        for line in lines {
                            if !send(&tx, &line, &options, &mut budget).await {
                                return;
                            }
                        }
                        return;
                    }
                    Next::Newer(newer) => {
                        let next_path =
                            state.paths.container_log(&namespace, &pod, &newer.pod_uid, &container, newer.attempt);
                        if let Ok(next_file) = tokio::fs::File::open(&next_path).await {
                            let mut rest = Vec::new();
                            let _ = file.read_to_end(&mut rest).await;
                            let mut lines = joiner.push(&rest);
                            lines.extend(joiner.finish());
                            for line in lines {
                                if !send(&tx, &line, &options, &mut budget).await {
                                    return;
                                }
                            }
                            file = next_file;
                            instance = newer;
                        }
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(rx)
}

enum Next {
    /// The followed instance still runs (or may still write).
    Same,
    /// It stopped and no newer instance exists.
    Gone,
    /// A newer attempt exists: follow its file.
    Newer(ContainerInstance),
}

async fn next_instance(
    state: &State,
    namespace: &str,
    pod: &str,
    container: &str,
    current: &ContainerInstance,
) -> Next {
    let Ok(cri) = state.cri().await else { return Next::Same };
    let Ok(instances) = lookup::container_instances(&cri, namespace, pod, container).await else { return Next::Same };
    match instances.last() {
        Some(newest) if newest.attempt > current.attempt || newest.pod_uid != current.pod_uid => {
            Next::Newer(newest.clone())
        }
        Some(newest) if newest.id == current.id && newest.running => Next::Same,
        _ => Next::Gone,
    }
}

/// Sends one line within the byte budget; false when the stream is over
/// (the client went away or the budget is spent).
async fn send(tx: &mpsc::Sender<Bytes>, line: &LogLine, options: &LogOptions, budget: &mut ByteBudget) -> bool {
    if budget.exhausted() {
        return false;
    }
    let bytes = budget.take(cri_log::render(line, options.timestamps));
    if tx.send(Bytes::from(bytes)).await.is_err() {
        return false;
    }
    !budget.exhausted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let options = parse_options(Some("follow=true&tailLines=10&timestamps=1&limitBytes=500&sinceSeconds=10"), now)
            .expect("valid");
        assert_eq!(
            options,
            LogOptions {
                follow: true,
                previous: false,
                tail_lines: Some(10),
                since_unix_nanos: Some(990_000_000_000),
                timestamps: true,
                limit_bytes: Some(500),
            }
        );
        let options =
            parse_options(Some("previous=true&sinceTime=1970-01-01T00%3A00%3A05Z&tailLines=-1"), now).expect("valid");
        assert!(options.previous);
        assert_eq!(options.since_unix_nanos, Some(5_000_000_000));
        assert_eq!(options.tail_lines, None);
        for bad in ["tailLines=x", "limitBytes=0", "sinceSeconds=-1", "sinceTime=yesterday"] {
            assert!(matches!(parse_options(Some(bad), now), Err(Failure::BadRequest(_))), "{bad}");
        }
        assert_eq!(parse_options(None, now).expect("empty"), LogOptions::default());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%2Fd"), "a b c/d");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(
            form_pairs("command=sh&command=-c&command=echo+hi&tty"),
            [
                ("command".to_string(), "sh".to_string()),
                ("command".to_string(), "-c".to_string()),
                ("command".to_string(), "echo hi".to_string()),
                ("tty".to_string(), String::new()),
            ]
        );
    }
}
