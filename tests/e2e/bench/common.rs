//! What the benchmarks need: free ports, a process's resident set size,
//! percentiles and rates. Measuring only; no server is started here.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

/// A free TCP port on 127.0.0.1, released again before it is returned.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1");
    listener.local_addr().expect("local address of a bound socket").port()
}

/// Resident set size of a process, from `/proc/<pid>/status`.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("read /proc/{pid}/status"))?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).context("no VmRSS line in /proc/<pid>/status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmRSS line without a number")?
        .parse()
        .context("VmRSS is not a number")?;
    Ok(kib * 1024)
}

/// Nearest-rank percentile of a sorted sample, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], pct: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

pub fn p50_p99(mut sample: Vec<Duration>) -> (f64, f64) {
    sample.sort_unstable();
    (percentile_ms(&sample, 50.0), percentile_ms(&sample, 99.0))
}

pub fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// A single-member etcd serving `url` from `data_dir`, peers on a free loopback port.
pub fn etcd_command(program: &Path, data_dir: &Path, url: &str) -> Command {
    let peer = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = Command::new(program);
    cmd.args(["--name", "default", "--data-dir"])
        .arg(data_dir)
        .args(["--listen-client-urls", url, "--advertise-client-urls", url])
        .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
        .arg(format!("--initial-cluster=default={peer}"))
        .args(["--log-outputs", "stderr", "--logger", "zap"]);
    cmd
}
