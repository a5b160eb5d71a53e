//! Normalises what etcdctl printed so that two servers can be compared: every
//! value that is random or time-dependent by design becomes a placeholder, and
//! nothing else is touched. Revisions are deterministic on a fresh store and are
//! deliberately kept.
//!
//! Identifiers become numbered placeholders in order of first appearance
//! (`{LEASE1}`, `{MEMBER_ID1}` ...), so an id that changes during a run still
//! shows up as a difference. JSON output is re-printed with sorted keys and
//! indented, which loses no information: the key order is etcdctl's, not the
//! server's.

use serde_json::{Map, Value};

/// Ids of one kind, numbered in order of first appearance.
#[derive(Debug)]
struct Ids {
    kind: &'static str,
    seen: Vec<u64>,
}

impl Ids {
    fn new(kind: &'static str) -> Ids {
        Ids { kind, seen: Vec::new() }
    }

    /// The placeholder of `id`, numbering it if it is new.
    fn name(&mut self, id: u64) -> String {
        let n = match self.seen.iter().position(|s| *s == id) {
            Some(i) => i + 1,
            None => {
                self.seen.push(id);
                self.seen.len()
            }
        };
        format!("{{{}{n}}}", self.kind)
    }

    /// The placeholder of `id` if it was numbered before.
    fn known(&self, id: u64) -> Option<String> {
        let i = self.seen.iter().position(|s| *s == id)?;
        Some(format!("{{{}{}}}", self.kind, i + 1))
    }
}

/// Per-run state: what ids this server handed out, and where it runs.
#[derive(Debug)]
pub struct Normaliser {
    endpoint: String,
    scratch: String,
    /// Lease ids are learned only from `lease grant` output, so a lease id the
    /// script made up (to provoke "lease not found") stays literal.
    leases: Ids,
    clusters: Ids,
    members: Ids,
    terms: Ids,
}

impl Normaliser {
    /// `endpoint` is `host:port` of the server, `scratch` the directory that
    /// `{DIR}` in the script stands for.
    pub fn new(endpoint: &str, scratch: &str) -> Normaliser {
        Normaliser {
            endpoint: endpoint.to_owned(),
            scratch: scratch.to_owned(),
            leases: Ids::new("LEASE"),
            clusters: Ids::new("CLUSTER_ID"),
            members: Ids::new("MEMBER_ID"),
            terms: Ids::new("RAFT_TERM"),
        }
    }

    /// Expands `{DIR}` and `{LEASEn}` (the hexadecimal id etcdctl expects) in
    /// an argument or stdin of the script. An unknown lease stays literal, and
    /// etcdctl rejects it.
    pub fn expand(&self, word: &str) -> String {
        let mut out = word.replace("{DIR}", &self.scratch);
        for (i, id) in self.leases.seen.iter().enumerate().rev() {
            out = out.replace(&format!("{{LEASE{}}}", i + 1), &format!("{id:016x}"));
        }
        out
    }

