//! Extraction end to end: each format is built here, with a planted value, and must come
//! out as text in which the engine finds it. Hostile inputs must stop with a message.

use casb_dlp::extract::Limits;
use casb_dlp::Engine;
use std::io::Write;
use zip::write::SimpleFileOptions;

pub(crate) const SSN_LINE: &str = "Employee SSN: 536-22-1234";
const TOKEN: &str = "ghp_Z3xY9wV8uT7sR6qP5oN4mL3kJ2iH1gF0eD9c";

pub(crate) fn zip_of(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, data) in members {
            w.start_file(
                *name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }
    buf.into_inner()
}

fn detectors(engine: &Engine, name: &str, bytes: &[u8]) -> Vec<String> {
    let report = engine.scan_bytes(name, bytes);
    assert!(
        report.skipped.is_none(),
        "{name} skipped: {:?}",
        report.skipped
    );
    report.findings.into_iter().map(|f| f.detector_id).collect()
}

#[test]
fn office_documents() {
    let e = Engine::with_default_catalog();
    let docx = zip_of(
        &[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", br#"<w:document><w:body><w:p><w:r><w:t>Employee SSN: 536-</w:t></w:r><w:r><w:t>22-1234</w:t></w:r></w:p></w:body></w:document>"#),
            ("word/media/image1.png", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ],
        zip::CompressionMethod::Deflated,
    );
    assert_eq!(detectors(&e, "a.docx", &docx), ["us_ssn"]);

    let xlsx = zip_of(
        &[
            ("xl/workbook.xml", b"<workbook/>"),
            ("xl/sharedStrings.xml", b"<sst><si><t>card</t></si><si><t>4111 1111 1111 1111</t></si></sst>"),
            ("xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row><c t=\"s\"><v>0</v></c><c t=\"s\"><v>1</v></c></row></sheetData></worksheet>"),
        ],
        zip::CompressionMethod::Stored,
    );
    assert_eq!(detectors(&e, "b.xlsx", &xlsx), ["credit_card"]);

    let pptx = zip_of(
        &[
            ("ppt/presentation.xml", b"<p/>"),
            (
                "ppt/slides/slide1.xml",
                format!("<p:sld><a:p><a:r><a:t>{TOKEN}</a:t></a:r></a:p></p:sld>").as_bytes(),
            ),
        ],
        zip::CompressionMethod::Deflated,
    );
    assert_eq!(detectors(&e, "c.pptx", &pptx), ["github_token"]);
    // Each finding names the part of the document it is in, and its line and column are in
    // that part's text: slide 2's token is on slide 2's first line.
    let deck = zip_of(
        &[
            ("ppt/presentation.xml", b"<p/>"),
            (
                "ppt/slides/slide1.xml",
                b"<p:sld><a:p><a:r><a:t>Agenda</a:t></a:r></a:p></p:sld>",
            ),
            (
                "ppt/slides/slide2.xml",
                format!("<p:sld><a:p><a:r><a:t>key {TOKEN}</a:t></a:r></a:p></p:sld>").as_bytes(),
            ),
        ],
        zip::CompressionMethod::Deflated,
    );
    let report = e.scan_bytes("deck.pptx", &deck);
    assert_eq!(report.findings.len(), 1, "{report:?}");
    let found = &report.findings[0];
    assert_eq!(found.part.as_deref(), Some("ppt/slides/slide2.xml"));
    assert_eq!((found.line, found.column), (1, 5));

    let odt = zip_of(
        &[("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<office:document-content><text:p>Employee SSN: 536-22-1234</text:p></office:document-content>")],
        zip::CompressionMethod::Deflated,
    );
    assert_eq!(detectors(&e, "d.odt", &odt), ["us_ssn"]);
}

#[test]
fn text_encodings_and_markup() {
    let e = Engine::with_default_catalog();
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(SSN_LINE.encode_utf16().flat_map(|u| u.to_le_bytes()));
    assert_eq!(detectors(&e, "u16.txt", &utf16), ["us_ssn"]);
    assert_eq!(
        detectors(
            &e,
            "p.html",
            b"<html><body><p>Employee SSN:</p> <b>536-22-1234</b></body></html>"
        ),
        ["us_ssn"]
    );
    assert_eq!(
        detectors(&e, "d.csv", b"name,ssn\nJane,536-22-1234\n"),
        ["us_ssn"]
    );
    assert_eq!(
        detectors(
            &e,
            "d.json",
            format!("{{\"token\": \"{TOKEN}\"}}").as_bytes()
        ),
        ["github_token"]
    );
    assert_eq!(
        detectors(
            &e,
            "r.rtf",
            br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}\f0 Employee SSN: 536-22-1234\par}"
        ),
        ["us_ssn"]
    );
}

