//! Text extraction: plain text (UTF-8, UTF-16 with BOM), CSV/TSV, JSON, XML/HTML, PDF,
//! DOCX/XLSX/PPTX, ODF, RTF, EML and archives (zip, nested zip, gzip, tar).
//!
//! Formats are recognised by their magic bytes first and the file name second. Every
//! container goes through [`Limits`]: total bytes produced, entry count, nesting depth,
//! compression ratio and a deadline. What a limit leaves out is named in
//! [`Extracted::errors`], and extraction never allocates past the limit.
//!
//! A member or stream larger than what is left of the total budget is not skipped whole: it
//! waits until its siblings that fit have been read, then its first part is inflated and
//! scanned up to the budget, and the message says the rest was not. A secret at the start of
//! a large log is still found. A member past the compression ratio (a bomb) stays refused
//! whole: its first part is filler the attacker chose.

mod archive;
mod email;
mod office;
mod pdf;
mod text;

use std::io::{self, Read};
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

    /// Bytes left of the file's budget.
    pub fn remaining(&self) -> u64 {
        self.limits.max_total_bytes.saturating_sub(self.total_bytes)
    }

    /// Notes that only the first `scanned` bytes of `what` (of `total`, when known) were
    /// scanned, because the file's budget ran out.
    pub fn partly_scanned(&mut self, what: &str, scanned: u64, total: Option<u64>) {
        let max = self.limits.max_total_bytes;
        self.error(if scanned == 0 {
            format!("limit: the file reached its {max} extracted bytes; {what} not scanned")
        } else {
            let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
            format!(
                "limit: {what}: only the first {scanned}{of} bytes scanned, the file reached \
                 its {max} extracted bytes; the rest is not scanned"
            )
        });
    }

    /// Notes the members or streams of `label` left out whole because the file's budget ran
    /// out, in one message that names the first few (ten thousand members make one line).
    /// `noun` is the singular and the plural that introduce them.
    pub fn not_scanned(&mut self, label: &str, noun: (&str, &str), left_out: &[String]) {
        const NAMED: usize = 5;
        let noun = match left_out.len() {
            0 => return,
            1 => noun.0,
            _ => noun.1,
        };
        let max = self.limits.max_total_bytes;
        let mut names = left_out[..left_out.len().min(NAMED)].join(", ");
        if left_out.len() > NAMED {
            names.push_str(&format!(" and {} more", left_out.len() - NAMED));
        }
        self.error(format!(
            "limit: the file reached its {max} extracted bytes; {label}: {noun} {names} not scanned"
        ));
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

/// How reading a member or stream ended.
#[derive(Debug)]
pub(crate) enum Ending {
    /// The stream ended within the size asked for.
    Whole,
    /// There was more than the size asked for; the bytes read are the first part.
    Cut,
    /// The stream broke; the bytes read are those before the damage.
    Broken(io::Error),
}

/// Reads up to `size` bytes into one allocation of exactly that size (never more: a stream
/// that inflates without end costs no more memory than asked for), then tries one byte more
/// to tell whether the stream went on.
pub(crate) fn read_up_to(reader: &mut dyn Read, size: u64) -> (Vec<u8>, Ending) {
    let mut data = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
    let mut filled = 0;
    while filled < data.len() {
        match reader.read(&mut data[filled..]) {
            Ok(0) => {
                data.truncate(filled);
                return (data, Ending::Whole);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                data.truncate(filled);
                return (data, Ending::Broken(e));
            }
        }
    }
    let mut probe = [0u8; 1];
    let ending = loop {
        match reader.read(&mut probe) {
            Ok(0) => break Ending::Whole,
            Ok(_) => break Ending::Cut,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Ending::Broken(e),
        }
    };
    (data, ending)
}

/// Counts the bytes of `reader`, up to `cap`, without keeping them. Streams with no declared
/// size (gzip, PDF) are measured first and read with [`read_up_to`] second, so that neither
/// a bomb nor a large stream is ever held past the budget, not even while a buffer grows.
pub(crate) fn measure(reader: &mut dyn Read, cap: u64) -> (u64, Ending) {
    let mut scratch = [0u8; 8 << 10];
    let mut count: u64 = 0;
    loop {
        match reader.read(&mut scratch) {
            Ok(0) => return (count, Ending::Whole),
            Ok(n) => {
                count += n as u64;
                if count > cap {
                    return (cap, Ending::Cut);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (count, Ending::Broken(e)),
        }
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
        Format::Tar => archive::tar(ctx, name, display, bytes, depth),
        Format::Pdf => {
            // Each page its own part (`report.pdf!page 3`), so a finding's line and column
            // are in that page's text.
            for (page, text) in pdf::extract_pages(ctx, display.unwrap_or(name), bytes) {
                match page {
                    Some(n) => {
                        let part = member_path(display, name, &format!("page {n}"));
                        ctx.push_text(Some(&part), text);
                    }
                    None => ctx.push_text(display, text),
                }
            }
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
    fn reads_up_to_a_size_in_one_allocation_and_tells_whether_there_was_more() {
        let (data, ending) = read_up_to(&mut &b"hello world"[..], 5);
        assert_eq!((data.as_slice(), data.capacity()), (&b"hello"[..], 5));
        assert!(matches!(ending, Ending::Cut));
        let (data, ending) = read_up_to(&mut &b"hello"[..], 5);
        assert_eq!(data, b"hello");
        assert!(matches!(ending, Ending::Whole));
        let (data, ending) = read_up_to(&mut &b"hi"[..], 5);
        assert_eq!(data, b"hi");
        assert!(matches!(ending, Ending::Whole));

        let mut endless = std::io::repeat(b'x');
        assert!(matches!(measure(&mut endless, 1 << 20), (n, Ending::Cut) if n == 1 << 20));
        assert!(matches!(measure(&mut &b"abc"[..], 3), (3, Ending::Whole)));
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
