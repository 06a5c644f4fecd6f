//! `casb-export`: batches of OCSF 1.5.0 events to the files SIEMs and Amazon Security Lake
//! read, and back. Storage, batching and scheduling live elsewhere; this crate only turns
//! records (`serde_json::Value` objects with `class_uid`, `time` in epoch milliseconds and
//! `metadata.uid`) into file bytes and object keys.
//!
//! - [`jsonl_gzip`] / [`read_jsonl_gzip`]: gzip JSON Lines, stored under [`jsonl_key`]
//!   (Hive-style `class_uid=`/`year=`/`month=`/`day=`/`hour=` partitions).
//! - [`parquet()`] / [`read_parquet`]: GZIP Parquet of one class sorted by time, stored under
//!   [`security_lake_key`] (a Security Lake custom source's layout).
//! - [`class_name`]: OCSF class names of the classes the product emits.
//!
//! JSON Lines keeps records exactly. Parquet needs column types, so it keeps them up to a
//! few documented rules (see [`parquet()`]): a null member reads back as absent, so does an
//! empty-object member, and integers in a float column read back as floats; fields whose
//! shape varies beyond a column type, and `unmapped` always, are stored as JSON text and
//! read back exactly.

mod columnar;
mod error;
mod jsonl;
mod keys;

pub use columnar::{parquet, read_parquet, JSON_TEXT_COLUMNS_KEY};
pub use error::ExportError;
pub use jsonl::{jsonl_gzip, read_jsonl_gzip};
pub use keys::{class_name, jsonl_key, security_lake_key};
