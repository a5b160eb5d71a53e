//! The CRI container log format, as containerd writes it and the kubelet
//! reads it: one record a line, `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`,
//! where `P` marks a partial line that the next records continue until an
//! `F`. This module turns file contents into the lines `kubectl logs`
//! shows (prefix stripped, partial records joined, `tailLines`,
//! `sinceTime`, `timestamps`, `limitBytes`); it reads no files itself.

/// One log line, its partial records joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The time of the line's first record, as written (RFC3339Nano).
    pub time: String,
    /// Nanoseconds since the Unix epoch of `time`.
    pub unix_nanos: i128,
    pub stream: Stream,
    /// The text with its newline (the last line of a file may lack one).
    pub text: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the caller asked for, from `containerLogs`' query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    /// Only the last this many lines (before following).
    pub tail_lines: Option<u64>,
    /// Only lines at or after this time (nanoseconds since the epoch).
    pub since_unix_nanos: Option<i128>,
    /// Prefix each line with its RFC3339Nano time and a space.
    pub timestamps: bool,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<u64>,
}

/// A record that is not in the CRI format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CRI log record: {0}")]
pub struct BadRecord(pub String);

/// One record of the file, before partial records are joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub time: &'a str,
    pub stream: Stream,
    pub partial: bool,
    /// The text without the record's trailing newline.
    pub text: &'a [u8],
}

/// Parses one record (without its trailing newline).
pub fn parse_record(line: &[u8]) -> Result<Record<'_>, BadRecord> {
    let bad = || BadRecord(String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned());
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = fields.next().and_then(|t| std::str::from_utf8(t).ok()).ok_or_else(bad)?;
    let stream = match fields.next().ok_or_else(bad)? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return Err(bad()),
    };
    let (partial, text) = match fields.next().ok_or_else(bad)? {
        b"F" => (false, fields.next().unwrap_or_default()),
        b"P" => (true, fields.next().unwrap_or_default()),
        _ => return Err(bad()),
    };
    parse_rfc3339_nanos(time).ok_or_else(bad)?;
    Ok(Record { time, stream, partial, text })
}

/// Joins records into lines. Records arrive in pieces as the file grows;
/// a partial line waits for its end across calls to [`LineJoiner::push`].
#[derive(Debug, Default)]
pub struct LineJoiner {
    /// Bytes of an unfinished record (no newline yet).
    carry: Vec<u8>,
    /// A line whose records so far were all partial.
    pending: Option<LogLine>,
}

impl LineJoiner {
    /// Feeds file bytes; returns the lines they complete. Malformed records
    /// are skipped (the kubelet logs and skips them too).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<LogLine> {
        let mut lines = Vec::new();
        self.carry.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(offset) = self.carry[start..].iter().position(|b| *b == b'\n') {
            let end = start + offset;
            let record = self.carry[start..end].to_vec();
            start = end + 1;
            self.record(&record, &mut lines);
        }
        self.carry.drain(..start);
        lines
    }

    /// At the end of a file that will not grow: what is left, as a line.
    pub fn finish(&mut self) -> Option<LogLine> {
        let carry = std::mem::take(&mut self.carry);
        let mut lines = Vec::new();
        if !carry.is_empty() {
            self.record(&carry, &mut lines);
        }
        lines.pop().or_else(|| self.pending.take())
    }

    fn record(&mut self, raw: &[u8], lines: &mut Vec<LogLine>) {
        let record = match parse_record(raw) {
            Ok(record) => record,
            Err(e) => {
                tracing::debug!("skipping a log record: {e}");
                return;
            }
        };
        let line = self.pending.get_or_insert_with(|| LogLine {
            time: record.time.to_string(),
            unix_nanos: parse_rfc3339_nanos(record.time).unwrap_or_default(),
            stream: record.stream,
            text: Vec::new(),
        });
        line.text.extend_from_slice(record.text);
        if !record.partial {
            line.text.push(b'\n');
            lines.extend(self.pending.take());
        }
    }
}

/// Applies `sinceTime`/`sinceSeconds` and `tailLines` to the lines already
/// in the files, oldest first.
pub fn select(lines: Vec<LogLine>, options: &LogOptions) -> Vec<LogLine> {
    let mut lines: Vec<LogLine> = match options.since_unix_nanos {
        Some(since) => lines.into_iter().filter(|l| l.unix_nanos >= since).collect(),
        None => lines,
    };
    if let Some(tail) = options.tail_lines {
        let keep = usize::try_from(tail).unwrap_or(usize::MAX);
        if lines.len() > keep {
            lines.drain(..lines.len() - keep);
        }
    }
    lines
}

