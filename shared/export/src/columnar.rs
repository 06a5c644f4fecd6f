//! OCSF records to Apache Parquet and back, for Amazon Security Lake custom sources and any
//! engine that reads Parquet (Athena, Spark, DuckDB, pandas).
//!
//! The schema is inferred from the batch with arrow-json, one top-level field at a time, so
//! that a field whose shape varies beyond what a column type can hold costs only that field
//! its typed column: it is stored as JSON text instead, and [`read_parquet`] parses it back.
//! The names of those columns are kept in the file's key-value metadata under
//! [`JSON_TEXT_COLUMNS_KEY`].

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_json::reader::infer_json_schema_from_iterator;
use arrow_json::{LineDelimitedWriter, ReaderBuilder};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Fields, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, GzipLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Value};

use crate::ExportError;

/// Key of the Parquet file metadata entry listing, as a JSON array of names, the top-level
/// fields stored as JSON text (see [`parquet()`]).
pub const JSON_TEXT_COLUMNS_KEY: &str = "casb_export.json_text_columns";

/// Top-level fields always stored as JSON text. `unmapped` holds whatever a source sent that
/// OCSF has no attribute for: its shape differs per source and per event, and Security Lake
/// users query it with `json_extract`, which wants a string column.
const ALWAYS_JSON_TEXT: &[&str] = &["unmapped"];

/// Encodes one batch of OCSF records of a single class as a GZIP-compressed Parquet file
/// with its rows sorted by `time` ascending (records with equal times keep their order).
///
/// Every record must be a JSON object with an integer `class_uid`, the same in all records,
/// and an integer `time` (epoch milliseconds); the batch must not be empty.
///
/// There is one column per top-level field; nested objects become structs and arrays
/// become lists. All columns are nullable, so a field missing from some records is simply
/// null there. Rules for the typed columns, which [`read_parquet`] shows:
/// - null and absent are the same: a member that is `null` reads back as absent (a `null`
///   element of an array stays `null`);
/// - empty objects are dropped, because Arrow has no struct without fields: a member whose
///   value is `{}` (or becomes `{}` once its own null and empty members are dropped) reads
///   back as absent, and a field that is never more than that has no column at all. An
///   empty object that is an element of an array is kept and reads back as `{}`;
/// - a field holding integers in some records and fractions in others is a float64 column,
///   so its integers read back as floats (`3` as `3.0`), exact only up to 2^53.
///
/// A top-level field whose values inference cannot give one column type is stored as a
/// string column of JSON text instead of failing the batch: a string in one record and an
/// object in another, a number beside a string or a boolean, a scalar beside an array, an
/// integer above `i64::MAX`, arrays whose elements are only ever `{}`. A conflict deep
/// inside a field (say `file.uid` as a string and as an object) costs the whole top-level
/// field (`file`) its typed column. `unmapped` is always JSON text. These columns read back
/// exactly as written, `{}` and `null` included, and are listed in the file metadata under
/// [`JSON_TEXT_COLUMNS_KEY`].
pub fn parquet(records: &[Value]) -> Result<Vec<u8>, ExportError> {
    let rows = sorted_rows(records)?;

    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for row in &rows {
        for key in row.keys() {
            if seen.insert(key.as_str()) {
                keys.push(key.as_str());
            }
        }
    }

    let mut fields: Vec<FieldRef> = Vec::with_capacity(keys.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(keys.len());
    let mut json_text = Vec::new();
    for key in keys {
        let values: Vec<Option<&Value>> = rows.iter().map(|row| row.get(key)).collect();
        match typed_column(key, &values) {
            Column::Typed(field, array) => {
                fields.push(field);
                columns.push(array);
            }
            Column::Omitted => {}
            Column::JsonText => {
                let text: StringArray = values.iter().map(|v| v.map(Value::to_string)).collect();
                fields.push(Arc::new(Field::new(key, DataType::Utf8, true)));
                columns.push(Arc::new(text));
                json_text.push(key);
            }
        }
    }

    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(encode_error)?;
    let json_text = serde_json::to_string(&json_text).map_err(encode_error)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        // Tells engines the row groups are ordered by time, so they may skip or merge.
        .set_sorting_columns(time_sorting(&schema))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            JSON_TEXT_COLUMNS_KEY.to_owned(),
            json_text,
        )]))
        .build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(encode_error)?;
    writer.write(&batch).map_err(encode_error)?;
    writer.into_inner().map_err(encode_error)
}

