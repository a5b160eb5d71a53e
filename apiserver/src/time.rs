//! RFC 3339 timestamps as Kubernetes writes them (`metav1.Time`, `metav1.MicroTime`) and the
//! human-readable durations that `kubectl get` shows in AGE-like columns
//! (k8s.io/apimachinery/pkg/util/duration.HumanDuration).
//!
//! Everything here is pure arithmetic on integers: there is no clock (callers pass "now"), no
//! time-zone database (only numeric offsets), and no leap seconds, matching Go's `time` package.

/// Nanoseconds in one second.
const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Seconds in one civil day; Unix time ignores leap seconds, so every day has exactly this many.
const SECS_PER_DAY: i64 = 86_400;

/// Unix seconds of `0001-01-01T00:00:00Z`, Go's zero `time.Time`. Kubernetes treats a timestamp
/// equal to it as unset (`metav1.Time.IsZero`), and prints it when it formats an unset one.
pub const ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// Parses an RFC 3339 timestamp (`2024-01-02T03:04:05Z`, also with fractional seconds and
/// `+hh:mm`/`-hh:mm` offsets) into Unix seconds, rounding fractions down like Go's `Time.Unix`.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let nanos = parse_rfc3339_nanos(text)?;
    i64::try_from(nanos.div_euclid(NANOS_PER_SEC)).ok()
}

/// Parses an RFC 3339 timestamp into nanoseconds since the Unix epoch. It accepts what Go's
/// `time.Parse(time.RFC3339, ..)` accepts: a four-digit year, an upper-case `T` and `Z`, and a
/// fraction of any length after a `.` or `,`, of which only the first nine digits count.
pub fn parse_rfc3339_nanos(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    // Go rejects a 60th second and the 24th hour, so a leap second never parses.
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }

    let mut pos = 19;
    let mut nanos: i128 = 0;
    if pos < b.len() && (b[pos] == b'.' || b[pos] == b',') {
        let start = pos + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return None;
        }
        // Digits past the ninth are below a nanosecond; Go drops them rather than rounding.
        let mut scale: i128 = 100_000_000;
        for &digit in &b[start..end.min(start + 9)] {
            nanos += i128::from(digit - b'0') * scale;
            scale /= 10;
        }
        pos = end;
    }

    let offset_secs: i64 = match b.get(pos) {
        Some(b'Z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let off_hour = digits(b, pos + 1, 2)?;
            let off_minute = digits(b, pos + 4, 2)?;
            if off_hour > 23 || off_minute > 59 {
                return None;
            }
            let magnitude = off_hour * 3600 + off_minute * 60;
            if sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };

    let local_secs = days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second;
    // A local time east of UTC happened earlier in UTC, hence the subtraction.
    Some(i128::from(local_secs - offset_secs) * NANOS_PER_SEC + nanos)
}

/// Formats Unix seconds the way `metav1.Time` marshals: `2024-01-02T03:04:05Z`, always in UTC.
pub fn format_rfc3339(unix_secs: i64) -> String {
    let (date, clock) = split_civil(unix_secs);
    format!("{date}T{clock}Z")
}

/// Formats a `metav1.MicroTime`: `2024-01-02T03:04:05.123456Z`, always six fractional digits.
/// Micros beyond 999999 are clamped, since they would belong to the next second.
pub fn format_rfc3339_micros(unix_secs: i64, micros: u32) -> String {
    let (date, clock) = split_civil(unix_secs);
    format!("{date}T{clock}.{:06}Z", micros.min(999_999))
}

/// Whole seconds from `earlier` to `later` (both nanoseconds since the epoch), computed like Go's
/// `later.Sub(earlier).Seconds()` truncated by `int(..)`: the difference saturates at the range of
/// a `time.Duration` (about 292 years) and fractions are cut toward zero.
pub fn seconds_between(earlier_nanos: i128, later_nanos: i128) -> i64 {
    let diff = later_nanos.saturating_sub(earlier_nanos);
    let clamped = diff.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    // The clamp keeps the quotient well inside i64, so the fallback is never taken.
    i64::try_from(clamped / NANOS_PER_SEC).unwrap_or(0)
}

