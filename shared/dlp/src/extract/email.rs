//! RFC 5322 / MIME messages (.eml): headers, text bodies (base64 and quoted-printable
//! decoded, HTML stripped) and attachments, which are extracted like files.

use super::{extract_into, member_path, office, Ctx};

pub fn looks_like_email(head: &[u8]) -> bool {
    let first_lines = &head[..head.len().min(2048)];
    let lower = first_lines.to_ascii_lowercase();
    let has = |h: &[u8]| {
        lower.starts_with(h) || memchr::memmem::find(&lower, &[b"\n", h].concat()).is_some()
    };
    (has(b"from:") || has(b"received:") || has(b"return-path:"))
        && (has(b"subject:") || has(b"mime-version:") || has(b"to:"))
}

struct Headers<'a> {
    raw: &'a [u8],
}

impl Headers<'_> {
    /// Value of a header (first occurrence, unfolded), case-insensitive name.
    fn get(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(self.raw);
        let mut found: Option<String> = None;
        for line in text.split('\n') {
            let line = line.trim_end_matches('\r');
            if let Some(value) = found.as_mut() {
                if line.starts_with([' ', '\t']) {
                    value.push(' ');
                    value.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.trim().eq_ignore_ascii_case(name) {
                    found = Some(v.trim().to_string());
                }
            }
        }
        found
    }
}

fn param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn split_head_body(msg: &[u8]) -> (&[u8], &[u8]) {
    if let Some(p) = memchr::memmem::find(msg, b"\r\n\r\n") {
        return (&msg[..p], &msg[p + 4..]);
    }
    if let Some(p) = memchr::memmem::find(msg, b"\n\n") {
        return (&msg[..p], &msg[p + 2..]);
    }
    (msg, &[])
}

fn decode_base64(body: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    crate::util::base64url_decode(&clean).unwrap_or_default()
}

fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'=' {
            match (body.get(i + 1), body.get(i + 2)) {
                (Some(b'\r'), Some(b'\n')) => i += 3,
                (Some(b'\n'), _) => i += 2,
                (Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    let hex = [h, l];
                    out.push(
                        u8::from_str_radix(std::str::from_utf8(&hex).unwrap_or("3F"), 16)
                            .unwrap_or(b'?'),
                    );
                    i += 3;
                }
                _ => {
                    out.push(b'=');
                    i += 1;
                }
            }
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

pub(super) fn extract(ctx: &mut Ctx<'_>, display: Option<&str>, msg: &[u8], depth: usize) {
    let mut text = Vec::new();
    walk(ctx, display, msg, depth, &mut text, 0);
    ctx.push_text(display, text);
}

fn walk(
    ctx: &mut Ctx<'_>,
    display: Option<&str>,
    entity: &[u8],
    depth: usize,
    text: &mut Vec<u8>,
    mime_depth: usize,
) {
    if mime_depth > 20 || ctx.timed_out() {
        ctx.error("limit: MIME structure nested too deep".into());
        return;
    }
    let (head, body) = split_head_body(entity);
    let headers = Headers { raw: head };
    if mime_depth == 0 {
        for h in ["From", "To", "Cc", "Reply-To", "Subject"] {
            if let Some(v) = headers.get(h) {
                text.extend_from_slice(format!("{h}: {v}\n").as_bytes());
            }
        }
    }
    let content_type = headers
        .get("Content-Type")
        .unwrap_or_else(|| "text/plain".into());
    let ctype = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let encoding = headers
        .get("Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let filename = headers
        .get("Content-Disposition")
        .and_then(|d| param(&d, "filename"))
        .or_else(|| param(&content_type, "name"));

    if ctype.starts_with("multipart/") {
        let Some(boundary) = param(&content_type, "boundary") else {
            return;
        };
        let delimiter = format!("--{boundary}");
        let mut parts = body.split_str(delimiter.as_bytes());
        parts.next(); // preamble
        for part in parts {
            if part.starts_with(b"--") {
                break;
            }
            if !ctx.reserve(0) {
                return;
            }
            walk(ctx, display, part, depth, text, mime_depth + 1);
        }
        return;
    }
    let decoded = match encoding.as_str() {
        "base64" => decode_base64(body),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_vec(),
    };
    match filename {
        Some(name) => {
            if !ctx.reserve(decoded.len() as u64) {
                return;
            }
            let path = member_path(display, "", &name);
            extract_into(ctx, &name, Some(&path), &decoded, depth + 1);
        }
        None if ctype == "text/html" => {
            text.extend_from_slice(&office::markup_to_text(&decoded, office::Dialect::Html));
            text.push(b'\n');
        }
        None if ctype.starts_with("text/") || ctype.starts_with("message/") => {
            if ctype == "message/rfc822" {
                walk(ctx, display, &decoded, depth, text, mime_depth + 1);
            } else {
                text.extend_from_slice(&decoded);
                text.push(b'\n');
            }
        }
        None => {}
    }
}

trait SplitStr {
    fn split_str<'a>(&'a self, sep: &'a [u8]) -> Box<dyn Iterator<Item = &'a [u8]> + 'a>;
}

impl SplitStr for [u8] {
    fn split_str<'a>(&'a self, sep: &'a [u8]) -> Box<dyn Iterator<Item = &'a [u8]> + 'a> {
        let mut rest: Option<&'a [u8]> = Some(self);
        Box::new(std::iter::from_fn(move || {
            let r = rest?;
            match memchr::memmem::find(r, sep) {
                Some(p) => {
                    rest = Some(&r[p + sep.len()..]);
                    Some(&r[..p])
                }
                None => {
                    rest = None;
                    Some(r)
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_soft_breaks_and_hex() {
        assert_eq!(
            decode_quoted_printable(b"SSN 536-22=\r\n-1234 caf=C3=A9"),
            "SSN 536-22-1234 café".as_bytes()
        );
    }

    #[test]
    fn recognises_mail_headers() {
        assert!(looks_like_email(
            b"From: a@b.c\nTo: d@e.f\nSubject: hi\n\nbody"
        ));
        assert!(!looks_like_email(b"just some text\nwith lines"));
    }
}
