//! A running `bramble server` (store and Kubernetes API) for kubectl-driven
//! tests, and kubectl itself: every version the machine ships, each with
//! its own discovery cache so that versions never share cached answers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Flavor, Store, free_port};

/// The kubectl versions every battery runs with (the issue asks for at least these).
pub const KUBECTL_VERSIONS: &[&str] = &["1.27", "1.30", "1.33"];

/// A `bramble server` process with its kubeconfig. Killed when dropped.
#[derive(Debug)]
pub struct Cluster {
    child: Option<Child>,
    pub port: u16,
    pub kubeconfig: PathBuf,
    /// The etcd v3 endpoint holding the cluster's objects (embedded or external).
    pub etcd_url: String,
    log: PathBuf,
    scratch: tempfile::TempDir,
    /// The external etcd, when the cluster runs on `--datastore-endpoint`.
    _etcd: Option<Store>,
    /// The server's command line, for [`Cluster::restart`].
    args: Vec<std::ffi::OsString>,
}

/// Where the cluster keeps its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datastore {
    Embedded,
    /// A real etcd 3.4 from Debian through `--datastore-endpoint`.
    ExternalEtcd,
}

impl Cluster {
    pub fn start(datastore: Datastore) -> Cluster {
        Cluster::start_with(datastore, &[])
    }

    /// Starts a server with extra command-line flags.
    pub fn start_with(datastore: Datastore, extra: &[&str]) -> Cluster {
        let etcd = match datastore {
            Datastore::Embedded => None,
            Datastore::ExternalEtcd => Some(Store::start(Flavor::Etcd)),
        };
        let url = etcd.as_ref().map(Store::url);
        Cluster::launch(etcd, url, extra)
    }

    /// Starts a server on an etcd that others may share (`--datastore-endpoint`), as servers of one
    /// cluster share their datastore.
    pub fn start_on_etcd(etcd_url: &str, extra: &[&str]) -> Cluster {
        Cluster::launch(None, Some(etcd_url.to_string()), extra)
    }

    fn launch(etcd: Option<Store>, external: Option<String>, extra: &[&str]) -> Cluster {
        let scratch = tempfile::tempdir().expect("create a scratch directory");
        let data_dir = scratch.path().join("data");
        let kubeconfig = scratch.path().join("kubeconfig.yaml");
        let log = scratch.path().join("server.log");
        let port = free_port();
        // An empty config file of its own, so that the machine's /etc/bramble/config.yaml is not read.
        let config = scratch.path().join("config.yaml");
        std::fs::write(&config, "{}\n").expect("write the config file");
        let external_store = external.is_some();
        let etcd_url = external.unwrap_or_else(|| format!("http://127.0.0.1:{}", free_port()));
        let mut args: Vec<std::ffi::OsString> = vec!["server".into(), "--config".into(), config.into()];
        args.extend(["--data-dir".into(), data_dir.into()]);
        for arg in ["--https-listen-port", &port.to_string(), "--bind-address", "127.0.0.1"] {
            args.push(arg.into());
        }
        // Pods run only in the tests that build nodes of their own (`netlab.rs`).
        for arg in ["--node-name", "e2e-server", "--node-ip", "127.0.0.1", "--disable-agent"] {
            args.push(arg.into());
        }
        args.extend(["--write-kubeconfig".into(), kubeconfig.clone().into()]);
        args.extend(extra.iter().map(Into::into));
        let store_flag = if external_store { "--datastore-endpoint" } else { "--etcd-listen-client-urls" };
        args.extend([store_flag.into(), etcd_url.clone().into()]);
        let child = spawn(&args, &log);
        let mut cluster = Cluster { child: Some(child), port, kubeconfig, etcd_url, log, scratch, _etcd: etcd, args };
        cluster.wait_ready();
        cluster
    }

