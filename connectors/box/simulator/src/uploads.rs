//! Multipart uploads as Box's upload host takes them (`POST /api/2.0/files/content` with an
//! `attributes` JSON part and a `file` part; `POST /api/2.0/files/{id}/content` for a new
//! version). Answers 201 with a `Files` collection of one `File--Full`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::error::BoxError;
use crate::server::Shared;
use crate::state::SimState;

struct Part {
    name: String,
    filename: Option<String>,
    body: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

fn disposition_param(disposition: &str, key: &str) -> Option<String> {
    disposition
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('"').to_string())
}

/// A small multipart/form-data parser: enough for the simulator's upload endpoints.
fn parse_multipart(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Part>, BoxError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .ok_or_else(|| {
            BoxError::bad_request("Expected a multipart/form-data body with a boundary")
        })?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut position = find(body, &delimiter, 0)
        .ok_or_else(|| BoxError::bad_request("Malformed multipart body"))?;
    loop {
        let start = position + delimiter.len();
        if body.get(start..start + 2) == Some(b"--") {
            break; // closing delimiter
        }
        let headers_start = start + 2; // skip CRLF after the delimiter
        let headers_end = find(body, b"\r\n\r\n", headers_start)
            .ok_or_else(|| BoxError::bad_request("Malformed multipart part"))?;
        let next = find(body, &delimiter, headers_end)
            .ok_or_else(|| BoxError::bad_request("Unterminated multipart body"))?;
        let part_headers = String::from_utf8_lossy(&body[headers_start..headers_end]).to_string();
        let content_end = next.saturating_sub(2).max(headers_end + 4); // drop the CRLF before the delimiter
        let disposition = part_headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or("");
        parts.push(Part {
            name: disposition_param(disposition, "name").unwrap_or_default(),
            filename: disposition_param(disposition, "filename"),
            body: body[headers_end + 4..content_end].to_vec(),
        });
        position = next;
    }
    Ok(parts)
}

fn attributes(parts: &[Part]) -> Result<Value, BoxError> {
    match parts.iter().find(|p| p.name == "attributes") {
        Some(part) => serde_json::from_slice(&part.body)
            .map_err(|e| BoxError::bad_request(format!("Invalid attributes JSON: {e}"))),
        None => Ok(json!({})),
    }
}

fn file_part(parts: &[Part]) -> Result<&Part, BoxError> {
    parts
        .iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| BoxError::bad_request("Missing the file part"))
}

/// Both upload endpoints answer 201 with a `Files` collection holding the uploaded file.
fn uploaded_file_reply(
    state: &SimState,
    file_id: &str,
) -> Result<(StatusCode, axum::Json<Value>), BoxError> {
    let file = state.live_file(file_id)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"total_count": 1, "entries": [state.file_json(file, None)]})),
    ))
}

/// `POST /api/2.0/files/content` (upload a new file).
pub(crate) async fn upload_new(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.serve_as_caller(&headers, |state, user| {
        let parts = parse_multipart(&headers, &body)?;
        let attributes = attributes(&parts)?;
        let file_part = file_part(&parts)?;
        let name = attributes
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| file_part.filename.clone())
            .ok_or_else(|| BoxError::bad_request("Missing attributes.name"))?;
        let parent = attributes
            .pointer("/parent/id")
            .and_then(Value::as_str)
            .ok_or_else(|| BoxError::bad_request("Missing attributes.parent.id"))?;
        let id = state.upload_file(&user, parent, &name, file_part.body.clone())?;
        uploaded_file_reply(state, &id)
    })
}

/// `POST /api/2.0/files/{id}/content` (upload a new version).
pub(crate) async fn upload_version(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    shared.serve_as_caller(&headers, |state, user| {
        let parts = parse_multipart(&headers, &body)?;
        let file_part = file_part(&parts)?;
        crate::files::check_if_match(&headers, state.live_file(&id)?.etag)?;
        state.edit_file_content(&user, &id, file_part.body.clone())?;
        uploaded_file_reply(state, &id)
    })
}
