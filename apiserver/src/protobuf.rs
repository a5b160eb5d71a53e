//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`)
//! turned into the JSON objects the rest of the server works on. client-go
//! 1.32 and later (kubectl 1.32+, and the controllers and operators built on
//! it) send built-in objects this way from typed clients: `kubectl create
//! namespace`, evictions, deletes with options.
//!
//! The envelope is upstream's: the magic `k8s\0`, then a `runtime.Unknown`
//! whose `typeMeta` names the kind and whose `raw` holds the object's
//! message. The message is read with the field table of `schema/`: for
//! every field of every type, its number, JSON name, whether it is a list,
//! a map, a pointer, `omitempty`, or inlined in JSON. From that the decoder gives
//! what Go's decode-then-JSON-encode would give: a pointer field present on
//! the wire stays even when zero (`replicas: 0`, `gracePeriodSeconds: 0`),
//! an `omitempty` value field that is zero is left out, as encoding/json
//! leaves it out. The types with a wire form of their own (Time,
//! MicroTime, Quantity, IntOrString, RawExtension, FieldsV1) are
//! converted to their JSON spelling (metav1.Duration is used by none of
//! the served kinds, so it has no entry).
//!
//! CustomResourceDefinitions are not in the table yet (their protobuf
//! bodies get a 400 naming the kind); custom resources have no protobuf
//! encoding at all, upstream refuses them too. Responses stay JSON, which
//! every client accepts.

use base64::Engine;
use serde_json::{Map, Value};

use crate::schema::{self, Field, INLINE, MAP, OMIT, PTR, REP, Ty, WRAP};

/// What is wrong with a protobuf body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("the body does not start with the Kubernetes protobuf magic number (k8s\\0)")]
    NoMagic,
    #[error("the protobuf body is truncated or malformed at byte {0}")]
    Malformed(usize),
    #[error("no protobuf encoding is known for {api_version} {kind}")]
    UnknownKind { api_version: String, kind: String },
    #[error("field {field} is not valid: {reason}")]
    Invalid { field: String, reason: String },
}

const MAGIC: &[u8] = b"k8s\0";

/// A whole request body: envelope and object, as a JSON object with its
/// `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let mut reader = Reader { buf: rest, pos: 0, base: MAGIC.len() };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), None);
    while let Some((number, wire)) = reader.key()? {
        match (number, wire) {
            (1, 2) => {
                let mut meta = reader.sub()?;
                while let Some((n, w)) = meta.key()? {
                    match (n, w) {
                        (1, 2) => api_version = meta.string()?,
                        (2, 2) => kind = meta.string()?,
                        _ => meta.skip(w)?,
                    }
                }
            }
            (2, 2) => raw = Some(reader.sub()?),
            _ => reader.skip(wire)?,
        }
    }
    let name = schema::root_type(&api_version, &kind)
        .ok_or_else(|| ProtobufError::UnknownKind { api_version: api_version.clone(), kind: kind.clone() })?;
    let mut object = match raw {
        Some(mut raw) => message(&mut raw, name, "")?,
        None => Map::new(),
    };
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    Ok(Value::Object(object))
}

/// Reads protobuf's wire format from a slice.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Where `buf` starts in the whole body, for error positions.
    base: usize,
}

impl<'a> Reader<'a> {
    fn malformed(&self) -> ProtobufError {
        ProtobufError::Malformed(self.base + self.pos)
    }

    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or_else(|| self.malformed())?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.malformed())
    }

    /// The next field's number and wire type, or `None` at the end.
    fn key(&mut self) -> Result<Option<(u32, u8)>, ProtobufError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| self.malformed())?;
        if number == 0 {
            return Err(self.malformed());
        }
        Ok(Some((number, (key & 7) as u8)))
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProtobufError> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.malformed())?;
        let end = self.pos.checked_add(len).filter(|e| *e <= self.buf.len()).ok_or_else(|| self.malformed())?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn sub(&mut self) -> Result<Reader<'a>, ProtobufError> {
        let buf = self.bytes()?;
        let base = self.base + self.pos - buf.len();
        Ok(Reader { buf, pos: 0, base })
    }

    fn string(&mut self) -> Result<String, ProtobufError> {
        let at = self.base + self.pos;
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::Malformed(at))
    }

    fn fixed(&mut self, n: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or_else(|| self.malformed())?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn skip(&mut self, wire: u8) -> Result<(), ProtobufError> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.fixed(8).map(drop),
            2 => self.bytes().map(drop),
            5 => self.fixed(4).map(drop),
            _ => Err(self.malformed()),
        }
    }
}