    /// Kills the server (SIGKILL) and starts it again on the same data
    /// directory and flags; returns once it answers `/readyz`.
    pub fn restart(&mut self) {
        self.kill9();
        self.child = Some(spawn(&self.args, &self.log));
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("bramble server exited during start-up with {status}; log:\n{}", self.log_text());
            }
            if self.kubeconfig.exists() {
                let out = self.kubectl("1.33", &["get", "--raw", "/readyz"]);
                if out.status.success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("bramble server was not ready within 60 s; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn command(&self, version: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl_path(version));
        let cache = self.scratch.path().join(format!("kube-cache-{version}"));
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .env("HOME", self.scratch.path())
            .env_remove("KUBECONFIG");
        cmd
    }

    /// Runs kubectl of `version` and returns what it printed.
    pub fn kubectl(&self, version: &str, args: &[&str]) -> Output {
        self.command(version, args).stdin(Stdio::null()).output().expect("run kubectl")
    }

    /// Runs kubectl with extra environment (e.g. `KUBE_EDITOR`).
    pub fn kubectl_env(&self, version: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(version, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).output().expect("run kubectl")
    }

    /// Runs kubectl with `stdin` as its input.
    pub fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(version, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write kubectl's stdin");
        child.wait_with_output().expect("wait for kubectl")
    }

    /// Starts a long-running kubectl (e.g. `get -w`); the caller owns it.
    pub fn kubectl_spawn(&self, version: &str, args: &[&str]) -> Child {
        self.command(version, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubectl")
    }

    /// Runs kubectl and panics with its output and the server log unless it succeeds; returns stdout.
    #[track_caller]
    pub fn ok(&self, version: &str, args: &[&str]) -> String {
        let out = self.kubectl(version, args);
        self.expect_ok(version, args, &out)
    }

    #[track_caller]
    pub fn expect_ok(&self, version: &str, args: &[&str], out: &Output) -> String {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kubectl {version} {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}\nserver log (tail):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log_text(), 40),
        );
        stdout
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's `--data-dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.scratch.path().join("data")
    }

    /// Starts another `bramble` command (e.g. `agent`), its output in `<scratch>/<name>.log`.
    pub fn spawn_bramble(&self, name: &str, args: &[std::ffi::OsString]) -> (Child, PathBuf) {
        let log = self.scratch.path().join(format!("{name}.log"));
        (spawn(args, &log), log)
    }

    /// Starts `bramble hollow-nodes`: `count` fake nodes `hollow-0..` whose
    /// kubelets this process plays. They stop when the handle is dropped.
    pub fn hollow_nodes(&self, count: usize, extra: &[&str]) -> HollowNodes {
        let log = self.scratch.path().join("hollow.log");
        let mut args: Vec<std::ffi::OsString> = vec!["hollow-nodes".into(), "--kubeconfig".into()];
        args.push(self.kubeconfig.clone().into_os_string());
        args.push("--nodes".into());
        args.push(count.to_string().into());
        args.extend(extra.iter().map(Into::into));
        HollowNodes { child: spawn(&args, &log) }
    }
}

/// A `bramble hollow-nodes` process. Killed when dropped.
#[derive(Debug)]
pub struct HollowNodes {
    child: Child,
}

impl HollowNodes {
    /// Stops them at once, as a node that loses power.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HollowNodes {
    fn drop(&mut self) {
        self.kill9();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts `bramble` with `args`, its output appended to `log`.
fn spawn(args: &[std::ffi::OsString], log: &Path) -> Child {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open the server log");
    let err = out.try_clone().expect("clone the log handle");
    Command::new(env!("CARGO_BIN_EXE_bramble"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start bramble server")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The kubectl binary of `version`, shipped beside `kubectl` on this machine.
pub fn kubectl_path(version: &str) -> PathBuf {
    let default = crate::support::required_program("kubectl", "kubectl (see DEVELOPERS.md)");
    let real = std::fs::canonicalize(&default).unwrap_or(default);
    let dir = real.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/usr/local/bin"));
    let path = dir.join(format!("kubectl.{version}"));
    assert!(path.exists(), "kubectl {version} is not installed at {}", path.display());
    path
}
