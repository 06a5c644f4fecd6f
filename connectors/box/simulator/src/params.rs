//! Reading request parameters the same way across endpoints: members of JSON bodies and the
//! paging parameters of list endpoints.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::error::BoxError;
use crate::files::SharedLinkRequest;
use crate::state::ItemKind;

/// A string a create body must carry; `name` is dotted (`parent.id`) and names the member in
/// Box's "Missing parameter" message.
pub(crate) fn required_str<'a>(body: &'a Value, name: &str) -> Result<&'a str, BoxError> {
    body.pointer(&format!("/{}", name.replace('.', "/")))
        .and_then(Value::as_str)
        .ok_or_else(|| BoxError::bad_request(format!("Missing parameter {name}")))
}

/// The `type` of an item reference in a body (`item.type`, `target.type`).
pub(crate) fn required_item_kind(body: &Value, name: &str) -> Result<ItemKind, BoxError> {
    body.pointer(&format!("/{}", name.replace('.', "/")))
        .and_then(Value::as_str)
        .and_then(ItemKind::parse)
        .ok_or_else(|| BoxError::bad_request(format!("{name} must be file or folder")))
}

/// An optional string member of an update body: absent is `None`, any other type a 400.
pub(crate) fn optional_str<'a>(
    body: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, BoxError> {
    body.get(key)
        .map(|value| {
            value
                .as_str()
                .ok_or_else(|| BoxError::bad_request(format!("{key} must be a string")))
        })
        .transpose()
}

/// `parent.id` of an update body, when it moves the item.
pub(crate) fn new_parent_id(body: &Map<String, Value>) -> Result<Option<&str>, BoxError> {
    body.get("parent")
        .map(|parent| {
            parent
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| BoxError::bad_request("parent.id must be a string"))
        })
        .transpose()
}

/// `shared_link` of an update body: `Some(Some(..))` sets the link, `Some(None)` (JSON
/// `null`) removes it, `None` leaves it alone.
pub(crate) fn shared_link_change(
    body: &Map<String, Value>,
) -> Result<Option<Option<SharedLinkRequest>>, BoxError> {
    match body.get("shared_link") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(link @ Value::Object(_)) => Ok(Some(Some(SharedLinkRequest::from_json(link)?))),
        Some(_) => Err(BoxError::bad_request(
            "shared_link must be an object or null",
        )),
    }
}

/// `limit` of a list endpoint: 100 unless given, between 1 and 1000.
pub(crate) fn page_limit(query: &HashMap<String, String>) -> usize {
    query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 1000)
}

/// `offset` of an offset-paged list: 0 unless given as a whole number.
pub(crate) fn page_offset(query: &HashMap<String, String>) -> usize {
    query
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0)
}

/// One page of a marker-paged collection; the simulator's marker is the offset of the next page.
pub(crate) fn marker_page<T>(
    items: &[T],
    start: usize,
    limit: usize,
    render: impl Fn(&T) -> Value,
) -> Value {
    let entries: Vec<Value> = items.iter().skip(start).take(limit).map(render).collect();
    let next_marker = if start + limit < items.len() {
        json!((start + limit).to_string())
    } else {
        Value::Null
    };
    json!({"limit": limit, "next_marker": next_marker, "prev_marker": null, "entries": entries})
}
