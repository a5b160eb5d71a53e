//! kubectl's streaming subresources with every kubectl version from 1.27 to
//! 1.33, through the API server's node proxy to the agent's kubelet API and
//! containerd's stream server: `logs` (`-f`, `--tail`, `--since`, `-c`,
//! `--previous`), `exec` (stdin, exit codes, a terminal under a real
//! pseudo-terminal from util-linux `script`), `attach`, `cp` and
//! `port-forward`. One cluster and one pod serve every version; a failed
//! check is collected, so one run reports every version's results. Needs root.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::pods::{AGENT, BUSYBOX, PodCluster};
use crate::scenario::eventually;

const VERSIONS: [&str; 7] = ["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"];

/// `pods::port_forward_reaches_httpd` forwards with these; the others are checked here.
const PORT_FORWARD_IN_PODS_RS: [&str; 3] = ["1.27", "1.30", "1.33"];

const POD: &str = "streamer";

/// `counter` numbers its lines every 0.2 s and exits once `/tmp/stop`
/// exists (so that it restarts and has a previous run); `echo` answers every
/// line of its stdin; `web` serves busybox httpd for port-forward.
fn manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {POD}
spec:
  nodeName: {AGENT}
  terminationGracePeriodSeconds: 1
  containers:
  - name: counter
    image: {BUSYBOX}
    command: ["sh", "-c", "i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); echo line $i; sleep 0.2; done; echo stopping; exit 1"]
  - name: echo
    image: {BUSYBOX}
    stdin: true
    command: ["sh", "-c", "echo echo ready; while read l; do echo got:$l; done"]
  - name: web
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    ports:
    - containerPort: 8080
"#
    )
}

/// The logs, the exec and attach sessions, the copies and the forwards of
/// every kubectl version against one pod on the agent.
#[test]
fn every_kubectl_version_streams_logs_exec_attach_cp_and_port_forward() {
    let cluster = PodCluster::start();
    let work = tempfile::tempdir().expect("scratch directory");
    let kubectl = Kubectl { kubeconfig: cluster.kubeconfig.clone(), home: work.path().to_path_buf() };
    cluster.apply(&manifest());
    cluster.wait_running(POD, true);

    // A previous run for `logs --previous`: the counter exits and is restarted at once.
    cluster.ok("1.33", &["exec", POD, "-c", "counter", "--", "touch", "/tmp/stop"]);
    eventually(Duration::from_secs(60), &format!("the counter restarted\n{}", cluster.describe(POD)), || {
        let restarts =
            cluster.jsonpath(&["pod", POD], "{.status.containerStatuses[?(@.name==\"counter\")].restartCount}");
        (restarts == "1").then_some(())
    });
    cluster.wait_running(POD, true);
    // Enough of the new run that the last second is a strict part of it.
    eventually(Duration::from_secs(30), "ten lines of the counter's new run", || {
        let out = cluster.kubectl("1.33", &["logs", POD, "-c", "counter"]);
        (numbers(&String::from_utf8_lossy(&out.stdout)).len() >= 10).then_some(())
    });

    let mut table = Vec::new();
    let mut failures = Vec::new();
    for version in VERSIONS {
        let mut row = Vec::new();
        for (name, check) in checks(version) {
            let started = Instant::now();
            let result = check(&kubectl, version);
            row.push(format!("{name}={}", if result.is_ok() { "ok" } else { "FAIL" }));
            if let Err(why) = result {
                failures.push(format!("kubectl {version} {name} ({:?}): {why}", started.elapsed()));
            }
        }
        table.push(format!("{version}: {}", row.join(" ")));
    }
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}\n\n{}\n\n{}", table.join("\n"), failures.join("\n\n"), cluster.logs());
}

type Check = fn(&Kubectl, &str) -> Result<(), String>;

fn checks(version: &str) -> Vec<(&'static str, Check)> {
    let mut list: Vec<(&'static str, Check)> = vec![
        ("logs", logs_default_container),
        ("logs-f", logs_follow),
        ("logs--tail", logs_tail),
        ("logs--since", logs_since),
        ("logs--previous", logs_previous),
        ("exec-i", exec_stdin),
        ("exec-exit", exec_exit_code),
        ("exec-it", exec_terminal),
        ("attach-i", attach_stdin),
        ("logs-c", logs_other_container),
        ("cp", copy_in_and_out),
    ];
    if !PORT_FORWARD_IN_PODS_RS.contains(&version) {
        list.push(("port-forward", port_forward));
    }
    list
}

