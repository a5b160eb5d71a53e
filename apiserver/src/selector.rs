//! Label selectors and field selectors exactly as a Kubernetes v1.33 kube-apiserver parses,
//! validates and matches them: the `labelSelector` and `fieldSelector` list/watch parameters,
//! the structured `metav1.LabelSelector` that controllers read from objects, the fields each
//! built-in resource lets clients select on, and the messages upstream puts in its 400 Status.
//!
//! It does not decode query strings (callers pass the already-decoded parameter), build a
//! `metav1.Status` (callers wrap the error's text in a BadRequest), know custom resources'
//! `selectableFields`, or know the resources v1.33 serves only behind non-default feature gates
//! (resource.k8s.io ResourceSlices, ClusterTrustBundles, LeaseCandidates). Field tables and
//! conversion messages are those of each group's preferred v1.33 version.
//!
//! The facts were read from k8s.io/apimachinery v0.33 (`pkg/labels/selector.go`,
//! `pkg/fields/selector.go`, `pkg/util/validation`, `pkg/apis/meta/v1/helpers.go`,
//! `pkg/runtime/conversion.go`) and from kubernetes/kubernetes (`pkg/apis/*/v1/conversion.go`
//! field label conversions, `pkg/registry/*/strategy.go` selectable field sets).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

/// Why a selector was refused. The `Display` text of every variant is exactly the message a
/// v1.33 kube-apiserver puts in the 400 BadRequest Status for the same input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// One requirement of a `labelSelector` string is malformed or fails validation; the text
    /// is upstream's description of that requirement's problem.
    #[error("unable to parse requirement: {0}")]
    LabelRequirement(String),
    /// A `labelSelector` string has an unexpected token between requirements.
    #[error("found '{found}', expected: {expected}")]
    LabelUnexpectedToken { found: String, expected: &'static str },
    /// A structured label selector has a requirement that fails validation; the text is the
    /// aggregated field errors upstream reports.
    #[error("{0}")]
    InvalidLabelRequirement(String),
    /// A structured label selector uses an operator other than In, NotIn, Exists, DoesNotExist.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    UnknownLabelSelectorOperator(String),
    /// A structured label selector does not have the JSON shape of `metav1.LabelSelector`.
    /// Upstream rejects this while decoding the object, with a decoder message we do not mimic.
    #[error("invalid label selector: {0}")]
    MalformedLabelSelector(&'static str),
    /// A `fieldSelector` term has none of the operators `=`, `==`, `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldSelectorTerm { selector: String, term: String },
    /// A `fieldSelector` value has a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    FieldSelectorEscape(String),
    /// A `fieldSelector` value has an unescaped `=`; upstream prints the character's code.
    #[error("invalid field selector: unescaped character in value: {}", char_code(.0))]
    FieldSelectorUnescaped(char),
    /// The resource has its own field list and the field is not on it.
    #[error("field label not supported: {0}")]
    FieldLabelNotSupported(String),
    /// batch/v1 Jobs word their refusal differently from every other resource.
    #[error("field label {} not supported for batchv1.Job", go_quote(.0))]
    JobFieldLabelNotSupported(String),
    /// The resource has no field list of its own, so only the object-meta fields are known.
    #[error("{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"", go_quote(.0))]
    UnknownFieldLabel(String),
}

/// Go's `%v` of a rune is its code point in decimal, which is what upstream's message shows.
fn char_code(c: &char) -> u32 {
    u32::from(*c)
}

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

/// How a label requirement relates its key to its values (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    In,
    NotIn,
    /// `=`; kept apart from `==` because the canonical string preserves which one was written.
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator's name in upstream's `selection` package.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One validated condition on one label key; a selector is the AND of its requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// In the order given; only the canonical string sorts them.
    values: Vec<String>,
}

impl Requirement {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfies this requirement. A label whose JSON value is not a string
    /// counts as present with the empty value; validation never lets one be stored.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let actual = labels.and_then(|map| map.get(&self.key)).map(|value| value.as_str().unwrap_or(""));
        let listed = |actual: &str| self.values.iter().any(|value| value == actual);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => actual.is_some_and(listed),
            Operator::NotIn | Operator::NotEquals => !actual.is_some_and(listed),
            Operator::Exists => actual.is_some(),
            Operator::DoesNotExist => actual.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                // Upstream treats a label or bound that is not a 64-bit integer as no match.
                let Some(Ok(actual)) = actual.map(str::parse::<i64>) else { return false };
                let [bound] = self.values.as_slice() else { return false };
                let Ok(bound) = bound.parse::<i64>() else { return false };
                if self.operator == Operator::GreaterThan { actual > bound } else { actual < bound }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (operator, parenthesised) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
        };
        f.write_str(operator)?;
        if parenthesised {
            f.write_str("(")?;
        }
        // The canonical form lists several values sorted, so equal sets print equally.
        let mut values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        values.sort_unstable();
        f.write_str(&values.join(","))?;
        if parenthesised {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// What a label selector selects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection {
    /// Every object whose labels satisfy all requirements; no requirements selects everything.
    Requirements(Vec<Requirement>),
    /// No object at all: what a null `metav1.LabelSelector` means.
    Nothing,
}

/// A parsed, validated label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    selection: Selection,
}

impl LabelSelector {
    /// The selector that matches every object (`labels.Everything()`).
    pub fn everything() -> Self {
        LabelSelector { selection: Selection::Requirements(Vec::new()) }
    }

    /// The selector that matches no object (`labels.Nothing()`).
    pub fn nothing() -> Self {
        LabelSelector { selection: Selection::Nothing }
    }