#[test]
fn pdf_with_compressed_content_stream() {
    let content = b"BT /F1 12 Tf 72 712 Td (Employee SSN: 536-22-1234) Tj ET";
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(content).unwrap();
    let stream = z.finish().unwrap();
    let mut pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    pdf.extend_from_slice(
        format!(
            "4 0 obj << /Length {} /Filter /FlateDecode >>\nstream\n",
            stream.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&stream);
    pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
    let e = Engine::with_default_catalog();
    assert_eq!(detectors(&e, "s.pdf", &pdf), ["us_ssn"]);
}

/// Findings in a PDF name their page, found through the page tree (`/Kids` order, not the
/// order of the objects in the file), with line and column in that page's text.
#[test]
fn pdf_findings_name_their_page() {
    let first = b"BT /F1 12 Tf 72 712 Td (Agenda) Tj ET";
    let second = b"BT /F1 12 Tf 72 712 Td (Employee SSN: 536-22-1234) Tj ET";
    let mut pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [4 0 R 3 0 R] /Count 2 >> endobj\n\
3 0 obj << /Type /Page /Parent 2 0 R /Contents 6 0 R >> endobj\n\
4 0 obj << /Type /Page /Parent 2 0 R /Contents [5 0 R] >> endobj\n"
        .to_vec();
    for (number, content) in [(5, &first[..]), (6, &second[..])] {
        pdf.extend_from_slice(
            format!("{number} 0 obj << /Length {} >>\nstream\n", content.len()).as_bytes(),
        );
        pdf.extend_from_slice(content);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
    }
    pdf.extend_from_slice(b"trailer << /Root 1 0 R >>\n%%EOF\n");
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes("minutes.pdf", &pdf);
    assert_eq!(report.findings.len(), 1, "{report:?}");
    let found = &report.findings[0];
    assert_eq!(found.detector_id, "us_ssn");
    assert_eq!(found.part.as_deref(), Some("page 2"));
    assert_eq!((found.line, found.column), (1, 15));
}

#[test]
fn email_with_attachment() {
    let attachment = zip_of(
        &[("inner.txt", SSN_LINE.as_bytes())],
        zip::CompressionMethod::Deflated,
    );
    let b64 = {
        // Minimal standard base64 encoder for the fixture.
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for chunk in attachment.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    };
    let eml = format!(
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: keys\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ntoken {TOKEN}\r\n--XX\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"data.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--XX--\r\n"
    );
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes("m.eml", eml.as_bytes());
    let mut got: Vec<(String, Option<String>)> = report
        .findings
        .iter()
        .map(|f| (f.detector_id.clone(), f.part.clone()))
        .collect();
    got.sort();
    assert!(got.contains(&("github_token".into(), None)), "{got:?}");
    assert!(
        got.contains(&("us_ssn".into(), Some("data.zip!inner.txt".into()))),
        "{got:?}"
    );
}

#[test]
fn archives_nested_gzip_and_tar() {
    let inner = zip_of(
        &[("deep.txt", SSN_LINE.as_bytes())],
        zip::CompressionMethod::Deflated,
    );
    let outer = zip_of(
        &[("inner.zip", &inner), ("notes.txt", b"nothing here")],
        zip::CompressionMethod::Deflated,
    );
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes("outer.zip", &outer);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(
        report.findings[0].part.as_deref(),
        Some("inner.zip!deep.txt")
    );

    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        let mut h = tar::Header::new_gnu();
        h.set_size(TOKEN.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "dir/token.txt", TOKEN.as_bytes())
            .unwrap();
        b.finish().unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar_bytes).unwrap();
    let tgz = gz.finish().unwrap();
    let report = e.scan_bytes("bundle.tar.gz", &tgz);
    assert_eq!(report.findings.len(), 1, "{report:?}");
    assert_eq!(report.findings[0].detector_id, "github_token");
    assert_eq!(report.findings[0].part.as_deref(), Some("dir/token.txt"));
}