    /// Normalises a command's stdout: JSON lines structurally, text line by line.
    pub fn stdout(&mut self, raw: &str) -> String {
        let mut out = String::new();
        for line in raw.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(mut json @ (Value::Object(_) | Value::Array(_))) => {
                    self.json(&mut json);
                    let pretty = serde_json::to_string_pretty(&json).expect("a JSON value prints");
                    out.push_str(&self.places(&pretty));
                }
                _ => out.push_str(&self.text_line(line)),
            }
            out.push('\n');
        }
        out
    }

    /// Normalises a command's stderr. Zap log lines lose their timestamps, the
    /// client's random target name and durations. With `outcome_only` (used for
    /// `snapshot save`, whose client logs from two goroutines in no fixed order)
    /// only the `Error:` lines are kept.
    pub fn stderr(&mut self, raw: &str, outcome_only: bool) -> String {
        let mut out = String::new();
        for line in raw.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(mut log)) => {
                    if outcome_only {
                        continue;
                    }
                    for noise in ["ts", "target", "took"] {
                        log.remove(noise);
                    }
                    if let Some(size) = log.get_mut("size") {
                        *size = Value::from("{SIZE}");
                    }
                    let text = serde_json::to_string(&log).expect("a JSON object prints");
                    out.push_str(&self.places(&text));
                }
                _ if outcome_only && !line.starts_with("Error:") => continue,
                _ => out.push_str(&self.text_line(line)),
            }
            out.push('\n');
        }
        out
    }

    /// A line of etcdctl's plain output: lease ids in hexadecimal, remaining
    /// lease time, paths and the endpoint.
    fn text_line(&mut self, line: &str) -> String {
        // `lease 694d77aa9e38260f granted with TTL(60s)` is the only line that
        // introduces a lease; `..., remaining(59s)` lines only mention one.
        if let Some((hex, tail)) = line.strip_prefix("lease ").and_then(|rest| rest.split_once(' '))
            && tail.starts_with("granted with TTL(")
            && tail.ends_with("s)")
            && !tail.contains("remaining")
            && let Ok(id) = u64::from_str_radix(hex, 16)
        {
            self.leases.name(id);
        }
        let mut out = self.places(line);
        for (i, id) in self.leases.seen.iter().enumerate() {
            out = out.replace(&format!("{id:016x}"), &format!("{{LEASE{}}}", i + 1));
        }
        remaining_ttl(&out)
    }

    /// Replaces the scratch directory and the endpoint in any text.
    fn places(&self, text: &str) -> String {
        text.replace(&self.scratch, "{DIR}").replace(&self.endpoint, "{ENDPOINT}")
    }

    /// Rewrites a JSON value in place.
    fn json(&mut self, value: &mut Value) {
        match value {
            Value::Array(items) => {
                for item in items {
                    self.json(item);
                }
            }
            Value::Object(map) => self.json_object(map),
            _ => {}
        }
    }

    fn json_object(&mut self, map: &mut Map<String, Value>) {
        let is_member = map.contains_key("peerURLs") || map.contains_key("clientURLs") || map.contains_key("name");
        let is_grant = map.contains_key("ID") && map.contains_key("TTL") && map.contains_key("Error");
        // `lease timetolive` prints the remaining time as `ttl` next to `granted-ttl`.
        let granted = map.get("granted-ttl").and_then(Value::as_i64);
        for (key, value) in map.iter_mut() {
            let number = value.as_u64();
            let placeholder = match (key.as_str(), number) {
                ("cluster_id", Some(id)) => Some(self.clusters.name(id)),
                ("member_id" | "leader", Some(id)) => Some(self.members.name(id)),
                ("ID", Some(id)) if is_member => Some(self.members.name(id)),
                ("ID", Some(id)) if is_grant => Some(self.leases.name(id)),
                ("ID" | "id" | "lease", Some(id)) => self.leases.known(id),
                ("raft_term" | "raftTerm", Some(term)) => Some(self.terms.name(term)),
                ("raftIndex", Some(_)) => Some("{RAFT_INDEX}".to_owned()),
                ("raftAppliedIndex", Some(_)) => Some("{RAFT_APPLIED_INDEX}".to_owned()),
                ("dbSize", Some(_)) => Some("{DB_SIZE}".to_owned()),
                ("dbSizeInUse", Some(_)) => Some("{DB_SIZE_IN_USE}".to_owned()),
                ("version", None) if value.is_string() => Some("{VERSION}".to_owned()),
                ("name", None) if is_member => Some("{MEMBER_NAME}".to_owned()),
                ("ttl", _) => match (value.as_i64(), granted) {
                    (Some(left), Some(granted)) if 0 < left && left <= granted => Some("{REMAINING_TTL}".to_owned()),
                    _ => None,
                },
                _ => None,
            };
            if let Some(placeholder) = placeholder {
                *value = Value::from(placeholder);
            } else if key == "peerURLs" {
                if let Value::Array(urls) = value {
                    for url in urls {
                        *url = Value::from("{PEER_URL}");
                    }
                }
            } else {
                self.json(value);
            }
        }
    }
}

/// `remaining(59s)` becomes `remaining({REMAINING_TTL}s)` when it lies within
/// `(0, granted]`, the granted TTL being the `TTL(60s)` earlier on the line.
fn remaining_ttl(line: &str) -> String {
    let number_in = |s: &str, open: &str| -> Option<(usize, usize, i64)> {
        let start = s.find(open)? + open.len();
        let len = s[start..].find("s)")?;
        Some((start, start + len, s[start..start + len].parse().ok()?))
    };
    let Some((_, _, granted)) = number_in(line, "TTL(") else {
        return line.to_owned();
    };
    match number_in(line, "remaining(") {
        Some((start, end, left)) if 0 < left && left <= granted => {
            format!("{}{{REMAINING_TTL}}{}", &line[..start], &line[end..])
        }
        _ => line.to_owned(),
    }
}