    /// Parses the string form used by the `labelSelector` parameter (`labels.Parse`). An empty
    /// or all-blank string selects everything. Requirements are kept sorted by key.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut requirements = Parser::new(selector).parse()?;
        // Upstream sorts by key so that the same selector always prints the same; a stable sort
        // keeps requirements on one key in the order written, as upstream's small-slice sort does.
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { selection: Selection::Requirements(requirements) })
    }

    /// Reads a `metav1.LabelSelector` from its JSON form (`metav1.LabelSelectorAsSelector`).
    ///
    /// A JSON `null` (an absent selector) selects nothing, while an object with no
    /// `matchLabels` and no `matchExpressions` (such as `{}`) selects everything, as upstream
    /// does. Callers that must not act on every object check [`LabelSelector::is_empty`].
    pub fn from_api(selector: &Value) -> Result<Self, SelectorError> {
        let object = match selector {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(object) => object,
            _ => return Err(SelectorError::MalformedLabelSelector("a label selector must be an object or null")),
        };
        let match_labels = match object.get("matchLabels") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(labels)) => {
                let mut pairs = Vec::with_capacity(labels.len());
                for (key, value) in labels {
                    let Value::String(value) = value else {
                        return Err(SelectorError::MalformedLabelSelector("matchLabels values must be strings"));
                    };
                    pairs.push((key.as_str(), value.as_str()));
                }
                // Go walks the map in random order; sorting makes the first error reported stable.
                pairs.sort_unstable();
                pairs
            }
            Some(_) => return Err(SelectorError::MalformedLabelSelector("matchLabels must be an object")),
        };
        let match_expressions = match object.get("matchExpressions") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(expressions)) => expressions.as_slice(),
            Some(_) => return Err(SelectorError::MalformedLabelSelector("matchExpressions must be an array")),
        };
        if match_labels.is_empty() && match_expressions.is_empty() {
            return Ok(Self::everything());
        }

        let mut requirements = Vec::with_capacity(match_labels.len() + match_expressions.len());
        for (key, value) in match_labels {
            let requirement = new_requirement(key, Operator::Equals, vec![value.to_owned()], EmptyValues::Nil)
                .map_err(SelectorError::InvalidLabelRequirement)?;
            requirements.push(requirement);
        }
        for expression in match_expressions {
            let Value::Object(expression) = expression else {
                return Err(SelectorError::MalformedLabelSelector("matchExpressions entries must be objects"));
            };
            let key = optional_string(expression.get("key"), "matchExpressions key must be a string")?;
            let operator = optional_string(expression.get("operator"), "matchExpressions operator must be a string")?;
            let values = match expression.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(values)) => {
                    let mut strings = Vec::with_capacity(values.len());
                    for value in values {
                        let Value::String(value) = value else {
                            return Err(SelectorError::MalformedLabelSelector(
                                "matchExpressions values must be strings",
                            ));
                        };
                        strings.push(value.clone());
                    }
                    strings
                }
                Some(_) => {
                    return Err(SelectorError::MalformedLabelSelector("matchExpressions values must be an array"));
                }
            };
            let operator = match operator {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(SelectorError::UnknownLabelSelectorOperator(other.to_owned())),
            };
            // Upstream copies the values with append([]string(nil), ...), so none prints as nil.
            let requirement = new_requirement(key, operator, values, EmptyValues::Nil)
                .map_err(SelectorError::InvalidLabelRequirement)?;
            requirements.push(requirement);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { selection: Selection::Requirements(requirements) })
    }

    /// Whether an object with these `metadata.labels` is selected; `None` means no labels.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        match &self.selection {
            Selection::Nothing => false,
            Selection::Requirements(requirements) => requirements.iter().all(|r| r.matches(labels)),
        }
    }

    /// Whether an object is selected, reading its labels from `metadata.labels`.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.matches(object.get("metadata").and_then(|m| m.get("labels")).and_then(Value::as_object))
    }

    /// True when the selector does not restrict anything; the nothing-selector is not empty.
    pub fn is_empty(&self) -> bool {
        matches!(&self.selection, Selection::Requirements(requirements) if requirements.is_empty())
    }

    /// True for the selector of a null `metav1.LabelSelector`, which matches no object.
    pub fn matches_nothing(&self) -> bool {
        self.selection == Selection::Nothing
    }

    /// The requirements, sorted by key; empty for both everything and nothing.
    pub fn requirements(&self) -> &[Requirement] {
        match &self.selection {
            Selection::Requirements(requirements) => requirements,
            Selection::Nothing => &[],
        }
    }

    /// The value the selector insists label `key` has, if its first requirement on that key is
    /// an `=`, `==` or single-valued `in` (`Selector.RequiresExactMatch`).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let requirement = self.requirements().iter().find(|r| r.key == key)?;
        match (requirement.operator, requirement.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// Upstream's canonical string: requirements sorted by key, joined by commas; both the
    /// everything- and the nothing-selector print as the empty string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

/// Reads an optional JSON string field, where absent and null both mean Go's empty string.
fn optional_string<'a>(value: Option<&'a Value>, complaint: &'static str) -> Result<&'a str, SelectorError> {
    match value {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(SelectorError::MalformedLabelSelector(complaint)),
    }
}

/// How an empty value list prints in a field error: Go's `%#v` tells a nil slice from an empty one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EmptyValues {
    Nil,
    Empty,
}

/// Builds a requirement the way `labels.NewRequirement` does without a field path, returning
/// the aggregated field errors as upstream prints them.
fn new_requirement(
    key: &str,
    operator: Operator,
    values: Vec<String>,
    empty: EmptyValues,
) -> Result<Requirement, String> {
    let mut errors = Vec::new();
    let key_problems = qualified_name_problems(key);
    if !key_problems.is_empty() {
        errors.push(invalid_value("key", &go_quote(key), &key_problems.join("; ")));
    }
    let count_problem = match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            Some("for 'in', 'notin' operators, values set can't be empty")
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            Some("exact-match compatibility requires one single value")
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            Some("values set must be empty for exists and does not exist")
        }
        Operator::GreaterThan | Operator::LessThan if values.len() != 1 => {
            Some("for 'Gt', 'Lt' operators, exactly one value is required")
        }
        _ => None,
    };
    if let Some(problem) = count_problem {
        errors.push(invalid_value("values", &go_string_slice(&values, empty), problem));
    }
    if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
        for (i, value) in values.iter().enumerate() {
            if value.parse::<i64>().is_err() {
                errors.push(invalid_value(
                    &format!("values[{i}]"),
                    &go_quote(value),
                    "for 'Gt', 'Lt' operators, the value must be an integer",
                ));
            }
        }
    }
    for (i, value) in values.iter().enumerate() {
        let problems = label_value_problems(value);
        if !problems.is_empty() {
            errors.push(invalid_value(&format!("values[{i}][{key}]"), &go_quote(value), &problems.join("; ")));
        }
    }
    if errors.is_empty() { Ok(Requirement { key: key.to_owned(), operator, values }) } else { Err(aggregate(errors)) }
}