/// Decodes a Parquet file back to JSON records, one per row in file order.
///
/// Columns listed under [`JSON_TEXT_COLUMNS_KEY`] are parsed back from their JSON text, so a
/// record written by [`parquet()`] reads back equal to the one given, except for the rules
/// documented there (null and empty-object members read back as absent, integers in a
/// float column read back as floats). Files from other writers are read too: columns become
/// JSON the way arrow-json writes them (timestamps as ISO 8601 text, for one).
pub fn read_parquet(bytes: &[u8]) -> Result<Vec<Value>, ExportError> {
    // The Parquet decoder has in the past panicked on some corrupt files rather than
    // returning an error; a file from storage is input, so a panic becomes an error here.
    catch_unwind(AssertUnwindSafe(|| decode_parquet(bytes))).unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the decoder failed".to_owned());
        Err(ExportError::ParquetDecode(detail.into()))
    })
}

fn decode_parquet(bytes: &[u8]) -> Result<Vec<Value>, ExportError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .map_err(decode_error)?;
    let json_text: Vec<String> = match builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == JSON_TEXT_COLUMNS_KEY))
        .and_then(|kv| kv.value.as_deref())
    {
        Some(names) => serde_json::from_str(names).map_err(|e| {
            ExportError::ParquetDecode(
                format!("metadata entry {JSON_TEXT_COLUMNS_KEY} is not a JSON array of names: {e}")
                    .into(),
            )
        })?,
        None => Vec::new(),
    };

    let mut lines = Vec::new();
    let mut writer = LineDelimitedWriter::new(&mut lines);
    for batch in builder.build().map_err(decode_error)? {
        writer
            .write(&batch.map_err(decode_error)?)
            .map_err(decode_error)?;
    }
    writer.finish().map_err(decode_error)?;
    drop(writer);

    let mut records = Vec::new();
    for (row, record) in serde_json::Deserializer::from_slice(&lines)
        .into_iter::<Value>()
        .enumerate()
    {
        let mut record = record.map_err(decode_error)?;
        if let Value::Object(fields) = &mut record {
            for column in &json_text {
                let Some(slot) = fields.get_mut(column) else {
                    continue;
                };
                let corrupt = |detail: String| ExportError::CorruptJsonText {
                    column: column.clone(),
                    row,
                    detail,
                };
                let parsed = match &*slot {
                    Value::String(text) => serde_json::from_str(text)
                        .map_err(|e| corrupt(format!("does not parse: {e}")))?,
                    other => {
                        return Err(corrupt(format!(
                            "holds a {} instead of a string",
                            json_type(other)
                        )))
                    }
                };
                *slot = parsed;
            }
        }
        records.push(record);
    }
    Ok(records)
}

/// Checks the batch and returns its records ordered by `time` (stable).
fn sorted_rows(records: &[Value]) -> Result<Vec<&Map<String, Value>>, ExportError> {
    if records.is_empty() {
        return Err(ExportError::EmptyBatch);
    }
    let mut class = None;
    let mut rows = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let Value::Object(row) = record else {
            return Err(ExportError::NotAnObject { index });
        };
        let found = row
            .get("class_uid")
            .and_then(Value::as_u64)
            .ok_or(ExportError::MissingClassUid { index })?;
        match class {
            None => class = Some(found),
            Some(expected) if expected != found => {
                return Err(ExportError::MixedClasses {
                    index,
                    expected,
                    found,
                });
            }
            Some(_) => {}
        }
        let time = row
            .get("time")
            .and_then(Value::as_i64)
            .ok_or(ExportError::MissingTime { index })?;
        rows.push((time, row));
    }
    rows.sort_by_key(|(time, _)| *time);
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

enum Column {
    Typed(FieldRef, ArrayRef),
    JsonText,
    /// Absent, null or empty in every record: reads back absent without a column.
    Omitted,
}