/// Without `-c`, kubectl picks the first container (and says so on stderr).
fn logs_default_container(k: &Kubectl, v: &str) -> Result<(), String> {
    let text = k.ok(v, &["logs", POD])?;
    check(!numbers(&text).is_empty(), || format!("the counter's lines, got {text:?}"))
}

/// `-f` prints what is there, then lines written after it started: a line
/// newer than any a plain `logs` sees once the follow has begun to answer.
fn logs_follow(k: &Kubectl, v: &str) -> Result<(), String> {
    let mut follow = k.session(v, &["logs", "-f", POD, "-c", "counter"])?;
    let started = follow.wait_for(Duration::from_secs(10), |line| line_number(line).is_some());
    let result = started.map_err(|text| format!("no line at all; got {text:?}")).and_then(|_| {
        let last = *numbers(&k.ok(v, &["logs", POD, "-c", "counter", "--tail=1"])?).last().ok_or("no last line")?;
        let newer = follow.wait_for(Duration::from_secs(10), |line| line_number(line).is_some_and(|n| n > last));
        newer.map_err(|text| format!("no line after line {last} within 10 s; got {text:?}"))
    });
    follow.stop();
    result.map(|_| ())
}

fn logs_tail(k: &Kubectl, v: &str) -> Result<(), String> {
    let text = k.ok(v, &["logs", POD, "-c", "counter", "--tail=2"])?;
    let got = numbers(&text);
    check(text.lines().count() == 2 && got.len() == 2 && got[1] == got[0] + 1, || {
        format!("two consecutive lines, got {text:?}")
    })
}

/// The last second is about five lines of a run that has many more.
fn logs_since(k: &Kubectl, v: &str) -> Result<(), String> {
    let all = numbers(&k.ok(v, &["logs", POD, "-c", "counter"])?);
    let recent = numbers(&k.ok(v, &["logs", POD, "-c", "counter", "--since=1s"])?);
    let (Some(first), Some(last)) = (recent.first(), all.last()) else {
        return Err(format!("lines in both: all {all:?}, since 1s {recent:?}"));
    };
    check((1..=8).contains(&recent.len()) && *first > all[0] && *first + 8 >= *last, || {
        format!("about five of the newest lines; all {all:?}, since 1s {recent:?}")
    })
}

fn logs_previous(k: &Kubectl, v: &str) -> Result<(), String> {
    let text = k.ok(v, &["logs", POD, "-c", "counter", "--previous"])?;
    check(text.starts_with("line 1\n") && text.ends_with("stopping\n"), || {
        format!("the whole first run, ending in its last words; got {text:?}")
    })
}

/// What goes in comes back, and the end of stdin ends the command.
fn exec_stdin(k: &Kubectl, v: &str) -> Result<(), String> {
    let input = format!("through kubectl {v}\n{}\n", "x".repeat(100_000));
    let out = k.run_stdin(v, &["exec", "-i", POD, "-c", "counter", "--", "cat"], &input)?;
    check(out.status.success() && out.stdout == input.as_bytes(), || {
        format!("{} bytes back of {}, {}: {}", out.stdout.len(), input.len(), out.status, stderr(&out))
    })
}

fn exec_exit_code(k: &Kubectl, v: &str) -> Result<(), String> {
    let out = k.run(v, &["exec", POD, "-c", "counter", "--", "sh", "-c", "echo out; exit 7"])?;
    check(out.status.code() == Some(7) && out.stdout == b"out\n", || {
        format!("exit code 7 and its output, got {} and {:?}: {}", out.status, stdout(&out), stderr(&out))
    })
}

/// Under a pseudo-terminal of 33 rows and 77 columns, `exec -it` gives the
/// command a terminal of that size and passes its exit code on; without
/// `-t` there is none.
fn exec_terminal(k: &Kubectl, v: &str) -> Result<(), String> {
    let plain = k.run(v, &["exec", "-i", POD, "-c", "counter", "--", "tty"])?;
    if stdout(&plain).trim() != "not a tty" {
        return Err(format!("without -t, no terminal: got {:?}: {}", stdout(&plain), stderr(&plain)));
    }
    // The size travels on the resize channel once the stream is up; the
    // command waits for it rather than racing it.
    let remote = "for i in 1 2 3 4 5 6 7 8 9 10; do [ \"$(stty size)\" = \"33 77\" ] && break; sleep 0.2; done; tty; stty size; exit 3";
    let line = format!("stty rows 33 cols 77; exec {} exec -it {POD} -c counter -- sh -c '{remote}'", k.shell_words(v));
    let out = k.under_terminal(&line)?;
    let text = stdout(&out).replace('\r', "");
    check(out.status.code() == Some(3) && text.contains("/dev/pts/") && text.contains("33 77\n"), || {
        format!("a terminal of 33x77 and exit code 3, got {}: {text:?} {}", out.status, stderr(&out))
    })
}

