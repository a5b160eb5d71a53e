//! Cron schedules as Kubernetes reads `spec.schedule`: the grammar of
//! robfig/cron v3's `ParseStandard` (five fields, `*`/`?`, lists, ranges,
//! steps, month and weekday names, the `@` descriptors, `@every <duration>`
//! and a `TZ=`/`CRON_TZ=` prefix), with its error messages, and the next
//! fire time after an instant in a time zone, walking over daylight-saving
//! changes as robfig's `Next` does: a wall time that does not exist that
//! day is skipped, one that happens twice fires twice.
//!
//! Deliberately not accepted, because upstream rejects them too (and our
//! API server with it): a seconds field, weekday 7, `L`, `W` and `#`.

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};

/// What is wrong with a schedule, in robfig/cron's words (which upstream
/// shows verbatim in its events and validation errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("empty spec string")]
    Empty,
    #[error("provided bad location {0}: {1}")]
    BadLocation(String, UnknownZone),
    #[error("unrecognized descriptor: {0}")]
    UnknownDescriptor(String),
    #[error("failed to parse duration {spec}: {reason}")]
    BadDuration { spec: String, reason: String },
    #[error("expected exactly 5 fields, found {}: [{}]", .0.len(), .0.join(" "))]
    FieldCount(Vec<String>),
    #[error("too many hyphens: {0}")]
    TooManyHyphens(String),
    #[error("too many slashes: {0}")]
    TooManySlashes(String),
    #[error("failed to parse int from {expr}: strconv.Atoi: parsing {}: {reason}", go_quote(.expr))]
    NotANumber { expr: String, reason: &'static str },
    #[error("negative number ({value}) not allowed: {expr}")]
    Negative { value: i64, expr: String },
    #[error("beginning of range ({start}) below minimum ({min}): {expr}")]
    BelowMinimum { start: u64, min: u64, expr: String },
    #[error("end of range ({end}) above maximum ({max}): {expr}")]
    AboveMaximum { end: u64, max: u64, expr: String },
    #[error("beginning of range ({start}) beyond end of range ({end}): {expr}")]
    Backwards { start: u64, end: u64, expr: String },
    #[error("step of range should be a positive number: {0}")]
    ZeroStep(String),
}

/// A time zone name that is not in the tz database (Go's `LoadLocation` error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0}")]
pub struct UnknownZone(pub String);

/// Go's `time.LoadLocation`: `""` and `UTC` are UTC, `Local` is `local`,
/// anything else an IANA name from the system's tz database, matched
/// exactly (Go opens a file by that name, so case matters).
pub fn load_zone(name: &str, local: &TimeZone) -> Result<TimeZone, UnknownZone> {
    match name {
        "" | "UTC" => Ok(TimeZone::UTC),
        "Local" => Ok(local.clone()),
        _ => match TimeZone::get(name) {
            Ok(tz) if tz.iana_name() == Some(name) => Ok(tz),
            _ => Err(UnknownZone(name.to_string())),
        },
    }
}

/// A parsed schedule.
#[derive(Clone, PartialEq)]
pub struct Schedule(Kind);

#[derive(Clone, PartialEq)]
enum Kind {
    /// Fires whenever the wall clock in `zone` matches every field, at second 0.
    Fields(Fields),
    /// `@every`: a fixed interval (whole seconds, at least one) after the previous time.
    Every(SignedDuration),
}

/// One bit per allowed value; [`STAR`] marks a field written as `*` or `?`
/// (without a step), which matters only for the day fields.
#[derive(Clone, PartialEq)]
struct Fields {
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
    zone: TimeZone,
}

const STAR: u64 = 1 << 63;

/// The bounds and names of one field.
struct Bounds {
    min: u64,
    max: u64,
    /// Names of the values from `min` on, matched case-insensitively.
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DAYS_OF_MONTH: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const DAYS_OF_WEEK: Bounds = Bounds { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Every(d) => write!(f, "Schedule(@every {d:?})"),
            Kind::Fields(s) => f
                .debug_struct("Schedule")
                .field("minute", &format_args!("{:#x}", s.minute))
                .field("hour", &format_args!("{:#x}", s.hour))
                .field("day_of_month", &format_args!("{:#x}", s.day_of_month))
                .field("month", &format_args!("{:#x}", s.month))
                .field("day_of_week", &format_args!("{:#x}", s.day_of_week))
                .field("zone", &s.zone.iana_name().unwrap_or("(unnamed)"))
                .finish(),
        }
    }
}