#[test]
fn normalises_what_is_random_and_nothing_else() {
    let mut n = Normaliser::new("127.0.0.1:40001", "/tmp/scratch");
    let cases = [
        ("lease 58eea200b29bfd0a granted with TTL(60s)\n", "lease {LEASE1} granted with TTL(60s)\n"),
        (
            "lease 58eea200b29bfd0a granted with TTL(60s), remaining(59s)\n",
            "lease {LEASE1} granted with TTL(60s), remaining({REMAINING_TTL}s)\n",
        ),
        // A remaining time beyond the granted TTL is a bug and must stay visible.
        (
            "lease 58eea200b29bfd0a granted with TTL(60s), remaining(61s)\n",
            "lease {LEASE1} granted with TTL(60s), remaining(61s)\n",
        ),
        // Made-up lease ids are not learned.
        ("lease 000000001234abcd already expired\n", "lease 000000001234abcd already expired\n"),
        (
            r#"{"cluster_id":3556172557997394135,"member_id":17496614320493254894,"revision":4,"raft_term":2,"ID":6408237443675061516,"TTL":2,"Error":""}"#,
            "{\n  \"Error\": \"\",\n  \"ID\": \"{LEASE2}\",\n  \"TTL\": 2,\n  \"cluster_id\": \"{CLUSTER_ID1}\",\n  \"member_id\": \"{MEMBER_ID1}\",\n  \"raft_term\": \"{RAFT_TERM1}\",\n  \"revision\": 4\n}\n",
        ),
        (
            r#"{"kvs":[{"key":"YQ==","lease":6408237443675061514},{"key":"Yg==","lease":7}]}"#,
            "{\n  \"kvs\": [\n    {\n      \"key\": \"YQ==\",\n      \"lease\": \"{LEASE1}\"\n    },\n    {\n      \"key\": \"Yg==\",\n      \"lease\": 7\n    }\n  ]\n}\n",
        ),
        (
            r#"{"members":[{"ID":17496614320493254894,"name":"default","peerURLs":["http://127.0.0.1:40002"],"clientURLs":["http://127.0.0.1:40001"]}]}"#,
            "{\n  \"members\": [\n    {\n      \"ID\": \"{MEMBER_ID1}\",\n      \"clientURLs\": [\n        \"http://{ENDPOINT}\"\n      ],\n      \"name\": \"{MEMBER_NAME}\",\n      \"peerURLs\": [\n        \"{PEER_URL}\"\n      ]\n    }\n  ]\n}\n",
        ),
        ("Snapshot saved at /tmp/scratch/s.db\n", "Snapshot saved at {DIR}/s.db\n"),
    ];
    for (raw, want) in cases {
        assert_eq!(n.stdout(raw), want, "stdout {raw}");
    }
    let log = r#"{"level":"warn","ts":"2026-11-22T00:40:37.145Z","caller":"clientv3/retry_interceptor.go:62","msg":"retrying of unary invoker failed","target":"endpoint://client-132e/127.0.0.1:40001","attempt":0,"error":"rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision is a future revision"}"#;
    let stderr = format!("{log}\nError: etcdserver: mvcc: required revision is a future revision\n");
    assert_eq!(
        n.stderr(&stderr, false),
        "{\"attempt\":0,\"caller\":\"clientv3/retry_interceptor.go:62\",\"error\":\"rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision is a future revision\",\"level\":\"warn\",\"msg\":\"retrying of unary invoker failed\"}\nError: etcdserver: mvcc: required revision is a future revision\n"
    );
    assert_eq!(n.stderr(&stderr, true), "Error: etcdserver: mvcc: required revision is a future revision\n");
    assert_eq!(n.expand("--lease={LEASE2}"), "--lease=58eea200b29bfd0c");
    assert_eq!(n.expand("{DIR}/s.db"), "/tmp/scratch/s.db");
}