/// A line sent to the `echo` container's stdin comes back from it.
fn attach_stdin(k: &Kubectl, v: &str) -> Result<(), String> {
    let mut attach = k.session(v, &["attach", "-i", POD, "-c", "echo"])?;
    let wanted = format!("got:hello-{v}");
    // Lines sent before the stream is up wait in the pipe; send a few, as a
    // line may also reach the container before kubectl reads its output.
    let mut result = Err(String::new());
    for _ in 0..10 {
        attach.send(&format!("hello-{v}\n"));
        result = attach.wait_for(Duration::from_secs(1), |line| line.trim() == wanted);
        if result.is_ok() {
            break;
        }
    }
    attach.stop();
    result.map(|_| ()).map_err(|text| format!("no {wanted:?}; got {text:?}"))
}

/// The `echo` container's own log has what attach sent it.
fn logs_other_container(k: &Kubectl, v: &str) -> Result<(), String> {
    let text = k.ok(v, &["logs", POD, "-c", "echo"])?;
    check(text.starts_with("echo ready\n") && text.contains(&format!("got:hello-{v}\n")), || {
        format!("the echo container's lines, got {text:?}")
    })
}

fn copy_in_and_out(k: &Kubectl, v: &str) -> Result<(), String> {
    let contents: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let local = k.home.join(format!("cp-in-{v}"));
    let back = k.home.join(format!("cp-out-{v}"));
    std::fs::write(&local, &contents).map_err(|e| e.to_string())?;
    let remote = format!("{POD}:/tmp/cp-{v}");
    k.ok(v, &["cp", "-c", "counter", &local.to_string_lossy(), &remote])?;
    let size = k.ok(v, &["exec", POD, "-c", "counter", "--", "wc", "-c", &format!("/tmp/cp-{v}")])?;
    if !size.trim().starts_with(&contents.len().to_string()) {
        return Err(format!("the copy in has {size:?} bytes, not {}", contents.len()));
    }
    k.ok(v, &["cp", "-c", "counter", &remote, &back.to_string_lossy()])?;
    let got = std::fs::read(&back).map_err(|e| format!("the copy out: {e}"))?;
    check(got == contents, || {
        format!("the copy out has {} bytes, different from the {} sent", got.len(), contents.len())
    })
}

