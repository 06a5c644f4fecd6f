//! PDF text: content streams (uncompressed or FlateDecode) are decoded under the limits
//! and their text-showing operators (`Tj`, `TJ`, `'`, `"`) read. Fonts with simple
//! encodings (WinAnsi, Standard, PDFDoc) come out as text; CID fonts without a usable
//! encoding are not decoded (their glyph ids are skipped, not guessed). Broken files
//! yield what could be read.

use super::{measure, read_up_to, Ctx, Ending};

/// A stream that may carry text: where its data starts in the file, and the data.
struct Stream<'a> {
    at: usize,
    data: &'a [u8],
    flate: bool,
    /// The number of the object holding the stream (`12 0 obj`), when it can be read.
    object: Option<u32>,
}

enum Decoded {
    Whole(Vec<u8>),
    /// Larger than what is left of the budget: its first part, when it was asked for.
    Prefix(Vec<u8>),
    Larger,
    /// Past the compression ratio (noted).
    Refused,
}

/// The text of each page, in page order (`Some(n)`, 1-based), when the page tree can be
/// read; text in streams no page names (or all of it, when the tree is in compressed object
/// streams or broken) comes under `None`. `label` names the document in messages.
pub(super) fn extract_pages(
    ctx: &mut Ctx<'_>,
    label: &str,
    pdf: &[u8],
) -> Vec<(Option<usize>, Vec<u8>)> {
    let pages = page_of_content(pdf);
    let mut texts: std::collections::BTreeMap<Option<usize>, Vec<u8>> = Default::default();
    let mut page_text = |object: Option<u32>, text: Vec<u8>| {
        if text.is_empty() {
            return;
        }
        let page = object.and_then(|o| pages.get(&o).copied());
        let buffer = texts.entry(page).or_default();
        buffer.extend_from_slice(&text);
        buffer.push(b'\n');
    };
    // Streams larger than what is left of the budget wait until every stream that fits has
    // been read, then share what is left: one huge page must not crowd out the others.
    let mut larger = Vec::new();
    for stream in text_streams(pdf) {
        if ctx.timed_out() {
            break;
        }
        match decode(ctx, label, &stream, false) {
            Decoded::Whole(content) => {
                let mut out = Vec::new();
                scan(ctx, &content, &mut out);
                page_text(stream.object, out);
            }
            Decoded::Prefix(_) | Decoded::Larger => larger.push(stream),
            Decoded::Refused => {}
        }
    }
    let mut left_out = Vec::new();
    for stream in larger {
        if ctx.timed_out() {
            break;
        }
        if ctx.remaining() == 0 {
            left_out.push(stream.at.to_string());
            continue;
        }
        let content = match decode(ctx, label, &stream, true) {
            Decoded::Whole(content) => content,
            Decoded::Prefix(content) => {
                let what = format!("{label}: the content stream at byte {}", stream.at);
                ctx.partly_scanned(&what, content.len() as u64, None);
                content
            }
            Decoded::Larger | Decoded::Refused => continue,
        };
        let mut out = Vec::new();
        scan(ctx, &content, &mut out);
        page_text(stream.object, out);
    }
    let noun = ("the content stream at byte", "the content streams at bytes");
    ctx.not_scanned(label, noun, &left_out);
    texts.into_iter().collect()
}

