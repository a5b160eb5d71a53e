//! A data directory that is not a bramble store, or is damaged, stops the
//! server at start with an error naming the directory; nothing in it is
//! overwritten.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::free_port;

/// Runs `bramble server --datastore-only` on `data_dir`; returns its exit
/// status and stderr. A server that keeps running is killed and reported.
fn start(data_dir: &Path) -> (Option<i32>, String) {
    let url = format!("http://127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_bramble"))
        .args(["server", "--datastore-only", "--etcd-listen-client-urls", &url, "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bramble");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let running = matches!(child.try_wait(), Ok(None));
    if running {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("collect bramble's output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (if running { None } else { out.status.code() }, stderr)
}

fn store_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("server/db/kv")
}

#[test]
fn foreign_directory_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_dir(dir.path());
    std::fs::create_dir_all(&store).expect("create the store dir");
    std::fs::write(store.join("notes.txt"), "someone else's file").expect("write a foreign file");
    let (code, stderr) = start(dir.path());
    assert_eq!(code, Some(1), "bramble must exit with an error; stderr:\n{stderr}");
    assert!(stderr.contains(&store.display().to_string()), "the error names the directory:\n{stderr}");
    assert!(stderr.contains("not a bramble store"), "{stderr}");
    assert_eq!(std::fs::read_to_string(store.join("notes.txt")).expect("file kept"), "someone else's file");
}

#[test]
fn corrupt_store_is_refused_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Make a real store first, then damage its manifest.
    let (code, stderr) = {
        let url = format!("http://127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_bramble"))
            .args(["server", "--datastore-only", "--etcd-listen-client-urls", &url, "--data-dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bramble");
        let current = store_dir(dir.path()).join("CURRENT");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !current.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        let _ = child.kill();
        let _ = child.wait();
        let manifest = std::fs::read_to_string(&current).expect("CURRENT names the manifest");
        std::fs::write(store_dir(dir.path()).join(manifest.trim()), b"garbage, not a manifest").expect("damage");
        start(dir.path())
    };
    assert_eq!(code, Some(1), "bramble must exit with an error; stderr:\n{stderr}");
    assert!(stderr.contains(&store_dir(dir.path()).display().to_string()), "the error names the store:\n{stderr}");
}

#[test]
fn broken_config_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "data-dir: [unclosed\n").expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_bramble"))
        .args(["server", "--datastore-only", "--config"])
        .arg(&config)
        .output()
        .expect("run bramble");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&config.display().to_string()), "the error names the file:\n{stderr}");
}