fn invalid(path: &str, reason: impl Into<String>) -> ProtobufError {
    ProtobufError::Invalid { field: path.to_string(), reason: reason.into() }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

/// One message of type `name`, as a JSON object.
fn message(reader: &mut Reader<'_>, name: &str, path: &str) -> Result<Map<String, Value>, ProtobufError> {
    let fields =
        schema::fields(name).ok_or_else(|| invalid(path, format!("no protobuf encoding is known for {name}")))?;
    let mut out = Map::new();
    while let Some((number, wire)) = reader.key()? {
        let Some(field) = fields.iter().find(|f| f.number == number) else {
            reader.skip(wire)?;
            continue;
        };
        let here = join(path, field.json);
        if field.has(INLINE) {
            let Ty::Message(inner) = field.ty else { return Err(invalid(&here, "an inlined field is not a message")) };
            let mut sub = reader.sub()?;
            out.extend(message(&mut sub, inner, path)?);
        } else if field.has(MAP) {
            let mut entry = reader.sub()?;
            let (mut key, mut value) = (String::new(), None);
            while let Some((n, w)) = entry.key()? {
                match n {
                    1 => key = entry.string()?,
                    2 if field.has(WRAP) => value = Some(Value::Array(wrapped_items(&mut entry, field, w, &here)?)),
                    2 => value = Some(single(&mut entry, field.ty, w, &here)?),
                    _ => entry.skip(w)?,
                }
            }
            let value = value.unwrap_or_else(|| zero(field.ty));
            let map = out.entry(field.json).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = map {
                map.insert(key, value);
            }
        } else if field.has(REP) {
            let items = if field.has(WRAP) {
                wrapped_items(reader, field, wire, &here)?
            } else {
                repeated(reader, field.ty, wire, &here)?
            };
            let list = out.entry(field.json).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.extend(items);
            }
        } else {
            let value = single(reader, field.ty, wire, &here)?;
            out.insert(field.json.to_string(), value);
        }
    }
    // What encoding/json leaves out: zero values of omitempty fields that are not pointers.
    for field in fields.iter().filter(|f| f.has(OMIT) && !f.has(PTR) && !f.has(INLINE)) {
        if out.get(field.json).is_some_and(is_empty) {
            out.remove(field.json);
        }
    }
    Ok(out)
}

/// What encoding/json's omitempty counts as empty.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// The JSON value of a map entry that has no value on the wire.
fn zero(ty: Ty) -> Value {
    match ty {
        Ty::String | Ty::Bytes | Ty::Quantity => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::Int | Ty::Float => Value::from(0),
        _ => Value::Null,
    }
}

/// The items of a list field: one per occurrence, or several packed in one.
fn repeated(reader: &mut Reader<'_>, ty: Ty, wire: u8, path: &str) -> Result<Vec<Value>, ProtobufError> {
    let packable = matches!(ty, Ty::Int | Ty::Bool | Ty::Float);
    if packable && wire == 2 {
        let mut packed = reader.sub()?;
        let mut items = Vec::new();
        while packed.pos < packed.buf.len() {
            items.push(scalar(&mut packed, ty, if ty == Ty::Float { 1 } else { 0 }, path)?);
        }
        return Ok(items);
    }
    Ok(vec![single(reader, ty, wire, path)?])
}

/// A named slice's items, wrapped in a message `{items = 1}`.
fn wrapped_items(reader: &mut Reader<'_>, field: &Field, wire: u8, path: &str) -> Result<Vec<Value>, ProtobufError> {
    if wire != 2 {
        return Err(invalid(path, "a list was expected"));
    }
    let mut inner = reader.sub()?;
    let mut items = Vec::new();
    while let Some((n, w)) = inner.key()? {
        if n == 1 {
            items.extend(repeated(&mut inner, field.ty, w, path)?);
        } else {
            inner.skip(w)?;
        }
    }
    Ok(items)
}