/// Object number -> 1-based page, for the content streams of the pages reached from the
/// page tree's root (`/Type /Pages` without `/Parent`) through `/Kids`, in order.
fn page_of_content(pdf: &[u8]) -> std::collections::HashMap<u32, usize> {
    let objects = object_bodies(pdf);
    let mut pages = std::collections::HashMap::new();
    let is_type = |body: &[u8], name: &[u8]| {
        let compact: Vec<u8> = body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let mut needle = b"/Type".to_vec();
        needle.extend_from_slice(name);
        memchr::memmem::find_iter(&compact, &needle).any(|at| {
            !compact
                .get(at + needle.len())
                .is_some_and(u8::is_ascii_alphanumeric)
        })
    };
    let Some(root) = objects
        .iter()
        .find(|(_, body)| {
            is_type(body, b"/Pages") && memchr::memmem::find(body, b"/Parent").is_none()
        })
        .map(|(n, _)| *n)
    else {
        return pages;
    };
    let mut page = 0usize;
    // Depth-first over /Kids, with a visited set and a step limit against hostile trees.
    let mut stack = vec![root];
    let mut visited = std::collections::HashSet::new();
    while let Some(object) = stack.pop() {
        if !visited.insert(object) || visited.len() > 100_000 {
            continue;
        }
        let Some(body) = objects.get(&object) else {
            continue;
        };
        if is_type(body, b"/Pages") {
            let kids = array_after(body, b"/Kids").unwrap_or_default();
            stack.extend(kids.into_iter().rev());
        } else if is_type(body, b"/Page") {
            page += 1;
            let mut contents = array_after(body, b"/Contents").unwrap_or_default();
            // `/Contents 12 0 R` may name an array object rather than a stream.
            if let [single] = contents[..] {
                if let Some(array) = objects.get(&single).and_then(|b| {
                    let trimmed = b.trim_ascii_start();
                    trimmed.starts_with(b"[").then(|| references(trimmed))
                }) {
                    contents = array;
                }
            }
            for c in contents {
                pages.entry(c).or_insert(page);
            }
        }
    }
    pages
}

/// The references (`12 0 R`) in the value after `key`: one reference, or an array of them.
fn array_after(body: &[u8], key: &[u8]) -> Option<Vec<u32>> {
    let at = memchr::memmem::find(body, key)? + key.len();
    let rest = body[at..].trim_ascii_start();
    if rest.starts_with(b"[") {
        let end = memchr::memchr(b']', rest)?;
        Some(references(&rest[..end]))
    } else {
        Some(
            references(&rest[..rest.len().min(24)])
                .into_iter()
                .take(1)
                .collect(),
        )
    }
}

/// Every `N G R` in `text`, as object numbers.
fn references(text: &[u8]) -> Vec<u32> {
    let words: Vec<&[u8]> = text
        .split(|b| b.is_ascii_whitespace() || *b == b'[' || *b == b']')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(3)
        .filter(|w| w[2] == b"R" && w[1].iter().all(u8::is_ascii_digit))
        .filter_map(|w| std::str::from_utf8(w[0]).ok()?.parse().ok())
        .collect()
}

/// Each uncompressed object's number and body (from `N G obj` to `endobj` or `stream`).
fn object_bodies(pdf: &[u8]) -> std::collections::HashMap<u32, &[u8]> {
    let mut objects = std::collections::HashMap::new();
    for at in memchr::memmem::find_iter(pdf, b" obj") {
        let Some(number) = object_number_before(pdf, at) else {
            continue;
        };
        let body_start = at + 4;
        let rest = &pdf[body_start..];
        let end = [b"endobj".as_slice(), b"stream"]
            .iter()
            .filter_map(|k| memchr::memmem::find(rest, k))
            .min()
            .unwrap_or(rest.len().min(4096));
        objects.entry(number).or_insert(&rest[..end]);
    }
    objects
}

/// `12 0` right before `at` (where ` obj` starts): the object number.
fn object_number_before(pdf: &[u8], at: usize) -> Option<u32> {
    let head = &pdf[at.saturating_sub(24)..at];
    let mut words = head.rsplit(|b| b.is_ascii_whitespace());
    let generation = words.next()?;
    let number = words.next()?;
    if generation.is_empty() || !generation.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(number).ok()?.parse().ok()
}

fn scan(ctx: &mut Ctx<'_>, content: &[u8], out: &mut Vec<u8>) {
    // Never over: `decode` keeps within what is left of the budget.
    if ctx.reserve(content.len() as u64) && memchr::memmem::find(content, b"BT").is_some() {
        show_text(content, out);
    }
}

