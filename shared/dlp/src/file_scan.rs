//! Whole files: extraction then detection, as one [`ScanReport`].

use crate::engine::Engine;
use crate::extract::{self, Format, Limits};
use crate::model::{Finding, ScanReport};
use std::io::Read;
use std::path::Path;

/// Plain-text files above this size are streamed instead of read whole.
const STREAM_ABOVE: u64 = 8 << 20;

impl Engine {
    /// Extracts `bytes` (format from magic bytes and `file_name`) with default [`Limits`]
    /// and scans every extracted part. Findings in archive members carry `part`.
    pub fn scan_bytes(&self, file_name: &str, bytes: &[u8]) -> ScanReport {
        self.scan_bytes_with_limits(file_name, bytes, &Limits::default())
    }

    pub fn scan_bytes_with_limits(
        &self,
        file_name: &str,
        bytes: &[u8],
        limits: &Limits,
    ) -> ScanReport {
        let extracted = extract::extract(file_name, bytes, limits);
        let mut report = ScanReport {
            skipped: extracted.skipped,
            errors: extracted.errors,
            ..Default::default()
        };
        for part in extracted.parts {
            report.scanned_bytes += part.text.len() as u64;
            for mut f in self.scan_text(&part.text) {
                f.part = part.name.clone();
                report.findings.push(f);
            }
        }
        report
    }

    /// Scans a file on disk, findings collected in the report. Large plain-text files are
    /// streamed in bounded memory; anything else is read whole if it fits
    /// `limits.max_total_bytes`.
    pub fn scan_file(&self, path: &Path, limits: &Limits) -> std::io::Result<ScanReport> {
        let mut findings = Vec::new();
        let mut report = self.scan_file_into(path, limits, &mut |f| findings.push(f))?;
        report.findings = findings;
        Ok(report)
    }

    /// Scans a file on disk, handing each finding to `on_finding` as soon as it is known
    /// (the report's `findings` stay empty), so that neither a 1 GB file nor its millions of
    /// findings are ever held in memory.
    pub fn scan_file_into(
        &self,
        path: &Path,
        limits: &Limits,
        on_finding: &mut dyn FnMut(Finding),
    ) -> std::io::Result<ScanReport> {
        let mut file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut head = vec![0u8; 8192.min(size as usize)];
        file.read_exact(&mut head)?;
        let format = extract::sniff(&name, &head);
        if format == Format::PlainText && size > STREAM_ABOVE {
            let reader = std::io::Cursor::new(head).chain(file);
            let scanned_bytes = self.scan_reader(reader, on_finding)?;
            return Ok(ScanReport {
                scanned_bytes,
                ..Default::default()
            });
        }
        if size > limits.max_total_bytes {
            return Ok(ScanReport {
                skipped: Some(format!(
                    "file of {size} bytes is larger than the {} byte limit for {format:?} content",
                    limits.max_total_bytes
                )),
                ..Default::default()
            });
        }
        let mut bytes = head;
        file.read_to_end(&mut bytes)?;
        let mut report = self.scan_bytes_with_limits(&name, &bytes, limits);
        for finding in std::mem::take(&mut report.findings) {
            on_finding(finding);
        }
        Ok(report)
    }
}