/// The bytes a line is shown as.
pub fn render(line: &LogLine, timestamps: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.text.len() + 32);
    if timestamps {
        out.extend_from_slice(line.time.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(&line.text);
    out
}

/// What is still allowed by `limitBytes`.
#[derive(Debug, Clone, Copy)]
pub struct ByteBudget(Option<u64>);

impl ByteBudget {
    pub fn new(limit: Option<u64>) -> ByteBudget {
        ByteBudget(limit)
    }
    /// Cuts `bytes` to what the budget allows and takes it from the budget.
    pub fn take(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        if let Some(left) = &mut self.0 {
            let allowed = usize::try_from(*left).unwrap_or(usize::MAX);
            bytes.truncate(allowed);
            *left -= bytes.len() as u64;
        }
        bytes
    }
    pub fn exhausted(&self) -> bool {
        self.0 == Some(0)
    }
}

/// Nanoseconds since the epoch of an RFC 3339 time (`Z` or `±hh:mm`,
/// fractional seconds of any length), or None.
pub fn parse_rfc3339_nanos(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in frac[..digits].bytes().enumerate() {
            if i < 9 {
                nanos = nanos * 10 + i128::from(c - b'0');
            }
        }
        for _ in digits..9 {
            nanos *= 10;
        }
        rest = &frac[digits..];
    }
    let offset_seconds: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "2026-12-03T10:00:00.000000001Z stdout F one\n\
2026-12-03T10:00:01.5Z stderr P tw\n\
2026-12-03T10:00:01.6Z stderr F o\n\
garbage line\n\
2026-12-03T10:00:02Z stdout F \n\
2026-12-03T10:00:03+01:00 stdout F four\n";

    fn texts(lines: &[LogLine]) -> Vec<String> {
        lines.iter().map(|l| String::from_utf8_lossy(&l.text).into_owned()).collect()
    }

    #[test]
    fn records_are_parsed() {
        let r = parse_record(b"2026-12-03T10:00:00Z stderr P a b  c").expect("record");
        assert_eq!(
            (r.time, r.stream, r.partial, r.text),
            ("2026-12-03T10:00:00Z", Stream::Stderr, true, &b"a b  c"[..])
        );
        let r = parse_record(b"2026-12-03T10:00:00Z stdout F").expect("empty text");
        assert_eq!(r.text, b"");
        for bad in
            [&b"2026-12-03T10:00:00Z stdin F x"[..], b"2026-12-03T10:00:00Z stdout X x", b"yesterday stdout F x", b""]
        {
            assert!(parse_record(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn partial_records_are_joined_and_garbage_skipped() {
        let lines = LineJoiner::default().push(FILE.as_bytes());
        assert_eq!(texts(&lines), ["one\n", "two\n", "\n", "four\n"]);
        assert_eq!(lines[1].stream, Stream::Stderr);
        assert_eq!(lines[1].time, "2026-12-03T10:00:01.5Z", "a joined line has its first record's time");
    }

    #[test]
    fn records_split_across_reads_are_joined() {
        let mut joiner = LineJoiner::default();
        let mut lines = Vec::new();
        for chunk in FILE.as_bytes().chunks(7) {
            lines.extend(joiner.push(chunk));
        }
        assert_eq!(texts(&lines), ["one\n", "two\n", "\n", "four\n"]);
        assert_eq!(joiner.finish(), None);
    }

    #[test]
    fn finish_gives_the_unterminated_rest() {
        let mut joiner = LineJoiner::default();
        assert!(joiner.push(b"2026-12-03T10:00:00Z stdout P half").is_empty());
        let line = joiner.finish().expect("rest");
        assert_eq!(line.text, b"half");
        let mut joiner = LineJoiner::default();
        assert!(joiner.push(b"2026-12-03T10:00:00Z stdout P half\n").is_empty());
        assert_eq!(joiner.finish().expect("pending").text, b"half");
    }

    #[test]
    fn tail_since_and_timestamps() {
        let lines = LineJoiner::default().push(FILE.as_bytes());
        let check = |options: LogOptions, want: &[&str]| {
            assert_eq!(texts(&select(lines.clone(), &options)), want, "{options:?}");
        };
        check(LogOptions::default(), &["one\n", "two\n", "\n", "four\n"]);
        check(LogOptions { tail_lines: Some(2), ..Default::default() }, &["\n", "four\n"]);
        check(LogOptions { tail_lines: Some(0), ..Default::default() }, &[]);
        check(LogOptions { tail_lines: Some(99), ..Default::default() }, &["one\n", "two\n", "\n", "four\n"]);
        let since = parse_rfc3339_nanos("2026-12-03T10:00:01.5Z");
        check(LogOptions { since_unix_nanos: since, ..Default::default() }, &["two\n", "\n"]);
        check(LogOptions { since_unix_nanos: since, tail_lines: Some(1), ..Default::default() }, &["\n"]);
        assert_eq!(render(&lines[0], true), b"2026-12-03T10:00:00.000000001Z one\n");
        assert_eq!(render(&lines[0], false), b"one\n");
    }

    #[test]
    fn byte_budget_cuts_output() {
        let mut budget = ByteBudget::new(Some(5));
        assert_eq!(budget.take(b"abc".to_vec()), b"abc");
        assert_eq!(budget.take(b"defg".to_vec()), b"de");
        assert!(budget.exhausted());
        assert_eq!(budget.take(b"x".to_vec()), b"");
        let mut unlimited = ByteBudget::new(None);
        assert_eq!(unlimited.take(b"abc".to_vec()), b"abc");
        assert!(!unlimited.exhausted());
    }

    #[test]
    fn rfc3339_times() {
        let check = |text: &str, want: Option<i128>| assert_eq!(parse_rfc3339_nanos(text), want, "{text}");
        check("1970-01-01T00:00:00Z", Some(0));
        check("1970-01-01T00:00:01.5Z", Some(1_500_000_000));
        check("1970-01-01T01:00:00+01:00", Some(0));
        check("1969-12-31T23:00:00-01:00", Some(0));
        check("2000-03-01T00:00:00Z", Some(951_868_800 * 1_000_000_000));
        check("2026-12-03T10:00:00.123456789123Z", Some(1_796_292_000_123_456_789));
        for bad in [
            "",
            "2026-12-03",
            "2026-13-03T10:00:00Z",
            "2026-12-03T10:00:00",
            "2026-12-03T10:00:00.Z",
            "2026-12-03 10:00:00Z",
        ] {
            check(bad, None);
        }
    }
}