impl Schedule {
    /// Parses `spec` as `ParseStandard` does, in `zone` unless it starts
    /// with `TZ=<name> ` or `CRON_TZ=<name> `; `local` is what the name
    /// `Local` means there.
    pub fn parse(spec: &str, zone: TimeZone, local: &TimeZone) -> Result<Schedule, ScheduleError> {
        if spec.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let mut zone = zone;
        let mut spec = spec;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let eq = spec.find('=').unwrap_or(0);
            let space = spec.find(' ').unwrap_or(spec.len());
            let name = spec.get(eq + 1..space).unwrap_or_default();
            zone = load_zone(name, local).map_err(|e| ScheduleError::BadLocation(name.to_string(), e))?;
            spec = spec[space..].trim();
        }
        if spec.starts_with('@') {
            return descriptor(spec, zone);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
            return Err(ScheduleError::FieldCount(fields.iter().map(ToString::to_string).collect()));
        };
        Ok(Schedule(Kind::Fields(Fields {
            minute: field(minute, &MINUTES)?,
            hour: field(hour, &HOURS)?,
            day_of_month: field(day_of_month, &DAYS_OF_MONTH)?,
            month: field(month, &MONTHS)?,
            day_of_week: field(day_of_week, &DAYS_OF_WEEK)?,
            zone,
        })))
    }

    /// The first time strictly after `after` at which the schedule fires, or
    /// `None` if it fires at no time in the next five years (robfig's
    /// horizon; `0 0 30 2 *` parses but never fires).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.0 {
            Kind::Every(delay) => {
                let whole = after.checked_sub(SignedDuration::from_nanos(i64::from(after.subsec_nanosecond()))).ok()?;
                whole.checked_add(*delay).ok()
            }
            Kind::Fields(fields) => fields.next_after(after),
        }
    }
}

/// The `@` forms: fixed schedules, or `@every <Go duration>`.
fn descriptor(spec: &str, zone: TimeZone) -> Result<Schedule, ScheduleError> {
    let at = |minute: u64, hour: u64, day_of_month: u64, month: u64, day_of_week: u64| {
        Ok(Schedule(Kind::Fields(Fields { minute, hour, day_of_month, month, day_of_week, zone: zone.clone() })))
    };
    let all = |b: &Bounds| bits(b.min, b.max, 1) | STAR;
    match spec {
        "@yearly" | "@annually" => at(1, 1, 1 << 1, 1 << 1, all(&DAYS_OF_WEEK)),
        "@monthly" => at(1, 1, 1 << 1, all(&MONTHS), all(&DAYS_OF_WEEK)),
        "@weekly" => at(1, 1, all(&DAYS_OF_MONTH), all(&MONTHS), 1),
        "@daily" | "@midnight" => at(1, 1, all(&DAYS_OF_MONTH), all(&MONTHS), all(&DAYS_OF_WEEK)),
        "@hourly" => at(1, all(&HOURS), all(&DAYS_OF_MONTH), all(&MONTHS), all(&DAYS_OF_WEEK)),
        _ => match spec.strip_prefix("@every ") {
            Some(duration) => {
                let d = go_duration(duration)
                    .map_err(|reason| ScheduleError::BadDuration { spec: spec.to_string(), reason })?;
                // robfig's `Every`: at least a second, and whole seconds only.
                let d = d.max(SignedDuration::from_secs(1));
                Ok(Schedule(Kind::Every(SignedDuration::from_secs(d.as_secs()))))
            }
            None => Err(ScheduleError::UnknownDescriptor(spec.to_string())),
        },
    }
}

/// A comma-separated list of ranges; empty items are skipped, as Go's
/// `strings.FieldsFunc` skips them.
fn field(text: &str, bounds: &Bounds) -> Result<u64, ScheduleError> {
    let mut set = 0;
    for expr in text.split(',').filter(|e| !e.is_empty()) {
        set |= range(expr, bounds)?;
    }
    Ok(set)
}