#[test]
fn zip_bomb_stops_with_a_clear_message() {
    // 64 MiB of zeros deflates to ~64 KiB: a ratio of about 1000:1.
    let zeros = vec![0u8; 64 << 20];
    let bomb = zip_of(
        &[("zeros.bin", &zeros), ("ok.txt", SSN_LINE.as_bytes())],
        zip::CompressionMethod::Deflated,
    );
    drop(zeros);
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes("bomb.zip", &bomb);
    assert!(
        report.errors.iter().any(|m| m.contains("zip bomb")),
        "{:?}",
        report.errors
    );
    // The rest of the archive is still scanned.
    assert_eq!(report.findings.len(), 1);
}

#[test]
fn gzip_bomb_and_total_size_limit() {
    let zeros = vec![b'a'; 32 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&zeros).unwrap();
    let bomb = gz.finish().unwrap();
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes("a.txt.gz", &bomb);
    assert!(
        report.errors.iter().any(|m| m.contains("bomb")),
        "{:?}",
        report.errors
    );

    let limits = Limits {
        max_total_bytes: 1000,
        ..Limits::default()
    };
    let big = zip_of(
        &[("a.txt", &[b'x'; 5000][..])],
        zip::CompressionMethod::Stored,
    );
    let report = e.scan_bytes_with_limits("big.zip", &big, &limits);
    assert!(
        report.errors.iter().any(|m| m.contains("limit")),
        "{:?}",
        report.errors
    );
}

#[test]
fn nesting_depth_and_entry_count_limits() {
    let mut nested = zip_of(
        &[("secret.txt", SSN_LINE.as_bytes())],
        zip::CompressionMethod::Stored,
    );
    for level in 0..8 {
        nested = zip_of(
            &[(&format!("level{level}.zip"), &nested)],
            zip::CompressionMethod::Stored,
        );
    }
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes("deep.zip", &nested);
    assert!(report.findings.is_empty());
    assert!(
        report.errors.iter().any(|m| m.contains("nested deeper")),
        "{:?}",
        report.errors
    );

    let names: Vec<String> = (0..50).map(|i| format!("f{i}.txt")).collect();
    let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let many = zip_of(&members, zip::CompressionMethod::Stored);
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let report = e.scan_bytes_with_limits("many.zip", &many, &limits);
    assert!(
        report
            .errors
            .iter()
            .any(|m| m.contains("more than 10 entries")),
        "{:?}",
        report.errors
    );
}

#[test]
fn the_per_file_deadline_stops_extraction_with_a_message() {
    let members: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("f{i}.txt"), SSN_LINE.as_bytes().to_vec()))
        .collect();
    let members: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let archive = zip_of(&members, zip::CompressionMethod::Deflated);
    let e = Engine::with_default_catalog();
    // Without a deadline every member is scanned; with one already past, extraction stops.
    assert_eq!(e.scan_bytes("all.zip", &archive).findings.len(), 20);
    let expired = Limits {
        timeout: std::time::Duration::ZERO,
        ..Limits::default()
    };
    let report = e.scan_bytes_with_limits("slow.zip", &archive, &expired);
    assert!(
        report.findings.len() < 20,
        "{} findings",
        report.findings.len()
    );
    assert!(
        report.errors.iter().any(|m| m.contains("took longer than")),
        "{:?}",
        report.errors
    );
}