/// `field.Invalid(path, value, detail).Error()`, with the value already in Go syntax.
fn invalid_value(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

/// `utilerrors.Aggregate.Error()`: duplicates dropped, one error bare, several in brackets.
fn aggregate(errors: Vec<String>) -> String {
    let mut seen = BTreeSet::new();
    let unique: Vec<String> = errors.into_iter().filter(|message| seen.insert(message.clone())).collect();
    match unique.as_slice() {
        [only] => only.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

// ---------------------------------------------------------------------------------------------
// The label selector lexer and parser
// ---------------------------------------------------------------------------------------------

/// The lexer's tokens, as upstream's `labels.Token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A run of operator characters that is no operator; unreachable because every single
    /// operator character is itself a token, but kept so the parser's messages stay upstream's.
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// The fixed spellings that are tokens rather than identifiers.
fn keyword(text: &[u8]) -> Option<Token> {
    Some(match text {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(byte: u8) -> bool {
    matches!(byte, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits a selector into tokens byte by byte, as upstream does. Upstream reads a zero byte
/// both at the end of the input and for a NUL inside it, so a NUL ends the selector where a
/// token may start and ends the token otherwise; this lexer keeps that behaviour on purpose.
struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.input.get(self.pos) {
            Some(&byte) => {
                self.pos += 1;
                byte
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn lex(&mut self) -> (Token, String) {
        let mut byte = self.read();
        while is_whitespace(byte) {
            byte = self.read();
        }
        if byte == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special_symbol(byte) { self.scan_special_symbol() } else { self.scan_identifier_or_keyword() }
    }

    fn scan_identifier_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut end = start;
        loop {
            let byte = self.read();
            if byte == 0 {
                break;
            }
            if is_special_symbol(byte) || is_whitespace(byte) {
                self.unread();
                break;
            }
            end = self.pos;
        }
        // Identifiers end only at ASCII bytes, so the slice is whole UTF-8 characters.
        let text = self.input.get(start..end).unwrap_or_default();
        let literal = String::from_utf8_lossy(text).into_owned();
        (keyword(text).unwrap_or(Token::Identifier), literal)
    }

    /// Takes the longest run of operator characters that spells a token, so `!=` is one token
    /// but `=!` is `=` followed by `!`.
    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut buffer = Vec::new();
        let mut last: Option<(Token, usize)> = None;
        loop {
            let byte = self.read();
            if byte == 0 {
                break;
            }
            if !is_special_symbol(byte) {
                self.unread();
                break;
            }
            buffer.push(byte);
            if let Some(token) = keyword(&buffer) {
                last = Some((token, buffer.len()));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        match last {
            Some((token, len)) => (token, String::from_utf8_lossy(buffer.get(..len).unwrap_or_default()).into_owned()),
            None => (Token::Error, format!("error expected: keyword found '{}'", String::from_utf8_lossy(&buffer))),
        }
    }
}

/// Whether `in` and `notin` are operators (after a key) or ordinary words (where values go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// Upstream's recursive-descent parser over the whole token list, kept step for step so that
/// every error names the same token upstream's does.
struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn new(selector: &str) -> Self {
        let mut lexer = Lexer { input: selector.as_bytes(), pos: 0 };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            let done = item.0 == Token::EndOfString;
            items.push(item);
            if done {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn item(&self, position: usize, context: Context) -> (Token, String) {
        let (token, literal) = match self.items.get(position) {
            Some((token, literal)) => (*token, literal.clone()),
            None => (Token::EndOfString, String::new()),
        };
        match (context, token) {
            (Context::Values, Token::In | Token::NotIn) => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        self.item(self.position, context)
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        self.position += 1;
        self.item(self.position - 1, context)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    requirements.push(self.parse_requirement().map_err(SelectorError::LabelRequirement)?);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(unexpected(literal, "identifier after ','"));
                            }
                        }
                        _ => return Err(unexpected(literal, "',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => return Err(unexpected(literal, "!, identifier, or 'end of string'")),
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = inferred {
            return new_requirement(&key, operator, Vec::new(), EmptyValues::Empty);
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(&key, operator, values, EmptyValues::Empty)
    }

    /// Reads `[!]key` and infers Exists or DoesNotExist when no operator follows. A `!key`
    /// followed by anything else still yields DoesNotExist, leaving the rest to fail later.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let problems = qualified_name_problems(&literal);
        if !problems.is_empty() {
            // Upstream validates here with a nil field path, which prints as "<nil>".
            return Err(invalid_value("<nil>", &go_quote(&literal), &problems.join("; ")));
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::EndOfString || next == Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{literal}', expected: in, notin, =, ==, !=, gt, lt")),
        })
    }

    /// Reads `(v1,v2,...)` into a sorted set; empty entries stand for the empty value.
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (closing, _) = self.consume(Context::Values);
                if closing != Token::ClosedPar {
                    // Upstream names the first token inside the parentheses here, not the culprit.
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values.into_iter().collect())
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{literal}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    // A comma with nothing before it, after it, or twice in a row is an empty value.
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.insert(String::new());
                        return Ok(values);
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// Reads the value after `=`, `==`, `!=`, `>` or `<`; nothing there means the empty value.
    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (token, _) = self.lookahead(Context::Values);
        if token == Token::EndOfString || token == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(vec![literal])
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

fn unexpected(found: String, expected: &'static str) -> SelectorError {
    SelectorError::LabelUnexpectedToken { found, expected }
}

// ---------------------------------------------------------------------------------------------
// Name and value validation (k8s.io/apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------------------------

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_MAX_LEN: usize = 63;
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MAX_LEN: usize = 63;
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;

/// `validation.RegexError`, including upstream's doubled space before each " or ".
fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    let mut text = format!("{message} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            text.push_str(" or ");
        }
        let _ = write!(text, "'{example}', ");
    }
    let _ = write!(text, "regex used for validation is '{regex}')");
    text
}

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, anchored at both ends.
fn is_qualified_name_part(text: &str) -> bool {
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, anchored at both ends.
fn is_dns1123_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alphanumeric(first) && alphanumeric(last) && bytes.iter().all(|b| alphanumeric(b) || *b == b'-')
        }
        _ => false,
    }
}

/// `validation.IsDNS1123Subdomain`: the problems, empty when valid.
fn dns1123_subdomain_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if text.len() > DNS1123_SUBDOMAIN_MAX_LEN {
        problems.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LEN));
    }
    if !text.split('.').all(is_dns1123_label) {
        problems.push(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    problems
}

/// `validation.IsQualifiedName`, which label keys must pass: the problems, empty when valid.
fn qualified_name_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = text.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_owned());
            } else {
                problems.extend(dns1123_subdomain_problems(prefix).into_iter().map(|p| format!("prefix part {p}")));
            }
            *name
        }
        _ => {
            let regex = regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"]);
            return vec![format!(
                "a qualified name {regex} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        problems.push("name part must be non-empty".to_owned());
    } else if name.len() > QUALIFIED_NAME_MAX_LEN {
        problems.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX_LEN)));
    }
    if !is_qualified_name_part(name) {
        let regex = regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"]);
        problems.push(format!("name part {regex}"));
    }
    problems
}

/// `validation.IsValidLabelValue`: the problems, empty when valid.
fn label_value_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if text.len() > LABEL_VALUE_MAX_LEN {
        problems.push(max_len_error(LABEL_VALUE_MAX_LEN));
    }
    if !text.is_empty() && !is_qualified_name_part(text) {
        problems.push(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Go formatting that upstream's messages depend on
// ---------------------------------------------------------------------------------------------

/// Go's `strconv.Quote`, which `%q` and field errors use for bad values.
///
/// Go keeps every character `unicode.IsPrint` accepts; this approximates that set as "not a
/// control, not white space other than ' ', not a format, private-use or non-character code
/// point". Unassigned code points, which Go also escapes, are kept.
fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if go_is_print(c) => quoted.push(c),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            c if u32::from(c) < 0x80 => {
                let _ = write!(quoted, "\\x{:02x}", u32::from(c));
            }
            c if u32::from(c) < 0x10000 => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(quoted, "\\U{:08x}", u32::from(c));
            }
        }
    }
    quoted.push('"');
    quoted
}

fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xE000..=0xF8FF
            | 0xFDD0..=0xFDEF
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0xFFFE..=0xFFFF
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xF0000..=0x10FFFF
    )
}

/// Go's `%#v` of a `[]string`.
fn go_string_slice(values: &[String], empty: EmptyValues) -> String {
    if values.is_empty() && empty == EmptyValues::Nil {
        return "[]string(nil)".to_owned();
    }
    let quoted: Vec<String> = values.iter().map(|value| go_quote(value)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

/// How a field term compares; `=` and `==` are the same term upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` or `field!=value` term, with the value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    field: String,
    operator: FieldOperator,
    value: String,
}

impl FieldRequirement {
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn operator(&self) -> FieldOperator {
        self.operator
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operator = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{operator}{}", self.field, escape_field_value(&self.value))
    }
}

/// A parsed field selector: the AND of its terms, in upstream's order (sorted by the terms'
/// text as written). No terms selects everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// Parses the `fieldSelector` parameter (`fields.ParseSelector`). Terms are split at
    /// unescaped commas and sorted, empty terms are skipped, each term splits at its first
    /// operator (no escaping in field names), and values are unescaped (`\\`, `\,`, `\=`).
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut parts = split_field_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::with_capacity(parts.len());
        for part in parts.into_iter().filter(|part| !part.is_empty()) {
            let Some((field, operator, raw_value)) = split_field_term(part) else {
                return Err(SelectorError::FieldSelectorTerm { selector: selector.to_owned(), term: part.to_owned() });
            };
            let value = unescape_field_value(raw_value)?.into_owned();
            terms.push(FieldRequirement { field: field.to_owned(), operator, value });
        }
        Ok(FieldSelector { terms })
    }

    /// True when the selector has no terms and so restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.terms
    }

    /// The value the selector insists `field` has: the first `field=value` term, if any
    /// (`Selector.RequiresExactMatch`). `!=` terms never count.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|term| term.operator == FieldOperator::Equals && term.field == field)
            .map(|term| term.value.as_str())
    }

    /// The name the selector requires (`metadata.name=X`), so a list can fetch one key.
    pub fn required_name(&self) -> Option<&str> {
        self.requires_exact_match("metadata.name")
    }

    /// The namespace the selector requires (`metadata.namespace=X`), so a list can narrow its range.
    pub fn required_namespace(&self) -> Option<&str> {
        self.requires_exact_match("metadata.namespace")
    }

    /// Checks every term against the resource's supported fields, as the list and watch
    /// handlers do before touching storage; the first refused term, in selector order, wins.
    pub fn validate_for(&self, group: &str, resource_plural: &str) -> Result<(), SelectorError> {
        self.convert_for(group, resource_plural).map(|_| ())
    }

    /// Validates like [`FieldSelector::validate_for`] and returns the selector with legacy
    /// aliases replaced by the field they stand for (pods' `spec.host` becomes `spec.nodeName`),
    /// as upstream's field label conversion does; use it before `requires_exact_match`.
    pub fn convert_for(&self, group: &str, resource_plural: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for term in &self.terms {
            let field = convert_field_label(group, resource_plural, &term.field)?;
            terms.push(FieldRequirement { field: field.to_owned(), ..term.clone() });
        }
        Ok(FieldSelector { terms })
    }

    /// Whether an object of this resource is selected. `object` must have the shape of the
    /// group's preferred version (for `events.k8s.io` an events.k8s.io/v1 Event). A field the
    /// resource does not expose reads as the empty string, as upstream's field sets do.
    pub fn matches(&self, object: &Value, group: &str, resource_plural: &str) -> bool {
        self.terms.iter().all(|term| {
            let actual = field_value(object, group, resource_plural, &term.field);
            match term.operator {
                FieldOperator::Equals => actual == term.value,
                FieldOperator::NotEquals => actual != term.value,
            }
        })
    }
}

