//! PDF text: content streams (uncompressed or FlateDecode) are decoded under the limits
//! and their text-showing operators (`Tj`, `TJ`, `'`, `"`) read. Fonts with simple
//! encodings (WinAnsi, Standard, PDFDoc) come out as text; CID fonts without a usable
//! encoding are not decoded (their glyph ids are skipped, not guessed). Broken files
//! yield what could be read.

use super::Ctx;
use std::io::Read;

pub(super) fn extract_text(ctx: &mut Ctx<'_>, pdf: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    let ratio = ctx.limits.max_compression_ratio;
    while let Some(found) = memchr::memmem::find(&pdf[pos..], b"stream") {
        let kw = pos + found;
        pos = kw + 6;
        // `endstream` also contains `stream`: only a keyword followed by an EOL starts data.
        if kw >= 3 && &pdf[kw - 3..kw] == b"end" {
            continue;
        }
        let data_start = match pdf.get(pos..pos + 2) {
            Some(b"\r\n") => pos + 2,
            Some([b'\n', _]) | Some([b'\r', _]) => pos + 1,
            _ => continue,
        };
        let Some(end_rel) = memchr::memmem::find(&pdf[data_start..], b"endstream") else {
            break;
        };
        let data = &pdf[data_start..data_start + end_rel];
        pos = data_start + end_rel + 9;
        if ctx.timed_out() {
            break;
        }
        let dict_start = kw.saturating_sub(512);
        let dict = &pdf[dict_start..kw];
        let dict = match memchr::memmem::rfind(dict, b"obj") {
            Some(p) => &dict[p..],
            None => dict,
        };
        let has = |name: &[u8]| memchr::memmem::find(dict, name).is_some();
        if has(b"/Image") || has(b"/FontFile") || has(b"/DCTDecode") || has(b"/XRef") {
            continue;
        }
        let content: Vec<u8> = if has(b"/FlateDecode") || has(b"/Fl ") || has(b"/Fl]") {
            let cap = (data.len() as u64)
                .saturating_mul(ratio)
                .min(ctx.limits.max_total_bytes.saturating_sub(ctx.total_bytes));
            let mut decoded = Vec::new();
            let mut decoder = flate2::read::ZlibDecoder::new(data).take(cap.saturating_add(1));
            // A truncated or corrupt stream still gives the text decoded so far.
            let _ = decoder.read_to_end(&mut decoded);
            if decoded.len() as u64 > cap {
                ctx.error(
                    "pdf: a stream inflates beyond the compression-ratio or size limit; skipped"
                        .into(),
                );
                continue;
            }
            decoded
        } else if has(b"/Filter") {
            continue; // LZW, ASCII85, ... carry no text we can read here.
        } else {
            data.to_vec()
        };
        if !ctx.reserve(content.len() as u64) {
            break;
        }
        if memchr::memmem::find(&content, b"BT").is_some() {
            show_text(&content, &mut out);
        }
    }
    out
}

fn push_latin1(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if b < 0x80 {
            if b >= 0x20 || b == b'\n' || b == b'\t' {
                out.push(b);
            }
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(char::from(b).encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Reads a literal string starting after `(`; returns the bytes and the index after `)`.
fn literal_string(s: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut depth = 1usize;
    while i < s.len() {
        let c = s[i];
        match c {
            b'\\' => {
                i += 1;
                let Some(&e) = s.get(i) else { break };
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' | b'f' => {}
                    b'0'..=b'7' => {
                        let mut v: u32 = 0;
                        let mut n = 0;
                        while n < 3 && i < s.len() && (b'0'..=b'7').contains(&s[i]) {
                            v = v * 8 + u32::from(s[i] - b'0');
                            i += 1;
                            n += 1;
                        }
                        out.push((v & 0xff) as u8);
                        continue;
                    }
                    b'\r' | b'\n' => {}
                    other => out.push(other),
                }
                i += 1;
            }
            b'(' => {
                depth += 1;
                out.push(c);
                i += 1;
            }
            b')' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return (out, i);
                }
                out.push(c);
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    (out, i)
}

fn hex_string(s: &[u8], i: usize) -> (Vec<u8>, usize) {
    let end = memchr::memchr(b'>', &s[i..])
        .map(|p| i + p)
        .unwrap_or(s.len());
    let digits: Vec<u8> = s[i..end]
        .iter()
        .copied()
        .filter(u8::is_ascii_hexdigit)
        .collect();
    let bytes = digits
        .chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16).unwrap_or(0);
            let lo = p
                .get(1)
                .and_then(|c| (*c as char).to_digit(16))
                .unwrap_or(0);
            (hi * 16 + lo) as u8
        })
        .collect();
    (bytes, end + 1)
}