/// A succinct duration with two or three significant figures, exactly as
/// k8s.io/apimachinery/pkg/util/duration.HumanDuration prints it: `45s`, `3m2s`, `15m`, `2h5m`,
/// `20h`, `2d5h`, `30d`, `2y10d`, `12y`. A clock up to one second ahead of the server still reads
/// `0s`; anything further in the future is `<invalid>`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".to_string();
    }
    if secs < 0 {
        return "0s".to_string();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let rest = secs % 60;
        return if rest == 0 { format!("{minutes}m") } else { format!("{minutes}m{rest}s") };
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let rest = minutes % 60;
        return if rest == 0 { format!("{hours}h") } else { format!("{hours}h{rest}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let rest = hours % 24;
        let days = hours / 24;
        return if rest == 0 { format!("{days}d") } else { format!("{days}d{rest}h") };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let years = hours / 24 / 365;
        let rest = (hours / 24) % 365;
        return if rest == 0 { format!("{years}y") } else { format!("{years}y{rest}d") };
    }
    format!("{}y", hours / 24 / 365)
}

/// Reads `len` ASCII digits at `start` as a number.
fn digits(b: &[u8], start: usize, len: usize) -> Option<i64> {
    let slice = b.get(start..start + len)?;
    slice.iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. The year is counted from March so that
/// the leap day falls at the end, which makes every month before it a fixed offset; the 400-year
/// cycle (146097 days) then reduces any year to one of a single cycle.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let march_year = if month <= 2 { year - 1 } else { year };
    let cycle = march_year.div_euclid(400);
    let year_of_cycle = march_year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    // 719468 is the number of days from 0000-03-01 to 1970-01-01.
    cycle * 146_097 + day_of_cycle - 719_468
}

/// The inverse of `days_from_civil`: the (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let cycle = shifted.div_euclid(146_097);
    let day_of_cycle = shifted.rem_euclid(146_097);
    let year_of_cycle = (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Splits Unix seconds into `YYYY-MM-DD` and `hh:mm:ss` in UTC.
fn split_civil(unix_secs: i64) -> (String, String) {
    let days = unix_secs.div_euclid(SECS_PER_DAY);
    let of_day = unix_secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", of_day / 3600, of_day % 3600 / 60, of_day % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One expectation: an input and the exact output upstream produces for it.
    fn check<I: std::fmt::Debug + Copy, O: PartialEq + std::fmt::Debug>(f: impl Fn(I) -> O, cases: &[(I, O)]) {
        for (input, want) in cases {
            assert_eq!(&f(*input), want, "input {input:?}");
        }
    }

    #[test]
    fn human_duration_matches_apimachinery_boundaries() {
        let d = |s: i64| human_duration(s);
        let (m, h, day) = (60, 3600, 86_400);
        check(
            d,
            &[
                (-3, "<invalid>".to_string()),
                (-2, "<invalid>".to_string()),
                (-1, "0s".to_string()),
                (0, "0s".to_string()),
                (5, "5s".to_string()),
                (119, "119s".to_string()),
                (2 * m, "2m".to_string()),
                (3 * m + 2, "3m2s".to_string()),
                (9 * m + 59, "9m59s".to_string()),
                (10 * m, "10m".to_string()),
                (10 * m + 30, "10m".to_string()),
                (3 * h - 1, "179m".to_string()),
                (3 * h, "3h".to_string()),
                (3 * h + 5 * m + 59, "3h5m".to_string()),
                (8 * h - 1, "7h59m".to_string()),
                (8 * h, "8h".to_string()),
                (48 * h - 1, "47h".to_string()),
                (48 * h, "2d".to_string()),
                (2 * day + 5 * h, "2d5h".to_string()),
                (8 * day - 1, "7d23h".to_string()),
                (8 * day, "8d".to_string()),
                (365 * 2 * day - 1, "729d".to_string()),
                (365 * 2 * day, "2y".to_string()),
                (365 * 2 * day + 10 * day, "2y10d".to_string()),
                (365 * 8 * day - 1, "7y364d".to_string()),
                (365 * 8 * day, "8y".to_string()),
                (365 * 12 * day + 100 * day, "12y".to_string()),
            ],
        );
    }

    #[test]
    fn parses_what_kubernetes_writes() {
        check(
            parse_rfc3339,
            &[
                ("1970-01-01T00:00:00Z", Some(0)),
                ("2024-01-02T03:04:05Z", Some(1_704_164_645)),
                ("2024-02-29T23:59:59Z", Some(1_709_251_199)),
                ("2000-03-01T00:00:00Z", Some(951_868_800)),
                ("1969-12-31T23:59:59Z", Some(-1)),
                ("0001-01-01T00:00:00Z", Some(ZERO_TIME_UNIX)),
                // Fractions round down, also before the epoch.
                ("2024-01-02T03:04:05.999999Z", Some(1_704_164_645)),
                ("1969-12-31T23:59:59.5Z", Some(-1)),
                ("2024-01-02T05:04:05+02:00", Some(1_704_164_645)),
                ("2024-01-01T22:04:05-05:00", Some(1_704_164_645)),
                ("2024-01-02T03:04:05,25Z", Some(1_704_164_645)),
                ("", None),
                ("2024-01-02", None),
                ("2024-01-02 03:04:05Z", None),
                ("2024-01-02T03:04:05", None),
                ("2024-01-02t03:04:05z", None),
                ("2023-02-29T00:00:00Z", None),
                ("2024-13-01T00:00:00Z", None),
                ("2024-01-02T24:00:00Z", None),
                ("2024-01-02T23:59:60Z", None),
                ("2024-01-02T03:04:05.Z", None),
                ("2024-01-02T03:04:05+0200", None),
                ("2024-01-02T03:04:05Zjunk", None),
                ("２024-01-02T03:04:05Z", None),
            ],
        );
    }

    #[test]
    fn fractions_keep_nanoseconds() {
        check(
            parse_rfc3339_nanos,
            &[
                ("1970-01-01T00:00:01.123456Z", Some(1_123_456_000)),
                ("1970-01-01T00:00:00.1234567891234Z", Some(123_456_789)),
                ("1969-12-31T23:59:59.5Z", Some(-500_000_000)),
            ],
        );
    }

    #[test]
    fn formats_and_round_trips() {
        check(
            format_rfc3339,
            &[
                (0, "1970-01-01T00:00:00Z".to_string()),
                (1_704_164_645, "2024-01-02T03:04:05Z".to_string()),
                (-1, "1969-12-31T23:59:59Z".to_string()),
                (ZERO_TIME_UNIX, "0001-01-01T00:00:00Z".to_string()),
                (253_402_300_799, "9999-12-31T23:59:59Z".to_string()),
            ],
        );
        assert_eq!(format_rfc3339_micros(1_704_164_645, 123_456), "2024-01-02T03:04:05.123456Z");
        assert_eq!(format_rfc3339_micros(0, 7), "1970-01-01T00:00:00.000007Z");
        // Every day across leap years, centuries and the epoch survives a round trip.
        for secs in (ZERO_TIME_UNIX..253_402_300_799).step_by(86_400 * 7 + 3_601) {
            let text = format_rfc3339(secs);
            assert_eq!(parse_rfc3339(&text), Some(secs), "{text}");
        }
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn durations_truncate_and_saturate_like_go() {
        let s = NANOS_PER_SEC;
        check(
            |(a, b): (i128, i128)| seconds_between(a, b),
            &[
                ((0, 5 * s), 5),
                ((0, 5 * s - 1), 4),
                ((s, 0), -1),
                ((s + s / 2, 0), -1),
                ((2 * s, 0), -2),
                ((0, i128::from(i64::MAX) * 1000), i64::MAX / 1_000_000_000),
            ],
        );
    }
}