/// `*`, `?`, `N`, `N-M`, each optionally `/step`; `N/step` means `N-max/step`.
fn range(expr: &str, b: &Bounds) -> Result<u64, ScheduleError> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let mut star = 0;
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        star = STAR;
        (b.min, b.max)
    } else {
        let start = number_or_name(low_and_high[0], b)?;
        match low_and_high.len() {
            1 => (start, start),
            2 => (start, number_or_name(low_and_high[1], b)?),
            _ => return Err(ScheduleError::TooManyHyphens(expr.to_string())),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = number(range_and_step[1])?;
            if low_and_high.len() == 1 {
                end = b.max;
            }
            // `*/2` is a list of values, not "any": it counts as restricted
            // for the day-of-month/day-of-week rule.
            if step > 1 {
                star = 0;
            }
            step
        }
        _ => return Err(ScheduleError::TooManySlashes(expr.to_string())),
    };
    let expr = expr.to_string();
    if start < b.min {
        return Err(ScheduleError::BelowMinimum { start, min: b.min, expr });
    }
    if end > b.max {
        return Err(ScheduleError::AboveMaximum { end, max: b.max, expr });
    }
    if start > end {
        return Err(ScheduleError::Backwards { start, end, expr });
    }
    if step == 0 {
        return Err(ScheduleError::ZeroStep(expr));
    }
    Ok(bits(start, end, step) | star)
}

fn number_or_name(expr: &str, b: &Bounds) -> Result<u64, ScheduleError> {
    let lower = expr.to_ascii_lowercase();
    match b.names.iter().position(|n| *n == lower) {
        Some(i) => Ok(b.min + i as u64),
        None => number(expr),
    }
}

/// Go's `strconv.Atoi` (an optional sign, decimal digits, within i64), then non-negative.
fn number(expr: &str) -> Result<u64, ScheduleError> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScheduleError::NotANumber { expr: expr.to_string(), reason: "invalid syntax" });
    }
    let value: i64 = expr
        .strip_prefix('+')
        .unwrap_or(expr)
        .parse()
        .map_err(|_| ScheduleError::NotANumber { expr: expr.to_string(), reason: "value out of range" })?;
    u64::try_from(value).map_err(|_| ScheduleError::Negative { value, expr: expr.to_string() })
}

fn bits(min: u64, max: u64, step: u64) -> u64 {
    (min..=max).step_by(usize::try_from(step).unwrap_or(usize::MAX)).fold(0, |set, v| set | 1 << v)
}

fn has(set: u64, value: i8) -> bool {
    u32::try_from(value).is_ok_and(|v| v < 63 && set & (1 << v) != 0)
}

impl Fields {
    /// Whether no time can ever match (a field like `,` allows no value),
    /// answered up front rather than by walking five years minute by minute.
    fn never(&self) -> bool {
        let days = if (self.day_of_month | self.day_of_week) & STAR != 0 {
            self.day_of_month & !STAR == 0 || self.day_of_week & !STAR == 0
        } else {
            (self.day_of_month | self.day_of_week) & !STAR == 0
        };
        self.minute & !STAR == 0 || self.hour & !STAR == 0 || self.month & !STAR == 0 || days
    }

    /// Cron's day rule: when both day fields are restricted, either may
    /// match; when either is `*`, both must.
    fn day_matches(&self, t: &Zoned) -> bool {
        let dom = has(self.day_of_month, t.day());
        let dow = has(self.day_of_week, t.weekday().to_sunday_zero_offset());
        if (self.day_of_month | self.day_of_week) & STAR != 0 { dom && dow } else { dom || dow }
    }

    /// Walks forward from the next whole second, one field at a time from
    /// the month down, each step landing on the first instant of the next
    /// month, day, hour or minute, and starts over after every step. Hours
    /// and minutes advance in absolute time, so an hour skipped by a
    /// daylight-saving change is never matched and a repeated hour is
    /// matched twice, as robfig's `Next` does; days and months advance on
    /// the calendar, starting at the day's first instant (which is not
    /// midnight where midnight is skipped).
    fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        if self.never() {
            return None;
        }
        let upcoming = SignedDuration::new(1, -after.subsec_nanosecond());
        let mut t = after.checked_add(upcoming).ok()?.to_zoned(self.zone.clone());
        let horizon = t.year() + 5;
        loop {
            if t.year() > horizon {
                return None;
            }
            if !has(self.month, t.month()) {
                let first = t.date().first_of_month().checked_add(1.month()).ok()?;
                t = first.to_zoned(self.zone.clone()).ok()?;
            } else if !self.day_matches(&t) {
                t = t.date().tomorrow().ok()?.to_zoned(self.zone.clone()).ok()?;
            } else if !has(self.hour, t.hour()) {
                let into_hour = i64::from(t.minute()) * 60 + i64::from(t.second());
                t = t.checked_add(SignedDuration::from_secs(3600 - into_hour)).ok()?;
            } else if !has(self.minute, t.minute()) || t.second() != 0 {
                t = t.checked_add(SignedDuration::from_secs(60 - i64::from(t.second()))).ok()?;
            } else {
                return Some(t.timestamp());
            }
        }
    }
}

