//! Object keys and OCSF class names.
//!
//! Keys use Hive-style `name=value` partitions so that Athena and Glue discover them as
//! columns, Splunk's and other SIEMs' S3 inputs can filter on a prefix, and a person with
//! `aws s3 cp --recursive` and `jq` can glob one class or one hour.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use crate::ExportError;

/// The object key of a JSON Lines export:
/// `{prefix}/class_uid={class_uid}/year=YYYY/month=MM/day=DD/hour=HH/{batch_id}.jsonl.gz`.
///
/// `hour` is the hour the batch's events belong to, in UTC; its minutes and seconds are not
/// used. `prefix` is written without a trailing slash (any trailing slashes are trimmed, so
/// `"exports/"` and `"exports"` give the same key); an empty prefix puts the key at the root
/// of the bucket. `prefix` and `batch_id` are used verbatim: the caller makes them (a
/// configured prefix, a UUID).
///
/// ```
/// use chrono::TimeZone;
/// let hour = chrono::Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
/// assert_eq!(
///     casb_export::jsonl_key("ocsf", 2006, hour, "b1"),
///     "ocsf/class_uid=2006/year=2026/month=11/day=29/hour=01/b1.jsonl.gz",
/// );
/// ```
pub fn jsonl_key(prefix: &str, class_uid: u32, hour: DateTime<Utc>, batch_id: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    let separator = if prefix.is_empty() { "" } else { "/" };
    format!(
        "{prefix}{separator}class_uid={class_uid}/year={:04}/month={:02}/day={:02}/hour={:02}/{batch_id}.jsonl.gz",
        hour.year(),
        hour.month(),
        hour.day(),
        hour.hour(),
    )
}

/// The object key of a Parquet file in an Amazon Security Lake custom source:
/// `ext/{source_name}/region={region}/accountId={account_id}/eventDay=YYYYMMDD/{batch_id}.gz.parquet`.
///
/// Everything is checked, because a key outside this layout is silently ignored by Security
/// Lake's Glue crawler:
/// - `source_name`: the custom source's name, 1 to 20 characters of `[A-Za-z0-9_-]`;
/// - `region`: an AWS region name such as `us-east-1` or `us-gov-west-1`;
/// - `account_id`: 12 digits;
/// - `day`: the UTC day of the events, year 0 to 9999;
/// - `batch_id`: 1 to 128 characters of `[A-Za-z0-9_.-]`, so it stays one key segment.
pub fn security_lake_key(
    source_name: &str,
    region: &str,
    account_id: &str,
    day: NaiveDate,
    batch_id: &str,
) -> Result<String, ExportError> {
    check_source_name(source_name)?;
    if !is_region(region) {
        return Err(ExportError::InvalidRegion(region.to_owned()));
    }
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ExportError::InvalidAccountId(account_id.to_owned()));
    }
    if !(0..=9999).contains(&day.year()) {
        return Err(ExportError::InvalidDay(day));
    }
    let batch_ok = (1..=128).contains(&batch_id.len())
        && batch_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !batch_ok {
        return Err(ExportError::InvalidBatchId(batch_id.to_owned()));
    }
    Ok(format!(
        "ext/{source_name}/region={region}/accountId={account_id}/eventDay={:04}{:02}{:02}/{batch_id}.gz.parquet",
        day.year(),
        day.month(),
        day.day(),
    ))
}

fn check_source_name(name: &str) -> Result<(), ExportError> {
    let invalid = |reason: String| ExportError::InvalidSourceName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("is empty".to_owned()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return Err(invalid(format!("contains {c:?}")));
    }
    // All ASCII from here, so bytes are characters.
    if name.len() > 20 {
        return Err(invalid(format!("is {} characters long", name.len())));
    }
    Ok(())
}

/// `xx-name[-name...]-N`: two-letter area, one or more lowercase words, a number. Covers the
/// commercial, GovCloud, China and ISO partitions without a list that would go stale.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [area, words @ .., number] = parts.as_slice() else {
        return false;
    };
    parts.len() >= 3
        && area.len() == 2
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The OCSF 1.5.0 class name (snake_case, as in the schema's `name`) of the classes this
/// product emits; `None` for any other class.
pub fn class_name(class_uid: u32) -> Option<&'static str> {
    Some(match class_uid {
        2004 => "detection_finding",
        2006 => "data_security_finding",
        3001 => "account_change",
        3002 => "authentication",
        3004 => "entity_management",
        4001 => "network_activity",
        5001 => "inventory_info",
        6003 => "api_activity",
        6006 => "file_hosting",
        7001 => "remediation_activity",
        7002 => "file_remediation_activity",
        _ => return None,
    })
}