/// Inflates a stream up to the ratio cap and what is left of the budget. A stream larger
/// than what is left is read in part only when `prefix` asks for it.
fn decode(ctx: &mut Ctx<'_>, label: &str, stream: &Stream<'_>, prefix: bool) -> Decoded {
    let budget = ctx.remaining();
    let data = stream.data;
    if !stream.flate {
        return match usize::try_from(budget) {
            Ok(b) if b < data.len() && !prefix => Decoded::Larger,
            Ok(b) if b < data.len() => Decoded::Prefix(data[..b].to_vec()),
            _ => Decoded::Whole(data.to_vec()),
        };
    }
    let ratio = ctx.limits.max_compression_ratio;
    let ratio_cap = (data.len() as u64).saturating_mul(ratio);
    // Decoding from the slice itself: what is left of it afterwards is how much input the
    // inflated bytes cost, the ratio of the part read.
    let mut decoder = flate2::bufread::ZlibDecoder::new(data);
    let (size, ending) = measure(&mut decoder, ratio_cap.min(budget));
    if let Ending::Cut = ending {
        let consumed = (data.len() - decoder.get_ref().len()).max(1) as u64;
        // Past the ratio over the whole stream, or over the part read: a stream has no
        // declared inflated size, and a bomb's first part is filler.
        if ratio_cap <= budget || size / consumed > ratio {
            ctx.error(format!(
                "{label}: the content stream at byte {} inflates beyond {ratio}:1 (possible PDF bomb); not extracted",
                stream.at
            ));
            return Decoded::Refused;
        }
        if !prefix {
            return Decoded::Larger;
        }
    }
    // A truncated or corrupt stream still gives the text decoded before the damage.
    let (decoded, _) = read_up_to(&mut flate2::bufread::ZlibDecoder::new(data), size);
    match ending {
        Ending::Cut => Decoded::Prefix(decoded),
        Ending::Whole | Ending::Broken(_) => Decoded::Whole(decoded),
    }
}

/// The streams that may carry page text, in file order (images, fonts and cross-reference
/// streams left out).
fn text_streams(pdf: &[u8]) -> impl Iterator<Item = Stream<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
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
            let end_rel = memchr::memmem::find(&pdf[data_start..], b"endstream")?;
            let data = &pdf[data_start..data_start + end_rel];
            pos = data_start + end_rel + 9;
            let dict_start = kw.saturating_sub(512);
            let dict = &pdf[dict_start..kw];
            let (dict, object) = match memchr::memmem::rfind(dict, b" obj") {
                Some(p) => (&dict[p..], object_number_before(pdf, dict_start + p)),
                None => (dict, None),
            };
            let has = |name: &[u8]| memchr::memmem::find(dict, name).is_some();
            if has(b"/Image") || has(b"/FontFile") || has(b"/DCTDecode") || has(b"/XRef") {
                continue;
            }
            // Font programs (`/Length1`..`/Length3` are their keys, PDF 32000-1 9.9) and object
            // streams (which never hold a stream, 7.5.7) carry no page text: decoding them
            // would only spend the budget that page content needs.
            if has(b"/Length1") || has(b"/Length2") || has(b"/Length3") || has(b"/ObjStm") {
                continue;
            }
            if has(b"/Type1C") || has(b"/CIDFontType0C") || has(b"/OpenType") {
                continue;
            }
            let flate = has(b"/FlateDecode") || has(b"/Fl ") || has(b"/Fl]");
            if !flate && has(b"/Filter") {
                continue; // LZW, ASCII85, ... carry no text we can read here.
            }
            return Some(Stream {
                at: data_start,
                data,
                flate,
                object,
            });
        }
        None
    })
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
    fn font_programs_and_object_streams_spend_no_budget() {
        let limits = super::super::Limits {
            max_total_bytes: 1000,
            ..Default::default()
        };
        let font = "A".repeat(5000);
        let doc = format!(
            "%PDF-1.4\n5 0 obj << /Length1 5000 /Length2 0 /Length3 0 /Length 5000 >> stream\n{font}\nendstream endobj\n\
             6 0 obj << /Type /ObjStm /N 1 /First 4 /Length 5000 >> stream\n{font}\nendstream endobj\n\
             7 0 obj << /Length 40 >> stream\nBT (SSN 536-22-1234) Tj ET\nendstream endobj\n"
        );
        let out = super::super::extract("x.pdf", doc.as_bytes(), &limits);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert!(String::from_utf8_lossy(&out.parts[0].text).contains("536-22-1234"));
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
