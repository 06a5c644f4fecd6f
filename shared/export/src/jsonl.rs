//! gzip-compressed JSON Lines: the format every SIEM's S3 input, `zcat | jq` and Athena's
//! JSON SerDe read without a schema.

use std::io::{BufWriter, Read, Write};

use flate2::{read::MultiGzDecoder, write::GzEncoder, Compression};
use serde_json::Value;

use crate::ExportError;

/// Encodes `records` as gzip-compressed JSON Lines: each record as compact JSON on its own
/// line, every line ending in `\n` (an empty batch gives an empty, valid gzip stream).
///
/// Compact JSON escapes newlines inside strings, so a record never spans lines. Records are
/// written in the order given and as they are: no schema, no class check.
pub fn jsonl_gzip(records: &[Value]) -> Result<Vec<u8>, ExportError> {
    // serde_json writes a record in many small pieces; the buffer hands the compressor
    // large blocks instead.
    let mut out = BufWriter::with_capacity(
        64 * 1024,
        GzEncoder::new(Vec::new(), Compression::default()),
    );
    for record in records {
        serde_json::to_writer(&mut out, record).map_err(|e| ExportError::Compress(e.into()))?;
        out.write_all(b"\n").map_err(ExportError::Compress)?;
    }
    let gz = out
        .into_inner()
        .map_err(|e| ExportError::Compress(e.into_error()))?;
    gz.finish().map_err(ExportError::Compress)
}

/// Decodes what [`jsonl_gzip`] wrote: one JSON value per line, in file order.
///
/// Lenient where other writers differ: concatenated gzip members (as `cat a.gz b.gz` makes)
/// are read as one stream, `\r\n` line ends are accepted and blank lines are skipped. A line
/// that is not one JSON value is an error naming its line number.
pub fn read_jsonl_gzip(bytes: &[u8]) -> Result<Vec<Value>, ExportError> {
    let mut text = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut text)
        .map_err(ExportError::Decompress)?;
    let mut records = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = serde_json::from_slice(line).map_err(|source| ExportError::InvalidLine {
            line: i + 1,
            source,
        })?;
        records.push(record);
    }
    Ok(records)
}
