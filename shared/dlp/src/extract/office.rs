//! Office Open XML (DOCX, XLSX, PPTX), OpenDocument, and XML/HTML to text.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficeKind {
    Docx,
    Xlsx,
    Pptx,
    Odf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Office XML: text runs are glued (a number may be split over runs); paragraphs,
    /// rows and cells become line breaks and tabs.
    Office,
    /// XML and HTML: tags separate words; attribute values are text too.
    Html,
}

pub fn classify(names: &[String]) -> Option<OfficeKind> {
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("word/document.xml") {
        Some(OfficeKind::Docx)
    } else if has("xl/workbook.xml") {
        Some(OfficeKind::Xlsx)
    } else if has("ppt/presentation.xml") {
        Some(OfficeKind::Pptx)
    } else if has("content.xml") && has("mimetype") {
        Some(OfficeKind::Odf)
    } else {
        None
    }
}

pub fn dialect_of(_kind: OfficeKind) -> Dialect {
    Dialect::Office
}

/// The members that hold a document's text (body, headers, footers, notes, comments,
/// cells, slides, metadata such as the author).
pub fn wants_member(kind: OfficeKind, member: &str) -> bool {
    let xml = member.ends_with(".xml");
    if member == "docProps/core.xml" {
        return true;
    }
    match kind {
        OfficeKind::Docx => {
            xml && member.starts_with("word/")
                && [
                    "document",
                    "header",
                    "footer",
                    "footnotes",
                    "endnotes",
                    "comments",
                ]
                .iter()
                .any(|p| member[5..].starts_with(p))
        }
        OfficeKind::Xlsx => {
            xml && (member == "xl/sharedStrings.xml"
                || member.starts_with("xl/worksheets/sheet")
                || member.starts_with("xl/comments"))
        }
        OfficeKind::Pptx => {
            xml && (member.starts_with("ppt/slides/slide")
                || member.starts_with("ppt/notesSlides/")
                || member.starts_with("ppt/comments/"))
        }
        OfficeKind::Odf => {
            member == "content.xml" || member == "meta.xml" || member == "styles.xml"
        }
    }
}

fn local_name(tag: &[u8]) -> &[u8] {
    let name_end = tag
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
        .unwrap_or(tag.len());
    let name = &tag[..name_end];
    match memchr::memrchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn office_separator(closing: bool, name: &[u8]) -> &'static [u8] {
    match (closing, name) {
        (true, b"p" | b"h" | b"row" | b"si" | b"tr") => b"\n",
        (false, b"br" | b"cr") => b"\n",
        (false, b"tab") | (true, b"c" | b"tc" | b"table-cell") => b"\t",
        (false, b"s") => b" ", // ODF <text:s/> = space
        _ => b"",
    }
}

const INLINE_HTML: &[&[u8]] = &[
    b"span", b"b", b"i", b"em", b"strong", b"a", b"u", b"font", b"sub", b"sup", b"small", b"mark",
    b"code",
];

/// Markup to text: tags dropped (with the dialect's separators), entities decoded,
/// CDATA kept. Tolerates broken markup: an unclosed `<` ends the text.
pub fn markup_to_text(input: &[u8], dialect: Dialect) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 2);
    let mut i = 0;
    while i < input.len() {
        let Some(lt) = memchr::memchr(b'<', &input[i..]) else {
            decode_entities(&input[i..], &mut out);
            break;
        };
        decode_entities(&input[i..i + lt], &mut out);
        let tag_start = i + lt + 1;
        let rest = &input[tag_start..];
        if rest.starts_with(b"![CDATA[") {
            let body = &rest[8..];
            let end = memchr::memmem::find(body, b"]]>").unwrap_or(body.len());
            out.extend_from_slice(&body[..end]);
            i = tag_start + 8 + end + 3;
            continue;
        }
        if rest.starts_with(b"!--") {
            // Comment markers are dropped; what is inside is scanned (secrets hide there).
            out.push(b' ');
            i = tag_start + 3;
            continue;
        }
        let Some(gt) = memchr::memchr(b'>', rest) else {
            break;
        };
        let tag = &rest[..gt];
        let closing = tag.first() == Some(&b'/');
        let name = local_name(if closing { &tag[1..] } else { tag });
        match dialect {
            Dialect::Office => out.extend_from_slice(office_separator(closing, name)),
            Dialect::Html => {
                let lower = name.to_ascii_lowercase();
                if !INLINE_HTML.contains(&lower.as_slice()) {
                    out.push(b' ');
                }
                if !closing {
                    attribute_values(tag, &mut out);
                }
            }
        }
        i = tag_start + gt + 1;
    }
    out
}

fn attribute_values(tag: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(eq) = memchr::memchr(b'=', &tag[i..]) {
        let q = i + eq + 1;
        match tag.get(q) {
            Some(&quote @ (b'"' | b'\'')) => {
                let body = &tag[q + 1..];
                let end = memchr::memchr(quote, body).unwrap_or(body.len());
                decode_entities(&body[..end], out);
                out.push(b' ');
                i = q + 1 + end + 1;
                if i >= tag.len() {
                    break;
                }
            }
            _ => i = q,
        }
    }
}

fn decode_entities(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'&' {
            if let Some(semi) = s[i..].iter().take(12).position(|&b| b == b';') {
                let ent = &s[i + 1..i + semi];
                let decoded: Option<char> = match ent {
                    b"amp" => Some('&'),
                    b"lt" => Some('<'),
                    b"gt" => Some('>'),
                    b"quot" => Some('"'),
                    b"apos" => Some('\''),
                    b"nbsp" => Some(' '),
                    _ if ent.first() == Some(&b'#') => {
                        let num = std::str::from_utf8(&ent[1..]).ok();
                        let code = num.and_then(|n| match n.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => n.parse().ok(),
                        });
                        code.and_then(char::from_u32)
                    }
                    _ => None,
                };
                if let Some(c) = decoded {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += semi + 1;
                    continue;
                }
            }
        }
        out.push(s[i]);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn office_runs_are_glued_and_paragraphs_split() {
        let xml = br#"<w:document><w:body><w:p><w:r><w:t>card 4111 </w:t></w:r><w:r><w:t xml:space="preserve">1111 1111 1111</w:t></w:r></w:p><w:p><w:r><w:t>next</w:t></w:r></w:p></w:body></w:document>"#;
        assert_eq!(
            markup_to_text(xml, Dialect::Office),
            b"card 4111 1111 1111 1111\nnext\n"
        );
    }

    #[test]
    fn html_entities_attributes_and_broken_markup() {
        let html =
            br#"<p>Tom &amp; Jerry&#39;s <span>SSN</span> <input value="536-22-1234"></p><div"#;
        let text = String::from_utf8(markup_to_text(html, Dialect::Html)).unwrap();
        assert!(text.contains("Tom & Jerry's SSN"), "{text}");
        assert!(text.contains("536-22-1234"));
    }

    #[test]
    fn classifies_office_packages() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            classify(&names(&["[Content_Types].xml", "word/document.xml"])),
            Some(OfficeKind::Docx)
        );
        assert_eq!(
            classify(&names(&["xl/workbook.xml"])),
            Some(OfficeKind::Xlsx)
        );
        assert_eq!(
            classify(&names(&["mimetype", "content.xml"])),
            Some(OfficeKind::Odf)
        );
        assert_eq!(classify(&names(&["a.txt"])), None);
        assert!(wants_member(OfficeKind::Docx, "word/header1.xml"));
        assert!(!wants_member(OfficeKind::Docx, "word/media/image1.png"));
    }
}
