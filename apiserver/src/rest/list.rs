//! LIST with label and field selectors, `limit`/`continue` pagination at
//! one consistent revision (upstream's continue token format), and
//! `resourceVersion`/`resourceVersionMatch` semantics: unset is a
//! consistent read of the latest state, `0` any recent state, `N` with
//! `Exact` the state at N. A token or revision older than the compacted
//! history is 410 Expired.

use base64::Engine;
use kvstore::datastore::{DatastoreError, ListRequest, prefix_end};
use serde_json::{Value, json};

use super::Ctx;
use crate::cache::Freshness;
use crate::http::Reply;
use crate::negotiate::Format;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::storage;

/// The selectors of a request.
pub(crate) struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn from_query(ctx: &Ctx<'_>) -> Result<Selectors, ApiError> {
        let labels = match ctx.query.get("labelSelector") {
            Some(s) => LabelSelector::parse(s).map_err(|e| ApiError::BadRequest(e.to_string()))?,
            None => LabelSelector::everything(),
        };
        let fields = match ctx.query.get("fieldSelector") {
            Some(s) => {
                let parsed = FieldSelector::parse(s).map_err(|e| ApiError::BadRequest(e.to_string()))?;
                parsed
                    .convert_for(ctx.resource.group, ctx.resource.plural)
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?
            }
            None => FieldSelector::everything(),
        };
        Ok(Selectors { labels, fields })
    }

    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, ctx: &Ctx<'_>, obj: &Value) -> bool {
        self.labels.matches_object(obj) && self.fields.matches(obj, ctx.resource.group, ctx.resource.plural)
    }
}

