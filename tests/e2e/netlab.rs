//! Nodes as network namespaces on one machine: each node gets a namespace
//! with a veth into a bridge of the test's own, an address on the bridge's
//! /24 and a default route through it, so that nodes reach each other and
//! the test process (kubectl) reaches them. Needs root.
//!
//! Processes enter a node with `nsenter --net`, not `ip netns exec`: the
//! latter also remounts /sys, which hides the cgroup mounts that runc needs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The namespaces, the bridge and the addresses of one test. Everything is
/// removed when dropped, processes left in the namespaces included.
#[derive(Debug)]
pub struct Lab {
    bridge: String,
    /// The third octet of the lab's 10.99.x.0/24.
    subnet: u32,
    namespaces: Vec<String>,
}

/// Runs a command that must succeed.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn quiet(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

impl Lab {
    /// A lab of `nodes` namespaces. Panics with a clear message when not root.
    pub fn new(nodes: usize) -> Lab {
        assert!(
            rustix_is_root(),
            "this test needs root (network namespaces, containerd): run the suite as root, as CI does"
        );
        let pid = std::process::id();
        // A /24 no other lab of this machine uses: the bridge name records it.
        let mut subnet = (pid + NEXT.fetch_add(1, Ordering::Relaxed) * 7) % 200 + 20;
        let bridge = loop {
            let name = format!("brlab{subnet}");
            if !Path::new("/sys/class/net").join(&name).exists()
                && quiet("ip", &["link", "add", &name, "type", "bridge"])
            {
                break name;
            }
            subnet = (subnet + 1) % 200 + 20;
        };
        let mut lab = Lab { bridge, subnet, namespaces: Vec::new() };
        sh("ip", &["addr", "add", &format!("{}/24", lab.host_ip()), "dev", &lab.bridge]);
        sh("ip", &["link", "set", &lab.bridge, "up"]);
        for i in 0..nodes {
            let ns = format!("lab{}n{i}", lab.subnet);
            let _ = quiet("ip", &["netns", "del", &ns]);
            sh("ip", &["netns", "add", &ns]);
            lab.namespaces.push(ns.clone());
            let (host_end, node_end) = (format!("lab{}h{i}", lab.subnet), format!("lab{}p{i}", lab.subnet));
            sh("ip", &["link", "add", &host_end, "type", "veth", "peer", "name", &node_end]);
            sh("ip", &["link", "set", &host_end, "master", &lab.bridge, "up"]);
            sh("ip", &["link", "set", &node_end, "netns", &ns]);
            let ip = lab.ip(i);
            for args in [
                vec!["link", "set", "lo", "up"],
                vec!["link", "set", &node_end, "name", "eth0"],
                vec!["addr", "add", &format!("{ip}/24"), "dev", "eth0"],
                vec!["link", "set", "eth0", "up"],
                vec!["route", "add", "default", "via", &lab.host_ip()],
            ] {
                let mut full = vec!["-n", ns.as_str()];
                full.extend(args);
                sh("ip", &full);
            }
        }
        lab
    }

    /// The test host's address on the lab bridge.
    pub fn host_ip(&self) -> String {
        format!("10.99.{}.1", self.subnet)
    }

    /// Node `i`'s address.
    pub fn ip(&self, i: usize) -> String {
        format!("10.99.{}.{}", self.subnet, i + 2)
    }

    /// Node `i`'s namespace name (under /run/netns).
    pub fn ns(&self, i: usize) -> &str {
        &self.namespaces[i]
    }

    /// A command that runs `program` inside node `i`'s namespace.
    pub fn command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.ns(i))).arg("--").arg(program);
        cmd
    }

    /// Starts `program args` in node `i`, its output appended to `log`.
    pub fn spawn(
        &self,
        i: usize,
        program: impl AsRef<std::ffi::OsStr>,
        args: &[std::ffi::OsString],
        log: &Path,
    ) -> Child {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open the log");
        let err = out.try_clone().expect("clone the log handle");
        self.command(i, program)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start a process in the lab")
    }

    /// Kills every process left in the lab's namespaces (containers, containerd, shims).
    pub fn kill_all(&self) {
        for ns in &self.namespaces {
            let pids = Command::new("ip").args(["netns", "pids", ns]).output().map(|o| o.stdout).unwrap_or_default();
            for pid in String::from_utf8_lossy(&pids).split_whitespace() {
                let _ = quiet("kill", &["-9", pid]);
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.kill_all();
        for ns in &self.namespaces {
            let _ = quiet("ip", &["netns", "del", ns]);
        }
        let _ = quiet("ip", &["link", "del", &self.bridge]);
    }
}

fn rustix_is_root() -> bool {
    // `id -u` keeps the test crate free of libc bindings.
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Mount points under `dir` (containerd's overlay and shm mounts, tmpfs
/// volumes), deepest first, so a test can unmount them before removing `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

/// Unmounts everything under `dir` (lazily), so its removal does not fail.
pub fn unmount_all(dir: &Path) {
    for mount in mounts_under(dir) {
        let _ = quiet("umount", &["-l", &mount.to_string_lossy()]);
    }
}
