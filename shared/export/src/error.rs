//! The one error type of the crate. Each message names what was wrong and, where the caller
//! can act on it, what to do.

/// An error from encoding, decoding or naming an export file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// gzip compression failed (in practice: out of memory).
    #[error("could not gzip the records: {0}")]
    Compress(#[source] std::io::Error),

    /// The bytes are not a complete gzip stream.
    #[error("not a readable gzip file: {0}; expected the whole .jsonl.gz object as written by jsonl_gzip")]
    Decompress(#[source] std::io::Error),

    /// A line of a JSON Lines file is not one JSON value.
    #[error(
        "line {line} is not valid JSON: {source}; each line must hold exactly one JSON record"
    )]
    InvalidLine {
        /// 1-based line number in the decompressed text.
        line: usize,
        #[source]
        source: serde_json::Error,
    },

    /// `parquet` was given no records.
    #[error("no records to write: a Parquet file needs at least one record; skip empty batches")]
    EmptyBatch,

    /// A record is not a JSON object.
    #[error("record {index} is not a JSON object; OCSF events are objects")]
    NotAnObject {
        /// 0-based position in the batch.
        index: usize,
    },

    /// A record has no usable `class_uid`.
    #[error("record {index} has no class_uid (a non-negative integer); every OCSF event names its class")]
    MissingClassUid {
        /// 0-based position in the batch.
        index: usize,
    },

    /// The batch holds more than one OCSF class.
    #[error("record {index} has class_uid {found} but the batch is class {expected}: write one Parquet file per OCSF class")]
    MixedClasses {
        /// 0-based position in the batch.
        index: usize,
        /// The class of the first record.
        expected: u64,
        /// The class of the record at `index`.
        found: u64,
    },

    /// A record has no usable `time`.
    #[error("record {index} has no time (an integer of epoch milliseconds); the rows of a Parquet export are sorted by it")]
    MissingTime {
        /// 0-based position in the batch.
        index: usize,
    },

    /// The Arrow or Parquet encoder refused the batch. Type conflicts do not end up here (they
    /// fall back to JSON text), so this is a limit of the encoder or a bug in this crate.
    #[error("could not encode the records as Parquet: {0}; export this batch as JSON Lines instead and report the record shapes")]
    ParquetEncode(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The bytes are not a Parquet file the reader can decode.
    #[error("not a readable Parquet file: {0}; expected the whole .parquet object")]
    ParquetDecode(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// A column recorded as JSON text does not hold JSON text.
    #[error("column `{column}` of row {row} should hold JSON text but {detail}; the file was altered or was not written by casb-export")]
    CorruptJsonText {
        /// Top-level field name.
        column: String,
        /// 0-based row in the file.
        row: usize,
        /// What was found instead.
        detail: String,
    },

    /// A Security Lake custom source name breaks Security Lake's rule.
    #[error("custom source name {name:?} {reason}: Security Lake accepts 1 to 20 characters of letters, digits, '_' and '-'")]
    InvalidSourceName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Not an AWS region name.
    #[error("{0:?} is not an AWS region name: use the region of the Security Lake bucket, such as \"us-east-1\"")]
    InvalidRegion(String),

    /// Not an AWS account id.
    #[error("account id {0:?} is not 12 digits: use the AWS account id the events belong to, such as \"123456789012\"")]
    InvalidAccountId(String),

    /// A batch id that would not stay one segment of an object key.
    #[error("batch id {0:?} cannot name an object: use 1 to 128 characters of letters, digits, '_', '-' and '.' (a UUID is ideal)")]
    InvalidBatchId(String),

    /// A date that does not fit `YYYYMMDD`.
    #[error("event day {0} cannot be written as YYYYMMDD: the year must be 0 to 9999")]
    InvalidDay(chrono::NaiveDate),
}
