//! Plain-text helpers: text/binary sniffing, UTF-16 decoding, RTF to text.

/// Text if at most 1% of the sample is NUL bytes (a text file with a few NULs appended or
/// padded is still text; binaries and BOM-less UTF-16 have far more) and at most 10% is other
/// control bytes (UTF-8 multi-byte sequences count as text).
pub fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return true;
    }
    let nuls = memchr::memchr_iter(0, head).count();
    if nuls * 100 > head.len() {
        return false;
    }
    let control = head
        .iter()
        .filter(|&&b| b != 0 && b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b))
        .count();
    control * 10 <= head.len()
}

/// UTF-16 (BOM already removed) to UTF-8; unpaired surrogates become U+FFFD.
pub fn utf16_to_utf8(bytes: &[u8], little_endian: bool) -> Vec<u8> {
    let units = bytes.chunks_exact(2).map(|c| {
        if little_endian {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect::<String>()
        .into_bytes()
}

/// RTF to text: control words dropped (`\par` and `\line` become line breaks, `\tab` a
/// tab), `\'hh` as Windows-1252 and `\uN` as Unicode, formatting groups such as font and
/// colour tables skipped.
pub fn rtf_to_text(rtf: &[u8]) -> Vec<u8> {
    const SKIP_DESTINATIONS: &[&[u8]] = &[
        b"fonttbl",
        b"colortbl",
        b"stylesheet",
        b"pict",
        b"themedata",
        b"colorschememapping",
        b"datastore",
        b"latentstyles",
        b"listtable",
        b"listoverridetable",
        b"rsidtbl",
        b"generator",
        b"xmlnstbl",
        b"mmathPr",
    ];
    let mut out = Vec::with_capacity(rtf.len() / 2);
    let mut i = 0;
    let mut depth: usize = 0;
    let mut skip_below: Option<usize> = None; // skipping while depth >= this
    let mut unicode_skip = 0usize;
    while i < rtf.len() {
        let c = rtf[i];
        match c {
            b'{' => {
                depth += 1;
                i += 1;
                if rtf.get(i..i + 2) == Some(b"\\*") && skip_below.is_none() {
                    skip_below = Some(depth);
                }
            }
            b'}' => {
                if skip_below == Some(depth) {
                    skip_below = None;
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&n) = rtf.get(i) else { break };
                if n.is_ascii_alphabetic() {
                    let start = i;
                    while i < rtf.len() && rtf[i].is_ascii_alphabetic() {
                        i += 1;
                    }
                    let word = &rtf[start..i];
                    let num_start = i;
                    if rtf.get(i) == Some(&b'-') {
                        i += 1;
                    }
                    while i < rtf.len() && rtf[i].is_ascii_digit() {
                        i += 1;
                    }
                    let param: Option<i32> = std::str::from_utf8(&rtf[num_start..i])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    if rtf.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    if SKIP_DESTINATIONS.contains(&word) && skip_below.is_none() {
                        skip_below = Some(depth);
                    }
                    if skip_below.is_some() {
                        continue;
                    }
                    match word {
                        b"par" | b"line" | b"row" | b"sect" | b"page" => out.push(b'\n'),
                        b"tab" | b"cell" => out.push(b'\t'),
                        b"u" => {
                            if let Some(code) = param {
                                let code = if code < 0 { code + 65536 } else { code };
                                if let Some(ch) = char::from_u32(code as u32) {
                                    let mut buf = [0u8; 4];
                                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                                }
                                unicode_skip = 1;
                            }
                        }
                        _ => {}
                    }
                } else if n == b'\'' {
                    let hex = rtf
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    i += 3;
                    if unicode_skip > 0 {
                        unicode_skip -= 1;
                    } else if let (Some(b), None) = (hex, skip_below) {
                        // Windows-1252 maps 0xA0-0xFF to the same Unicode code points.
                        let ch = char::from_u32(u32::from(b)).unwrap_or('\u{FFFD}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                } else {
                    // Escaped symbol: \\ \{ \} \~ (non-breaking space), \- (soft hyphen).
                    if skip_below.is_none() {
                        match n {
                            b'\\' | b'{' | b'}' => out.push(n),
                            b'~' => out.push(b' '),
                            b'\n' | b'\r' => out.push(b'\n'),
                            _ => {}
                        }
                    }
                    i += 1;
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                if skip_below.is_none() {
                    if unicode_skip > 0 {
                        unicode_skip -= 1;
                    } else {
                        out.push(c);
                    }
                }
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_both_orders() {
        let le: Vec<u8> = "SSN 536-22-1234"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let be: Vec<u8> = "é ok"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(utf16_to_utf8(&le, true), b"SSN 536-22-1234");
        assert_eq!(utf16_to_utf8(&be, false), "é ok".as_bytes());
    }

    #[test]
    fn rtf_text_survives_and_tables_do_not() {
        let rtf = br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\*\generator Foo;}\f0 Card \b 4111 1111\b0  1111 1111\par caf\'e9 \u8364?}";
        let text = String::from_utf8(rtf_to_text(rtf)).unwrap();
        assert!(text.contains("Card 4111 1111 1111 1111\n"), "{text:?}");
        assert!(text.contains("café €"), "{text:?}");
        assert!(!text.contains("Arial") && !text.contains("Foo"));
    }

    #[test]
    fn text_or_binary() {
        assert!(looks_like_text("héllo, wörld\n".as_bytes()));
        assert!(!looks_like_text(b"\x00\x01\x02abc"));
    }
}
