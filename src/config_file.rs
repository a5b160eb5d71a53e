//! k3s's config file convention: a YAML map whose keys are flag names
//! (`data-dir: /srv/bramble`, `tls-san: [a, b]`, `datastore-only: true`).
//! Its entries become flags placed before the command line's, so the command
//! line wins.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Deserialize;

const DEFAULT_PATH: &str = "/etc/bramble/config.yaml";
const SUBCOMMANDS_WITH_CONFIG: [&str; 2] = ["server", "agent"];

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Scalar>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Str(String),
}

impl Scalar {
    fn render(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

/// The explicit `--config`/`-c` value, if any, and where the subcommand is.
fn find_config(args: &[OsString]) -> (Option<PathBuf>, Option<usize>) {
    let mut explicit = None;
    let mut subcommand = None;
    let mut iter = args.iter().enumerate().skip(1);
    while let Some((i, arg)) = iter.next() {
        let s = arg.to_string_lossy();
        if subcommand.is_none() && !s.starts_with('-') {
            subcommand = Some(i);
        } else if s == "--config" || s == "-c" {
            explicit = iter.next().map(|(_, v)| PathBuf::from(v));
        } else if let Some(v) = s.strip_prefix("--config=") {
            explicit = Some(PathBuf::from(v));
        }
    }
    (explicit, subcommand)
}

/// Flags from the YAML text of a config file.
pub fn flags_from_yaml(text: &str) -> anyhow::Result<Vec<OsString>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let map: BTreeMap<String, Value> =
        serde_saphyr::from_str(text).context("not a YAML map of flag names to values")?;
    let mut flags = Vec::new();
    for (key, value) in map {
        if key.starts_with('-') || key.contains(char::is_whitespace) {
            bail!("key {key:?} is not a flag name (write e.g. `data-dir: /srv/bramble`)");
        }
        match value {
            Value::Bool(true) => flags.push(format!("--{key}")),
            Value::Bool(false) => {}
            Value::Int(i) => flags.push(format!("--{key}={i}")),
            Value::Float(f) => flags.push(format!("--{key}={f}")),
            Value::Str(s) => flags.push(format!("--{key}={s}")),
            Value::List(items) => flags.extend(items.iter().map(|v| format!("--{key}={}", v.render()))),
        }
    }
    Ok(flags.into_iter().map(OsString::from).collect())
}

/// The process arguments with the config file's flags inserted right after
/// the subcommand. A missing default file is fine; a missing file named by
/// `--config` or `BRAMBLE_CONFIG_FILE`, or a broken one, is an error.
pub fn args_with_config(args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let (explicit, subcommand) = find_config(&args);
    let Some(sub) = subcommand else { return Ok(args) };
    if !SUBCOMMANDS_WITH_CONFIG.contains(&args[sub].to_string_lossy().as_ref()) {
        return Ok(args);
    }
    let explicit = explicit.or_else(|| std::env::var_os("BRAMBLE_CONFIG_FILE").map(PathBuf::from));
    let path = explicit.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => return Ok(args),
        Err(e) => bail!("cannot read config file {}: {e}", path.display()),
    };
    let flags = flags_from_yaml(&text).with_context(|| format!("config file {} is invalid", path.display()))?;
    let mut out = args[..=sub].to_vec();
    out.extend(flags);
    out.extend_from_slice(&args[sub + 1..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn yaml_becomes_flags() {
        let text = "data-dir: /srv/b\ndatastore-only: true\ndebug: false\netcd-max-request-bytes: 100\ntls-san:\n  - a\n  - b\n";
        let flags = strings(flags_from_yaml(text).expect("valid config"));
        assert_eq!(
            flags,
            ["--data-dir=/srv/b", "--datastore-only", "--etcd-max-request-bytes=100", "--tls-san=a", "--tls-san=b"]
        );
    }

    #[test]
    fn broken_yaml_is_an_error() {
        for text in ["data-dir: [unclosed", "- a list\n- not a map", "--data-dir: x"] {
            assert!(flags_from_yaml(text).is_err(), "{text:?} should be refused");
        }
        assert!(flags_from_yaml("").expect("empty is fine").is_empty());
    }

    #[test]
    fn file_flags_go_before_command_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "data-dir: /from/file\n").expect("write config");
        let args: Vec<OsString> =
            ["bramble", "server", "--config", path.to_str().expect("utf-8 path"), "--data-dir", "/cli"]
                .iter()
                .map(OsString::from)
                .collect();
        let out = strings(args_with_config(args).expect("config applies"));
        let file_pos = out.iter().position(|a| a == "--data-dir=/from/file").expect("file flag inserted");
        let cli_pos = out.iter().position(|a| a == "/cli").expect("cli flag kept");
        assert!(file_pos < cli_pos);
        let missing: Vec<OsString> =
            ["bramble", "server", "--config=/nonexistent/x.yaml"].iter().map(OsString::from).collect();
        assert!(args_with_config(missing).is_err());
    }

    #[test]
    fn agents_read_the_config_file_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "server: https://pi1:6443\ntoken: s3cret\nkubelet-arg:\n  - max-pods=50\n")
            .expect("write config");
        let args: Vec<OsString> =
            ["bramble", "agent", "-c", path.to_str().expect("utf-8 path")].iter().map(OsString::from).collect();
        let out = strings(args_with_config(args).expect("config applies"));
        assert!(out.contains(&"--server=https://pi1:6443".to_string()), "{out:?}");
        assert!(out.contains(&"--kubelet-arg=max-pods=50".to_string()), "{out:?}");
        // The flags parse as the agent's.
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(&out).expect("agent flags from the file parse");
        let crate::cli::Command::Agent(agent) = cli.command else { panic!("not the agent") };
        assert_eq!(agent.server, "https://pi1:6443");
        assert_eq!(agent.node.kubelet_args, ["max-pods=50"]);
    }
}