const CONTINUE_TOO_OLD: &str = "The provided continue parameter is too old to display a consistent list result. \
You can start a new list without the continue parameter, or use the continue token in this response to retrieve \
the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that \
were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// Upstream's continue token: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after prefix>"}`.
fn encode_continue(revision: i64, start: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": revision, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::BadRequest(format!("continue key is not valid: {token}"));
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token))
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if value.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(bad());
    }
    let rv = value.get("rv").and_then(Value::as_i64).filter(|rv| *rv > 0).ok_or_else(bad)?;
    let start = value.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    // The start key may not escape the collection's prefix.
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((rv, start.to_string()))
}

pub(crate) fn parse_limit(ctx: &Ctx<'_>) -> Result<i64, ApiError> {
    match ctx.query.get("limit") {
        None | Some("") => Ok(0),
        Some(l) => l.parse::<i64>().map(|l| l.max(0)).map_err(|_| ApiError::BadRequest(format!("invalid limit: {l}"))),
    }
}

/// The revision a list reads at, from `resourceVersion` and `resourceVersionMatch`.
fn read_revision(ctx: &Ctx<'_>) -> Result<i64, ApiError> {
    let rv = ctx.query.get("resourceVersion").unwrap_or("");
    let matching = ctx.query.get("resourceVersionMatch").unwrap_or("");
    match (rv, matching) {
        ("", "") => Ok(0),
        ("", m) => Err(ApiError::BadRequest(format!(
            "resourceVersionMatch is forbidden unless resourceVersion is provided (got {m})"
        ))),
        ("0", "" | "NotOlderThan") => Ok(0),
        (rv, m) => {
            let n: i64 = rv.parse().map_err(|_| ApiError::BadRequest(format!("invalid resourceVersion: {rv}")))?;
            match m {
                "Exact" if n == 0 => Err(ApiError::BadRequest(
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"".into(),
                )),
                "Exact" => Ok(n),
                // NotOlderThan (or unset with a non-zero resourceVersion): the latest state is not older.
                "" | "NotOlderThan" => Ok(0),
                other => Err(ApiError::BadRequest(format!(
                    "invalid resourceVersionMatch: {other}; supported values: \"Exact\", \"NotOlderThan\""
                ))),
            }
        }
    }
}

/// How fresh a list must be when the watch cache may serve it, as
/// upstream decides (`shouldDelegateList`): exact revisions, continue
/// tokens and the legacy "exact with a limit" go to the store.
fn cache_freshness(ctx: &Ctx<'_>, limit: i64) -> Option<Freshness> {
    if ctx.query.get("continue").is_some_and(|c| !c.is_empty()) {
        return None;
    }
    let rv = ctx.query.get("resourceVersion").unwrap_or("");
    match (rv, ctx.query.get("resourceVersionMatch").unwrap_or("")) {
        ("", _) => Some(Freshness::Latest),
        ("0", _) => Some(Freshness::Any),
        (_, "Exact") => None,
        (_, "") if limit > 0 => None,
        (n, _) => n.parse().ok().map(Freshness::AtLeast),
    }
}

pub(crate) async fn list(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let selectors = Selectors::from_query(ctx)?;
    let limit = parse_limit(ctx)?;
    let prefix = storage::prefix(ctx.resource, ctx.namespace());
    let prefix_str = String::from_utf8_lossy(&prefix).into_owned();
    let (mut revision, mut start) = match ctx.query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, start) = decode_continue(token)?;
            let mut key = prefix.clone();
            key.extend_from_slice(start.as_bytes());
            (rv, key)
        }
        None => (read_revision(ctx)?, prefix.clone()),
    };
    let end = prefix_end(&prefix);
    let continuing = start != prefix;
    let snapshot = match cache_freshness(ctx, limit) {
        Some(freshness) => {
            let root = storage::prefix(ctx.resource, None);
            ctx.api.cache.snapshot(&root, &prefix, &end, freshness).await
        }
        None => None,
    };
    let mut items = ListBody::new(ctx)?;
    let mut next_start: Option<Vec<u8>> = None;
    let mut remaining: Option<i64> = None;
    loop {
        // With selectors, read in pages of at least `limit` and filter, as upstream does.
        let page = if limit > 0 { limit.max(if selectors.is_everything() { 0 } else { 100 }) } else { 0 };
        let read = match &snapshot {
            Some(snapshot) => Ok(snapshot.page(&start, page)),
            None => {
                let request =
                    ListRequest { start: start.clone(), end: end.clone(), limit: page, revision, ..Default::default() };
                ctx.api.store.list(request).await
            }
        };
        let result = read.map_err(|e| match e {
            DatastoreError::Compacted if continuing => ApiError::Expired(CONTINUE_TOO_OLD.into()),
            DatastoreError::Compacted => ApiError::Expired(format!(
                "The resourceVersion for the provided list is too old (resourceVersion: {revision})"
            )),
            other => other.into(),
        })?;
        revision = result.revision;
        let mut last_key: Option<&[u8]> = None;
        for kv in &result.kvs {
            last_key = Some(&kv.key);
            let obj = storage::decode(ctx.resource, kv)?;
            if selectors.matches(ctx, &obj) {
                items.push(ctx, obj)?;
                if limit > 0 && items.len() as i64 >= limit {
                    break;
                }
            }
        }
        let full = limit > 0 && items.len() as i64 >= limit;
        let consumed_all = last_key.is_some_and(|k| result.kvs.last().is_some_and(|l| l.key.as_slice() == k));
        let more_in_store = result.more || (full && !consumed_all);
        if full {
            if more_in_store {
                let mut next = last_key.unwrap_or(&start).to_vec();
                next.push(0);
                next_start = Some(next);
                if selectors.is_everything() {
                    remaining = Some((result.count - result.kvs.len() as i64).max(0));
                }
            }
            break;
        }
        if !result.more {
            break;
        }
        let Some(last) = last_key else { break };
        let mut next = last.to_vec();
        next.push(0);
        start = next;
    }
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(next) = next_start {
        let suffix = String::from_utf8_lossy(&next[prefix.len().min(next.len())..]).into_owned();
        debug_assert!(String::from_utf8_lossy(&next).starts_with(&prefix_str));
        metadata["continue"] = json!(encode_continue(revision, &suffix));
        if let Some(remaining) = remaining.filter(|r| *r > 0) {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    items.finish(ctx, metadata)
}

/// A list's body, written item by item as the items are read, so that a
/// list of a thousand objects never holds a thousand decoded objects:
/// JSON items or Table rows are serialized at once; only YAML collects them.
enum ListBody {
    Json { buf: Vec<u8>, count: usize },
    Metadata { buf: Vec<u8>, count: usize, version: &'static str },
    Table { buf: Vec<u8>, count: usize, rows: crate::table::Rows, version: &'static str },
    Yaml { items: Vec<Value> },
}

impl ListBody {
    fn new(ctx: &Ctx<'_>) -> Result<ListBody, ApiError> {
        Ok(match ctx.format {
            Format::Json => ListBody::Json { buf: Vec::new(), count: 0 },
            Format::Metadata { version } => ListBody::Metadata { buf: Vec::new(), count: 0, version },
            Format::Table { version } => ListBody::Table {
                buf: Vec::new(),
                count: 0,
                rows: crate::table::Rows::new(ctx.query, version)?,
                version,
            },
            Format::Yaml => ListBody::Yaml { items: Vec::new() },
        })
    }

    fn len(&self) -> usize {
        match self {
            ListBody::Json { count, .. } | ListBody::Metadata { count, .. } | ListBody::Table { count, .. } => *count,
            ListBody::Yaml { items } => items.len(),
        }
    }

    fn push(&mut self, ctx: &Ctx<'_>, obj: Value) -> Result<(), ApiError> {
        let encode = |buf: &mut Vec<u8>, count: &mut usize, value: &Value| {
            if *count > 0 {
                buf.push(b',');
            }
            *count += 1;
            serde_json::to_writer(buf, value).map_err(|e| ApiError::Internal(format!("cannot encode the list: {e}")))
        };
        match self {
            ListBody::Json { buf, count } => encode(buf, count, &obj),
            ListBody::Metadata { buf, count, version } => {
                encode(buf, count, &crate::negotiate::partial_metadata(&obj, version))
            }
            ListBody::Table { buf, count, rows, .. } => encode(buf, count, &rows.row(ctx.resource, &obj)),
            ListBody::Yaml { items } => {
                items.push(obj);
                Ok(())
            }
        }
    }

    fn finish(self, ctx: &Ctx<'_>, metadata: Value) -> Result<Reply, ApiError> {
        let resource = ctx.resource;
        let wrap = |head: Value, list_field: &str, items: Vec<u8>| -> Reply {
            // `head` is an object; the items go in as its last field, already encoded.
            let mut body = head.to_string().into_bytes();
            body.pop();
            body.extend_from_slice(format!(",\"{list_field}\":[").as_bytes());
            body.extend_from_slice(&items);
            body.extend_from_slice(b"]}");
            Reply::Full { code: 200, content_type: "application/json".into(), body: body.into() }
        };
        Ok(match self {
            ListBody::Json { buf, .. } => wrap(
                json!({
                    "kind": format!("{}List", resource.kind),
                    "apiVersion": storage::api_version(resource.group, resource.version),
                    "metadata": metadata,
                }),
                "items",
                buf,
            ),
            ListBody::Metadata { buf, version, .. } => wrap(
                json!({
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": format!("meta.k8s.io/{version}"),
                    "metadata": metadata,
                }),
                "items",
                buf,
            ),
            ListBody::Table { buf, version, .. } => wrap(
                json!({
                    "kind": "Table",
                    "apiVersion": format!("meta.k8s.io/{version}"),
                    "metadata": metadata,
                    "columnDefinitions": crate::table::column_definitions(resource),
                }),
                "rows",
                buf,
            ),
            ListBody::Yaml { items } => ctx.respond(
                200,
                json!({
                    "kind": format!("{}List", resource.kind),
                    "apiVersion": storage::api_version(resource.group, resource.version),
                    "metadata": metadata,
                    "items": items,
                }),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_refuse_garbage() {
        let token = encode_continue(42, "default/web-1\u{0}");
        assert_eq!(decode_continue(&token).expect("decode"), (42, "default/web-1\u{0}".to_string()));
        for bad in
            ["", "!!!", "e30=", &base64::engine::general_purpose::URL_SAFE.encode(r#"{"v":"x","rv":1,"start":""}"#)]
        {
            assert_eq!(decode_continue(bad).map_err(|e| e.code()), Err(400), "{bad}");
        }
        let escape =
            base64::engine::general_purpose::URL_SAFE.encode(r#"{"v":"meta.k8s.io/v1","rv":1,"start":"../secrets/"}"#);
        assert!(decode_continue(&escape).is_err());
    }
}