/// Go's `time.ParseDuration` (`1h30m`, `1.5h`, `90s`, `-2m`, `0`), with its error messages.
fn go_duration(text: &str) -> Result<SignedDuration, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(text));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int_part, after_int) = rest.split_at(int_len);
        let (frac_part, after_num) = match after_int.strip_prefix('.') {
            Some(f) => f.split_at(f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len())),
            None => ("", after_int),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = after_num.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(after_num.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(text)));
        }
        let (unit, tail) = after_num.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {} in duration {}", go_quote(unit), go_quote(text))),
        };
        let whole: u128 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| invalid())? };
        let mut value = whole.checked_mul(nanos_per_unit).ok_or_else(invalid)?;
        // The fraction, to the nanosecond (Go rounds through a float; this truncates).
        let mut scale = nanos_per_unit;
        for digit in frac_part.bytes().take(30) {
            scale /= 10;
            value += u128::from(digit - b'0') * scale;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > 1 << 63 {
            return Err(invalid());
        }
        rest = tail;
    }
    let nanos = i128::try_from(total).map_err(|_| invalid())?;
    let nanos = if negative { -nanos } else { nanos };
    let nanos = i64::try_from(nanos).map_err(|_| invalid())?;
    Ok(SignedDuration::from_nanos(nanos))
}

