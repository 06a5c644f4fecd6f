//! What a limit leaves out: a member or stream larger than what is left of the file's budget is
//! scanned up to the budget, and the report names it as partly scanned. A bomb stays refused,
//! and nothing is allocated past the limit.

use crate::alloc_meter::peak_during;
use crate::formats::{zip_of, SSN_LINE};
use casb_dlp::extract::Limits;
use casb_dlp::{Engine, ScanReport};
use std::io::Write;

const CARD_LINE: &str = "Customer card: 4111 1111 1111 1111\n";
const LIMIT: u64 = 1 << 20;
/// Decoder state, read buffers and messages: what extraction may hold besides the limit.
const OVERHEAD: u64 = 256 << 10;

fn small_limit() -> Limits {
    Limits {
        max_total_bytes: LIMIT,
        ..Limits::default()
    }
}

/// `size` bytes of text that compresses like prose (about 3:1, far from any bomb ratio) and holds
/// nothing a detector finds, with `first` at the start.
fn ledger(first: &str, size: usize) -> Vec<u8> {
    const WORDS: [&str; 32] = [
        "account", "balance", "quarter", "invoice", "meeting", "review", "the", "of", "and",
        "project", "budget", "travel", "office", "supplies", "northern", "region", "client",
        "contract", "renewal", "pending", "approved", "draft", "summary", "weekly", "team",
        "update", "with", "for", "notes", "schedule", "vendor", "report",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut text = first.as_bytes().to_vec();
    while text.len() < size {
        for _ in 0..10 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.extend_from_slice(WORDS[(state % 32) as usize].as_bytes());
            text.push(b' ');
        }
        text.push(b'\n');
    }
    text.truncate(size);
    text
}

fn gzip_of(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A PDF with one FlateDecode content stream per entry, written by hand.
fn pdf_of(contents: &[&[u8]]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    for (i, content) in contents.iter().enumerate() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(content).unwrap();
        let stream = z.finish().unwrap();
        pdf.extend_from_slice(
            format!(
                "{} 0 obj << /Length {} /Filter /FlateDecode >>\nstream\n",
                i + 4,
                stream.len()
            )
            .as_bytes(),
        );
        pdf.extend_from_slice(&stream);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
    }
    pdf.extend_from_slice(b"trailer << /Root 1 0 R >>\n%%EOF\n");
    pdf
}

/// A content stream showing `first`, then lines of text up to `size` bytes.
fn page_content(first: &str, size: usize) -> Vec<u8> {
    let mut content = format!("BT /F1 12 Tf 72 712 Td ({}) Tj ET\n", first.trim_end()).into_bytes();
    for line in ledger("", size).split(|&b| b == b'\n') {
        content.extend_from_slice(b"BT (");
        content.extend_from_slice(line);
        content.extend_from_slice(b") Tj ET\n");
    }
    content.truncate(size);
    content
}

fn found(report: &ScanReport) -> Vec<(String, Option<String>)> {
    let mut got: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.detector_id.clone(), f.part.clone()))
        .collect();
    got.sort();
    got.dedup();
    got
}

/// The report says, in one message, that `what` was scanned only in part.
fn says_partly_scanned(report: &ScanReport, what: &str) -> bool {
    report
        .errors
        .iter()
        .any(|m| m.contains(what) && m.contains("not scanned"))
}

#[test]
fn a_zip_member_over_the_limit_is_scanned_up_to_it() {
    let big = ledger(CARD_LINE, 3 << 20);
    let archive = zip_of(
        &[
            ("export/ledger.txt", &big),
            ("notes.txt", SSN_LINE.as_bytes()),
        ],
        zip::CompressionMethod::Deflated,
    );
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes_with_limits("big.zip", &archive, &small_limit());
    let got = found(&report);
    assert!(
        got.contains(&("credit_card".into(), Some("export/ledger.txt".into()))),
        "{got:?} {:?}",
        report.errors
    );
    // The small member after the large one still gets its turn.
    assert!(
        got.contains(&("us_ssn".into(), Some("notes.txt".into()))),
        "{got:?}"
    );
    assert!(
        says_partly_scanned(&report, "big.zip!export/ledger.txt"),
        "{:?}",
        report.errors
    );
    assert!(report.scanned_bytes <= LIMIT, "{}", report.scanned_bytes);
}

