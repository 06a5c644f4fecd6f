//! Text extraction: plain text (UTF-8, UTF-16 with BOM), CSV/TSV, JSON, XML/HTML, PDF,
//! DOCX/XLSX/PPTX, ODF, RTF, EML and archives (zip, nested zip, gzip, tar).
//!
//! Formats are recognised by their magic bytes first and the file name second. Every
//! container goes through [`Limits`]: total bytes produced, entry count, nesting depth,
//! compression ratio and a deadline. Hitting a limit stops that container with a clear
//! message in [`Extracted::errors`]; it never allocates past the limit.

mod archive;
mod email;
mod office;
mod pdf;
mod text;

use std::time::{Duration, Instant};

/// Bounds on what one file may expand to.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Total bytes of decompressed data and extracted text, over the whole file.
    pub max_total_bytes: u64,
    /// Archive members (all levels together).
    pub max_entries: usize,
    /// Containers inside containers: a zip in a zip is depth 2.
    pub max_depth: usize,
    /// Decompressed / compressed size of one member beyond which it is refused (zip bomb).
    pub max_compression_ratio: u64,
    /// Wall-clock budget for one file.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 128 << 20,
            max_entries: 10_000,
            max_depth: 5,
            max_compression_ratio: 200,
            timeout: Duration::from_secs(30),
        }
    }
}

/// One piece of text to scan. `name` is the member path inside containers (`a.zip!b.txt`),
/// `None` for the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: Option<String>,
    pub text: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub parts: Vec<Part>,
    /// Why nothing was extracted (unknown binary, ...).
    pub skipped: Option<String>,
    /// Limits hit and broken members; extraction went on where it could.
    pub errors: Vec<String>,
}

/// What a file looks like, from its first bytes and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    Gzip,
    Tar,
    Pdf,
    Rtf,
    Utf16Le,
    Utf16Be,
    Eml,
    Markup,
    PlainText,
    Binary,
}

pub fn sniff(name: &str, head: &[u8]) -> Format {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or_default();
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Format::Zip;
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Format::Gzip;
    }
    if head.get(257..262) == Some(b"ustar") {
        return Format::Tar;
    }
    if head.starts_with(b"%PDF-")
        || (ext == "pdf" && memchr::memmem::find(&head[..head.len().min(1024)], b"%PDF-").is_some())
    {
        return Format::Pdf;
    }
    if head.starts_with(b"{\\rtf") {
        return Format::Rtf;
    }
    if head.starts_with(&[0xff, 0xfe]) {
        return Format::Utf16Le;
    }
    if head.starts_with(&[0xfe, 0xff]) {
        return Format::Utf16Be;
    }
    if !text::looks_like_text(head) {
        return Format::Binary;
    }
    if ext == "eml" || email::looks_like_email(head) {
        return Format::Eml;
    }
    if matches!(ext, "html" | "htm" | "xhtml" | "xml" | "svg") {
        return Format::Markup;
    }
    Format::PlainText
}

/// Extraction state shared by the whole tree of one file.
pub(crate) struct Ctx<'l> {
    pub limits: &'l Limits,
    pub deadline: Instant,
    pub total_bytes: u64,
    pub entries: usize,
    pub out: Extracted,
}

impl Ctx<'_> {
    /// Reserves `n` more bytes of output; `false` (and an error noted once) when over.
    pub fn reserve(&mut self, n: u64) -> bool {
        if self.total_bytes.saturating_add(n) > self.limits.max_total_bytes {
            self.error(format!(
                "limit: more than {} bytes extracted; the rest is not scanned",
                self.limits.max_total_bytes
            ));
            return false;
        }
        self.total_bytes += n;
        true
    }

    pub fn timed_out(&mut self) -> bool {
        if Instant::now() > self.deadline {
            self.error(format!(
                "limit: extraction took longer than {:?}; the rest is not scanned",
                self.limits.timeout
            ));
            return true;
        }
        false
    }

    pub fn error(&mut self, message: String) {
        if !self.out.errors.contains(&message) {
            self.out.errors.push(message);
        }
    }

    pub fn push_text(&mut self, name: Option<&str>, text: Vec<u8>) {
        if text.is_empty() {
            return;
        }
        self.out.parts.push(Part {
            name: name.map(str::to_string),
            text,
        });
    }
}

