//! Applies a strategic merge patch (`application/strategic-merge-patch+json`) to an object the way
//! kube-apiserver does: upstream's `StrategicMergePatch` in k8s.io/apimachinery/pkg/util/strategicpatch
//! with the server's options, so `$deleteFromPrimitiveList` and `$setElementOrder` lists are applied and a
//! null for a field the object lacks is dropped.
//!
//! Upstream's behaviour is kept in its corners too, because kubectl builds its patches against it: the
//! order rules of `$setElementOrder`, the stable sort those rules lean on, which items keep their nulls and
//! directives, and the error texts that reach clients in a `Status`. Upstream's Go maps have no key order;
//! where that could matter (a field patched through `$deleteFromPrimitiveList/<field>` and `<field>` at
//! once) keys are taken in sorted order, which runs the deletion first.
//!
//! This module does not build patches (kubectl does), parse the request body, or do what upstream's typed
//! decoding does after the merge: drop nulls and unknown fields, such as a `$retainKeys` that was copied
//! into a newly added object. Custom resources get no strategic merge patch upstream (415), so callers
//! should refuse them before getting here; without a root type every field is merely opaque.

use serde_json::{Map, Value};

use crate::patch_meta::{self, FieldMeta, Strategy};

/// The deepest nesting of the object or the patch that `apply` accepts. The merge recurses along the
/// patch, a few KiB of stack per level in a debug build, so this keeps it well inside a 2 MiB thread.
/// Built-in objects nest a few dozen levels, and serde_json refuses to parse more than 128 by default.
pub const MAX_DEPTH: usize = 256;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// Go's names for the JSON types, as upstream's messages print them.
const GO_MAP: &str = "map[string]interface {}";
const GO_SLICE: &str = "[]interface {}";

/// Why a strategic merge patch could not be applied. The messages are upstream's, byte for byte, except
/// for `TooDeep` and `OriginalNotAnObject`, which upstream has no counterpart for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch body is JSON but not an object.
    #[error("json: cannot unmarshal {found} into Go value of type map[string]interface {{}}")]
    PatchNotAnObject { found: &'static str },
    /// The stored object is not a JSON object.
    #[error("invalid JSON document")]
    OriginalNotAnObject,
    /// The object or the patch nests deeper than `MAX_DEPTH`.
    #[error("the {document} is nested deeper than {MAX_DEPTH} levels")]
    TooDeep { document: &'static str },
    /// An item of a merge list, a `$patch: delete` item or a `$setElementOrder` item lacks the merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey { map: String, key: String },
    /// A `$patch` whose value is not one the place it appears in accepts.
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownDirective { directive: String, map: String },
    /// `$patch: merge` on an item of a list.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// A value of the wrong JSON type where upstream asserts one.
    #[error("expected a {expected}, but received a {actual}")]
    WrongType { expected: &'static str, actual: &'static str },
    /// An item of a merge-keyed list that is not an object.
    #[error("value for key {index} is not a map")]
    ItemNotAnObject { index: usize },
    /// A list whose first item is a list.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// A list whose items, across the object and the patch, are of different JSON types.
    #[error("list element types are not identical: {lists}")]
    MixedItemTypes { lists: String },
    /// A `$setElementOrder` for a list that has no items anywhere.
    #[error("no elements in any of the given slices")]
    NoItems,
    /// Objects to merge in a list that declares no merge key.
    #[error("cannot merge lists without merge key for {item_kind}")]
    NoMergeKeyDeclared { item_kind: &'static str },
    /// A `$deleteFromPrimitiveList` key that is not `$deleteFromPrimitiveList/<field>`.
    #[error("invalid patch format of primitive list")]
    BadDeleteFromPrimitiveList,
    /// A `$retainKeys` that is not a list, or a patch that sets a key its `$retainKeys` leaves out.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeys,
    /// A `$setElementOrder` key that is not `$setElementOrder/<field>`.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrder,
    /// A patch list whose items are not in the order its `$setElementOrder` gives, or not all in it.
    #[error("The order in patch list:\n{patch_list}\n doesn't match $setElementOrder list:\n{order}\n")]
    OrderMismatch { patch_list: String, order: String },
}

/// What upstream's apiserver answers for an error, as the parts of a `metav1.Status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusParts {
    /// The HTTP status code, also the Status's `code`.
    pub code: u16,
    /// The Status's `reason`; empty means upstream leaves it out.
    pub reason: &'static str,
    /// The Status's `message`.
    pub message: String,
}

impl PatchError {
    /// The Status upstream answers with. Its patch handler turns the format errors into 400 BadRequest
    /// and `ListOfLists` into a 422 whose message is a fixed sentence; every other error reaches the
    /// client as an untyped error, which upstream answers with 500 and no reason.
    pub fn status(&self) -> StatusParts {
        match self {
            PatchError::PatchNotAnObject { .. }
            | PatchError::TooDeep { .. }
            | PatchError::BadDeleteFromPrimitiveList
            | PatchError::BadRetainKeys
            | PatchError::BadSetElementOrder => {
                StatusParts { code: 400, reason: "BadRequest", message: self.to_string() }
            }
            PatchError::ListOfLists => StatusParts {
                code: 422,
                reason: "Invalid",
                message: "the server rejected our request due to an error in our request".to_string(),
            },
            PatchError::OriginalNotAnObject
            | PatchError::NoMergeKey { .. }
            | PatchError::UnknownDirective { .. }
            | PatchError::MergeDirectiveInList
            | PatchError::WrongType { .. }
            | PatchError::ItemNotAnObject { .. }
            | PatchError::MixedItemTypes { .. }
            | PatchError::NoItems
            | PatchError::NoMergeKeyDeclared { .. }
            | PatchError::OrderMismatch { .. } => StatusParts { code: 500, reason: "", message: self.to_string() },
        }
    }
}

/// Applies `patch` to `original`, an object of the type `root_type` (from `patch_meta::root_type`), and
/// returns the patched object. A null patch changes nothing, as upstream decodes it to an empty map.
pub fn apply(original: &Value, patch: &Value, root_type: Option<&str>) -> Result<Value, PatchError> {
    // The depth is checked before anything recursive, cloning included, touches either document.
    if nests_deeper_than(original, MAX_DEPTH) {
        return Err(PatchError::TooDeep { document: "object" });
    }
    if nests_deeper_than(patch, MAX_DEPTH) {
        return Err(PatchError::TooDeep { document: "patch" });
    }
    let Value::Object(original) = original else {
        return Err(PatchError::OriginalNotAnObject);
    };
    let patch = match patch {
        Value::Object(patch) => patch.clone(),
        Value::Null => return Ok(Value::Object(original.clone())),
        Value::Array(_) => return Err(PatchError::PatchNotAnObject { found: "array" }),
        Value::String(_) => return Err(PatchError::PatchNotAnObject { found: "string" }),
        Value::Number(_) => return Err(PatchError::PatchNotAnObject { found: "number" }),
        Value::Bool(_) => return Err(PatchError::PatchNotAnObject { found: "bool" }),
    };
    merge_object(original.clone(), patch, root_type).map(Value::Object)
}

/// Whether `value` has more than `limit` levels of objects and lists, counted without recursion.
fn nests_deeper_than(value: &Value, limit: usize) -> bool {
    let mut pending = vec![(value, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        let is_container = matches!(value, Value::Object(_) | Value::Array(_));
        if is_container && depth > limit {
            return true;
        }
        match value {
            Value::Object(object) => pending.extend(object.values().map(|child| (child, depth + 1))),
            Value::Array(items) => pending.extend(items.iter().map(|child| (child, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Merges `patch` into `original`, both objects of the type `type_name` (upstream's `mergeMap`).
fn merge_object(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    type_name: Option<&str>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        if directive == "replace" {
            // The rest of the patch is taken as it is, nulls and nested directives included.
            patch.remove(DIRECTIVE);
            return Ok(patch);
        }
        if directive == "delete" {
            return Ok(Map::new());
        }
        return Err(unknown_directive(directive, &patch));
    }
    apply_retain_keys(&mut original, &mut patch)?;
    apply_element_orders(&mut original, &mut patch, type_name)?;

    let mut entries: Vec<(String, Value)> = patch.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (patch_key, patch_value) in entries {
        let (key, deletes) = if patch_key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (field_of_directive(&patch_key, DELETE_FROM_PRIMITIVE_LIST)?, true)
        } else {
            (patch_key, false)
        };
        // A null deletes the field; upstream does so even for a `$deleteFromPrimitiveList` of null.
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(original_value) = original.remove(&key) else {
            // A deletion list for a field the object lacks has nothing to delete from.
            if !deletes && let Some(value) = without_nulls_and_directives(patch_value) {
                original.insert(key, value);
            }
            continue;
        };
        let merged = match (original_value, patch_value) {
            (Value::Object(original_object), Value::Object(patch_object)) => {
                let meta = field_meta(type_name, &key);
                if meta.strategy == Strategy::Replace {
                    Some(Value::Object(patch_object))
                } else {
                    let nested_type = if meta.list { None } else { meta.type_name };
                    Some(Value::Object(merge_object(original_object, patch_object, nested_type)?))
                }
            }
            (Value::Array(original_items), Value::Array(patch_items)) => {
                let meta = field_meta(type_name, &key);
                if meta.strategy.merges_lists() || deletes {
                    Some(Value::Array(merge_list(original_items, patch_items, &meta, deletes)?.items))
                } else {
                    // A list without strategy is replaced by the patch as it is, directives and all.
                    Some(Value::Array(patch_items))
                }
            }
            (original_value, patch_value) if GoType::of(&original_value) != GoType::of(&patch_value) => {
                if deletes {
                    Some(original_value)
                } else {
                    without_nulls_and_directives(patch_value)
                }
            }
            (_, patch_value) => Some(patch_value),
        };
        if let Some(value) = merged {
            original.insert(key, value);
        }
    }
    Ok(original)
}

/// The patch metadata of `field` in `type_name`, or that of an opaque field.
fn field_meta(type_name: Option<&str>, field: &str) -> FieldMeta {
    type_name.and_then(|type_name| patch_meta::lookup(type_name, field)).unwrap_or(FieldMeta::OPAQUE)
}

/// The field named by a `<prefix>/<field>` directive key.
fn field_of_directive(key: &str, prefix: &str) -> Result<String, PatchError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field.to_string()),
        _ if prefix == SET_ELEMENT_ORDER => Err(PatchError::BadSetElementOrder),
        _ => Err(PatchError::BadDeleteFromPrimitiveList),
    }
}

/// Applies a `$retainKeys` directive: checks that the patch sets no key outside it and clears every
/// key of the object outside it (upstream's `applyRetainKeysDirective`).
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadRetainKeys);
    };
    let retained = |key: &str| retain.iter().any(|item| item.as_str() == Some(key));
    for (key, value) in patch.iter() {
        let is_directive = key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER);
        if !value.is_null() && !is_directive && !retained(key) {
            return Err(PatchError::BadRetainKeys);
        }
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// Applies every `$setElementOrder/<field>` of the patch together with the patch's list for that field,
/// then puts the merged list in the order upstream's `mergePatchIntoOriginal` gives it. The field's list
/// is removed from the patch so that the main merge leaves it alone.
fn apply_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    type_name: Option<&str>,
) -> Result<(), PatchError> {
    let order_keys: Vec<String> = patch.keys().filter(|key| key.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for order_key in order_keys {
        let Some(order) = patch.remove(&order_key) else {
            continue;
        };
        let order = match order {
            Value::Array(order) => order,
            other => return Err(wrong_type(GO_SLICE, &other)),
        };
        let field = field_of_directive(&order_key, SET_ELEMENT_ORDER)?;
        // Both lists are taken out: the merged list goes back into the object, and the patch's list is
        // done with once merged. An error discards both maps anyway.
        let original_list = match original.remove(&field) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => return Err(wrong_type(GO_SLICE, &other)),
        };
        let patch_list = match patch.remove(&field) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => return Err(wrong_type(GO_SLICE, &other)),
        };
        let meta = field_meta(type_name, &field);
        let merge_key = meta.merge_key.unwrap_or("");
        check_order(patch_list.as_deref().unwrap_or_default(), &order, merge_key)?;

        // `original_view` is what upstream's later ordering sees of the object's list: upstream merges in
        // place, so deletions and appends show through it (see `merge_list`).
        let (merged, original_view, patch_list) = match (original_list, patch_list) {
            (Some(original_items), None) => (original_items.clone(), original_items, Vec::new()),
            (None, Some(patch_items)) => {
                // A list the object lacks is taken from the patch without its directives, but upstream
                // keeps the nulls in it here.
                let kept = patch_items.iter().filter_map(|item| remove_directives(item.clone())).collect();
                (kept, Vec::new(), patch_items)
            }
            (Some(original_items), Some(patch_items)) if meta.strategy.merges_lists() => {
                let merged = merge_list(original_items, patch_items.clone(), &meta, false)?;
                (merged.items, merged.original_view, patch_items)
            }
            (Some(original_items), Some(patch_items)) => (patch_items.clone(), original_items, patch_items),
            (None, None) => continue,
        };

        let (patch_items, server_only) = if merge_key.is_empty() {
            partition_primitives(merged, &order)
        } else {
            partition_objects(merged, &order, merge_key)?
        };
        let item_type = item_type(&[&original_view, &patch_list])?;
        let ordered = order_items(patch_items, server_only, &order, &original_view, merge_key, item_type)?;
        original.insert(field, Value::Array(ordered));
    }
    Ok(())
}