impl fmt::Display for FieldSelector {
    /// Upstream's canonical string: terms in order, `==` written as `=`, values re-escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

/// Splits at commas not preceded by a backslash, keeping the backslashes.
fn split_field_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    // Byte-wise is safe: the escape only matters before ASCII `,` or `\`, and the bytes that
    // continue a multi-byte character are never ASCII.
    for (i, byte) in selector.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == b',' {
            terms.push(selector.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    terms.push(selector.get(start..).unwrap_or_default());
    terms
}

/// Splits a term at the first place an operator starts, trying `!=`, then `==`, then `=`.
fn split_field_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPERATORS: [(&str, FieldOperator); 3] =
        [("!=", FieldOperator::NotEquals), ("==", FieldOperator::Equals), ("=", FieldOperator::Equals)];
    let bytes = term.as_bytes();
    for i in 0..bytes.len() {
        for (spelling, operator) in OPERATORS {
            if bytes.get(i..).is_some_and(|rest| rest.starts_with(spelling.as_bytes())) {
                return Some((term.get(..i)?, operator, term.get(i + spelling.len()..)?));
            }
        }
    }
    None
}

/// `fields.UnescapeValue`.
fn unescape_field_value(raw: &str) -> Result<Cow<'_, str>, SelectorError> {
    if !raw.contains(['\\', ',', '=']) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            match c {
                '\\' | ',' | '=' => value.push(c),
                _ => return Err(SelectorError::FieldSelectorEscape(format!("\\{c}"))),
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => return Err(SelectorError::FieldSelectorUnescaped(c)),
            _ => value.push(c),
        }
    }
    if escaped {
        return Err(SelectorError::FieldSelectorEscape("\\".to_owned()));
    }
    Ok(Cow::Owned(value))
}

/// `fields.EscapeValue`.
fn escape_field_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', ',', '=']) {
        return Cow::Borrowed(value);
    }
    let mut escaped = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    Cow::Owned(escaped)
}

// ---------------------------------------------------------------------------------------------
// Which fields each resource supports, and where their values come from
// ---------------------------------------------------------------------------------------------

/// How a resource with its own field list refuses a field that is not on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotSupported,
    JobNotSupported,
}

/// A resource that registers its own field label conversion in v1.33.
struct ResourceFields {
    group: &'static str,
    plural: &'static str,
    fields: &'static [&'static str],
    refusal: Refusal,
}

/// What every other resource accepts (`runtime.DefaultMetaV1FieldSelectorConversion`).
const OBJECT_META_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// The resources of a default v1.33 kube-apiserver with their own field label conversion.
/// ReplicaSets are deliberately absent: upstream's registry computes `status.replicas` but
/// apps/v1 registers no conversion for it, so the server refuses it (kubernetes#135136).
const RESOURCE_FIELDS: &[ResourceFields] = &[
    ResourceFields {
        group: "",
        plural: "pods",
        fields: &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
            // Old v1 clients send this; the conversion renames it to spec.nodeName.
            "spec.host",
        ],
        refusal: Refusal::NotSupported,
    },
    ResourceFields {
        group: "",
        plural: "nodes",
        fields: &["metadata.name", "spec.unschedulable"],
        refusal: Refusal::NotSupported,
    },
    ResourceFields {
        group: "",
        plural: "replicationcontrollers",
        fields: &["metadata.name", "metadata.namespace", "status.replicas"],
        refusal: Refusal::NotSupported,
    },
    ResourceFields {
        group: "",
        plural: "events",
        fields: &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "metadata.namespace",
            "metadata.name",
        ],
        refusal: Refusal::NotSupported,
    },
    ResourceFields {
        group: "",
        plural: "namespaces",
        fields: &["status.phase", "metadata.name"],
        refusal: Refusal::NotSupported,
    },
    ResourceFields {
        group: "",
        plural: "secrets",
        fields: &["type", "metadata.namespace", "metadata.name"],
        refusal: Refusal::NotSupported,
    },
    ResourceFields {
        group: "",
        plural: "services",
        fields: &["metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"],
        refusal: Refusal::NotSupported,
    },
    ResourceFields {
        group: "events.k8s.io",
        plural: "events",
        fields: &[
            "reason",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reportingController",
            "source",
            "type",
            "metadata.namespace",
            "metadata.name",
        ],
        refusal: Refusal::NotSupported,
    },
    ResourceFields {
        group: "batch",
        plural: "jobs",
        fields: &["metadata.name", "metadata.namespace", "status.successful"],
        refusal: Refusal::JobNotSupported,
    },
    ResourceFields {
        group: "certificates.k8s.io",
        plural: "certificatesigningrequests",
        fields: &["metadata.name", "spec.signerName"],
        refusal: Refusal::NotSupported,
    },
];

fn resource_fields(group: &str, resource_plural: &str) -> Option<&'static ResourceFields> {
    RESOURCE_FIELDS.iter().find(|r| r.group == group && r.plural == resource_plural)
}

/// The field labels a `fieldSelector` may use on this resource in v1.33, aliases included;
/// every resource without a list of its own accepts `metadata.name` and `metadata.namespace`.
pub fn supported_fields(group: &str, resource_plural: &str) -> &'static [&'static str] {
    resource_fields(group, resource_plural).map_or(OBJECT_META_FIELDS, |r| r.fields)
}

/// Upstream's field label conversion: the canonical label, or the resource's refusal.
fn convert_field_label<'a>(group: &str, resource_plural: &str, label: &'a str) -> Result<&'a str, SelectorError> {
    let Some(resource) = resource_fields(group, resource_plural) else {
        return if OBJECT_META_FIELDS.contains(&label) {
            Ok(label)
        } else {
            Err(SelectorError::UnknownFieldLabel(label.to_owned()))
        };
    };
    if !resource.fields.contains(&label) {
        return Err(match resource.refusal {
            Refusal::NotSupported => SelectorError::FieldLabelNotSupported(label.to_owned()),
            Refusal::JobNotSupported => SelectorError::JobFieldLabelNotSupported(label.to_owned()),
        });
    }
    Ok(if resource.plural == "pods" && label == "spec.host" { "spec.nodeName" } else { label })
}

/// The value field `field` has on `object` for a field selector, as upstream's
/// `ToSelectableFields` computes it: booleans as `true`/`false`, counts in decimal (a missing
/// count is `0`, a missing flag `false`, as Go's zero values), anything absent as "".
/// `object` must have the shape of the group's preferred version.
pub fn field_value<'a>(object: &'a Value, group: &str, resource_plural: &str, field: &str) -> Cow<'a, str> {
    let text = |path: &[&str]| scalar_text(lookup(object, path));
    match (group, resource_plural, field) {
        (_, _, "metadata.name") => text(&["metadata", "name"]),
        (_, _, "metadata.namespace") => text(&["metadata", "namespace"]),

        ("", "pods", "spec.nodeName" | "spec.host") => text(&["spec", "nodeName"]),
        ("", "pods", "spec.restartPolicy") => text(&["spec", "restartPolicy"]),
        ("", "pods", "spec.schedulerName") => text(&["spec", "schedulerName"]),
        ("", "pods", "spec.serviceAccountName") => text(&["spec", "serviceAccountName"]),
        ("", "pods", "spec.hostNetwork") => flag(lookup(object, &["spec", "hostNetwork"])),
        ("", "pods", "status.phase") => text(&["status", "phase"]),
        ("", "pods", "status.podIP") => pod_ip(object),
        ("", "pods", "status.nominatedNodeName") => text(&["status", "nominatedNodeName"]),
        // status.podIPs is accepted but never put in the pod's field set, so it is always "".
        ("", "nodes", "spec.unschedulable") => flag(lookup(object, &["spec", "unschedulable"])),
        ("", "namespaces", "status.phase") => text(&["status", "phase"]),
        ("", "secrets", "type") => text(&["type"]),
        ("", "services", "spec.clusterIP") => text(&["spec", "clusterIP"]),
        ("", "services", "spec.type") => text(&["spec", "type"]),
        ("", "replicationcontrollers", "status.replicas") => count(lookup(object, &["status", "replicas"])),
        ("batch", "jobs", "status.successful") => count(lookup(object, &["status", "succeeded"])),
        ("certificates.k8s.io", "certificatesigningrequests", "spec.signerName") => text(&["spec", "signerName"]),

        ("", "events", "reason") | ("events.k8s.io", "events", "reason") => text(&["reason"]),
        ("", "events", "type") | ("events.k8s.io", "events", "type") => text(&["type"]),
        ("", "events", "reportingComponent") => text(&["reportingComponent"]),
        ("", "events", "source") => event_source(object, &["source", "component"], "reportingComponent"),
        ("", "events", _) => match field.strip_prefix("involvedObject.") {
            Some(part) if OBJECT_REFERENCE_FIELDS.contains(&part) => text(&["involvedObject", part]),
            _ => Cow::Borrowed(""),
        },
        ("events.k8s.io", "events", "reportingController") => text(&["reportingController"]),
        ("events.k8s.io", "events", "source") => {
            event_source(object, &["deprecatedSource", "component"], "reportingController")
        }
        ("events.k8s.io", "events", _) => match field.strip_prefix("regarding.") {
            Some(part) if OBJECT_REFERENCE_FIELDS.contains(&part) => text(&["regarding", part]),
            _ => Cow::Borrowed(""),
        },
        _ => Cow::Borrowed(""),
    }
}