fn port_forward(k: &Kubectl, v: &str) -> Result<(), String> {
    let port = crate::support::free_port();
    let mut forward = k.session(v, &["port-forward", &format!("pod/{POD}"), &format!("{port}:8080")])?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let result = loop {
        let last = match http_get(port) {
            Ok(body) if body.starts_with("HTTP/1.") && body.contains("hello from busybox httpd") => break Ok(()),
            Ok(body) => body,
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            break Err(format!("no page through the forward within 20 s; last: {last:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    forward.stop();
    result.map_err(|e| format!("{e}; kubectl said {:?}", forward.output()))
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

fn line_number(line: &str) -> Option<u64> {
    line.trim().strip_prefix("line ")?.parse().ok()
}

/// The numbers of the counter's lines, in order.
fn numbers(text: &str) -> Vec<u64> {
    text.lines().filter_map(line_number).collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// kubectl of a given version against the pod cluster, with its own home and cache.
struct Kubectl {
    kubeconfig: PathBuf,
    home: PathBuf,
}

/// How long one kubectl command may take before the check fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

impl Kubectl {
    fn args(&self, version: &str) -> Vec<String> {
        vec![
            "--kubeconfig".into(),
            self.kubeconfig.to_string_lossy().into_owned(),
            "--cache-dir".into(),
            self.home.join(format!("kube-cache-{version}")).to_string_lossy().into_owned(),
        ]
    }

    fn command(&self, version: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::cluster::kubectl_path(version));
        cmd.args(self.args(version)).args(args).env("HOME", &self.home).env_remove("KUBECONFIG");
        cmd
    }

    fn run(&self, version: &str, args: &[&str]) -> Result<Output, String> {
        self.run_stdin(version, args, "")
    }

    /// Runs to the end with `stdin` as its input, within [`COMMAND_TIMEOUT`].
    fn run_stdin(&self, version: &str, args: &[&str], stdin: &str) -> Result<Output, String> {
        let mut cmd = self.command(version, args);
        finish(&mut cmd, stdin.as_bytes(), &format!("kubectl {}", args.join(" ")))
    }

    /// Succeeds or says why; its stdout.
    fn ok(&self, version: &str, args: &[&str]) -> Result<String, String> {
        let out = self.run(version, args)?;
        if !out.status.success() {
            return Err(format!("kubectl {} failed, {}: {}", args.join(" "), out.status, stderr(&out)));
        }
        Ok(stdout(&out))
    }

    /// A long-running kubectl whose stdout is read line by line.
    fn session(&self, version: &str, args: &[&str]) -> Result<Session, String> {
        let mut child = self
            .command(version, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("kubectl {version}: {e}"))?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().map(|out| {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
        });
        let err = child.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = e.read_to_string(&mut text);
                text
            })
        });
        Ok(Session { child, stdin, lines, seen: Vec::new(), out, err, stderr: String::new() })
    }

    /// This kubectl's command line for a POSIX shell.
    fn shell_words(&self, version: &str) -> String {
        let mut words = vec![crate::cluster::kubectl_path(version).to_string_lossy().into_owned()];
        words.extend(self.args(version));
        words.iter().map(|w| format!("'{}'", w.replace('\'', r"'\''"))).collect::<Vec<_>>().join(" ")
    }

    /// Runs a shell command line under a fresh pseudo-terminal (util-linux
    /// `script`, which also passes the command's exit status on).
    fn under_terminal(&self, line: &str) -> Result<Output, String> {
        let script = crate::support::required_program("script", "util-linux");
        let mut cmd = Command::new(script);
        cmd.args(["-qefc", line, "/dev/null"]).env("SHELL", "/bin/sh").env("HOME", &self.home);
        cmd.env_remove("KUBECONFIG");
        finish(&mut cmd, b"", &format!("script -c {line}"))
    }
}

/// Runs `cmd` with `stdin` written then closed, killed after [`COMMAND_TIMEOUT`].
fn finish(cmd: &mut Command, stdin: &[u8], what: &str) -> Result<Output, String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let input = stdin.to_vec();
    let mut pipe = child.stdin.take();
    // Under a terminal (`script`), an early end of input would reach the
    // command as ^D; the pipe stays open until the command has exited then.
    let keep_open = input.is_empty();
    let writer = std::thread::spawn(move || {
        if let Some(pipe) = pipe.as_mut() {
            let _ = pipe.write_all(&input);
        }
        if keep_open { pipe } else { None }
    });
    let out = child.stdout.take().map(|mut o| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = o.read_to_end(&mut bytes);
            bytes
        })
    });
    let err = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = e.read_to_end(&mut bytes);
            bytes
        })
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let partial = out.and_then(|h| h.join().ok()).unwrap_or_default();
                let errors = err.and_then(|h| h.join().ok()).unwrap_or_default();
                return Err(format!(
                    "{what}: still running after {COMMAND_TIMEOUT:?}; stdout {:?}, stderr {:?}",
                    String::from_utf8_lossy(&partial),
                    String::from_utf8_lossy(&errors)
                ));
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    drop(writer.join());
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(Output { status, stdout, stderr })
}

/// A running kubectl (`logs -f`, `attach`, `port-forward`); killed when stopped or dropped.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    out: Option<std::thread::JoinHandle<()>>,
    err: Option<std::thread::JoinHandle<String>>,
    stderr: String,
}

impl Session {
    fn send(&mut self, text: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(text.as_bytes());
            let _ = stdin.flush();
        }
    }

    /// The first line of stdout that `wanted` accepts within `limit`, or everything seen.
    fn wait_for(&mut self, limit: Duration, wanted: impl Fn(&str) -> bool) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return Ok(line);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.stop();
                    return Err(format!("{} (kubectl ended: {})", self.seen.join("\n"), self.stderr));
                }
            }
        }
        Err(self.seen.join("\n"))
    }

    fn stop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(out) = self.out.take() {
            let _ = out.join();
        }
        if let Some(err) = self.err.take() {
            self.stderr = err.join().unwrap_or_default();
        }
    }

    /// What kubectl wrote on stderr, once stopped.
    fn output(&self) -> &str {
        &self.stderr
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}