/// Checks that the patch's list follows its `$setElementOrder`: every item that is not a directive must
/// appear in the order list, in the same relative order (upstream's `validatePatchWithSetOrderList`).
fn check_order(patch_list: &[Value], order: &[Value], merge_key: &str) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let kept: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut kept = Vec::new();
        for item in patch_list {
            let Value::Object(object) = item else {
                return Err(wrong_type(GO_MAP, item));
            };
            if object.get(DIRECTIVE).is_none_or(|directive| directive != "delete") {
                kept.push(item);
            }
        }
        kept
    };
    let (mut in_patch, mut in_order) = (0, 0);
    while in_patch < kept.len() && in_order < order.len() {
        if kept[in_patch].as_object().is_some_and(|object| object.contains_key(DIRECTIVE)) {
            in_patch += 1;
            continue;
        }
        if same_merge_key(kept[in_patch], &order[in_order], merge_key)? {
            in_patch += 1;
        }
        in_order += 1;
    }
    if in_patch < kept.len() {
        return Err(PatchError::OrderMismatch { patch_list: go_list_string(patch_list), order: go_list_string(order) });
    }
    Ok(())
}

/// Whether two list items are the same item: equal primitives, or objects with equal merge keys.
fn same_merge_key(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(left) = left else {
        return Err(wrong_type(GO_MAP, left));
    };
    let Value::Object(right) = right else {
        return Err(wrong_type(GO_MAP, right));
    };
    let Some(left_key) = left.get(merge_key) else {
        return Err(no_merge_key(left, merge_key));
    };
    let Some(right_key) = right.get(merge_key) else {
        return Err(no_merge_key(right, merge_key));
    };
    Ok(left_key == right_key)
}

/// A merged list, and what upstream's in-place merge left visible through the object's original list.
struct MergedList {
    items: Vec<Value>,
    original_view: Vec<Value>,
}

/// Merges the patch's list into the object's list of a field with merge strategy, or applies a
/// `$deleteFromPrimitiveList` (upstream's `mergeSlice`).
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: &FieldMeta,
    deletes: bool,
) -> Result<MergedList, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(MergedList { items: original, original_view: Vec::new() });
    }
    let item_type = item_type(&[&original, &patch])?;
    if item_type != GoType::Map {
        if deletes {
            let items = original.iter().filter(|item| !patch.contains(item)).cloned().collect();
            return Ok(MergedList { items, original_view: original });
        }
        let merged = deduplicate(original.iter().chain(&patch).cloned().collect());
        // Upstream picks the partition by whether the field declares a merge key, not by the items, so
        // primitives in a merge-keyed list fail there as items that are not objects.
        let merge_key = meta.merge_key.unwrap_or("");
        let (patch_items, server_only) = if merge_key.is_empty() {
            partition_primitives(merged, &patch)
        } else {
            partition_objects(merged, &patch, merge_key)?
        };
        let items = order_items(patch_items, server_only, &patch, &original, merge_key, item_type)?;
        return Ok(MergedList { items, original_view: original });
    }
    let Some(merge_key) = meta.merge_key else {
        // Upstream names the kind of the declared item type: a string list, or (for every list of
        // objects, and for fields it knows nothing about) a struct.
        let item_kind = if meta.list && meta.type_name.is_none() { "string" } else { "struct" };
        return Err(PatchError::NoMergeKeyDeclared { item_kind });
    };
    let nested_type = if meta.list { meta.type_name } else { None };

    // Upstream deletes and appends in the backing array of the object's list, and its later ordering
    // still reads that array at the list's old length. `backing` and `len` replay this: a deletion moves
    // the rest of the list down one place and leaves the last slot as it was, an append fills the slot
    // after `len`.
    let mut backing = original;
    let original_len = backing.len();
    let mut len = original_len;
    let mut replace = false;
    let mut plain = Vec::new();
    for item in patch {
        let Value::Object(object) = item else {
            return Err(wrong_type(GO_MAP, &item));
        };
        let Some(directive) = object.get(DIRECTIVE) else {
            plain.push(object);
            continue;
        };
        if directive == "delete" {
            let Some(target) = object.get(merge_key) else {
                return Err(no_merge_key(&object, merge_key));
            };
            while let Some(index) = position_by_key(&backing[..len], merge_key, target)? {
                if index + 1 < len {
                    backing[index..len].rotate_left(1);
                    backing[len - 1] = backing[len - 2].clone();
                }
                len -= 1;
            }
        } else if directive == "replace" {
            // The other directives of the list still apply, so the loop goes on.
            replace = true;
        } else if directive == "merge" {
            return Err(PatchError::MergeDirectiveInList);
        } else {
            return Err(unknown_directive(directive, &object));
        }
    }
    let plain: Vec<Value> = plain.into_iter().map(Value::Object).collect();

    if replace {
        // The list is the patch's items; upstream orders them by themselves, which keeps them as they are
        // but still insists that each has the merge key.
        let (patch_items, server_only) = partition_objects(plain.clone(), &[], merge_key)?;
        let items = order_items(patch_items, server_only, &[], &plain, merge_key, GoType::Map)?;
        backing.truncate(original_len);
        return Ok(MergedList { items, original_view: backing });
    }

    let after_deletions = len;
    for item in &plain {
        let Some(target) = item.get(merge_key) else {
            return Err(no_merge_key_in(item, merge_key));
        };
        match position_by_key(&backing[..len], merge_key, target)? {
            Some(index) => {
                let (Value::Object(existing), Value::Object(addition)) = (std::mem::take(&mut backing[index]), item)
                else {
                    return Err(PatchError::ItemNotAnObject { index });
                };
                backing[index] = Value::Object(merge_object(existing, addition.clone(), nested_type)?);
            }
            None => {
                if len < backing.len() {
                    backing[len] = item.clone();
                } else {
                    backing.push(item.clone());
                }
                len += 1;
            }
        }
    }
    let merged = backing[..len].to_vec();
    let server_order = backing[..after_deletions].to_vec();
    backing.truncate(original_len);
    let (patch_items, server_only) = partition_objects(merged, &plain, merge_key)?;
    let items = order_items(patch_items, server_only, &plain, &server_order, merge_key, GoType::Map)?;
    Ok(MergedList { items, original_view: backing })
}