/// Extracts the text of one file held in memory.
pub fn extract(name: &str, bytes: &[u8], limits: &Limits) -> Extracted {
    let mut ctx = Ctx {
        limits,
        deadline: Instant::now() + limits.timeout,
        total_bytes: 0,
        entries: 0,
        out: Extracted::default(),
    };
    extract_into(&mut ctx, name, None, bytes, 0);
    ctx.out
}

/// `display` is the member path used in findings (`None` for the top-level file).
pub(crate) fn extract_into(
    ctx: &mut Ctx<'_>,
    name: &str,
    display: Option<&str>,
    bytes: &[u8],
    depth: usize,
) {
    if ctx.timed_out() {
        return;
    }
    let format = sniff(name, &bytes[..bytes.len().min(8192)]);
    let is_container = matches!(
        format,
        Format::Zip | Format::Gzip | Format::Tar | Format::Eml
    );
    if is_container && depth >= ctx.limits.max_depth {
        ctx.error(format!(
            "limit: {} nested deeper than {} levels; not opened",
            display.unwrap_or(name),
            ctx.limits.max_depth
        ));
        return;
    }
    match format {
        Format::Zip => archive::zip(ctx, name, display, bytes, depth),
        Format::Gzip => archive::gzip(ctx, name, display, bytes, depth),
        Format::Tar => archive::tar(ctx, display, bytes, depth),
        Format::Pdf => {
            let text = pdf::extract_text(ctx, bytes);
            ctx.push_text(display, text);
        }
        Format::Rtf => ctx.push_text(display, text::rtf_to_text(bytes)),
        Format::Utf16Le => ctx.push_text(display, text::utf16_to_utf8(&bytes[2..], true)),
        Format::Utf16Be => ctx.push_text(display, text::utf16_to_utf8(&bytes[2..], false)),
        Format::Eml => email::extract(ctx, display, bytes, depth),
        Format::Markup => ctx.push_text(
            display,
            office::markup_to_text(bytes, office::Dialect::Html),
        ),
        Format::PlainText => {
            let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
            ctx.push_text(display, body.to_vec());
        }
        Format::Binary => {
            let reason = "binary content of unknown format; not scanned".to_string();
            if depth == 0 {
                ctx.out.skipped = Some(reason);
            } else {
                ctx.error(format!("{}: {reason}", display.unwrap_or(name)));
            }
        }
    }
}

/// `outer!inner`, the way findings name archive members.
pub(crate) fn member_path(display: Option<&str>, outer_name: &str, member: &str) -> String {
    match display {
        Some(d) => format!("{d}!{member}"),
        None => {
            let _ = outer_name;
            member.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic_then_name() {
        assert_eq!(sniff("a.bin", b"PK\x03\x04rest"), Format::Zip);
        assert_eq!(sniff("a", &[0x1f, 0x8b, 8, 0]), Format::Gzip);
        assert_eq!(sniff("x.txt", b"%PDF-1.4"), Format::Pdf);
        assert_eq!(sniff("x", b"{\\rtf1 hello}"), Format::Rtf);
        assert_eq!(sniff("x", &[0xff, 0xfe, b'h', 0]), Format::Utf16Le);
        assert_eq!(sniff("page.html", b"<html>hi</html>"), Format::Markup);
        assert_eq!(sniff("data.csv", b"a,b\n1,2\n"), Format::PlainText);
        assert_eq!(sniff("blob", &[0, 1, 2, 3, 0, 0, 7, 8]), Format::Binary);
    }

    #[test]
    fn utf8_bom_is_dropped_and_binary_is_skipped() {
        let out = extract("a.txt", b"\xef\xbb\xbfhello", &Limits::default());
        assert_eq!(out.parts[0].text, b"hello");
        let out = extract(
            "a.bin",
            &[0u8, 159, 146, 150, 0, 0, 1, 2],
            &Limits::default(),
        );
        assert!(out.parts.is_empty());
        assert!(out.skipped.unwrap().contains("binary"));
    }
}