/// The parts of an event's object reference that are selectable.
const OBJECT_REFERENCE_FIELDS: &[&str] =
    &["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"];

fn lookup<'a>(object: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(object, |value, key| value.get(key))
}

/// A scalar as Go's field set would hold it; absent, null and non-scalars are "".
fn scalar_text(value: Option<&Value>) -> Cow<'_, str> {
    match value {
        Some(Value::String(text)) => Cow::Borrowed(text),
        Some(Value::Bool(flag)) => Cow::Borrowed(if *flag { "true" } else { "false" }),
        Some(Value::Number(number)) => Cow::Owned(number.to_string()),
        _ => Cow::Borrowed(""),
    }
}

/// A boolean field, which Go's zero value makes "false" when absent.
fn flag(value: Option<&Value>) -> Cow<'static, str> {
    Cow::Borrowed(if value.and_then(Value::as_bool).unwrap_or(false) { "true" } else { "false" })
}

/// An integer field, which Go's zero value makes "0" when absent.
fn count(value: Option<&Value>) -> Cow<'static, str> {
    match value {
        Some(Value::Number(number)) => Cow::Owned(number.to_string()),
        _ => Cow::Borrowed("0"),
    }
}

/// The pod's primary IP: `status.podIP`, or else the first of `status.podIPs`, which is what
/// the internal pod's `PodIPs[0]` holds after conversion from v1.
fn pod_ip(pod: &Value) -> Cow<'_, str> {
    let primary = scalar_text(lookup(pod, &["status", "podIP"]));
    if !primary.is_empty() {
        return primary;
    }
    scalar_text(lookup(pod, &["status", "podIPs"]).and_then(|ips| ips.get(0)).and_then(|ip| ip.get("ip")))
}

