//! Validation of Kubernetes objects held as `serde_json::Value`, written to reject invalid
//! objects exactly as kube-apiserver v1.33 does: the same field paths, error types, causes
//! and messages (`Deployment.apps "web" is invalid: spec.template.spec.containers[0].image:
//! Required value`), because kubectl users read them.
//!
//! It checks ObjectMeta and the specs of the common built-in kinds on create and on update,
//! including upstream's immutability rules and its order of errors. It does not default or
//! allocate anything: objects must arrive after defaulting and after the registry's own
//! preparation (Job selector generation, Service IP allocation, server-managed metadata
//! restored); only for its checks it mirrors a Service's `clusterIP` into `clusterIPs` and
//! counts Secret `stringData` as `data`. Its only IO is a look-up in the host's tz database
//! for CronJob `timeZone`. It builds no HTTP response; [`invalid_message`], [`FieldError::reason`] and [`FieldError::cause_message`] give
//! the `metav1.Status` message and causes.
//! Where upstream prints a Go struct dump with pointer addresses or a `cmp.Diff`, the text
//! here is an approximation (see [`GO_REPR_KEY`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------
// Field errors and the Status message
// ---------------------------------------------------------------------------------------

/// Upstream's `field.ErrorType`: what is wrong with a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A value refers to something that does not exist.
    NotFound,
    /// A required value is missing or empty.
    Required,
    /// A value that must be unique appears twice.
    Duplicate,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of an enumerated set.
    NotSupported,
    /// A value is well formed but not allowed here.
    Forbidden,
    /// A value is longer than allowed; the value itself is not echoed.
    TooLong,
    /// A list has more items than allowed.
    TooMany,
    /// Something went wrong that is not the user's doing.
    Internal,
    /// The JSON value has the wrong type for the field (a string where a number belongs).
    TypeInvalid,
}

impl FieldErrorKind {
    /// The `details.causes[].reason` string (`FieldValueRequired`, ...).
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Internal => "InternalError",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// Upstream's canonical text for the kind (`Required value`, `Invalid value`, ...).
    pub fn text(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Internal => "Internal error",
        }
    }
}

/// One field-level validation error, upstream's `field.Error`.
///
/// `bad_value` is the offending value as JSON; `None` means upstream omits the value from
/// the message. `Some(Value::Null)` prints as upstream prints a nil pointer (`"null"`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    pub field: String,
    pub detail: String,
    pub bad_value: Option<Value>,
}

/// A bad value that upstream prints as a Go composite literal (a struct, a typed map or
/// slice) is carried as a one-key JSON object `{"$goRepr": "<text>"}` and printed verbatim.
/// Pointer addresses inside such literals are not reproducible; `0xc000000000` stands in.
pub const GO_REPR_KEY: &str = "$goRepr";

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Required, field, None, detail)
    }

    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Invalid, field, Some(value), detail)
    }

    pub fn type_invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::TypeInvalid, field, Some(value), detail)
    }

    pub fn duplicate(field: impl Into<String>, value: Value) -> Self {
        Self::new(FieldErrorKind::Duplicate, field, Some(value), "")
    }

    pub fn not_found(field: impl Into<String>, value: Value) -> Self {
        Self::new(FieldErrorKind::NotFound, field, Some(value), "")
    }

    /// `supported` is printed in the given order, each value quoted, as upstream does.
    pub fn not_supported(field: impl Into<String>, value: Value, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(FieldErrorKind::NotSupported, field, Some(value), detail)
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Forbidden, field, None, detail)
    }

    pub fn too_long(field: impl Into<String>, max_bytes: i64) -> Self {
        let detail = if max_bytes >= 0 {
            format!("may not be more than {max_bytes} bytes")
        } else {
            "value is too long".to_string()
        };
        Self::new(FieldErrorKind::TooLong, field, None, detail)
    }

    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 { format!("must have at most {max} items") } else { "has too many items".to_string() };
        let value = if actual >= 0 { Some(Value::from(actual)) } else { None };
        Self::new(FieldErrorKind::TooMany, field, value, detail)
    }

    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Internal, field, None, detail)
    }

    fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self { kind, field: field.into(), detail: detail.into(), bad_value }
    }

    /// The cause `reason` string, e.g. `FieldValueRequired`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// Upstream's `ErrorBody()`: the cause `message`, without the field path, e.g.
    /// `Invalid value: "x": <detail>` or `Too long: may not be more than 63 bytes`.
    pub fn cause_message(&self) -> String {
        use FieldErrorKind as K;
        let text = self.kind.text();
        let mut s = match (self.kind, &self.bad_value) {
            (K::Required | K::Forbidden | K::TooLong | K::Internal, _) | (_, None) => text.to_string(),
            (_, Some(v)) => format!("{text}: {}", render_value(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.cause_message())
    }
}

/// The `metav1.Status` message for a 422, as upstream's `errors.NewInvalid` builds it:
/// `Deployment.apps "web" is invalid: <error>` or, for several distinct errors,
/// `Pod "x" is invalid: [a: ..., b: ...]`. Identical error lines are shown once, although
/// every error still belongs in `details.causes`.
pub fn invalid_message(kind: &str, group: &str, name: &str, errs: &[FieldError]) -> String {
    let qualified = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
    let mut seen = BTreeSet::new();
    let mut lines = Vec::new();
    for e in errs {
        let line = e.to_string();
        if seen.insert(line.clone()) {
            lines.push(line);
        }
    }
    match lines.len() {
        0 => format!("{qualified} {} is invalid", go_quote(name)),
        1 => format!("{qualified} {} is invalid: {}", go_quote(name), lines[0]),
        _ => format!("{qualified} {} is invalid: [{}]", go_quote(name), lines.join(", ")),
    }
}

// ---------------------------------------------------------------------------------------
// Printing values the way Go's fmt does
// ---------------------------------------------------------------------------------------

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_ascii() && (' '..='~').contains(&c) => out.push(c),
            c if !c.is_ascii() && !c.is_control() && !c.is_whitespace() && !is_format_char(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn is_format_char(c: char) -> bool {
    matches!(c as u32, 0xad | 0x600..=0x605 | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2064 | 0xfeff)
}

/// Go's `%v` for a float64 (shortest digits, exponent form outside [1e-4, 1e6)).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = mant.strip_prefix('-').map_or((false, mant), |m| (true, m));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{sign}{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{sign}{a}.{b}")
    }
}

fn render_value(v: &Value) -> String {
    match v {
        Value::Null => go_quote("null"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                go_float(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => go_quote(s),
        Value::Object(m) => match (m.len(), m.get(GO_REPR_KEY)) {
            (1, Some(Value::String(raw))) => raw.clone(),
            _ => v.to_string(),
        },
        Value::Array(_) => v.to_string(),
    }
}

fn go_raw(text: String) -> Value {
    let mut m = Map::new();
    m.insert(GO_REPR_KEY.to_string(), Value::String(text));
    Value::Object(m)
}

/// Placeholder for a Go pointer address inside a `%#v` dump.
const GO_PTR: &str = "0xc000000000";

/// `%#v` of a `map[string]string` decoded from `v` (nil when absent).
fn go_string_map(v: Option<&Value>) -> String {
    match v {
        Some(Value::Object(m)) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", go_quote(k), go_quote(m[*k].as_str().unwrap_or("")))).collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
        _ => "map[string]string(nil)".to_string(),
    }
}

/// `%#v` of a `[]string` (or another slice of string-like type) decoded from `v`.
fn go_string_slice(type_name: &str, v: Option<&Value>) -> String {
    match v {
        Some(Value::Array(a)) => {
            let items: Vec<String> = a.iter().map(|x| go_quote(x.as_str().unwrap_or(""))).collect();
            format!("[]{type_name}{{{}}}", items.join(", "))
        }
        _ => format!("[]{type_name}(nil)"),
    }
}

/// `%#v` of an `intstr.IntOrString`.
fn go_int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}", go_quote(s)),
        Some(Value::Number(n)) => {
            format!("intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}", n.as_i64().unwrap_or(0))
        }
        _ => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_string(),
    }
}

/// `%#v` of a `metav1.LabelSelector` (the value behind the pointer).
fn go_label_selector(v: Option<&Value>) -> String {
    let exprs = match v.and_then(|s| s.get("matchExpressions")) {
        Some(Value::Array(a)) => {
            let items: Vec<String> = a
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(e.get("key").and_then(Value::as_str).unwrap_or("")),
                        go_quote(e.get("operator").and_then(Value::as_str).unwrap_or("")),
                        go_string_slice("string", e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
        _ => "[]v1.LabelSelectorRequirement(nil)".to_string(),
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(v.and_then(|s| s.get("matchLabels"))),
        exprs
    )
}

/// A pointer-to-selector bad value: nil prints as `"null"`, otherwise the struct.
fn selector_value(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(_) => go_raw(go_label_selector(v)),
    }
}

fn go_ptr(type_name: &str, present: bool) -> String {
    if present { format!("(*{type_name})({GO_PTR})") } else { format!("(*{type_name})(nil)") }
}

/// Go's `time.Time.String()` for an RFC 3339 timestamp, shown in UTC as the apiserver
/// (running in UTC) prints decoded `metav1.Time` values.
fn go_time(ts: &str) -> String {
    match parse_rfc3339_utc(ts) {
        Some((y, mo, d, h, mi, s, frac)) => {
            let frac = frac.trim_end_matches('0');
            let frac = if frac.is_empty() { String::new() } else { format!(".{frac}") };
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}{frac} +0000 UTC")
        }
        None => ts.to_string(),
    }
}

fn parse_rfc3339_utc(ts: &str) -> Option<(i64, u32, u32, u32, u32, u32, String)> {
    let b = ts.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = ts.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac = String::new();
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            frac.push(b[i] as char);
            i += 1;
        }
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *c == b'+' { m } else { -m }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d) * 1440 + h * 60 + mi - offset_min;
    let (day, minute) = (days.div_euclid(1440), days.rem_euclid(1440));
    let (y, mo, d) = civil_from_days(day);
    Some((y, mo as u32, d as u32, (minute / 60) as u32, (minute % 60) as u32, s as u32, frac))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

// ---------------------------------------------------------------------------------------
// Name and format checks (apimachinery's util/validation), regexes matched by hand
// ---------------------------------------------------------------------------------------

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_UNDERSCORE_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const WILDCARD_FMT: &str = "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const WILDCARD_ERR: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_ERR: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const PERCENT_FMT: &str = "[0-9]+%";
const PERCENT_ERR: &str = "a valid percent string must be a numeric string followed by an ending '%'";
const HTTP_HEADER_FMT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_ERR: &str = "a valid HTTP header must consist of alphanumeric characters or '-'";
const HTTP_PATH_FMT: &str = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";
const RELAXED_ENV_ERR: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";
const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const LABEL_VALUE_MAX: usize = 63;
const IS_NEGATIVE_MSG: &str = "must be greater than or equal to 0";
const IS_NOT_POSITIVE_MSG: &str = "must be greater than zero";
const IMMUTABLE_MSG: &str = "field is immutable";
const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const MAX_INT32: i64 = i32::MAX as i64;

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push_str(&format!("'{e}', "));
    }
    s.push_str(&format!("regex used for validation is '{fmt}')"));
    s
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn matches_qualified_part(s: &[u8]) -> bool {
    match (s.first(), s.last()) {
        (Some(&f), Some(&l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && s.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

fn matches_dns1123_label(s: &[u8]) -> bool {
    match (s.first(), s.last()) {
        (Some(&f), Some(&l)) => {
            is_lower_alnum(f) && is_lower_alnum(l) && s.iter().all(|&b| is_lower_alnum(b) || b == b'-')
        }
        _ => false,
    }
}

fn matches_dns1123_subdomain(s: &[u8]) -> bool {
    !s.is_empty() && s.split(|&b| b == b'.').all(matches_dns1123_label)
}

/// `_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?` per dot-separated label.
fn matches_dns1123_subdomain_underscore(s: &[u8]) -> bool {
    !s.is_empty()
        && s.split(|&b| b == b'.').all(|l| {
            let l = l.strip_prefix(b"_").unwrap_or(l);
            match (l.first(), l.last()) {
                (Some(&f), Some(&e)) => {
                    is_lower_alnum(f)
                        && is_lower_alnum(e)
                        && l.iter().all(|&b| is_lower_alnum(b) || b == b'-' || b == b'_')
                }
                _ => false,
            }
        })
}

fn matches_dns1035_label(s: &[u8]) -> bool {
    match (s.first(), s.last()) {
        (Some(&f), Some(&l)) => {
            f.is_ascii_lowercase() && is_lower_alnum(l) && s.iter().all(|&b| is_lower_alnum(b) || b == b'-')
        }
        _ => false,
    }
}

fn dns1123_label_bytes(v: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX));
    }
    if !matches_dns1123_label(v) {
        if matches_dns1123_subdomain(v) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, &["my-name", "123-abc"]));
        }
    }
    errs
}

fn dns1123_subdomain_bytes(v: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if !matches_dns1123_subdomain(v) {
        errs.push(regex_error(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

fn dns1035_label_bytes(v: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX));
    }
    if !matches_dns1035_label(v) {
        errs.push(regex_error(DNS1035_LABEL_ERR, DNS1035_LABEL_FMT, &["my-name", "abc-123"]));
    }
    errs
}

/// `IsDNS1123Label`: a lowercase RFC 1123 label (namespaces, container and port names).
pub fn dns1123_label(value: &str) -> Vec<String> {
    dns1123_label_bytes(value.as_bytes())
}

/// `IsDNS1123Subdomain`: a lowercase RFC 1123 subdomain (most object names).
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    dns1123_subdomain_bytes(value.as_bytes())
}

/// `IsDNS1123SubdomainWithUnderscore`, used for relaxed DNS search domains. Upstream's
/// message quotes the regex without underscores; so does this.
pub fn dns1123_subdomain_with_underscore(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if !matches_dns1123_subdomain_underscore(value.as_bytes()) {
        errs.push(regex_error(DNS1123_SUBDOMAIN_UNDERSCORE_ERR, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

/// `IsDNS1035Label`: like a DNS-1123 label but starting with a letter (Service names).
pub fn dns1035_label(value: &str) -> Vec<String> {
    dns1035_label_bytes(value.as_bytes())
}

/// `IsWildcardDNS1123Subdomain`: `*.` followed by a subdomain (Ingress hosts).
pub fn wildcard_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    let ok = value.strip_prefix("*.").is_some_and(|rest| matches_dns1123_subdomain(rest.as_bytes()));
    if !ok {
        errs.push(regex_error(WILDCARD_ERR, WILDCARD_FMT, &["*.example.com"]));
    }
    errs
}

/// `IsQualifiedName`: an optional DNS subdomain prefix and `/`, then a name of at most 63
/// characters (label keys, annotation keys, finalizers, condition types).
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_part(name.as_bytes()) {
        errs.push(format!(
            "name part {}",
            regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

/// `IsValidLabelValue`: empty, or at most 63 characters of a qualified-name shape.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errs.push(max_len_error(LABEL_VALUE_MAX));
    }
    if !value.is_empty() && !matches_qualified_part(value.as_bytes()) {
        errs.push(regex_error(LABEL_VALUE_ERR, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errs
}

/// `IsValidPathSegmentName` (`prefix == false`) or `IsValidPathSegmentPrefix`: the names of
/// RBAC objects and of anything stored under a URL path segment.
pub fn path_segment_name(name: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        for bad in [".", ".."] {
            if name == bad {
                return vec![format!("may not be '{bad}'")];
            }
        }
    }
    ["/", "%"].iter().filter(|bad| name.contains(**bad)).map(|bad| format!("may not contain '{bad}'")).collect()
}

/// `IsConfigMapKey`: keys of ConfigMap and Secret data.
pub fn config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')) {
        errs.push(regex_error(CONFIG_MAP_KEY_ERR, CONFIG_MAP_KEY_FMT, &["key.name", "KEY_NAME", "key-name"]));
    }
    errs.extend(chdir_prefix(value));
    errs
}

fn chdir_prefix(value: &str) -> Option<String> {
    match value {
        "." => Some("must not be '.'".to_string()),
        ".." => Some("must not be '..'".to_string()),
        v if v.starts_with("..") => Some("must not start with '..'".to_string()),
        _ => None,
    }
}

/// `IsRelaxedEnvVarName` (the v1.33 default): printable ASCII other than `=`.
pub fn env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(RELAXED_ENV_ERR.to_string());
    }
    errs
}

/// `IsValidPortName`: an IANA_SVC_NAME (at most 15 characters of `[-a-z0-9]`, with a letter).
pub fn port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty() || !port.bytes().all(|b| is_lower_alnum(b) || b == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !port.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// `IsValidPortNum`: 1 to 65535.
pub fn port_number(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) { Vec::new() } else { vec![inclusive_range_error(1, 65535)] }
}

/// `IsValidPercent`.
pub fn percent(value: &str) -> Vec<String> {
    let ok = value.strip_suffix('%').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if ok { Vec::new() } else { vec![regex_error(PERCENT_ERR, PERCENT_FMT, &["1%", "93%"])] }
}

/// `IsHTTPHeaderName`.
pub fn http_header_name(value: &str) -> Vec<String> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Vec::new()
    } else {
        vec![regex_error(HTTP_HEADER_ERR, HTTP_HEADER_FMT, &["X-Header-Name"])]
    }
}

fn valid_user_id(id: i64) -> Vec<String> {
    if (0..=MAX_INT32).contains(&id) { Vec::new() } else { vec![inclusive_range_error(0, MAX_INT32)] }
}

/// How a resource's `metadata.name` (and `generateName`) is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: most kinds.
    Dns1123Subdomain,
    /// RFC 1123 label: Namespace, StatefulSet.
    Dns1123Label,
    /// RFC 1035 label: Service.
    Dns1035Label,
    /// Only `/`, `%`, `.` and `..` are refused: RBAC kinds, Events, the generic registry check.
    PathSegment,
}

impl NameRule {
    /// Messages for `name`; `prefix` is true for `generateName`, where a trailing `-` is
    /// allowed (upstream's `maskTrailingDash`, quirks included).
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked: Vec<u8>;
        let bytes = if prefix && self != NameRule::PathSegment && name.len() > 1 && name.ends_with('-') {
            masked = [&name.as_bytes()[..name.len() - 2], b"a"].concat();
            masked.as_slice()
        } else {
            name.as_bytes()
        };
        match self {
            NameRule::Dns1123Subdomain => dns1123_subdomain_bytes(bytes),
            NameRule::Dns1123Label => dns1123_label_bytes(bytes),
            NameRule::Dns1035Label => dns1035_label_bytes(bytes),
            NameRule::PathSegment => path_segment_name(name, prefix),
        }
    }
}

// ---------------------------------------------------------------------------------------
// resource.Quantity: parsing, comparison and the canonical string upstream prints
// ---------------------------------------------------------------------------------------

const QUANTITY_FORMAT_ERR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const QUANTITY_NUMERIC_ERR: &str = "unable to parse numeric part of quantity";
const QUANTITY_SUFFIX_ERR: &str = "unable to parse quantity's suffix";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QuantityFormat {
    DecimalExponent,
    DecimalSI,
    BinarySI,
}

/// An exact quantity: `coef × 10^exp10`, rounded up to nanounits as upstream does.
#[derive(Clone, Debug)]
struct Quantity {
    coef: i128,
    exp10: i32,
    format: QuantityFormat,
    /// The input, when upstream keeps it as the printed form (it was already canonical).
    kept: Option<String>,
}

impl Quantity {
    fn parse(s: &str) -> Result<Quantity, &'static str> {
        if s.is_empty() {
            return Err(QUANTITY_FORMAT_ERR);
        }
        if s == "0" {
            return Ok(Quantity { coef: 0, exp10: 0, format: QuantityFormat::DecimalSI, kept: Some(s.to_string()) });
        }
        let b = s.as_bytes();
        let mut pos = 0;
        let mut positive = true;
        match b[0] {
            b'-' => {
                positive = false;
                pos = 1;
            }
            b'+' => pos = 1,
            _ => {}
        }
        while pos < b.len() && b[pos] == b'0' {
            pos += 1;
        }
        if pos >= b.len() {
            return Ok(Quantity { coef: 0, exp10: 0, format: QuantityFormat::DecimalSI, kept: None });
        }
        let num_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let mut num = &s[num_start..pos];
        if num.is_empty() {
            num = "0";
        }
        let mut denom = "";
        if pos < b.len() && b[pos] == b'.' {
            pos += 1;
            let start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            denom = &s[start..pos];
        }
        let suffix_start = pos;
        while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
            pos += 1;
        }
        if pos < b.len() && (b[pos] == b'-' || b[pos] == b'+') {
            pos += 1;
        }
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos < b.len() {
            return Err(QUANTITY_FORMAT_ERR);
        }
        let suffix = &s[suffix_start..];
        let (base2, exponent, format) = match suffix {
            "" => (false, 0, QuantityFormat::DecimalSI),
            "n" => (false, -9, QuantityFormat::DecimalSI),
            "u" => (false, -6, QuantityFormat::DecimalSI),
            "m" => (false, -3, QuantityFormat::DecimalSI),
            "k" => (false, 3, QuantityFormat::DecimalSI),
            "M" => (false, 6, QuantityFormat::DecimalSI),
            "G" => (false, 9, QuantityFormat::DecimalSI),
            "T" => (false, 12, QuantityFormat::DecimalSI),
            "P" => (false, 15, QuantityFormat::DecimalSI),
            "E" => (false, 18, QuantityFormat::DecimalSI),
            "Ki" => (true, 10, QuantityFormat::BinarySI),
            "Mi" => (true, 20, QuantityFormat::BinarySI),
            "Gi" => (true, 30, QuantityFormat::BinarySI),
            "Ti" => (true, 40, QuantityFormat::BinarySI),
            "Pi" => (true, 50, QuantityFormat::BinarySI),
            "Ei" => (true, 60, QuantityFormat::BinarySI),
            x if x.len() > 1 && (x.starts_with('e') || x.starts_with('E')) => {
                let e: i64 = parse_go_int(&x[1..]).ok_or(QUANTITY_SUFFIX_ERR)?;
                if !(-10_000..=10_000).contains(&e) {
                    return Err(QUANTITY_NUMERIC_ERR);
                }
                (false, e as i32, QuantityFormat::DecimalExponent)
            }
            _ => return Err(QUANTITY_SUFFIX_ERR),
        };
        let digits = format!("{num}{denom}");
        let digits_trimmed = digits.trim_start_matches('0');
        if digits_trimmed.len() > 36 {
            return Err(QUANTITY_NUMERIC_ERR);
        }
        let mut coef: i128 =
            if digits_trimmed.is_empty() { 0 } else { digits_trimmed.parse().map_err(|_| QUANTITY_NUMERIC_ERR)? };
        let denom_len = i32::try_from(denom.len()).map_err(|_| QUANTITY_NUMERIC_ERR)?;
        let mut exp10 = if coef == 0 { 0 } else { -denom_len };
        if base2 {
            coef = coef.checked_mul(1i128 << exponent).ok_or(QUANTITY_NUMERIC_ERR)?;
        } else if coef != 0 {
            exp10 += exponent;
        }
        // Round up (away from zero) to nanounits.
        if exp10 < -9 && coef != 0 {
            let shift = (-9 - exp10) as u32;
            if shift > 38 {
                coef = 1;
            } else {
                let div = 10i128.pow(shift);
                coef = coef / div + i128::from(coef % div != 0);
            }
            exp10 = -9;
        }
        if !positive {
            coef = -coef;
        }
        let mut format = format;
        let mut q = Quantity { coef, exp10, format, kept: None };
        if format == QuantityFormat::BinarySI && q.cmp_int(1) == std::cmp::Ordering::Less && q.coef > 0 {
            format = QuantityFormat::DecimalSI;
            q.format = format;
        }
        // Upstream keeps the input string when its fast path finds it already canonical.
        q.kept = match format {
            QuantityFormat::DecimalSI | QuantityFormat::DecimalExponent if !base2 => {
                let precision = 18 - (num.len() + denom.len()) as i32;
                let scale = exponent - denom_len;
                let canonical = precision >= 0
                    && scale >= -9
                    && scale % 3 == 0
                    && !digits.ends_with("000")
                    && !digits.starts_with('0');
                canonical.then(|| s.to_string())
            }
            QuantityFormat::BinarySI if denom.is_empty() => {
                let precision = 15 - num.len() as i32 - (exponent as f32 * 3.0 / 10.0) as i32 - 1;
                let value: Option<i64> = num.parse().ok();
                let canonical = precision >= 0
                    && exponent % 10 == 0
                    && value.is_some_and(|v| v & 0x07 != 0 && v.checked_mul(1i64 << exponent).is_some());
                canonical.then(|| s.to_string())
            }
            _ => None,
        };
        Ok(q)
    }

    fn is_zero(&self) -> bool {
        self.coef == 0
    }

    /// Compares exactly, falling back to floating point only on overflow.
    fn cmp(&self, other: &Quantity) -> std::cmp::Ordering {
        let e = self.exp10.min(other.exp10);
        let scale = |q: &Quantity| -> Option<i128> {
            10i128.checked_pow((q.exp10 - e) as u32).and_then(|m| q.coef.checked_mul(m))
        };
        match (scale(self), scale(other)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.as_f64().partial_cmp(&other.as_f64()).unwrap_or(std::cmp::Ordering::Equal),
        }
    }

    fn cmp_int(&self, n: i64) -> std::cmp::Ordering {
        self.cmp(&Quantity { coef: i128::from(n), exp10: 0, format: QuantityFormat::DecimalSI, kept: None })
    }

    fn as_f64(&self) -> f64 {
        self.coef as f64 * 10f64.powi(self.exp10)
    }

    /// The integer part, rounded up as upstream's `Value()` does.
    fn value(&self) -> i128 {
        if self.exp10 >= 0 {
            10i128.checked_pow(self.exp10 as u32).and_then(|m| self.coef.checked_mul(m)).unwrap_or(i128::MAX)
        } else {
            let div = 10i128.pow((-self.exp10) as u32);
            let q = self.coef / div;
            match self.coef % div {
                0 => q,
                _ if self.coef > 0 => q + 1,
                _ => q - 1,
            }
        }
    }

    fn is_integer(&self) -> bool {
        self.exp10 >= 0 || self.coef % 10i128.pow((-self.exp10) as u32) == 0
    }

    /// Upstream's `String()`: the kept input, or the canonical form.
    fn to_canonical(&self) -> String {
        if let Some(k) = &self.kept {
            return k.clone();
        }
        if self.is_zero() {
            return "0".to_string();
        }
        let mut format = self.format;
        if format == QuantityFormat::BinarySI
            && ((self.cmp_int(-1024).is_gt() && self.cmp_int(1024).is_lt()) || !self.is_integer())
        {
            format = QuantityFormat::DecimalSI;
        }
        if format == QuantityFormat::BinarySI {
            let mut amount = self.value();
            let mut exp = 0;
            while amount != 0 && amount % 1024 == 0 && exp < 6 {
                amount /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return format!("{amount}{suffix}");
        }
        let mut amount = self.coef;
        let mut exp = self.exp10;
        while amount % 10 == 0 {
            amount /= 10;
            exp += 1;
        }
        while exp.rem_euclid(3) != 0 {
            amount *= 10;
            exp -= 1;
        }
        let suffix = match format {
            QuantityFormat::DecimalExponent if exp == 0 => String::new(),
            QuantityFormat::DecimalExponent => format!("e{exp}"),
            _ => match exp {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                18 => "E",
                _ => "",
            }
            .to_string(),
        };
        format!("{amount}{suffix}")
    }
}

/// Go's `strconv.Atoi`/`ParseInt` for decimal text: optional sign, digits only.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// The JSON text of a quantity field: a string, or a number as its text.
fn quantity_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// IP addresses and CIDRs (v1.33 legacy fields: leading zeros tolerated, any IPv6 form)
// ---------------------------------------------------------------------------------------

const IP_ERR: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const CIDR_ERR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// Upstream's `ParseIPSloppy`: IPv4 octets may carry leading zeros.
fn parse_ip_sloppy(s: &str) -> Option<std::net::IpAddr> {
    if s.contains('.') && !s.contains(':') {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let v: u32 = p.trim_start_matches('0').parse().unwrap_or(0);
            if p.len() > 8 || v > 255 {
                return None;
            }
            octets[i] = v as u8;
        }
        return Some(std::net::IpAddr::from(octets));
    }
    s.parse::<std::net::Ipv6Addr>().ok().map(std::net::IpAddr::V6)
}

fn is_ipv6_str(s: &str) -> bool {
    matches!(parse_ip_sloppy(s), Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none())
}

/// `IsValidIPForLegacyField` with strict validation off, as v1.33 runs it.
fn validate_ip(e: &mut Errs, p: &Path, value: &str) -> bool {
    if parse_ip_sloppy(value).is_none() {
        e.push(FieldError::invalid(p.s(), Value::from(value), IP_ERR));
        return false;
    }
    true
}

fn parse_cidr_sloppy(s: &str) -> Option<(std::net::IpAddr, u32)> {
    let (ip, bits) = s.split_once('/')?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || bits.len() > 3 {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    let ip = parse_ip_sloppy(ip)?;
    let max = if ip.is_ipv4() || ip.to_string().contains('.') && !ip.to_string().contains(':') { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn validate_cidr(e: &mut Errs, p: &Path, value: &str) {
    if parse_cidr_sloppy(value).is_none() {
        e.push(FieldError::invalid(p.s(), Value::from(value), CIDR_ERR));
    }
}

/// `ValidateNonSpecialIP`: no unspecified, loopback or link-local addresses.
fn validate_non_special_ip(e: &mut Errs, p: &Path, value: &str) {
    let ip = match parse_ip_sloppy(value) {
        Some(ip) => ip,
        None => {
            e.push(FieldError::invalid(p.s(), Value::from(value), "must be a valid IP address"));
            return;
        }
    };
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    };
    if ip.is_unspecified() {
        e.push(FieldError::invalid(p.s(), Value::from(value), format!("may not be unspecified ({value})")));
    }
    if ip.is_loopback() {
        e.push(FieldError::invalid(
            p.s(),
            Value::from(value),
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local_unicast, link_local_multicast) = match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            (o[0] == 169 && o[1] == 254, o[0] == 224 && o[1] == 0 && o[2] == 0)
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            ((s[0] & 0xffc0) == 0xfe80, (s[0] & 0xff0f) == 0xff02)
        }
    };
    if link_local_unicast {
        e.push(FieldError::invalid(
            p.s(),
            Value::from(value),
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        e.push(FieldError::invalid(
            p.s(),
            Value::from(value),
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}

fn is_dual_stack(ips: &[&str]) -> bool {
    let v6 = ips.iter().any(|ip| is_ipv6_str(ip));
    let v4 = ips.iter().any(|ip| !is_ipv6_str(ip));
    v4 && v6
}

// ---------------------------------------------------------------------------------------
// Cron schedules (robfig/cron v3 `ParseStandard`, whose errors upstream returns verbatim)
// ---------------------------------------------------------------------------------------

struct CronBounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const CRON_FIELDS: [CronBounds; 6] = [
    CronBounds { min: 0, max: 59, names: &[] },
    CronBounds { min: 0, max: 59, names: &[] },
    CronBounds { min: 0, max: 23, names: &[] },
    CronBounds { min: 1, max: 31, names: &[] },
    CronBounds {
        min: 1,
        max: 12,
        names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    },
    CronBounds { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

fn go_atoi_error(s: &str) -> String {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        format!("strconv.Atoi: parsing {}: value out of range", go_quote(s))
    } else {
        format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s))
    }
}

fn cron_must_parse_int(expr: &str) -> Result<u32, String> {
    let n = parse_go_int(expr).ok_or_else(|| format!("failed to parse int from {expr}: {}", go_atoi_error(expr)))?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn cron_int_or_name(expr: &str, b: &CronBounds) -> Result<u32, String> {
    let lower = expr.to_lowercase();
    if let Some(i) = b.names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + if b.min == 1 { 1 } else { 0 });
    }
    cron_must_parse_int(expr)
}

fn cron_range(expr: &str, b: &CronBounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        start = b.min;
        end = b.max;
    } else {
        start = cron_int_or_name(low_and_high[0], b)?;
        end = match low_and_high.len() {
            1 => start,
            2 => cron_int_or_name(low_and_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = cron_must_parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", b.min));
    }
    if end > b.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expr}", b.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

/// Go's `time.ParseDuration`, for `@every`.
fn go_parse_duration(s: &str) -> Result<(), String> {
    let quoted = go_quote(s);
    let mut rest = s.strip_prefix(['+', '-']).unwrap_or(s);
    if rest == "0" {
        return Ok(());
    }
    if rest.is_empty() {
        return Err(format!("time: invalid duration {quoted}"));
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(format!("time: invalid duration {quoted}"));
        }
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        if !matches!(unit, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return Err(format!("time: unknown unit {} in duration {quoted}", go_quote(unit)));
        }
        rest = &rest[unit_end..];
    }
    Ok(())
}

/// `cron.ParseStandard`: five fields or a descriptor, optionally after `TZ=`/`CRON_TZ=`.
fn parse_cron_standard(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = spec.to_string();
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        let sp = spec.find(' ').unwrap_or(spec.len());
        let loc = spec.get(eq + 1..sp).unwrap_or("").to_string();
        if let Err(err) = load_location(&loc) {
            return Err(format!("provided bad location {loc}: {err}"));
        }
        spec = spec[sp..].trim().to_string();
    }
    if spec.starts_with('@') {
        return match spec.as_str() {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            d if d.starts_with("@every ") => {
                go_parse_duration(&d["@every ".len()..]).map_err(|err| format!("failed to parse duration {d}: {err}"))
            }
            d => Err(format!("unrecognized descriptor: {d}")),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    let expanded = ["0", fields[0], fields[1], fields[2], fields[3], fields[4]];
    for (field, bounds) in expanded.iter().zip(CRON_FIELDS.iter()) {
        for expr in field.split(',').filter(|x| !x.is_empty()) {
            cron_range(expr, bounds)?;
        }
    }
    Ok(())
}

/// Go's `time.LoadLocation`: `UTC` and `Local`, or a zone present in the system's tz
/// database. When no tz database is installed, any well-formed name is accepted.
fn load_location(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "UTC" || name == "Local" {
        return Ok(());
    }
    let unknown = || Err(format!("unknown time zone {name}"));
    if name.contains("..") || name.starts_with('/') || name.contains('\\') {
        return unknown();
    }
    let dirs = ["/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo"];
    let installed: Vec<&str> = dirs.iter().copied().filter(|d| std::path::Path::new(d).is_dir()).collect();
    if installed.is_empty() || installed.iter().any(|d| std::path::Path::new(d).join(name).is_file()) {
        Ok(())
    } else {
        unknown()
    }
}

// ---------------------------------------------------------------------------------------
// Field paths and typed access to JSON, reporting values of the wrong type
// ---------------------------------------------------------------------------------------

type Errs = Vec<FieldError>;

/// Upstream's `field.Path`, printed as `spec.containers[0].image`.
#[derive(Clone, Debug)]
struct Path(String);

impl Path {
    fn new(name: &str) -> Path {
        Path(name.to_string())
    }

    /// `field.NewPath("")`, which upstream prints as `[]`.
    fn empty_root() -> Path {
        Path("[]".to_string())
    }

    fn child(&self, name: &str) -> Path {
        if self.0.is_empty() { Path(name.to_string()) } else { Path(format!("{}.{}", self.0, name)) }
    }

    fn index(&self, i: usize) -> Path {
        Path(format!("{}[{}]", self.0, i))
    }

    fn key(&self, k: &str) -> Path {
        Path(format!("{}[{}]", self.0, k))
    }

    fn s(&self) -> String {
        self.0.clone()
    }
}

fn req(p: &Path, detail: &str) -> FieldError {
    FieldError::required(p.s(), detail)
}

fn inv(p: &Path, value: Value, detail: impl Into<String>) -> FieldError {
    FieldError::invalid(p.s(), value, detail)
}

fn forb(p: &Path, detail: impl Into<String>) -> FieldError {
    FieldError::forbidden(p.s(), detail)
}

fn unsupported(p: &Path, value: Value, supported: &[&str]) -> FieldError {
    FieldError::not_supported(p.s(), value, supported)
}

fn dup(p: &Path, value: Value) -> FieldError {
    FieldError::duplicate(p.s(), value)
}

/// A present, non-null member of `o`.
fn member<'a>(o: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    match o?.get(key)? {
        Value::Null => None,
        v => Some(v),
    }
}

fn wrong_type(e: &mut Errs, p: &Path, v: &Value, expected: &str) {
    e.push(FieldError::type_invalid(p.s(), v.clone(), format!("expected {expected}")));
}

/// A string member, `""` when absent or of the wrong type (which is reported).
fn string<'a>(e: &mut Errs, o: Option<&'a Value>, p: &Path, key: &str) -> &'a str {
    opt_string(e, o, p, key).unwrap_or("")
}

fn opt_string<'a>(e: &mut Errs, o: Option<&'a Value>, p: &Path, key: &str) -> Option<&'a str> {
    match member(o, key)? {
        Value::String(s) => Some(s.as_str()),
        v => {
            wrong_type(e, &p.child(key), v, "string");
            None
        }
    }
}

#[derive(Clone, Copy)]
enum IntSize {
    I32,
    I64,
}

fn opt_int(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str, size: IntSize) -> Option<i64> {
    let v = member(o, key)?;
    let (range, name) = match size {
        IntSize::I32 => (i64::from(i32::MIN)..=i64::from(i32::MAX), "int32"),
        IntSize::I64 => (i64::MIN..=i64::MAX, "int64"),
    };
    match v.as_i64() {
        Some(i) if range.contains(&i) => Some(i),
        _ => {
            wrong_type(e, &p.child(key), v, name);
            None
        }
    }
}

fn int32(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str) -> Option<i64> {
    opt_int(e, o, p, key, IntSize::I32)
}

fn int64(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str) -> Option<i64> {
    opt_int(e, o, p, key, IntSize::I64)
}

fn opt_bool(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str) -> Option<bool> {
    match member(o, key)? {
        Value::Bool(b) => Some(*b),
        v => {
            wrong_type(e, &p.child(key), v, "boolean");
            None
        }
    }
}

fn object<'a>(e: &mut Errs, o: Option<&'a Value>, p: &Path, key: &str) -> Option<&'a Value> {
    match member(o, key)? {
        v @ Value::Object(_) => Some(v),
        v => {
            wrong_type(e, &p.child(key), v, "object");
            None
        }
    }
}

/// A list member, empty when absent or of the wrong type.
fn list<'a>(e: &mut Errs, o: Option<&'a Value>, p: &Path, key: &str) -> &'a [Value] {
    opt_list(e, o, p, key).unwrap_or(&[])
}

fn opt_list<'a>(e: &mut Errs, o: Option<&'a Value>, p: &Path, key: &str) -> Option<&'a [Value]> {
    match member(o, key)? {
        Value::Array(a) => Some(a.as_slice()),
        v => {
            wrong_type(e, &p.child(key), v, "array");
            None
        }
    }
}

/// The object elements of a list member with their indices; other elements are reported.
fn objects<'a>(e: &mut Errs, o: Option<&'a Value>, p: &Path, key: &str) -> Vec<(usize, &'a Value)> {
    let lp = p.child(key);
    let mut out = Vec::new();
    for (i, v) in list(e, o, p, key).iter().enumerate() {
        if v.is_object() {
            out.push((i, v));
        } else if !v.is_null() {
            wrong_type(e, &lp.index(i), v, "object");
        }
    }
    out
}

/// The string elements of a list member; other elements are reported and skipped.
fn strings<'a>(e: &mut Errs, o: Option<&'a Value>, p: &Path, key: &str) -> Vec<&'a str> {
    let lp = p.child(key);
    let mut out = Vec::new();
    for (i, v) in list(e, o, p, key).iter().enumerate() {
        match v {
            Value::String(s) => out.push(s.as_str()),
            Value::Null => out.push(""),
            v => wrong_type(e, &lp.index(i), v, "string"),
        }
    }
    out
}

/// A `map[string]string` member, sorted by key; `None` when absent.
fn string_map<'a>(e: &mut Errs, o: Option<&'a Value>, p: &Path, key: &str) -> Option<Vec<(&'a str, &'a str)>> {
    let m = match member(o, key)? {
        Value::Object(m) => m,
        v => {
            wrong_type(e, &p.child(key), v, "object");
            return None;
        }
    };
    let mp = p.child(key);
    let mut out = Vec::new();
    for (k, v) in m {
        match v {
            Value::String(s) => out.push((k.as_str(), s.as_str())),
            Value::Null => out.push((k.as_str(), "")),
            v => wrong_type(e, &mp.key(k), v, "string"),
        }
    }
    out.sort();
    Some(out)
}

/// A quantity member, reporting unparsable text as upstream's decoder does.
fn quantity(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str) -> Option<Quantity> {
    let v = member(o, key)?;
    parse_quantity_value(e, &p.child(key), v)
}

fn parse_quantity_value(e: &mut Errs, p: &Path, v: &Value) -> Option<Quantity> {
    let text = quantity_text(v);
    match Quantity::parse(&text) {
        Ok(q) => Some(q),
        Err(msg) => {
            e.push(FieldError::type_invalid(p.s(), v.clone(), msg));
            None
        }
    }
}

/// A `map[ResourceName]Quantity` member, sorted by name.
fn quantity_map(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str) -> Option<Vec<(String, Quantity)>> {
    let m = object(e, o, p, key)?.as_object()?;
    let mp = p.child(key);
    let mut out = Vec::new();
    for (k, v) in m {
        if v.is_null() {
            continue;
        }
        if let Some(q) = parse_quantity_value(e, &mp.key(k), v) {
            out.push((k.clone(), q));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Some(out)
}

/// An `intstr.IntOrString` member.
#[derive(Clone, Debug, PartialEq)]
enum IntOrString {
    Int(i64),
    Str(String),
}

fn int_or_string(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str) -> Option<IntOrString> {
    match member(o, key)? {
        Value::String(s) => Some(IntOrString::Str(s.clone())),
        v => match v.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => Some(IntOrString::Int(i)),
            _ => {
                wrong_type(e, &p.child(key), v, "integer or string");
                None
            }
        },
    }
}

impl IntOrString {
    /// Upstream's `IntValue()`: a string converts with `Atoi`, 0 on failure.
    fn int_value(&self) -> i64 {
        match self {
            IntOrString::Int(i) => *i,
            IntOrString::Str(s) => parse_go_int(s).unwrap_or(0),
        }
    }

    fn go_repr(&self) -> Value {
        let v = match self {
            IntOrString::Int(i) => Value::from(*i),
            IntOrString::Str(s) => Value::from(s.as_str()),
        };
        go_raw(go_int_or_string(Some(&v)))
    }
}

/// Upstream's `apiequality.Semantic.DeepEqual` over JSON: absent, null and zero values are
/// equal (decoded Go structs cannot tell them apart), and resource quantities compare by
/// value.
fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    semantic_eq_in(a, b, EqMode::Plain)
}

#[derive(Clone, Copy, PartialEq)]
enum EqMode {
    Plain,
    /// A `ResourceList`: every member is a quantity.
    QuantityMap,
    /// A single quantity.
    Quantity,
}

fn is_zero_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => !b,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
    }
}

fn semantic_eq_in(a: Option<&Value>, b: Option<&Value>, mode: EqMode) -> bool {
    let (a, b) = (a.filter(|v| !v.is_null()), b.filter(|v| !v.is_null()));
    match (a, b) {
        (None, None) => true,
        (None, Some(v)) | (Some(v), None) => is_zero_value(Some(v)),
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().all(|k| {
                let child = match (mode, k.as_str()) {
                    (EqMode::QuantityMap, _) => EqMode::Quantity,
                    (_, "limits" | "requests" | "capacity" | "allocatable" | "overhead" | "hard" | "used") => {
                        EqMode::QuantityMap
                    }
                    (_, "sizeLimit" | "divisor") => EqMode::Quantity,
                    _ => EqMode::Plain,
                };
                semantic_eq_in(x.get(k), y.get(k), child)
            })
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| semantic_eq_in(Some(p), Some(q), EqMode::Plain))
        }
        (Some(x), Some(y)) => x == y || (mode == EqMode::Quantity && quantity_eq(Some(x), Some(y))),
    }
}

fn quantity_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) if !a.is_object() && !a.is_array() && !b.is_object() && !b.is_array() => {
            match (Quantity::parse(&quantity_text(a)), Quantity::parse(&quantity_text(b))) {
                (Ok(x), Ok(y)) => x.cmp(&y).is_eq(),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Lines describing how `new` differs from `old`, standing in for upstream's `cmp.Diff`.
fn json_diff(old: Option<&Value>, new: Option<&Value>, path: &str, out: &mut Vec<String>) {
    if semantic_eq(old, new) {
        return;
    }
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                json_diff(a.get(k), b.get(k), &format!("{path}.{k}"), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_diff(Some(x), Some(y), &format!("{path}[{i}]"), out);
            }
        }
        _ => {
            let show = |v: Option<&Value>| v.map_or_else(|| "<unset>".to_string(), |v| v.to_string());
            out.push(format!("- \t{path}: {}", show(old)));
            out.push(format!("+ \t{path}: {}", show(new)));
        }
    }
}

fn diff_text(old: Option<&Value>, new: Option<&Value>, root: &str) -> String {
    let mut lines = Vec::new();
    json_diff(old, new, root, &mut lines);
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------
// ObjectMeta, labels, annotations, label selectors
// ---------------------------------------------------------------------------------------

const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

fn validate_label_name(e: &mut Errs, p: &Path, key: &str) {
    for m in qualified_name(key) {
        e.push(inv(p, Value::from(key), m));
    }
}

fn validate_labels(e: &mut Errs, p: &Path, labels: &[(&str, &str)]) {
    for (k, v) in labels {
        validate_label_name(e, p, k);
        for m in label_value(v) {
            e.push(inv(p, Value::from(*v), m));
        }
    }
}

fn validate_labels_at(e: &mut Errs, o: Option<&Value>, parent: &Path, key: &str) {
    if let Some(labels) = string_map(e, o, parent, key) {
        validate_labels(e, &parent.child(key), &labels);
    }
}

fn validate_annotations(e: &mut Errs, p: &Path, annotations: &[(&str, &str)]) {
    let mut total = 0usize;
    for (k, v) in annotations {
        for m in qualified_name(&k.to_lowercase()) {
            e.push(inv(p, Value::from(*k), m));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        e.push(FieldError::too_long(p.s(), TOTAL_ANNOTATION_SIZE_LIMIT as i64));
    }
}

fn validate_annotations_at(e: &mut Errs, o: Option<&Value>, parent: &Path, key: &str) {
    if let Some(a) = string_map(e, o, parent, key) {
        validate_annotations(e, &parent.child(key), &a);
    }
}

fn validate_nonnegative(e: &mut Errs, p: &Path, v: Option<i64>) {
    if let Some(v) = v
        && v < 0
    {
        e.push(inv(p, Value::from(v), IS_NEGATIVE_MSG));
    }
}

/// Splits an apiVersion as `schema.ParseGroupVersion` does; `None` for a malformed one.
fn parse_group_version(api_version: &str) -> Option<(&str, &str)> {
    if api_version.is_empty() || api_version == "/" {
        return Some(("", ""));
    }
    match api_version.matches('/').count() {
        0 => Some(("", api_version)),
        1 => api_version.split_once('/'),
        _ => None,
    }
}

fn go_owner_reference(r: &Value) -> String {
    let s = |k: &str| go_quote(r.get(k).and_then(Value::as_str).unwrap_or(""));
    let b = |k: &str| go_ptr("bool", r.get(k).is_some_and(|v| !v.is_null()));
    format!(
        "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
        s("apiVersion"),
        s("kind"),
        s("name"),
        s("uid"),
        b("controller"),
        b("blockOwnerDeletion")
    )
}

fn validate_owner_references(e: &mut Errs, meta: Option<&Value>, mp: &Path) {
    let p = mp.child("ownerReferences");
    let refs = objects(e, meta, mp, "ownerReferences");
    let mut first_controller: Option<String> = None;
    for (_, r) in &refs {
        let r = Some(*r);
        let api_version = string(e, r, &p, "apiVersion");
        let kind = string(e, r, &p, "kind");
        let name = string(e, r, &p, "name");
        let uid = string(e, r, &p, "uid");
        let (group, version) = parse_group_version(api_version).unwrap_or(("", ""));
        if version.is_empty() {
            e.push(inv(&p.child("apiVersion"), Value::from(api_version), "version must not be empty"));
        }
        if kind.is_empty() {
            e.push(inv(&p.child("kind"), Value::from(kind), "kind must not be empty"));
        }
        if name.is_empty() {
            e.push(inv(&p.child("name"), Value::from(name), "name must not be empty"));
        }
        if uid.is_empty() {
            e.push(inv(&p.child("uid"), Value::from(uid), "uid must not be empty"));
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            let repr = r.map(go_owner_reference).unwrap_or_default();
            e.push(inv(&p, go_raw(repr), format!("{group}/{version}, Kind={kind} is disallowed from being an owner")));
        }
        if opt_bool(e, r, &p, "controller") == Some(true) {
            let current = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => {
                    let all: Vec<String> = refs.iter().map(|(_, r)| go_owner_reference(r)).collect();
                    e.push(inv(
                        &p,
                        go_raw(format!("[]v1.OwnerReference{{{}}}", all.join(", "))),
                        format!(
                            "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                        ),
                    ));
                }
                None => first_controller = Some(current),
            }
        }
    }
}

fn validate_finalizers(e: &mut Errs, p: &Path, finalizers: &[&str]) {
    for f in finalizers {
        for m in qualified_name(f) {
            e.push(inv(p, Value::from(*f), m));
        }
    }
    if finalizers.contains(&"orphan") && finalizers.contains(&"foregroundDeletion") {
        let v =
            go_raw(format!("[]string{{{}}}", finalizers.iter().map(|f| go_quote(f)).collect::<Vec<_>>().join(", ")));
        e.push(inv(p, v, "finalizer orphan and foregroundDeletion cannot be both set"));
    }
}

/// `validateKubeFinalizerName`: a finalizer without `/` must be a standard one.
fn validate_kube_finalizer_name(e: &mut Errs, p: &Path, f: &str) {
    if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
        e.push(inv(p, Value::from(f), "name is neither a standard finalizer name nor is it fully qualified"));
    }
}

fn validate_managed_fields(e: &mut Errs, meta: Option<&Value>, mp: &Path) {
    let p = mp.child("managedFields");
    for (i, m) in objects(e, meta, mp, "managedFields") {
        let ip = p.index(i);
        let m = Some(m);
        let op = string(e, m, &ip, "operation");
        if op != "Apply" && op != "Update" {
            e.push(inv(&ip.child("operation"), Value::from(op), "must be `Apply` or `Update`"));
        }
        let ft = string(e, m, &ip, "fieldsType");
        if !ft.is_empty() && ft != "FieldsV1" {
            e.push(inv(&ip.child("fieldsType"), Value::from(ft), "must be `FieldsV1`"));
        }
        let manager = string(e, m, &ip, "manager");
        if manager.len() > 128 {
            e.push(FieldError::too_long(ip.child("manager").s(), 128));
        }
        if string(e, m, &ip, "subresource").len() > 256 {
            e.push(FieldError::too_long(ip.child("subresource").s(), 256));
        }
    }
}

/// Which ObjectMeta checks a kind gets.
#[derive(Clone, Copy)]
struct MetaRules {
    namespaced: bool,
    name: NameRule,
    /// Core's wrapper adds a per-index check that finalizers without `/` are standard.
    kube_finalizers: bool,
}

/// `ValidateObjectMetaAccessor` (plus core's finalizer check when asked for).
fn validate_meta(e: &mut Errs, obj: &Value, rules: MetaRules) {
    let mp = Path::new("metadata");
    let meta = object(e, Some(obj), &Path::new(""), "metadata");
    let generate_name = string(e, meta, &mp, "generateName");
    if !generate_name.is_empty() {
        for m in rules.name.check(generate_name, true) {
            e.push(inv(&mp.child("generateName"), Value::from(generate_name), m));
        }
    }
    let name = string(e, meta, &mp, "name");
    if name.is_empty() {
        if generate_name.is_empty() {
            e.push(req(&mp.child("name"), "name or generateName is required"));
        }
    } else {
        for m in rules.name.check(name, false) {
            e.push(inv(&mp.child("name"), Value::from(name), m));
        }
    }
    let namespace = string(e, meta, &mp, "namespace");
    if rules.namespaced {
        if namespace.is_empty() {
            e.push(req(&mp.child("namespace"), ""));
        } else {
            for m in dns1123_label(namespace) {
                e.push(inv(&mp.child("namespace"), Value::from(namespace), m));
            }
        }
    } else if !namespace.is_empty() {
        e.push(forb(&mp.child("namespace"), "not allowed on this type"));
    }
    let generation = int64(e, meta, &mp, "generation");
    validate_nonnegative(e, &mp.child("generation"), generation);
    validate_labels_at(e, meta, &mp, "labels");
    validate_annotations_at(e, meta, &mp, "annotations");
    validate_owner_references(e, meta, &mp);
    let finalizers = strings(e, meta, &mp, "finalizers");
    validate_finalizers(e, &mp.child("finalizers"), &finalizers);
    validate_managed_fields(e, meta, &mp);
    if rules.kube_finalizers {
        for (i, f) in finalizers.iter().enumerate() {
            validate_kube_finalizer_name(e, &mp.child("finalizers").index(i), f);
        }
    }
}

/// Upstream compares `metav1.Time` values as instants, not as text.
fn same_time(a: Option<&Value>, b: Option<&Value>) -> bool {
    let instant = |v: Option<&Value>| v.and_then(Value::as_str).and_then(parse_rfc3339_utc);
    match (instant(a), instant(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn time_value(v: Option<&Value>) -> Value {
    go_raw(go_time(v.and_then(Value::as_str).unwrap_or("0001-01-01T00:00:00Z")))
}

/// `ValidateObjectMetaAccessorUpdate` (plus core's finalizer check when asked for).
fn validate_meta_update(e: &mut Errs, obj: &Value, old: &Value, kube_finalizers: bool) {
    let mp = Path::new("metadata");
    let root = Path::new("");
    let meta = object(e, Some(obj), &root, "metadata");
    let mut scratch = Vec::new();
    let old_meta = object(&mut scratch, Some(old), &root, "metadata");
    let finalizers = strings(e, meta, &mp, "finalizers");
    if member(old_meta, "deletionTimestamp").is_some() {
        let old_finalizers: BTreeSet<&str> = strings(&mut scratch, old_meta, &mp, "finalizers").into_iter().collect();
        let extra: BTreeSet<&str> = finalizers.iter().copied().filter(|f| !old_finalizers.contains(f)).collect();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| go_quote(f)).collect();
            e.push(forb(
                &mp.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    let rv = string(e, meta, &mp, "resourceVersion");
    if rv.is_empty() {
        e.push(inv(&mp.child("resourceVersion"), Value::from(rv), "must be specified for an update"));
    }
    let generation = int64(e, meta, &mp, "generation").unwrap_or(0);
    let old_generation = int64(&mut scratch, old_meta, &mp, "generation").unwrap_or(0);
    if generation < old_generation {
        e.push(inv(&mp.child("generation"), Value::from(generation), "must not be decremented"));
    }
    for key in ["name", "namespace", "uid"] {
        let new = string(e, meta, &mp, key);
        if new != string(&mut scratch, old_meta, &mp, key) {
            e.push(inv(&mp.child(key), Value::from(new), IMMUTABLE_MSG));
        }
    }
    let created = member(meta, "creationTimestamp");
    if !same_time(created, member(old_meta, "creationTimestamp")) {
        e.push(inv(&mp.child("creationTimestamp"), time_value(created), IMMUTABLE_MSG));
    }
    let deleted = member(meta, "deletionTimestamp");
    if !same_time(deleted, member(old_meta, "deletionTimestamp")) {
        let v = if deleted.is_some() { time_value(deleted) } else { Value::Null };
        e.push(inv(&mp.child("deletionTimestamp"), v, IMMUTABLE_MSG));
    }
    let grace = int64(e, meta, &mp, "deletionGracePeriodSeconds");
    if grace != int64(&mut scratch, old_meta, &mp, "deletionGracePeriodSeconds") {
        e.push(inv(&mp.child("deletionGracePeriodSeconds"), grace.map_or(Value::Null, Value::from), IMMUTABLE_MSG));
    }
    validate_labels_at(e, meta, &mp, "labels");
    validate_annotations_at(e, meta, &mp, "annotations");
    validate_owner_references(e, meta, &mp);
    validate_managed_fields(e, meta, &mp);
    if kube_finalizers {
        for (i, f) in finalizers.iter().enumerate() {
            validate_kube_finalizer_name(e, &mp.child("finalizers").index(i), f);
        }
    }
}

/// `ValidateImmutableField`: the new value, printed as `render` makes it, if it changed.
fn immutable(
    e: &mut Errs,
    p: &Path,
    new: Option<&Value>,
    old: Option<&Value>,
    render: impl Fn(Option<&Value>) -> Value,
) {
    if !semantic_eq(new, old) {
        e.push(inv(p, render(new), IMMUTABLE_MSG));
    }
}

fn plain_value(v: Option<&Value>) -> Value {
    v.cloned().unwrap_or(Value::Null)
}

/// A parsed label selector requirement.
struct Requirement<'a> {
    key: &'a str,
    op: &'a str,
    values: Vec<&'a str>,
}

/// `metav1.LabelSelectorAsSelector`: `None` when the selector cannot be built; a nil
/// selector selects nothing and an empty one everything.
enum Selector<'a> {
    Nothing,
    Requirements(Vec<Requirement<'a>>),
}

impl Selector<'_> {
    fn is_empty(&self) -> bool {
        matches!(self, Selector::Requirements(r) if r.is_empty())
    }

    fn matches(&self, labels: &BTreeMap<&str, &str>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Requirements(reqs) => reqs.iter().all(|r| {
                let have = labels.get(r.key);
                match r.op {
                    "=" | "In" => have.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => have.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            }),
        }
    }
}

fn selector_from<'a>(sel: Option<&'a Value>) -> Option<Selector<'a>> {
    let Some(sel) = sel else { return Some(Selector::Nothing) };
    let mut reqs = Vec::new();
    if let Some(Value::Object(m)) = member(Some(sel), "matchLabels") {
        for (k, v) in m {
            let v = v.as_str()?;
            if !qualified_name(k).is_empty() || !label_value(v).is_empty() {
                return None;
            }
            reqs.push(Requirement { key: k, op: "=", values: vec![v] });
        }
    }
    if let Some(Value::Array(exprs)) = member(Some(sel), "matchExpressions") {
        for x in exprs {
            let key = x.get("key").and_then(Value::as_str).unwrap_or("");
            let op = x.get("operator").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = match x.get("values") {
                Some(Value::Array(a)) => a.iter().map(|v| v.as_str()).collect::<Option<Vec<_>>>()?,
                _ => Vec::new(),
            };
            let count_ok = match op {
                "In" | "NotIn" => !values.is_empty(),
                "Exists" | "DoesNotExist" => values.is_empty(),
                _ => return None,
            };
            if !count_ok || !qualified_name(key).is_empty() || values.iter().any(|v| !label_value(v).is_empty()) {
                return None;
            }
            reqs.push(Requirement { key, op, values });
        }
    }
    Some(Selector::Requirements(reqs))
}

fn label_set<'a>(labels: &'a [(&'a str, &'a str)]) -> BTreeMap<&'a str, &'a str> {
    labels.iter().copied().collect()
}

/// `ValidateLabelSelector` with invalid label values refused.
fn validate_label_selector(e: &mut Errs, sel: Option<&Value>, p: &Path) {
    let Some(sel) = sel else { return };
    let sel = Some(sel);
    validate_labels_at(e, sel, p, "matchLabels");
    let ep = p.child("matchExpressions");
    for (i, x) in objects(e, sel, p, "matchExpressions") {
        let ip = ep.index(i);
        let x = Some(x);
        let op = string(e, x, &ip, "operator");
        let values = strings(e, x, &ip, "values");
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    e.push(req(&ip.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    e.push(forb(
                        &ip.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => e.push(inv(&ip.child("operator"), Value::from(op), "not a valid selector operator")),
        }
        let key = string(e, x, &ip, "key");
        validate_label_name(e, &ip.child("key"), key);
        for (j, v) in values.iter().enumerate() {
            for m in label_value(v) {
                e.push(inv(&ip.child("values").index(j), Value::from(*v), m));
            }
        }
    }
}

fn selector_is_empty(sel: &Value) -> bool {
    let count = |k: &str| match sel.get(k) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    count("matchLabels") + count("matchExpressions") == 0
}

// ---------------------------------------------------------------------------------------
// Pod volumes
// ---------------------------------------------------------------------------------------

/// Options upstream derives from feature gates and context (`PodValidationOptions`).
#[derive(Clone, Copy)]
struct PodOpts {
    /// The spec is a Pod's own, not a template's.
    resource_is_pod: bool,
}

/// Volume sources in upstream's order: JSON key, path used for the "more than 1 volume
/// type" error, path used when validating the source (upstream's spellings, typos kept).
const VOLUME_SOURCES: [(&str, &str, &str); 30] = [
    ("emptyDir", "emptyDir", "emptyDir"),
    ("hostPath", "hostPath", "hostPath"),
    ("gitRepo", "gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk", "persistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret", "secret"),
    ("nfs", "nfs", "nfs"),
    ("iscsi", "iscsi", "iscsi"),
    ("glusterfs", "glusterfs", "glusterfs"),
    ("flocker", "flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd", "rbd"),
    ("cinder", "cinder", "cinder"),
    ("cephfs", "cephFS", "cephfs"),
    ("quobyte", "quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI", "downwardAPI"),
    ("fc", "fc", "fc"),
    ("flexVolume", "flexVolume", "flexVolume"),
    ("configMap", "configMap", "configMap"),
    ("azureFile", "azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk", "azureDisk"),
    ("storageos", "storageos", "storageos"),
    ("projected", "projected", "projected"),
    ("scaleIO", "scaleIO", "scaleIO"),
    ("csi", "csi", "csi"),
    ("ephemeral", "ephemeral", "ephemeral"),
    ("image", "image", "image"),
];

fn required_str(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str) -> bool {
    if string(e, o, p, key).is_empty() {
        e.push(req(&p.child(key), ""));
        return false;
    }
    true
}

fn validate_file_mode(e: &mut Errs, o: Option<&Value>, p: &Path, key: &str) {
    if let Some(m) = int32(e, o, p, key)
        && !(0..=0o777).contains(&m)
    {
        e.push(inv(&p.child(key), Value::from(m), FILE_MODE_MSG));
    }
}

/// `validatePathNoBacksteps`.
fn validate_no_backsteps(e: &mut Errs, p: &Path, path: &str) -> bool {
    if path.split('/').any(|part| part == "..") {
        e.push(inv(p, Value::from(path), "must not contain '..'"));
        return false;
    }
    true
}

/// `validateLocalDescendingPath`.
fn validate_local_descending_path(e: &mut Errs, p: &Path, path: &str) {
    if path.starts_with('/') {
        e.push(inv(p, Value::from(path), "must be a relative path"));
    }
    validate_no_backsteps(e, p, path);
}

/// `ValidateLocalNonReservedPath`.
fn validate_local_non_reserved_path(e: &mut Errs, p: &Path, path: &str) {
    validate_local_descending_path(e, p, path);
    if path.starts_with("..") && !path.starts_with("../") {
        e.push(inv(p, Value::from(path), "must not start with '..'"));
    }
}

fn validate_key_to_path(e: &mut Errs, item: Option<&Value>, p: &Path) {
    required_str(e, item, p, "key");
    let path = string(e, item, p, "path");
    if path.is_empty() {
        e.push(req(&p.child("path"), ""));
    }
    validate_local_non_reserved_path(e, &p.child("path"), path);
    validate_file_mode(e, item, p, "mode");
}

fn validate_items(e: &mut Errs, src: Option<&Value>, p: &Path) {
    let ip = p.child("items");
    for (i, item) in objects(e, src, p, "items") {
        validate_key_to_path(e, Some(item), &ip.index(i));
    }
}

const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const VOLUME_FIELD_PATHS: [&str; 5] =
    ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];
const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn split_subscripted(path: &str) -> Option<(&str, &str)> {
    let s = path.strip_suffix("']")?;
    let (a, b) = s.split_once("['")?;
    (!a.is_empty()).then_some((a, b))
}

/// `validateObjectFieldSelector` for downward API field references.
fn validate_object_field_selector(e: &mut Errs, fs: Option<&Value>, p: &Path, expressions: &[&str]) {
    let api_version = string(e, fs, p, "apiVersion");
    if api_version.is_empty() {
        e.push(req(&p.child("apiVersion"), ""));
        return;
    }
    let field_path = string(e, fs, p, "fieldPath");
    if field_path.is_empty() {
        e.push(req(&p.child("fieldPath"), ""));
        return;
    }
    let converted = if api_version != "v1" {
        Err(format!("unsupported pod version: {api_version}"))
    } else if let Some((path, _)) = split_subscripted(field_path) {
        if matches!(path, "metadata.annotations" | "metadata.labels") {
            Ok(field_path.to_string())
        } else {
            Err(format!("field label does not support subscript: {field_path}"))
        }
    } else {
        match field_path {
            "metadata.annotations"
            | "metadata.labels"
            | "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
            | "spec.nodeName"
            | "spec.restartPolicy"
            | "spec.serviceAccountName"
            | "spec.schedulerName"
            | "status.phase"
            | "status.hostIP"
            | "status.hostIPs"
            | "status.podIP"
            | "status.podIPs" => Ok(field_path.to_string()),
            "spec.host" => Ok("spec.nodeName".to_string()),
            other => Err(format!("field label not supported: {other}")),
        }
    };
    let internal = match converted {
        Ok(c) => c,
        Err(err) => {
            e.push(inv(&p.child("fieldPath"), Value::from(field_path), format!("error converting fieldPath: {err}")));
            return;
        }
    };
    if let Some((path, subscript)) = split_subscripted(&internal) {
        match path {
            "metadata.annotations" => {
                for m in qualified_name(&subscript.to_lowercase()) {
                    e.push(inv(p, Value::from(subscript.to_lowercase()), m));
                }
            }
            "metadata.labels" => {
                for m in qualified_name(subscript) {
                    e.push(inv(p, Value::from(subscript), m));
                }
            }
            _ => e.push(inv(p, Value::from(path), "does not support subscript")),
        }
    } else if !expressions.contains(&internal.as_str()) {
        e.push(unsupported(&p.child("fieldPath"), Value::from(internal.as_str()), expressions));
    }
}

fn validate_resource_field_selector(e: &mut Errs, fs: Option<&Value>, p: &Path, volume: bool) {
    let resource = string(e, fs, p, "resource");
    if volume && string(e, fs, p, "containerName").is_empty() {
        e.push(req(&p.child("containerName"), ""));
    } else if resource.is_empty() {
        e.push(req(&p.child("resource"), ""));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        e.push(unsupported(&p.child("resource"), Value::from(resource), &RESOURCE_FIELD_PATHS));
    }
}

fn validate_downward_api_file(e: &mut Errs, file: Option<&Value>, p: &Path) {
    let path = string(e, file, p, "path");
    if path.is_empty() {
        e.push(req(&p.child("path"), ""));
    }
    validate_local_non_reserved_path(e, &p.child("path"), path);
    let field_ref = object(e, file, p, "fieldRef");
    let resource_ref = object(e, file, p, "resourceFieldRef");
    if field_ref.is_some() {
        validate_object_field_selector(e, field_ref, &p.child("fieldRef"), &VOLUME_FIELD_PATHS);
        if resource_ref.is_some() {
            e.push(inv(
                p,
                Value::from("resource"),
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        }
    } else if resource_ref.is_some() {
        validate_resource_field_selector(e, resource_ref, &p.child("resourceFieldRef"), true);
    } else {
        e.push(req(p, "one of fieldRef and resourceFieldRef is required"));
    }
    validate_file_mode(e, file, p, "mode");
}

fn validate_projected(e: &mut Errs, src: Option<&Value>, p: &Path) {
    validate_file_mode(e, src, p, "defaultMode");
    let mut all_paths = BTreeSet::new();
    let sp = p.child("sources");
    for (i, source) in objects(e, src, p, "sources") {
        let srcp = sp.index(i);
        let source = Some(source);
        let mut num = 0;
        for kind in ["secret", "configMap"] {
            let Some(s) = object(e, source, &srcp, kind) else { continue };
            num += 1;
            let pp = srcp.child(kind);
            let name = string(e, Some(s), &pp, "name");
            if name.is_empty() {
                e.push(req(&pp.child("name"), ""));
            }
            let ip = pp.child("items");
            for (j, item) in objects(e, Some(s), &pp, "items") {
                validate_key_to_path(e, Some(item), &ip.index(j));
                let path = string(e, Some(item), &ip.index(j), "path");
                if !path.is_empty() && !all_paths.insert(path.to_string()) {
                    e.push(inv(p, Value::from(name), "conflicting duplicate paths"));
                }
            }
        }
        if let Some(d) = object(e, source, &srcp, "downwardAPI") {
            num += 1;
            let pp = srcp.child("downwardAPI");
            for (_, file) in objects(e, Some(d), &pp, "items") {
                validate_downward_api_file(e, Some(file), &pp);
                let path = string(e, Some(file), &pp, "path");
                if !path.is_empty() && !all_paths.insert(path.to_string()) {
                    e.push(inv(p, Value::from(path), "conflicting duplicate paths"));
                }
            }
        }
        if let Some(t) = object(e, source, &srcp, "serviceAccountToken") {
            num += 1;
            let pp = srcp.child("serviceAccountToken");
            let exp = int64(e, Some(t), &pp, "expirationSeconds").unwrap_or(0);
            if exp < 600 {
                e.push(inv(
                    &pp.child("expirationSeconds"),
                    Value::from(exp),
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1 << 32 {
                e.push(inv(
                    &pp.child("expirationSeconds"),
                    Value::from(exp),
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            let path = string(e, Some(t), &pp, "path");
            if path.is_empty() {
                e.push(req(&p.child("path"), ""));
            } else {
                validate_local_non_reserved_path(e, &p.child("path"), path);
            }
        }
        if let Some(b) = object(e, source, &srcp, "clusterTrustBundle") {
            num += 1;
            let pp = srcp.child("clusterTrustBundle");
            let has_name = member(Some(b), "name").is_some();
            let has_signer = member(Some(b), "signerName").is_some();
            match (has_name, has_signer) {
                (true, true) => e.push(inv(
                    &pp,
                    go_raw("&core.ClusterTrustBundleProjection{...}".into()),
                    "only one of name and signerName may be used",
                )),
                (true, false) => {
                    if string(e, Some(b), &pp, "name").is_empty() {
                        e.push(req(&pp.child("name"), "must be a valid object name"));
                    }
                }
                (false, true) => {
                    if string(e, Some(b), &pp, "signerName").is_empty() {
                        e.push(req(&pp.child("signerName"), "must be a valid signer name"));
                    }
                }
                (false, false) => e.push(req(&pp, "either name or signerName must be specified")),
            }
            let path = string(e, Some(b), &pp, "path");
            if path.is_empty() {
                e.push(req(&pp.child("path"), ""));
            }
            validate_local_non_reserved_path(e, &pp.child("path"), path);
            if !all_paths.insert(path.to_string()) {
                e.push(inv(p, Value::from(path), "conflicting duplicate paths"));
            }
        }
        if num > 1 {
            e.push(forb(&srcp, "may not specify more than 1 volume type per source"));
        }
    }
}

fn validate_pull_policy(e: &mut Errs, p: &Path, policy: &str) {
    match policy {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => e.push(req(p, "")),
        other => e.push(unsupported(p, Value::from(other), &["Always", "IfNotPresent", "Never"])),
    }
}

/// `validateVolumeSource` for one source; `key` is its JSON key.
fn validate_one_volume_source(e: &mut Errs, key: &str, src: Option<&Value>, p: &Path, opts: PodOpts) {
    match key {
        "emptyDir" => {
            if let Some(q) = quantity(e, src, p, "sizeLimit")
                && q.coef < 0
            {
                e.push(forb(&p.child("sizeLimit"), "SizeLimit field must be a valid resource quantity"));
            }
        }
        "hostPath" => {
            let path = string(e, src, p, "path");
            if path.is_empty() {
                e.push(req(&p.child("path"), ""));
                return;
            }
            validate_no_backsteps(e, &p.child("path"), path);
            if let Some(t) = opt_string(e, src, p, "type") {
                const TYPES: [&str; 8] = [
                    "",
                    "BlockDevice",
                    "CharDevice",
                    "Directory",
                    "DirectoryOrCreate",
                    "File",
                    "FileOrCreate",
                    "Socket",
                ];
                if !TYPES.contains(&t) {
                    e.push(unsupported(&p.child("type"), Value::from(t), &TYPES));
                }
            }
        }
        "gitRepo" => {
            required_str(e, src, p, "repository");
            let dir = string(e, src, p, "directory");
            validate_local_descending_path(e, &p.child("directory"), dir);
        }
        "persistentDisk" | "awsElasticBlockStore" => {
            required_str(e, src, p, if key == "persistentDisk" { "pdName" } else { "volumeID" });
            if let Some(part) = int32(e, src, p, "partition")
                && !(0..=255).contains(&part)
            {
                e.push(inv(&p.child("partition"), Value::from(part), inclusive_range_error(1, 255)));
            }
        }
        "secret" => {
            required_str(e, src, p, "secretName");
            validate_file_mode(e, src, p, "defaultMode");
            validate_items(e, src, p);
        }
        "configMap" => {
            required_str(e, src, p, "name");
            validate_file_mode(e, src, p, "defaultMode");
            validate_items(e, src, p);
        }
        "nfs" => {
            required_str(e, src, p, "server");
            let path = string(e, src, p, "path");
            if path.is_empty() {
                e.push(req(&p.child("path"), ""));
            }
            if !path.starts_with('/') {
                e.push(inv(&p.child("path"), Value::from(path), "must be an absolute path"));
            }
        }
        "iscsi" => {
            required_str(e, src, p, "targetPortal");
            let iqn = string(e, src, p, "iqn");
            if iqn.is_empty() {
                e.push(req(&p.child("iqn"), ""));
            } else if !iqn.starts_with("iqn") && !iqn.starts_with("eui") && !iqn.starts_with("naa") {
                e.push(inv(&p.child("iqn"), Value::from(iqn), "must be valid format starting with iqn, eui, or naa"));
            }
            if let Some(lun) = int32(e, src, p, "lun")
                && !(0..=255).contains(&lun)
            {
                e.push(inv(&p.child("lun"), Value::from(lun), inclusive_range_error(0, 255)));
            }
            let chap = opt_bool(e, src, p, "chapAuthDiscovery") == Some(true)
                || opt_bool(e, src, p, "chapAuthSession") == Some(true);
            if chap && member(src, "secretRef").is_none() {
                e.push(req(&p.child("secretRef"), ""));
            }
        }
        "glusterfs" => {
            required_str(e, src, p, "endpoints");
            required_str(e, src, p, "path");
        }
        "flocker" => {
            let name = string(e, src, p, "datasetName");
            let uuid = string(e, src, p, "datasetUUID");
            if name.is_empty() && uuid.is_empty() {
                e.push(req(p, "one of datasetName and datasetUUID is required"));
            }
            if !name.is_empty() && !uuid.is_empty() {
                e.push(inv(
                    p,
                    Value::from("resource"),
                    "datasetName and datasetUUID can not be specified simultaneously",
                ));
            }
            if name.contains('/') {
                e.push(inv(&p.child("datasetName"), Value::from(name), "must not contain '/'"));
            }
        }
        "persistentVolumeClaim" => {
            required_str(e, src, p, "claimName");
        }
        "rbd" => {
            if list(e, src, p, "monitors").is_empty() {
                e.push(req(&p.child("monitors"), ""));
            }
            required_str(e, src, p, "image");
        }
        "cinder" => {
            required_str(e, src, p, "volumeID");
            if let Some(r) = object(e, src, p, "secretRef")
                && string(e, Some(r), &p.child("secretRef"), "name").is_empty()
            {
                e.push(req(&p.child("secretRef").child("name"), ""));
            }
        }
        "cephfs" if list(e, src, p, "monitors").is_empty() => e.push(req(&p.child("monitors"), "")),
        "quobyte" => {
            if string(e, src, p, "registry").is_empty() {
                e.push(req(&p.child("registry"), "must be a host:port pair or multiple pairs separated by commas"));
            } else if string(e, src, p, "tenant").len() >= 65 {
                e.push(req(&p.child("tenant"), "must be a UUID and may not exceed a length of 64 characters"));
            }
            required_str(e, src, p, "volume");
        }
        "downwardAPI" => {
            validate_file_mode(e, src, p, "defaultMode");
            for (_, file) in objects(e, src, p, "items") {
                validate_downward_api_file(e, Some(file), p);
            }
        }
        "fc" => {
            let wwns = list(e, src, p, "targetWWNs");
            let wwids = list(e, src, p, "wwids");
            if wwns.is_empty() && wwids.is_empty() {
                e.push(req(&p.child("targetWWNs"), "must specify either targetWWNs or wwids, but not both"));
            }
            if !wwns.is_empty() && !wwids.is_empty() {
                e.push(inv(
                    &p.child("targetWWNs"),
                    go_raw(go_string_slice("string", member(src, "targetWWNs"))),
                    "targetWWNs and wwids can not be specified simultaneously",
                ));
            }
            if !wwns.is_empty() {
                match int32(e, src, p, "lun") {
                    None => e.push(req(&p.child("lun"), "lun is required if targetWWNs is specified")),
                    Some(lun) if !(0..=255).contains(&lun) => {
                        e.push(inv(&p.child("lun"), Value::from(lun), inclusive_range_error(0, 255)))
                    }
                    Some(_) => {}
                }
            }
        }
        "flexVolume" => {
            required_str(e, src, p, "driver");
            if let Some(options) = string_map(e, src, p, "options") {
                for (k, _) in options {
                    let ns = k.split_once('/').map_or(k, |(a, _)| a);
                    let normalized = format!(".{}", ns.to_lowercase());
                    if normalized.ends_with(".kubernetes.io") || normalized.ends_with(".k8s.io") {
                        e.push(inv(
                            &p.child("options").key(k),
                            Value::from(k),
                            "kubernetes.io and k8s.io namespaces are reserved",
                        ));
                    }
                }
            }
        }
        "azureFile" => {
            required_str(e, src, p, "secretName");
            required_str(e, src, p, "shareName");
        }
        "vsphereVolume" => {
            required_str(e, src, p, "volumePath");
        }
        "photonPersistentDisk" => {
            required_str(e, src, p, "pdID");
        }
        "portworxVolume" => {
            required_str(e, src, p, "volumeID");
        }
        "azureDisk" => {
            required_str(e, src, p, "diskName");
            let uri = string(e, src, p, "diskURI");
            if uri.is_empty() {
                e.push(req(&p.child("diskURI"), ""));
            }
            if let Some(mode) = opt_string(e, src, p, "cachingMode")
                && !["None", "ReadOnly", "ReadWrite"].contains(&mode)
            {
                e.push(unsupported(&p.child("cachingMode"), Value::from(mode), &["None", "ReadOnly", "ReadWrite"]));
            }
            if let Some(kind) = opt_string(e, src, p, "kind") {
                if !["Dedicated", "Managed", "Shared"].contains(&kind) {
                    e.push(unsupported(&p.child("kind"), Value::from(kind), &["Dedicated", "Managed", "Shared"]));
                }
                if kind == "Managed" && !uri.starts_with("/subscriptions/") {
                    e.push(unsupported(&p.child("diskURI"), Value::from(uri), &["/subscriptions/{sub-id}/resourcegroups/{group-name}/providers/microsoft.compute/disks/{disk-id}"]));
                }
                if kind != "Managed" && !uri.starts_with("https://") {
                    e.push(unsupported(
                        &p.child("diskURI"),
                        Value::from(uri),
                        &["https://{account-name}.blob.core.windows.net/{container-name}/{disk-name}.vhd"],
                    ));
                }
            }
        }
        "storageos" => {
            let name = string(e, src, p, "volumeName");
            if name.is_empty() {
                e.push(req(&p.child("volumeName"), ""));
            } else {
                for m in dns1123_label(name) {
                    e.push(inv(&p.child("volumeName"), Value::from(name), m));
                }
            }
            let ns = string(e, src, p, "volumeNamespace");
            if !ns.is_empty() {
                for m in dns1123_label(ns) {
                    e.push(inv(&p.child("volumeNamespace"), Value::from(ns), m));
                }
            }
        }
        "projected" => validate_projected(e, src, p),
        "scaleIO" => {
            for k in ["gateway", "system", "volumeName"] {
                required_str(e, src, p, k);
            }
        }
        "csi" => {
            let driver = string(e, src, p, "driver");
            validate_csi_driver_name(e, &p.child("driver"), driver);
            if let Some(r) = object(e, src, p, "nodePublishSecretRef") {
                let name = string(e, Some(r), &p.child("nodePublishSecretRef"), "name");
                if name.is_empty() {
                    e.push(req(&p.child("nodePublishSecretRef").child("name"), ""));
                } else {
                    for m in dns1123_subdomain(name) {
                        e.push(inv(&p.child("name"), Value::from(name), m));
                    }
                }
            }
        }
        "ephemeral" => match object(e, src, p, "volumeClaimTemplate") {
            None => e.push(req(&p.child("volumeClaimTemplate"), "")),
            Some(t) => {
                let tp = p.child("volumeClaimTemplate");
                let mp = tp.child("metadata");
                let meta = object(e, Some(t), &tp, "metadata");
                validate_annotations_at(e, meta, &mp, "annotations");
                validate_labels_at(e, meta, &mp, "labels");
                if let Some(Value::Object(m)) = meta {
                    for k in m.keys().filter(|k| !matches!(k.as_str(), "labels" | "annotations")) {
                        if !is_zero_value(m.get(k)) {
                            e.push(forb(&mp.child(k), "cannot be set"));
                        }
                    }
                }
                let spec = object(e, Some(t), &tp, "spec");
                validate_pvc_spec(e, spec, &tp.child("spec"));
            }
        },
        "image" => {
            if opts.resource_is_pod && string(e, src, p, "reference").is_empty() {
                e.push(req(&p.child("reference"), ""));
            }
            let policy = string(e, src, p, "pullPolicy");
            validate_pull_policy(e, &p.child("pullPolicy"), policy);
        }
        _ => {}
    }
}

fn validate_csi_driver_name(e: &mut Errs, p: &Path, driver: &str) {
    if driver.is_empty() {
        e.push(req(p, ""));
    }
    if driver.len() > 63 {
        e.push(FieldError::too_long(p.s(), 63));
    }
    for m in dns1123_subdomain(&driver.to_lowercase()) {
        e.push(inv(p, Value::from(driver), m));
    }
}

/// `ValidateVolumes`: returns the volumes that validated, by name, for mount checks.
fn validate_volumes<'a>(
    e: &mut Errs,
    spec: Option<&'a Value>,
    sp: &Path,
    pod_name: Option<&str>,
    opts: PodOpts,
) -> BTreeMap<String, &'a Value> {
    let vp = sp.child("volumes");
    let vols = objects(e, spec, sp, "volumes");
    let mut created_pvcs = BTreeSet::new();
    if let Some(pod) = pod_name.filter(|n| !n.is_empty()) {
        for (_, v) in &vols {
            if member(Some(v), "ephemeral").is_some() {
                created_pvcs.insert(format!("{pod}-{}", v.get("name").and_then(Value::as_str).unwrap_or("")));
            }
        }
    }
    let mut valid: BTreeMap<String, &'a Value> = BTreeMap::new();
    for (i, vol) in vols {
        let ip = vp.index(i);
        let v = Some(vol);
        let mut el = Vec::new();
        let name = string(&mut el, v, &ip, "name");
        let mut count = 0;
        for (key, forbidden_name, validate_name) in VOLUME_SOURCES {
            let Some(src) = member(v, key) else { continue };
            if count > 0 {
                el.push(forb(&ip.child(forbidden_name), "may not specify more than 1 volume type"));
                continue;
            }
            count += 1;
            if !src.is_object() {
                wrong_type(&mut el, &ip.child(key), src, "object");
                continue;
            }
            let validator = if validate_name == "persistentDisk" { "persistentDisk" } else { key };
            validate_one_volume_source(&mut el, validator, Some(src), &ip.child(validate_name), opts);
            if key == "ephemeral"
                && let Some(pod) = pod_name.filter(|n| !n.is_empty())
                && !name.is_empty()
            {
                let pvc = format!("{pod}-{name}");
                for m in dns1123_subdomain(&pvc) {
                    el.push(inv(&ip.child("name"), Value::from(name), format!("PVC name {}: {m}", go_quote(&pvc))));
                }
            }
        }
        if count == 0 {
            el.push(req(&ip, "must specify a volume type"));
        }
        if name.is_empty() {
            el.push(req(&ip.child("name"), ""));
        } else {
            for m in dns1123_label(name) {
                el.push(inv(&ip.child("name"), Value::from(name), m));
            }
        }
        if valid.contains_key(name) {
            el.push(dup(&ip.child("name"), Value::from(name)));
        }
        if el.is_empty() {
            valid.insert(name.to_string(), vol);
        } else {
            e.extend(el);
        }
        if let Some(pvc) = member(v, "persistentVolumeClaim")
            && let Some(claim) = pvc.get("claimName").and_then(Value::as_str)
            && created_pvcs.contains(claim)
        {
            e.push(inv(
                &ip.child("persistentVolumeClaim").child("claimName"),
                Value::from(claim),
                "must not reference a PVC that gets created for an ephemeral volume",
            ));
        }
    }
    valid
}

// ---------------------------------------------------------------------------------------
// Containers: ports, env, mounts, resources, probes, security contexts
// ---------------------------------------------------------------------------------------

fn validate_container_ports(e: &mut Errs, c: Option<&Value>, cp: &Path) {
    let pp = cp.child("ports");
    let mut names = BTreeSet::new();
    for (i, port) in objects(e, c, cp, "ports") {
        let ip = pp.index(i);
        let port = Some(port);
        let name = string(e, port, &ip, "name");
        if !name.is_empty() {
            let msgs = port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    e.push(inv(&ip.child("name"), Value::from(name), m));
                }
            } else if !names.insert(name) {
                e.push(dup(&ip.child("name"), Value::from(name)));
            }
        }
        match int32(e, port, &ip, "containerPort").unwrap_or(0) {
            0 => e.push(req(&ip.child("containerPort"), "")),
            n => {
                for m in port_number(n) {
                    e.push(inv(&ip.child("containerPort"), Value::from(n), m));
                }
            }
        }
        let host_port = int32(e, port, &ip, "hostPort").unwrap_or(0);
        if host_port != 0 {
            for m in port_number(host_port) {
                e.push(inv(&ip.child("hostPort"), Value::from(host_port), m));
            }
        }
        let protocol = string(e, port, &ip, "protocol");
        validate_protocol(e, &ip.child("protocol"), protocol);
    }
}

fn validate_protocol(e: &mut Errs, p: &Path, protocol: &str) {
    match protocol {
        "" => e.push(req(p, "")),
        "TCP" | "UDP" | "SCTP" => {}
        other => e.push(unsupported(p, Value::from(other), &["SCTP", "TCP", "UDP"])),
    }
}

fn validate_env(e: &mut Errs, c: Option<&Value>, cp: &Path) {
    let ep = cp.child("env");
    for (i, ev) in objects(e, c, cp, "env") {
        let ip = ep.index(i);
        let ev = Some(ev);
        let name = string(e, ev, &ip, "name");
        if name.is_empty() {
            e.push(req(&ip.child("name"), ""));
        } else {
            for m in env_var_name(name) {
                e.push(inv(&ip.child("name"), Value::from(name), m));
            }
        }
        let Some(from) = object(e, ev, &ip, "valueFrom") else { continue };
        let fp = ip.child("valueFrom");
        let from = Some(from);
        let mut sources = 0;
        if let Some(f) = object(e, from, &fp, "fieldRef") {
            sources += 1;
            validate_object_field_selector(e, Some(f), &fp.child("fieldRef"), &ENV_FIELD_PATHS);
        }
        if let Some(r) = object(e, from, &fp, "resourceFieldRef") {
            sources += 1;
            validate_resource_field_selector(e, Some(r), &fp.child("resourceFieldRef"), false);
        }
        for kind in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(r) = object(e, from, &fp, kind) {
                sources += 1;
                let rp = fp.child(kind);
                let name = string(e, Some(r), &rp, "name");
                for m in dns1123_subdomain(name) {
                    e.push(inv(&rp.child("name"), Value::from(name), m));
                }
                let key = string(e, Some(r), &rp, "key");
                if key.is_empty() {
                    e.push(req(&rp.child("key"), ""));
                } else {
                    for m in config_map_key(key) {
                        e.push(inv(&rp.child("key"), Value::from(key), m));
                    }
                }
            }
        }
        let value = string(e, ev, &ip, "value");
        if sources == 0 {
            e.push(inv(
                &fp,
                Value::from(""),
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !value.is_empty() {
            e.push(inv(&fp, Value::from(""), "may not be specified when `value` is not empty"));
        } else if sources > 1 {
            e.push(inv(&fp, Value::from(""), "may not have more than one field specified at a time"));
        }
    }
}

fn validate_env_from(e: &mut Errs, c: Option<&Value>, cp: &Path) {
    let ep = cp.child("envFrom");
    for (i, ev) in objects(e, c, cp, "envFrom") {
        let ip = ep.index(i);
        let ev = Some(ev);
        let prefix = string(e, ev, &ip, "prefix");
        if !prefix.is_empty() {
            for m in env_var_name(prefix) {
                e.push(inv(&ip.child("prefix"), Value::from(prefix), m));
            }
        }
        let mut sources = 0;
        for kind in ["configMapRef", "secretRef"] {
            if let Some(r) = object(e, ev, &ip, kind) {
                sources += 1;
                let rp = ip.child(kind);
                let name = string(e, Some(r), &rp, "name");
                if name.is_empty() {
                    e.push(req(&rp.child("name"), ""));
                } else {
                    for m in NameRule::Dns1123Subdomain.check(name, true) {
                        e.push(inv(&rp.child("name"), Value::from(name), m));
                    }
                }
            }
        }
        if sources == 0 {
            e.push(inv(&ep, Value::from(""), "must specify one of: `configMapRef` or `secretRef`"));
        } else if sources > 1 {
            e.push(inv(&ep, Value::from(""), "may not have more than one field specified at a time"));
        }
    }
}

fn validate_volume_mounts(
    e: &mut Errs,
    c: Option<&Value>,
    cp: &Path,
    vols: &BTreeMap<String, &Value>,
    devices: &BTreeMap<String, String>,
) {
    let mp = cp.child("volumeMounts");
    let mut mount_points = BTreeSet::new();
    let privileged =
        member(c, "securityContext").and_then(|s| s.get("privileged")).and_then(Value::as_bool) == Some(true);
    for (i, m) in objects(e, c, cp, "volumeMounts") {
        let ip = mp.index(i);
        let m = Some(m);
        let name = string(e, m, &ip, "name");
        if name.is_empty() {
            e.push(req(&ip.child("name"), ""));
        }
        if !vols.contains_key(name) {
            e.push(FieldError::not_found(ip.child("name").s(), Value::from(name)));
        }
        let mount_path = string(e, m, &ip, "mountPath");
        if mount_path.is_empty() {
            e.push(req(&ip.child("mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            e.push(inv(&ip.child("mountPath"), Value::from(mount_path), "must be unique"));
        }
        if devices.contains_key(name) {
            e.push(inv(&ip.child("name"), Value::from(name), "must not already exist in volumeDevices"));
        }
        if devices.values().any(|d| d == mount_path) {
            e.push(inv(
                &ip.child("mountPath"),
                Value::from(mount_path),
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = string(e, m, &ip, "subPath");
        let sub_path_expr = string(e, m, &ip, "subPathExpr");
        if vols.get(name).is_some_and(|v| member(Some(v), "image").is_some()) {
            if !sub_path.is_empty() {
                e.push(inv(&ip.child("subPath"), Value::from(sub_path), "not allowed in image volume sources"));
            }
            if !sub_path_expr.is_empty() {
                e.push(inv(
                    &ip.child("subPathExpr"),
                    Value::from(sub_path_expr),
                    "not allowed in image volume sources",
                ));
            }
        }
        if !sub_path.is_empty() {
            validate_local_descending_path(e, &mp.child("subPath"), sub_path);
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                e.push(inv(
                    &ip.child("subPathExpr"),
                    Value::from(sub_path_expr),
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            validate_local_descending_path(e, &mp.child("subPathExpr"), sub_path_expr);
        }
        let propagation = opt_string(e, m, &ip, "mountPropagation");
        if let Some(prop) = propagation {
            let pp = mp.child("mountPropagation");
            if !["Bidirectional", "HostToContainer", "None"].contains(&prop) {
                e.push(unsupported(&pp, Value::from(prop), &["Bidirectional", "HostToContainer", "None"]));
            }
            if prop == "Bidirectional" && !privileged {
                e.push(forb(&pp, "Bidirectional mount propagation is available only to privileged containers"));
            }
        }
        if let Some(rro) = opt_string(e, m, &ip, "recursiveReadOnly") {
            let rp = mp.child("recursiveReadOnly");
            match rro {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if opt_bool(e, m, &ip, "readOnly") != Some(true) {
                        e.push(forb(&rp, "may only be specified when readOnly is true"));
                    }
                    if propagation.is_some_and(|p| p != "None") {
                        e.push(forb(&rp, "may only be specified when mountPropagation is None or not specified"));
                    }
                }
                other => e.push(unsupported(&rp, Value::from(other), &["Disabled", "Enabled", "IfPossible"])),
            }
        }
    }
}

fn validate_volume_devices(
    e: &mut Errs,
    c: Option<&Value>,
    cp: &Path,
    vols: &BTreeMap<String, &Value>,
    mounts: &BTreeMap<String, String>,
) {
    let dp = cp.child("volumeDevices");
    let mut paths = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (i, d) in objects(e, c, cp, "volumeDevices") {
        let ip = dp.index(i);
        let d = Some(d);
        let name = string(e, d, &ip, "name");
        let path = string(e, d, &ip, "devicePath");
        let matched = vols.get(name);
        let is_pvc = matched.is_some_and(|v| {
            member(Some(v), "persistentVolumeClaim").is_some() || member(Some(v), "ephemeral").is_some()
        });
        if name.is_empty() {
            e.push(req(&ip.child("name"), ""));
        }
        if names.contains(name) {
            e.push(inv(&ip.child("name"), Value::from(name), "must be unique"));
        }
        if matched.is_some() && !is_pvc {
            e.push(inv(
                &ip.child("name"),
                Value::from(name),
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            ));
        }
        if matched.is_none() {
            e.push(FieldError::not_found(ip.child("name").s(), Value::from(name)));
        }
        if path.is_empty() {
            e.push(req(&ip.child("devicePath"), ""));
        }
        if paths.contains(path) {
            e.push(inv(&ip.child("devicePath"), Value::from(path), "must be unique"));
        }
        if !path.is_empty() && path.split('/').any(|x| x == "..") {
            e.push(inv(&ip.child("devicePath"), Value::from(path), "can not contain backsteps ('..')"));
        } else {
            paths.insert(path);
        }
        if mounts.contains_key(name) {
            e.push(inv(&ip.child("name"), Value::from(name), "must not already exist in volumeMounts"));
        }
        if mounts.values().any(|m| m == path) {
            e.push(inv(&ip.child("devicePath"), Value::from(path), "must not already exist as a path in volumeMounts"));
        }
        if !name.is_empty() {
            names.insert(name);
        }
    }
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name)
        && !name.starts_with("requests.")
        && qualified_name(&format!("requests.{name}")).is_empty()
}

const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

/// `validateContainerResourceName`.
fn validate_container_resource_name(e: &mut Errs, p: &Path, name: &str) {
    let before = e.len();
    for m in qualified_name(name) {
        e.push(inv(p, Value::from(name), m));
    }
    let qualified_ok = e.len() == before;
    let no_slash = !name.contains('/');
    if qualified_ok
        && no_slash
        && !STANDARD_RESOURCES.contains(&name)
        && !is_hugepages(name)
        && !name.starts_with("requests.hugepages-")
    {
        e.push(inv(p, Value::from(name), "must be a standard resource type or fully qualified"));
    }
    if no_slash {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_hugepages(name) {
            e.push(inv(p, Value::from(name), "must be a standard resource for containers"));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        e.push(inv(p, Value::from(name), "doesn't follow extended resource name standard"));
    }
}

/// `ValidateResourceQuantityValue`.
fn validate_quantity_value(e: &mut Errs, p: &Path, resource: &str, q: &Quantity) {
    if q.coef < 0 {
        e.push(inv(p, Value::from(q.to_canonical()), IS_NEGATIVE_MSG));
    }
    if is_extended_resource(resource) && !q.is_integer() {
        e.push(inv(p, go_raw(go_quantity(q)), "must be an integer"));
    }
}

/// `%#v` of a `resource.Quantity`, as upstream prints the non-integer error.
fn go_quantity(q: &Quantity) -> String {
    let format = match q.format {
        QuantityFormat::DecimalExponent => "DecimalExponent",
        QuantityFormat::DecimalSI => "DecimalSI",
        QuantityFormat::BinarySI => "BinarySI",
    };
    format!(
        "resource.Quantity{{i:resource.int64Amount{{value:{}, scale:{}}}, d:resource.infDecAmount{{Dec:(*inf.Dec)(nil)}}, s:{}, Format:{}}}",
        q.coef,
        q.exp10,
        go_quote(q.kept.as_deref().unwrap_or("")),
        go_quote(format)
    )
}

fn hugepage_error(name: &str, q: &Quantity) -> Option<String> {
    let size = Quantity::parse(name.strip_prefix("hugepages-")?).ok();
    let divisible = size.is_some_and(|s| {
        s.coef > 0 && s.is_integer() && {
            let v = s.value();
            v != 0 && q.value() % v == 0
        }
    });
    (!divisible).then(|| format!("{} is not positive integer multiple of {name}", q.to_canonical()))
}

/// `validateResourceRequirements` for a container (or the pod overhead).
fn validate_resources(e: &mut Errs, res: Option<&Value>, p: &Path, claim_names: &BTreeSet<String>) {
    let lp = p.child("limits");
    let rp = p.child("requests");
    let limits = quantity_map(e, res, p, "limits").unwrap_or_default();
    let requests = quantity_map(e, res, p, "requests").unwrap_or_default();
    let (mut lim_cpu_mem, mut req_cpu_mem, mut lim_huge, mut req_huge) = (false, false, false, false);
    for (name, q) in &limits {
        let fp = lp.key(name);
        validate_container_resource_name(e, &fp, name);
        validate_quantity_value(e, &fp, name, q);
        if is_hugepages(name) {
            lim_huge = true;
            if let Some(m) = hugepage_error(name, q) {
                e.push(inv(&fp, Value::from(q.to_canonical()), m));
            }
        }
        lim_cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, q) in &requests {
        let fp = rp.key(name);
        validate_container_resource_name(e, &fp, name);
        validate_quantity_value(e, &fp, name, q);
        let overcommit = is_native_resource(name) && !is_hugepages(name);
        match limits.iter().find(|(n, _)| n == name) {
            Some((_, limit)) => {
                if !q.cmp(limit).is_eq() && !overcommit {
                    e.push(inv(
                        &rp,
                        Value::from(q.to_canonical()),
                        format!("must be equal to {name} limit of {}", limit.to_canonical()),
                    ));
                } else if q.cmp(limit).is_gt() {
                    e.push(inv(
                        &rp,
                        Value::from(q.to_canonical()),
                        format!("must be less than or equal to {name} limit of {}", limit.to_canonical()),
                    ));
                }
            }
            None if !overcommit => e.push(req(&lp, "Limit must be set for non overcommitable resources")),
            None => {}
        }
        if is_hugepages(name) {
            req_huge = true;
            if let Some(m) = hugepage_error(name, q) {
                e.push(inv(&fp, Value::from(q.to_canonical()), m));
            }
        }
        req_cpu_mem |= name == "cpu" || name == "memory";
    }
    if !lim_cpu_mem && !req_cpu_mem && (req_huge || lim_huge) {
        e.push(forb(p, "HugePages require cpu or memory"));
    }
    let cp = p.child("claims");
    let mut names: BTreeSet<String> = BTreeSet::new();
    for (i, claim) in objects(e, res, p, "claims") {
        let ip = cp.index(i);
        let name = string(e, Some(claim), &ip, "name");
        if name.is_empty() {
            e.push(req(&ip, ""));
            continue;
        }
        if names.contains(name) {
            e.push(dup(&ip, Value::from(name)));
        } else {
            let request = string(e, Some(claim), &ip, "request");
            let mut key = name.to_string();
            if !request.is_empty() {
                for m in dns1123_label(request) {
                    e.push(inv(&ip.child("request"), Value::from(request), m));
                }
                key = format!("{name}/{request}");
            }
            if names.contains(&key) {
                e.push(dup(&ip, Value::from(key.as_str())));
            } else if request.is_empty() {
                for existing in &names {
                    if existing.split_once('/').is_some_and(|(n, _)| n == name) {
                        e.push(dup(&ip, Value::from(name)));
                    }
                }
            }
            names.insert(key);
        }
        if !claim_names.contains(name) {
            let mut err = FieldError::not_found(ip.s(), Value::from(name));
            err.detail = if claim_names.is_empty() {
                "must be one of the names in pod.spec.resourceClaims which is empty".to_string()
            } else {
                format!(
                    "must be one of the names in pod.spec.resourceClaims: {}",
                    claim_names.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            e.push(err);
        }
    }
}

fn validate_resize_policy(e: &mut Errs, c: Option<&Value>, cp: &Path, pod_restart_policy: &str) {
    let p = cp.child("resizePolicy");
    let mut seen = BTreeSet::new();
    for (i, rp) in objects(e, c, cp, "resizePolicy") {
        let rp = Some(rp);
        let resource = string(e, rp, &p.index(i), "resourceName");
        if !seen.insert(resource) {
            e.push(dup(&p.index(i), Value::from(resource)));
        }
        match resource {
            "cpu" | "memory" => {}
            "" => e.push(req(&p, "")),
            other => e.push(unsupported(&p, Value::from(other), &["cpu", "memory"])),
        }
        let policy = string(e, rp, &p.index(i), "restartPolicy");
        match policy {
            "NotRequired" | "RestartContainer" => {}
            "" => e.push(req(&p, "")),
            other => e.push(unsupported(&p, Value::from(other), &["NotRequired", "RestartContainer"])),
        }
        if pod_restart_policy == "Never" && policy != "NotRequired" {
            e.push(inv(&p, Value::from(policy), "must be 'NotRequired' when `restartPolicy` is 'Never'"));
        }
    }
}

fn validate_seccomp_profile(e: &mut Errs, sc: Option<&Value>, parent: &Path) {
    let Some(sp) = object(e, sc, parent, "seccompProfile") else { return };
    let p = parent.child("seccompProfile");
    let sp = Some(sp);
    let kind = string(e, sp, &p, "type");
    match kind {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => e.push(req(&p.child("type"), "type is required when seccompProfile is set")),
        other => {
            e.push(unsupported(&p.child("type"), Value::from(other), &["Localhost", "RuntimeDefault", "Unconfined"]))
        }
    }
    let profile = opt_string(e, sp, &p, "localhostProfile");
    if kind == "Localhost" {
        match profile {
            None => e.push(req(&p.child("localhostProfile"), "must be set when seccomp type is Localhost")),
            Some(lp) => validate_local_descending_path(e, &p.child("localhostProfile"), lp),
        }
    } else if profile.is_some() {
        let repr =
            format!("core.SeccompProfile{{Type:{}, LocalhostProfile:{}}}", go_quote(kind), go_ptr("string", true));
        e.push(inv(&p.child("localhostProfile"), go_raw(repr), "can only be set when seccomp type is Localhost"));
    }
}

fn validate_apparmor_profile(e: &mut Errs, sc: Option<&Value>, parent: &Path) {
    let Some(ap) = object(e, sc, parent, "appArmorProfile") else { return };
    let p = parent.child("appArmorProfile");
    let ap = Some(ap);
    let profile = opt_string(e, ap, &p, "localhostProfile");
    match string(e, ap, &p, "type") {
        "Localhost" => match profile {
            None => e.push(req(&p.child("localhostProfile"), "must be set when AppArmor type is Localhost")),
            Some(lp) => {
                if lp.trim() != lp {
                    e.push(inv(&p.child("localhostProfile"), Value::from(lp), "must not be padded with whitespace"));
                } else if lp.is_empty() {
                    e.push(req(&p.child("localhostProfile"), "must be set when AppArmor type is Localhost"));
                }
                if lp.len() > 4095 {
                    e.push(FieldError::too_long(p.child("localhostProfile").s(), 4095));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(lp) = profile {
                e.push(inv(
                    &p.child("localhostProfile"),
                    Value::from(lp),
                    "can only be set when AppArmor type is Localhost",
                ));
            }
        }
        "" => e.push(req(&p.child("type"), "type is required when appArmorProfile is set")),
        other => {
            e.push(unsupported(&p.child("type"), Value::from(other), &["Localhost", "RuntimeDefault", "Unconfined"]))
        }
    }
}

fn validate_windows_options(e: &mut Errs, sc: Option<&Value>, parent: &Path) {
    let Some(w) = object(e, sc, parent, "windowsOptions") else { return };
    let p = parent.child("windowsOptions");
    let w = Some(w);
    if let Some(name) = opt_string(e, w, &p, "gmsaCredentialSpecName") {
        for m in dns1123_subdomain(name) {
            e.push(inv(&p.child("gmsaCredentialSpecName"), Value::from(name), m));
        }
    }
    if let Some(spec) = opt_string(e, w, &p, "gmsaCredentialSpec") {
        if spec.is_empty() {
            e.push(inv(
                &p.child("gmsaCredentialSpec"),
                Value::from(spec),
                "gmsaCredentialSpec cannot be an empty string",
            ));
        } else if spec.len() > 64 * 1024 {
            e.push(inv(
                &p.child("gmsaCredentialSpec"),
                Value::from(spec),
                "gmsaCredentialSpec size must be under 64 KiB",
            ));
        }
    }
    if let Some(user) = opt_string(e, w, &p, "runAsUserName") {
        let up = p.child("runAsUserName");
        if user.is_empty() {
            e.push(inv(&up, Value::from(user), "runAsUserName cannot be an empty string"));
        } else if user.chars().any(|c| c.is_ascii_control()) {
            e.push(inv(&up, Value::from(user), "runAsUserName cannot contain control characters"));
        } else if user.matches('\\').count() > 1 {
            e.push(inv(&up, Value::from(user), "runAsUserName cannot contain more than one backslash"));
        }
    }
}

/// `ValidateSecurityContext` for a container.
fn validate_container_security_context(e: &mut Errs, c: Option<&Value>, cp: &Path, host_users: bool) {
    let Some(sc) = object(e, c, cp, "securityContext") else { return };
    let p = cp.child("securityContext");
    let sc = Some(sc);
    for key in ["runAsUser", "runAsGroup"] {
        if let Some(id) = int64(e, sc, &p, key) {
            for m in valid_user_id(id) {
                e.push(inv(&p.child(key), Value::from(id), m));
            }
        }
    }
    if let Some(pm) = opt_string(e, sc, &p, "procMount") {
        if pm != "Default" && pm != "Unmasked" {
            e.push(unsupported(&p.child("procMount"), Value::from(pm), &["Default", "Unmasked"]));
        }
        if host_users && pm == "Unmasked" {
            e.push(inv(&p.child("procMount"), Value::from(pm), "`hostUsers` must be false to use `Unmasked`"));
        }
    }
    validate_seccomp_profile(e, sc, &p);
    if opt_bool(e, sc, &p, "allowPrivilegeEscalation") == Some(false) {
        let sc_repr = || go_raw(format!("&core.SecurityContext{{{}}}", sc.map(Value::to_string).unwrap_or_default()));
        if opt_bool(e, sc, &p, "privileged") == Some(true) {
            e.push(inv(&p, sc_repr(), "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"));
        }
        let caps = object(e, sc, &p, "capabilities");
        if strings(e, caps, &p.child("capabilities"), "add").contains(&"CAP_SYS_ADMIN") {
            e.push(inv(
                &p,
                sc_repr(),
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
    validate_windows_options(e, sc, &p);
    validate_apparmor_profile(e, sc, &p);
}

const HANDLER_KINDS: [&str; 5] = ["exec", "httpGet", "tcpSocket", "grpc", "sleep"];

fn validate_port_num_or_name(e: &mut Errs, p: &Path, port: Option<&IntOrString>) {
    match port {
        Some(IntOrString::Str(s)) => {
            for m in port_name(s) {
                e.push(inv(p, Value::from(s.as_str()), m));
            }
        }
        Some(IntOrString::Int(i)) => {
            for m in port_number(*i) {
                e.push(inv(p, Value::from(*i), m));
            }
        }
        None => {
            for m in port_number(0) {
                e.push(inv(p, Value::from(0), m));
            }
        }
    }
}

/// `validateHandler`: exactly one of the handler kinds allowed here.
fn validate_handler(e: &mut Errs, h: Option<&Value>, p: &Path, allowed: &[&str], grace: Option<i64>) {
    let mut count = 0;
    for kind in HANDLER_KINDS.iter().filter(|k| allowed.contains(k)) {
        let Some(v) = object(e, h, p, kind) else { continue };
        if count > 0 {
            e.push(forb(&p.child(kind), "may not specify more than 1 handler type"));
            continue;
        }
        count += 1;
        let hp = p.child(kind);
        let v = Some(v);
        match *kind {
            "exec" => {
                if list(e, v, &hp, "command").is_empty() {
                    e.push(req(&hp.child("command"), ""));
                }
            }
            "httpGet" => {
                if string(e, v, &hp, "path").is_empty() {
                    e.push(req(&hp.child("path"), ""));
                }
                let port = int_or_string(e, v, &hp, "port");
                validate_port_num_or_name(e, &hp.child("port"), port.as_ref());
                let scheme = string(e, v, &hp, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    e.push(unsupported(&hp.child("scheme"), Value::from(scheme), &["HTTP", "HTTPS"]));
                }
                for (_, header) in objects(e, v, &hp, "httpHeaders") {
                    let name = string(e, Some(header), &hp.child("httpHeaders"), "name");
                    for m in http_header_name(name) {
                        e.push(inv(&hp.child("httpHeaders"), Value::from(name), m));
                    }
                }
            }
            "tcpSocket" => {
                let port = int_or_string(e, v, &hp, "port");
                validate_port_num_or_name(e, &hp.child("port"), port.as_ref());
            }
            "grpc" => {
                let port = int32(e, v, &hp, "port").unwrap_or(0);
                validate_port_num_or_name(e, &hp.child("port"), Some(&IntOrString::Int(port)));
            }
            _ => {
                let seconds = int64(e, v, &hp, "seconds").unwrap_or(0);
                if let Some(g) = grace
                    && (seconds < 0 || seconds > g)
                {
                    e.push(inv(
                        &hp,
                        Value::from(seconds),
                        format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
                    ));
                }
            }
        }
    }
    if count == 0 {
        e.push(req(p, "must specify a handler type"));
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn validate_probe(e: &mut Errs, c: Option<&Value>, cp: &Path, key: &str, kind: ProbeKind, grace: Option<i64>) {
    let Some(probe) = object(e, c, cp, key) else { return };
    let p = cp.child(key);
    let probe = Some(probe);
    validate_handler(e, probe, &p, &["exec", "httpGet", "tcpSocket", "grpc"], grace);
    for field in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        let v = int32(e, probe, &p, field);
        validate_nonnegative(e, &p.child(field), v);
    }
    let tgps = int64(e, probe, &p, "terminationGracePeriodSeconds");
    if let Some(t) = tgps
        && t <= 0
    {
        e.push(inv(&p.child("terminationGracePeriodSeconds"), Value::from(t), "must be greater than 0"));
    }
    let success = int32(e, probe, &p, "successThreshold").unwrap_or(0);
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            if success != 1 {
                e.push(inv(&p.child("successThreshold"), Value::from(success), "must be 1"));
            }
        }
        ProbeKind::Readiness => {
            if let Some(t) = tgps {
                e.push(inv(
                    &p.child("terminationGracePeriodSeconds"),
                    Value::from(t),
                    "must not be set for readinessProbes",
                ));
            }
        }
    }
}

fn validate_lifecycle(e: &mut Errs, c: Option<&Value>, cp: &Path, grace: Option<i64>) {
    let Some(l) = object(e, c, cp, "lifecycle") else { return };
    let p = cp.child("lifecycle");
    for hook in ["postStart", "preStop"] {
        if let Some(h) = object(e, Some(l), &p, hook) {
            validate_handler(e, Some(h), &p.child(hook), &["exec", "httpGet", "tcpSocket", "sleep"], grace);
        }
    }
}

/// Everything `validateContainerCommon` checks.
struct ContainerContext<'a> {
    vols: &'a BTreeMap<String, &'a Value>,
    claim_names: &'a BTreeSet<String>,
    restart_policy: &'a str,
    host_users: bool,
}

fn validate_container_common(e: &mut Errs, c: Option<&Value>, cp: &Path, cx: &ContainerContext<'_>) {
    let name = string(e, c, cp, "name");
    if name.is_empty() {
        e.push(req(&cp.child("name"), ""));
    } else {
        for m in dns1123_label(name) {
            e.push(inv(&cp.child("name"), Value::from(name), m));
        }
    }
    if string(e, c, cp, "image").is_empty() {
        e.push(req(&cp.child("image"), ""));
    }
    match string(e, c, cp, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => e.push(req(&cp.child("terminationMessagePolicy"), "")),
        other => e.push(unsupported(
            &cp.child("terminationMessagePolicy"),
            Value::from(other),
            &["File", "FallbackToLogsOnError"],
        )),
    }
    let mut scratch = Vec::new();
    let mounts: BTreeMap<String, String> = objects(&mut scratch, c, cp, "volumeMounts")
        .into_iter()
        .map(|(_, m)| {
            let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("name"), s("mountPath"))
        })
        .collect();
    let devices: BTreeMap<String, String> = objects(&mut scratch, c, cp, "volumeDevices")
        .into_iter()
        .map(|(_, d)| {
            let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("name"), s("devicePath"))
        })
        .collect();
    validate_container_ports(e, c, cp);
    validate_env(e, c, cp);
    validate_env_from(e, c, cp);
    validate_volume_mounts(e, c, cp, cx.vols, &devices);
    validate_volume_devices(e, c, cp, cx.vols, &mounts);
    let pull_policy = string(e, c, cp, "imagePullPolicy");
    validate_pull_policy(e, &cp.child("imagePullPolicy"), pull_policy);
    let res = object(e, c, cp, "resources");
    validate_resources(e, res, &cp.child("resources"), cx.claim_names);
    validate_resize_policy(e, c, cp, cx.restart_policy);
    validate_container_security_context(e, c, cp, cx.host_users);
}

/// `checkHostPortConflicts` over the given containers.
fn check_host_port_conflicts(e: &mut Errs, containers: &[(usize, &Value)], p: &Path) {
    let mut seen = BTreeSet::new();
    for (ci, c) in containers {
        let Some(Value::Array(ports)) = member(Some(c), "ports") else { continue };
        for (pi, port) in ports.iter().enumerate() {
            let host_port = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let s = |k: &str| port.get(k).and_then(Value::as_str).unwrap_or("");
            let key = format!("{}/{}/{}", s("protocol"), s("hostIP"), host_port);
            if !seen.insert(key.clone()) {
                e.push(dup(&p.index(*ci).child("ports").index(pi).child("hostPort"), Value::from(key)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// PodSpec
// ---------------------------------------------------------------------------------------

fn validate_node_selector_requirement(e: &mut Errs, r: Option<&Value>, p: &Path, allow_invalid_values: bool) {
    let op = string(e, r, p, "operator");
    let values = strings(e, r, p, "values");
    match op {
        "In" | "NotIn" => {
            if values.is_empty() {
                e.push(req(&p.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                e.push(forb(&p.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                e.push(req(&p.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
            }
        }
        other => e.push(inv(&p.child("operator"), Value::from(other), "not a valid selector operator")),
    }
    let key = string(e, r, p, "key");
    validate_label_name(e, &p.child("key"), key);
    if !allow_invalid_values {
        for (i, v) in values.iter().enumerate() {
            for m in label_value(v) {
                e.push(inv(&p.child("values").index(i), Value::from(*v), m));
            }
        }
    }
}

fn validate_node_selector_term(e: &mut Errs, term: Option<&Value>, p: &Path, allow_invalid_values: bool) {
    let ep = p.child("matchExpressions");
    for (j, r) in objects(e, term, p, "matchExpressions") {
        validate_node_selector_requirement(e, Some(r), &ep.index(j), allow_invalid_values);
    }
    let fp = p.child("matchFields");
    for (j, r) in objects(e, term, p, "matchFields") {
        let rp = fp.index(j);
        let r = Some(r);
        let values = strings(e, r, &rp, "values");
        match string(e, r, &rp, "operator") {
            "In" | "NotIn" => {
                if values.len() != 1 {
                    e.push(req(
                        &rp.child("values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    ));
                }
            }
            other => e.push(inv(&rp.child("operator"), Value::from(other), "not a valid selector operator")),
        }
        let key = string(e, r, &rp, "key");
        if key != "metadata.name" {
            e.push(inv(&rp.child("key"), Value::from(key), "not a valid field selector key"));
        } else {
            for (i, v) in values.iter().enumerate() {
                for m in dns1123_subdomain(v) {
                    e.push(inv(&rp.child("values").index(i), Value::from(*v), m));
                }
            }
        }
    }
}

fn validate_pod_affinity_term(e: &mut Errs, term: Option<&Value>, p: &Path) {
    let sel = object(e, term, p, "labelSelector");
    validate_label_selector(e, sel, &p.child("labelSelector"));
    let ns_sel = object(e, term, p, "namespaceSelector");
    validate_label_selector(e, ns_sel, &p.child("namespaceSelector"));
    for ns in strings(e, term, p, "namespaces") {
        for m in dns1123_label(ns) {
            e.push(inv(&p.child("namespace"), Value::from(ns), m));
        }
    }
    let match_keys = strings(e, term, p, "matchLabelKeys");
    let mismatch_keys = strings(e, term, p, "mismatchLabelKeys");
    for (key, keys) in [("matchLabelKeys", &match_keys), ("mismatchLabelKeys", &mismatch_keys)] {
        if keys.is_empty() {
            continue;
        }
        if sel.is_none() {
            e.push(forb(&p.child(key), "must not be specified when labelSelector is not set"));
            continue;
        }
        for (i, k) in keys.iter().enumerate() {
            validate_label_name(e, &p.child(key).index(i), k);
        }
    }
    if let Some(sel) = sel {
        let mut selector_keys: BTreeSet<&str> = BTreeSet::new();
        if let Some(Value::Object(m)) = member(Some(sel), "matchLabels") {
            selector_keys.extend(m.keys().map(String::as_str));
        }
        if let Some(Value::Array(exprs)) = member(Some(sel), "matchExpressions") {
            for x in exprs {
                let key = x.get("key").and_then(Value::as_str).unwrap_or("");
                if let Some(i) = match_keys.iter().rposition(|k| *k == key)
                    && selector_keys.contains(key)
                {
                    e.push(inv(&p.index(i), Value::from(key), "exists in both matchLabelKeys and labelSelector"));
                }
                selector_keys.insert(key);
            }
        }
    }
    for (i, k) in match_keys.iter().enumerate() {
        if mismatch_keys.contains(k) {
            e.push(inv(
                &p.child("matchLabelKeys").index(i),
                Value::from(*k),
                "exists in both matchLabelKeys and mismatchLabelKeys",
            ));
        }
    }
    let topology_key = string(e, term, p, "topologyKey");
    if topology_key.is_empty() {
        e.push(req(&p.child("topologyKey"), "can not be empty"));
    }
    validate_label_name(e, &p.child("topologyKey"), topology_key);
}

fn validate_pod_affinity(e: &mut Errs, a: Option<&Value>, p: &Path) {
    let rp = p.child("requiredDuringSchedulingIgnoredDuringExecution");
    for (i, t) in objects(e, a, p, "requiredDuringSchedulingIgnoredDuringExecution") {
        validate_pod_affinity_term(e, Some(t), &rp.index(i));
    }
    let pp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
    for (j, w) in objects(e, a, p, "preferredDuringSchedulingIgnoredDuringExecution") {
        let wp = pp.index(j);
        let weight = int32(e, Some(w), &wp, "weight").unwrap_or(0);
        if !(1..=100).contains(&weight) {
            e.push(inv(&wp.child("weight"), Value::from(weight), "must be in the range 1-100"));
        }
        let term = object(e, Some(w), &wp, "podAffinityTerm");
        validate_pod_affinity_term(e, term, &wp.child("podAffinityTerm"));
    }
}

fn validate_affinity(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    let Some(a) = object(e, spec, sp, "affinity") else { return };
    let p = sp.child("affinity");
    let a = Some(a);
    if let Some(na) = object(e, a, &p, "nodeAffinity") {
        let np = p.child("nodeAffinity");
        if let Some(required) = object(e, Some(na), &np, "requiredDuringSchedulingIgnoredDuringExecution") {
            let rp = np.child("requiredDuringSchedulingIgnoredDuringExecution");
            let tp = rp.child("nodeSelectorTerms");
            let terms = objects(e, Some(required), &rp, "nodeSelectorTerms");
            if terms.is_empty() {
                e.push(req(&tp, "must have at least one node selector term"));
            }
            for (i, t) in terms {
                validate_node_selector_term(e, Some(t), &tp.index(i), false);
            }
        }
        let pp = np.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in objects(e, Some(na), &np, "preferredDuringSchedulingIgnoredDuringExecution") {
            let ip = pp.index(i);
            let weight = int32(e, Some(t), &ip, "weight").unwrap_or(0);
            if !(1..=100).contains(&weight) {
                e.push(inv(&ip.child("weight"), Value::from(weight), "must be in the range 1-100"));
            }
            let pref = object(e, Some(t), &ip, "preference");
            validate_node_selector_term(e, pref, &ip.child("preference"), true);
        }
    }
    for key in ["podAffinity", "podAntiAffinity"] {
        if let Some(pa) = object(e, a, &p, key) {
            validate_pod_affinity(e, Some(pa), &p.child(key));
        }
    }
}

fn validate_taint_effect(e: &mut Errs, p: &Path, effect: &str, allow_empty: bool) {
    if !allow_empty && effect.is_empty() {
        e.push(req(p, ""));
        return;
    }
    if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
        e.push(unsupported(p, Value::from(effect), &["NoSchedule", "PreferNoSchedule", "NoExecute"]));
    }
}

fn validate_tolerations(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    let tp = sp.child("tolerations");
    for (i, t) in objects(e, spec, sp, "tolerations") {
        let ip = tp.index(i);
        let t = Some(t);
        let key = string(e, t, &ip, "key");
        if !key.is_empty() {
            validate_label_name(e, &ip.child("key"), key);
        }
        let op = string(e, t, &ip, "operator");
        if key.is_empty() && op != "Exists" {
            e.push(inv(
                &ip.child("operator"),
                Value::from(op),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        let effect = string(e, t, &ip, "effect");
        if int64(e, t, &ip, "tolerationSeconds").is_some() && effect != "NoExecute" {
            e.push(inv(
                &ip.child("effect"),
                Value::from(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = string(e, t, &ip, "value");
        match op {
            "Equal" | "" => {
                let msgs = label_value(value);
                if !msgs.is_empty() {
                    e.push(inv(&ip.child("operator"), Value::from(value), msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    e.push(inv(
                        &ip.child("operator"),
                        Value::from(value),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => e.push(unsupported(&ip.child("operator"), Value::from(other), &["Equal", "Exists"])),
        }
        if !effect.is_empty() {
            validate_taint_effect(e, &ip.child("effect"), effect, true);
        }
    }
}

fn validate_pod_security_context(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    let Some(sc) = object(e, spec, sp, "securityContext") else { return };
    let p = sp.child("securityContext");
    let sc = Some(sc);
    for key in ["fsGroup", "runAsUser", "runAsGroup"] {
        if let Some(id) = int64(e, sc, &p, key) {
            for m in valid_user_id(id) {
                e.push(inv(&p.child(key), Value::from(id), m));
            }
        }
    }
    let gp = p.child("supplementalGroups");
    for (g, v) in list(e, sc, &p, "supplementalGroups").iter().enumerate() {
        match v.as_i64() {
            Some(id) => {
                for m in valid_user_id(id) {
                    e.push(inv(&gp.index(g), Value::from(id), m));
                }
            }
            None => wrong_type(e, &gp.index(g), v, "int64"),
        }
    }
    let host_pid = opt_bool(e, spec, sp, "hostPID") == Some(true);
    if let Some(share) = opt_bool(e, spec, sp, "shareProcessNamespace")
        && share
        && host_pid
    {
        e.push(inv(
            &p.child("shareProcessNamespace"),
            Value::from(true),
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let host_network = opt_bool(e, spec, sp, "hostNetwork") == Some(true);
    let host_ipc = opt_bool(e, spec, sp, "hostIPC") == Some(true);
    let sysp = p.child("sysctls");
    let mut names = BTreeSet::new();
    for (i, s) in objects(e, sc, &p, "sysctls") {
        let np = sysp.index(i).child("name");
        let name = string(e, Some(s), &sysp.index(i), "name");
        if name.is_empty() {
            e.push(req(&np, ""));
        } else if !is_valid_sysctl_name(name) {
            e.push(inv(
                &np,
                Value::from(name),
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if names.contains(name) {
            e.push(dup(&np, Value::from(name)));
        }
        let normalized = name.replace('/', ".");
        let is_net = normalized.starts_with("net.");
        let is_ipc = normalized.starts_with("kernel.shm")
            || normalized.starts_with("kernel.msg")
            || normalized == "kernel.sem"
            || normalized.starts_with("fs.mqueue.");
        if host_network && is_net {
            e.push(inv(&np, Value::from(name), "may not be specified when 'hostNetwork' is true"));
        } else if host_ipc && is_ipc {
            e.push(inv(&np, Value::from(name), "may not be specified when 'hostIPC' is true"));
        }
        names.insert(name);
    }
    if let Some(policy) = opt_string(e, sc, &p, "fsGroupChangePolicy")
        && !["Always", "OnRootMismatch"].contains(&policy)
    {
        e.push(unsupported(&p.child("fsGroupChangePolicy"), Value::from(policy), &["Always", "OnRootMismatch"]));
    }
    validate_seccomp_profile(e, sc, &p);
    validate_windows_options(e, sc, &p);
    validate_apparmor_profile(e, sc, &p);
    if let Some(policy) = opt_string(e, sc, &p, "supplementalGroupsPolicy")
        && !["Merge", "Strict"].contains(&policy)
    {
        e.push(unsupported(&p.child("supplementalGroupsPolicy"), Value::from(policy), &["Merge", "Strict"]));
    }
    if let Some(policy) = opt_string(e, sc, &p, "seLinuxChangePolicy")
        && !["MountOption", "Recursive"].contains(&policy)
    {
        e.push(unsupported(&p.child("seLinuxChangePolicy"), Value::from(policy), &["MountOption", "Recursive"]));
    }
}

/// `([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?`, at most 253 bytes.
fn is_valid_sysctl_name(name: &str) -> bool {
    name.len() <= 253
        && name.split(['.', '/']).all(|seg| match (seg.bytes().next(), seg.bytes().last()) {
            (Some(f), Some(l)) => {
                is_lower_alnum(f)
                    && is_lower_alnum(l)
                    && seg.bytes().all(|b| is_lower_alnum(b) || b == b'-' || b == b'_')
            }
            _ => false,
        })
}

fn validate_dns_config(e: &mut Errs, spec: Option<&Value>, sp: &Path, dns_policy: &str) {
    let p = sp.child("dnsConfig");
    let cfg = object(e, spec, sp, "dnsConfig");
    let nameservers = strings(e, cfg, &p, "nameservers");
    if dns_policy == "None" {
        if cfg.is_none() {
            e.push(req(&p, "must provide `dnsConfig` when `dnsPolicy` is None"));
            return;
        }
        if nameservers.is_empty() {
            e.push(req(&p.child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"));
            return;
        }
    }
    if cfg.is_none() {
        return;
    }
    if nameservers.len() > 3 {
        e.push(inv(
            &p.child("nameservers"),
            go_raw(go_string_slice("string", member(cfg, "nameservers"))),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        validate_ip(e, &p.child("nameservers").index(i), ns);
    }
    let searches = strings(e, cfg, &p, "searches");
    let searches_value = || go_raw(go_string_slice("string", member(cfg, "searches")));
    if searches.len() > 32 {
        e.push(inv(&p.child("searches"), searches_value(), "must not have more than 32 search paths"));
    }
    if searches.join(" ").len() > 2048 {
        e.push(inv(
            &p.child("searches"),
            searches_value(),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        if *s != "." {
            let s = s.strip_suffix('.').unwrap_or(s);
            for m in dns1123_subdomain_with_underscore(s) {
                e.push(inv(&p.child("searches").index(i), Value::from(s), m));
            }
        }
    }
    let op = p.child("options");
    for (i, o) in objects(e, cfg, &p, "options") {
        if string(e, Some(o), &op.index(i), "name").is_empty() {
            e.push(req(&op.index(i), "must not be empty"));
        }
    }
}

fn validate_topology_spread(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    let tp = sp.child("topologySpreadConstraints");
    let constraints = objects(e, spec, sp, "topologySpreadConstraints");
    let keyed: Vec<(String, String)> = constraints
        .iter()
        .map(|(_, c)| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("topologyKey"), s("whenUnsatisfiable"))
        })
        .collect();
    for (n, (i, c)) in constraints.iter().enumerate() {
        let cp = tp.index(*i);
        let c = Some(*c);
        let max_skew = int32(e, c, &cp, "maxSkew").unwrap_or(0);
        if max_skew <= 0 {
            e.push(inv(&cp.child("maxSkew"), Value::from(max_skew), IS_NOT_POSITIVE_MSG));
        }
        let key = string(e, c, &cp, "topologyKey");
        if key.is_empty() {
            e.push(req(&cp.child("topologyKey"), "can not be empty"));
        }
        let action = string(e, c, &cp, "whenUnsatisfiable");
        if action != "DoNotSchedule" && action != "ScheduleAnyway" {
            e.push(unsupported(
                &cp.child("whenUnsatisfiable"),
                Value::from(action),
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if keyed[n + 1..].iter().any(|(k, a)| k == key && a == action) {
            e.push(dup(&cp.child("{topologyKey, whenUnsatisfiable}"), Value::from(format!("{{{key}, {action}}}"))));
        }
        if let Some(min) = int32(e, c, &cp, "minDomains") {
            if min <= 0 {
                e.push(inv(&cp.child("minDomains"), Value::from(min), IS_NOT_POSITIVE_MSG));
            }
            if action != "DoNotSchedule" {
                e.push(inv(
                    &cp.child("minDomains"),
                    Value::from(min),
                    format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"),
                ));
            }
        }
        for key in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
            if let Some(policy) = opt_string(e, c, &cp, key)
                && policy != "Honor"
                && policy != "Ignore"
            {
                e.push(unsupported(&cp.child(key), Value::from(policy), &["Honor", "Ignore"]));
            }
        }
        let sel = object(e, c, &cp, "labelSelector");
        let match_keys = strings(e, c, &cp, "matchLabelKeys");
        if !match_keys.is_empty() {
            let mp = cp.child("matchLabelKeys");
            let mut selector_keys: BTreeSet<&str> = BTreeSet::new();
            match sel {
                Some(s) => {
                    if let Some(Value::Object(m)) = member(Some(s), "matchLabels") {
                        selector_keys.extend(m.keys().map(String::as_str));
                    }
                    if let Some(Value::Array(x)) = member(Some(s), "matchExpressions") {
                        selector_keys.extend(x.iter().filter_map(|r| r.get("key").and_then(Value::as_str)));
                    }
                }
                None => e.push(forb(&mp, "must not be specified when labelSelector is not set")),
            }
            for (j, k) in match_keys.iter().enumerate() {
                validate_label_name(e, &mp.index(j), k);
                if selector_keys.contains(k) {
                    e.push(inv(&mp.index(j), Value::from(*k), "exists in both matchLabelKeys and labelSelector"));
                }
            }
        }
        validate_label_selector(e, sel, &cp.child("labelSelector"));
    }
}

/// `ValidatePodSpec` plus the extra checks upstream applies to Pods (not templates).
fn validate_pod_spec(e: &mut Errs, spec: Option<&Value>, sp: &Path, pod_name: Option<&str>, opts: PodOpts) {
    let grace = int64(e, spec, sp, "terminationGracePeriodSeconds");
    if grace.is_none() {
        e.push(req(&sp.child("terminationGracePeriodSeconds"), ""));
    }
    let sc = member(spec, "securityContext");
    let host_users = sc.and_then(|s| s.get("hostUsers")).and_then(Value::as_bool) != Some(false);
    let vols = validate_volumes(e, spec, sp, pod_name, opts);
    let claims_path = sp.child("resourceClaims");
    let mut claim_names = BTreeSet::new();
    for (i, claim) in objects(e, spec, sp, "resourceClaims") {
        let cp = claims_path.index(i);
        let claim = Some(claim);
        let name = string(e, claim, &cp, "name");
        if name.is_empty() {
            e.push(req(&cp.child("name"), ""));
        } else if claim_names.contains(name) {
            e.push(dup(&cp.child("name"), Value::from(name)));
        } else {
            for m in dns1123_label(name) {
                e.push(inv(&cp.child("name"), Value::from(name), m));
            }
            claim_names.insert(name.to_string());
        }
        let claim_name = opt_string(e, claim, &cp, "resourceClaimName");
        let template_name = opt_string(e, claim, &cp, "resourceClaimTemplateName");
        let repr = || go_raw(format!("core.PodResourceClaim{{Name:{}, ...}}", go_quote(name)));
        if claim_name.is_some() && template_name.is_some() {
            e.push(inv(
                &cp,
                repr(),
                "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified",
            ));
        }
        if claim_name.is_none() && template_name.is_none() {
            e.push(inv(&cp, repr(), "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"));
        }
        for (key, v) in [("resourceClaimName", claim_name), ("resourceClaimTemplateName", template_name)] {
            if let Some(v) = v {
                for m in dns1123_subdomain(v) {
                    e.push(inv(&cp.child(key), Value::from(v), m));
                }
            }
        }
    }
    let restart_policy = string(e, spec, sp, "restartPolicy");
    let cx = ContainerContext { vols: &vols, claim_names: &claim_names, restart_policy, host_users };

    // Regular containers.
    let cp = sp.child("containers");
    let containers = objects(e, spec, sp, "containers");
    if containers.is_empty() {
        e.push(req(&cp, ""));
    } else {
        let mut names = BTreeSet::new();
        for (i, c) in &containers {
            let ip = cp.index(*i);
            let c = Some(*c);
            validate_container_common(e, c, &ip, &cx);
            let name = c.and_then(|c| c.get("name")).and_then(Value::as_str).unwrap_or("");
            if !names.insert(name) {
                e.push(dup(&ip.child("name"), Value::from(name)));
            }
            validate_lifecycle(e, c, &ip, grace);
            validate_probe(e, c, &ip, "livenessProbe", ProbeKind::Liveness, grace);
            validate_probe(e, c, &ip, "readinessProbe", ProbeKind::Readiness, grace);
            validate_probe(e, c, &ip, "startupProbe", ProbeKind::Startup, grace);
            if member(c, "restartPolicy").is_some() {
                e.push(forb(&ip.child("restartPolicy"), "may not be set for non-init containers"));
            }
        }
        check_host_port_conflicts(e, &containers, &cp);
    }

    // Init containers.
    let icp = sp.child("initContainers");
    let mut all_names: BTreeSet<&str> =
        containers.iter().map(|(_, c)| c.get("name").and_then(Value::as_str).unwrap_or("")).collect();
    for (i, c) in objects(e, spec, sp, "initContainers") {
        let ip = icp.index(i);
        let cv = Some(c);
        validate_container_common(e, cv, &ip, &cx);
        let mut restart_always = false;
        if let Some(rp) = opt_string(e, cv, &ip, "restartPolicy") {
            if rp != "Always" {
                e.push(unsupported(&ip.child("restartPolicy"), Value::from(rp), &["Always"]));
            }
            restart_always = rp == "Always";
        }
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if all_names.contains(name) {
            e.push(dup(&ip.child("name"), Value::from(name)));
        } else if !name.is_empty() {
            all_names.insert(name);
        }
        check_host_port_conflicts(e, &[(i, c)], &icp);
        if restart_always {
            validate_lifecycle(e, cv, &ip, grace);
            validate_probe(e, cv, &ip, "livenessProbe", ProbeKind::Liveness, grace);
            validate_probe(e, cv, &ip, "readinessProbe", ProbeKind::Readiness, grace);
            validate_probe(e, cv, &ip, "startupProbe", ProbeKind::Startup, grace);
        } else {
            for key in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if member(cv, key).is_some() {
                    e.push(forb(&ip.child(key), "may not be set for init containers without restartPolicy=Always"));
                }
            }
        }
    }

    // Ephemeral containers (only names and the allowed fields; they are set via a subresource).
    let ecp = sp.child("ephemeralContainers");
    for (i, c) in objects(e, spec, sp, "ephemeralContainers") {
        let ip = ecp.index(i);
        let cv = Some(c);
        validate_container_common(e, cv, &ip, &cx);
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        if image.len() != image.trim().len() {
            e.push(inv(&ip.child("image"), Value::from(image), "must not have leading or trailing whitespace"));
        }
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if !all_names.insert(name) {
            e.push(dup(&ip.child("name"), Value::from(name)));
        }
        let target = string(e, cv, &ip, "targetContainerName");
        if !target.is_empty() && !containers.iter().any(|(_, c)| c.get("name").and_then(Value::as_str) == Some(target))
        {
            e.push(FieldError::not_found(ip.child("targetContainerName").s(), Value::from(target)));
        }
        for key in [
            "ports",
            "resources",
            "resizePolicy",
            "restartPolicy",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
        ] {
            if !is_zero_value(member(cv, key)) {
                e.push(forb(&ip.child(key), "cannot be set for an Ephemeral Container"));
            }
        }
    }

    // Host network: declared host ports must match container ports.
    if opt_bool(e, spec, sp, "hostNetwork") == Some(true) {
        for (i, c) in &containers {
            let pp = cp.index(*i).child("ports");
            if let Some(Value::Array(ports)) = member(Some(c), "ports") {
                for (j, port) in ports.iter().enumerate() {
                    let hp = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
                    let cport = port.get("containerPort").and_then(Value::as_i64).unwrap_or(0);
                    if (opts.resource_is_pod || hp != 0) && hp != cport {
                        e.push(inv(
                            &pp.index(j).child("hostPort"),
                            Value::from(hp),
                            "must match `containerPort` when `hostNetwork` is true",
                        ));
                    }
                }
            }
        }
    }
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => e.push(req(&sp.child("restartPolicy"), "")),
        other => e.push(unsupported(&sp.child("restartPolicy"), Value::from(other), &["Always", "OnFailure", "Never"])),
    }
    let dns_policy = string(e, spec, sp, "dnsPolicy");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => e.push(req(&sp.child("dnsPolicy"), "")),
        other => e.push(unsupported(
            &sp.child("dnsPolicy"),
            Value::from(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    validate_labels_at(e, spec, sp, "nodeSelector");
    validate_pod_security_context(e, spec, sp);
    validate_affinity(e, spec, sp);
    validate_dns_config(e, spec, sp, dns_policy);
    let rgp = sp.child("readinessGates");
    for (i, g) in objects(e, spec, sp, "readinessGates") {
        let t = string(e, Some(g), &rgp.index(i), "conditionType");
        for m in qualified_name(t) {
            e.push(inv(&rgp.index(i).child("conditionType"), Value::from(t), m));
        }
    }
    let sgp = sp.child("schedulingGates");
    let mut gates = BTreeSet::new();
    for (i, g) in objects(e, spec, sp, "schedulingGates") {
        let name = string(e, Some(g), &sgp.index(i), "name");
        for m in qualified_name(name) {
            e.push(inv(&sgp.index(i), Value::from(name), m));
        }
        if !gates.insert(name) {
            e.push(dup(&sgp.index(i), Value::from(name)));
        }
    }
    validate_topology_spread(e, spec, sp);
    if !host_users {
        let host = |k: &str| spec.and_then(|s| s.get(k)).and_then(Value::as_bool) == Some(true);
        for (key, path) in [("hostNetwork", "hostNetwork"), ("hostPID", "HostPID"), ("hostIPC", "HostIPC")] {
            if host(key) {
                e.push(forb(&sp.child(path), "when `pod.Spec.HostUsers` is false"));
            }
        }
    }
    for (key, rule) in [("serviceAccountName", NameRule::Dns1123Subdomain), ("nodeName", NameRule::Dns1123Subdomain)] {
        let v = string(e, spec, sp, key);
        if !v.is_empty() {
            for m in rule.check(v, false) {
                e.push(inv(&sp.child(key), Value::from(v), m));
            }
        }
    }
    if let Some(ads) = int64(e, spec, sp, "activeDeadlineSeconds")
        && !(1..=MAX_INT32).contains(&ads)
    {
        e.push(inv(&sp.child("activeDeadlineSeconds"), Value::from(ads), inclusive_range_error(1, MAX_INT32)));
    }
    for key in ["hostname", "subdomain"] {
        let v = string(e, spec, sp, key);
        if !v.is_empty() {
            for m in dns1123_label(v) {
                e.push(inv(&sp.child(key), Value::from(v), m));
            }
        }
    }
    validate_tolerations(e, spec, sp);
    let hap = sp.child("hostAliases");
    for (i, ha) in objects(e, spec, sp, "hostAliases") {
        let ip = hap.index(i);
        let ipaddr = string(e, Some(ha), &ip, "ip");
        validate_ip(e, &ip.child("ip"), ipaddr);
        for (j, h) in strings(e, Some(ha), &ip, "hostnames").iter().enumerate() {
            for m in dns1123_subdomain(h) {
                e.push(inv(&ip.child("hostnames").index(j), Value::from(*h), m));
            }
        }
    }
    for key in ["priorityClassName", "runtimeClassName"] {
        if let Some(v) = opt_string(e, spec, sp, key)
            && (key == "runtimeClassName" || !v.is_empty())
        {
            for m in dns1123_subdomain(v) {
                e.push(inv(&sp.child(key), Value::from(v), m));
            }
        }
    }
    if let Some(pp) = opt_string(e, spec, sp, "preemptionPolicy") {
        match pp {
            "PreemptLowerPriority" | "Never" => {}
            "" => e.push(req(&sp.child("preemptionPolicy"), "")),
            other => e.push(unsupported(
                &sp.child("preemptionPolicy"),
                Value::from(other),
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if member(spec, "overhead").is_some() {
        let mut overhead = Map::new();
        if let Some(o) = member(spec, "overhead") {
            overhead.insert("limits".to_string(), o.clone());
        }
        validate_resources(e, Some(&Value::Object(overhead)), &sp.child("overhead"), &BTreeSet::new());
    }
    if let Some(os) = object(e, spec, sp, "os") {
        let name = string(e, Some(os), &sp.child("os"), "name");
        if name.is_empty() {
            e.push(req(&sp.child("os").child("name"), "cannot be empty"));
        } else if name != "linux" && name != "windows" {
            e.push(unsupported(&sp.child("os"), Value::from(name), &["linux", "windows"]));
        } else if name == "linux" {
            if sc.and_then(|s| member(Some(s), "windowsOptions")).is_some() {
                e.push(forb(
                    &sp.child("securityContext").child("windowsOptions"),
                    "windows options cannot be set for a linux pod",
                ));
            }
            for (key, list_path) in [("initContainers", &icp), ("containers", &cp), ("ephemeralContainers", &ecp)] {
                if let Some(Value::Array(cs)) = member(spec, key) {
                    for (i, c) in cs.iter().enumerate() {
                        if member(member(Some(c), "securityContext"), "windowsOptions").is_some() {
                            e.push(forb(
                                &list_path.index(i).child("securityContext").child("windowsOptions"),
                                "windows options cannot be set for a linux pod",
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// `ValidatePodSpecificAnnotations`.
fn validate_pod_annotations(e: &mut Errs, annotations: Option<&Value>, spec: Option<&Value>, ap: &Path) {
    let get = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    if let Some(v) = get("kubernetes.io/config.mirror")
        && spec.and_then(|s| s.get("nodeName")).and_then(Value::as_str).unwrap_or("").is_empty()
    {
        e.push(inv(
            &ap.key("kubernetes.io/config.mirror"),
            Value::from(v),
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    if let Some(cost) = get("controller.kubernetes.io/pod-deletion-cost")
        && parse_go_int(cost).is_none_or(|c| i32::try_from(c).is_err())
    {
        e.push(inv(
            &ap.key("controller.kubernetes.io/pod-deletion-cost"),
            Value::from(cost),
            "must be a 32bit integer",
        ));
    }
}

/// `ValidatePodTemplateSpec`: a template's labels, annotations and spec.
fn validate_pod_template_spec(e: &mut Errs, template: Option<&Value>, tp: &Path) {
    let mp = Path::new("metadata");
    let meta = object(e, template, tp, "metadata");
    if let Some(labels) = string_map(e, meta, &mp, "labels") {
        validate_labels(e, &tp.child("labels"), &labels);
    }
    if let Some(a) = string_map(e, meta, &mp, "annotations") {
        validate_annotations(e, &tp.child("annotations"), &a);
    }
    let spec = object(e, template, tp, "spec");
    validate_pod_annotations(e, member(meta, "annotations"), spec, &tp.child("annotations"));
    validate_pod_spec(e, spec, &tp.child("spec"), None, PodOpts { resource_is_pod: false });
    if !is_zero_value(member(spec, "ephemeralContainers")) {
        e.push(forb(
            &tp.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

fn template_labels(template: Option<&Value>) -> (Option<&Value>, Vec<(&str, &str)>) {
    let raw = member(member(template, "metadata"), "labels");
    let labels = match raw {
        Some(Value::Object(m)) => {
            let mut v: Vec<(&str, &str)> = m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))).collect();
            v.sort();
            v
        }
        _ => Vec::new(),
    };
    (raw, labels)
}

fn validate_pod(e: &mut Errs, obj: &Value) {
    let root = Path::new("");
    let sp = Path::new("spec");
    validate_meta(e, obj, MetaRules { namespaced: true, name: NameRule::Dns1123Subdomain, kube_finalizers: true });
    let meta = member(Some(obj), "metadata");
    let spec = object(e, Some(obj), &root, "spec");
    validate_pod_annotations(e, member(meta, "annotations"), spec, &Path::new("metadata").child("annotations"));
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    validate_pod_spec(e, spec, &sp, name, PodOpts { resource_is_pod: true });
    if string(e, spec, &sp, "serviceAccountName").is_empty()
        && let Some(Value::Array(vols)) = member(spec, "volumes")
    {
        for (vi, v) in vols.iter().enumerate() {
            if let Some(Value::Array(sources)) = member(member(Some(v), "projected"), "sources") {
                for (si, s) in sources.iter().enumerate() {
                    if member(Some(s), "serviceAccountToken").is_some() {
                        let p = sp
                            .child("volumes")
                            .index(vi)
                            .child("projected")
                            .child("sources")
                            .index(si)
                            .child("serviceAccountToken");
                        e.push(forb(&p, "must not be specified when serviceAccountName is not set"));
                    }
                }
            }
        }
    }
    for key in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = member(spec, key) {
            for (i, c) in cs.iter().enumerate() {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                if image.len() != image.trim().len() {
                    e.push(inv(
                        &sp.child(key).index(i).child("image"),
                        Value::from(image),
                        "must not have leading or trailing whitespace",
                    ));
                }
            }
        }
    }
}

fn validate_pod_create(e: &mut Errs, obj: &Value) {
    validate_pod(e, obj);
    let spec = member(Some(obj), "spec");
    let sp = Path::new("spec");
    if !is_zero_value(member(spec, "ephemeralContainers")) {
        e.push(forb(&sp.child("ephemeralContainers"), "cannot be set on create"));
    }
    let node_name = spec.and_then(|s| s.get("nodeName")).and_then(Value::as_str).unwrap_or("");
    if !node_name.is_empty() && !is_zero_value(member(spec, "schedulingGates")) {
        e.push(forb(&sp.child("nodeName"), "cannot be set until all schedulingGates have been cleared"));
    }
}

const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate_pod_update(e: &mut Errs, obj: &Value, old: &Value) {
    validate_meta_update(e, obj, old, true);
    validate_pod(e, obj);
    let ap = Path::new("metadata").child("annotations");
    let anns = member(member(Some(obj), "metadata"), "annotations");
    let old_anns = member(member(Some(old), "metadata"), "annotations");
    let get = |a: Option<&Value>, k: &str| a.and_then(|a| a.get(k)).cloned();
    if let Some(Value::Object(m)) = old_anns {
        for (k, v) in m {
            if get(anns, k).as_ref() == Some(v) {
                continue;
            }
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/") {
                e.push(forb(&ap.key(k), "may not remove or update AppArmor annotations"));
            }
            if k == "kubernetes.io/config.mirror" {
                e.push(forb(&ap.key(k), "may not remove or update mirror pod annotation"));
            }
        }
    }
    if let Some(Value::Object(m)) = anns {
        for k in m.keys() {
            if get(old_anns, k).is_some() {
                continue;
            }
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/") {
                e.push(forb(&ap.key(k), "may not add AppArmor annotations"));
            }
            if k == "kubernetes.io/config.mirror" {
                e.push(forb(&ap.key(k), "may not add mirror pod annotation"));
            }
        }
    }
    let spec = member(Some(obj), "spec");
    validate_pod_annotations(e, anns, spec, &ap);
    let old_spec = member(Some(old), "spec");
    let sp = Path::new("spec");
    for key in ["containers", "initContainers"] {
        let new_cs = match member(spec, key) {
            Some(Value::Array(a)) => a.as_slice(),
            _ => &[],
        };
        let old_len = match member(old_spec, key) {
            Some(Value::Array(a)) => a.len(),
            _ => 0,
        };
        if new_cs.len() != old_len {
            e.push(forb(&sp.child(key), "pod updates may not add or remove containers"));
            return;
        }
        for (i, c) in new_cs.iter().enumerate() {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            if image.is_empty() {
                e.push(req(&sp.child(key).index(i).child("image"), ""));
            }
            if image.trim().len() != image.len() {
                e.push(inv(
                    &sp.child(key).index(i).child("image"),
                    Value::from(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    let ads = member(spec, "activeDeadlineSeconds").and_then(Value::as_i64);
    let old_ads = member(old_spec, "activeDeadlineSeconds").and_then(Value::as_i64);
    let ads_path = sp.child("activeDeadlineSeconds");
    match (ads, old_ads) {
        (Some(n), _) if !(0..=MAX_INT32).contains(&n) => {
            e.push(inv(&ads_path, Value::from(n), inclusive_range_error(0, MAX_INT32)));
            return;
        }
        (Some(n), Some(o)) if o < n => {
            e.push(inv(&ads_path, Value::from(n), "must be less than or equal to previous value"));
            return;
        }
        (None, Some(_)) => e.push(inv(&ads_path, Value::Null, "must not update from a positive integer to nil value")),
        _ => {}
    }
    let tolerations = |s: Option<&Value>| match member(s, "tolerations") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let (new_tols, old_tols) = (tolerations(spec), tolerations(old_spec));
    let tp = sp.child("tolerations");
    let mut kept = true;
    for o in &old_tols {
        let found = new_tols.iter().any(|n| {
            let mut o = o.clone();
            if let Value::Object(m) = &mut o {
                m.remove("tolerationSeconds");
                if let Some(ts) = n.get("tolerationSeconds") {
                    m.insert("tolerationSeconds".into(), ts.clone());
                }
            }
            semantic_eq(Some(&o), Some(n))
        });
        if !found {
            e.push(forb(&tp, "existing toleration can not be modified except its tolerationSeconds"));
            kept = false;
            break;
        }
    }
    if kept {
        validate_tolerations(e, spec, &sp);
    }
    let gate_names = |s: Option<&Value>| -> Vec<String> {
        match member(s, "schedulingGates") {
            Some(Value::Array(a)) => {
                a.iter().map(|g| g.get("name").and_then(Value::as_str).unwrap_or("").to_string()).collect()
            }
            _ => Vec::new(),
        }
    };
    let (new_gates, old_gates) = (gate_names(spec), gate_names(old_spec));
    let mut added: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in new_gates.iter().enumerate() {
        added.insert(g, i);
    }
    for g in &old_gates {
        added.remove(g.as_str());
    }
    for (gate, i) in added {
        e.push(forb(
            &sp.child("schedulingGates").index(i).child("name"),
            format!("only deletion is allowed, but found new scheduling gate '{gate}'"),
        ));
    }
    if semantic_eq(spec, old_spec) {
        return;
    }
    let mut munged = spec.cloned().unwrap_or(Value::Object(Map::new()));
    if let Value::Object(m) = &mut munged {
        for key in ["containers", "initContainers"] {
            if let (Some(Value::Array(cs)), Some(Value::Array(olds))) = (m.get_mut(key), member(old_spec, key)) {
                for (c, o) in cs.iter_mut().zip(olds) {
                    if let Value::Object(cm) = c {
                        match o.get("image") {
                            Some(img) => cm.insert("image".into(), img.clone()),
                            None => cm.remove("image"),
                        };
                    }
                }
            }
        }
        for key in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match member(old_spec, key) {
                Some(v) => m.insert(key.into(), v.clone()),
                None => m.remove(key),
            };
        }
        let old_grace = member(old_spec, "terminationGracePeriodSeconds").and_then(Value::as_i64);
        if old_grace.is_some_and(|g| g < 0) && m.get("terminationGracePeriodSeconds").and_then(Value::as_i64) == Some(1)
        {
            m.insert("terminationGracePeriodSeconds".into(), Value::from(old_grace.unwrap_or(0)));
        }
        if !old_gates.is_empty() {
            let old_sel = member(old_spec, "nodeSelector");
            if !semantic_eq(m.get("nodeSelector"), old_sel) {
                let changed = match old_sel {
                    Some(Value::Object(o)) => {
                        o.iter().any(|(k, v)| m.get("nodeSelector").and_then(|n| n.get(k)) != Some(v))
                    }
                    _ => false,
                };
                if changed {
                    e.push(inv(
                        &sp.child("nodeSelector"),
                        go_raw(go_string_map(m.get("nodeSelector"))),
                        "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                    ));
                }
                match old_sel {
                    Some(v) => m.insert("nodeSelector".into(), v.clone()),
                    None => m.remove("nodeSelector"),
                };
            }
        }
    }
    if !semantic_eq(Some(&munged), old_spec) {
        let diff = diff_text(old_spec, Some(&munged), "spec");
        e.push(forb(&sp, format!("pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{diff}")));
    }
}

// ---------------------------------------------------------------------------------------
// Workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController
// ---------------------------------------------------------------------------------------

const NAMESPACED_SUBDOMAIN: MetaRules =
    MetaRules { namespaced: true, name: NameRule::Dns1123Subdomain, kube_finalizers: true };

fn validate_positive_int_or_percent(e: &mut Errs, p: &Path, v: Option<&IntOrString>) {
    match v {
        Some(s @ IntOrString::Str(text)) => {
            for m in percent(text) {
                e.push(inv(p, s.go_repr(), m));
            }
        }
        Some(IntOrString::Int(i)) => validate_nonnegative(e, p, Some(*i)),
        None => {}
    }
}

fn percent_value(v: Option<&IntOrString>) -> Option<i64> {
    match v {
        Some(IntOrString::Str(s)) if percent(s).is_empty() => s[..s.len() - 1].parse().ok(),
        _ => None,
    }
}

fn int_or_percent_value(v: Option<&IntOrString>) -> i64 {
    percent_value(v).unwrap_or_else(|| v.map_or(0, IntOrString::int_value))
}

fn not_more_than_100_percent(e: &mut Errs, p: &Path, v: Option<&IntOrString>) {
    if let (Some(pct), Some(v)) = (percent_value(v), v)
        && pct > 100
    {
        e.push(inv(p, v.go_repr(), "must not be greater than 100%"));
    }
}

fn int_or_string_repr(v: Option<&IntOrString>) -> Value {
    v.map_or_else(|| go_raw(go_int_or_string(None)), IntOrString::go_repr)
}

/// `ValidatePodTemplateSpecForReplicaSet` (Deployments and ReplicaSets) and the
/// ReplicationController variant, which differ only in the name in one message.
fn validate_template_for_replicas(e: &mut Errs, spec: Option<&Value>, sp: &Path, selector: &Selector<'_>, owner: &str) {
    let tp = sp.child("template");
    let template = object(e, spec, sp, "template");
    let (raw_labels, labels) = template_labels(template);
    if !selector.is_empty() && !selector.matches(&label_set(&labels)) {
        e.push(inv(
            &tp.child("metadata").child("labels"),
            go_raw(go_string_map(raw_labels)),
            "`selector` does not match template `labels`",
        ));
    }
    validate_pod_template_spec(e, template, &tp);
    let tspec = member(template, "spec");
    let restart = tspec.and_then(|s| s.get("restartPolicy")).and_then(Value::as_str).unwrap_or("");
    if restart != "Always" {
        e.push(unsupported(&tp.child("spec").child("restartPolicy"), Value::from(restart), &["Always"]));
    }
    if member(tspec, "activeDeadlineSeconds").is_some() {
        e.push(forb(
            &tp.child("spec").child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {owner} is not Supported"),
        ));
    }
}

/// Checks a workload's `spec.selector` (required, valid, non-empty) and returns the
/// selector to match the template against, or `None` when it cannot be built.
fn validate_workload_selector<'a>(
    e: &mut Errs,
    spec: Option<&'a Value>,
    sp: &Path,
    what: &str,
) -> Option<Selector<'a>> {
    let sel = object(e, spec, sp, "selector");
    match sel {
        None => e.push(req(&sp.child("selector"), "")),
        Some(s) => {
            validate_label_selector(e, Some(s), &sp.child("selector"));
            if selector_is_empty(s) {
                e.push(inv(
                    &sp.child("selector"),
                    selector_value(Some(s)),
                    format!("empty selector is invalid for {what}"),
                ));
            }
        }
    }
    selector_from(sel)
}

fn validate_deployment_strategy(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    let p = sp.child("strategy");
    let strategy = object(e, spec, sp, "strategy");
    let rolling = object(e, strategy, &p, "rollingUpdate");
    match string(e, strategy, &p, "type") {
        "Recreate" => {
            if rolling.is_some() {
                e.push(forb(&p.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"));
            }
        }
        "RollingUpdate" => match rolling {
            None => e.push(req(&p.child("rollingUpdate"), "this should be defaulted and never be nil")),
            Some(r) => {
                let rp = p.child("rollingUpdate");
                let max_unavailable = int_or_string(e, Some(r), &rp, "maxUnavailable");
                let max_surge = int_or_string(e, Some(r), &rp, "maxSurge");
                validate_positive_int_or_percent(e, &rp.child("maxUnavailable"), max_unavailable.as_ref());
                validate_positive_int_or_percent(e, &rp.child("maxSurge"), max_surge.as_ref());
                if int_or_percent_value(max_unavailable.as_ref()) == 0 && int_or_percent_value(max_surge.as_ref()) == 0
                {
                    e.push(inv(
                        &rp.child("maxUnavailable"),
                        int_or_string_repr(max_unavailable.as_ref()),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                not_more_than_100_percent(e, &rp.child("maxUnavailable"), max_unavailable.as_ref());
            }
        },
        other => {
            let repr = format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_ptr("apps.RollingUpdateDeployment", rolling.is_some())
            );
            e.push(unsupported(&p, go_raw(repr), &["Recreate", "RollingUpdate"]));
        }
    }
}

fn validate_deployment(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    validate_deployment_spec(e, obj);
}

fn validate_deployment_spec(e: &mut Errs, obj: &Value) {
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    let replicas = int32(e, spec, &sp, "replicas");
    validate_nonnegative(e, &sp.child("replicas"), Some(replicas.unwrap_or(0)));
    match validate_workload_selector(e, spec, &sp, "deployment") {
        Some(selector) => validate_template_for_replicas(e, spec, &sp, &selector, "ReplicaSet"),
        None => e.push(inv(&sp.child("selector"), selector_value(member(spec, "selector")), "invalid label selector")),
    }
    validate_deployment_strategy(e, spec, &sp);
    let min_ready = int32(e, spec, &sp, "minReadySeconds").unwrap_or(0);
    validate_nonnegative(e, &sp.child("minReadySeconds"), Some(min_ready));
    let history = int32(e, spec, &sp, "revisionHistoryLimit");
    validate_nonnegative(e, &sp.child("revisionHistoryLimit"), history);
    if let Some(deadline) = int32(e, spec, &sp, "progressDeadlineSeconds") {
        validate_nonnegative(e, &sp.child("progressDeadlineSeconds"), Some(deadline));
        if deadline <= min_ready {
            e.push(inv(
                &sp.child("progressDeadlineSeconds"),
                Value::from(deadline),
                "must be greater than minReadySeconds",
            ));
        }
    }
}

fn validate_replica_set(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    validate_replica_set_spec(e, obj);
}

fn validate_replica_set_spec(e: &mut Errs, obj: &Value) {
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    let replicas = int32(e, spec, &sp, "replicas");
    validate_nonnegative(e, &sp.child("replicas"), Some(replicas.unwrap_or(0)));
    let min_ready = int32(e, spec, &sp, "minReadySeconds");
    validate_nonnegative(e, &sp.child("minReadySeconds"), min_ready);
    match validate_workload_selector(e, spec, &sp, "deployment") {
        Some(selector) => validate_template_for_replicas(e, spec, &sp, &selector, "ReplicaSet"),
        None => e.push(inv(&sp.child("selector"), selector_value(member(spec, "selector")), "invalid label selector")),
    }
}

fn validate_selector_immutable(e: &mut Errs, obj: &Value, old: &Value) {
    let new = member(member(Some(obj), "spec"), "selector");
    let old = member(member(Some(old), "spec"), "selector");
    immutable(e, &Path::new("spec").child("selector"), new, old, selector_value);
}

fn validate_daemon_set(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    validate_daemon_set_spec(e, obj);
}

fn validate_daemon_set_spec(e: &mut Errs, obj: &Value) {
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    let sel = object(e, spec, &sp, "selector");
    validate_label_selector(e, sel, &sp.child("selector"));
    let template = member(spec, "template");
    let (raw_labels, labels) = template_labels(template);
    if let Some(selector) = selector_from(sel)
        && !selector.matches(&label_set(&labels))
    {
        e.push(inv(
            &sp.child("template").child("metadata").child("labels"),
            go_raw(go_string_map(raw_labels)),
            "`selector` does not match template `labels`",
        ));
    }
    if let Some(s) = sel
        && selector_is_empty(s)
    {
        e.push(inv(&sp.child("selector"), selector_value(Some(s)), "empty selector is invalid for daemonset"));
    }
    let tp = sp.child("template");
    let template = object(e, spec, &sp, "template");
    validate_pod_template_spec(e, template, &tp);
    let tspec = member(template, "spec");
    let restart = tspec.and_then(|s| s.get("restartPolicy")).and_then(Value::as_str).unwrap_or("");
    if restart != "Always" {
        e.push(unsupported(&tp.child("spec").child("restartPolicy"), Value::from(restart), &["Always"]));
    }
    if member(tspec, "activeDeadlineSeconds").is_some() {
        e.push(forb(
            &tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    let min_ready = int32(e, spec, &sp, "minReadySeconds");
    validate_nonnegative(e, &sp.child("minReadySeconds"), min_ready);
    let up = sp.child("updateStrategy");
    let strategy = object(e, spec, &sp, "updateStrategy");
    let rolling = object(e, strategy, &up, "rollingUpdate");
    match string(e, strategy, &up, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match rolling {
            None => e.push(req(&up.child("rollingUpdate"), "")),
            Some(r) => {
                let rp = up.child("rollingUpdate");
                let max_unavailable = int_or_string(e, Some(r), &rp, "maxUnavailable");
                let max_surge = int_or_string(e, Some(r), &rp, "maxSurge");
                validate_positive_int_or_percent(e, &rp.child("maxUnavailable"), max_unavailable.as_ref());
                validate_positive_int_or_percent(e, &rp.child("maxSurge"), max_surge.as_ref());
                not_more_than_100_percent(e, &rp.child("maxUnavailable"), max_unavailable.as_ref());
                not_more_than_100_percent(e, &rp.child("maxSurge"), max_surge.as_ref());
                let has_unavailable = int_or_percent_value(max_unavailable.as_ref()) != 0;
                let has_surge = int_or_percent_value(max_surge.as_ref()) != 0;
                if has_unavailable && has_surge {
                    e.push(inv(
                        &rp.child("maxSurge"),
                        int_or_string_repr(max_surge.as_ref()),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_unavailable && !has_surge {
                    e.push(req(&rp.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"));
                }
            }
        },
        other => {
            let repr = format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_ptr("apps.RollingUpdateDaemonSet", rolling.is_some())
            );
            e.push(unsupported(&up, go_raw(repr), &["RollingUpdate", "OnDelete"]));
        }
    }
    let history = int32(e, spec, &sp, "revisionHistoryLimit");
    validate_nonnegative(e, &sp.child("revisionHistoryLimit"), history);
}

fn go_statefulset_rolling(r: Option<&Value>) -> String {
    let partition = r.and_then(|r| r.get("partition")).and_then(Value::as_i64).unwrap_or(0);
    let max = member(r, "maxUnavailable").is_some();
    format!(
        "apps.RollingUpdateStatefulSetStrategy{{Partition:{partition}, MaxUnavailable:{}}}",
        go_ptr("intstr.IntOrString", max)
    )
}

fn validate_stateful_set(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, MetaRules { namespaced: true, name: NameRule::Dns1123Label, kube_finalizers: true });
    validate_stateful_set_spec(e, obj);
}

fn validate_stateful_set_spec(e: &mut Errs, obj: &Value) {
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    match string(e, spec, &sp, "podManagementPolicy") {
        "" => e.push(req(&sp.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => {
            e.push(inv(&sp.child("podManagementPolicy"), Value::from(other), "must be 'OrderedReady' or 'Parallel'"))
        }
    }
    let up = sp.child("updateStrategy");
    let strategy = object(e, spec, &sp, "updateStrategy");
    let rolling = object(e, strategy, &up, "rollingUpdate");
    match string(e, strategy, &up, "type") {
        "" => e.push(req(&up, "")),
        "OnDelete" => {
            if rolling.is_some() {
                e.push(inv(
                    &up.child("rollingUpdate"),
                    go_raw(go_statefulset_rolling(rolling)),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(r) = rolling {
                let rp = up.child("rollingUpdate");
                let partition = int32(e, Some(r), &rp, "partition");
                validate_nonnegative(e, &rp.child("partition"), Some(partition.unwrap_or(0)));
                if let Some(max) = int_or_string(e, Some(r), &rp, "maxUnavailable") {
                    let mp = rp.child("maxUnavailable");
                    validate_positive_int_or_percent(e, &mp, Some(&max));
                    if int_or_percent_value(Some(&max)) == 0 {
                        e.push(inv(&mp, max.go_repr(), "cannot be 0"));
                    }
                    not_more_than_100_percent(e, &mp, Some(&max));
                }
            }
        }
        other => {
            let repr = format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_ptr("apps.RollingUpdateStatefulSetStrategy", rolling.is_some())
            );
            e.push(inv(&up, go_raw(repr), "must be 'RollingUpdate' or 'OnDelete'"));
        }
    }
    if let Some(policy) = object(e, spec, &sp, "persistentVolumeClaimRetentionPolicy") {
        let pp = sp.child("persistentVolumeClaimRetentionPolicy");
        for key in ["whenDeleted", "whenScaled"] {
            let v = string(e, Some(policy), &pp, key);
            if v != "Retain" && v != "Delete" {
                e.push(unsupported(&pp.child(key), Value::from(v), &["Retain", "Delete"]));
            }
        }
    }
    let replicas = int32(e, spec, &sp, "replicas");
    validate_nonnegative(e, &sp.child("replicas"), Some(replicas.unwrap_or(0)));
    let min_ready = int32(e, spec, &sp, "minReadySeconds");
    validate_nonnegative(e, &sp.child("minReadySeconds"), Some(min_ready.unwrap_or(0)));
    if let Some(ordinals) = object(e, spec, &sp, "ordinals") {
        let start = int32(e, Some(ordinals), &sp.child("ordinals"), "start");
        validate_nonnegative(e, &sp.child("ordinals.start"), Some(start.unwrap_or(0)));
    }
    match validate_workload_selector(e, spec, &sp, "statefulset") {
        None => e.push(inv(&sp.child("selector"), selector_value(member(spec, "selector")), "")),
        Some(selector) => {
            let tp = sp.child("template");
            let template = object(e, spec, &sp, "template");
            let (raw_labels, labels) = template_labels(template);
            if !selector.is_empty() && !selector.matches(&label_set(&labels)) {
                e.push(inv(
                    &tp.child("metadata").child("labels"),
                    go_raw(go_string_map(raw_labels)),
                    "`selector` does not match template `labels`",
                ));
            }
            let mp = Path::new("metadata");
            let meta = object(e, template, &tp, "metadata");
            if let Some(l) = string_map(e, meta, &mp, "labels") {
                validate_labels(e, &tp.child("labels"), &l);
            }
            if let Some(a) = string_map(e, meta, &mp, "annotations") {
                validate_annotations(e, &tp.child("annotations"), &a);
            }
            validate_pod_annotations(
                e,
                member(meta, "annotations"),
                member(template, "spec"),
                &tp.child("annotations"),
            );
        }
    }
    let tspec = member(member(spec, "template"), "spec");
    let restart = tspec.and_then(|s| s.get("restartPolicy")).and_then(Value::as_str).unwrap_or("");
    if restart != "Always" {
        e.push(unsupported(
            &sp.child("template").child("spec").child("restartPolicy"),
            Value::from(restart),
            &["Always"],
        ));
    }
    if member(tspec, "activeDeadlineSeconds").is_some() {
        e.push(forb(
            &sp.child("template").child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
}

fn validate_stateful_set_update(e: &mut Errs, obj: &Value, old: &Value) {
    validate_meta_update(e, obj, old, true);
    validate_stateful_set_spec(e, obj);
    let mut spec = member(Some(obj), "spec").cloned().unwrap_or(Value::Object(Map::new()));
    let old_spec = member(Some(old), "spec");
    if let Value::Object(m) = &mut spec {
        for key in [
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
        ] {
            match member(old_spec, key) {
                Some(v) => m.insert(key.to_string(), v.clone()),
                None => m.remove(key),
            };
        }
    }
    if !semantic_eq(Some(&spec), old_spec) {
        e.push(forb(
            &Path::new("spec"),
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
}

fn validate_replication_controller_spec(e: &mut Errs, obj: &Value) {
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    let min_ready = int32(e, spec, &sp, "minReadySeconds");
    validate_nonnegative(e, &sp.child("minReadySeconds"), Some(min_ready.unwrap_or(0)));
    let selector = string_map(e, spec, &sp, "selector").unwrap_or_default();
    if selector.is_empty() {
        e.push(req(&sp.child("selector"), ""));
    }
    let replicas = int32(e, spec, &sp, "replicas");
    validate_nonnegative(e, &sp.child("replicas"), Some(replicas.unwrap_or(0)));
    if member(spec, "template").is_none() {
        e.push(req(&sp.child("template"), ""));
        return;
    }
    let reqs = selector.iter().map(|(k, v)| Requirement { key: k, op: "=", values: vec![*v] }).collect();
    validate_template_for_replicas(e, spec, &sp, &Selector::Requirements(reqs), "ReplicationController");
}

fn validate_pod_template(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    let template = object(e, Some(obj), &Path::new(""), "template");
    validate_pod_template_spec(e, template, &Path::new("template"));
}

// ---------------------------------------------------------------------------------------
// batch: Job, CronJob
// ---------------------------------------------------------------------------------------

const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
const LEGACY_JOB_NAME_LABEL: &str = "job-name";
const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// `IsDomainPrefixedPath`.
fn validate_domain_prefixed_path(e: &mut Errs, p: &Path, value: &str) {
    if value.is_empty() {
        e.push(req(p, ""));
        return;
    }
    let Some((host, path)) = value.split_once('/').filter(|(h, rest)| !h.is_empty() && !rest.is_empty()) else {
        e.push(inv(p, Value::from(value), "must be a domain-prefixed path (such as \"acme.io/foo\")"));
        return;
    };
    for m in dns1123_subdomain(host) {
        e.push(inv(p, Value::from(host), m));
    }
    let ok = path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&b));
    if !ok {
        e.push(inv(p, Value::from(path), regex_error("Invalid path", HTTP_PATH_FMT, &[])));
    }
}

fn validate_pod_failure_policy(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    let Some(policy) = object(e, spec, sp, "podFailurePolicy") else { return };
    let p = sp.child("podFailurePolicy");
    let rp = p.child("rules");
    let rules = objects(e, Some(policy), &p, "rules");
    if rules.len() > 20 {
        e.push(FieldError::too_many(rp.s(), rules.len() as i64, 20));
    }
    let tspec = member(member(spec, "template"), "spec");
    let mut container_names = BTreeSet::new();
    for key in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = member(tspec, key) {
            container_names.extend(cs.iter().filter_map(|c| c.get("name").and_then(Value::as_str)));
        }
    }
    const ACTIONS: [&str; 4] = ["Count", "FailIndex", "FailJob", "Ignore"];
    for (i, rule) in rules {
        let ip = rp.index(i);
        let rule = Some(rule);
        let action = string(e, rule, &ip, "action");
        if action.is_empty() {
            e.push(req(&ip.child("action"), "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]"));
        } else if action == "FailIndex" {
            if member(spec, "backoffLimitPerIndex").is_none() {
                e.push(inv(&ip.child("action"), Value::from(action), "requires the backoffLimitPerIndex to be set"));
            }
        } else if !ACTIONS.contains(&action) {
            e.push(unsupported(&ip.child("action"), Value::from(action), &ACTIONS));
        }
        let on_exit = object(e, rule, &ip, "onExitCodes");
        if let Some(x) = on_exit {
            let xp = ip.child("onExitCodes");
            let op = string(e, Some(x), &xp, "operator");
            if op.is_empty() {
                e.push(req(&xp.child("operator"), "valid values: [\"In\" \"NotIn\"]"));
            } else if op != "In" && op != "NotIn" {
                e.push(unsupported(&xp.child("operator"), Value::from(op), &["In", "NotIn"]));
            }
            if let Some(name) = opt_string(e, Some(x), &xp, "containerName")
                && !container_names.contains(name)
            {
                e.push(inv(
                    &xp.child("containerName"),
                    Value::from(name),
                    "must be one of the container or initContainer names in the pod template",
                ));
            }
            let vp = xp.child("values");
            let values: Vec<i64> = list(e, Some(x), &xp, "values").iter().filter_map(Value::as_i64).collect();
            if values.is_empty() {
                e.push(inv(&vp, go_raw("[]int32(nil)".to_string()), "at least one value is required"));
            } else if values.len() > 255 {
                e.push(FieldError::too_many(vp.s(), values.len() as i64, 255));
            }
            let mut seen = BTreeSet::new();
            for (j, v) in values.iter().enumerate() {
                if op == "In" && *v == 0 {
                    e.push(inv(&vp.index(j), Value::from(*v), "must not be 0 for the In operator"));
                }
                if !seen.insert(*v) {
                    e.push(dup(&vp.index(j), Value::from(*v)));
                }
            }
            if values.windows(2).any(|w| w[0] > w[1]) {
                let items: Vec<String> = values.iter().map(i64::to_string).collect();
                e.push(inv(&vp, go_raw(format!("[]int32{{{}}}", items.join(", "))), "must be ordered"));
            }
        }
        let conditions = objects(e, rule, &ip, "onPodConditions");
        let cp = ip.child("onPodConditions");
        if conditions.len() > 20 {
            e.push(FieldError::too_many(cp.s(), conditions.len() as i64, 20));
        }
        for (j, c) in &conditions {
            let pat = cp.index(*j);
            let t = string(e, Some(c), &pat, "type");
            for m in qualified_name(t) {
                e.push(inv(&pat.child("type"), Value::from(t), m));
            }
            let status = string(e, Some(c), &pat, "status");
            if status.is_empty() {
                e.push(req(&pat.child("status"), "valid values: [\"False\" \"True\" \"Unknown\"]"));
            } else if !["False", "True", "Unknown"].contains(&status) {
                e.push(unsupported(&pat.child("status"), Value::from(status), &["False", "True", "Unknown"]));
            }
        }
        if on_exit.is_some() && !conditions.is_empty() {
            e.push(FieldError {
                bad_value: None,
                ..inv(&ip, Value::Null, "specifying both OnExitCodes and OnPodConditions is not supported")
            });
        }
        if on_exit.is_none() && conditions.is_empty() {
            e.push(FieldError {
                bad_value: None,
                ..inv(&ip, Value::Null, "specifying one of OnExitCodes and OnPodConditions is required")
            });
        }
    }
}

/// `validateJobSpec`: the parts shared by Jobs and CronJob job templates.
fn validate_job_spec_common(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    for key in ["parallelism", "completions"] {
        let v = int32(e, spec, sp, key);
        validate_nonnegative(e, &sp.child(key), v);
    }
    let ads = int64(e, spec, sp, "activeDeadlineSeconds");
    validate_nonnegative(e, &sp.child("activeDeadlineSeconds"), ads);
    for key in ["backoffLimit", "ttlSecondsAfterFinished", "backoffLimitPerIndex"] {
        let v = int32(e, spec, sp, key);
        validate_nonnegative(e, &sp.child(key), v);
    }
    let parallelism = int32(e, spec, sp, "parallelism");
    let completions = int32(e, spec, sp, "completions");
    let per_index = int32(e, spec, sp, "backoffLimitPerIndex");
    let max_failed = int32(e, spec, sp, "maxFailedIndexes");
    if max_failed.is_some() {
        validate_nonnegative(e, &sp.child("maxFailedIndexes"), max_failed);
        if per_index.is_none() {
            e.push(req(&sp.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"));
        }
    }
    if let Some(managed_by) = opt_string(e, spec, sp, "managedBy") {
        validate_domain_prefixed_path(e, &sp.child("managedBy"), managed_by);
        if managed_by.len() > 63 {
            e.push(FieldError::too_long(sp.child("managedBy").s(), 63));
        }
    }
    let mode = opt_string(e, spec, sp, "completionMode");
    if let Some(mode) = mode {
        if mode != "NonIndexed" && mode != "Indexed" {
            e.push(unsupported(&sp.child("completionMode"), Value::from(mode), &["NonIndexed", "Indexed"]));
        }
        if mode == "Indexed" {
            if completions.is_none() {
                e.push(req(&sp.child("completions"), "when completion mode is Indexed"));
            }
            if let Some(par) = parallelism
                && par > 100_000
            {
                e.push(inv(
                    &sp.child("parallelism"),
                    Value::from(par),
                    "must be less than or equal to 100000 when completion mode is Indexed",
                ));
            }
            if let (Some(c), Some(m)) = (completions, max_failed)
                && m > c
            {
                e.push(inv(&sp.child("maxFailedIndexes"), Value::from(m), "must be less than or equal to completions"));
            }
            if let Some(m) = max_failed
                && m > 100_000
            {
                e.push(inv(&sp.child("maxFailedIndexes"), Value::from(m), "must be less than or equal to 100000"));
            }
            if completions.is_some_and(|c| c > 100_000) && per_index.is_some() {
                if max_failed.is_none() {
                    e.push(req(&sp.child("maxFailedIndexes"), "must be specified when completions is above 100000"));
                }
                if let Some(par) = parallelism
                    && par > 10_000
                {
                    e.push(inv(
                        &sp.child("parallelism"),
                        Value::from(par),
                        "must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
                    ));
                }
                if let Some(m) = max_failed
                    && m > 10_000
                {
                    e.push(inv(
                        &sp.child("maxFailedIndexes"),
                        Value::from(m),
                        "must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
                    ));
                }
            }
        }
    }
    if mode.is_none_or(|m| m == "NonIndexed") {
        if let Some(v) = per_index {
            e.push(inv(&sp.child("backoffLimitPerIndex"), Value::from(v), "requires indexed completion mode"));
        }
        if let Some(v) = max_failed {
            e.push(inv(&sp.child("maxFailedIndexes"), Value::from(v), "requires indexed completion mode"));
        }
    }
    validate_pod_failure_policy(e, spec, sp);
    if let Some(sp_obj) = object(e, spec, sp, "successPolicy")
        && mode != Some("Indexed")
    {
        e.push(inv(
            &sp.child("successPolicy"),
            go_raw(format!("batch.SuccessPolicy{}", sp_obj)),
            "requires indexed completion mode",
        ));
    }
    if let Some(policy) = opt_string(e, spec, sp, "podReplacementPolicy") {
        if member(spec, "podFailurePolicy").is_some() {
            if policy != "Failed" {
                e.push(unsupported(&sp.child("podReplacementPolicy"), Value::from(policy), &["Failed"]));
            }
        } else if policy != "Failed" && policy != "TerminatingOrFailed" {
            e.push(unsupported(
                &sp.child("podReplacementPolicy"),
                Value::from(policy),
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let tp = sp.child("template");
    let template = object(e, spec, sp, "template");
    validate_pod_template_spec(e, template, &tp);
    let restart = member(template, "spec").and_then(|s| s.get("restartPolicy")).and_then(Value::as_str).unwrap_or("");
    let rp = tp.child("spec").child("restartPolicy");
    if restart == "Always" || restart.is_empty() {
        e.push(req(&rp, "valid values: \"OnFailure\", \"Never\""));
    } else if restart != "OnFailure" && restart != "Never" {
        e.push(unsupported(&rp, Value::from(restart), &["OnFailure", "Never"]));
    } else if member(spec, "podFailurePolicy").is_some() && restart != "Never" {
        e.push(inv(&rp, Value::from(restart), "only \"Never\" is supported when podFailurePolicy is specified"));
    }
}

/// `ValidateJobSpec`: the common checks plus the selector.
fn validate_job_spec(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    validate_job_spec_common(e, spec, sp);
    let sel = object(e, spec, sp, "selector");
    match sel {
        None => e.push(req(&sp.child("selector"), "")),
        Some(s) => validate_label_selector(e, Some(s), &sp.child("selector")),
    }
    let (raw_labels, labels) = template_labels(member(spec, "template"));
    if let Some(selector) = selector_from(sel)
        && !selector.matches(&label_set(&labels))
    {
        e.push(inv(
            &sp.child("template").child("metadata").child("labels"),
            go_raw(go_string_map(raw_labels)),
            "`selector` does not match template `labels`",
        ));
    }
}

fn validate_job(e: &mut Errs, obj: &Value, require_prefixed_labels: bool) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    let spec = member(Some(obj), "spec");
    let meta = member(Some(obj), "metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("");
    let uid = meta.and_then(|m| m.get("uid")).and_then(Value::as_str).unwrap_or("");
    let manual = spec.and_then(|s| s.get("manualSelector")).and_then(Value::as_bool) == Some(true);
    if !manual && let Some(sel) = member(spec, "selector") {
        if uid.is_empty() {
            e.push(req(&Path::new("metadata").child("uid"), ""));
        }
        let tmp = Path::new("spec").child("template").child("metadata");
        let raw_labels = member(member(member(spec, "template"), "metadata"), "labels");
        let mut expected: Vec<(&str, &str)> = vec![(LEGACY_CONTROLLER_UID_LABEL, uid), (LEGACY_JOB_NAME_LABEL, name)];
        if require_prefixed_labels {
            expected.push((CONTROLLER_UID_LABEL, uid));
            expected.push((JOB_NAME_LABEL, name));
        }
        for (key, want) in &expected {
            let lp = tmp.child("labels").key(key);
            match raw_labels.and_then(|l| l.get(*key)).and_then(Value::as_str) {
                None => e.push(req(&lp, &format!("must be '{want}'"))),
                Some(have) if have != *want => {
                    e.push(inv(&lp, go_raw(go_string_map(raw_labels)), format!("must be '{want}'")))
                }
                Some(_) => {}
            }
        }
        if let Some(selector) = selector_from(Some(sel))
            && !selector.matches(&expected.iter().copied().collect())
        {
            e.push(inv(
                &Path::new("spec").child("selector"),
                selector_value(Some(sel)),
                "`selector` not auto-generated",
            ));
        }
    }
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    validate_job_spec(e, spec, &Path::new("spec"));
    let completions = spec.and_then(|s| s.get("completions")).and_then(Value::as_i64);
    if spec.and_then(|s| s.get("completionMode")).and_then(Value::as_str) == Some("Indexed")
        && let Some(c) = completions.filter(|c| *c > 0)
    {
        let hostname = format!("{name}-{}", c - 1);
        if !dns1123_label(&hostname).is_empty() {
            e.push(inv(
                &Path::new("metadata").child("name"),
                Value::from(name),
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
}

fn validate_job_update(e: &mut Errs, obj: &Value, old: &Value) {
    validate_meta_update(e, obj, old, true);
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    let old_spec = member(Some(old), "spec");
    validate_job_spec(e, spec, &sp);
    let get = |s: Option<&Value>, k: &str| member(s, k).cloned();
    let indexed = spec.and_then(|s| s.get("completionMode")).and_then(Value::as_str) == Some("Indexed");
    let completions = get(spec, "completions");
    if !indexed {
        immutable(
            e,
            &sp.child("completions"),
            completions.as_ref(),
            get(old_spec, "completions").as_ref(),
            plain_value,
        );
    } else if !semantic_eq(completions.as_ref(), get(old_spec, "completions").as_ref())
        && let Some(c) = completions.as_ref()
        && Some(c) != member(spec, "parallelism")
    {
        e.push(inv(&sp.child("completions"), c.clone(), "can only be modified in tandem with spec.parallelism"));
    }
    immutable(e, &sp.child("selector"), member(spec, "selector"), member(old_spec, "selector"), selector_value);
    let suspended = old_spec.and_then(|s| s.get("suspend")).and_then(Value::as_bool) == Some(true);
    let not_started = member(member(Some(old), "status"), "startTime").is_none();
    let mut old_template = member(old_spec, "template").cloned().unwrap_or(Value::Null);
    let template = member(spec, "template");
    if suspended
        && not_started
        && let Value::Object(ot) = &mut old_template
    {
        let new_meta = member(template, "metadata");
        let om = ot.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(om) = om {
            for key in ["labels", "annotations"] {
                match member(new_meta, key) {
                    Some(v) => om.insert(key.into(), v.clone()),
                    None => om.remove(key),
                };
            }
        }
        let new_spec = member(template, "spec");
        let os = ot.entry("spec").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(os) = os {
            for key in ["nodeSelector", "tolerations", "schedulingGates"] {
                match member(new_spec, key) {
                    Some(v) => os.insert(key.into(), v.clone()),
                    None => os.remove(key),
                };
            }
            let new_node_affinity = member(member(new_spec, "affinity"), "nodeAffinity").cloned();
            match os.get_mut("affinity") {
                Some(Value::Object(a)) => {
                    match new_node_affinity {
                        Some(na) => a.insert("nodeAffinity".into(), na),
                        None => a.remove("nodeAffinity"),
                    };
                    if a.is_empty() && member(new_spec, "affinity").is_none() {
                        os.remove("affinity");
                    }
                }
                _ => {
                    if let Some(na) = new_node_affinity {
                        let mut a = Map::new();
                        a.insert("nodeAffinity".into(), na);
                        os.insert("affinity".into(), Value::Object(a));
                    }
                }
            }
        }
    }
    immutable(e, &sp.child("template"), template, Some(&old_template), |v| {
        go_raw(format!("core.PodTemplateSpec{}", v.map(Value::to_string).unwrap_or_default()))
    });
    immutable(
        e,
        &sp.child("completionMode"),
        member(spec, "completionMode"),
        member(old_spec, "completionMode"),
        plain_value,
    );
    immutable(
        e,
        &sp.child("podFailurePolicy"),
        member(spec, "podFailurePolicy"),
        member(old_spec, "podFailurePolicy"),
        |v| v.map_or(Value::Null, |v| go_raw(format!("batch.PodFailurePolicy{v}"))),
    );
    immutable(
        e,
        &sp.child("backoffLimitPerIndex"),
        member(spec, "backoffLimitPerIndex"),
        member(old_spec, "backoffLimitPerIndex"),
        plain_value,
    );
    immutable(e, &sp.child("managedBy"), member(spec, "managedBy"), member(old_spec, "managedBy"), plain_value);
    immutable(e, &sp.child("successPolicy"), member(spec, "successPolicy"), member(old_spec, "successPolicy"), |v| {
        v.map_or(Value::Null, |v| go_raw(format!("batch.SuccessPolicy{v}")))
    });
}

/// `validateTimeZone`.
fn validate_time_zone(e: &mut Errs, p: &Path, tz: &str) {
    if tz.is_empty() {
        e.push(inv(p, Value::from(tz), "timeZone must be nil or non-empty string"));
        return;
    }
    let part_ok = |part: &str| {
        part != "."
            && part != ".."
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
    };
    if !tz.split('/').all(part_ok) {
        e.push(inv(p, Value::from(tz), format!("unknown time zone {tz}")));
        return;
    }
    if tz.eq_ignore_ascii_case("Local") {
        e.push(inv(
            p,
            Value::from(tz),
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if let Err(err) = load_location(tz) {
        e.push(inv(p, Value::from(tz), err));
    }
}

fn validate_cron_job_spec(e: &mut Errs, obj: &Value, old: Option<&Value>) {
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    let old_spec = old.and_then(|o| member(Some(o), "spec"));
    let schedule = string(e, spec, &sp, "schedule");
    let time_zone = opt_string(e, spec, &sp, "timeZone");
    if schedule.is_empty() {
        e.push(req(&sp.child("schedule"), ""));
    } else {
        let p = sp.child("schedule");
        if let Err(err) = parse_cron_standard(schedule) {
            e.push(inv(&p, Value::from(schedule), err));
        }
        let allow_tz =
            old_spec.and_then(|s| s.get("schedule")).and_then(Value::as_str).is_some_and(|s| s.contains("TZ"));
        if allow_tz && schedule.contains("TZ") && time_zone.is_some() {
            e.push(inv(&p, Value::from(schedule), "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
        } else if !allow_tz && schedule.contains("TZ") {
            e.push(inv(&p, Value::from(schedule), "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
        }
    }
    let deadline = int64(e, spec, &sp, "startingDeadlineSeconds");
    validate_nonnegative(e, &sp.child("startingDeadlineSeconds"), deadline);
    let old_tz = old_spec.and_then(|s| s.get("timeZone")).and_then(Value::as_str);
    if (old.is_none() || old_tz != time_zone)
        && let Some(tz) = time_zone
    {
        validate_time_zone(e, &sp.child("timeZone"), tz);
    }
    match string(e, spec, &sp, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => e.push(req(&sp.child("concurrencyPolicy"), "")),
        other => {
            e.push(unsupported(&sp.child("concurrencyPolicy"), Value::from(other), &["Allow", "Forbid", "Replace"]))
        }
    }
    let jp = sp.child("jobTemplate");
    let job_template = object(e, spec, &sp, "jobTemplate");
    let jspec = object(e, job_template, &jp, "spec");
    validate_job_spec_common(e, jspec, &jp.child("spec"));
    if let Some(sel) = member(jspec, "selector") {
        e.push(inv(
            &jp.child("spec").child("selector"),
            selector_value(Some(sel)),
            "`selector` will be auto-generated",
        ));
    }
    if jspec.and_then(|s| s.get("manualSelector")).and_then(Value::as_bool) == Some(true) {
        e.push(unsupported(&jp.child("spec").child("manualSelector"), Value::from(true), &["nil", "false"]));
    }
    for key in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        let v = int32(e, spec, &sp, key);
        validate_nonnegative(e, &sp.child(key), v);
    }
}

fn validate_cron_job(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    validate_cron_job_spec(e, obj, None);
    let name = member(member(Some(obj), "metadata"), "name").and_then(Value::as_str).unwrap_or("");
    if name.len() > 52 {
        e.push(inv(&Path::new("metadata").child("name"), Value::from(name), "must be no more than 52 characters"));
    }
}

// ---------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------

fn is_headless(spec: Option<&Value>) -> bool {
    matches!(member(spec, "clusterIPs"), Some(Value::Array(ips)) if ips.len() == 1 && ips[0].as_str() == Some("None"))
}

fn go_service_port_key(protocol: &str, port: i64) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        go_quote(protocol)
    )
}

/// Upstream's `NormalizeClusterIPs`, which the registry applies before validating: a
/// singular `clusterIP` from an old client is mirrored into `clusterIPs`.
fn normalize_cluster_ips(obj: &Value, old: Option<&Value>) -> Value {
    let mut obj = obj.clone();
    let old_spec = old.and_then(|o| member(Some(o), "spec")).cloned();
    let Some(Value::Object(spec)) = obj.get_mut("spec") else { return obj };
    let ip = spec.get("clusterIP").and_then(Value::as_str).unwrap_or("").to_string();
    let ips_len = match spec.get("clusterIPs") {
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    match old_spec {
        None => {
            if !ip.is_empty() && ips_len == 0 {
                spec.insert("clusterIPs".into(), Value::Array(vec![Value::from(ip)]));
            }
        }
        Some(old_spec) => {
            let old_ip = old_spec.get("clusterIP").and_then(Value::as_str).unwrap_or("").to_string();
            let old_ips = old_spec.get("clusterIPs").cloned().unwrap_or(Value::Null);
            let old_len = old_ips.as_array().map_or(0, Vec::len);
            if old_len > 0 && ips_len == 0 && old_ip == ip {
                spec.insert("clusterIPs".into(), old_ips.clone());
            }
            if old_ip != ip {
                let same = semantic_eq(spec.get("clusterIPs"), Some(&old_ips));
                if !old_ip.is_empty() && ip.is_empty() {
                    if same {
                        spec.remove("clusterIPs");
                    }
                } else if same {
                    spec.insert("clusterIPs".into(), Value::Array(vec![Value::from(ip)]));
                }
            }
        }
    }
    obj
}

fn validate_service(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, MetaRules { namespaced: true, name: NameRule::Dns1035Label, kube_finalizers: true });
    let mp = Path::new("metadata");
    let sp = Path::new("spec");
    let annotations = member(member(Some(obj), "metadata"), "annotations");
    let ann = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    if let (Some(hints), Some(mode)) =
        (ann("service.kubernetes.io/topology-aware-hints"), ann("service.kubernetes.io/topology-mode"))
        && hints != mode
    {
        e.push(inv(
            &mp.child("annotations").key("service.kubernetes.io/topology-mode"),
            Value::from(mode),
            "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
        ));
    }
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    let svc_type = string(e, spec, &sp, "type");
    let headless = is_headless(spec);
    let ports = objects(e, spec, &sp, "ports");
    if ports.is_empty() && !headless && svc_type != "ExternalName" {
        e.push(req(&sp.child("ports"), ""));
    }
    let cluster_ips = strings(e, spec, &sp, "clusterIPs");
    match svc_type {
        "LoadBalancer" | "NodePort" if headless => {
            e.push(inv(
                &sp.child("clusterIPs").index(0),
                Value::from("None"),
                format!("may not be set to 'None' for {svc_type} services"),
            ));
        }
        "ExternalName" => {
            if !cluster_ips.is_empty() {
                e.push(forb(&sp.child("clusterIPs"), "may not be set for ExternalName services"));
            }
            if !list(e, spec, &sp, "ipFamilies").is_empty() {
                e.push(forb(&sp.child("ipFamilies"), "may not be set for ExternalName services"));
            }
            if member(spec, "ipFamilyPolicy").is_some() {
                e.push(forb(&sp.child("ipFamilyPolicy"), "may not be set for ExternalName services"));
            }
            let name = string(e, spec, &sp, "externalName");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                e.push(req(&sp.child("externalName"), ""));
            } else {
                for m in dns1123_subdomain(cname) {
                    e.push(inv(&sp.child("externalName"), Value::from(cname), m));
                }
            }
        }
        _ => {}
    }
    let pp = sp.child("ports");
    let mut names = BTreeSet::new();
    for (i, port) in &ports {
        let ip = pp.index(*i);
        let port = Some(*port);
        let name = string(e, port, &ip, "name");
        if ports.len() > 1 && name.is_empty() {
            e.push(req(&ip.child("name"), ""));
        } else if !name.is_empty() {
            for m in dns1123_label(name) {
                e.push(inv(&ip.child("name"), Value::from(name), m));
            }
            if !names.insert(name) {
                e.push(dup(&ip.child("name"), Value::from(name)));
            }
        }
        let number = int32(e, port, &ip, "port").unwrap_or(0);
        for m in port_number(number) {
            e.push(inv(&ip.child("port"), Value::from(number), m));
        }
        let protocol = string(e, port, &ip, "protocol");
        validate_protocol(e, &ip.child("protocol"), protocol);
        let target = int_or_string(e, port, &ip, "targetPort");
        validate_port_num_or_name(e, &ip.child("targetPort"), target.as_ref());
        if let Some(app) = opt_string(e, port, &ip, "appProtocol") {
            for m in qualified_name(app) {
                e.push(inv(&ip.child("appProtocol"), Value::from(app), m));
            }
        }
    }
    if let Some(selector) = string_map(e, spec, &sp, "selector") {
        validate_labels(e, &sp.child("selector"), &selector);
    }
    let affinity = string(e, spec, &sp, "sessionAffinity");
    match affinity {
        "" => e.push(req(&sp.child("sessionAffinity"), "")),
        "ClientIP" | "None" => {}
        other => e.push(unsupported(&sp.child("sessionAffinity"), Value::from(other), &["ClientIP", "None"])),
    }
    let cfg_path = sp.child("sessionAffinityConfig");
    let cfg = object(e, spec, &sp, "sessionAffinityConfig");
    if affinity == "ClientIP" {
        let client = object(e, cfg, &cfg_path, "clientIP");
        let timeout = int32(e, client, &cfg_path.child("clientIP"), "timeoutSeconds");
        match (cfg, client, timeout) {
            (None, _, _) => e.push(req(&cfg_path, "when session affinity type is ClientIP")),
            (_, None, _) => e.push(req(&cfg_path.child("clientIP"), "when session affinity type is ClientIP")),
            (_, _, None) => e.push(req(
                &cfg_path.child("clientIP").child("timeoutSeconds"),
                "when session affinity type is ClientIP",
            )),
            (_, _, Some(t)) if t <= 0 || t > 86400 => e.push(inv(
                &cfg_path.child("clientIP").child("timeoutSeconds"),
                Value::from(t),
                "must be greater than 0 and less than 86400",
            )),
            _ => {}
        }
    } else if affinity == "None" && cfg.is_some() {
        e.push(forb(&cfg_path, "must not be set when session affinity is None"));
    }
    validate_cluster_ips_related(e, spec, &sp, svc_type, &cluster_ips);
    let ep = sp.child("externalIPs");
    let external_ips = strings(e, spec, &sp, "externalIPs");
    for (i, ip) in external_ips.iter().enumerate() {
        if validate_ip(e, &ep.index(i), ip) {
            validate_non_special_ip(e, &ep.index(i), ip);
        }
    }
    match svc_type {
        "" => e.push(req(&sp.child("type"), "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => e.push(unsupported(
            &sp.child("type"),
            Value::from(other),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    let node_port = |p: &Value| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
    if svc_type == "ClusterIP" {
        for (i, port) in &ports {
            if node_port(port) != 0 {
                e.push(forb(&pp.index(*i).child("nodePort"), "may not be used when `type` is 'ClusterIP'"));
            }
        }
    }
    let protocol = |p: &Value| p.get("protocol").and_then(Value::as_str).unwrap_or("").to_string();
    let mut node_ports = BTreeSet::new();
    for (i, port) in &ports {
        let np = node_port(port);
        if np != 0 && !node_ports.insert((protocol(port), np)) {
            e.push(dup(&pp.index(*i).child("nodePort"), Value::from(np)));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, port) in &ports {
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !seen.insert((protocol(port), number)) {
            e.push(dup(&pp.index(*i), go_raw(go_service_port_key(&protocol(port), number))));
        }
    }
    let ranges = strings(e, spec, &sp, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        let rp = sp.child("LoadBalancerSourceRanges");
        if svc_type != "LoadBalancer" {
            e.push(forb(&rp, "may only be used when `type` is 'LoadBalancer'"));
        }
        for (i, r) in ranges.iter().enumerate() {
            validate_cidr(e, &rp.index(i), r.trim());
        }
    } else if let Some(val) = ann("service.beta.kubernetes.io/load-balancer-source-ranges") {
        let ap = mp.child("annotations").key("service.beta.kubernetes.io/load-balancer-source-ranges");
        if svc_type != "LoadBalancer" {
            e.push(forb(&ap, "may only be used when `type` is 'LoadBalancer'"));
        }
        let val = val.trim();
        if !val.is_empty() {
            for r in val.split(',') {
                validate_cidr(e, &ap, r.trim());
            }
        }
    }
    let allocate = opt_bool(e, spec, &sp, "allocateLoadBalancerNodePorts");
    if allocate.is_some() && svc_type != "LoadBalancer" {
        e.push(forb(&sp.child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"));
    }
    if svc_type == "LoadBalancer" && allocate.is_none() {
        e.push(req(&Path::new("allocateLoadBalancerNodePorts"), ""));
    }
    let lb_class = opt_string(e, spec, &sp, "loadBalancerClass");
    if let Some(class) = lb_class {
        if svc_type == "LoadBalancer" {
            for m in qualified_name(class) {
                e.push(inv(&sp.child("loadBalancerClass"), Value::from(class), m));
            }
        } else {
            e.push(forb(&sp.child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"));
        }
    }
    let etp = string(e, spec, &sp, "externalTrafficPolicy");
    let accessible =
        svc_type == "LoadBalancer" || svc_type == "NodePort" || (svc_type == "ClusterIP" && !external_ips.is_empty());
    if !accessible {
        if !etp.is_empty() {
            e.push(inv(
                &sp.child("externalTrafficPolicy"),
                Value::from(etp),
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        e.push(req(&sp.child("externalTrafficPolicy"), ""));
    } else if etp != "Cluster" && etp != "Local" {
        e.push(unsupported(&sp.child("externalTrafficPolicy"), Value::from(etp), &["Cluster", "Local"]));
    }
    let hcnp = int32(e, spec, &sp, "healthCheckNodePort").unwrap_or(0);
    if !(svc_type == "LoadBalancer" && etp == "Local") {
        if hcnp != 0 {
            e.push(inv(
                &sp.child("healthCheckNodePort"),
                Value::from(hcnp),
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hcnp == 0 {
        e.push(req(&sp.child("healthCheckNodePort"), ""));
    } else {
        for m in port_number(hcnp) {
            e.push(inv(&sp.child("healthCheckNodePort"), Value::from(hcnp), m));
        }
    }
    match opt_string(e, spec, &sp, "internalTrafficPolicy") {
        None if matches!(svc_type, "NodePort" | "LoadBalancer" | "ClusterIP") => {
            e.push(req(&sp.child("internalTrafficPolicy"), ""));
        }
        Some(itp) if itp != "Cluster" && itp != "Local" => {
            e.push(unsupported(&sp.child("internalTrafficPolicy"), Value::from(itp), &["Cluster", "Local"]));
        }
        _ => {}
    }
    if let Some(td) = opt_string(e, spec, &sp, "trafficDistribution")
        && td != "PreferClose"
    {
        e.push(unsupported(&sp.child("trafficDistribution"), Value::from(td), &["PreferClose"]));
    }
}

fn cluster_ips_value(spec: Option<&Value>) -> Value {
    go_raw(go_string_slice("string", member(spec, "clusterIPs")))
}

fn validate_cluster_ips_related(e: &mut Errs, spec: Option<&Value>, sp: &Path, svc_type: &str, ips: &[&str]) {
    if svc_type == "ExternalName" {
        return;
    }
    let cp = sp.child("clusterIPs");
    let cluster_ip = string(e, spec, sp, "clusterIP");
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            e.push(req(&cp, ""));
        } else if ips[0] != cluster_ip {
            e.push(inv(&cp, cluster_ips_value(spec), "first value must match `clusterIP`"));
        }
    } else if !ips.is_empty() {
        e.push(inv(&cp, cluster_ips_value(spec), "must be empty when `clusterIP` is not specified"));
    }
    let fp = sp.child("ipFamilies");
    let families = strings(e, spec, sp, "ipFamilies");
    let mut seen = BTreeSet::new();
    for (i, f) in families.iter().enumerate() {
        if *f != "IPv4" && *f != "IPv6" {
            e.push(unsupported(&fp.index(i), Value::from(*f), &["IPv4", "IPv6"]));
        }
        if !seen.insert(*f) {
            e.push(dup(&fp.index(i), Value::from(*f)));
        }
    }
    if let Some(policy) = opt_string(e, spec, sp, "ipFamilyPolicy")
        && !["PreferDualStack", "RequireDualStack", "SingleStack"].contains(&policy)
    {
        e.push(unsupported(
            &sp.child("ipFamilyPolicy"),
            Value::from(policy),
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && *ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                e.push(inv(&cp, cluster_ips_value(spec), "'None' must be the first and only value"));
            }
            continue;
        }
        invalid |= !validate_ip(e, &cp.index(i), ip);
    }
    if ips.len() > 2 {
        e.push(inv(&cp, cluster_ips_value(spec), "may only hold up to 2 values"));
    }
    if invalid {
        return;
    }
    if ips.len() > 1 && !is_dual_stack(ips) {
        e.push(inv(&cp, cluster_ips_value(spec), "may specify no more than one IP for each IP family"));
    }
    if !is_headless(spec) && !ips.is_empty() && !families.is_empty() {
        for (i, ip) in ips.iter().enumerate().take(families.len()) {
            if families[i] == "IPv4" && is_ipv6_str(ip) {
                e.push(inv(
                    &cp.index(i),
                    Value::from(*ip),
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if families[i] == "IPv6" && !is_ipv6_str(ip) {
                e.push(inv(
                    &cp.index(i),
                    Value::from(*ip),
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
}

fn validate_service_update(e: &mut Errs, obj: &Value, old: &Value) {
    validate_meta_update(e, obj, old, true);
    let spec = member(Some(obj), "spec");
    let old_spec = member(Some(old), "spec");
    let svc_type = |s: Option<&Value>| s.and_then(|s| s.get("type")).and_then(Value::as_str).unwrap_or("").to_string();
    let (new_type, old_type) = (svc_type(spec), svc_type(old_spec));
    let list_of = |s: Option<&Value>, k: &str| -> Vec<String> {
        match member(s, k) {
            Some(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect(),
            _ => Vec::new(),
        }
    };
    let policy = spec.and_then(|s| s.get("ipFamilyPolicy")).and_then(Value::as_str);
    let cp = Path::new("spec").child("clusterIPs");
    let fp = Path::new("spec").child("ipFamilies");
    let (new_headless, old_headless) = (is_headless(spec), is_headless(old_spec));
    if new_type != "ExternalName" && old_type != "ExternalName" && !(new_headless && old_headless) {
        let (ips, old_ips) = (list_of(spec, "clusterIPs"), list_of(old_spec, "clusterIPs"));
        let value = cluster_ips_value(spec);
        if ips.len() == old_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if *ip != ips[i] {
                    e.push(inv(&cp.index(i), value.clone(), "may not change once set"));
                }
            }
        } else if old_ips.len() > ips.len() {
            if ips.is_empty() {
                e.push(inv(&cp.index(0), value.clone(), "primary clusterIP can not be unset"));
            }
            if !old_ips.is_empty() && !ips.is_empty() && ips[0] != old_ips[0] {
                e.push(inv(&cp.index(0), value.clone(), "may not change once set"));
            }
            if ips.len() == 1 && policy != Some("SingleStack") {
                e.push(inv(
                    &Path::new("spec").child("ipFamilyPolicy"),
                    policy.map_or(Value::Null, Value::from),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                ));
            }
        } else if !old_ips.is_empty() && ips[0] != old_ips[0] {
            e.push(inv(&cp.index(0), value.clone(), "may not change once set"));
        }
    }
    if new_type != "ExternalName" && old_type != "ExternalName" && new_headless == old_headless && !new_headless {
        let (fams, old_fams) = (list_of(spec, "ipFamilies"), list_of(old_spec, "ipFamilies"));
        let fams_value = go_raw(go_string_slice("core.IPFamily", member(spec, "ipFamilies")));
        if fams.len() == old_fams.len() {
            for (i, f) in old_fams.iter().enumerate() {
                if *f != fams[i] {
                    e.push(inv(&fp.index(0), fams_value.clone(), "may not change once set"));
                }
            }
        } else if old_fams.len() > fams.len() {
            if list_of(spec, "clusterIPs").is_empty() {
                e.push(inv(&fp.index(0), fams_value.clone(), "primary ipFamily can not be unset"));
            }
            if !fams.is_empty() && fams[0] != old_fams[0] {
                e.push(inv(&fp.index(0), cluster_ips_value(spec), "may not change once set"));
            }
            if fams.len() == 1 && policy != Some("SingleStack") {
                e.push(inv(
                    &Path::new("spec").child("ipFamilyPolicy"),
                    policy.map_or(Value::Null, Value::from),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                ));
            }
        } else if !old_fams.is_empty() && !fams.is_empty() && fams[0] != old_fams[0] {
            e.push(inv(&fp.index(0), cluster_ips_value(spec), "may not change once set"));
        }
    }
    if new_type == "LoadBalancer" && old_type == "LoadBalancer" {
        let class = member(spec, "loadBalancerClass");
        if class != member(old_spec, "loadBalancerClass") {
            e.push(inv(&Path::new("spec").child("loadBalancerClass"), plain_value(class), "may not change once set"));
        }
    }
    let needs_hc = |s: Option<&Value>| {
        svc_type(s) == "LoadBalancer"
            && s.and_then(|s| s.get("externalTrafficPolicy")).and_then(Value::as_str) == Some("Local")
    };
    if needs_hc(spec)
        && needs_hc(old_spec)
        && member(spec, "healthCheckNodePort") != member(old_spec, "healthCheckNodePort")
    {
        e.push(forb(&Path::new("spec").child("healthCheckNodePort"), IMMUTABLE_MSG));
    }
    validate_service(e, obj);
}

// ---------------------------------------------------------------------------------------
// ConfigMap, Secret, ServiceAccount, Namespace, Node, Lease, Event
// ---------------------------------------------------------------------------------------

const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn validate_config_map(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    let root = Path::new("");
    let data = string_map(e, Some(obj), &root, "data").unwrap_or_default();
    let binary = string_map(e, Some(obj), &root, "binaryData").unwrap_or_default();
    let mut total = 0;
    let dp = Path::new("data");
    for (k, v) in &data {
        for m in config_map_key(k) {
            e.push(inv(&dp.key(k), Value::from(*k), m));
        }
        if binary.iter().any(|(b, _)| b == k) {
            e.push(inv(&dp.key(k), Value::from(*k), "duplicate of key present in binaryData"));
        }
        total += v.len();
    }
    let bp = Path::new("binaryData");
    for (k, v) in &binary {
        for m in config_map_key(k) {
            e.push(inv(&bp.key(k), Value::from(*k), m));
        }
        total += base64_decoded_len(v).unwrap_or(v.len());
    }
    if total > MAX_SECRET_SIZE {
        e.push(FieldError::too_long(Path::empty_root().s(), MAX_SECRET_SIZE as i64));
    }
}

fn validate_config_map_update(e: &mut Errs, obj: &Value, old: &Value) {
    validate_meta_update(e, obj, old, true);
    if member(Some(old), "immutable").and_then(Value::as_bool) == Some(true) {
        if member(Some(obj), "immutable").and_then(Value::as_bool) != Some(true) {
            e.push(forb(&Path::new("immutable"), "field is immutable when `immutable` is set"));
        }
        for key in ["data", "binaryData"] {
            if !semantic_eq(member(Some(obj), key), member(Some(old), key)) {
                e.push(forb(&Path::new(key), "field is immutable when `immutable` is set"));
            }
        }
    }
    validate_config_map(e, obj);
}

/// Go's base64 `StdEncoding` decoding: the decoded length, or the decoder's error.
fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let (mut acc, mut bits, mut pad) = (0u32, 0u32, 0usize);
    for (i, &c) in b.iter().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                if i % 4 < 2
                    || b[i..].iter().any(|&x| x != b'=')
                    || (i % 4 == 2 && b.len() != i + 2)
                    || !b.len().is_multiple_of(4)
                {
                    return Err(format!("illegal base64 data at input byte {i}"));
                }
                pad += 1;
                continue;
            }
            b'\r' | b'\n' => continue,
            _ => return Err(format!("illegal base64 data at input byte {i}")),
        };
        if pad > 0 {
            return Err(format!("illegal base64 data at input byte {i}"));
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if !b.len().is_multiple_of(4) && pad == 0 {
        return Err(format!("illegal base64 data at input byte {}", b.len() / 4 * 4));
    }
    Ok(out)
}

fn base64_decoded_len(s: &str) -> Option<usize> {
    base64_decode(s).ok().map(|v| v.len())
}

fn validate_secret(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    let root = Path::new("");
    let dp = Path::new("data");
    let mut data: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for (k, v) in string_map(e, Some(obj), &root, "data").unwrap_or_default() {
        match base64_decode(v) {
            Ok(bytes) => {
                data.insert(k, bytes);
            }
            Err(err) => e.push(FieldError::type_invalid(dp.key(k).s(), Value::from(v), err)),
        }
    }
    for (k, v) in string_map(e, Some(obj), &root, "stringData").unwrap_or_default() {
        data.insert(k, v.as_bytes().to_vec());
    }
    let mut total = 0;
    for (k, v) in &data {
        for m in config_map_key(k) {
            e.push(inv(&dp.key(k), Value::from(*k), m));
        }
        total += v.len();
    }
    if total > MAX_SECRET_SIZE {
        e.push(FieldError::too_long(dp.s(), MAX_SECRET_SIZE as i64));
    }
    let annotations = member(member(Some(obj), "metadata"), "annotations");
    let redacted = || Value::from("<secret contents redacted>");
    match string(e, Some(obj), &root, "type") {
        "kubernetes.io/service-account-token" => {
            let name = annotations
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                e.push(req(&Path::new("metadata").child("annotations").key("kubernetes.io/service-account.name"), ""));
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let key = if string(e, Some(obj), &root, "type") == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match data.get(key) {
                None => e.push(req(&dp.key(key), "")),
                Some(bytes) => {
                    if let Err(err) = json_object_error(bytes) {
                        e.push(inv(&dp.key(key), redacted(), err));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if !data.contains_key("username") && !data.contains_key("password") => {
            e.push(req(&dp.key("username"), ""));
            e.push(req(&dp.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(Vec::is_empty) => {
            e.push(req(&dp.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data.contains_key(key) {
                    e.push(req(&dp.key(key), ""));
                }
            }
        }
        _ => {}
    }
}

/// Whether bytes decode as a JSON object, with Go's `encoding/json` wording for the
/// common failures.
fn json_object_error(bytes: &[u8]) -> Result<(), String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(other) => {
            let kind = match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                _ => return Ok(()),
            };
            Err(format!("json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"))
        }
        Err(err) if err.is_eof() => Err("unexpected end of JSON input".to_string()),
        Err(_) => {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).map_or(' ', |&b| b as char);
            Err(format!("invalid character '{first}' looking for beginning of value"))
        }
    }
}

fn validate_secret_update(e: &mut Errs, obj: &Value, old: &Value) {
    validate_meta_update(e, obj, old, true);
    let t = member(Some(obj), "type");
    immutable(e, &Path::new("type"), t, member(Some(old), "type"), plain_value);
    if member(Some(old), "immutable").and_then(Value::as_bool) == Some(true) {
        if member(Some(obj), "immutable").and_then(Value::as_bool) != Some(true) {
            e.push(forb(&Path::new("immutable"), "field is immutable when `immutable` is set"));
        }
        if !semantic_eq(member(Some(obj), "data"), member(Some(old), "data")) {
            e.push(forb(&Path::new("data"), "field is immutable when `immutable` is set"));
        }
    }
    validate_secret(e, obj);
}

fn validate_namespace(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, MetaRules { namespaced: false, name: NameRule::Dns1123Label, kube_finalizers: true });
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    for f in strings(e, spec, &sp, "finalizers") {
        let fp = sp.child("finalizers");
        for m in qualified_name(f) {
            e.push(inv(&fp, Value::from(f), m));
        }
        validate_kube_finalizer_name(e, &fp, f);
    }
}

fn go_taint(t: &Value) -> String {
    let s = |k: &str| go_quote(t.get(k).and_then(Value::as_str).unwrap_or(""));
    format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:{}}}",
        s("key"),
        s("value"),
        s("effect"),
        go_ptr("v1.Time", member(Some(t), "timeAdded").is_some())
    )
}

fn validate_node_common(e: &mut Errs, obj: &Value) {
    let root = Path::new("");
    let spec = object(e, Some(obj), &root, "spec");
    let sp = Path::new("spec");
    let tp = Path::new("metadata").child("taints");
    let mut unique: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, t) in objects(e, spec, &sp, "taints") {
        let ip = tp.index(i);
        let key = string(e, Some(t), &ip, "key");
        validate_label_name(e, &ip.child("key"), key);
        let value = string(e, Some(t), &ip, "value");
        let msgs = label_value(value);
        if !msgs.is_empty() {
            e.push(inv(&ip.child("value"), Value::from(value), msgs.join(";")));
        }
        let effect = string(e, Some(t), &ip, "effect");
        validate_taint_effect(e, &ip.child("effect"), effect, false);
        if !unique.insert((effect.to_string(), key.to_string())) {
            let mut err = dup(&ip, go_raw(go_taint(t)));
            err.detail = "taints must be unique by key and effect pair".to_string();
            e.push(err);
        }
    }
    let status = member(Some(obj), "status");
    for key in ["capacity", "allocatable"] {
        for (name, q) in quantity_map(e, status, &Path::new("status"), key).unwrap_or_default() {
            let p = Path::new("status").child(key).child(&name);
            validate_quantity_value(e, &p, &name, &q);
        }
    }
    let cidrs = strings(e, spec, &sp, "podCIDRs");
    let cp = sp.child("podCIDRs");
    for (i, c) in cidrs.iter().enumerate() {
        validate_cidr(e, &cp.index(i), c);
    }
    if cidrs.len() > 1 {
        let ips: Vec<&str> = cidrs.iter().map(|c| c.split('/').next().unwrap_or("")).collect();
        if !is_dual_stack(&ips) || cidrs.len() > 2 {
            e.push(inv(
                &cp,
                go_raw(go_string_slice("string", member(spec, "podCIDRs"))),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(*c) {
                e.push(dup(&cp.index(i), Value::from(*c)));
            }
        }
    }
}

fn validate_node(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, MetaRules { namespaced: false, name: NameRule::Dns1123Subdomain, kube_finalizers: true });
    validate_node_common(e, obj);
}

fn validate_node_update(e: &mut Errs, obj: &Value, old: &Value) {
    validate_meta_update(e, obj, old, true);
    let spec = member(Some(obj), "spec");
    let old_spec = member(Some(old), "spec");
    let status = member(Some(obj), "status");
    for key in ["capacity", "allocatable"] {
        for (name, q) in quantity_map(e, status, &Path::new("status"), key).unwrap_or_default() {
            validate_quantity_value(e, &Path::new("status").child(key).child(&name), &name, &q);
        }
    }
    let mut addresses = BTreeSet::new();
    if let Some(Value::Array(a)) = member(status, "addresses") {
        for (i, addr) in a.iter().enumerate() {
            let s = |k: &str| addr.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            if !addresses.insert((s("type"), s("address"))) {
                let repr =
                    format!("core.NodeAddress{{Type:{}, Address:{}}}", go_quote(&s("type")), go_quote(&s("address")));
                e.push(dup(&Path::new("status").child("addresses").index(i), go_raw(repr)));
            }
        }
    }
    let cidrs = |s: Option<&Value>| -> Vec<String> {
        match member(s, "podCIDRs") {
            Some(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect(),
            _ => Vec::new(),
        }
    };
    let (new_cidrs, old_cidrs) = (cidrs(spec), cidrs(old_spec));
    let msg = "node updates may not change podCIDR except from \"\" to valid";
    if !old_cidrs.is_empty() {
        if old_cidrs.len() != new_cidrs.len() {
            e.push(forb(&Path::new("spec").child("podCIDRs"), msg));
        } else {
            for (o, n) in old_cidrs.iter().zip(&new_cidrs) {
                if o != n {
                    e.push(forb(&Path::new("spec").child("podCIDRs"), msg));
                }
            }
        }
    }
    let provider =
        |s: Option<&Value>| s.and_then(|s| s.get("providerID")).and_then(Value::as_str).unwrap_or("").to_string();
    if !provider(old_spec).is_empty() && provider(old_spec) != provider(spec) {
        e.push(forb(
            &Path::new("spec").child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    let mut taint_errs = Vec::new();
    validate_node_common(&mut taint_errs, obj);
    e.extend(taint_errs.into_iter().filter(|t| t.field.starts_with("metadata.taints")));
    if member(spec, "externalID") != member(old_spec, "externalID") {
        e.push(forb(&Path::new("spec").child("externalID"), "may not be updated"));
    }
}

fn validate_lease_spec(e: &mut Errs, obj: &Value) {
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    if let Some(d) = int32(e, spec, &sp, "leaseDurationSeconds")
        && d <= 0
    {
        e.push(inv(&sp.child("leaseDurationSeconds"), Value::from(d), "must be greater than 0"));
    }
    if let Some(t) = int32(e, spec, &sp, "leaseTransitions")
        && t < 0
    {
        e.push(inv(&sp.child("leaseTransitions"), Value::from(t), "must be greater than or equal to 0"));
    }
    let strategy = opt_string(e, spec, &sp, "strategy");
    if let Some(s) = strategy {
        if !s.contains('/') && s != "OldestEmulationVersion" {
            e.push(unsupported(&sp.child("strategy"), Value::from(s), &["OldestEmulationVersion"]));
        } else if s.contains('/') {
            for m in qualified_name(s) {
                e.push(inv(&sp.child("strategy"), Value::from(s), m));
            }
        }
    }
    let preferred = string(e, spec, &sp, "preferredHolder");
    if !preferred.is_empty() && strategy.is_none_or(str::is_empty) {
        e.push(forb(&sp.child("preferredHolder"), "may only be specified if `strategy` is defined"));
    }
}

/// The highest value a PriorityClass other than the system ones may have.
const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;

/// `ValidatePriorityClass` after the metadata: `system-` names only for the
/// system classes with their values, user values up to a billion, a known
/// preemption policy.
fn validate_priority_class(e: &mut Errs, obj: &Value) {
    let root = Path::new("");
    let name = member(member(Some(obj), "metadata"), "name").and_then(Value::as_str).unwrap_or("");
    let value = int32(e, Some(obj), &root, "value").unwrap_or(0);
    let global_default = opt_bool(e, Some(obj), &root, "globalDefault").unwrap_or(false);
    if name.starts_with("system-") {
        let known = crate::priority::SYSTEM_CLASSES.iter().find(|(n, _, _)| *n == name);
        let problem = match known {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v, _)) if *v != value => Some(format!("value of {n} PriorityClass must be {v}")),
            Some((n, _, _)) if global_default => Some(format!("globalDefault of {n} PriorityClass must be false")),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            e.push(forb(
                &Path::new("metadata").child("name"),
                format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {problem}"
                ),
            ));
        }
    } else if value > HIGHEST_USER_PRIORITY {
        e.push(forb(
            &Path::new("value"),
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    if let Some(policy) = opt_string(e, Some(obj), &root, "preemptionPolicy") {
        match policy {
            "PreemptLowerPriority" | "Never" => {}
            "" => e.push(req(&Path::new("preemptionPolicy"), "")),
            other => e.push(unsupported(
                &Path::new("preemptionPolicy"),
                Value::from(other),
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
}

/// `ValidatePriorityClassUpdate`: value and preemption policy never change.
fn validate_priority_class_update(e: &mut Errs, obj: &Value, old: &Value) {
    let value = |o: &Value| member(Some(o), "value").and_then(Value::as_i64).unwrap_or(0);
    if value(obj) != value(old) {
        e.push(forb(&Path::new("value"), "may not be changed in an update."));
    }
    immutable(
        e,
        &Path::new("preemptionPolicy"),
        member(Some(obj), "preemptionPolicy"),
        member(Some(old), "preemptionPolicy"),
        plain_value,
    );
}

/// Core v1 Events get only upstream's legacy checks (plus the generic metadata checks).
fn validate_event(e: &mut Errs, obj: &Value) {
    let root = Path::new("");
    let o = Some(obj);
    let namespace = member(member(o, "metadata"), "namespace").and_then(Value::as_str).unwrap_or("");
    let involved = object(e, o, &root, "involvedObject");
    let involved_ns = string(e, involved, &Path::new("involvedObject"), "namespace");
    let inp = Path::new("involvedObject").child("namespace");
    if member(o, "eventTime").is_none() {
        if involved_ns.is_empty() {
            if !namespace.is_empty() && namespace != "default" {
                e.push(inv(&inp, Value::from(involved_ns), "does not match event.namespace"));
            }
        } else if namespace != involved_ns {
            e.push(inv(&inp, Value::from(involved_ns), "does not match event.namespace"));
        }
    } else {
        if involved_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            e.push(inv(&inp, Value::from(involved_ns), "does not match event.namespace"));
        }
        let controller = string(e, o, &root, "reportingComponent");
        let cp = Path::new("reportingComponent");
        if controller.is_empty() {
            e.push(req(&cp, ""));
        }
        for m in qualified_name(controller) {
            e.push(inv(&cp, Value::from(controller), m));
        }
        for (key, limit, required) in
            [("reportingInstance", 128, true), ("action", 128, true), ("reason", 128, true), ("message", 1024, false)]
        {
            let v = string(e, o, &root, key);
            if required && v.is_empty() {
                e.push(req(&Path::new(key), ""));
            }
            if v.len() > limit {
                e.push(inv(&Path::new(key), Value::from(""), format!("can have at most {limit} characters")));
            }
        }
    }
    for m in dns1123_subdomain(namespace) {
        e.push(inv(&Path::new("namespace"), Value::from(namespace), m));
    }
}

// ---------------------------------------------------------------------------------------
// Ingress, RBAC, PersistentVolumeClaim
// ---------------------------------------------------------------------------------------

fn validate_ingress_backend(e: &mut Errs, backend: Option<&Value>, p: &Path) {
    let resource = object(e, backend, p, "resource");
    let service = object(e, backend, p, "service");
    match (resource, service) {
        (Some(_), Some(_)) => e.push(inv(p, Value::from(""), "cannot set both resource and service backends")),
        (Some(r), None) => {
            let rp = p.child("resource");
            if let Some(group) = opt_string(e, Some(r), &rp, "apiGroup") {
                for m in dns1123_subdomain(group) {
                    e.push(inv(&rp.child("apiGroup"), Value::from(group), m));
                }
            }
            for key in ["kind", "name"] {
                let v = string(e, Some(r), &rp, key);
                if v.is_empty() {
                    e.push(req(&rp.child(key), &format!("{key} is required")));
                } else {
                    for m in path_segment_name(v, false) {
                        e.push(inv(&rp.child(key), Value::from(v), m));
                    }
                }
            }
        }
        (None, Some(s)) => {
            let sp = p.child("service");
            let name = string(e, Some(s), &sp, "name");
            if name.is_empty() {
                e.push(req(&sp.child("name"), ""));
            } else {
                for m in dns1035_label(name) {
                    e.push(inv(&sp.child("name"), Value::from(name), m));
                }
            }
            let port = object(e, Some(s), &sp, "port");
            let pp = sp.child("port");
            let port_name_v = string(e, port, &pp, "name");
            let number = int32(e, port, &pp, "number").unwrap_or(0);
            if !port_name_v.is_empty() && number != 0 {
                e.push(inv(p, Value::from(""), "cannot set both port name & port number"));
            } else if !port_name_v.is_empty() {
                for m in port_name(port_name_v) {
                    e.push(inv(&pp.child("name"), Value::from(port_name_v), m));
                }
            } else if number != 0 {
                for m in port_number(number) {
                    e.push(inv(&pp.child("number"), Value::from(number), m));
                }
            } else {
                e.push(req(p, "port name or number is required"));
            }
        }
        (None, None) => e.push(inv(p, Value::from(""), "resource or service backend is required")),
    }
}

fn validate_ingress(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    let sp = Path::new("spec");
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    let rules_value = member(spec, "rules");
    let rules = objects(e, spec, &sp, "rules");
    let default_backend = object(e, spec, &sp, "defaultBackend");
    if rules.is_empty() && default_backend.is_none() {
        let repr = match rules_value {
            Some(Value::Array(_)) => "[]networking.IngressRule{}",
            _ => "[]networking.IngressRule(nil)",
        };
        e.push(inv(&sp, go_raw(repr.to_string()), "either `defaultBackend` or `rules` must be specified"));
    }
    if let Some(b) = default_backend {
        validate_ingress_backend(e, Some(b), &sp.child("defaultBackend"));
    }
    let rp = sp.child("rules");
    for (i, rule) in &rules {
        let ip = rp.index(*i);
        let rule = Some(*rule);
        let host = string(e, rule, &ip, "host");
        if !host.is_empty() {
            if parse_ip_sloppy(host).is_some() {
                e.push(inv(&ip.child("host"), Value::from(host), "must be a DNS name, not an IP address"));
            }
            let msgs = if host.contains('*') { wildcard_dns1123_subdomain(host) } else { dns1123_subdomain(host) };
            for m in msgs {
                e.push(inv(&ip.child("host"), Value::from(host), m));
            }
        }
        if let Some(http) = object(e, rule, &ip, "http") {
            let hp = ip.child("http");
            let paths = objects(e, Some(http), &hp, "paths");
            if paths.is_empty() {
                e.push(req(&hp.child("paths"), ""));
            }
            for (j, path) in paths {
                let pp = hp.child("paths").index(j);
                let path = Some(path);
                let Some(path_type) = opt_string(e, path, &pp, "pathType") else {
                    e.push(req(&pp.child("pathType"), "pathType must be specified"));
                    continue;
                };
                let p = string(e, path, &pp, "path");
                match path_type {
                    "Exact" | "Prefix" => {
                        if !p.starts_with('/') {
                            e.push(inv(&pp.child("path"), Value::from(p), "must be an absolute path"));
                        }
                        if !p.is_empty() {
                            for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                                if p.contains(seq) {
                                    e.push(inv(&pp.child("path"), Value::from(p), format!("must not contain '{seq}'")));
                                }
                            }
                            for suffix in ["/..", "/."] {
                                if p.ends_with(suffix) {
                                    e.push(inv(
                                        &pp.child("path"),
                                        Value::from(p),
                                        format!("cannot end with '{suffix}'"),
                                    ));
                                }
                            }
                        }
                    }
                    "ImplementationSpecific" => {
                        if !p.is_empty() && !p.starts_with('/') {
                            e.push(inv(&pp.child("path"), Value::from(p), "must be an absolute path"));
                        }
                    }
                    other => e.push(unsupported(
                        &pp.child("pathType"),
                        Value::from(other),
                        &["Exact", "ImplementationSpecific", "Prefix"],
                    )),
                }
                let backend = object(e, path, &pp, "backend");
                validate_ingress_backend(e, backend, &pp.child("backend"));
            }
        }
    }
    let tp = sp.child("tls");
    for (i, tls) in objects(e, spec, &sp, "tls") {
        let ip = tp.index(i);
        for (j, host) in strings(e, Some(tls), &ip, "hosts").iter().enumerate() {
            let msgs = if host.contains('*') { wildcard_dns1123_subdomain(host) } else { dns1123_subdomain(host) };
            for m in msgs {
                e.push(inv(&ip.child("hosts").index(j), Value::from(*host), m));
            }
        }
        let secret = string(e, Some(tls), &ip, "secretName");
        if !secret.is_empty() {
            for m in dns1123_subdomain(secret) {
                e.push(inv(&ip.child("secretName"), Value::from(secret), m));
            }
        }
    }
    if let Some(class) = opt_string(e, spec, &sp, "ingressClassName") {
        for m in dns1123_subdomain(class) {
            e.push(inv(&sp.child("ingressClassName"), Value::from(class), m));
        }
    }
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn validate_policy_rules(e: &mut Errs, obj: &Value, namespaced: bool) {
    let rp = Path::new("rules");
    for (i, rule) in objects(e, Some(obj), &Path::new(""), "rules") {
        let ip = rp.index(i);
        let rule = Some(rule);
        if list(e, rule, &ip, "verbs").is_empty() {
            e.push(req(&ip.child("verbs"), "verbs must contain at least one value"));
        }
        let urls = strings(e, rule, &ip, "nonResourceURLs");
        let groups = list(e, rule, &ip, "apiGroups");
        let resources = list(e, rule, &ip, "resources");
        if !urls.is_empty() {
            let value = go_raw(go_string_slice("string", member(rule, "nonResourceURLs")));
            if namespaced {
                e.push(inv(
                    &ip.child("nonResourceURLs"),
                    value.clone(),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if !groups.is_empty() || !resources.is_empty() || !list(e, rule, &ip, "resourceNames").is_empty() {
                e.push(inv(
                    &ip.child("nonResourceURLs"),
                    value,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if groups.is_empty() {
            e.push(req(&ip.child("apiGroups"), "resource rules must supply at least one api group"));
        }
        if resources.is_empty() {
            e.push(req(&ip.child("resources"), "resource rules must supply at least one resource"));
        }
    }
}

fn validate_cluster_role(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, MetaRules { namespaced: false, name: NameRule::PathSegment, kube_finalizers: true });
    validate_policy_rules(e, obj, false);
    if let Some(agg) = object(e, Some(obj), &Path::new(""), "aggregationRule") {
        let ap = Path::new("aggregationRule").child("clusterRoleSelectors");
        let selectors = objects(e, Some(agg), &Path::new("aggregationRule"), "clusterRoleSelectors");
        if selectors.is_empty() {
            e.push(req(&ap, "at least one clusterRoleSelector required if aggregationRule is non-nil"));
        }
        for (i, s) in selectors {
            validate_label_selector(e, Some(s), &ap.index(i));
        }
    }
}

fn validate_role_binding(e: &mut Errs, obj: &Value, namespaced: bool) {
    validate_meta(e, obj, MetaRules { namespaced, name: NameRule::PathSegment, kube_finalizers: true });
    let rp = Path::new("roleRef");
    let role_ref = object(e, Some(obj), &Path::new(""), "roleRef");
    let group = string(e, role_ref, &rp, "apiGroup");
    if group != RBAC_GROUP {
        e.push(unsupported(&rp.child("apiGroup"), Value::from(group), &[RBAC_GROUP]));
    }
    let kind = string(e, role_ref, &rp, "kind");
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&kind) {
        e.push(unsupported(&rp.child("kind"), Value::from(kind), kinds));
    }
    let name = string(e, role_ref, &rp, "name");
    if name.is_empty() {
        e.push(req(&rp.child("name"), ""));
    } else {
        for m in path_segment_name(name, false) {
            e.push(inv(&rp.child("name"), Value::from(name), m));
        }
    }
    let sp = Path::new("subjects");
    for (i, subject) in objects(e, Some(obj), &Path::new(""), "subjects") {
        let ip = sp.index(i);
        let s = Some(subject);
        let name = string(e, s, &ip, "name");
        if name.is_empty() {
            e.push(req(&ip.child("name"), ""));
        }
        let group = string(e, s, &ip, "apiGroup");
        match string(e, s, &ip, "kind") {
            "ServiceAccount" => {
                if !name.is_empty() {
                    for m in dns1123_subdomain(name) {
                        e.push(inv(&ip.child("name"), Value::from(name), m));
                    }
                }
                if !group.is_empty() {
                    e.push(unsupported(&ip.child("apiGroup"), Value::from(group), &[""]));
                }
                if !namespaced && string(e, s, &ip, "namespace").is_empty() {
                    e.push(req(&ip.child("namespace"), ""));
                }
            }
            "User" | "Group" => {
                if group != RBAC_GROUP {
                    e.push(unsupported(&ip.child("apiGroup"), Value::from(group), &[RBAC_GROUP]));
                }
            }
            other => e.push(unsupported(&ip.child("kind"), Value::from(other), &["ServiceAccount", "User", "Group"])),
        }
    }
}

fn validate_role_binding_update(e: &mut Errs, obj: &Value, old: &Value, namespaced: bool) {
    validate_role_binding(e, obj, namespaced);
    validate_meta_update(e, obj, old, true);
    let new_ref = member(Some(obj), "roleRef");
    if !semantic_eq(new_ref, member(Some(old), "roleRef")) {
        let s = |k: &str| go_quote(new_ref.and_then(|r| r.get(k)).and_then(Value::as_str).unwrap_or(""));
        let repr = format!("rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}", s("apiGroup"), s("kind"), s("name"));
        e.push(inv(&Path::new("roleRef"), go_raw(repr), "cannot change roleRef"));
    }
}

const ACCESS_MODES: [&str; 4] = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

fn validate_data_source(e: &mut Errs, ds: Option<&Value>, p: &Path, is_ref: bool) {
    required_str(e, ds, p, "name");
    let kind = string(e, ds, p, "kind");
    if kind.is_empty() {
        e.push(req(&p.child("kind"), ""));
    }
    let group = string(e, ds, p, "apiGroup");
    if group.is_empty() && kind != "PersistentVolumeClaim" {
        e.push(inv(p, Value::from(kind), "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
    }
    if !group.is_empty() {
        for m in dns1123_subdomain(group) {
            e.push(inv(&p.child("apiGroup"), Value::from(group), m));
        }
    }
    if is_ref {
        let ns = string(e, ds, p, "namespace");
        if !ns.is_empty() {
            for m in dns1123_label(ns) {
                e.push(inv(&p.child("namespace"), Value::from(ns), m));
            }
        }
    }
}

/// `ValidatePersistentVolumeClaimSpec`.
fn validate_pvc_spec(e: &mut Errs, spec: Option<&Value>, sp: &Path) {
    let modes = strings(e, spec, sp, "accessModes");
    if modes.is_empty() {
        e.push(req(&sp.child("accessModes"), "at least 1 access mode is required"));
    }
    if let Some(sel) = object(e, spec, sp, "selector") {
        validate_label_selector(e, Some(sel), &sp.child("selector"));
    }
    let (mut rwop, mut other) = (false, false);
    for m in &modes {
        if !ACCESS_MODES.contains(m) {
            e.push(unsupported(&sp.child("accessModes"), Value::from(*m), &ACCESS_MODES));
        }
        if *m == "ReadWriteOncePod" {
            rwop = true;
        } else if ACCESS_MODES.contains(m) {
            other = true;
        }
    }
    if rwop && other {
        e.push(forb(&sp.child("accessModes"), "may not use ReadWriteOncePod with other access modes"));
    }
    let rp = sp.child("resources");
    let resources = object(e, spec, sp, "resources");
    let requests = quantity_map(e, resources, &rp, "requests").unwrap_or_default();
    let storage_path = rp.key("storage");
    match requests.iter().find(|(n, _)| n == "storage") {
        None => e.push(req(&storage_path, "")),
        Some((_, q)) if q.coef <= 0 => e.push(inv(&storage_path, Value::from(q.to_canonical()), IS_NOT_POSITIVE_MSG)),
        Some((_, q)) => validate_quantity_value(e, &storage_path, "storage", q),
    }
    if let Some(class) = opt_string(e, spec, sp, "storageClassName")
        && !class.is_empty()
    {
        for m in dns1123_subdomain(class) {
            e.push(inv(&sp.child("storageClassName"), Value::from(class), m));
        }
    }
    if let Some(mode) = opt_string(e, spec, sp, "volumeMode")
        && mode != "Block"
        && mode != "Filesystem"
    {
        e.push(unsupported(&sp.child("volumeMode"), Value::from(mode), &["Block", "Filesystem"]));
    }
    let ds = object(e, spec, sp, "dataSource");
    if ds.is_some() {
        validate_data_source(e, ds, &sp.child("dataSource"), false);
    }
    let dsr = object(e, spec, sp, "dataSourceRef");
    if dsr.is_some() {
        validate_data_source(e, dsr, &sp.child("dataSourceRef"), true);
    }
    let ref_ns = dsr.and_then(|r| r.get("namespace")).and_then(Value::as_str).unwrap_or("");
    if !ref_ns.is_empty() {
        if ds.is_some() {
            e.push(inv(
                sp,
                Value::from(sp.child("dataSource").s()),
                "may not be specified when dataSourceRef.namespace is specified",
            ));
        }
    } else if let (Some(a), Some(b)) = (ds, dsr) {
        let same = ["apiGroup", "kind", "name"].iter().all(|k| member(Some(a), k) == member(Some(b), k));
        if !same {
            e.push(inv(sp, Value::from(sp.child("dataSource").s()), "must match dataSourceRef"));
        }
    }
    if let Some(vac) = opt_string(e, spec, sp, "volumeAttributesClassName")
        && !vac.is_empty()
    {
        for m in dns1123_subdomain(vac) {
            e.push(inv(&sp.child("volumeAttributesClassName"), Value::from(vac), m));
        }
    }
}

fn validate_pvc(e: &mut Errs, obj: &Value) {
    validate_meta(e, obj, NAMESPACED_SUBDOMAIN);
    let spec = object(e, Some(obj), &Path::new(""), "spec");
    validate_pvc_spec(e, spec, &Path::new("spec"));
}

fn validate_pvc_update(e: &mut Errs, obj: &Value, old: &Value) {
    validate_meta_update(e, obj, old, true);
    validate_pvc(e, obj);
    let spec = member(Some(obj), "spec");
    let old_spec = member(Some(old), "spec");
    let mut new_clone = spec.cloned().unwrap_or(Value::Object(Map::new()));
    let mut old_clone = old_spec.cloned().unwrap_or(Value::Object(Map::new()));
    const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
    let ann = |o: &Value, k: &str| {
        member(member(Some(o), "metadata"), "annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let (Value::Object(n), Value::Object(o)) = (&mut new_clone, &mut old_clone) {
        if member(old_spec, "volumeName").and_then(Value::as_str).unwrap_or("").is_empty() {
            match n.get("volumeName") {
                Some(v) => o.insert("volumeName".into(), v.clone()),
                None => o.remove("volumeName"),
            };
        }
        let old_class = o.get("storageClassName").filter(|v| !v.is_null()).and_then(Value::as_str).map(str::to_string);
        let new_class = n.get("storageClassName").filter(|v| !v.is_null()).and_then(Value::as_str).map(str::to_string);
        let (old_ann, new_ann) = (ann(old, BETA_CLASS), ann(obj, BETA_CLASS));
        let upgrade_from_annotation = old_ann.is_some()
            && old_class.is_none()
            && new_class.is_some()
            && new_class == old_ann
            && (new_ann.is_none() || new_ann == old_ann);
        if upgrade_from_annotation {
            n.remove("storageClassName");
        } else {
            if new_ann != old_ann {
                e.push(inv(
                    &Path::new("metadata").child("annotations").child(BETA_CLASS),
                    Value::from(new_ann.clone().unwrap_or_default()),
                    IMMUTABLE_MSG,
                ));
            }
            if new_class.is_some() && old_class.is_none() && (old_ann.is_none() || new_class == old_ann) {
                n.remove("storageClassName");
            }
        }
        let bound = member(member(Some(obj), "status"), "phase").and_then(Value::as_str) == Some("Bound");
        if bound {
            let old_storage = member(member(old_spec, "resources"), "requests").and_then(|r| r.get("storage")).cloned();
            if let Some(Value::Object(r)) = n.get_mut("resources")
                && let Some(Value::Object(reqs)) = r.get_mut("requests")
            {
                match old_storage {
                    Some(s) => reqs.insert("storage".into(), s),
                    None => reqs.remove("storage"),
                };
            }
            if n.contains_key("volumeAttributesClassName") {
                match o.get("volumeAttributesClassName") {
                    Some(v) => n.insert("volumeAttributesClassName".into(), v.clone()),
                    None => n.remove("volumeAttributesClassName"),
                };
            }
        }
    }
    if !semantic_eq(Some(&new_clone), Some(&old_clone)) {
        let diff = diff_text(Some(&old_clone), Some(&new_clone), "spec");
        e.push(forb(
            &Path::new("spec"),
            format!("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{diff}"),
        ));
    }
    let size = |s: Option<&Value>| {
        member(member(s, "resources"), "requests")
            .and_then(|r| r.get("storage"))
            .and_then(|v| Quantity::parse(&quantity_text(v)).ok())
    };
    let status_size = member(member(Some(old), "status"), "capacity")
        .and_then(|c| c.get("storage"))
        .and_then(|v| Quantity::parse(&quantity_text(v)).ok());
    if let (Some(new_size), Some(old_size)) = (size(spec), size(old_spec))
        && new_size.cmp(&old_size).is_lt()
    {
        let zero = Quantity { coef: 0, exp10: 0, format: QuantityFormat::DecimalSI, kept: None };
        if new_size.cmp(status_size.as_ref().unwrap_or(&zero)).is_le() {
            e.push(forb(
                &Path::new("spec").child("resources").child("requests").child("storage"),
                "field can not be less than status.capacity",
            ));
        }
    }
    immutable(e, &Path::new("volumeMode"), member(spec, "volumeMode"), member(old_spec, "volumeMode"), plain_value);
    let vac = member(spec, "volumeAttributesClassName");
    let old_vac = member(old_spec, "volumeAttributesClassName");
    if old_vac.is_some() && vac != old_vac {
        match vac.and_then(Value::as_str) {
            None => e.push(forb(
                &Path::new("spec").child("volumeAttributesClassName"),
                "update from non-nil value to nil is forbidden",
            )),
            Some("") => e.push(forb(
                &Path::new("spec").child("volumeAttributesClassName"),
                "update from non-nil value to an empty string is forbidden",
            )),
            Some(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------

/// Scope and name rule of the built-in kinds validated here or known by name.
fn known_meta_rules(group: &str, kind: &str) -> Option<MetaRules> {
    let (namespaced, name) = match (group, kind) {
        ("", "Namespace") => (false, NameRule::Dns1123Label),
        ("", "Service") => (true, NameRule::Dns1035Label),
        ("apps", "StatefulSet") => (true, NameRule::Dns1123Label),
        ("", "Node" | "PersistentVolume") => (false, NameRule::Dns1123Subdomain),
        ("rbac.authorization.k8s.io", "Role" | "RoleBinding") => (true, NameRule::PathSegment),
        ("rbac.authorization.k8s.io", "ClusterRole" | "ClusterRoleBinding") => (false, NameRule::PathSegment),
        ("", "Event") => (true, NameRule::PathSegment),
        (
            "",
            "Pod"
            | "ConfigMap"
            | "Secret"
            | "ServiceAccount"
            | "PersistentVolumeClaim"
            | "Endpoints"
            | "LimitRange"
            | "ResourceQuota"
            | "PodTemplate"
            | "ReplicationController",
        )
        | ("apps", "Deployment" | "ReplicaSet" | "DaemonSet" | "ControllerRevision")
        | ("batch", "Job" | "CronJob")
        | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
        | ("coordination.k8s.io", "Lease")
        | ("policy", "PodDisruptionBudget")
        | ("autoscaling", "HorizontalPodAutoscaler")
        | ("discovery.k8s.io", "EndpointSlice") => (true, NameRule::Dns1123Subdomain),
        ("networking.k8s.io", "IngressClass")
        | ("storage.k8s.io", "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment")
        | ("scheduling.k8s.io", "PriorityClass")
        | ("node.k8s.io", "RuntimeClass")
        | ("apiextensions.k8s.io", "CustomResourceDefinition")
        | ("admissionregistration.k8s.io", "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration")
        | ("apiregistration.k8s.io", "APIService") => (false, NameRule::Dns1123Subdomain),
        _ => return None,
    };
    Some(MetaRules { namespaced, name, kube_finalizers: true })
}

/// Rules for a kind; unknown kinds (custom resources) get DNS-subdomain names and the
/// scope their object shows, since the scope is not known here.
fn meta_rules(group: &str, kind: &str, obj: &Value) -> MetaRules {
    known_meta_rules(group, kind).unwrap_or_else(|| {
        let namespaced =
            member(member(Some(obj), "metadata"), "namespace").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        MetaRules { namespaced, name: NameRule::Dns1123Subdomain, kube_finalizers: false }
    })
}

/// Validates an object on create, as kube-apiserver's registry does: the kind's own
/// rules, then (only if those passed) the generic metadata checks every resource gets.
pub fn validate_create(group: &str, kind: &str, obj: &Value) -> Vec<FieldError> {
    if !obj.is_object() {
        return vec![FieldError::type_invalid("", obj.clone(), "expected object")];
    }
    let mut e = Vec::new();
    let rules = meta_rules(group, kind, obj);
    match (group, kind) {
        ("", "Pod") => validate_pod_create(&mut e, obj),
        ("", "Service") => validate_service(&mut e, &normalize_cluster_ips(obj, None)),
        ("", "ConfigMap") => validate_config_map(&mut e, obj),
        ("", "Secret") => validate_secret(&mut e, obj),
        ("", "Namespace") => validate_namespace(&mut e, obj),
        ("", "Node") => validate_node(&mut e, obj),
        ("", "PersistentVolumeClaim") => validate_pvc(&mut e, obj),
        ("", "Event") => validate_event(&mut e, obj),
        ("", "PodTemplate") => validate_pod_template(&mut e, obj),
        ("", "ReplicationController") => {
            validate_meta(&mut e, obj, rules);
            validate_replication_controller_spec(&mut e, obj);
        }
        ("apps", "Deployment") => validate_deployment(&mut e, obj),
        ("apps", "ReplicaSet") => validate_replica_set(&mut e, obj),
        ("apps", "DaemonSet") => validate_daemon_set(&mut e, obj),
        ("apps", "StatefulSet") => validate_stateful_set(&mut e, obj),
        ("batch", "Job") => validate_job(&mut e, obj, true),
        ("batch", "CronJob") => validate_cron_job(&mut e, obj),
        ("networking.k8s.io", "Ingress") => {
            validate_ingress(&mut e, obj);
            let class =
                member(member(Some(obj), "metadata"), "annotations").and_then(|a| a.get("kubernetes.io/ingress.class"));
            if let Some(class) = class
                && member(member(Some(obj), "spec"), "ingressClassName").is_some()
            {
                e.push(inv(
                    &Path::new("annotations").child("kubernetes.io/ingress.class"),
                    class.clone(),
                    "can not be set when the class field is also set",
                ));
            }
        }
        ("rbac.authorization.k8s.io", "Role") => {
            validate_meta(&mut e, obj, rules);
            validate_policy_rules(&mut e, obj, true);
        }
        ("rbac.authorization.k8s.io", "ClusterRole") => validate_cluster_role(&mut e, obj),
        ("rbac.authorization.k8s.io", "RoleBinding") => validate_role_binding(&mut e, obj, true),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => validate_role_binding(&mut e, obj, false),
        ("coordination.k8s.io", "Lease") => {
            validate_meta(&mut e, obj, MetaRules { kube_finalizers: false, ..rules });
            validate_lease_spec(&mut e, obj);
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            validate_meta(&mut e, obj, rules);
            validate_priority_class(&mut e, obj);
        }
        _ => validate_meta(&mut e, obj, rules),
    }
    if e.is_empty() {
        validate_meta(
            &mut e,
            obj,
            MetaRules { namespaced: rules.namespaced, name: NameRule::PathSegment, kube_finalizers: false },
        );
    }
    finish(e)
}

/// Validates an update of `old` to `obj`: the generic metadata and immutability checks
/// every resource gets, then the kind's own update rules (which may repeat some of them,
/// as upstream's do; [`invalid_message`] shows repeated lines once).
pub fn validate_update(group: &str, kind: &str, obj: &Value, old: &Value) -> Vec<FieldError> {
    if !obj.is_object() {
        return vec![FieldError::type_invalid("", obj.clone(), "expected object")];
    }
    let mut e = Vec::new();
    let rules = meta_rules(group, kind, obj);
    validate_meta(
        &mut e,
        obj,
        MetaRules { namespaced: rules.namespaced, name: NameRule::PathSegment, kube_finalizers: false },
    );
    validate_meta_update(&mut e, obj, old, false);
    match (group, kind) {
        ("", "Pod") => validate_pod_update(&mut e, obj, old),
        ("", "Service") => validate_service_update(&mut e, &normalize_cluster_ips(obj, Some(old)), old),
        ("", "ConfigMap") => validate_config_map_update(&mut e, obj, old),
        ("", "Secret") => validate_secret_update(&mut e, obj, old),
        ("", "Node") => validate_node_update(&mut e, obj, old),
        ("", "PersistentVolumeClaim") => validate_pvc_update(&mut e, obj, old),
        ("", "Event") => validate_event(&mut e, obj),
        ("", "ServiceAccount") => {
            validate_meta_update(&mut e, obj, old, true);
            validate_meta(&mut e, obj, rules);
        }
        ("", "PodTemplate") => {
            validate_meta_update(&mut e, obj, old, true);
            let template = object(&mut e, Some(obj), &Path::new(""), "template");
            validate_pod_template_spec(&mut e, template, &Path::new("template"));
        }
        ("", "ReplicationController") => {
            validate_meta_update(&mut e, obj, old, true);
            validate_replication_controller_spec(&mut e, obj);
        }
        ("apps", "Deployment") => {
            validate_meta_update(&mut e, obj, old, true);
            validate_deployment_spec(&mut e, obj);
            validate_selector_immutable(&mut e, obj, old);
        }
        ("apps", "ReplicaSet") => {
            validate_meta_update(&mut e, obj, old, true);
            validate_replica_set_spec(&mut e, obj);
            validate_selector_immutable(&mut e, obj, old);
        }
        ("apps", "DaemonSet") => {
            validate_meta_update(&mut e, obj, old, true);
            validate_daemon_set_spec(&mut e, obj);
            validate_selector_immutable(&mut e, obj, old);
        }
        ("apps", "StatefulSet") => validate_stateful_set_update(&mut e, obj, old),
        ("batch", "Job") => validate_job_update(&mut e, obj, old),
        ("batch", "CronJob") => {
            validate_meta_update(&mut e, obj, old, true);
            validate_cron_job_spec(&mut e, obj, Some(old));
        }
        ("networking.k8s.io", "Ingress") => {
            validate_meta_update(&mut e, obj, old, true);
            validate_ingress(&mut e, obj);
        }
        ("rbac.authorization.k8s.io", "Role") => {
            validate_meta(&mut e, obj, rules);
            validate_policy_rules(&mut e, obj, true);
            validate_meta_update(&mut e, obj, old, true);
        }
        ("rbac.authorization.k8s.io", "ClusterRole") => {
            validate_cluster_role(&mut e, obj);
            validate_meta_update(&mut e, obj, old, true);
        }
        ("rbac.authorization.k8s.io", "RoleBinding") => validate_role_binding_update(&mut e, obj, old, true),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => validate_role_binding_update(&mut e, obj, old, false),
        ("coordination.k8s.io", "Lease") => {
            validate_meta_update(&mut e, obj, old, false);
            validate_lease_spec(&mut e, obj);
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            validate_meta_update(&mut e, obj, old, rules.kube_finalizers);
            validate_priority_class_update(&mut e, obj, old);
        }
        _ => validate_meta_update(&mut e, obj, old, rules.kube_finalizers),
    }
    finish(e)
}

/// `ValidateObjectMeta` on its own, for kinds validated elsewhere (custom resources:
/// `NameRule::Dns1123Subdomain`).
pub fn validate_object_meta(obj: &Value, namespaced: bool, name: NameRule) -> Vec<FieldError> {
    let mut e = Vec::new();
    validate_meta(&mut e, obj, MetaRules { namespaced, name, kube_finalizers: false });
    finish(e)
}

/// `ValidateObjectMetaUpdate` on its own.
pub fn validate_object_meta_update(obj: &Value, old: &Value) -> Vec<FieldError> {
    let mut e = Vec::new();
    validate_meta_update(&mut e, obj, old, false);
    finish(e)
}

/// Reports each wrong-type value once, however many checks read it.
fn finish(errs: Errs) -> Errs {
    let mut seen = BTreeSet::new();
    errs.into_iter()
        .filter(|e| e.kind != FieldErrorKind::TypeInvalid || seen.insert((e.field.clone(), e.detail.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const DNS1035: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    const NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const CONFIG_KEY: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

    /// Sets the member at a JSON pointer, creating objects on the way.
    fn set(mut v: Value, ptr: &str, new: Value) -> Value {
        let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
        let mut cur = &mut v;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            cur = match cur {
                Value::Array(a) => {
                    let idx: usize = part.parse().expect("index");
                    if last {
                        if idx == a.len() {
                            a.push(new);
                        } else {
                            a[idx] = new;
                        }
                        return v;
                    }
                    &mut a[idx]
                }
                Value::Object(m) => {
                    let key = part.replace("~1", "/").replace("~0", "~");
                    if last {
                        m.insert(key, new);
                        return v;
                    }
                    m.entry(key).or_insert_with(|| json!({}))
                }
                other => panic!("cannot descend into {other}"),
            };
        }
        v
    }

    fn remove(mut v: Value, ptr: &str) -> Value {
        let (parent, key) = ptr.rsplit_once('/').expect("pointer");
        if let Some(Value::Object(m)) = v.pointer_mut(parent) {
            m.remove(key);
        } else if let Some(Value::Array(a)) = v.pointer_mut(parent) {
            a.remove(key.parse::<usize>().expect("index"));
        }
        v
    }

    fn container() -> Value {
        json!({
            "name": "web",
            "image": "nginx:1.27",
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                              "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
            "readinessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5,
                               "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/nginx/conf.d", "readOnly": true}],
            "securityContext": {"runAsNonRoot": true, "runAsUser": 101, "allowPrivilegeEscalation": false,
                                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent"
        })
    }

    fn pod_spec() -> Value {
        json!({
            "containers": [container()],
            "volumes": [{"name": "config", "configMap": {"name": "web-config", "defaultMode": 420}},
                        {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "web",
            "securityContext": {"fsGroup": 101},
            "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}}
            ]}}
        })
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "default", "labels": {"app": "web", "app.kubernetes.io/name": "web"},
               "annotations": {"meta.helm.sh/release-name": "web"}})
    }

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("web-0"), "spec": pod_spec()})
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}, "annotations": {"checksum/config": "abc"}}, "spec": pod_spec()})
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template(),
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
        })
    }

    fn stateful_set() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("db"),
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "web"}}, "template": template(),
                     "podManagementPolicy": "OrderedReady",
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                     "revisionHistoryLimit": 10,
                     "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "8Gi"}}, "volumeMode": "Filesystem"}}]}
        })
    }

    fn daemon_set() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("agent"),
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(),
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                     "revisionHistoryLimit": 10}
        })
    }

    fn job_template() -> Value {
        let t = template();
        let t = set(t, "/spec/restartPolicy", json!("Never"));
        remove(t, "/spec/containers/0/livenessProbe")
    }

    fn job() -> Value {
        let uid = "5f4d2b6e-1c1a-4bd1-9d6c-6f1a0a1b2c3d";
        let t = set(
            job_template(),
            "/metadata/labels",
            json!({
            "app": "web", "controller-uid": uid, "job-name": "migrate",
            "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "migrate"}),
        );
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "namespace": "default", "uid": uid},
            "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": false,
                     "podReplacementPolicy": "TerminatingOrFailed", "manualSelector": false,
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}, "template": t}
        })
    }

    fn cron_job() -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("backup"),
            "spec": {"schedule": "*/15 2-4 * jan,mar MON-FRI", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
                     "suspend": false, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"backoffLimit": 6, "completionMode": "NonIndexed", "template": job_template()}}}
        })
    }

    fn service() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": meta("web"),
            "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.20", "clusterIPs": ["10.43.0.20"], "ipFamilies": ["IPv4"],
                     "ipFamilyPolicy": "SingleStack", "selector": {"app": "web"}, "sessionAffinity": "None",
                     "internalTrafficPolicy": "Cluster",
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                               {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP", "appProtocol": "http"}]}
        })
    }

    fn load_balancer() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": meta("ingress"),
            "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.30", "clusterIPs": ["10.43.0.30"], "selector": {"app": "web"},
                     "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                     "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000, "allocateLoadBalancerNodePorts": true,
                     "internalTrafficPolicy": "Cluster",
                     "ports": [{"name": "https", "port": 443, "targetPort": 8443, "nodePort": 30443, "protocol": "TCP"}]}
        })
    }

    fn config_map() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("web-config"),
               "data": {"nginx.conf": "server {}", "LOG_LEVEL": "info"}, "binaryData": {"logo.png": "iVBORw0KGgo="}})
    }

    fn secret() -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("web-tls"), "type": "kubernetes.io/tls",
               "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}})
    }

    fn ingress() -> Value {
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta("web"),
            "spec": {"ingressClassName": "traefik",
                     "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
                     "rules": [{"host": "web.example.com", "http": {"paths": [
                         {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}},
                         {"path": "/api", "pathType": "ImplementationSpecific", "backend": {"service": {"name": "api", "port": {"number": 8080}}}}
                     ]}}, {"host": "*.example.com", "http": {"paths": [
                         {"path": "/", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
        })
    }

    fn pvc() -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("data"),
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                        "storageClassName": "local-path", "volumeMode": "Filesystem"}})
    }

    fn node() -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "pi-1", "labels": {"kubernetes.io/hostname": "pi-1"}},
               "spec": {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"],
                        "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
               "status": {"capacity": {"cpu": "4", "memory": "3884Mi", "pods": "110"}, "allocatable": {"cpu": "4", "memory": "3784Mi"}}})
    }

    fn lease() -> Value {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": "pi-1", "namespace": "kube-node-lease"},
               "spec": {"holderIdentity": "pi-1", "leaseDurationSeconds": 40, "renewTime": "2025-05-01T10:00:00.000000Z"}})
    }

    fn priority_class(name: &str, value: i64) -> Value {
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
               "value": value, "preemptionPolicy": "PreemptLowerPriority"})
    }

    #[test]
    fn priority_classes() {
        let reserved =
            "Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: ";
        let sched = "scheduling.k8s.io";
        check(vec![
            create("a user class", sched, "PriorityClass", priority_class("high", 1000), &[]),
            create(
                "a system class with its value",
                sched,
                "PriorityClass",
                priority_class("system-node-critical", 2_000_001_000),
                &[],
            ),
            create(
                "an unknown system- name",
                sched,
                "PriorityClass",
                priority_class("system-mine", 10),
                &[("metadata.name", &format!("{reserved}system-mine is not a known system priority class"))],
            ),
            create(
                "a system class with another value",
                sched,
                "PriorityClass",
                priority_class("system-cluster-critical", 10),
                &[(
                    "metadata.name",
                    &format!("{reserved}value of system-cluster-critical PriorityClass must be 2000000000"),
                )],
            ),
            create(
                "a system class as the default",
                sched,
                "PriorityClass",
                set(priority_class("system-cluster-critical", 2_000_000_000), "/globalDefault", json!(true)),
                &[(
                    "metadata.name",
                    &format!("{reserved}globalDefault of system-cluster-critical PriorityClass must be false"),
                )],
            ),
            create(
                "a user value above a billion",
                sched,
                "PriorityClass",
                priority_class("huge", 1_000_000_001),
                &[("value", "Forbidden: maximum allowed value of a user defined priority is 1000000000")],
            ),
            create(
                "an unknown policy",
                sched,
                "PriorityClass",
                set(priority_class("high", 1), "/preemptionPolicy", json!("Sometimes")),
                &[(
                    "preemptionPolicy",
                    "Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\"",
                )],
            ),
            update(
                "value and policy never change",
                sched,
                "PriorityClass",
                stored(priority_class("high", 1000)),
                set(set(stored(priority_class("high", 1000)), "/value", json!(5)), "/preemptionPolicy", json!("Never")),
                &[
                    ("value", "Forbidden: may not be changed in an update."),
                    ("preemptionPolicy", "Invalid value: \"Never\": field is immutable"),
                ],
            ),
            update(
                "the description may change",
                sched,
                "PriorityClass",
                stored(priority_class("high", 1000)),
                set(stored(priority_class("high", 1000)), "/description", json!("now documented")),
                &[],
            ),
        ]);
    }

    fn event() -> Value {
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-0.17c2", "namespace": "default"},
               "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0"},
               "reason": "Scheduled", "message": "Successfully assigned", "type": "Normal", "count": 1,
               "source": {"component": "default-scheduler"}})
    }

    fn namespace() -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring", "labels": {"kubernetes.io/metadata.name": "monitoring"}},
               "spec": {"finalizers": ["kubernetes"]}})
    }

    fn role() -> Value {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("web:reader"),
               "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]}]})
    }

    fn cluster_role() -> Value {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:web-metrics"},
               "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
                         {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}]})
    }

    fn role_binding() -> Value {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("web"),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web:reader"},
               "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "default"},
                            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice@example.com"}]})
    }

    fn cluster_role_binding() -> Value {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "web-metrics"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:web-metrics"},
               "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "default"},
                            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}]})
    }

    /// With `resourceVersion` set, as every update reaching validation has.
    fn stored(v: Value) -> Value {
        set(v, "/metadata/resourceVersion", json!("100"))
    }

    struct Case {
        name: &'static str,
        group: &'static str,
        kind: &'static str,
        obj: Value,
        /// `Some` for an update from this object.
        old: Option<Value>,
        want: Vec<(&'static str, String)>,
    }

    fn create(
        name: &'static str,
        group: &'static str,
        kind: &'static str,
        obj: Value,
        want: &[(&'static str, &str)],
    ) -> Case {
        Case { name, group, kind, obj, old: None, want: want.iter().map(|(f, m)| (*f, m.to_string())).collect() }
    }

    fn update(
        name: &'static str,
        group: &'static str,
        kind: &'static str,
        old: Value,
        obj: Value,
        want: &[(&'static str, &str)],
    ) -> Case {
        Case { name, group, kind, obj, old: Some(old), want: want.iter().map(|(f, m)| (*f, m.to_string())).collect() }
    }

    /// Runs every case and reports all that differ, each with what it got.
    fn check(cases: Vec<Case>) {
        let mut failures = Vec::new();
        for c in &cases {
            let errs = match &c.old {
                None => validate_create(c.group, c.kind, &c.obj),
                Some(old) => validate_update(c.group, c.kind, &c.obj, old),
            };
            let got: Vec<(String, String)> = errs.iter().map(|e| (e.field.clone(), e.cause_message())).collect();
            let want: Vec<(String, String)> = c.want.iter().map(|(f, m)| (f.to_string(), m.clone())).collect();
            if got != want {
                failures.push(format!("{}:\n  got:  {got:#?}\n  want: {want:#?}", c.name));
            }
        }
        assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    }

    #[test]
    fn valid_objects_from_helm_charts_pass() {
        let mut generated = meta("");
        generated["generateName"] = json!("web-7d4b9c-");
        check(vec![
            create("pod", "", "Pod", pod(), &[]),
            create("pod with generateName", "", "Pod", set(pod(), "/metadata", generated), &[]),
            create("deployment", "apps", "Deployment", deployment(), &[]),
            create(
                "recreate deployment",
                "apps",
                "Deployment",
                set(deployment(), "/spec/strategy", json!({"type": "Recreate"})),
                &[],
            ),
            create("statefulset", "apps", "StatefulSet", stateful_set(), &[]),
            create("daemonset", "apps", "DaemonSet", daemon_set(), &[]),
            create("replicaset", "apps", "ReplicaSet", set(deployment(), "/kind", json!("ReplicaSet")), &[]),
            create("job", "batch", "Job", job(), &[]),
            create("cronjob", "batch", "CronJob", cron_job(), &[]),
            create("cronjob @every", "batch", "CronJob", set(cron_job(), "/spec/schedule", json!("@every 1h30m")), &[]),
            create("service", "", "Service", service(), &[]),
            create("load balancer", "", "Service", load_balancer(), &[]),
            create(
                "headless service",
                "",
                "Service",
                set(
                    set(remove(service(), "/spec/ports"), "/spec/clusterIP", json!("None")),
                    "/spec/clusterIPs",
                    json!(["None"]),
                ),
                &[],
            ),
            create(
                "external name",
                "",
                "Service",
                json!({"metadata": meta("db"),
                "spec": {"type": "ExternalName", "externalName": "db.example.com.", "sessionAffinity": "None"}}),
                &[],
            ),
            create("configmap", "", "ConfigMap", config_map(), &[]),
            create("secret", "", "Secret", secret(), &[]),
            create(
                "opaque secret from stringData",
                "",
                "Secret",
                json!({"metadata": meta("creds"), "type": "Opaque", "stringData": {"password": "hunter2"}}),
                &[],
            ),
            create("ingress", "networking.k8s.io", "Ingress", ingress(), &[]),
            create("pvc", "", "PersistentVolumeClaim", pvc(), &[]),
            create("namespace", "", "Namespace", namespace(), &[]),
            create("node", "", "Node", node(), &[]),
            create("lease", "coordination.k8s.io", "Lease", lease(), &[]),
            create("event", "", "Event", event(), &[]),
            create("service account", "", "ServiceAccount", json!({"metadata": meta("web")}), &[]),
            create("role", "rbac.authorization.k8s.io", "Role", role(), &[]),
            create("cluster role", "rbac.authorization.k8s.io", "ClusterRole", cluster_role(), &[]),
            create("role binding", "rbac.authorization.k8s.io", "RoleBinding", role_binding(), &[]),
            create(
                "cluster role binding",
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                cluster_role_binding(),
                &[],
            ),
            create(
                "custom resource",
                "cert-manager.io",
                "Certificate",
                json!({"metadata": meta("web-cert"), "spec": {"secretName": "web-tls"}}),
                &[],
            ),
            update(
                "deployment image bump",
                "apps",
                "Deployment",
                stored(deployment()),
                set(stored(deployment()), "/spec/template/spec/containers/0/image", json!("nginx:1.28")),
                &[],
            ),
            update(
                "pod image bump and toleration added",
                "",
                "Pod",
                stored(pod()),
                set(
                    set(stored(pod()), "/spec/containers/0/image", json!("nginx:1.28")),
                    "/spec/tolerations/1",
                    json!({"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}),
                ),
                &[],
            ),
            update(
                "statefulset scale",
                "apps",
                "StatefulSet",
                stored(stateful_set()),
                set(stored(stateful_set()), "/spec/replicas", json!(5)),
                &[],
            ),
            update(
                "service unchanged by an old client sending only clusterIP",
                "",
                "Service",
                stored(service()),
                remove(stored(service()), "/spec/clusterIPs"),
                &[],
            ),
            update(
                "pvc resize when bound",
                "",
                "PersistentVolumeClaim",
                set(stored(pvc()), "/status/phase", json!("Bound")),
                set(
                    set(stored(pvc()), "/spec/resources/requests/storage", json!("20Gi")),
                    "/status/phase",
                    json!("Bound"),
                ),
                &[],
            ),
        ]);
    }

    #[test]
    fn object_meta() {
        let long = "a".repeat(64);
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        check(vec![
            create(
                "name required",
                "",
                "ConfigMap",
                remove(config_map(), "/metadata/name"),
                &[("metadata.name", "Required value: name or generateName is required")],
            ),
            create(
                "subdomain name",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/name", json!("Web_1")),
                &[("metadata.name", &format!("Invalid value: \"Web_1\": {SUBDOMAIN}"))],
            ),
            create(
                "generateName prefix",
                "",
                "ConfigMap",
                set(remove(config_map(), "/metadata/name"), "/metadata/generateName", json!("Web-")),
                &[("metadata.generateName", &format!("Invalid value: \"Web-\": {SUBDOMAIN}"))],
            ),
            create(
                "namespace name with dots",
                "",
                "Namespace",
                set(namespace(), "/metadata/name", json!("a.b")),
                &[("metadata.name", "Invalid value: \"a.b\": must not contain dots")],
            ),
            create(
                "namespace name too long",
                "",
                "Namespace",
                set(namespace(), "/metadata/name", json!(long)),
                &[("metadata.name", &format!("Invalid value: \"{long}\": must be no more than 63 characters"))],
            ),
            create(
                "service name is a DNS-1035 label",
                "",
                "Service",
                set(service(), "/metadata/name", json!("1web")),
                &[("metadata.name", &format!("Invalid value: \"1web\": {DNS1035}"))],
            ),
            create(
                "statefulset name is a DNS label",
                "apps",
                "StatefulSet",
                set(stateful_set(), "/metadata/name", json!("db.v1")),
                &[("metadata.name", "Invalid value: \"db.v1\": must not contain dots")],
            ),
            create(
                "rbac names are path segments",
                "rbac.authorization.k8s.io",
                "Role",
                set(role(), "/metadata/name", json!("a/b%")),
                &[
                    ("metadata.name", "Invalid value: \"a/b%\": may not contain '/'"),
                    ("metadata.name", "Invalid value: \"a/b%\": may not contain '%'"),
                ],
            ),
            create(
                "rbac name dot-dot",
                "rbac.authorization.k8s.io",
                "Role",
                set(role(), "/metadata/name", json!("..")),
                &[("metadata.name", "Invalid value: \"..\": may not be '..'")],
            ),
            create(
                "namespace required",
                "",
                "ConfigMap",
                remove(config_map(), "/metadata/namespace"),
                &[("metadata.namespace", "Required value")],
            ),
            create(
                "namespace name",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/namespace", json!("Prod")),
                &[("metadata.namespace", &format!("Invalid value: \"Prod\": {LABEL}"))],
            ),
            create(
                "cluster scoped with namespace",
                "",
                "Namespace",
                set(namespace(), "/metadata/namespace", json!("default")),
                &[("metadata.namespace", "Forbidden: not allowed on this type")],
            ),
            create(
                "label key",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/labels/-bad", json!("x")),
                &[("metadata.labels", &format!("Invalid value: \"-bad\": {NAME_PART}"))],
            ),
            create(
                "label key prefix",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/labels/Example.com~1x", json!("x")),
                &[("metadata.labels", &format!("Invalid value: \"Example.com/x\": prefix part {SUBDOMAIN}"))],
            ),
            create(
                "label key with two slashes",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/labels/a~1b~1c", json!("x")),
                &[(
                    "metadata.labels",
                    "Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                )],
            ),
            create(
                "label key name part too long",
                "",
                "ConfigMap",
                set(config_map(), &format!("/metadata/labels/x.io~1{long}"), json!("x")),
                &[(
                    "metadata.labels",
                    &format!("Invalid value: \"x.io/{long}\": name part must be no more than 63 characters"),
                )],
            ),
            create(
                "label value",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/labels/tier", json!("front end")),
                &[("metadata.labels", &format!("Invalid value: \"front end\": {LABEL_VALUE}"))],
            ),
            create(
                "label value too long",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/labels/tier", json!(long)),
                &[("metadata.labels", &format!("Invalid value: \"{long}\": must be no more than 63 characters"))],
            ),
            create(
                "annotation key",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/annotations/bad key", json!("x")),
                &[("metadata.annotations", &format!("Invalid value: \"bad key\": {NAME_PART}"))],
            ),
            create(
                "annotations total size",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/annotations/big", json!(big)),
                &[("metadata.annotations", "Too long: may not be more than 262144 bytes")],
            ),
            create(
                "finalizer not qualified",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/finalizers", json!(["foo", "example.com/x"])),
                &[(
                    "metadata.finalizers[0]",
                    "Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified",
                )],
            ),
            create(
                "finalizer bad name",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/finalizers", json!(["a b"])),
                &[
                    ("metadata.finalizers", &format!("Invalid value: \"a b\": {NAME_PART}")),
                    (
                        "metadata.finalizers[0]",
                        "Invalid value: \"a b\": name is neither a standard finalizer name nor is it fully qualified",
                    ),
                ],
            ),
            create(
                "conflicting finalizers",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/finalizers", json!(["orphan", "foregroundDeletion"])),
                &[(
                    "metadata.finalizers",
                    "Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set",
                )],
            ),
            create(
                "owner reference fields",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/ownerReferences", json!([{}])),
                &[
                    ("metadata.ownerReferences.apiVersion", "Invalid value: \"\": version must not be empty"),
                    ("metadata.ownerReferences.kind", "Invalid value: \"\": kind must not be empty"),
                    ("metadata.ownerReferences.name", "Invalid value: \"\": name must not be empty"),
                    ("metadata.ownerReferences.uid", "Invalid value: \"\": uid must not be empty"),
                ],
            ),
            create(
                "event owner",
                "",
                "ConfigMap",
                set(
                    config_map(),
                    "/metadata/ownerReferences",
                    json!([{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"}]),
                ),
                &[(
                    "metadata.ownerReferences",
                    "Invalid value: v1.OwnerReference{APIVersion:\"v1\", Kind:\"Event\", Name:\"e\", UID:\"1\", Controller:(*bool)(nil), BlockOwnerDeletion:(*bool)(nil)}: /v1, Kind=Event is disallowed from being an owner",
                )],
            ),
            create(
                "two controllers",
                "",
                "ConfigMap",
                set(
                    config_map(),
                    "/metadata/ownerReferences",
                    json!([
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": true},
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": true}]),
                ),
                &[(
                    "metadata.ownerReferences",
                    "Invalid value: []v1.OwnerReference{v1.OwnerReference{APIVersion:\"apps/v1\", Kind:\"ReplicaSet\", Name:\"a\", UID:\"1\", Controller:(*bool)(0xc000000000), BlockOwnerDeletion:(*bool)(nil)}, v1.OwnerReference{APIVersion:\"apps/v1\", Kind:\"ReplicaSet\", Name:\"b\", UID:\"2\", Controller:(*bool)(0xc000000000), BlockOwnerDeletion:(*bool)(nil)}}: Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/a and ReplicaSet/b",
                )],
            ),
            create(
                "negative generation",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/generation", json!(-1)),
                &[("metadata.generation", "Invalid value: -1: must be greater than or equal to 0")],
            ),
            create(
                "managed fields operation",
                "",
                "ConfigMap",
                set(config_map(), "/metadata/managedFields", json!([{"manager": "kubectl", "operation": "Patch"}])),
                &[("metadata.managedFields[0].operation", "Invalid value: \"Patch\": must be `Apply` or `Update`")],
            ),
            create(
                "custom resource name",
                "example.com",
                "Widget",
                json!({"metadata": {"name": "Big_Widget", "namespace": "default"}}),
                &[("metadata.name", &format!("Invalid value: \"Big_Widget\": {SUBDOMAIN}"))],
            ),
        ]);
    }

    #[test]
    fn object_meta_updates() {
        let old = stored(config_map());
        check(vec![
            update(
                "uid is immutable, reported by the generic and the kind's checks",
                "",
                "ConfigMap",
                old.clone(),
                set(old.clone(), "/metadata/uid", json!("other")),
                &[
                    ("metadata.uid", "Invalid value: \"other\": field is immutable"),
                    ("metadata.uid", "Invalid value: \"other\": field is immutable"),
                ],
            ),
            update(
                "namespace is immutable",
                "",
                "ServiceAccount",
                stored(json!({"metadata": meta("web")})),
                set(stored(json!({"metadata": meta("web")})), "/metadata/namespace", json!("prod")),
                &[
                    ("metadata.namespace", "Invalid value: \"prod\": field is immutable"),
                    ("metadata.namespace", "Invalid value: \"prod\": field is immutable"),
                ],
            ),
            update(
                "creationTimestamp is immutable",
                "",
                "Namespace",
                set(stored(namespace()), "/metadata/creationTimestamp", json!("2025-01-02T03:04:05Z")),
                set(stored(namespace()), "/metadata/creationTimestamp", json!("2025-01-02T05:04:05+02:00")),
                &[],
            ),
            update(
                "creationTimestamp changed",
                "",
                "Namespace",
                set(stored(namespace()), "/metadata/creationTimestamp", json!("2025-01-02T03:04:05Z")),
                set(stored(namespace()), "/metadata/creationTimestamp", json!("2025-01-03T01:00:00+02:00")),
                &[
                    ("metadata.creationTimestamp", "Invalid value: 2025-01-02 23:00:00 +0000 UTC: field is immutable"),
                    ("metadata.creationTimestamp", "Invalid value: 2025-01-02 23:00:00 +0000 UTC: field is immutable"),
                ],
            ),
            update(
                "resourceVersion required",
                "",
                "ConfigMap",
                old.clone(),
                config_map(),
                &[
                    ("metadata.resourceVersion", "Invalid value: \"\": must be specified for an update"),
                    ("metadata.resourceVersion", "Invalid value: \"\": must be specified for an update"),
                ],
            ),
            update(
                "generation not decremented",
                "",
                "ConfigMap",
                set(old.clone(), "/metadata/generation", json!(3)),
                set(old.clone(), "/metadata/generation", json!(2)),
                &[
                    ("metadata.generation", "Invalid value: 2: must not be decremented"),
                    ("metadata.generation", "Invalid value: 2: must not be decremented"),
                ],
            ),
            update(
                "no new finalizers while deleting",
                "",
                "ConfigMap",
                set(old.clone(), "/metadata/deletionTimestamp", json!("2025-01-02T03:04:05Z")),
                set(
                    set(old.clone(), "/metadata/deletionTimestamp", json!("2025-01-02T03:04:05Z")),
                    "/metadata/finalizers",
                    json!(["example.com/x"]),
                ),
                &[
                    (
                        "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/x\"}",
                    ),
                    (
                        "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/x\"}",
                    ),
                ],
            ),
        ]);
        let errs = validate_update("", "ConfigMap", &set(old.clone(), "/metadata/uid", json!("other")), &old);
        assert_eq!(
            invalid_message("ConfigMap", "", "web-config", &errs),
            "ConfigMap \"web-config\" is invalid: metadata.uid: Invalid value: \"other\": field is immutable"
        );
    }

    #[test]
    fn pods() {
        let c = "/spec/containers/0";
        let ctr = |ptr: &str| format!("{c}{ptr}");
        let second = set(container(), "/name", json!("web"));
        let mut env_from = container();
        env_from["envFrom"] = json!([{}, {"prefix": "A=", "configMapRef": {"name": "cfg-"}}]);
        check(vec![
            create(
                "containers required",
                "",
                "Pod",
                set(pod(), "/spec/containers", json!([])),
                &[("spec.containers", "Required value")],
            ),
            create(
                "image required",
                "",
                "Pod",
                remove(pod(), &ctr("/image")),
                &[("spec.containers[0].image", "Required value")],
            ),
            create(
                "image whitespace",
                "",
                "Pod",
                set(pod(), &ctr("/image"), json!(" nginx")),
                &[(
                    "spec.containers[0].image",
                    "Invalid value: \" nginx\": must not have leading or trailing whitespace",
                )],
            ),
            create(
                "container name",
                "",
                "Pod",
                set(pod(), &ctr("/name"), json!("Web")),
                &[("spec.containers[0].name", &format!("Invalid value: \"Web\": {LABEL}"))],
            ),
            create(
                "duplicate container names",
                "",
                "Pod",
                set(pod(), "/spec/containers/1", second),
                &[("spec.containers[1].name", "Duplicate value: \"web\"")],
            ),
            create(
                "container port range",
                "",
                "Pod",
                set(pod(), &ctr("/ports/0/containerPort"), json!(70000)),
                &[(
                    "spec.containers[0].ports[0].containerPort",
                    "Invalid value: 70000: must be between 1 and 65535, inclusive",
                )],
            ),
            create(
                "container port required",
                "",
                "Pod",
                remove(pod(), &ctr("/ports/0/containerPort")),
                &[("spec.containers[0].ports[0].containerPort", "Required value")],
            ),
            create(
                "port name",
                "",
                "Pod",
                set(pod(), &ctr("/ports/0/name"), json!("HTTP")),
                &[
                    (
                        "spec.containers[0].ports[0].name",
                        "Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                    ),
                    (
                        "spec.containers[0].ports[0].name",
                        "Invalid value: \"HTTP\": must contain at least one letter (a-z)",
                    ),
                ],
            ),
            create(
                "port name unique",
                "",
                "Pod",
                set(pod(), &ctr("/ports/1"), json!({"name": "http", "containerPort": 81, "protocol": "TCP"})),
                &[("spec.containers[0].ports[1].name", "Duplicate value: \"http\"")],
            ),
            create(
                "port protocol",
                "",
                "Pod",
                set(pod(), &ctr("/ports/0/protocol"), json!("HTTP")),
                &[(
                    "spec.containers[0].ports[0].protocol",
                    "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                )],
            ),
            create(
                "host port conflict",
                "",
                "Pod",
                set(
                    set(pod(), &ctr("/ports/0/hostPort"), json!(8080)),
                    &ctr("/ports/1"),
                    json!({"containerPort": 81, "hostPort": 8080, "protocol": "TCP"}),
                ),
                &[("spec.containers[0].ports[1].hostPort", "Duplicate value: \"TCP//8080\"")],
            ),
            create(
                "env name",
                "",
                "Pod",
                set(pod(), &ctr("/env/0/name"), json!("A=B")),
                &[(
                    "spec.containers[0].env[0].name",
                    "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                )],
            ),
            create(
                "env name required",
                "",
                "Pod",
                set(pod(), &ctr("/env/0/name"), json!("")),
                &[("spec.containers[0].env[0].name", "Required value")],
            ),
            create(
                "env valueFrom empty",
                "",
                "Pod",
                set(pod(), &ctr("/env/0/valueFrom"), json!({})),
                &[(
                    "spec.containers[0].env[0].valueFrom",
                    "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )],
            ),
            create(
                "env value and valueFrom",
                "",
                "Pod",
                set(pod(), &ctr("/env/0/valueFrom"), json!({"secretKeyRef": {"name": "db", "key": "password"}})),
                &[(
                    "spec.containers[0].env[0].valueFrom",
                    "Invalid value: \"\": may not be specified when `value` is not empty",
                )],
            ),
            create(
                "env secret key",
                "",
                "Pod",
                set(pod(), &ctr("/env/1/valueFrom"), json!({"secretKeyRef": {"name": "", "key": "a b"}})),
                &[
                    (
                        "spec.containers[0].env[1].valueFrom.secretKeyRef.name",
                        &format!("Invalid value: \"\": {SUBDOMAIN}"),
                    ),
                    (
                        "spec.containers[0].env[1].valueFrom.secretKeyRef.key",
                        &format!("Invalid value: \"a b\": {CONFIG_KEY}"),
                    ),
                ],
            ),
            create(
                "env field path",
                "",
                "Pod",
                set(pod(), &ctr("/env/1/valueFrom/fieldRef/fieldPath"), json!("metadata.labels")),
                &[(
                    "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath",
                    "Unsupported value: \"metadata.labels\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
                )],
            ),
            create(
                "env field path unknown",
                "",
                "Pod",
                set(pod(), &ctr("/env/1/valueFrom/fieldRef/fieldPath"), json!("spec.foo")),
                &[(
                    "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath",
                    "Invalid value: \"spec.foo\": error converting fieldPath: field label not supported: spec.foo",
                )],
            ),
            create(
                "envFrom",
                "",
                "Pod",
                set(pod(), c, env_from),
                &[
                    (
                        "spec.containers[0].envFrom",
                        "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
                    ),
                    (
                        "spec.containers[0].envFrom[1].prefix",
                        "Invalid value: \"A=\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                    ),
                ],
            ),
            create(
                "volume mount names a volume",
                "",
                "Pod",
                set(pod(), &ctr("/volumeMounts/0/name"), json!("data")),
                &[("spec.containers[0].volumeMounts[0].name", "Not found: \"data\"")],
            ),
            create(
                "volume mount path unique",
                "",
                "Pod",
                set(pod(), &ctr("/volumeMounts/1"), json!({"name": "cache", "mountPath": "/etc/nginx/conf.d"})),
                &[(
                    "spec.containers[0].volumeMounts[1].mountPath",
                    "Invalid value: \"/etc/nginx/conf.d\": must be unique",
                )],
            ),
            create(
                "volume mount subPath",
                "",
                "Pod",
                set(pod(), &ctr("/volumeMounts/0/subPath"), json!("../x")),
                &[("spec.containers[0].volumeMounts.subPath", "Invalid value: \"../x\": must not contain '..'")],
            ),
            create(
                "volume names unique",
                "",
                "Pod",
                set(pod(), "/spec/volumes/1/name", json!("config")),
                &[("spec.volumes[1].name", "Duplicate value: \"config\"")],
            ),
            create(
                "volume name",
                "",
                "Pod",
                set(pod(), "/spec/volumes/1/name", json!("Cache")),
                &[("spec.volumes[1].name", &format!("Invalid value: \"Cache\": {LABEL}"))],
            ),
            create(
                "volume source required",
                "",
                "Pod",
                set(pod(), "/spec/volumes/1", json!({"name": "cache"})),
                &[("spec.volumes[1]", "Required value: must specify a volume type")],
            ),
            create(
                "one volume source",
                "",
                "Pod",
                set(pod(), "/spec/volumes/1/configMap", json!({"name": "x"})),
                &[("spec.volumes[1].configMap", "Forbidden: may not specify more than 1 volume type")],
            ),
            create(
                "invalid volume is not mountable",
                "",
                "Pod",
                set(pod(), "/spec/volumes/0/configMap/name", json!("")),
                &[
                    ("spec.volumes[0].configMap.name", "Required value"),
                    ("spec.containers[0].volumeMounts[0].name", "Not found: \"config\""),
                ],
            ),
            create(
                "file mode",
                "",
                "Pod",
                set(pod(), "/spec/volumes/0/configMap/defaultMode", json!(1000)),
                &[
                    (
                        "spec.volumes[0].configMap.defaultMode",
                        "Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
                    ),
                    ("spec.containers[0].volumeMounts[0].name", "Not found: \"config\""),
                ],
            ),
            create(
                "emptyDir size",
                "",
                "Pod",
                set(pod(), "/spec/volumes/1/emptyDir/sizeLimit", json!("-1Gi")),
                &[(
                    "spec.volumes[1].emptyDir.sizeLimit",
                    "Forbidden: SizeLimit field must be a valid resource quantity",
                )],
            ),
            create(
                "hostPath type",
                "",
                "Pod",
                set(
                    pod(),
                    "/spec/volumes/1",
                    json!({"name": "cache", "hostPath": {"path": "/var/cache", "type": "Dir"}}),
                ),
                &[(
                    "spec.volumes[1].hostPath.type",
                    "Unsupported value: \"Dir\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"",
                )],
            ),
            create(
                "secret volume item path",
                "",
                "Pod",
                set(
                    pod(),
                    "/spec/volumes/1",
                    json!({"name": "cache", "secret": {"secretName": "s", "items": [{"key": "k", "path": "/abs"}]}}),
                ),
                &[("spec.volumes[1].secret.items[0].path", "Invalid value: \"/abs\": must be a relative path")],
            ),
            create(
                "restartPolicy",
                "",
                "Pod",
                set(pod(), "/spec/restartPolicy", json!("Sometimes")),
                &[(
                    "spec.restartPolicy",
                    "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                )],
            ),
            create(
                "dnsPolicy",
                "",
                "Pod",
                set(pod(), "/spec/dnsPolicy", json!("Google")),
                &[(
                    "spec.dnsPolicy",
                    "Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
                )],
            ),
            create(
                "dnsPolicy None needs dnsConfig",
                "",
                "Pod",
                set(pod(), "/spec/dnsPolicy", json!("None")),
                &[("spec.dnsConfig", "Required value: must provide `dnsConfig` when `dnsPolicy` is None")],
            ),
            create(
                "terminationGracePeriodSeconds defaulted",
                "",
                "Pod",
                remove(pod(), "/spec/terminationGracePeriodSeconds"),
                &[("spec.terminationGracePeriodSeconds", "Required value")],
            ),
            create(
                "requests above limits",
                "",
                "Pod",
                set(pod(), &ctr("/resources/requests/cpu"), json!("1")),
                &[(
                    "spec.containers[0].resources.requests",
                    "Invalid value: \"1\": must be less than or equal to cpu limit of 500m",
                )],
            ),
            create(
                "quantities print canonically",
                "",
                "Pod",
                set(pod(), &ctr("/resources/requests/memory"), json!("0.5Gi")),
                &[(
                    "spec.containers[0].resources.requests",
                    "Invalid value: \"512Mi\": must be less than or equal to memory limit of 256Mi",
                )],
            ),
            create(
                "negative quantity",
                "",
                "Pod",
                set(pod(), &ctr("/resources/requests/cpu"), json!("-0.1")),
                &[(
                    "spec.containers[0].resources.requests[cpu]",
                    "Invalid value: \"-100m\": must be greater than or equal to 0",
                )],
            ),
            create(
                "resource name",
                "",
                "Pod",
                set(pod(), &ctr("/resources/limits/gpu"), json!("1")),
                &[
                    (
                        "spec.containers[0].resources.limits[gpu]",
                        "Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                    ),
                    (
                        "spec.containers[0].resources.limits[gpu]",
                        "Invalid value: \"gpu\": must be a standard resource for containers",
                    ),
                ],
            ),
            create(
                "extended resources need equal limits",
                "",
                "Pod",
                set(pod(), &ctr("/resources/requests/example.com~1gpu"), json!("1")),
                &[(
                    "spec.containers[0].resources.limits",
                    "Required value: Limit must be set for non overcommitable resources",
                )],
            ),
            create(
                "bad quantity",
                "",
                "Pod",
                set(pod(), &ctr("/resources/limits/cpu"), json!("1 core")),
                &[(
                    "spec.containers[0].resources.limits[cpu]",
                    "Invalid value: \"1 core\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )],
            ),
            create(
                "probe handler count",
                "",
                "Pod",
                set(pod(), &ctr("/livenessProbe/tcpSocket"), json!({"port": 80})),
                &[(
                    "spec.containers[0].livenessProbe.tcpSocket",
                    "Forbidden: may not specify more than 1 handler type",
                )],
            ),
            create(
                "probe handler required",
                "",
                "Pod",
                remove(pod(), &ctr("/readinessProbe/tcpSocket")),
                &[("spec.containers[0].readinessProbe", "Required value: must specify a handler type")],
            ),
            create(
                "liveness successThreshold",
                "",
                "Pod",
                set(pod(), &ctr("/livenessProbe/successThreshold"), json!(2)),
                &[("spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1")],
            ),
            create(
                "probe port name",
                "",
                "Pod",
                set(pod(), &ctr("/livenessProbe/httpGet/port"), json!("8080")),
                &[(
                    "spec.containers[0].livenessProbe.httpGet.port",
                    "Invalid value: \"8080\": must contain at least one letter (a-z)",
                )],
            ),
            create(
                "probe negative period",
                "",
                "Pod",
                set(pod(), &ctr("/readinessProbe/periodSeconds"), json!(-1)),
                &[(
                    "spec.containers[0].readinessProbe.periodSeconds",
                    "Invalid value: -1: must be greater than or equal to 0",
                )],
            ),
            create(
                "imagePullPolicy",
                "",
                "Pod",
                set(pod(), &ctr("/imagePullPolicy"), json!("Sometimes")),
                &[(
                    "spec.containers[0].imagePullPolicy",
                    "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                )],
            ),
            create(
                "terminationMessagePolicy defaulted",
                "",
                "Pod",
                remove(pod(), &ctr("/terminationMessagePolicy")),
                &[("spec.containers[0].terminationMessagePolicy", "Required value")],
            ),
            create(
                "runAsUser",
                "",
                "Pod",
                set(pod(), &ctr("/securityContext/runAsUser"), json!(-1)),
                &[(
                    "spec.containers[0].securityContext.runAsUser",
                    "Invalid value: -1: must be between 0 and 2147483647, inclusive",
                )],
            ),
            create(
                "seccomp type",
                "",
                "Pod",
                set(pod(), "/spec/securityContext/seccompProfile", json!({"type": "Localhost"})),
                &[(
                    "spec.securityContext.seccompProfile.localhostProfile",
                    "Required value: must be set when seccomp type is Localhost",
                )],
            ),
            create(
                "toleration operator",
                "",
                "Pod",
                set(pod(), "/spec/tolerations/0", json!({"operator": "Equal", "value": "x"})),
                &[(
                    "spec.tolerations[0].operator",
                    "Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                )],
            ),
            create(
                "toleration effect",
                "",
                "Pod",
                set(pod(), "/spec/tolerations/0/effect", json!("NoRun")),
                &[
                    (
                        "spec.tolerations[0].effect",
                        "Invalid value: \"NoRun\": effect must be 'NoExecute' when `tolerationSeconds` is set",
                    ),
                    (
                        "spec.tolerations[0].effect",
                        "Unsupported value: \"NoRun\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                    ),
                ],
            ),
            create(
                "nodeSelector",
                "",
                "Pod",
                set(pod(), "/spec/nodeSelector", json!({"disk": "fast ssd"})),
                &[("spec.nodeSelector", &format!("Invalid value: \"fast ssd\": {LABEL_VALUE}"))],
            ),
            create(
                "hostname",
                "",
                "Pod",
                set(pod(), "/spec/hostname", json!("Web")),
                &[("spec.hostname", &format!("Invalid value: \"Web\": {LABEL}"))],
            ),
            create(
                "activeDeadlineSeconds",
                "",
                "Pod",
                set(pod(), "/spec/activeDeadlineSeconds", json!(0)),
                &[("spec.activeDeadlineSeconds", "Invalid value: 0: must be between 1 and 2147483647, inclusive")],
            ),
            create(
                "topologyKey",
                "",
                "Pod",
                set(
                    pod(),
                    "/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/podAffinityTerm/topologyKey",
                    json!(""),
                ),
                &[
                    (
                        "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey",
                        "Required value: can not be empty",
                    ),
                    (
                        "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey",
                        "Invalid value: \"\": name part must be non-empty",
                    ),
                    (
                        "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey",
                        &format!("Invalid value: \"\": {NAME_PART}"),
                    ),
                ],
            ),
            create(
                "affinity weight",
                "",
                "Pod",
                set(
                    pod(),
                    "/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/weight",
                    json!(0),
                ),
                &[(
                    "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
                    "Invalid value: 0: must be in the range 1-100",
                )],
            ),
            create(
                "label selector operator",
                "",
                "Pod",
                set(
                    pod(),
                    "/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/podAffinityTerm/labelSelector",
                    json!({"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["web"]}]}),
                ),
                &[(
                    "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchExpressions[0].operator",
                    "Invalid value: \"Equals\": not a valid selector operator",
                )],
            ),
            create(
                "pod deletion cost",
                "",
                "Pod",
                set(pod(), "/metadata/annotations/controller.kubernetes.io~1pod-deletion-cost", json!("high")),
                &[(
                    "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]",
                    "Invalid value: \"high\": must be a 32bit integer",
                )],
            ),
            create(
                "ephemeral containers on create",
                "",
                "Pod",
                set(
                    pod(),
                    "/spec/ephemeralContainers",
                    json!([{"name": "debug", "image": "busybox", "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}]),
                ),
                &[("spec.ephemeralContainers", "Forbidden: cannot be set on create")],
            ),
            create(
                "wrong JSON type",
                "",
                "Pod",
                set(pod(), &ctr("/image"), json!(5)),
                &[
                    ("spec.containers[0].image", "Invalid value: 5: expected string"),
                    ("spec.containers[0].image", "Required value"),
                ],
            ),
        ]);
    }

    #[test]
    fn pod_updates() {
        let old = stored(pod());
        check(vec![
            update(
                "only some pod fields are mutable",
                "",
                "Pod",
                old.clone(),
                set(old.clone(), "/spec/containers/0/name", json!("app")),
                &[(
                    "spec",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n- \tspec.containers[0].name: \"web\"\n+ \tspec.containers[0].name: \"app\"",
                )],
            ),
            update(
                "containers may not be added",
                "",
                "Pod",
                old.clone(),
                set(old.clone(), "/spec/containers/1", set(container(), "/name", json!("sidecar"))),
                &[("spec.containers", "Forbidden: pod updates may not add or remove containers")],
            ),
            update(
                "activeDeadlineSeconds only shrinks",
                "",
                "Pod",
                set(old.clone(), "/spec/activeDeadlineSeconds", json!(60)),
                set(old.clone(), "/spec/activeDeadlineSeconds", json!(120)),
                &[("spec.activeDeadlineSeconds", "Invalid value: 120: must be less than or equal to previous value")],
            ),
            update(
                "tolerations only added",
                "",
                "Pod",
                old.clone(),
                set(old.clone(), "/spec/tolerations/0/effect", json!("NoSchedule")),
                &[
                    (
                        "spec.tolerations[0].effect",
                        "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
                    ),
                    (
                        "spec.tolerations",
                        "Forbidden: existing toleration can not be modified except its tolerationSeconds",
                    ),
                ],
            ),
        ]);
    }

    #[test]
    fn workloads() {
        check(vec![
            create(
                "deployment template image",
                "apps",
                "Deployment",
                remove(deployment(), "/spec/template/spec/containers/0/image"),
                &[("spec.template.spec.containers[0].image", "Required value")],
            ),
            create(
                "deployment selector required",
                "apps",
                "Deployment",
                remove(deployment(), "/spec/selector"),
                &[
                    ("spec.selector", "Required value"),
                    (
                        "spec.template.metadata.labels",
                        "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                    ),
                ],
            ),
            create(
                "deployment selector matches template",
                "apps",
                "Deployment",
                set(deployment(), "/spec/selector/matchLabels/app", json!("api")),
                &[(
                    "spec.template.metadata.labels",
                    "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                )],
            ),
            create(
                "deployment selector expressions",
                "apps",
                "Deployment",
                set(deployment(), "/spec/selector", json!({"matchExpressions": [{"key": "app", "operator": "In"}]})),
                &[
                    (
                        "spec.selector.matchExpressions[0].values",
                        "Required value: must be specified when `operator` is 'In' or 'NotIn'",
                    ),
                    (
                        "spec.selector",
                        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"In\", Values:[]string(nil)}}}: invalid label selector",
                    ),
                ],
            ),
            create(
                "deployment empty selector",
                "apps",
                "Deployment",
                set(deployment(), "/spec/selector", json!({})),
                &[(
                    "spec.selector",
                    "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
                )],
            ),
            create(
                "deployment replicas",
                "apps",
                "Deployment",
                set(deployment(), "/spec/replicas", json!(-1)),
                &[("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")],
            ),
            create(
                "deployment strategy type",
                "apps",
                "Deployment",
                set(deployment(), "/spec/strategy", json!({"type": "BlueGreen"})),
                &[(
                    "spec.strategy",
                    "Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\"",
                )],
            ),
            create(
                "deployment surge and unavailable both zero",
                "apps",
                "Deployment",
                set(deployment(), "/spec/strategy/rollingUpdate", json!({"maxUnavailable": 0, "maxSurge": "0%"})),
                &[(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
                )],
            ),
            create(
                "deployment maxUnavailable percent",
                "apps",
                "Deployment",
                set(deployment(), "/spec/strategy/rollingUpdate/maxUnavailable", json!("150%")),
                &[(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%",
                )],
            ),
            create(
                "deployment maxSurge format",
                "apps",
                "Deployment",
                set(deployment(), "/spec/strategy/rollingUpdate/maxSurge", json!("a lot")),
                &[(
                    "spec.strategy.rollingUpdate.maxSurge",
                    "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"a lot\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                )],
            ),
            create(
                "recreate with rollingUpdate",
                "apps",
                "Deployment",
                set(deployment(), "/spec/strategy/type", json!("Recreate")),
                &[(
                    "spec.strategy.rollingUpdate",
                    "Forbidden: may not be specified when strategy `type` is 'Recreate'",
                )],
            ),
            create(
                "deployment template restartPolicy",
                "apps",
                "Deployment",
                set(deployment(), "/spec/template/spec/restartPolicy", json!("Never")),
                &[("spec.template.spec.restartPolicy", "Unsupported value: \"Never\": supported values: \"Always\"")],
            ),
            create(
                "deployment template labels",
                "apps",
                "Deployment",
                set(deployment(), "/spec/template/metadata/labels/bad key", json!("x")),
                &[("spec.template.labels", &format!("Invalid value: \"bad key\": {NAME_PART}"))],
            ),
            create(
                "progressDeadlineSeconds",
                "apps",
                "Deployment",
                set(deployment(), "/spec/minReadySeconds", json!(600)),
                &[("spec.progressDeadlineSeconds", "Invalid value: 600: must be greater than minReadySeconds")],
            ),
            create(
                "replicaset empty selector",
                "apps",
                "ReplicaSet",
                set(set(deployment(), "/kind", json!("ReplicaSet")), "/spec/selector", json!({"matchLabels": {}})),
                &[(
                    "spec.selector",
                    "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
                )],
            ),
            create(
                "statefulset pod management policy",
                "apps",
                "StatefulSet",
                set(stateful_set(), "/spec/podManagementPolicy", json!("Random")),
                &[("spec.podManagementPolicy", "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'")],
            ),
            create(
                "statefulset selector required",
                "apps",
                "StatefulSet",
                remove(stateful_set(), "/spec/selector"),
                &[
                    ("spec.selector", "Required value"),
                    (
                        "spec.template.metadata.labels",
                        "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                    ),
                ],
            ),
            create(
                "statefulset partition",
                "apps",
                "StatefulSet",
                set(stateful_set(), "/spec/updateStrategy/rollingUpdate/partition", json!(-1)),
                &[(
                    "spec.updateStrategy.rollingUpdate.partition",
                    "Invalid value: -1: must be greater than or equal to 0",
                )],
            ),
            create(
                "statefulset pod spec is not validated upstream",
                "apps",
                "StatefulSet",
                remove(stateful_set(), "/spec/template/spec/containers/0/image"),
                &[],
            ),
            create(
                "daemonset selector",
                "apps",
                "DaemonSet",
                set(daemon_set(), "/spec/selector/matchLabels/app", json!("other")),
                &[(
                    "spec.template.metadata.labels",
                    "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                )],
            ),
            create(
                "daemonset rolling update",
                "apps",
                "DaemonSet",
                set(daemon_set(), "/spec/updateStrategy/rollingUpdate/maxUnavailable", json!(0)),
                &[(
                    "spec.updateStrategy.rollingUpdate.maxUnavailable",
                    "Required value: cannot be 0 when maxSurge is 0",
                )],
            ),
            create(
                "daemonset strategy",
                "apps",
                "DaemonSet",
                set(daemon_set(), "/spec/updateStrategy", json!({"type": "Canary"})),
                &[(
                    "spec.updateStrategy",
                    "Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Canary\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\"",
                )],
            ),
            update(
                "deployment selector is immutable",
                "apps",
                "Deployment",
                stored(deployment()),
                set(
                    set(stored(deployment()), "/spec/selector/matchLabels/app", json!("web2")),
                    "/spec/template/metadata/labels/app",
                    json!("web2"),
                ),
                &[(
                    "spec.selector",
                    "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
                )],
            ),
            update(
                "statefulset volumeClaimTemplates are immutable",
                "apps",
                "StatefulSet",
                stored(stateful_set()),
                set(
                    stored(stateful_set()),
                    "/spec/volumeClaimTemplates/0/spec/resources/requests/storage",
                    json!("16Gi"),
                ),
                &[(
                    "spec",
                    "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )],
            ),
            update(
                "daemonset selector is immutable",
                "apps",
                "DaemonSet",
                stored(daemon_set()),
                set(stored(daemon_set()), "/spec/selector/matchLabels/tier", json!("x")),
                &[
                    (
                        "spec.template.metadata.labels",
                        "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                    ),
                    (
                        "spec.selector",
                        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
                    ),
                ],
            ),
        ]);
        let errs =
            validate_create("apps", "Deployment", &remove(deployment(), "/spec/template/spec/containers/0/image"));
        assert_eq!(
            invalid_message("Deployment", "apps", "web", &errs),
            "Deployment.apps \"web\" is invalid: spec.template.spec.containers[0].image: Required value"
        );
        let errs = validate_create("apps", "Deployment", &remove(deployment(), "/spec/selector"));
        assert_eq!(
            invalid_message("Deployment", "apps", "web", &errs),
            "Deployment.apps \"web\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`]"
        );
        assert_eq!(
            errs.iter().map(FieldError::reason).collect::<Vec<_>>(),
            ["FieldValueRequired", "FieldValueInvalid"]
        );
    }

    #[test]
    fn jobs() {
        let too_long = "a".repeat(53);
        check(vec![
            create(
                "job restartPolicy",
                "batch",
                "Job",
                set(job(), "/spec/template/spec/restartPolicy", json!("Always")),
                &[("spec.template.spec.restartPolicy", "Required value: valid values: \"OnFailure\", \"Never\"")],
            ),
            create(
                "job restartPolicy value",
                "batch",
                "Job",
                set(job(), "/spec/template/spec/restartPolicy", json!("Sometimes")),
                &[
                    (
                        "spec.template.spec.restartPolicy",
                        "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                    ),
                    (
                        "spec.template.spec.restartPolicy",
                        "Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"",
                    ),
                ],
            ),
            create(
                "job parallelism",
                "batch",
                "Job",
                set(set(job(), "/spec/parallelism", json!(-1)), "/spec/completions", json!(-2)),
                &[
                    ("spec.parallelism", "Invalid value: -1: must be greater than or equal to 0"),
                    ("spec.completions", "Invalid value: -2: must be greater than or equal to 0"),
                ],
            ),
            create(
                "job selector required",
                "batch",
                "Job",
                remove(job(), "/spec/selector"),
                &[
                    ("spec.selector", "Required value"),
                    (
                        "spec.template.metadata.labels",
                        "Invalid value: map[string]string{\"app\":\"web\", \"batch.kubernetes.io/controller-uid\":\"5f4d2b6e-1c1a-4bd1-9d6c-6f1a0a1b2c3d\", \"batch.kubernetes.io/job-name\":\"migrate\", \"controller-uid\":\"5f4d2b6e-1c1a-4bd1-9d6c-6f1a0a1b2c3d\", \"job-name\":\"migrate\"}: `selector` does not match template `labels`",
                    ),
                ],
            ),
            create(
                "job generated labels",
                "batch",
                "Job",
                remove(job(), "/spec/template/metadata/labels/job-name"),
                &[("spec.template.metadata.labels[job-name]", "Required value: must be 'migrate'")],
            ),
            create(
                "job selector generated",
                "batch",
                "Job",
                set(job(), "/spec/selector/matchLabels/batch.kubernetes.io~1controller-uid", json!("other")),
                &[
                    (
                        "spec.selector",
                        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":\"other\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated",
                    ),
                    (
                        "spec.template.metadata.labels",
                        "Invalid value: map[string]string{\"app\":\"web\", \"batch.kubernetes.io/controller-uid\":\"5f4d2b6e-1c1a-4bd1-9d6c-6f1a0a1b2c3d\", \"batch.kubernetes.io/job-name\":\"migrate\", \"controller-uid\":\"5f4d2b6e-1c1a-4bd1-9d6c-6f1a0a1b2c3d\", \"job-name\":\"migrate\"}: `selector` does not match template `labels`",
                    ),
                ],
            ),
            create(
                "indexed job needs completions",
                "batch",
                "Job",
                remove(set(job(), "/spec/completionMode", json!("Indexed")), "/spec/completions"),
                &[("spec.completions", "Required value: when completion mode is Indexed")],
            ),
            create(
                "cronjob schedule fields",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/schedule", json!("* * *")),
                &[("spec.schedule", "Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]")],
            ),
            create(
                "cronjob schedule range",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/schedule", json!("61 * * * *")),
                &[("spec.schedule", "Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61")],
            ),
            create(
                "cronjob schedule name",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/schedule", json!("0 0 * foo *")),
                &[(
                    "spec.schedule",
                    "Invalid value: \"0 0 * foo *\": failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax",
                )],
            ),
            create(
                "cronjob schedule descriptor",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/schedule", json!("@fortnightly")),
                &[("spec.schedule", "Invalid value: \"@fortnightly\": unrecognized descriptor: @fortnightly")],
            ),
            create(
                "cronjob every",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/schedule", json!("@every 5x")),
                &[(
                    "spec.schedule",
                    "Invalid value: \"@every 5x\": failed to parse duration @every 5x: time: unknown unit \"x\" in duration \"5x\"",
                )],
            ),
            create(
                "cronjob TZ in schedule",
                "batch",
                "CronJob",
                set(remove(cron_job(), "/spec/timeZone"), "/spec/schedule", json!("TZ=UTC 0 * * * *")),
                &[(
                    "spec.schedule",
                    "Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )],
            ),
            create(
                "cronjob timeZone Local",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/timeZone", json!("Local")),
                &[(
                    "spec.timeZone",
                    "Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
                )],
            ),
            create(
                "cronjob timeZone characters",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/timeZone", json!("Europe/../x")),
                &[("spec.timeZone", "Invalid value: \"Europe/../x\": unknown time zone Europe/../x")],
            ),
            create(
                "cronjob timeZone empty",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/timeZone", json!("")),
                &[("spec.timeZone", "Invalid value: \"\": timeZone must be nil or non-empty string")],
            ),
            create(
                "cronjob concurrencyPolicy",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/concurrencyPolicy", json!("Sometimes")),
                &[(
                    "spec.concurrencyPolicy",
                    "Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
                )],
            ),
            create(
                "cronjob name length",
                "batch",
                "CronJob",
                set(cron_job(), "/metadata/name", json!(too_long)),
                &[("metadata.name", &format!("Invalid value: \"{too_long}\": must be no more than 52 characters"))],
            ),
            create(
                "cronjob template restartPolicy",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/jobTemplate/spec/template/spec/restartPolicy", json!("Always")),
                &[(
                    "spec.jobTemplate.spec.template.spec.restartPolicy",
                    "Required value: valid values: \"OnFailure\", \"Never\"",
                )],
            ),
            create(
                "cronjob template selector",
                "batch",
                "CronJob",
                set(cron_job(), "/spec/jobTemplate/spec/selector", json!({"matchLabels": {"a": "b"}})),
                &[(
                    "spec.jobTemplate.spec.selector",
                    "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated",
                )],
            ),
            update(
                "job selector is immutable",
                "batch",
                "Job",
                stored(job()),
                set(stored(job()), "/spec/selector/matchLabels/extra", json!("x")),
                &[
                    (
                        "spec.template.metadata.labels",
                        "Invalid value: map[string]string{\"app\":\"web\", \"batch.kubernetes.io/controller-uid\":\"5f4d2b6e-1c1a-4bd1-9d6c-6f1a0a1b2c3d\", \"batch.kubernetes.io/job-name\":\"migrate\", \"controller-uid\":\"5f4d2b6e-1c1a-4bd1-9d6c-6f1a0a1b2c3d\", \"job-name\":\"migrate\"}: `selector` does not match template `labels`",
                    ),
                    (
                        "spec.selector",
                        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":\"5f4d2b6e-1c1a-4bd1-9d6c-6f1a0a1b2c3d\", \"extra\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
                    ),
                ],
            ),
            update(
                "job completions are immutable",
                "batch",
                "Job",
                stored(job()),
                set(stored(job()), "/spec/completions", json!(3)),
                &[("spec.completions", "Invalid value: 3: field is immutable")],
            ),
        ]);
        if std::path::Path::new("/usr/share/zoneinfo/America/New_York").is_file() {
            check(vec![
                create(
                    "cronjob known timeZone",
                    "batch",
                    "CronJob",
                    set(cron_job(), "/spec/timeZone", json!("America/New_York")),
                    &[],
                ),
                create(
                    "cronjob unknown timeZone",
                    "batch",
                    "CronJob",
                    set(cron_job(), "/spec/timeZone", json!("Mars/Olympus")),
                    &[("spec.timeZone", "Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus")],
                ),
            ]);
        }
    }

    #[test]
    fn services() {
        let two_unnamed = set(set(service(), "/spec/ports/0/name", json!("")), "/spec/ports/1/name", json!(""));
        check(vec![
            create(
                "ports required",
                "",
                "Service",
                set(service(), "/spec/ports", json!([])),
                &[("spec.ports", "Required value")],
            ),
            create(
                "port range",
                "",
                "Service",
                set(service(), "/spec/ports/0/port", json!(0)),
                &[("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive")],
            ),
            create(
                "port names required with several ports",
                "",
                "Service",
                two_unnamed,
                &[("spec.ports[0].name", "Required value"), ("spec.ports[1].name", "Required value")],
            ),
            create(
                "port names unique",
                "",
                "Service",
                set(service(), "/spec/ports/1/name", json!("http")),
                &[("spec.ports[1].name", "Duplicate value: \"http\"")],
            ),
            create(
                "port name is a DNS label",
                "",
                "Service",
                set(service(), "/spec/ports/1/name", json!("Metrics")),
                &[("spec.ports[1].name", &format!("Invalid value: \"Metrics\": {LABEL}"))],
            ),
            create(
                "duplicate port",
                "",
                "Service",
                set(service(), "/spec/ports/1/port", json!(80)),
                &[(
                    "spec.ports[1]",
                    "Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
                )],
            ),
            create(
                "protocol",
                "",
                "Service",
                set(service(), "/spec/ports/0/protocol", json!("tcp")),
                &[(
                    "spec.ports[0].protocol",
                    "Unsupported value: \"tcp\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                )],
            ),
            create(
                "targetPort",
                "",
                "Service",
                set(service(), "/spec/ports/1/targetPort", json!(0)),
                &[("spec.ports[1].targetPort", "Invalid value: 0: must be between 1 and 65535, inclusive")],
            ),
            create(
                "type",
                "",
                "Service",
                set(service(), "/spec/type", json!("Internal")),
                &[(
                    "spec.type",
                    "Unsupported value: \"Internal\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                )],
            ),
            create(
                "nodePort on ClusterIP",
                "",
                "Service",
                set(service(), "/spec/ports/0/nodePort", json!(30080)),
                &[("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")],
            ),
            create(
                "externalName required",
                "",
                "Service",
                json!({"metadata": meta("db"), "spec": {"type": "ExternalName", "sessionAffinity": "None"}}),
                &[("spec.externalName", "Required value")],
            ),
            create(
                "sessionAffinity",
                "",
                "Service",
                set(service(), "/spec/sessionAffinity", json!("Cookie")),
                &[("spec.sessionAffinity", "Unsupported value: \"Cookie\": supported values: \"ClientIP\", \"None\"")],
            ),
            create(
                "clusterIP",
                "",
                "Service",
                set(
                    set(service(), "/spec/clusterIP", json!("10.43.0.300")),
                    "/spec/clusterIPs",
                    json!(["10.43.0.300"]),
                ),
                &[(
                    "spec.clusterIPs[0]",
                    "Invalid value: \"10.43.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )],
            ),
            create(
                "clusterIPs match clusterIP",
                "",
                "Service",
                set(service(), "/spec/clusterIPs", json!(["10.43.0.21"])),
                &[("spec.clusterIPs", "Invalid value: []string{\"10.43.0.21\"}: first value must match `clusterIP`")],
            ),
            create(
                "externalTrafficPolicy for ClusterIP",
                "",
                "Service",
                set(service(), "/spec/externalTrafficPolicy", json!("Local")),
                &[(
                    "spec.externalTrafficPolicy",
                    "Invalid value: \"Local\": may only be set for externally-accessible services",
                )],
            ),
            create(
                "healthCheckNodePort",
                "",
                "Service",
                remove(load_balancer(), "/spec/healthCheckNodePort"),
                &[("spec.healthCheckNodePort", "Required value")],
            ),
            create(
                "session affinity timeout",
                "",
                "Service",
                set(load_balancer(), "/spec/sessionAffinityConfig/clientIP/timeoutSeconds", json!(0)),
                &[(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    "Invalid value: 0: must be greater than 0 and less than 86400",
                )],
            ),
            create(
                "allocateLoadBalancerNodePorts",
                "",
                "Service",
                remove(load_balancer(), "/spec/allocateLoadBalancerNodePorts"),
                &[("allocateLoadBalancerNodePorts", "Required value")],
            ),
            create(
                "externalIPs",
                "",
                "Service",
                set(service(), "/spec/externalIPs", json!(["127.0.0.1"])),
                &[
                    (
                        "spec.externalIPs[0]",
                        "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                    ),
                    ("spec.externalTrafficPolicy", "Required value"),
                ],
            ),
            update(
                "clusterIP is immutable",
                "",
                "Service",
                stored(service()),
                set(
                    set(stored(service()), "/spec/clusterIP", json!("10.43.0.99")),
                    "/spec/clusterIPs",
                    json!(["10.43.0.99"]),
                ),
                &[("spec.clusterIPs[0]", "Invalid value: []string{\"10.43.0.99\"}: may not change once set")],
            ),
            update(
                "clusterIP changed by an old client",
                "",
                "Service",
                stored(service()),
                set(stored(service()), "/spec/clusterIP", json!("10.43.0.99")),
                &[("spec.clusterIPs[0]", "Invalid value: []string{\"10.43.0.99\"}: may not change once set")],
            ),
        ]);
    }

    #[test]
    fn config_and_secrets() {
        let big = "x".repeat(MAX_SECRET_SIZE);
        check(vec![
            create(
                "configmap key",
                "",
                "ConfigMap",
                set(config_map(), "/data/a b", json!("x")),
                &[("data[a b]", &format!("Invalid value: \"a b\": {CONFIG_KEY}"))],
            ),
            create(
                "configmap key dot-dot",
                "",
                "ConfigMap",
                set(config_map(), "/data/..", json!("x")),
                &[("data[..]", "Invalid value: \"..\": must not be '..'")],
            ),
            create(
                "configmap duplicate key",
                "",
                "ConfigMap",
                set(config_map(), "/data/logo.png", json!("x")),
                &[("data[logo.png]", "Invalid value: \"logo.png\": duplicate of key present in binaryData")],
            ),
            create(
                "configmap size",
                "",
                "ConfigMap",
                set(config_map(), "/data/big", json!(big)),
                &[("[]", "Too long: may not be more than 1048576 bytes")],
            ),
            create(
                "secret size",
                "",
                "Secret",
                set(secret(), "/stringData/big", json!(big)),
                &[("data", "Too long: may not be more than 1048576 bytes")],
            ),
            create(
                "tls secret keys",
                "",
                "Secret",
                remove(secret(), "/data/tls.key"),
                &[("data[tls.key]", "Required value")],
            ),
            create(
                "secret base64",
                "",
                "Secret",
                set(secret(), "/data/tls.key", json!("a2V5!")),
                &[
                    ("data[tls.key]", "Invalid value: \"a2V5!\": illegal base64 data at input byte 4"),
                    ("data[tls.key]", "Required value"),
                ],
            ),
            create(
                "dockerconfigjson",
                "",
                "Secret",
                json!({"metadata": meta("pull"), "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "e30K"}}),
                &[],
            ),
            create(
                "dockerconfigjson must be JSON",
                "",
                "Secret",
                json!({"metadata": meta("pull"), "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "eHl6"}}),
                &[(
                    "data[.dockerconfigjson]",
                    "Invalid value: \"<secret contents redacted>\": invalid character 'x' looking for beginning of value",
                )],
            ),
            update(
                "immutable configmap",
                "",
                "ConfigMap",
                set(stored(config_map()), "/immutable", json!(true)),
                set(set(stored(config_map()), "/immutable", json!(true)), "/data/LOG_LEVEL", json!("debug")),
                &[("data", "Forbidden: field is immutable when `immutable` is set")],
            ),
            update(
                "immutable flag stays",
                "",
                "Secret",
                set(stored(secret()), "/immutable", json!(true)),
                stored(secret()),
                &[("immutable", "Forbidden: field is immutable when `immutable` is set")],
            ),
            update(
                "secret type is immutable",
                "",
                "Secret",
                set(stored(secret()), "/type", json!("Opaque")),
                stored(secret()),
                &[("type", "Invalid value: \"kubernetes.io/tls\": field is immutable")],
            ),
        ]);
    }

    #[test]
    fn cluster_and_other_kinds() {
        check(vec![
            create(
                "namespace finalizer",
                "",
                "Namespace",
                set(namespace(), "/spec/finalizers", json!(["foo"])),
                &[(
                    "spec.finalizers",
                    "Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified",
                )],
            ),
            create(
                "node taint effect",
                "",
                "Node",
                set(node(), "/spec/taints/0/effect", json!("Never")),
                &[(
                    "metadata.taints[0].effect",
                    "Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                )],
            ),
            create(
                "node taints unique",
                "",
                "Node",
                set(
                    node(),
                    "/spec/taints/1",
                    json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}),
                ),
                &[(
                    "metadata.taints[1]",
                    "Duplicate value: core.Taint{Key:\"node-role.kubernetes.io/control-plane\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
                )],
            ),
            create(
                "node capacity",
                "",
                "Node",
                set(node(), "/status/capacity/pods", json!("-1")),
                &[("status.capacity.pods", "Invalid value: \"-1\": must be greater than or equal to 0")],
            ),
            create(
                "lease duration",
                "coordination.k8s.io",
                "Lease",
                set(lease(), "/spec/leaseDurationSeconds", json!(0)),
                &[("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0")],
            ),
            create(
                "lease transitions",
                "coordination.k8s.io",
                "Lease",
                set(lease(), "/spec/leaseTransitions", json!(-1)),
                &[("spec.leaseTransitions", "Invalid value: -1: must be greater than or equal to 0")],
            ),
            create(
                "event namespace",
                "",
                "Event",
                set(event(), "/involvedObject/namespace", json!("other")),
                &[("involvedObject.namespace", "Invalid value: \"other\": does not match event.namespace")],
            ),
            create(
                "event name is a path segment",
                "",
                "Event",
                set(event(), "/metadata/name", json!("a/b")),
                &[("metadata.name", "Invalid value: \"a/b\": may not contain '/'")],
            ),
            create(
                "ingress rules or backend",
                "networking.k8s.io",
                "Ingress",
                json!({"metadata": meta("web"), "spec": {}}),
                &[(
                    "spec",
                    "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
                )],
            ),
            create(
                "ingress pathType",
                "networking.k8s.io",
                "Ingress",
                remove(ingress(), "/spec/rules/0/http/paths/0/pathType"),
                &[("spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified")],
            ),
            create(
                "ingress path",
                "networking.k8s.io",
                "Ingress",
                set(ingress(), "/spec/rules/0/http/paths/0/path", json!("api//v1")),
                &[
                    ("spec.rules[0].http.paths[0].path", "Invalid value: \"api//v1\": must be an absolute path"),
                    ("spec.rules[0].http.paths[0].path", "Invalid value: \"api//v1\": must not contain '//'"),
                ],
            ),
            create(
                "ingress host",
                "networking.k8s.io",
                "Ingress",
                set(ingress(), "/spec/rules/0/host", json!("10.0.0.1")),
                &[("spec.rules[0].host", "Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address")],
            ),
            create(
                "ingress backend port",
                "networking.k8s.io",
                "Ingress",
                set(ingress(), "/spec/rules/0/http/paths/1/backend/service/port", json!({})),
                &[("spec.rules[0].http.paths[1].backend", "Required value: port name or number is required")],
            ),
            create(
                "ingress class annotation and field",
                "networking.k8s.io",
                "Ingress",
                set(ingress(), "/metadata/annotations/kubernetes.io~1ingress.class", json!("traefik")),
                &[(
                    "annotations.kubernetes.io/ingress.class",
                    "Invalid value: \"traefik\": can not be set when the class field is also set",
                )],
            ),
            create(
                "role verbs",
                "rbac.authorization.k8s.io",
                "Role",
                set(role(), "/rules/0/verbs", json!([])),
                &[("rules[0].verbs", "Required value: verbs must contain at least one value")],
            ),
            create(
                "role non-resource URLs",
                "rbac.authorization.k8s.io",
                "Role",
                set(role(), "/rules/0/nonResourceURLs", json!(["/healthz"])),
                &[
                    (
                        "rules[0].nonResourceURLs",
                        "Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
                    ),
                    (
                        "rules[0].nonResourceURLs",
                        "Invalid value: []string{\"/healthz\"}: rules cannot apply to both regular resources and non-resource URLs",
                    ),
                ],
            ),
            create(
                "roleRef kind",
                "rbac.authorization.k8s.io",
                "RoleBinding",
                set(role_binding(), "/roleRef/kind", json!("Policy")),
                &[("roleRef.kind", "Unsupported value: \"Policy\": supported values: \"Role\", \"ClusterRole\"")],
            ),
            create(
                "cluster role binding subject namespace",
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                remove(cluster_role_binding(), "/subjects/0/namespace"),
                &[("subjects[0].namespace", "Required value")],
            ),
            create(
                "subject kind",
                "rbac.authorization.k8s.io",
                "RoleBinding",
                set(role_binding(), "/subjects/1/kind", json!("Robot")),
                &[(
                    "subjects[1].kind",
                    "Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                )],
            ),
            update(
                "roleRef is immutable",
                "rbac.authorization.k8s.io",
                "RoleBinding",
                stored(role_binding()),
                set(stored(role_binding()), "/roleRef/name", json!("admin")),
                &[(
                    "roleRef",
                    "Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"admin\"}: cannot change roleRef",
                )],
            ),
            create(
                "pvc access modes",
                "",
                "PersistentVolumeClaim",
                set(pvc(), "/spec/accessModes", json!([])),
                &[("spec.accessModes", "Required value: at least 1 access mode is required")],
            ),
            create(
                "pvc access mode value",
                "",
                "PersistentVolumeClaim",
                set(pvc(), "/spec/accessModes", json!(["ReadWriteOncePod", "ReadWriteOnce"])),
                &[("spec.accessModes", "Forbidden: may not use ReadWriteOncePod with other access modes")],
            ),
            create(
                "pvc storage request",
                "",
                "PersistentVolumeClaim",
                remove(pvc(), "/spec/resources/requests/storage"),
                &[("spec.resources[storage]", "Required value")],
            ),
            create(
                "pvc storage positive",
                "",
                "PersistentVolumeClaim",
                set(pvc(), "/spec/resources/requests/storage", json!("0")),
                &[("spec.resources[storage]", "Invalid value: \"0\": must be greater than zero")],
            ),
            update(
                "pvc spec is immutable",
                "",
                "PersistentVolumeClaim",
                stored(pvc()),
                set(stored(pvc()), "/spec/storageClassName", json!("longhorn")),
                &[(
                    "spec",
                    "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n- \tspec.storageClassName: \"local-path\"\n+ \tspec.storageClassName: \"longhorn\"",
                )],
            ),
        ]);
    }

    #[test]
    fn messages_and_formats() {
        let errs = vec![
            FieldError::required("spec.containers[0].image", ""),
            FieldError::invalid("metadata.name", json!("x"), "bad"),
            FieldError::required("spec.containers[0].image", ""),
        ];
        assert_eq!(
            invalid_message("Pod", "", "x", &errs),
            "Pod \"x\" is invalid: [spec.containers[0].image: Required value, metadata.name: Invalid value: \"x\": bad]"
        );
        assert_eq!(invalid_message("Pod", "", "we\"ird", &[]), "Pod \"we\\\"ird\" is invalid");
        assert_eq!(FieldError::too_long("data", 63).cause_message(), "Too long: may not be more than 63 bytes");
        assert_eq!(FieldError::too_many("rules", 21, 20).cause_message(), "Too many: 21: must have at most 20 items");
        assert_eq!(
            FieldError::not_supported("f", json!("x"), &["a", "b"]).cause_message(),
            "Unsupported value: \"x\": supported values: \"a\", \"b\""
        );
        assert_eq!(FieldError::duplicate("f", json!(3)).cause_message(), "Duplicate value: 3");
        assert_eq!(FieldError::forbidden("f", "no").cause_message(), "Forbidden: no");
        assert_eq!(FieldError::invalid("f", Value::Null, "d").cause_message(), "Invalid value: \"null\": d");
        assert_eq!(
            FieldError::invalid("f", json!("tab\there\u{1}é"), "d").cause_message(),
            "Invalid value: \"tab\\there\\x01é\": d"
        );
        let kinds = [
            (FieldErrorKind::NotFound, "FieldValueNotFound", "Not found"),
            (FieldErrorKind::Required, "FieldValueRequired", "Required value"),
            (FieldErrorKind::Duplicate, "FieldValueDuplicate", "Duplicate value"),
            (FieldErrorKind::Invalid, "FieldValueInvalid", "Invalid value"),
            (FieldErrorKind::NotSupported, "FieldValueNotSupported", "Unsupported value"),
            (FieldErrorKind::Forbidden, "FieldValueForbidden", "Forbidden"),
            (FieldErrorKind::TooLong, "FieldValueTooLong", "Too long"),
            (FieldErrorKind::TooMany, "FieldValueTooMany", "Too many"),
            (FieldErrorKind::Internal, "InternalError", "Internal error"),
            (FieldErrorKind::TypeInvalid, "FieldValueTypeInvalid", "Invalid value"),
        ];
        for (kind, reason, text) in kinds {
            assert_eq!((kind.reason(), kind.text()), (reason, text));
        }
        for (input, canonical) in [
            ("100m", "100m"),
            ("0.5", "500m"),
            ("1000", "1k"),
            ("1.5", "1500m"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1e3", "1e3"),
            ("1e4", "10e3"),
            ("0", "0"),
            ("0m", "0"),
            ("+1", "+1"),
            ("1Ki", "1Ki"),
            ("0.1Ki", "102400m"),
            ("1n", "1n"),
            ("0.0000000001", "1n"),
            ("12Mi", "12Mi"),
            ("8Mi", "8Mi"),
        ] {
            assert_eq!(Quantity::parse(input).map(|q| q.to_canonical()), Ok(canonical.to_string()), "{input}");
        }
        assert_eq!(Quantity::parse("1mm").err(), Some(QUANTITY_SUFFIX_ERR));
        assert_eq!(Quantity::parse("1.2.3").err(), Some(QUANTITY_FORMAT_ERR));
        assert!(dns1123_subdomain("a.b-c.d").is_empty());
        assert!(dns1123_label("a-1").is_empty());
        assert_eq!(dns1123_label("a-").len(), 1);
        assert!(dns1035_label("a1").is_empty());
        assert!(qualified_name("example.com/Name_1").is_empty());
        assert!(label_value("").is_empty());
        assert_eq!(path_segment_name(".", false), vec!["may not be '.'".to_string()]);
        assert!(path_segment_name(".", true).is_empty());
        assert_eq!(NameRule::Dns1123Subdomain.check("web-", true), Vec::<String>::new());
        assert!(wildcard_dns1123_subdomain("*.example.com").is_empty());
        assert!(config_map_key("a.b_c-D").is_empty());
        assert!(port_name("http-alt").is_empty());
        assert!(parse_cron_standard("0 */2 1-15 * SUN").is_ok());
        assert!(parse_cron_standard("@hourly").is_ok());
        assert_eq!(parse_cron_standard("0 0 1 13 *"), Err("end of range (13) above maximum (12): 13".to_string()));
        assert_eq!(
            parse_cron_standard("0 0 * * 1/0"),
            Err("step of range should be a positive number: 1/0".to_string())
        );
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_time("2025-03-01T00:30:00-01:00"), "2025-03-01 01:30:00 +0000 UTC");
    }

    /// Every node of every fixture replaced by values of every JSON type: nothing panics.
    #[test]
    fn malformed_input_never_panics() {
        let fixtures: Vec<(&str, &str, Value)> = vec![
            ("", "Pod", pod()),
            ("apps", "Deployment", deployment()),
            ("apps", "StatefulSet", stateful_set()),
            ("apps", "DaemonSet", daemon_set()),
            ("batch", "Job", job()),
            ("batch", "CronJob", cron_job()),
            ("", "Service", load_balancer()),
            ("", "ConfigMap", config_map()),
            ("", "Secret", secret()),
            ("networking.k8s.io", "Ingress", ingress()),
            ("", "PersistentVolumeClaim", pvc()),
            ("", "Node", node()),
            ("coordination.k8s.io", "Lease", lease()),
            ("scheduling.k8s.io", "PriorityClass", priority_class("system-node-critical", 2_000_001_000)),
            ("", "Event", event()),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding", cluster_role_binding()),
            ("rbac.authorization.k8s.io", "ClusterRole", cluster_role()),
        ];
        let replacements = [
            Value::Null,
            json!(true),
            json!(-1),
            json!(1.5),
            json!(4_000_000_000_u64),
            json!(""),
            json!("x/y%.."),
            json!([]),
            json!([1, "a", null]),
            json!({}),
            json!({"a": [1]}),
        ];
        fn pointers(v: &Value, prefix: String, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, c) in m {
                        let p = format!("{prefix}/{}", k.replace('~', "~0").replace('/', "~1"));
                        out.push(p.clone());
                        pointers(c, p, out);
                    }
                }
                Value::Array(a) => {
                    for (i, c) in a.iter().enumerate() {
                        let p = format!("{prefix}/{i}");
                        out.push(p.clone());
                        pointers(c, p, out);
                    }
                }
                _ => {}
            }
        }
        for (group, kind, obj) in fixtures {
            let mut ptrs = Vec::new();
            pointers(&obj, String::new(), &mut ptrs);
            for ptr in ptrs {
                for r in &replacements {
                    let mut broken = obj.clone();
                    if let Some(slot) = broken.pointer_mut(&ptr) {
                        *slot = r.clone();
                    }
                    let _ = validate_create(group, kind, &broken);
                    let _ = validate_update(group, kind, &broken, &obj);
                    let _ = validate_update(group, kind, &obj, &broken);
                }
            }
        }
        for text in [
            "1e10000",
            "1e-10000",
            "1e99999999999",
            "0.0000000000000000000000000000000000000000000",
            "-0",
            "+",
            "-",
            ".",
            "e3",
            "999999999999999999999999999999999999",
            "9999999999999999999999999999999999999999",
            "1.5Ei",
            "-1.5Ei",
            "8Ei",
            "0.000000000000000000001",
            "-0.000000000000000000001",
            "1e-30",
            "123456789012345678901234567890e18",
        ] {
            if let Ok(q) = Quantity::parse(text) {
                let _ = (q.to_canonical(), q.value(), q.is_integer(), q.cmp(&q), q.cmp_int(1024));
            }
            let _ = validate_create("", "Pod", &set(pod(), "/spec/containers/0/resources/limits/memory", json!(text)));
            let _ = validate_create(
                "",
                "Pod",
                &set(pod(), "/spec/containers/0/resources/limits/hugepages-2Mi", json!(text)),
            );
        }
        for v in [Value::Null, json!([]), json!("x"), json!(1)] {
            assert_eq!(validate_create("", "Pod", &v).len(), 1);
            let _ = validate_update("", "Pod", &pod(), &v);
        }
    }
}