/// Walks a content stream and writes the text shown by text operators.
fn show_text(content: &[u8], out: &mut Vec<u8>) {
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    let mut last_number: f64 = 0.0;
    while i < content.len() {
        let c = content[i];
        match c {
            b'(' => {
                let (s, next) = literal_string(content, i + 1);
                pending.push(s);
                i = next;
            }
            b'<' if content.get(i + 1) != Some(&b'<') => {
                let (s, next) = hex_string(content, i + 1);
                pending.push(s);
                i = next;
            }
            b'%' => {
                i = memchr::memchr2(b'\n', b'\r', &content[i..])
                    .map(|p| i + p)
                    .unwrap_or(content.len());
            }
            b'-' | b'+' | b'.' | b'0'..=b'9' => {
                let start = i;
                while i < content.len() && matches!(content[i], b'-' | b'+' | b'.' | b'0'..=b'9') {
                    i += 1;
                }
                last_number = std::str::from_utf8(&content[start..i])
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0.0);
                // Inside a TJ array a large negative kerning is a word space.
                if last_number < -180.0 && !pending.is_empty() {
                    pending.push(b" ".to_vec());
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'\'' | b'"' | b'*' => {
                let start = i;
                while i < content.len()
                    && (content[i].is_ascii_alphabetic()
                        || matches!(content[i], b'*' | b'\'' | b'"'))
                {
                    i += 1;
                }
                match &content[start..i] {
                    b"Tj" | b"TJ" => {
                        for s in pending.drain(..) {
                            push_latin1(&s, out);
                        }
                    }
                    b"'" | b"\"" => {
                        out.push(b'\n');
                        for s in pending.drain(..) {
                            push_latin1(&s, out);
                        }
                    }
                    b"T*" | b"ET" => out.push(b'\n'),
                    b"Td" | b"TD" | b"Tm" => {
                        if !out.ends_with(b" ") && !out.ends_with(b"\n") && !out.is_empty() {
                            out.push(b' ');
                        }
                        pending.clear();
                    }
                    _ => pending.clear(),
                }
                let _ = last_number;
            }
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_operators() {
        let mut out = Vec::new();
        show_text(b"BT /F1 12 Tf 72 712 Td (SSN: 536-22-\\061234) Tj 0 -14 Td [(Card 4111 1111) -250 (1111 1111)] TJ ET", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("SSN: 536-22-1234"), "{text}");
        assert!(text.contains("Card 4111 1111 1111 1111"), "{text}");
    }

    #[test]
    fn broken_pdf_gives_no_panic_and_partial_text() {
        let limits = super::super::Limits::default();
        let doc = b"%PDF-1.4\n1 0 obj << /Length 44 >> stream\nBT (hello world) Tj ET\nendstream endobj\n2 0 obj << /Filter /FlateDecode >> stream\n\x78\x9c\x01\x02garbage";
        let out = super::super::extract("x.pdf", doc, &limits);
        assert_eq!(out.parts.len(), 1);
        assert!(String::from_utf8_lossy(&out.parts[0].text).contains("hello world"));
    }
}