fn scalar(reader: &mut Reader<'_>, ty: Ty, wire: u8, path: &str) -> Result<Value, ProtobufError> {
    let wrong = || invalid(path, format!("wire type {wire} does not fit a {ty:?}"));
    match (ty, wire) {
        (Ty::Bool, 0) => Ok(Value::Bool(reader.varint()? != 0)),
        // int32 and int64 both travel as two's-complement varints.
        (Ty::Int, 0) => Ok(Value::from(reader.varint()? as i64)),
        (Ty::Float, 1) => {
            let bytes = reader.fixed(8)?;
            let value = f64::from_le_bytes(bytes.try_into().map_err(|_| reader.malformed())?);
            Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
        }
        (Ty::Float, 5) => {
            let bytes = reader.fixed(4)?;
            let value = f32::from_le_bytes(bytes.try_into().map_err(|_| reader.malformed())?);
            Ok(serde_json::Number::from_f64(f64::from(value)).map_or(Value::Null, Value::Number))
        }
        _ => Err(wrong()),
    }
}

/// One value of a field that is not a list.
fn single(reader: &mut Reader<'_>, ty: Ty, wire: u8, path: &str) -> Result<Value, ProtobufError> {
    if matches!(ty, Ty::Bool | Ty::Int | Ty::Float) {
        return scalar(reader, ty, wire, path);
    }
    if wire != 2 {
        return Err(invalid(path, format!("wire type {wire} does not fit a {ty:?}")));
    }
    match ty {
        Ty::String => reader.string().map(Value::String),
        Ty::Bytes => Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(reader.bytes()?))),
        Ty::Message(name) => message(&mut reader.sub()?, name, path).map(Value::Object),
        Ty::Time | Ty::MicroTime => time(&mut reader.sub()?, ty == Ty::MicroTime, path),
        Ty::Raw => {
            let mut sub = reader.sub()?;
            let mut raw: &[u8] = &[];
            while let Some((n, w)) = sub.key()? {
                match (n, w) {
                    (1, 2) => raw = sub.bytes()?,
                    _ => sub.skip(w)?,
                }
            }
            if raw.is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_slice(raw).map_err(|e| invalid(path, format!("the embedded object is not JSON: {e}")))
        }
        Ty::Quantity => {
            let mut sub = reader.sub()?;
            let mut text = String::new();
            while let Some((n, w)) = sub.key()? {
                match (n, w) {
                    (1, 2) => text = sub.string()?,
                    _ => sub.skip(w)?,
                }
            }
            Ok(Value::String(text))
        }
        Ty::IntOrString => {
            let mut sub = reader.sub()?;
            let (mut kind, mut int, mut text) = (0u64, 0i64, String::new());
            while let Some((n, w)) = sub.key()? {
                match (n, w) {
                    (1, 0) => kind = sub.varint()?,
                    (2, 0) => int = sub.varint()? as i32 as i64,
                    (3, 2) => text = sub.string()?,
                    _ => sub.skip(w)?,
                }
            }
            Ok(if kind == 1 { Value::String(text) } else { Value::from(int) })
        }
        Ty::Bool | Ty::Int | Ty::Float => scalar(reader, ty, wire, path),
    }
}