/// The index of the first object in `items` whose merge key equals `target`
/// (upstream's `findMapInSliceBasedOnKeyValue`).
fn position_by_key(items: &[Value], merge_key: &str, target: &Value) -> Result<Option<usize>, PatchError> {
    for (index, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            return Err(PatchError::ItemNotAnObject { index });
        };
        if object.get(merge_key) == Some(target) {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// Splits primitives into those in `by` and the rest, each keeping its order.
fn partition_primitives(items: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    items.into_iter().partition(|item| by.contains(item))
}

/// Splits objects into those whose merge key appears in `by` and the rest, each keeping its order.
fn partition_objects(items: Vec<Value>, by: &[Value], merge_key: &str) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut in_patch, mut server_only) = (Vec::new(), Vec::new());
    for item in items {
        let Value::Object(object) = &item else {
            return Err(wrong_type(GO_MAP, &item));
        };
        let Some(target) = object.get(merge_key) else {
            return Err(no_merge_key(object, merge_key));
        };
        if position_by_key(by, merge_key, target)?.is_some() {
            in_patch.push(item);
        } else {
            server_only.push(item);
        }
    }
    Ok((in_patch, server_only))
}

/// Upstream's `normalizeElementOrder`: sorts the patch's items by `patch_order` and the object's other
/// items by `server_order`, then interleaves them, preferring the relative order of `server_order`.
fn order_items(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    item_type: GoType,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = sort_by_order(patch_items, patch_order, merge_key, item_type)?;
    let server_only = sort_by_order(server_only, server_order, merge_key, item_type)?;
    Ok(interleave(server_only, patch_items, server_order, merge_key, item_type))
}

/// Upstream's `normalizeSliceOrder`: a stable sort by position in `order`, with `$patch: delete` items
/// moved to the end. Items missing from `order` compare as "less" against anything, which is not an
/// order at all; the result then depends on the sort algorithm, hence Go's own (`go_stable_sort`).
fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    item_type: GoType,
) -> Result<Vec<Value>, PatchError> {
    let (mut items, deletions) = if item_type == GoType::Map {
        for item in items.iter().chain(order) {
            let Value::Object(object) = item else {
                return Err(wrong_type(GO_MAP, item));
            };
            if !object.contains_key(merge_key) {
                return Err(no_merge_key(object, merge_key));
            }
        }
        items.into_iter().partition(|item| item.get(DIRECTIVE).is_none_or(|directive| directive != "delete"))
    } else {
        (items, Vec::new())
    };
    go_stable_sort(&mut items, |a, b| {
        match (position_in(order, a, merge_key, item_type), position_in(order, b, merge_key, item_type)) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        }
    });
    items.extend(deletions);
    Ok(items)
}

/// Upstream's `mergeSortedSlice`: merges two sorted lists, taking from `left` first only when both
/// items appear in `order` and the left one comes earlier there.
fn interleave(left: Vec<Value>, right: Vec<Value>, order: &[Value], merge_key: &str, item_type: GoType) -> Vec<Value> {
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                match (position_in(order, l, merge_key, item_type), position_in(order, r, merge_key, item_type)) {
                    (Some(l), Some(r)) => l < r,
                    _ => false,
                }
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        let next = if take_left { left.next() } else { right.next() };
        merged.extend(next);
    }
}

/// Upstream's `index`: the position of `item` in `list`, comparing objects by merge key and anything
/// else by value. Like Go's nil, a missing or null key matches another missing or null key.
fn position_in(list: &[Value], item: &Value, merge_key: &str, item_type: GoType) -> Option<usize> {
    if item_type == GoType::Map {
        let wanted = merge_key_of(item, merge_key);
        list.iter().position(|candidate| merge_key_of(candidate, merge_key) == wanted)
    } else {
        list.iter().position(|candidate| candidate == item)
    }
}

/// The merge key's value in an object, with a null key counted as missing.
fn merge_key_of<'a>(value: &'a Value, merge_key: &str) -> Option<&'a Value> {
    value.get(merge_key).filter(|key| !key.is_null())
}

/// Go's `sort.SliceStable` step for step (insertion sort in blocks of 20, then SymMerge), because
/// upstream's comparison is not a strict order and another stable sort could order items differently.
fn go_stable_sort(items: &mut [Value], less: impl Fn(&Value, &Value) -> bool) {
    let less = |items: &[Value], i: usize, j: usize| less(&items[i], &items[j]);
    let n = items.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(items, a, b, &less);
        a = b;
        b += block;
    }
    insertion_sort(items, a, n, &less);
    while block < n {
        let (mut a, mut b) = (0, 2 * block);
        while b <= n {
            sym_merge(items, a, a + block, b, &less);
            a = b;
            b += 2 * block;
        }
        if a + block < n {
            sym_merge(items, a, a + block, n, &less);
        }
        block *= 2;
    }
}