/// Infers and decodes one top-level field on its own, so that a conflict in it is found
/// and contained there. Any failure means JSON text, which always works.
fn typed_column(key: &str, values: &[Option<&Value>]) -> Column {
    if ALWAYS_JSON_TEXT.contains(&key) {
        return Column::JsonText;
    }
    let mut rows = Vec::with_capacity(values.len());
    let mut any = false;
    for value in values {
        let mut row = Map::new();
        if let Some(value) = value.and_then(clean) {
            // arrow-json infers such a number as float64 and would round it.
            if has_wide_integer(&value) {
                return Column::JsonText;
            }
            row.insert(key.to_owned(), value);
            any = true;
        }
        rows.push(Value::Object(row));
    }
    if !any {
        return Column::Omitted;
    }

    // Inference coerces what it cannot reconcile to Utf8 or a list; decoding below (which
    // does not coerce) is what finds those conflicts. Inference also judges an array by its
    // first element, so `[null, {..}]` fails it: retried on a copy without null elements
    // (rare in OCSF, hence not done up front), which decoding then accepts with the nulls.
    let infer =
        |rows: &[Value]| infer_json_schema_from_iterator(rows.iter().map(Ok::<_, ArrowError>));
    let inferred = infer(&rows)
        .or_else(|_| infer(&rows.iter().map(without_null_elements).collect::<Vec<_>>()));
    let Ok(inferred) = inferred else {
        return Column::JsonText;
    };
    let Some(data_type) = inferred
        .fields()
        .first()
        .and_then(|f| storable(f.data_type()))
    else {
        return Column::JsonText;
    };
    let field = Arc::new(Field::new(key, data_type, true));
    let decoded = ReaderBuilder::new(Arc::new(Schema::new(vec![field.clone()])))
        .build_decoder()
        .and_then(|mut decoder| {
            decoder.serialize(&rows)?;
            decoder.flush()
        });
    match decoded {
        Ok(Some(batch)) if batch.num_columns() == 1 && batch.num_rows() == rows.len() => {
            Column::Typed(field, batch.column(0).clone())
        }
        _ => Column::JsonText,
    }
}

/// Applies the null and empty-object rules. `None`: the value reads back as absent.
fn clean(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(members) => {
            let kept = clean_members(members);
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        _ => Some(clean_element(value)),
    }
}

/// An array element: kept, `null` and `{}` included (a list item can be null, and a struct
/// item with all fields null reads back as `{}`); only members inside it are cleaned.
fn clean_element(value: &Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(clean_members(members)),
        Value::Array(elements) => Value::Array(elements.iter().map(clean_element).collect()),
        scalar => scalar.clone(),
    }
}

fn clean_members(members: &Map<String, Value>) -> Map<String, Value> {
    members
        .iter()
        .filter_map(|(k, v)| clean(v).map(|v| (k.clone(), v)))
        .collect()
}

fn without_null_elements(value: &Value) -> Value {
    match value {
        Value::Array(elements) => Value::Array(
            elements
                .iter()
                .filter(|e| !e.is_null())
                .map(without_null_elements)
                .collect(),
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), without_null_elements(v)))
                .collect(),
        ),
        scalar => scalar.clone(),
    }
}

fn has_wide_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_u64() && !n.is_i64(),
        Value::Array(elements) => elements.iter().any(has_wide_integer),
        Value::Object(members) => members.values().any(has_wide_integer),
        _ => false,
    }
}

/// The inferred type with what Parquet and its readers cannot take replaced: a field only
/// ever null (inferred as Null, which Glue and Athena reject) becomes an all-null string.
/// `None` for a struct without fields (arrays whose elements are only ever `{}`).
fn storable(data_type: &DataType) -> Option<DataType> {
    Some(match data_type {
        DataType::Null => DataType::Utf8,
        DataType::Struct(fields) if fields.is_empty() => return None,
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| storable(f.data_type()).map(|t| Field::new(f.name(), t, true)))
                .collect::<Option<Fields>>()?,
        ),
        DataType::List(item) => DataType::List(Arc::new(Field::new(
            item.name(),
            storable(item.data_type())?,
            true,
        ))),
        other => other.clone(),
    })
}

/// The leaf column index of `time`, for the row groups' sorting_columns.
fn time_sorting(schema: &Schema) -> Option<Vec<SortingColumn>> {
    let descriptor = ArrowSchemaConverter::new().convert(schema).ok()?;
    let column_idx = descriptor
        .columns()
        .iter()
        .position(|c| c.path().parts() == ["time"])?;
    Some(vec![SortingColumn {
        column_idx: i32::try_from(column_idx).ok()?,
        descending: false,
        nulls_first: false,
    }])
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn encode_error(e: impl std::error::Error + Send + Sync + 'static) -> ExportError {
    ExportError::ParquetEncode(Box::new(e))
}

fn decode_error(e: impl std::error::Error + Send + Sync + 'static) -> ExportError {
    ExportError::ParquetDecode(Box::new(e))
}