/// A Time or MicroTime: an empty message is the zero time, `null` in JSON.
fn time(sub: &mut Reader<'_>, micro: bool, path: &str) -> Result<Value, ProtobufError> {
    if sub.buf.is_empty() {
        return Ok(Value::Null);
    }
    let (mut seconds, mut nanos) = (0i64, 0i64);
    while let Some((n, w)) = sub.key()? {
        match (n, w) {
            (1, 0) => seconds = sub.varint()? as i64,
            (2, 0) => nanos = sub.varint()? as i64,
            _ => sub.skip(w)?,
        }
    }
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(invalid(path, format!("nanos {nanos} is out of range")));
    }
    // metav1.Time keeps whole seconds only, as upstream's unmarshaller does.
    Ok(Value::String(if micro {
        crate::time::format_rfc3339_micros(seconds, (nanos / 1000) as u32)
    } else {
        crate::time::format_rfc3339(seconds)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A tiny protobuf writer for the tests.
    #[derive(Default)]
    struct W(Vec<u8>);

    impl W {
        fn varint(&mut self, mut v: u64) -> &mut W {
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    self.0.push(byte);
                    return self;
                }
                self.0.push(byte | 0x80);
            }
        }
        fn key(&mut self, n: u32, wire: u8) -> &mut W {
            self.varint(u64::from(n) << 3 | u64::from(wire))
        }
        fn bytes(&mut self, n: u32, b: &[u8]) -> &mut W {
            self.key(n, 2).varint(b.len() as u64);
            self.0.extend_from_slice(b);
            self
        }
        fn int(&mut self, n: u32, v: i64) -> &mut W {
            self.key(n, 0).varint(v as u64)
        }
        fn done(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.0)
        }
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = W::default().bytes(1, api_version.as_bytes()).bytes(2, kind.as_bytes()).done();
        let unknown = W::default().bytes(1, &type_meta).bytes(2, raw).done();
        [MAGIC, &unknown].concat()
    }

    #[test]
    fn a_namespace_as_kubectl_creates_it() {
        // ObjectMeta as Go marshals it: every value field, zero or not, and a zero creationTimestamp.
        let meta = W::default()
            .bytes(1, b"team-a")
            .bytes(2, b"")
            .bytes(3, b"")
            .bytes(5, b"")
            .bytes(6, b"")
            .int(7, 0)
            .bytes(8, b"")
            .done();
        let spec = W::default().done();
        let status = W::default().bytes(1, b"").done();
        let raw = W::default().bytes(1, &meta).bytes(2, &spec).bytes(3, &status).done();
        let decoded = decode(&envelope("v1", "Namespace", &raw)).expect("decode");
        assert_eq!(
            decoded,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "creationTimestamp": null},
                   "spec": {}, "status": {}})
        );
    }

    #[test]
    fn pointers_keep_their_zero_and_special_types_convert() {
        // A Deployment with replicas: 0 (a pointer), maxSurge "25%", maxUnavailable 0, a label map.
        let labels = W::default().bytes(1, b"app").bytes(2, b"web").done();
        let meta = W::default().bytes(1, b"web").bytes(11, &labels).done();
        let surge = W::default().int(1, 1).bytes(3, b"25%").done();
        let unavailable = W::default().int(1, 0).int(2, 0).done();
        let rolling = W::default().bytes(1, &unavailable).bytes(2, &surge).done();
        let strategy = W::default().bytes(1, b"RollingUpdate").bytes(2, &rolling).done();
        let spec = W::default().int(1, 0).bytes(4, &strategy).int(5, 0).done();
        let raw = W::default().bytes(1, &meta).bytes(2, &spec).done();
        let decoded = decode(&envelope("apps/v1", "Deployment", &raw)).expect("decode");
        assert_eq!(decoded["spec"]["replicas"], 0, "{decoded}");
        assert!(decoded["spec"].get("minReadySeconds").is_none(), "a zero omitempty value is left out: {decoded}");
        assert_eq!(decoded["spec"]["strategy"]["rollingUpdate"], json!({"maxSurge": "25%", "maxUnavailable": 0}));
        assert_eq!(decoded["metadata"]["labels"], json!({"app": "web"}));
    }

    #[test]
    fn delete_options_secrets_and_times() {
        let options = W::default().int(1, 0).bytes(4, b"Foreground").bytes(5, b"All").done();
        let decoded = decode(&envelope("v1", "DeleteOptions", &options)).expect("decode");
        assert_eq!(decoded["gracePeriodSeconds"], 0);
        assert_eq!(decoded["propagationPolicy"], "Foreground");
        assert_eq!(decoded["dryRun"], json!(["All"]));

        let entry = W::default().bytes(1, b"password").bytes(2, b"hunter2").done();
        let when = W::default().int(1, 1_700_000_000).int(2, 123_456_789).done();
        let meta = W::default().bytes(1, b"creds").bytes(8, &when).done();
        let raw = W::default().bytes(1, &meta).bytes(2, &entry).bytes(3, b"Opaque").done();
        let secret = decode(&envelope("v1", "Secret", &raw)).expect("decode");
        assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        assert_eq!(decode(b"{}"), Err(ProtobufError::NoMagic));
        assert!(matches!(decode(&envelope("example.com/v1", "Widget", b"")), Err(ProtobufError::UnknownKind { .. })));
        let truncated = envelope("v1", "ConfigMap", &W::default().bytes(1, b"xxxx").done());
        assert!(decode(&truncated[..truncated.len() - 2]).is_err());
        // Every prefix of a valid body and a few corruptions: an error or a value, never a panic.
        let good = envelope("v1", "ConfigMap", &W::default().bytes(1, &W::default().bytes(1, b"c").done()).done());
        for cut in 0..good.len() {
            let _ = decode(&good[..cut]);
            let mut flipped = good.clone();
            flipped[cut] ^= 0xff;
            let _ = decode(&flipped);
        }
    }
}