fn insertion_sort(items: &mut [Value], a: usize, b: usize, less: &impl Fn(&[Value], usize, usize) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(items, j, j - 1) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Merges the sorted runs `items[a..m]` and `items[m..b]` in place (SymMerge, as in Go's `sort`).
fn sym_merge(items: &mut [Value], a: usize, m: usize, b: usize, less: &impl Fn(&[Value], usize, usize) -> bool) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = i.midpoint(j);
            if less(items, h, a) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i.saturating_sub(1) {
            items.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = i.midpoint(j);
            if !less(items, m, h) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            items.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = a.midpoint(b);
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = start.midpoint(r);
        if !less(items, p - c, c) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        items[start..end].rotate_left(m - start);
    }
    if a < start && start < mid {
        sym_merge(items, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(items, mid, end, b, less);
    }
}

/// Upstream's `deduplicateScalars`, whose swap-with-last removal the later ordering then sorts out.
fn deduplicate(mut items: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i + 1 < items.len() {
        let mut j = i + 1;
        while j < items.len() {
            if items[i] == items[j] {
                items.swap_remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    items
}

/// The Go type that the values of a JSON document decode to, which is what upstream compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GoType {
    Map,
    Slice,
    String,
    Int,
    Float,
    Bool,
    Nil,
}

impl GoType {
    /// Upstream decodes a number to int64 when it is an integer that fits, and to float64 otherwise.
    fn of(value: &Value) -> GoType {
        match value {
            Value::Object(_) => GoType::Map,
            Value::Array(_) => GoType::Slice,
            Value::String(_) => GoType::String,
            Value::Number(number) if number.is_i64() => GoType::Int,
            Value::Number(_) => GoType::Float,
            Value::Bool(_) => GoType::Bool,
            Value::Null => GoType::Nil,
        }
    }

    fn name(self) -> &'static str {
        match self {
            GoType::Map => GO_MAP,
            GoType::Slice => GO_SLICE,
            GoType::String => "string",
            GoType::Int => "int64",
            GoType::Float => "float64",
            GoType::Bool => "bool",
            GoType::Nil => "%!s(<nil>)",
        }
    }
}

/// The one type of the items of some lists (upstream's `sliceElementType`).
fn item_type(lists: &[&[Value]]) -> Result<GoType, PatchError> {
    let mut found = None;
    for item in lists.iter().flat_map(|list| list.iter()) {
        let this = GoType::of(item);
        match found {
            None if this == GoType::Slice => return Err(PatchError::ListOfLists),
            None => found = Some(this),
            Some(first) if first != this => {
                let lists: Vec<String> = lists.iter().map(|list| go_list_string(list)).collect();
                return Err(PatchError::MixedItemTypes { lists: format!("[{}]", lists.join(" ")) });
            }
            Some(_) => {}
        }
    }
    found.ok_or(PatchError::NoItems)
}

/// A patch value for a field the object lacks, or holds with another type: without nulls in its
/// objects, and without the objects that carry a `$patch`.
fn without_nulls_and_directives(mut value: Value) -> Option<Value> {
    discard_nulls(&mut value);
    remove_directives(value)
}

fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.retain(|_, value| !value.is_null());
            object.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// The value without the objects that carry a `$patch`, or `None` when it is such an object itself.
/// Other directives (`$retainKeys`, `$setElementOrder/...`) stay, as upstream leaves them.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(object) if object.contains_key(DIRECTIVE) => None,
        Value::Object(object) => Some(Value::Object(
            object.into_iter().filter_map(|(key, value)| remove_directives(value).map(|value| (key, value))).collect(),
        )),
        Value::Array(items) => Some(Value::Array(items.into_iter().filter_map(remove_directives).collect())),
        other => Some(other),
    }
}

fn wrong_type(expected: &'static str, actual: &Value) -> PatchError {
    PatchError::WrongType { expected, actual: GoType::of(actual).name() }
}

fn no_merge_key(object: &Map<String, Value>, merge_key: &str) -> PatchError {
    PatchError::NoMergeKey { map: go_map_string(object), key: merge_key.to_string() }
}

fn no_merge_key_in(value: &Value, merge_key: &str) -> PatchError {
    let mut map = String::new();
    write_go(value, Verb::V, &mut map);
    PatchError::NoMergeKey { map, key: merge_key.to_string() }
}

fn unknown_directive(directive: &Value, object: &Map<String, Value>) -> PatchError {
    let directive = match directive {
        Value::String(directive) => directive.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        other => {
            let mut text = String::new();
            write_go(other, Verb::S, &mut text);
            text
        }
    };
    PatchError::UnknownDirective { directive, map: go_map_string(object) }
}

/// How Go's fmt prints a decoded value: `%v`, or `%s`, which marks every non-string as a bad verb.
#[derive(Clone, Copy)]
enum Verb {
    V,
    S,
}

/// A list as Go's `%v` prints it, the way upstream's messages show lists.
fn go_list_string(items: &[Value]) -> String {
    let mut text = String::new();
    write_go_list(items, Verb::V, &mut text);
    text
}

/// An object as Go's `%v` prints it.
fn go_map_string(object: &Map<String, Value>) -> String {
    let mut text = String::new();
    write_go_map(object, Verb::V, &mut text);
    text
}

fn write_go(value: &Value, verb: Verb, out: &mut String) {
    match (value, verb) {
        // Go prints a nil inside a map or a list as <nil> whatever the verb.
        (Value::Null, _) => out.push_str("<nil>"),
        (Value::String(text), _) => out.push_str(text),
        (Value::Bool(flag), Verb::V) => out.push_str(if *flag { "true" } else { "false" }),
        (Value::Bool(flag), Verb::S) => out.push_str(&format!("%!s(bool={flag})")),
        (Value::Number(number), verb) => {
            let (go_type, text) = match number.as_i64() {
                Some(integer) => ("int64", integer.to_string()),
                None => ("float64", go_float(number.as_f64().unwrap_or_default())),
            };
            match verb {
                Verb::V => out.push_str(&text),
                Verb::S => out.push_str(&format!("%!s({go_type}={text})")),
            }
        }
        (Value::Array(items), verb) => write_go_list(items, verb, out),
        (Value::Object(object), verb) => write_go_map(object, verb, out),
    }
}

fn write_go_list(items: &[Value], verb: Verb, out: &mut String) {
    out.push('[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        write_go(item, verb, out);
    }
    out.push(']');
}

/// Go prints a map with its keys sorted, whatever order serde_json keeps them in.
fn write_go_map(object: &Map<String, Value>, verb: Verb, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = object.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push_str("map[");
    for (index, (key, value)) in entries.into_iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(key);
        out.push(':');
        write_go(value, verb, out);
    }
    out.push(']');
}