/// An event's `source`: the reporting component of the legacy source, or else the reporting
/// controller, which is how upstream keeps selection working for events written via events/v1.
fn event_source<'a>(event: &'a Value, component: &[&str], controller: &str) -> Cow<'a, str> {
    let source = scalar_text(lookup(event, component));
    if source.is_empty() { scalar_text(event.get(controller)) } else { source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const QUALIFIED_NAME_REGEX_ERROR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const LABEL_VALUE_REGEX_ERROR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    /// Parses a label selector and compares its canonical string, or its error text.
    fn check_label_parse(input: &str, expected: Result<&str, String>) {
        let got = LabelSelector::parse(input).map(|s| s.to_string()).map_err(|e| e.to_string());
        assert_eq!(got, expected.map(str::to_owned), "labelSelector {input:?}");
    }

    #[test]
    fn label_selector_parses_to_canonical_string() {
        for (input, canonical) in [
            ("", ""),
            (" \t\r\n ", ""),
            ("x=a,y=b,z=c", "x=a,y=b,z=c"),
            ("x!=a,y=b", "x!=a,y=b"),
            ("x=", "x="),
            ("x= ", "x="),
            ("x= ,z= ", "x=,z="),
            ("x==a", "x==a"),
            ("x", "x"),
            ("!x", "!x"),
            ("  !x  ,  y  ", "!x,y"),
            ("x>1,z<5", "x>1,z<5"),
            ("z=1,a=2", "a=2,z=1"),
            ("b=2,a=1,b=1", "a=1,b=2,b=1"),
            (" x in ( b , a , a ) ", "x in (a,b)"),
            ("x notin (a)", "x notin (a)"),
            ("x in ()", "x in ()"),
            ("x in (,a)", "x in (,a)"),
            ("x in (a,)", "x in (,a)"),
            ("x in (a,,b)", "x in (,a,b)"),
            ("x in (,)", "x in ()"),
            ("in in (in,notin)", "in in (in,notin)"),
            ("notin=in", "notin=in"),
            ("example.com/a-b_c.d=E_f.9", "example.com/a-b_c.d=E_f.9"),
            // Upstream reads a NUL byte as the end of input where a token may start and as the
            // end of the token elsewhere; both quirks are kept.
            ("x=a\u{0}", "x=a"),
            ("x=\u{0}y", "x=y"),
            ("\u{0}x=y", ""),
        ] {
            check_label_parse(input, Ok(canonical));
        }
    }

    #[test]
    fn label_selector_errors_carry_upstream_messages() {
        let long_name = "a".repeat(64);
        for (input, message) in [
            ("x==a==b", "found '==', expected: ',' or 'end of string'".to_owned()),
            ("!x=a", "found '=', expected: ',' or 'end of string'".to_owned()),
            ("x=a b", "found 'b', expected: ',' or 'end of string'".to_owned()),
            ("x,", "found '', expected: identifier after ','".to_owned()),
            ("x,,y", "found ',', expected: identifier after ','".to_owned()),
            ("x,=", "found '=', expected: identifier after ','".to_owned()),
            ("=a", "found '=', expected: !, identifier, or 'end of string'".to_owned()),
            ("!=a", "found '!=', expected: !, identifier, or 'end of string'".to_owned()),
            ("(", "found '(', expected: !, identifier, or 'end of string'".to_owned()),
            ("!", "unable to parse requirement: found '', expected: identifier".to_owned()),
            ("!!x", "unable to parse requirement: found '!', expected: identifier".to_owned()),
            ("x b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt".to_owned()),
            ("x (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt".to_owned()),
            ("x=(", "unable to parse requirement: found '(', expected: identifier".to_owned()),
            ("x=!y", "unable to parse requirement: found '!', expected: identifier".to_owned()),
            ("x in a", "unable to parse requirement: found 'a' expected: '('".to_owned()),
            ("x in", "unable to parse requirement: found '' expected: '('".to_owned()),
            ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'".to_owned()),
            ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'".to_owned()),
            ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier".to_owned()),
            ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier".to_owned()),
            (
                "x<a",
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
                    .to_owned(),
            ),
            (
                "x>99999999999999999999",
                "unable to parse requirement: values[0]: Invalid value: \"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an integer"
                    .to_owned(),
            ),
            (
                "x>-1",
                format!("unable to parse requirement: values[0][x]: Invalid value: \"-1\": {LABEL_VALUE_REGEX_ERROR}"),
            ),
            (
                "x>+1",
                format!("unable to parse requirement: values[0][x]: Invalid value: \"+1\": {LABEL_VALUE_REGEX_ERROR}"),
            ),
            (
                "x=a||y=b",
                format!("unable to parse requirement: values[0][x]: Invalid value: \"a||y\": {LABEL_VALUE_REGEX_ERROR}"),
            ),
            (
                "x in (a$,b%)",
                format!(
                    "unable to parse requirement: [values[0][x]: Invalid value: \"a$\": {LABEL_VALUE_REGEX_ERROR}, values[1][x]: Invalid value: \"b%\": {LABEL_VALUE_REGEX_ERROR}]"
                ),
            ),
            (
                "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "unable to parse requirement: values[0][x]: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be no more than 63 characters"
                    .to_owned(),
            ),
            (
                "a/b/c",
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name {QUALIFIED_NAME_REGEX_ERROR} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
                ),
            ),
            ("/a", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty".to_owned()),
            (
                "a/",
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be non-empty; name part {QUALIFIED_NAME_REGEX_ERROR}"
                ),
            ),
            (
                "Example.com/a",
                "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                    .to_owned(),
            ),
            (
                long_name.as_str(),
                format!("unable to parse requirement: <nil>: Invalid value: \"{long_name}\": name part must be no more than 63 characters"),
            ),
            (
                "-x",
                format!("unable to parse requirement: <nil>: Invalid value: \"-x\": name part {QUALIFIED_NAME_REGEX_ERROR}"),
            ),
            (
                "a\"b=c",
                format!("unable to parse requirement: <nil>: Invalid value: \"a\\\"b\": name part {QUALIFIED_NAME_REGEX_ERROR}"),
            ),
        ] {
            check_label_parse(input, Err(message));
        }
    }

    /// Matches a selector against a `metadata.labels` value (`null` meaning no labels).
    fn check_label_match(selector: &LabelSelector, labels: Value, expected: bool) {
        assert_eq!(selector.matches(labels.as_object()), expected, "{selector:?} against {labels}");
    }

    #[test]
    fn label_selector_matching() {
        for (input, labels, expected) in [
            ("", json!({"x": "y"}), true),
            ("", Value::Null, true),
            ("x=y", json!({"x": "y"}), true),
            ("x==y", json!({"x": "y"}), true),
            ("x=y", json!({"x": "z"}), false),
            ("x=z", json!({}), false),
            ("x=y", Value::Null, false),
            ("x=", json!({"x": ""}), true),
            ("x=", json!({}), false),
            ("x=y,z=w", json!({"x": "y", "z": "w"}), true),
            ("x=y,z=w", json!({"x": "w", "z": "w"}), false),
            ("x!=y", json!({"x": "z"}), true),
            ("x!=y", json!({}), true),
            ("x!=y", json!({"x": "y"}), false),
            ("x", json!({"x": ""}), true),
            ("x", json!({"y": "z"}), false),
            ("!x", json!({"y": "z"}), true),
            ("!x", json!({"x": "z"}), false),
            ("x in (a,b)", json!({"x": "b"}), true),
            ("x in (a,b)", json!({"x": "c"}), false),
            ("x in (a,b)", json!({}), false),
            ("x in (,a)", json!({"x": ""}), true),
            ("x notin (a,b)", json!({"x": "c"}), true),
            ("x notin (a,b)", json!({}), true),
            ("x notin (a,b)", json!({"x": "a"}), false),
            ("x>1", json!({"x": "2"}), true),
            ("x>1", json!({"x": "1"}), false),
            ("x>1", json!({"x": "0"}), false),
            ("x<1", json!({"x": "0"}), true),
            ("x<1", json!({"x": "-5"}), true),
            ("x<1", json!({"x": "2"}), false),
            ("x>1", json!({"x": "two"}), false),
            ("x>1", json!({}), false),
            ("notin=in", json!({"notin": "in"}), true),
        ] {
            let selector = LabelSelector::parse(input).expect("selector parses");
            check_label_match(&selector, labels, expected);
        }
    }

    /// Reads a structured selector and compares its canonical string, or its error text.
    fn check_from_api(input: Value, expected: Result<&str, String>) {
        let got = LabelSelector::from_api(&input).map(|s| s.to_string()).map_err(|e| e.to_string());
        assert_eq!(got, expected.map(str::to_owned), "selector {input}");
    }

    #[test]
    fn structured_label_selector_conversion() {
        for (input, canonical) in [
            (json!({}), ""),
            (json!({"matchLabels": null, "matchExpressions": null}), ""),
            (json!({"matchLabels": {}, "matchExpressions": []}), ""),
            (json!({"matchLabels": {"b": "2", "a": "1"}}), "a=1,b=2"),
            (json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["y", "x"]}]}), "a in (x,y)"),
            (json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["x"]}]}), "a notin (x)"),
            (json!({"matchExpressions": [{"key": "a", "operator": "Exists"}]}), "a"),
            (json!({"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": []}]}), "!a"),
            (json!({"matchLabels": {"z": "1"}, "matchExpressions": [{"key": "m", "operator": "Exists"}]}), "m,z=1"),
        ] {
            check_from_api(input, Ok(canonical));
        }
        for (input, message) in [
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]}),
                "\"Foo\" is not a valid label selector operator".to_owned(),
            ),
            (json!({"matchExpressions": [{"key": "a"}]}), "\"\" is not a valid label selector operator".to_owned()),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
                    .to_owned(),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]}),
                "values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists and does not exist"
                    .to_owned(),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["y\"z"]}]}),
                format!(
                    "[values: Invalid value: []string{{\"y\\\"z\"}}: values set must be empty for exists and does not exist, values[0][a]: Invalid value: \"y\\\"z\": {LABEL_VALUE_REGEX_ERROR}]"
                ),
            ),
            (
                json!({"matchLabels": {"k": "a b"}}),
                format!("values[0][k]: Invalid value: \"a b\": {LABEL_VALUE_REGEX_ERROR}"),
            ),
            (
                json!({"matchLabels": {"-k": "v"}}),
                format!("key: Invalid value: \"-k\": name part {QUALIFIED_NAME_REGEX_ERROR}"),
            ),
            (
                json!({"matchExpressions": [{"key": "", "operator": "NotIn"}]}),
                format!(
                    "[key: Invalid value: \"\": name part must be non-empty; name part {QUALIFIED_NAME_REGEX_ERROR}, values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty]"
                ),
            ),
            (json!("a=b"), "invalid label selector: a label selector must be an object or null".to_owned()),
            (json!({"matchLabels": ["a"]}), "invalid label selector: matchLabels must be an object".to_owned()),
            (json!({"matchLabels": {"a": 1}}), "invalid label selector: matchLabels values must be strings".to_owned()),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}),
                "invalid label selector: matchExpressions values must be strings".to_owned(),
            ),
        ] {
            check_from_api(input, Err(message));
        }
    }

    #[test]
    fn null_structured_selector_matches_nothing_and_empty_matches_everything() {
        let nothing = LabelSelector::from_api(&Value::Null).expect("null converts");
        assert!(nothing.matches_nothing());
        assert!(!nothing.is_empty());
        assert_eq!(nothing.to_string(), "");
        check_label_match(&nothing, json!({}), false);
        check_label_match(&nothing, json!({"a": "b"}), false);

        let everything = LabelSelector::from_api(&json!({})).expect("empty converts");
        assert!(everything.is_empty());
        assert!(!everything.matches_nothing());
        check_label_match(&everything, Value::Null, true);

        let selector = LabelSelector::from_api(&json!({"matchLabels": {"app": "web"}})).expect("converts");
        assert!(!selector.is_empty());
        check_label_match(&selector, json!({"app": "web", "tier": "x"}), true);
        check_label_match(&selector, json!({"app": "db"}), false);
        assert!(selector.matches_object(&json!({"metadata": {"labels": {"app": "web"}}})));
        assert!(!selector.matches_object(&json!({"metadata": {"name": "unlabelled"}})));
    }

    /// Asks which value a label selector requires for `key`.
    fn check_label_exact(input: &str, key: &str, expected: Option<&str>) {
        let selector = LabelSelector::parse(input).expect("selector parses");
        assert_eq!(selector.requires_exact_match(key), expected, "{input:?} for {key}");
    }

    #[test]
    fn label_selector_exact_matches() {
        check_label_exact("a=x", "a", Some("x"));
        check_label_exact("a==x,b=y", "b", Some("y"));
        check_label_exact("a in (x)", "a", Some("x"));
        check_label_exact("a in (x,y)", "a", None);
        check_label_exact("a!=x", "a", None);
        check_label_exact("a", "a", None);
        check_label_exact("a=x,a=y", "a", Some("x"));
        check_label_exact("a!=x,a=y", "a", None);
        check_label_exact("b=x", "a", None);
    }

    /// Parses a field selector and compares its canonical string, or its error text.
    fn check_field_parse(input: &str, expected: Result<&str, &str>) {
        let got = FieldSelector::parse(input).map(|s| s.to_string()).map_err(|e| e.to_string());
        assert_eq!(got, expected.map(str::to_owned).map_err(str::to_owned), "fieldSelector {input:?}");
    }

    #[test]
    fn field_selector_parsing_and_escapes() {
        for (input, canonical) in [
            ("", ""),
            (",,", ""),
            ("metadata.name=foo", "metadata.name=foo"),
            ("b=1,a=2", "a=2,b=1"),
            ("a==b", "a=b"),
            ("a!=b", "a!=b"),
            ("a=", "a="),
            (",a=b,,", "a=b"),
            ("a=b\\,c", "a=b\\,c"),
            ("a=\\\\", "a=\\\\"),
            ("a=\\=", "a=\\="),
            ("a=x\\,y,b=z", "a=x\\,y,b=z"),
            ("a=é,b=ü", "a=é,b=ü"),
            ("a\\=b", "a\\=b"),
            ("metadata.name = x", "metadata.name = x"),
        ] {
            check_field_parse(input, Ok(canonical));
        }
        for (input, message) in [
            ("a", "invalid selector: 'a'; can't understand 'a'"),
            ("x=1,a", "invalid selector: 'x=1,a'; can't understand 'a'"),
            ("a!b", "invalid selector: 'a!b'; can't understand 'a!b'"),
            ("a=b=c", "invalid field selector: unescaped character in value: 61"),
            ("a!==b", "invalid field selector: unescaped character in value: 61"),
            ("a=b\\c", "invalid field selector: invalid escape sequence: \\c"),
            ("a=b\\é", "invalid field selector: invalid escape sequence: \\é"),
            ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
        ] {
            check_field_parse(input, Err(message));
        }
    }

    #[test]
    fn field_selector_values_are_unescaped() {
        let selector = FieldSelector::parse("a=x\\,y\\=z\\\\,b!=").expect("parses");
        let terms: Vec<(&str, FieldOperator, &str)> =
            selector.requirements().iter().map(|t| (t.field(), t.operator(), t.value())).collect();
        assert_eq!(terms, [("a", FieldOperator::Equals, "x,y=z\\"), ("b", FieldOperator::NotEquals, "")]);
    }

    /// Validates a field selector for a resource: `Ok` or the exact refusal.
    fn check_field_validate(group: &str, plural: &str, input: &str, expected: Result<(), &str>) {
        let selector = FieldSelector::parse(input).expect("selector parses");
        let got = selector.validate_for(group, plural).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "{input:?} on {group}/{plural}");
    }

    #[test]
    fn field_selector_validation_per_resource() {
        for (group, plural, input, expected) in [
            ("", "pods", "spec.nodeName=n1,status.phase=Running", Ok(())),
            ("", "pods", "spec.host=n1", Ok(())),
            ("", "pods", "status.podIPs=10.0.0.1", Ok(())),
            ("", "pods", "spec.foo=x", Err("field label not supported: spec.foo")),
            ("", "pods", "zz=1,aa=2", Err("field label not supported: aa")),
            ("", "pods", "metadata.name =x", Err("field label not supported: metadata.name ")),
            ("", "nodes", "spec.unschedulable=false", Ok(())),
            ("", "nodes", "metadata.namespace=x", Err("field label not supported: metadata.namespace")),
            ("", "namespaces", "status.phase=Active", Ok(())),
            ("", "namespaces", "name=x", Err("field label not supported: name")),
            ("", "secrets", "type=Opaque", Ok(())),
            ("", "services", "spec.clusterIP!=None,spec.type=ClusterIP", Ok(())),
            ("", "replicationcontrollers", "status.replicas=0", Ok(())),
            ("", "events", "involvedObject.name=x,source=kubelet,reportingComponent=k", Ok(())),
            ("", "events", "regarding.name=x", Err("field label not supported: regarding.name")),
            ("events.k8s.io", "events", "regarding.name=x,reportingController=k", Ok(())),
            ("events.k8s.io", "events", "involvedObject.name=x", Err("field label not supported: involvedObject.name")),
            ("batch", "jobs", "status.successful=1", Ok(())),
            ("batch", "jobs", "status.active=1", Err("field label \"status.active\" not supported for batchv1.Job")),
            ("certificates.k8s.io", "certificatesigningrequests", "spec.signerName=x", Ok(())),
            (
                "certificates.k8s.io",
                "certificatesigningrequests",
                "metadata.namespace=x",
                Err("field label not supported: metadata.namespace"),
            ),
            ("", "configmaps", "metadata.namespace=a,metadata.name=b", Ok(())),
            ("", "persistentvolumes", "metadata.namespace=", Ok(())),
            (
                "apps",
                "deployments",
                "status.replicas=1",
                Err(
                    "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                ),
            ),
            (
                "apps",
                "replicasets",
                "status.replicas=0",
                Err(
                    "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                ),
            ),
            ("", "configmaps", "", Ok(())),
        ] {
            check_field_validate(group, plural, input, expected);
        }
    }

    #[test]
    fn supported_fields_tables() {
        assert!(supported_fields("", "pods").contains(&"spec.hostNetwork"));
        assert!(supported_fields("", "pods").contains(&"spec.host"));
        assert_eq!(supported_fields("", "nodes"), ["metadata.name", "spec.unschedulable"]);
        assert_eq!(supported_fields("apps", "replicasets"), ["metadata.name", "metadata.namespace"]);
        assert_eq!(supported_fields("example.com", "widgets"), ["metadata.name", "metadata.namespace"]);
        assert_eq!(supported_fields("batch", "jobs"), ["metadata.name", "metadata.namespace", "status.successful"]);
        // Every listed field must be accepted by the conversion that validation uses.
        for resource in RESOURCE_FIELDS {
            for field in resource.fields {
                assert!(convert_field_label(resource.group, resource.plural, field).is_ok(), "{field}");
            }
        }
    }

    #[test]
    fn pods_spec_host_converts_to_node_name() {
        let selector = FieldSelector::parse("spec.host=n1").expect("parses");
        let converted = selector.convert_for("", "pods").expect("supported");
        assert_eq!(converted.to_string(), "spec.nodeName=n1");
        assert_eq!(converted.requires_exact_match("spec.nodeName"), Some("n1"));
        assert_eq!(selector.requires_exact_match("spec.nodeName"), None);
    }

    /// Reads one field of an object as a field selector sees it.
    fn check_field_value(object: &Value, group: &str, plural: &str, field: &str, expected: &str) {
        assert_eq!(field_value(object, group, plural, field), expected, "{field} of {group}/{plural}");
    }

    #[test]
    fn field_values_follow_upstream_field_sets() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "serviceAccountName": "sa", "hostNetwork": true},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.2"}, {"ip": "fd00::2"}],
                       "nominatedNodeName": "n2"}
        });
        let bare_pod = json!({"metadata": {"name": "q"}});
        let both_ips = json!({"status": {"podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.2"}]}});
        let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        let rc = json!({"metadata": {"name": "rc"}, "status": {"replicas": 3}});
        let job = json!({"metadata": {"name": "j"}, "status": {"succeeded": 2, "active": 1}});
        let csr = json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}});
        let core_event = json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "p", "uid": "u1", "apiVersion": "v1"},
            "reason": "Started", "type": "Normal", "reportingComponent": "kubelet", "source": {}
        });
        let sourced_event = json!({"source": {"component": "scheduler"}, "reportingComponent": "kubelet"});
        let new_event = json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "regarding": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
            "reason": "Pulled", "type": "Warning", "reportingController": "kubelet",
            "deprecatedSource": {"component": "legacy"}
        });
        for (object, group, plural, field, expected) in [
            (&pod, "", "pods", "metadata.name", "p"),
            (&pod, "", "pods", "metadata.namespace", "ns"),
            (&pod, "", "pods", "spec.nodeName", "n1"),
            (&pod, "", "pods", "spec.host", "n1"),
            (&pod, "", "pods", "spec.restartPolicy", "Always"),
            (&pod, "", "pods", "spec.schedulerName", "default-scheduler"),
            (&pod, "", "pods", "spec.serviceAccountName", "sa"),
            (&pod, "", "pods", "spec.hostNetwork", "true"),
            (&pod, "", "pods", "status.phase", "Running"),
            (&pod, "", "pods", "status.podIP", "10.0.0.2"),
            (&pod, "", "pods", "status.podIPs", ""),
            (&pod, "", "pods", "status.nominatedNodeName", "n2"),
            (&pod, "", "pods", "spec.unknown", ""),
            (&bare_pod, "", "pods", "spec.hostNetwork", "false"),
            (&bare_pod, "", "pods", "status.podIP", ""),
            (&bare_pod, "", "pods", "metadata.namespace", ""),
            (&both_ips, "", "pods", "status.podIP", "10.0.0.9"),
            (&node, "", "nodes", "spec.unschedulable", "true"),
            (&bare_pod, "", "nodes", "spec.unschedulable", "false"),
            (&rc, "", "replicationcontrollers", "status.replicas", "3"),
            (&bare_pod, "", "replicationcontrollers", "status.replicas", "0"),
            (&job, "batch", "jobs", "status.successful", "2"),
            (&bare_pod, "batch", "jobs", "status.successful", "0"),
            (
                &csr,
                "certificates.k8s.io",
                "certificatesigningrequests",
                "spec.signerName",
                "kubernetes.io/kubelet-serving",
            ),
            (&core_event, "", "events", "involvedObject.kind", "Pod"),
            (&core_event, "", "events", "involvedObject.uid", "u1"),
            (&core_event, "", "events", "involvedObject.apiVersion", "v1"),
            (&core_event, "", "events", "involvedObject.namespace", ""),
            (&core_event, "", "events", "involvedObject.other", ""),
            (&core_event, "", "events", "reason", "Started"),
            (&core_event, "", "events", "type", "Normal"),
            (&core_event, "", "events", "reportingComponent", "kubelet"),
            (&core_event, "", "events", "source", "kubelet"),
            (&sourced_event, "", "events", "source", "scheduler"),
            (&new_event, "events.k8s.io", "events", "regarding.kind", "Pod"),
            (&new_event, "events.k8s.io", "events", "regarding.fieldPath", "spec.containers{c}"),
            (&new_event, "events.k8s.io", "events", "reportingController", "kubelet"),
            (&new_event, "events.k8s.io", "events", "source", "legacy"),
            (&new_event, "events.k8s.io", "events", "reason", "Pulled"),
            (&new_event, "events.k8s.io", "events", "involvedObject.kind", ""),
            (&json!({"reportingController": "kubelet"}), "events.k8s.io", "events", "source", "kubelet"),
        ] {
            check_field_value(object, group, plural, field, expected);
        }
    }

    /// Matches a field selector against an object of a resource.
    fn check_field_match(input: &str, object: &Value, group: &str, plural: &str, expected: bool) {
        let selector = FieldSelector::parse(input).expect("selector parses");
        assert_eq!(selector.matches(object, group, plural), expected, "{input:?} on {group}/{plural}");
    }

    #[test]
    fn field_selector_matching() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"},
                         "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.2"}]}});
        let node = json!({"metadata": {"name": "n1"}});
        let secret = json!({"metadata": {"name": "s", "namespace": "ns"}, "type": "a=b,c"});
        for (input, object, group, plural, expected) in [
            ("", &pod, "", "pods", true),
            ("spec.nodeName=n1", &pod, "", "pods", true),
            ("spec.nodeName==n1", &pod, "", "pods", true),
            ("spec.host=n1", &pod, "", "pods", true),
            ("spec.nodeName!=n1", &pod, "", "pods", false),
            ("spec.nodeName=", &pod, "", "pods", false),
            ("spec.nodeName=n1,status.phase!=Running", &pod, "", "pods", false),
            ("spec.nodeName=n1,status.phase!=Pending", &pod, "", "pods", true),
            ("status.podIP=10.0.0.2", &pod, "", "pods", true),
            ("status.podIPs=10.0.0.2", &pod, "", "pods", false),
            ("status.podIPs=", &pod, "", "pods", true),
            ("spec.hostNetwork=false", &pod, "", "pods", true),
            ("metadata.namespace=ns,metadata.name=p", &pod, "", "pods", true),
            ("metadata.namespace=other", &pod, "", "pods", false),
            ("spec.unschedulable=false", &node, "", "nodes", true),
            ("spec.unschedulable!=true", &node, "", "nodes", true),
            ("metadata.namespace=", &node, "", "nodes", true),
            ("type=a\\=b\\,c", &secret, "", "secrets", true),
            ("type!=a\\=b\\,c", &secret, "", "secrets", false),
        ] {
            check_field_match(input, object, group, plural, expected);
        }
    }

    /// Asks which name and namespace a field selector pins down.
    fn check_field_exact(input: &str, name: Option<&str>, namespace: Option<&str>) {
        let selector = FieldSelector::parse(input).expect("selector parses");
        assert_eq!((selector.required_name(), selector.required_namespace()), (name, namespace), "{input:?}");
    }

    #[test]
    fn field_selector_exact_matches() {
        check_field_exact("", None, None);
        check_field_exact("metadata.name=a,metadata.namespace=b", Some("a"), Some("b"));
        check_field_exact("metadata.name==a", Some("a"), None);
        check_field_exact("metadata.name!=a", None, None);
        check_field_exact("metadata.name=b,metadata.name=a", Some("a"), None);
        check_field_exact("metadata.name!=z,metadata.name=y", Some("y"), None);
        check_field_exact("metadata.namespace=x\\,y", None, Some("x,y"));
        check_field_exact("metadata.name=", Some(""), None);
    }

    #[test]
    fn go_quoting() {
        for (input, quoted) in [
            ("plain", "\"plain\""),
            ("a\"b\\c", "\"a\\\"b\\\\c\""),
            ("\n\t\r\u{7}\u{8}\u{b}\u{c}", "\"\\n\\t\\r\\a\\b\\v\\f\""),
            ("\u{1}\u{7f}", "\"\\x01\\x7f\""),
            ("é ü", "\"é ü\""),
            ("\u{a0}\u{feff}\u{2028}", "\"\\u00a0\\ufeff\\u2028\""),
            ("\u{e0001}", "\"\\U000e0001\""),
            ("😀", "\"😀\""),
        ] {
            assert_eq!(go_quote(input), quoted, "{input:?}");
        }
    }

    #[test]
    fn every_error_variant_prints_upstream_text() {
        let cases = [
            (
                SelectorError::LabelRequirement("found '', expected: identifier".into()),
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                SelectorError::LabelUnexpectedToken { found: "=".into(), expected: "',' or 'end of string'" },
                "found '=', expected: ',' or 'end of string'",
            ),
            (
                SelectorError::InvalidLabelRequirement("key: Invalid value: \"\": x".into()),
                "key: Invalid value: \"\": x",
            ),
            (SelectorError::UnknownLabelSelectorOperator("Gt".into()), "\"Gt\" is not a valid label selector operator"),
            (
                SelectorError::MalformedLabelSelector("matchLabels must be an object"),
                "invalid label selector: matchLabels must be an object",
            ),
            (
                SelectorError::FieldSelectorTerm { selector: "a,b=c".into(), term: "a".into() },
                "invalid selector: 'a,b=c'; can't understand 'a'",
            ),
            (SelectorError::FieldSelectorEscape("\\x".into()), "invalid field selector: invalid escape sequence: \\x"),
            (SelectorError::FieldSelectorUnescaped('='), "invalid field selector: unescaped character in value: 61"),
            (SelectorError::FieldSelectorUnescaped(','), "invalid field selector: unescaped character in value: 44"),
            (SelectorError::FieldLabelNotSupported("spec.x".into()), "field label not supported: spec.x"),
            (
                SelectorError::JobFieldLabelNotSupported("status.x".into()),
                "field label \"status.x\" not supported for batchv1.Job",
            ),
            (
                SelectorError::UnknownFieldLabel("spec.x".into()),
                "\"spec.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }
}