#[test]
fn broken_and_binary_inputs_do_not_panic() {
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes("broken.zip", b"PK\x03\x04this is not really a zip");
    assert!(!report.errors.is_empty());
    let report = e.scan_bytes("image.bin", &[0u8, 1, 2, 3, 0xff, 0xd8, 0, 0, 9]);
    assert!(report
        .skipped
        .as_deref()
        .unwrap_or_default()
        .contains("binary"));
    for junk in [
        &b"%PDF-1.7\nstream\n\x78\x9c\xff\xff"[..],
        b"{\\rtf1 {{{{\\'zz",
        b"\x1f\x8b\x08\x00garbage",
        b"From: x\nSubject: y\nContent-Type: multipart/mixed; boundary=Q\n\n--Q\n",
    ] {
        let _ = e.scan_bytes("junk", junk);
    }
}

/// Deterministic xorshift, so a failure names a reproducible seed.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Truncates, flips bytes, cuts a range or inserts noise: what a broken upload looks like.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..=self.below(3) {
            if data.len() < 2 {
                break;
            }
            match self.below(4) {
                0 => data.truncate(1 + self.below(data.len() - 1)),
                1 => {
                    for _ in 0..=self.below(32) {
                        let at = self.below(data.len());
                        data[at] = self.next() as u8;
                    }
                }
                2 => {
                    let at = self.below(data.len());
                    let end = (at + 1 + self.below(256)).min(data.len());
                    data.drain(at..end);
                }
                _ => {
                    let at = self.below(data.len());
                    let noise: Vec<u8> = (0..=self.below(64)).map(|_| self.next() as u8).collect();
                    data.splice(at..at, noise);
                }
            }
        }
        data
    }
}

#[test]
fn damaged_documents_and_archives_never_panic() {
    let docx = zip_of(
        &[(
            "word/document.xml",
            format!("<w:document><w:t>{SSN_LINE}</w:t></w:document>").as_bytes(),
        )],
        zip::CompressionMethod::Deflated,
    );
    let nested = zip_of(&[("inner.docx", &docx)], zip::CompressionMethod::Stored);
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(SSN_LINE.len() as u64);
    header.set_cksum();
    tar.append_data(&mut header, "notes.txt", SSN_LINE.as_bytes())
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    let tgz = gz.finish().unwrap();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(format!("BT ({SSN_LINE}) Tj ET").as_bytes())
        .unwrap();
    let stream = z.finish().unwrap();
    let mut pdf = format!(
        "%PDF-1.4\n4 0 obj << /Length {} /Filter /FlateDecode >>\nstream\n",
        stream.len()
    )
    .into_bytes();
    pdf.extend_from_slice(&stream);
    pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
    let eml = format!(
        "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: text/plain\r\n\r\n{SSN_LINE}\r\n--B\r\nContent-Disposition: attachment; filename=\"n.zip\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nUEsDBAoAAAAAAAAAIQAAAAAAAAAAAAAAAAAAAAAA\r\n--B--\r\n"
    )
    .into_bytes();
    let rtf = format!(r"{{\rtf1\ansi{{\fonttbl{{\f0 Arial;}}}}\f0 {SSN_LINE}\par}}").into_bytes();
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(SSN_LINE.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let seeds: [(&str, &[u8]); 7] = [
        ("a.docx", &docx),
        ("b.zip", &nested),
        ("c.tar.gz", &tgz),
        ("d.pdf", &pdf),
        ("e.eml", &eml),
        ("f.rtf", &rtf),
        ("g.txt", &utf16),
    ];
    let engine = Engine::with_default_catalog();
    let mut mutator = Mutator(0x9e37_79b9_7f4a_7c15);
    for (name, seed) in seeds {
        // The intact seed is found, so the damaged ones exercise the real extraction paths.
        let found = detectors(&engine, name, seed);
        assert!(found.iter().any(|d| d == "us_ssn"), "{name}: {found:?}");
        for round in 0..150 {
            let damaged = mutator.mutate(seed);
            let report = std::panic::catch_unwind(|| engine.scan_bytes(name, &damaged))
                .unwrap_or_else(|_| panic!("{name}, round {round}: the scan panicked"));
            for f in &report.findings {
                assert!(f.start < f.end, "{name}, round {round}: empty span {f:?}");
            }
        }
    }
}
