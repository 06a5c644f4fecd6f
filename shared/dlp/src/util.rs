//! Small helpers: base64url decoding for token validation, and masking of reported values.

/// Decodes unpadded or padded base64url (or standard base64). `None` on any invalid byte.
pub fn base64url_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4 + 1);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

const MAX_SNIPPET_CHARS: usize = 48;

/// A printable, masked form of a matched value. Separators are kept so the shape stays
/// recognisable; only a few characters of the value are shown:
/// - secrets: up to 4 leading characters (usually the vendor prefix) and 2 trailing ones;
/// - e-mail addresses: the first character of the local part and the domain;
/// - other values: the last 4 characters when the value has at least 9 (as on receipts).
///
/// The result never holds more than a third of the value's alphanumeric characters.
pub fn mask(value: &[u8], secret: bool, detector_id: &str) -> String {
    let text = String::from_utf8_lossy(value);
    if detector_id == "private_key" || detector_id == "putty_private_key" {
        let first_line = text.lines().next().unwrap_or_default();
        return truncate(&format!("{first_line}…[masked]"));
    }
    if detector_id == "email" {
        if let Some(at) = text.rfind('@') {
            let first = text.chars().next().unwrap_or('*');
            return truncate(&format!("{first}***{}", &text[at..]));
        }
    }
    let alnum_total = text.chars().filter(|c| c.is_ascii_alphanumeric()).count();
    let (mut show_head, mut show_tail) = if secret {
        (4.min(alnum_total / 4), 2.min(alnum_total / 8))
    } else if alnum_total >= 9 {
        (0, 4)
    } else {
        (0, 0)
    };
    // Never show more than a third of the value.
    while show_head + show_tail > alnum_total / 3 && (show_head > 0 || show_tail > 0) {
        if show_head > 0 {
            show_head -= 1;
        } else {
            show_tail -= 1;
        }
    }
    let mut seen = 0usize;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            seen += 1;
            let visible = seen <= show_head || seen > alnum_total - show_tail;
            out.push(if visible { c } else { '*' });
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    truncate(&out)
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_SNIPPET_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_SNIPPET_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_roundtrip_of_known_header() {
        assert_eq!(
            base64url_decode(b"eyJhbGciOiJIUzI1NiJ9").unwrap(),
            br#"{"alg":"HS256"}"#.to_vec()
        );
        assert!(base64url_decode(b"ey J").is_none());
    }

    #[test]
    fn masks_hide_most_of_the_value() {
        let card = mask(b"4111 1111 1111 1234", false, "credit_card");
        assert_eq!(card, "**** **** **** 1234");
        let token = mask(
            b"ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            true,
            "github_token",
        );
        assert!(token.starts_with("ghp_") && token.ends_with("89"));
        assert!(!token.contains("aBcDeF"));
        assert_eq!(
            mask(b"jane@example.org", false, "email"),
            "j***@example.org"
        );
        let key = mask(
            b"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            true,
            "private_key",
        );
        assert!(!key.contains("MIIEow"));
        assert_eq!(mask(b"123", false, "x"), "***");
    }
}