/// Go's `strconv.Quote` for the strings that reach an error message.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(spec, TimeZone::UTC, &TimeZone::UTC)
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// The first `n` fire times after `after`, as RFC 3339 instants.
    fn fires(spec: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
        let schedule = Schedule::parse(spec, zone(tz), &TimeZone::UTC).unwrap();
        let mut t = at(after);
        let mut out = Vec::new();
        for _ in 0..n {
            t = schedule.next_after(t).unwrap();
            out.push(t.to_zoned(zone(tz)).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
        }
        out
    }

    #[test]
    fn fields_lists_ranges_steps_and_names() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("* * * * *", "2024-05-01T10:00:30Z", &["2024-05-01T10:01:00+00:00", "2024-05-01T10:02:00+00:00"]),
            ("*/15 * * * *", "2024-05-01T10:07:00Z", &["2024-05-01T10:15:00+00:00", "2024-05-01T10:30:00+00:00"]),
            ("5/20 * * * *", "2024-05-01T10:00:00Z", &["2024-05-01T10:05:00+00:00", "2024-05-01T10:25:00+00:00"]),
            ("0 9-17/4 * * *", "2024-05-01T10:00:00Z", &["2024-05-01T13:00:00+00:00", "2024-05-01T17:00:00+00:00"]),
            ("30 6 1,15 * *", "2024-05-02T00:00:00Z", &["2024-05-15T06:30:00+00:00", "2024-06-01T06:30:00+00:00"]),
            ("0 0 1 jan,JUL ?", "2024-05-02T00:00:00Z", &["2024-07-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00"]),
            // 2024-05-01 is a Wednesday.
            ("0 12 * * MON-fri", "2024-05-03T12:00:00Z", &["2024-05-06T12:00:00+00:00", "2024-05-07T12:00:00+00:00"]),
            ("0 0 * * 0", "2024-05-01T00:00:00Z", &["2024-05-05T00:00:00+00:00", "2024-05-12T00:00:00+00:00"]),
            // Both day fields restricted: either matches (the 13th, or any Friday).
            (
                "0 0 13 * 5",
                "2024-09-01T00:00:00Z",
                &["2024-09-06T00:00:00+00:00", "2024-09-13T00:00:00+00:00", "2024-09-20T00:00:00+00:00"],
            ),
            // `*/2` restricts: odd days or Mondays.
            ("0 0 */2 * 1", "2024-05-01T00:00:00Z", &["2024-05-03T00:00:00+00:00", "2024-05-05T00:00:00+00:00"]),
            // One `*` day field: both must match (Mondays in any month).
            ("0 0 * * 1", "2024-05-01T00:00:00Z", &["2024-05-06T00:00:00+00:00"]),
            // Leap day.
            ("0 0 29 2 *", "2024-03-01T00:00:00Z", &["2028-02-29T00:00:00+00:00"]),
        ];
        for (spec, after, want) in cases {
            assert_eq!(fires(spec, "UTC", after, want.len()), *want, "{spec} after {after}");
        }
    }

    #[test]
    fn descriptors() {
        let cases: &[(&str, &str)] = &[
            ("@yearly", "2025-01-01T00:00:00+00:00"),
            ("@annually", "2025-01-01T00:00:00+00:00"),
            ("@monthly", "2024-06-01T00:00:00+00:00"),
            ("@weekly", "2024-05-05T00:00:00+00:00"),
            ("@daily", "2024-05-02T00:00:00+00:00"),
            ("@midnight", "2024-05-02T00:00:00+00:00"),
            ("@hourly", "2024-05-01T11:00:00+00:00"),
        ];
        for (spec, want) in cases {
            assert_eq!(fires(spec, "UTC", "2024-05-01T10:20:00Z", 1), [*want], "{spec}");
        }
        // `@every` counts from the given instant, in whole seconds.
        let every = parse("@every 1h30m").unwrap();
        assert_eq!(every.next_after(at("2024-05-01T10:20:00.5Z")), Some(at("2024-05-01T11:50:00Z")));
        let tiny = parse("@every 10ms").unwrap();
        assert_eq!(tiny.next_after(at("2024-05-01T10:20:00Z")), Some(at("2024-05-01T10:20:01Z")));
        let fractional = parse("@every 1.5m").unwrap();
        assert_eq!(fractional.next_after(at("2024-05-01T10:20:00Z")), Some(at("2024-05-01T10:21:30Z")));
    }

    #[test]
    fn a_schedule_runs_in_its_zone_and_a_prefix_overrides_it() {
        assert_eq!(fires("0 9 * * *", "Asia/Tokyo", "2024-04-30T23:00:00Z", 1), ["2024-05-01T09:00:00+09:00"]);
        let prefixed = Schedule::parse("CRON_TZ=Asia/Tokyo 0 9 * * *", TimeZone::UTC, &TimeZone::UTC).unwrap();
        assert_eq!(prefixed.next_after(at("2024-04-30T23:00:00Z")), Some(at("2024-05-01T09:00:00+09:00")));
        let tz = Schedule::parse("TZ=America/New_York @daily", TimeZone::UTC, &TimeZone::UTC).unwrap();
        assert_eq!(tz.next_after(at("2024-05-01T00:00:00Z")), Some(at("2024-05-01T04:00:00Z")));
        let local = Schedule::parse("TZ=Local 0 9 * * *", TimeZone::UTC, &zone("Europe/Berlin")).unwrap();
        assert_eq!(local.next_after(at("2024-05-01T00:00:00Z")), Some(at("2024-05-01T07:00:00Z")));
    }

    #[test]
    fn spring_forward_skips_the_missing_hour() {
        // New York, 2024-03-10: 02:00 EST becomes 03:00 EDT, so 02:30 does not happen that day.
        assert_eq!(
            fires("30 2 * * *", "America/New_York", "2024-03-09T12:00:00Z", 3),
            ["2024-03-11T02:30:00-04:00", "2024-03-12T02:30:00-04:00", "2024-03-13T02:30:00-04:00"]
        );
    }

    #[test]
    fn hourly_and_daily_across_daylight_saving_changes() {
        // Hourly: 01:00 EST is followed by 03:00 EDT, one real hour later.
        assert_eq!(
            fires("0 * * * *", "America/New_York", "2024-03-10T05:30:00Z", 3),
            ["2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T04:00:00-04:00"]
        );
        // Fall back on 2024-11-03: 01:30 happens twice, and fires twice.
        assert_eq!(
            fires("30 1 * * *", "America/New_York", "2024-11-02T12:00:00Z", 3),
            ["2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00", "2024-11-04T01:30:00-05:00"]
        );
        // A daily job outside the changed hours keeps its wall time.
        assert_eq!(
            fires("0 9 * * *", "Europe/London", "2024-03-30T12:00:00Z", 2),
            ["2024-03-31T09:00:00+01:00", "2024-04-01T09:00:00+01:00"]
        );
        // Where midnight itself is skipped (São Paulo, 2018-11-04), the day's
        // first instant is 01:00: a midnight job skips that day, a 01:00 job runs.
        assert_eq!(
            fires("0 0 * * *", "America/Sao_Paulo", "2018-11-03T12:00:00Z", 2),
            ["2018-11-05T00:00:00-02:00", "2018-11-06T00:00:00-02:00"]
        );
        assert_eq!(
            fires("0 1 * * *", "America/Sao_Paulo", "2018-11-03T12:00:00Z", 2),
            ["2018-11-04T01:00:00-02:00", "2018-11-05T01:00:00-02:00"]
        );
    }

    #[test]
    fn a_schedule_that_never_fires_has_no_next_time() {
        for spec in ["0 0 30 2 *", "0 0 31 4 *", ", * * * *"] {
            assert_eq!(parse(spec).unwrap().next_after(at("2024-01-01T00:00:00Z")), None, "{spec}");
        }
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("", "empty spec string"),
            ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
            ("0 * * * * *", "expected exactly 5 fields, found 6: [0 * * * * *]"),
            (" @daily", "expected exactly 5 fields, found 1: [@daily]"),
            ("60 * * * *", "end of range (60) above maximum (59): 60"),
            ("* 24 * * *", "end of range (24) above maximum (23): 24"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            ("* * * 13 *", "end of range (13) above maximum (12): 13"),
            ("* * * * 7", "end of range (7) above maximum (6): 7"),
            ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("*/2/3 * * * *", "too many slashes: */2/3"),
            ("*/0 * * * *", "step of range should be a positive number: */0"),
            ("*/-1 * * * *", "negative number (-1) not allowed: -1"),
            ("x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"),
            ("-5 * * * *", "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax"),
            (
                "99999999999999999999 * * * *",
                "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range",
            ),
            ("* * * foo *", "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax"),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            ("@daily ", "unrecognized descriptor: @daily "),
            ("@every 1d", "failed to parse duration @every 1d: time: unknown unit \"d\" in duration \"1d\""),
            ("@every 10", "failed to parse duration @every 10: time: missing unit in duration \"10\""),
            ("@every ", "failed to parse duration @every : time: invalid duration \"\""),
            ("@every h", "failed to parse duration @every h: time: invalid duration \"h\""),
            ("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
            (
                "CRON_TZ=america/new_york * * * * *",
                "provided bad location america/new_york: unknown time zone america/new_york",
            ),
            ("TZ=UTC", "expected exactly 5 fields, found 0: []"),
        ];
        for (spec, want) in cases {
            let got = parse(spec).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{spec:?}");
        }
    }

    #[test]
    fn upstream_quirks_are_kept() {
        // `*-5` is `*` (the range after a star is ignored), `?` is `*`, empty list items are skipped.
        assert_eq!(parse("*-5 * * * *").unwrap(), parse("* * * * *").unwrap());
        assert_eq!(parse("? ? ? ? ?").unwrap(), parse("* * * * *").unwrap());
        assert_eq!(parse("1,,2 * * * *").unwrap(), parse("1,2 * * * *").unwrap());
        assert_eq!(parse("+5 * * * *").unwrap(), parse("5 * * * *").unwrap());
        // A negative or zero `@every` is one second.
        let every = parse("@every -5m").unwrap();
        assert_eq!(every.next_after(at("2024-05-01T10:20:00Z")), Some(at("2024-05-01T10:20:01Z")));
        assert_eq!(parse("@every 0").unwrap(), every);
    }

    #[test]
    fn zones_load_as_go_loads_them() {
        assert_eq!(load_zone("", &zone("Asia/Tokyo")), Ok(TimeZone::UTC));
        assert_eq!(load_zone("UTC", &zone("Asia/Tokyo")), Ok(TimeZone::UTC));
        assert_eq!(load_zone("Local", &zone("Asia/Tokyo")), Ok(zone("Asia/Tokyo")));
        assert_eq!(load_zone("Europe/Paris", &TimeZone::UTC).unwrap().iana_name(), Some("Europe/Paris"));
        assert_eq!(load_zone("europe/paris", &TimeZone::UTC), Err(UnknownZone("europe/paris".into())));
        assert_eq!(
            load_zone("Nowhere/Special", &TimeZone::UTC).unwrap_err().to_string(),
            "unknown time zone Nowhere/Special"
        );
    }
}