#[test]
fn a_gzip_over_the_limit_is_scanned_up_to_it() {
    let e = Engine::with_default_catalog();
    let gz = gzip_of(&ledger(CARD_LINE, 3 << 20));
    let report = e.scan_bytes_with_limits("ledger.txt.gz", &gz, &small_limit());
    assert_eq!(found(&report), [("credit_card".into(), None)]);
    assert!(
        says_partly_scanned(&report, "ledger.txt.gz"),
        "{:?}",
        report.errors
    );

    // A .tar.gz cut at the limit: the members before the cut whole, the one it cuts in part.
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("notes.txt", SSN_LINE.as_bytes().to_vec()),
        ("ledger.txt", ledger(CARD_LINE, 3 << 20)),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data.as_slice()).unwrap();
    }
    let tgz = gzip_of(&tar.into_inner().unwrap());
    let report = e.scan_bytes_with_limits("bundle.tar.gz", &tgz, &small_limit());
    assert_eq!(
        found(&report),
        [
            ("credit_card".into(), Some("ledger.txt".into())),
            ("us_ssn".into(), Some("notes.txt".into()))
        ],
        "{:?}",
        report.errors
    );
    assert!(
        says_partly_scanned(&report, "bundle.tar.gz"),
        "{:?}",
        report.errors
    );
    assert!(
        says_partly_scanned(&report, "ledger.txt"),
        "{:?}",
        report.errors
    );
}

#[test]
fn a_pdf_stream_over_the_limit_is_scanned_up_to_it() {
    let big = page_content(CARD_LINE, 3 << 20);
    let small = format!("BT /F1 12 Tf 72 712 Td ({SSN_LINE}) Tj ET");
    let pdf = pdf_of(&[&big, small.as_bytes()]);
    let e = Engine::with_default_catalog();
    let report = e.scan_bytes_with_limits("report.pdf", &pdf, &small_limit());
    // The stream after the large one still gets its turn.
    assert_eq!(
        found(&report),
        [("credit_card".into(), None), ("us_ssn".into(), None)],
        "{:?}",
        report.errors
    );
    assert!(
        report
            .errors
            .iter()
            .any(|m| m.contains("report.pdf") && m.contains("stream") && m.contains("not scanned")),
        "{:?}",
        report.errors
    );
}

#[test]
fn bombs_stay_refused_and_nothing_is_allocated_past_the_limit() {
    let e = Engine::with_default_catalog();
    let limits = small_limit();

    // Zeros inflate about 1000:1; an honest large member beside the bomb is still read in part.
    let zeros = vec![0u8; 8 << 20];
    let zip_bomb = zip_of(&[("zeros.bin", &zeros)], zip::CompressionMethod::Deflated);
    let with_ledger = zip_of(
        &[
            ("zeros.bin", &zeros),
            ("ledger.txt", &ledger(CARD_LINE, 3 << 20)),
        ],
        zip::CompressionMethod::Deflated,
    );
    drop(zeros);
    let report = e.scan_bytes_with_limits("mixed.zip", &with_ledger, &limits);
    assert!(
        report
            .errors
            .iter()
            .any(|m| m.contains("mixed.zip!zeros.bin") && m.contains("zip bomb")),
        "{:?}",
        report.errors
    );
    assert!(
        says_partly_scanned(&report, "mixed.zip!ledger.txt"),
        "{:?}",
        report.errors
    );
    assert_eq!(
        found(&report),
        [("credit_card".into(), Some("ledger.txt".into()))]
    );

    // A bomb's first part is filler chosen by the attacker: the value planted at its start is
    // refused with the rest, not scanned as if the file were merely large.
    let mut filler = CARD_LINE.as_bytes().to_vec();
    filler.resize(16 << 20, b' ');
    let gzip_bomb = gzip_of(&filler);
    let pdf_bomb = pdf_of(&[&page_content(CARD_LINE, 64)
        .into_iter()
        .chain(std::iter::repeat_n(b' ', 16 << 20))
        .collect::<Vec<u8>>()]);
    drop(filler);
    for (name, bytes) in [
        ("zeros.zip", &zip_bomb),
        ("filler.txt.gz", &gzip_bomb),
        ("filler.pdf", &pdf_bomb),
    ] {
        let (report, peak) = peak_during(|| e.scan_bytes_with_limits(name, bytes, &limits));
        assert!(
            report.errors.iter().any(|m| m.contains("bomb")),
            "{name}: {:?}",
            report.errors
        );
        assert!(report.findings.is_empty(), "{name}: {:?}", found(&report));
        assert!(
            peak <= LIMIT + OVERHEAD,
            "{name}: {peak} bytes held at the peak, limit {LIMIT}"
        );
    }
}