/// A float64 as Go's `%v` prints it: the shortest digits that read back the same, with an exponent
/// (at least two digits, signed) when the decimal exponent is below -4 or at least 6.
fn go_float(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() { "-0".to_string() } else { "0".to_string() };
    }
    let scientific = format!("{value:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or_default();
    if (-4..6).contains(&exponent) {
        return format!("{value}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: Option<&str> = Some("io.k8s.api.apps.v1.Deployment");
    const POD: Option<&str> = Some("io.k8s.api.core.v1.Pod");
    const SERVICE: Option<&str> = Some("io.k8s.api.core.v1.Service");
    const PDB: Option<&str> = Some("io.k8s.api.policy.v1.PodDisruptionBudget");
    const NODE: Option<&str> = Some("io.k8s.api.core.v1.Node");

    /// A patch applied to an object of a root type, and what upstream answers: the patched object, or the
    /// message of its error. The expectations are the output of upstream's strategicpatch package run on
    /// the same input, with this module's type table as its schema.
    struct Case {
        name: &'static str,
        root: Option<&'static str>,
        original: &'static str,
        patch: &'static str,
        expected: Result<&'static str, &'static str>,
    }

    fn check(case: &Case) {
        let original: Value = serde_json::from_str(case.original).unwrap();
        let patch: Value = serde_json::from_str(case.patch).unwrap();
        match (apply(&original, &patch, case.root), case.expected) {
            (Ok(actual), Ok(expected)) => {
                let expected: Value = serde_json::from_str(expected).unwrap();
                assert_eq!(actual, expected, "{}", case.name);
            }
            (Err(actual), Err(expected)) => assert_eq!(actual.to_string(), expected, "{}", case.name),
            (actual, expected) => panic!("{}: got {actual:?}, expected {expected:?}", case.name),
        }
    }

    #[test]
    fn upstream_cases() {
        UPSTREAM_CASES.iter().for_each(check);
    }

    #[test]
    fn kubectl_cases() {
        KUBECTL_CASES.iter().for_each(check);
    }

    #[test]
    fn invalid_cases() {
        INVALID_CASES.iter().for_each(check);
    }

    #[test]
    fn a_null_patch_changes_nothing() {
        let original = json!({"metadata": {"name": "a"}});
        assert_eq!(apply(&original, &Value::Null, POD), Ok(original.clone()));
    }

    #[test]
    fn documents_that_are_not_objects() {
        let object = json!({});
        assert_eq!(apply(&object, &json!([1]), POD), Err(PatchError::PatchNotAnObject { found: "array" }));
        assert_eq!(apply(&object, &json!("x"), POD), Err(PatchError::PatchNotAnObject { found: "string" }));
        assert_eq!(apply(&object, &json!(1), POD), Err(PatchError::PatchNotAnObject { found: "number" }));
        assert_eq!(apply(&object, &json!(true), POD), Err(PatchError::PatchNotAnObject { found: "bool" }));
        assert_eq!(
            PatchError::PatchNotAnObject { found: "array" }.to_string(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(apply(&json!([]), &object, POD), Err(PatchError::OriginalNotAnObject));
    }

    /// Nests `{"a": ...}` `depth` levels deep around an empty object, without recursion.
    fn nested(depth: usize) -> Value {
        let mut value = Value::Object(Map::new());
        for _ in 1..depth {
            // Not `json!`, which would serialize `value` again, recursively, at every level.
            value = Value::Object(Map::from_iter([("a".to_string(), value)]));
        }
        value
    }

    /// Takes a deep value apart level by level, because dropping it whole would recurse.
    fn dismantle(mut value: Value) {
        while let Value::Object(object) = value {
            match object.into_iter().next() {
                Some((_, inner)) => value = inner,
                None => break,
            }
        }
    }

    #[test]
    fn deep_documents_are_refused_without_overflowing_the_stack() {
        let deep = nested(5000);
        let shallow = json!({});
        assert_eq!(apply(&shallow, &deep, None), Err(PatchError::TooDeep { document: "patch" }));
        assert_eq!(apply(&deep, &shallow, None), Err(PatchError::TooDeep { document: "object" }));
        dismantle(deep);

        // At the limit itself the merge runs, recursing once per level, within a test thread's stack.
        let original = nested(MAX_DEPTH);
        let patch = nested(MAX_DEPTH);
        let merged = apply(&original, &patch, None).unwrap();
        assert!(!nests_deeper_than(&merged, MAX_DEPTH) && nests_deeper_than(&merged, MAX_DEPTH - 1));
        [original, patch, merged].into_iter().for_each(dismantle);
        assert_eq!(apply(&json!({}), &nested(MAX_DEPTH + 1), None), Err(PatchError::TooDeep { document: "patch" }));
    }

    #[test]
    fn every_error_has_upstreams_status() {
        let server_error = |error: PatchError| {
            let message = error.to_string();
            assert_eq!(error.status(), StatusParts { code: 500, reason: "", message });
        };
        let bad_request = |error: PatchError| {
            let message = error.to_string();
            assert_eq!(error.status(), StatusParts { code: 400, reason: "BadRequest", message });
        };
        bad_request(PatchError::PatchNotAnObject { found: "array" });
        bad_request(PatchError::TooDeep { document: "patch" });
        bad_request(PatchError::BadDeleteFromPrimitiveList);
        bad_request(PatchError::BadRetainKeys);
        bad_request(PatchError::BadSetElementOrder);
        assert_eq!(
            PatchError::ListOfLists.status(),
            StatusParts {
                code: 422,
                reason: "Invalid",
                message: "the server rejected our request due to an error in our request".to_string(),
            }
        );
        server_error(PatchError::OriginalNotAnObject);
        server_error(PatchError::NoMergeKey { map: "map[a:b]".to_string(), key: "name".to_string() });
        server_error(PatchError::UnknownDirective { directive: "x".to_string(), map: "map[$patch:x]".to_string() });
        server_error(PatchError::MergeDirectiveInList);
        server_error(PatchError::WrongType { expected: GO_MAP, actual: "string" });
        server_error(PatchError::ItemNotAnObject { index: 0 });
        server_error(PatchError::MixedItemTypes { lists: "[[a] [1]]".to_string() });
        server_error(PatchError::NoItems);
        server_error(PatchError::NoMergeKeyDeclared { item_kind: "struct" });
        server_error(PatchError::OrderMismatch { patch_list: "[b a]".to_string(), order: "[a b]".to_string() });
    }

    #[test]
    fn floats_print_as_go_does() {
        for (value, text) in [
            (0.5, "0.5"),
            (100000.0, "100000"),
            (123456.5, "123456.5"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
        ] {
            assert_eq!(go_float(value), text);
        }
    }

    /// Cases modelled on upstream's strategicpatch tests, moved onto built-in types.
    const UPSTREAM_CASES: &[Case] = &[
        Case {
            name: "unique scalars when merging lists",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["a", "b"]}}"#,
            patch: r#"{"metadata": {"finalizers": ["b", "c"]}}"#,
            expected: Ok(r#"{"metadata": {"finalizers": ["a", "b", "c"]}}"#),
        },
        Case {
            name: "delete map from nested map",
            root: POD,
            original: r#"{"metadata": {"labels": {"a": "1", "b": "1"}}}"#,
            patch: r#"{"metadata": {"labels": {"$patch": "delete"}}}"#,
            expected: Ok(r#"{"metadata": {"labels": {}}}"#),
        },
        Case {
            name: "delete all items from merging list",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "1"}, {"name": "2"}]}}"#,
            patch: r#"{"spec": {"containers": [{"$patch": "replace"}]}}"#,
            expected: Ok(r#"{"spec": {"containers": []}}"#),
        },
        Case {
            name: "merge empty merging lists",
            root: POD,
            original: r#"{"spec": {"containers": []}}"#,
            patch: r#"{"spec": {"containers": []}}"#,
            expected: Ok(r#"{"spec": {"containers": []}}"#),
        },
        Case {
            name: "delete all keys from map",
            root: POD,
            original: r#"{"kind": "Pod", "apiVersion": "v1"}"#,
            patch: r#"{"$patch": "replace"}"#,
            expected: Ok(r#"{}"#),
        },
        Case {
            name: "add key and delete all keys from map",
            root: POD,
            original: r#"{"kind": "Pod", "apiVersion": "v1"}"#,
            patch: r#"{"other": "a", "$patch": "replace"}"#,
            expected: Ok(r#"{"other": "a"}"#),
        },
        Case {
            name: "delete all duplicate entries in a merging list",
            root: POD,
            original: r#"{
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "env": [
                                {"name": "1"},
                                {"name": "1"},
                                {"name": "2", "value": "a"},
                                {"name": "3"},
                                {"name": "3"}
                            ]
                        }
                    ]
                }
            }"#,
            patch: r#"{
                "spec": {
                    "containers": [
                        {"name": "c", "env": [{"name": "1", "$patch": "delete"}, {"name": "3", "$patch": "delete"}]}
                    ]
                }
            }"#,
            expected: Ok(r#"{"spec": {"containers": [{"env": [{"name": "2", "value": "a"}], "name": "c"}]}}"#),
        },
        Case {
            name: "retainKeys map can add a field when no retainKeys directive present",
            root: DEPLOYMENT,
            original: r#"{"spec": {"strategy": {"type": "RollingUpdate"}, "template": {"spec": {}}}}"#,
            patch: r#"{"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}}"#,
            expected: Ok(r#"{
                "spec": {
                    "strategy": {"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"},
                    "template": {"spec": {}}
                }
            }"#),
        },
        Case {
            name: "retainKeys map can delete a field when no retainKeys directive present",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                    "template": {"spec": {}}
                }
            }"#,
            patch: r#"{"spec": {"strategy": {"rollingUpdate": null}}}"#,
            expected: Ok(r#"{"spec": {"strategy": {"type": "RollingUpdate"}, "template": {"spec": {}}}}"#),
        },
        Case {
            name: "retainKeys map merges an empty map",
            root: DEPLOYMENT,
            original: r#"{"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {}}}}"#,
            patch: r#"{"spec": {"strategy": {}}}"#,
            expected: Ok(r#"{"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {}}}}"#),
        },
        Case {
            name: "preserve the order from the patch in a merging list",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}]}}"#,
            patch: r#"{
                "spec": {
                    "containers": [
                        {"name": "3", "image": "c"},
                        {"name": "1", "image": "a"},
                        {"name": "2", "workingDir": "x"}
                    ]
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "containers": [
                        {"image": "c", "name": "3"},
                        {"image": "a", "name": "1"},
                        {"image": "b", "name": "2", "workingDir": "x"}
                    ]
                }
            }"#),
        },
        Case {
            name: "preserve the order from the patch in a merging list 2",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "1"}, {"name": "2", "image": "b"}, {"name": "3"}]}}"#,
            patch: r#"{"spec": {"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}}"#,
            expected: Ok(r#"{
                "spec": {
                    "containers": [
                        {"image": "b", "name": "2"},
                        {"image": "c", "name": "3"},
                        {"image": "a", "name": "1"}
                    ]
                }
            }"#),
        },
        Case {
            name: "preserve the order from the patch in a merging primitive list",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["1", "2", "3"]}}"#,
            patch: r#"{"metadata": {"finalizers": ["3", "1", "2"]}}"#,
            expected: Ok(r#"{"metadata": {"finalizers": ["3", "1", "2"]}}"#),
        },
        Case {
            name: "preserve the order from the patch in a merging primitive list 2",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["1", "2", "3"]}}"#,
            patch: r#"{"metadata": {"finalizers": ["3", "1"]}}"#,
            expected: Ok(r#"{"metadata": {"finalizers": ["2", "3", "1"]}}"#),
        },
        Case {
            name: "$setElementOrder names an item that neither list has",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "1"}, {"name": "3"}]}}"#,
            patch: r#"{
                "spec": {
                    "$setElementOrder/containers": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
                    "containers": [{"name": "3", "image": "3"}, {"name": "1", "image": "1"}]
                }
            }"#,
            expected: Ok(r#"{"spec": {"containers": [{"image": "3", "name": "3"}, {"image": "1", "name": "1"}]}}"#),
        },
        Case {
            name: "$setElementOrder names an item that the primitive list lacks",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["1", "3"]}}"#,
            patch: r#"{"metadata": {"$setElementOrder/finalizers": ["3", "2", "1"]}}"#,
            expected: Ok(r#"{"metadata": {"finalizers": ["3", "1"]}}"#),
        },
        Case {
            name: "$setElementOrder and the patch list must agree on order",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "1"}, {"name": "3"}, {"name": "2"}]}}"#,
            patch: r#"{
                "spec": {
                    "$setElementOrder/containers": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
                    "containers": [{"name": "3", "image": "3"}, {"name": "1", "image": "1"}]
                }
            }"#,
            expected: Err("The order in patch list:\n[map[image:3 name:3] map[image:1 name:1]]\n doesn't match \
                    $setElementOrder list:\n[map[name:1] map[name:2] map[name:3]]\n"),
        },
        Case {
            name: "$setElementOrder and the patch primitive list must agree on order",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["1", "3", "2"]}}"#,
            patch: r#"{"metadata": {"$setElementOrder/finalizers": ["1", "2", "3"], "finalizers": ["3", "1"]}}"#,
            expected: Err("The order in patch list:\n[3 1]\n doesn't match $setElementOrder list:\n[1 2 3]\n"),
        },
        Case {
            name: "missing merge key",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "1", "image": "a"}]}}"#,
            patch: r#"{"spec": {"containers": [{"image": "b"}]}}"#,
            expected: Err("map: map[image:b] does not contain declared merge key: name"),
        },
        Case {
            name: "$deleteFromPrimitiveList of an item the list lacks adds nothing",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["1", "2"]}}"#,
            patch: r#"{"metadata": {"$deleteFromPrimitiveList/finalizers": ["3"]}}"#,
            expected: Ok(r#"{"metadata": {"finalizers": ["1", "2"]}}"#),
        },
        Case {
            name: "$deleteFromPrimitiveList on a null list leaves it",
            root: POD,
            original: r#"{"metadata": {"finalizers": null}}"#,
            patch: r#"{"metadata": {"$deleteFromPrimitiveList/finalizers": ["3"]}}"#,
            expected: Ok(r#"{"metadata": {"finalizers": null}}"#),
        },
        Case {
            name: "$deleteFromPrimitiveList on a missing list adds nothing",
            root: POD,
            original: r#"{"metadata": {"labels": {"a": "b"}}}"#,
            patch: r#"{"metadata": {"$deleteFromPrimitiveList/finalizers": ["3"]}}"#,
            expected: Ok(r#"{"metadata": {"labels": {"a": "b"}}}"#),
        },
        Case {
            name: "$deleteFromPrimitiveList deletes from a merge list",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["1", "2", "3"]}}"#,
            patch: r#"{"metadata": {"$deleteFromPrimitiveList/finalizers": ["2"]}}"#,
            expected: Ok(r#"{"metadata": {"finalizers": ["1", "3"]}}"#),
        },
        Case {
            name: "$deleteFromPrimitiveList deletes from a list without strategy",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "c", "args": ["1", "2", "3"]}]}}"#,
            patch: r#"{"spec": {"containers": [{"name": "c", "$deleteFromPrimitiveList/args": ["2"]}]}}"#,
            expected: Ok(r#"{"spec": {"containers": [{"args": ["1", "3"], "name": "c"}]}}"#),
        },
        Case {
            name: "set elements order with server-only items",
            root: POD,
            original: r#"{
                "spec": {
                    "containers": [
                        {"name": "1", "image": "a"},
                        {"name": "2"},
                        {"name": "9"},
                        {"name": "3"},
                        {"name": "4"}
                    ]
                }
            }"#,
            patch: r#"{
                "spec": {"$setElementOrder/containers": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]}
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "containers": [
                        {"name": "2"},
                        {"image": "a", "name": "1"},
                        {"name": "9"},
                        {"name": "4"},
                        {"name": "3"}
                    ]
                }
            }"#),
        },
        Case {
            name: "set elements order with several server-only items",
            root: POD,
            original: r#"{
                "spec": {
                    "containers": [
                        {"name": "1", "image": "a"},
                        {"name": "2"},
                        {"name": "7"},
                        {"name": "9"},
                        {"name": "8"},
                        {"name": "3"},
                        {"name": "4"}
                    ]
                }
            }"#,
            patch: r#"{
                "spec": {"$setElementOrder/containers": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]}
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "containers": [
                        {"name": "2"},
                        {"image": "a", "name": "1"},
                        {"name": "7"},
                        {"name": "9"},
                        {"name": "8"},
                        {"name": "4"},
                        {"name": "3"}
                    ]
                }
            }"#),
        },
        Case {
            name: "set element order with duplicate items",
            root: POD,
            original: r#"{
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "env": [
                                {"name": "1"},
                                {"name": "2", "value": "dup1"},
                                {"name": "3"},
                                {"name": "2", "value": "dup2"},
                                {"name": "4"}
                            ]
                        }
                    ]
                }
            }"#,
            patch: r#"{
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "$setElementOrder/env": [
                                {"name": "2"},
                                {"name": "1"},
                                {"name": "4"},
                                {"name": "3"},
                                {"name": "2"}
                            ]
                        }
                    ]
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "containers": [
                        {
                            "env": [
                                {"name": "2", "value": "dup1"},
                                {"name": "2", "value": "dup2"},
                                {"name": "1"},
                                {"name": "4"},
                                {"name": "3"}
                            ],
                            "name": "c"
                        }
                    ]
                }
            }"#),
        },
        Case {
            name: "set element order with duplicate primitives",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["1", "2", "3", "2", "4"]}}"#,
            patch: r#"{"metadata": {"$setElementOrder/finalizers": ["2", "1", "4", "3", "2"]}}"#,
            expected: Ok(r#"{"metadata": {"finalizers": ["2", "2", "1", "4", "3"]}}"#),
        },
        Case {
            name: "retainKeys clears a defaulted field",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
                    },
                    "template": {"spec": {}}
                }
            }"#,
            patch: r#"{"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}"#,
            expected: Ok(r#"{"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {}}}}"#),
        },
        Case {
            name: "delete and reorder in one list, reorder in another",
            root: POD,
            original: r#"{
                "spec": {
                    "containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}],
                    "initContainers": [{"name": "c", "image": "c"}, {"name": "d", "image": "d"}]
                }
            }"#,
            patch: r#"{
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}],
                    "$setElementOrder/initContainers": [{"name": "d"}, {"name": "c"}],
                    "containers": [{"$patch": "delete", "name": "a"}]
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "containers": [{"image": "b", "name": "b"}],
                    "initContainers": [{"image": "d", "name": "d"}, {"image": "c", "name": "c"}]
                }
            }"#),
        },
    ];

    /// What kubectl apply, label and patch send, and what upstream does with it.
    const KUBECTL_CASES: &[Case] = &[
        Case {
            name: "kubectl apply changes an image",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "nginx:1.27",
                                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                    "ports": [
                                        {"containerPort": 80, "protocol": "TCP"},
                                        {"containerPort": 8080, "protocol": "TCP"}
                                    ]
                                }
                            ]
                        }
                    }
                }
            }"#,
            patch: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "$setElementOrder/containers": [{"name": "web"}],
                            "containers": [{"image": "nginx:1.28", "name": "web"}]
                        }
                    }
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                    "image": "nginx:1.28",
                                    "name": "web",
                                    "ports": [
                                        {"containerPort": 80, "protocol": "TCP"},
                                        {"containerPort": 8080, "protocol": "TCP"}
                                    ]
                                }
                            ]
                        }
                    }
                }
            }"#),
        },
        Case {
            name: "kubectl apply deletes an env var",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "nginx:1.27",
                                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                    "ports": [
                                        {"containerPort": 80, "protocol": "TCP"},
                                        {"containerPort": 8080, "protocol": "TCP"}
                                    ]
                                }
                            ]
                        }
                    }
                }
            }"#,
            patch: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "$setElementOrder/containers": [{"name": "web"}],
                            "containers": [
                                {
                                    "$setElementOrder/env": [{"name": "A"}],
                                    "env": [{"$patch": "delete", "name": "B"}],
                                    "name": "web"
                                }
                            ]
                        }
                    }
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "env": [{"name": "A", "value": "1"}],
                                    "image": "nginx:1.27",
                                    "name": "web",
                                    "ports": [
                                        {"containerPort": 80, "protocol": "TCP"},
                                        {"containerPort": 8080, "protocol": "TCP"}
                                    ]
                                }
                            ]
                        }
                    }
                }
            }"#),
        },
        Case {
            name: "kubectl apply removes a port",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "nginx:1.27",
                                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                    "ports": [
                                        {"containerPort": 80, "protocol": "TCP"},
                                        {"containerPort": 8080, "protocol": "TCP"}
                                    ]
                                }
                            ]
                        }
                    }
                }
            }"#,
            patch: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "$setElementOrder/containers": [{"name": "web"}],
                            "containers": [
                                {
                                    "$setElementOrder/ports": [{"containerPort": 80}],
                                    "name": "web",
                                    "ports": [{"$patch": "delete", "containerPort": 8080}]
                                }
                            ]
                        }
                    }
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                    "image": "nginx:1.27",
                                    "name": "web",
                                    "ports": [{"containerPort": 80, "protocol": "TCP"}]
                                }
                            ]
                        }
                    }
                }
            }"#),
        },
        Case {
            name: "kubectl apply adds a container next to an injected sidecar",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "web", "image": "a"}, {"name": "proxy", "image": "envoy"}]}
                    }
                }
            }"#,
            patch: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                            "containers": [{"image": "fluent", "name": "log"}]
                        }
                    }
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"image": "a", "name": "web"},
                                {"image": "fluent", "name": "log"},
                                {"image": "envoy", "name": "proxy"}
                            ]
                        }
                    }
                }
            }"#),
        },
        Case {
            name: "kubectl apply swaps a container past an injected sidecar",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "a", "image": "a"},
                                {"name": "b", "image": "b"},
                                {"name": "sidecar", "image": "s"}
                            ]
                        }
                    }
                }
            }"#,
            patch: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "$setElementOrder/containers": [{"name": "a"}, {"name": "d"}],
                            "containers": [{"image": "d", "name": "d"}, {"$patch": "delete", "name": "b"}]
                        }
                    }
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"image": "a", "name": "a"},
                                {"image": "s", "name": "sidecar"},
                                {"image": "d", "name": "d"}
                            ]
                        }
                    }
                }
            }"#),
        },
        Case {
            name: "kubectl apply reorders containers",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "template": {"spec": {"containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]}}
                }
            }"#,
            patch: r#"{
                "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "template": {"spec": {"containers": [{"image": "b", "name": "b"}, {"image": "a", "name": "a"}]}}
                }
            }"#),
        },
        Case {
            name: "kubectl apply switches RollingUpdate to Recreate",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
                    },
                    "replicas": 1,
                    "template": {"spec": {}}
                }
            }"#,
            patch: r#"{"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"}}}"#,
            expected: Ok(r#"{"spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "template": {"spec": {}}}}"#),
        },
        Case {
            name: "kubectl apply switches Recreate to RollingUpdate",
            root: DEPLOYMENT,
            original: r#"{"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {}}}}"#,
            patch: r#"{
                "spec": {
                    "strategy": {
                        "$retainKeys": ["rollingUpdate", "type"],
                        "rollingUpdate": {"maxSurge": 1},
                        "type": "RollingUpdate"
                    }
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "strategy": {"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"},
                    "template": {"spec": {}}
                }
            }"#),
        },
        Case {
            name: "kubectl apply switches a volume from emptyDir to hostPath",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "volumes": [
                                {"name": "data", "emptyDir": {}},
                                {"name": "cfg", "configMap": {"name": "c"}}
                            ]
                        }
                    }
                }
            }"#,
            patch: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "$setElementOrder/volumes": [{"name": "data"}, {"name": "cfg"}],
                            "volumes": [
                                {"$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/srv"}, "name": "data"}
                            ]
                        }
                    }
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "volumes": [
                                {"hostPath": {"path": "/srv"}, "name": "data"},
                                {"configMap": {"name": "c"}, "name": "cfg"}
                            ]
                        }
                    }
                }
            }"#),
        },
        Case {
            name: "kubectl apply swaps a finalizer",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["example.com/a", "example.com/b", "server/c"]}}"#,
            patch: r#"{
                "metadata": {
                    "$deleteFromPrimitiveList/finalizers": ["example.com/b"],
                    "$setElementOrder/finalizers": ["example.com/a", "example.com/d"],
                    "finalizers": ["example.com/d"]
                }
            }"#,
            expected: Ok(r#"{"metadata": {"finalizers": ["example.com/a", "example.com/d", "server/c"]}}"#),
        },
        Case {
            name: "kubectl label adds and removes labels",
            root: POD,
            original: r#"{"metadata": {"labels": {"app": "web", "tier": "front"}}}"#,
            patch: r#"{"metadata": {"labels": {"tier": null, "env": "prod"}}}"#,
            expected: Ok(r#"{"metadata": {"labels": {"app": "web", "env": "prod"}}}"#),
        },
        Case {
            name: "service ports merge by port",
            root: SERVICE,
            original: r#"{
                "spec": {
                    "ports": [
                        {"port": 80, "targetPort": 8080, "protocol": "TCP"},
                        {"port": 443, "targetPort": 8443, "protocol": "TCP"}
                    ]
                }
            }"#,
            patch: r#"{
                "spec": {
                    "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                    "ports": [{"port": 443, "targetPort": 9443}]
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "ports": [
                        {"port": 80, "protocol": "TCP", "targetPort": 8080},
                        {"port": 443, "protocol": "TCP", "targetPort": 9443}
                    ]
                }
            }"#),
        },
        Case {
            name: "owner references merge by uid",
            root: POD,
            original: r#"{"metadata": {"ownerReferences": [{"uid": "u1", "name": "rs-1", "kind": "ReplicaSet"}]}}"#,
            patch: r#"{"metadata": {"ownerReferences": [{"uid": "u2", "name": "rs-2", "kind": "ReplicaSet"}]}}"#,
            expected: Ok(r#"{
                "metadata": {
                    "ownerReferences": [
                        {"kind": "ReplicaSet", "name": "rs-2", "uid": "u2"},
                        {"kind": "ReplicaSet", "name": "rs-1", "uid": "u1"}
                    ]
                }
            }"#),
        },
        Case {
            name: "a replace strategy replaces a whole object",
            root: PDB,
            original: r#"{"spec": {"selector": {"matchLabels": {"a": "1"}}, "minAvailable": 1}}"#,
            patch: r#"{"spec": {"selector": {"matchLabels": {"b": "2"}}}}"#,
            expected: Ok(r#"{"spec": {"minAvailable": 1, "selector": {"matchLabels": {"b": "2"}}}}"#),
        },
        Case {
            name: "a list without strategy is replaced whole",
            root: POD,
            original: r#"{"spec": {"tolerations": [{"key": "a", "operator": "Exists"}]}}"#,
            patch: r#"{"spec": {"tolerations": [{"key": "b", "operator": "Exists", "value": null}]}}"#,
            expected: Ok(r#"{"spec": {"tolerations": [{"key": "b", "operator": "Exists", "value": null}]}}"#),
        },
        Case {
            name: "a merge list of primitives on a node",
            root: NODE,
            original: r#"{"spec": {"podCIDRs": ["10.0.0.0/24"]}}"#,
            patch: r#"{"spec": {"podCIDRs": ["fd00::/64"]}}"#,
            expected: Ok(r#"{"spec": {"podCIDRs": ["fd00::/64", "10.0.0.0/24"]}}"#),
        },
        Case {
            name: "without a root type every list is replaced",
            root: None,
            original: r#"{"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}"#,
            patch: r#"{"spec": {"containers": [{"name": "b", "image": "x"}]}}"#,
            expected: Ok(r#"{"spec": {"containers": [{"image": "x", "name": "b"}]}}"#),
        },
        Case {
            name: "nulls in a new object are dropped and directives removed",
            root: POD,
            original: r#"{"spec": {}}"#,
            patch: r#"{
                "spec": {
                    "securityContext": {"runAsUser": null, "fsGroup": 2, "seLinuxOptions": {"$patch": "delete"}},
                    "containers": [{"name": "a", "image": null, "env": [{"$patch": "replace"}, {"name": "X"}]}]
                }
            }"#,
            expected: Ok(r#"{
                "spec": {"containers": [{"env": [{"name": "X"}], "name": "a"}], "securityContext": {"fsGroup": 2}}
            }"#),
        },
        Case {
            name: "an object replaced with $patch keeps its nulls",
            root: POD,
            original: r#"{"metadata": {"labels": {"a": "1"}}}"#,
            patch: r#"{"metadata": {"labels": {"$patch": "replace", "b": null}}}"#,
            expected: Ok(r#"{"metadata": {"labels": {"b": null}}}"#),
        },
        Case {
            name: "a new list under $setElementOrder keeps its nulls",
            root: POD,
            original: r#"{"spec": {}}"#,
            patch: r#"{
                "spec": {
                    "$setElementOrder/containers": [{"name": "a"}],
                    "containers": [{"name": "a", "image": null}]
                }
            }"#,
            expected: Ok(r#"{"spec": {"containers": [{"image": null, "name": "a"}]}}"#),
        },
        Case {
            name: "an appended item keeps its nulls and directives",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "a"}]}}"#,
            patch: r#"{
                "spec": {"containers": [{"name": "b", "image": null, "env": [{"name": "X", "$patch": "delete"}]}]}
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "containers": [
                        {"env": [{"$patch": "delete", "name": "X"}], "image": null, "name": "b"},
                        {"name": "a"}
                    ]
                }
            }"#),
        },
        Case {
            name: "a field of another type is replaced without nulls",
            root: POD,
            original: r#"{"spec": {"hostname": "x"}}"#,
            patch: r#"{"spec": {"hostname": {"a": null, "b": 1}}}"#,
            expected: Ok(r#"{"spec": {"hostname": {"b": 1}}}"#),
        },
        Case {
            name: "a numeric merge key",
            root: DEPLOYMENT,
            original: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "c", "ports": [{"containerPort": 80}, {"containerPort": 81}]}]
                        }
                    }
                }
            }"#,
            patch: r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "c", "ports": [{"containerPort": 81, "name": "x"}, {"containerPort": 82}]}
                            ]
                        }
                    }
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "c",
                                    "ports": [
                                        {"containerPort": 80},
                                        {"containerPort": 81, "name": "x"},
                                        {"containerPort": 82}
                                    ]
                                }
                            ]
                        }
                    }
                }
            }"#),
        },
        Case {
            name: "an empty $setElementOrder over a long list",
            root: POD,
            original: r#"{
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "env": [
                                {"name": "E00", "value": "0"},
                                {"name": "E01", "value": "1"},
                                {"name": "E02", "value": "2"},
                                {"name": "E03", "value": "3"},
                                {"name": "E04", "value": "4"},
                                {"name": "E05", "value": "5"},
                                {"name": "E06", "value": "6"},
                                {"name": "E07", "value": "7"},
                                {"name": "E08", "value": "8"},
                                {"name": "E09", "value": "9"},
                                {"name": "E10", "value": "10"},
                                {"name": "E11", "value": "11"},
                                {"name": "E12", "value": "12"},
                                {"name": "E13", "value": "13"},
                                {"name": "E14", "value": "14"},
                                {"name": "E15", "value": "15"},
                                {"name": "E16", "value": "16"},
                                {"name": "E17", "value": "17"},
                                {"name": "E18", "value": "18"},
                                {"name": "E19", "value": "19"},
                                {"name": "E20", "value": "20"},
                                {"name": "E21", "value": "21"},
                                {"name": "E22", "value": "22"},
                                {"name": "E23", "value": "23"}
                            ]
                        }
                    ]
                }
            }"#,
            patch: r#"{
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "$setElementOrder/env": [],
                            "env": [
                                {"name": "N1"},
                                {"name": "E05", "value": "x"},
                                {"name": "N2"},
                                {"name": "E20", "value": "y"},
                                {"name": "N3"}
                            ]
                        }
                    ]
                }
            }"#,
            expected: Ok(r#"{
                "spec": {
                    "containers": [
                        {
                            "env": [
                                {"name": "N3"},
                                {"name": "N2"},
                                {"name": "E00", "value": "0"},
                                {"name": "E01", "value": "1"},
                                {"name": "E02", "value": "2"},
                                {"name": "E03", "value": "3"},
                                {"name": "E04", "value": "4"},
                                {"name": "E05", "value": "x"},
                                {"name": "E06", "value": "6"},
                                {"name": "E07", "value": "7"},
                                {"name": "E08", "value": "8"},
                                {"name": "E09", "value": "9"},
                                {"name": "E10", "value": "10"},
                                {"name": "E11", "value": "11"},
                                {"name": "E12", "value": "12"},
                                {"name": "E13", "value": "13"},
                                {"name": "E14", "value": "14"},
                                {"name": "E15", "value": "15"},
                                {"name": "E16", "value": "16"},
                                {"name": "E17", "value": "17"},
                                {"name": "E18", "value": "18"},
                                {"name": "E19", "value": "19"},
                                {"name": "E20", "value": "y"},
                                {"name": "E21", "value": "21"},
                                {"name": "E22", "value": "22"},
                                {"name": "E23", "value": "23"},
                                {"name": "N1"}
                            ],
                            "name": "c"
                        }
                    ]
                }
            }"#),
        },
        Case {
            name: "$patch replace in a list with its order",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}"#,
            patch: r#"{
                "spec": {
                    "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}],
                    "containers": [{"$patch": "replace"}, {"name": "c"}, {"name": "b", "image": "x"}]
                }
            }"#,
            expected: Ok(r#"{"spec": {"containers": [{"name": "c"}, {"image": "x", "name": "b"}]}}"#),
        },
    ];

    /// Invalid patches, with upstream's messages.
    const INVALID_CASES: &[Case] = &[
        Case {
            name: "$patch merge on an object",
            root: POD,
            original: r#"{"metadata": {"labels": {"a": "1"}}}"#,
            patch: r#"{"metadata": {"labels": {"$patch": "merge", "a": "b"}}}"#,
            expected: Err("unknown patch type: merge in map: map[$patch:merge a:b]"),
        },
        Case {
            name: "an unknown $patch in a list",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "a"}]}}"#,
            patch: r#"{"spec": {"containers": [{"name": "a", "$patch": "bogus"}]}}"#,
            expected: Err("unknown patch type: bogus in map: map[$patch:bogus name:a]"),
        },
        Case {
            name: "$patch merge in a list",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "a"}]}}"#,
            patch: r#"{"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}"#,
            expected: Err("merging lists cannot yet be specified in the patch"),
        },
        Case {
            name: "a numeric $patch",
            root: POD,
            original: r#"{"metadata": {"labels": {"a": "1"}}}"#,
            patch: r#"{"metadata": {"labels": {"$patch": 1}}}"#,
            expected: Err("unknown patch type: %!s(int64=1) in map: map[$patch:1]"),
        },
        Case {
            name: "$patch delete without merge key",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "a"}]}}"#,
            patch: r#"{"spec": {"containers": [{"$patch": "delete"}]}}"#,
            expected: Err("map: map[$patch:delete] does not contain declared merge key: name"),
        },
        Case {
            name: "$retainKeys that is not a list",
            root: DEPLOYMENT,
            original: r#"{"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {}}}}"#,
            patch: r#"{"spec": {"strategy": {"$retainKeys": "type"}}}"#,
            expected: Err("invalid patch format of retainKeys"),
        },
        Case {
            name: "a key outside $retainKeys",
            root: DEPLOYMENT,
            original: r#"{"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {}}}}"#,
            patch: r#"{"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}"#,
            expected: Err("invalid patch format of retainKeys"),
        },
        Case {
            name: "$deleteFromPrimitiveList without a field",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["a"]}}"#,
            patch: r#"{"metadata": {"$deleteFromPrimitiveList": ["a"]}}"#,
            expected: Err("invalid patch format of primitive list"),
        },
        Case {
            name: "$setElementOrder with a bad prefix",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["a"]}}"#,
            patch: r#"{"metadata": {"$setElementOrderX/finalizers": ["a"]}}"#,
            expected: Err("invalid patch format of setElementOrder list"),
        },
        Case {
            name: "$setElementOrder that is not a list",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["a"]}}"#,
            patch: r#"{"metadata": {"$setElementOrder/finalizers": "a"}}"#,
            expected: Err("expected a []interface {}, but received a string"),
        },
        Case {
            name: "a list of lists",
            root: POD,
            original: r#"{"metadata": {"finalizers": []}}"#,
            patch: r#"{"metadata": {"finalizers": [["b"]]}}"#,
            expected: Err("lists of lists are not supported"),
        },
        Case {
            name: "a list whose items change type",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["a"]}}"#,
            patch: r#"{"metadata": {"finalizers": [["b"]]}}"#,
            expected: Err("list element types are not identical: [[a] [[b]]]"),
        },
        Case {
            name: "items of mixed types",
            root: POD,
            original: r#"{"metadata": {"finalizers": ["a"]}}"#,
            patch: r#"{"metadata": {"finalizers": [{"name": "b"}, 1.5]}}"#,
            expected: Err("list element types are not identical: [[a] [map[name:b] 1.5]]"),
        },
        Case {
            name: "$setElementOrder for a list with no items",
            root: POD,
            original: r#"{"spec": {"containers": []}}"#,
            patch: r#"{"spec": {"$setElementOrder/containers": [{"name": "a"}]}}"#,
            expected: Err("no elements in any of the given slices"),
        },
        Case {
            name: "primitives in a merge-keyed list",
            root: POD,
            original: r#"{"spec": {"containers": []}}"#,
            patch: r#"{"spec": {"containers": [1, 2]}}"#,
            expected: Err("expected a map[string]interface {}, but received a int64"),
        },
        Case {
            name: "$deleteFromPrimitiveList on a list of objects without merge key",
            root: POD,
            original: r#"{"spec": {"tolerations": [{"key": "a"}]}}"#,
            patch: r#"{"spec": {"$deleteFromPrimitiveList/tolerations": [{"key": "a"}]}}"#,
            expected: Err("cannot merge lists without merge key for struct"),
        },
        Case {
            name: "floats in a message",
            root: POD,
            original: r#"{"spec": {"containers": [{"name": "a"}]}}"#,
            patch: r#"{
                "spec": {"containers": [{"image": "x", "p": 1e+21, "q": 0.5, "r": 1234567.0, "s": true, "t": null}]}
            }"#,
            expected: Err("map: map[image:x p:1e+21 q:0.5 r:1.234567e+06 s:true t:<nil>] does not contain declared \
                    merge key: name"),
        },
    ];
}
