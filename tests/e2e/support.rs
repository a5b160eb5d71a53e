//! Starting and stopping the processes that e2e tests talk to: `bramble` and a
//! reference etcd, each on free loopback ports with its own data directory.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1, released again before it is returned.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1");
    listener.local_addr().expect("local address of a bound socket").port()
}

/// SIGKILLs every process whose command line mentions `path`: what a test's
/// daemon started and left behind on purpose, a containerd above all.
pub fn kill_processes_mentioning(path: &Path) {
    let needle = path.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if cmdline.windows(needle.len()).any(|w| w == needle) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

/// Path of a program that the e2e suite needs from the machine, or a panic
/// naming the package that provides it: a missing tool fails the test, it never
/// skips it.
pub fn required_program(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("`{name}` is not installed: run `./x deps` (Debian package `{package}`)");
}

/// Which server a test talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Bramble,
    Etcd,
}

/// A running store process. Killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Store {
    pub flavor: Flavor,
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    log: PathBuf,
    options: StoreOptions,
    _scratch: Option<tempfile::TempDir>,
}

/// Server settings that a test changes from the defaults.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// How often an idle watch created with `progress_notify` gets a progress
    /// notification. etcd's default, 10 minutes, is too long for a test; etcd
    /// takes it as `--experimental-watch-progress-notify-interval`, bramble as
    /// `--etcd-watch-progress-notify-interval` (both in Go duration syntax).
    pub watch_progress_notify_interval: Option<Duration>,
}

impl Store {
    /// Starts a store of `flavor` on a fresh data directory.
    pub fn start(flavor: Flavor) -> Store {
        Store::start_with(flavor, StoreOptions::default())
    }

    /// Starts a store of `flavor` on a fresh data directory with `options`,
    /// which it keeps across restarts.
    pub fn start_with(flavor: Flavor, options: StoreOptions) -> Store {
        let scratch = tempfile::tempdir().expect("create a scratch directory");
        let data_dir = scratch.path().join("data");
        let mut store = Store {
            flavor,
            child: None,
            port: free_port(),
            data_dir,
            log: scratch.path().join("server.log"),
            options,
            _scratch: Some(scratch),
        };
        store.spawn();
        store
    }

    /// Restarts a bramble store on the same data directory and port.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("open the server log");
        let err = log.try_clone().expect("clone the log handle");
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut cmd = match self.flavor {
            Flavor::Bramble => {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_bramble"));
                cmd.args(["server", "--datastore-only", "--data-dir"])
                    .arg(&self.data_dir)
                    .args(["--etcd-listen-client-urls", &url])
                    .env("RUST_LOG", "info");
                cmd
            }
            Flavor::Etcd => {
                let peer = format!("http://127.0.0.1:{}", free_port());
                let mut cmd = Command::new(required_program("etcd", "etcd-server"));
                cmd.args(["--name", "default", "--data-dir"])
                    .arg(&self.data_dir)
                    .args(["--listen-client-urls", &url, "--advertise-client-urls", &url])
                    .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
                    .arg(format!("--initial-cluster=default={peer}"))
                    .args(["--log-outputs", "stderr", "--logger", "zap"]);
                cmd
            }
        };
        if let Some(interval) = self.options.watch_progress_notify_interval {
            let flag = match self.flavor {
                Flavor::Bramble => "--etcd-watch-progress-notify-interval",
                Flavor::Etcd => "--experimental-watch-progress-notify-interval",
            };
            cmd.arg(format!("{flag}={}ms", interval.as_millis()));
        }
        let child = cmd.stdin(Stdio::null()).stdout(log).stderr(err).spawn().expect("start the store process");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("{:?} exited during start-up with {status}; log:\n{}", self.flavor, self.log_text());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{:?} did not listen on {addr} within 30 s; log:\n{}", self.flavor, self.log_text());
    }

    /// The client URL, e.g. `http://127.0.0.1:23791`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `host:port`, as etcdctl's `--endpoints` takes it.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as a power cut or the OOM killer would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A multi-threaded tokio runtime for tests that use the async etcd client.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("build a tokio runtime")
}

/// Starts `etcdctl` (API v3) against `endpoint` with stdin, stdout and stderr
/// piped, for callers that feed input, stop a long-running command such as
/// `watch`, or need the exact exit code; the caller owns the child.
pub fn etcdctl_spawn(endpoint: &str, args: &[String]) -> Child {
    Command::new(required_program("etcdctl", "etcd-client"))
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start etcdctl")
}

impl Store {
    /// How the store process ended, if it has: a test that expects it to keep
    /// serving checks this to fail with the server's log rather than with a
    /// string of client timeouts.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|child| child.try_wait().ok().flatten())
    }
}

/// An etcd v3 client for `url`. Requests carry no client-side deadline (a gRPC
/// deadline would also end watch streams); tests bound their waits themselves.
pub async fn connect(url: &str) -> etcd_client::Client {
    let options = etcd_client::ConnectOptions::new().with_connect_timeout(Duration::from_secs(5));
    etcd_client::Client::connect([url], Some(options))
        .await
        .unwrap_or_else(|err| panic!("connect an etcd client to {url}: {err}"))
}

/// The seed for a randomised test: `BRAMBLE_E2E_SEED` if set, else the clock.
/// It is printed, so that a failing run can be repeated exactly.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var("BRAMBLE_E2E_SEED") {
        Ok(text) => text.parse().unwrap_or_else(|err| panic!("BRAMBLE_E2E_SEED={text:?} is not a u64: {err}")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos() as u64,
    };
    println!("{test}: seed {seed} (repeat with BRAMBLE_E2E_SEED={seed})");
    seed
}

/// A small seeded pseudo-random generator (SplitMix64): the same seed always
/// gives the same workload, and it needs no dependency.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "SeededRng::below(0) has no value to return");
        self.next_u64() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
