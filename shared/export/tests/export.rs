//! casb-export from the outside: real-shaped OCSF 2006/6006 records through both formats,
//! read back by this crate and, where installed, by gzip/jq and pyarrow. One test binary
//! (link time is build time).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use casb_export::{
    class_name, jsonl_gzip, jsonl_key, parquet, read_jsonl_gzip, read_parquet, security_lake_key,
    ExportError, JSON_TEXT_COLUMNS_KEY,
};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------
// Sample records
// ---------------------------------------------------------------------------------------

/// A file UID as Box issues them: an unsigned 64-bit number above 2^53, which OCSF carries as
/// a string so that JSON readers with doubles keep every digit.
const BIG_UID: &str = "18446744073709551557";

/// Event times are shuffled (and some repeat) so sorting has work to do.
fn time_of(i: usize) -> i64 {
    1_795_914_000_000 + ((i * 7919) % 23) as i64 * 60_000
}

/// OCSF 1.5.0 Data Security Finding (2006) as the inspector emits it, varied by `i`: optional
/// attributes come and go, `risk_score` is an integer in some records and a fraction in
/// others, `unmapped` has a different shape per source.
fn data_security_finding(i: usize) -> Value {
    let mut r = json!({
        "class_uid": 2006,
        "class_name": "Data Security Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1 + (i % 2),
        "type_uid": 200601 + (i % 2) as u64,
        "severity_id": 1 + (i % 5),
        "status_id": 1,
        "time": time_of(i),
        "message": format!("Sensitive data found in report-{i}.xlsx"),
        "metadata": {
            "version": "1.5.0",
            "uid": format!("evt-{i:04}"),
            "product": { "name": "CASB", "vendor_name": "Example Corp", "version": "0.1.0" },
        },
        "finding_info": {
            "uid": format!("finding-{i}"),
            "title": "Credit card numbers in a shared file",
            "types": ["pci", "dlp"],
        },
        "file": {
            "name": format!("report-{i}.xlsx"),
            "uid": BIG_UID,
            "type_id": 1,
            "size": 1_048_576 + i as u64 * 1000,
            "hashes": [
                { "algorithm_id": 3, "value": format!("{:064x}", i * 0x9e37_79b9) },
                { "algorithm_id": 6, "value": format!("{:040x}", i + 17) },
            ],
        },
        "confidence_score": 70 + (i % 30),
        "risk_score": if i % 3 == 0 { json!(42.5 + i as f64) } else { json!(40 + i) },
        "unmapped": { "source": "box", "event_type": "UPLOAD", "seq": i },
    });
    let o = r.as_object_mut().unwrap();
    if i % 2 == 0 {
        o.insert("actor".into(), json!({ "user": { "name": format!("user{i}"), "uid": format!("u-{i}"), "email_addr": format!("user{i}@example.com") } }));
    }
    if i % 3 == 1 {
        o["metadata"]["logged_time"] = json!(time_of(i) + 5);
        o["metadata"]["labels"] = json!(["prod", format!("batch-{}", i / 10)]);
        o["finding_info"]["desc"] = json!("Matched detector credit_card 12 times");
    }
    if i % 4 == 0 {
        o.insert("observables".into(), json!([
            { "name": "file.name", "type_id": 7, "value": format!("report-{i}.xlsx") },
            { "name": "actor.user.email_addr", "type_id": 5, "value": format!("user{i}@example.com") },
        ]));
        o["file"]["path"] = json!(format!("/Finance/Q{}/report-{i}.xlsx", 1 + i % 4));
    }
    if i % 5 == 0 {
        o.insert(
            "data_security".into(),
            json!({
                "detection_system_id": 1,
                "category_id": 1,
                "data_lifecycle_state_id": 1,
                "pattern_match": "4111********1111",
            }),
        );
        o.insert("is_alert".into(), json!(i % 2 == 0));
    }
    if i % 6 == 0 {
        // Shapes the documented rules cover: null, {} and a member left empty.
        o.insert("status".into(), Value::Null);
        o.insert("device".into(), json!({}));
        o["file"]["owner"] = json!({ "uid": null, "attrs": {} });
    }
    if i % 7 == 0 {
        o.insert("enrichments".into(), json!([]));
        o["unmapped"] = json!({ "source": "netskope", "alert": { "policy": "PCI", "tags": ["a", 1, null], "empty": {} }, "score": 0.5 });
    }
    if i % 8 == 3 {
        o["unmapped"] = json!({});
    }
    if i % 9 == 4 {
        o["finding_info"]["types"] = json!([]);
    }
    if i % 10 == 2 {
        // An empty object as an array element is kept.
        o.insert(
            "evidences".into(),
            json!([{}, { "file": { "name": "dump.csv", "size": 3 }, "actor": {} }]),
        );
    }
    if i % 11 == 5 {
        o.insert("attacks".into(), json!([null, { "technique": { "uid": "T1567", "name": "Exfiltration Over Web Service" } }]));
    }
    r
}

/// OCSF 1.5.0 File Hosting Activity (6006) from a Box upload event.
fn file_hosting_activity(i: usize) -> Value {
    json!({
        "class_uid": 6006,
        "class_name": "File Hosting Activity",
        "category_uid": 6,
        "activity_id": 2,
        "type_uid": 600602,
        "severity_id": 1,
        "time": time_of(i),
        "metadata": {
            "version": "1.5.0",
            "uid": format!("box-{i}"),
            "product": { "name": "Box", "vendor_name": "Box", "version": "2.0" },
        },
        "actor": { "user": { "name": "Ann O'Neil", "email_addr": "ann@example.com" } },
        "src_endpoint": { "ip": "203.0.113.7" },
        "file": {
            "name": "notes \"Q4\"\nline2.txt",
            "uid": BIG_UID,
            "type_id": 1,
            "size": 512,
            "hashes": [{ "algorithm_id": 2, "value": "da39a3ee5e6b4b0d3255bfef95601890afd80709" }],
        },
        "unmapped": { "box": { "event_type": "UPLOAD", "additional_details": null } },
    })
}

fn findings(n: usize) -> Vec<Value> {
    (0..n).map(data_security_finding).collect()
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The documented Parquet rules applied to what was written: null members and empty-object
/// members dropped (array elements kept, their members cleaned). `unmapped`, stored as JSON
/// text, is left exactly as it was.
fn as_read_back(record: &Value) -> Value {
    fn members(m: &Map<String, Value>) -> Map<String, Value> {
        m.iter()
            .filter_map(|(k, v)| clean(v).map(|v| (k.clone(), v)))
            .collect()
    }
    fn element(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(members(m)),
            Value::Array(a) => Value::Array(a.iter().map(element).collect()),
            s => s.clone(),
        }
    }
    fn clean(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => {
                Some(Value::Object(members(m))).filter(|o| !o.as_object().unwrap().is_empty())
            }
            other => Some(element(other)),
        }
    }
    let mut out = Map::new();
    for (k, v) in record.as_object().unwrap() {
        if k == "unmapped" {
            out.insert(k.clone(), v.clone());
        } else if let Some(v) = clean(v) {
            out.insert(k.clone(), v);
        }
    }
    Value::Object(out)
}

/// Equality where numbers compare by value, the rule for integers in a float column
/// (`40` reads back as `40.0`). Everything else must be identical.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn stable_sorted_by_time(records: &[Value]) -> Vec<Value> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|r| r["time"].as_i64().unwrap());
    sorted
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("casb-export-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn on_path(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn parquet_metadata(bytes: &[u8]) -> parquet::file::metadata::ParquetMetaData {
    use parquet::file::reader::FileReader;
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(
        bytes::Bytes::copy_from_slice(bytes),
    )
    .unwrap();
    reader.metadata().clone()
}

fn json_text_columns(bytes: &[u8]) -> Vec<String> {
    let meta = parquet_metadata(bytes);
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    let entry = kv
        .iter()
        .find(|kv| kv.key == JSON_TEXT_COLUMNS_KEY)
        .unwrap();
    let mut names: Vec<String> = serde_json::from_str(entry.value.as_deref().unwrap()).unwrap();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------
// JSON Lines
// ---------------------------------------------------------------------------------------

fn jsonl_sample() -> Vec<Value> {
    let mut records = findings(12);
    records.extend((0..5).map(file_hosting_activity));
    // Precision other JSON tools lose must survive here.
    records[0]["unmapped"]["big"] = json!(u64::MAX);
    records[1]["unmapped"]["small"] = json!(i64::MIN);
    records
}

#[test]
fn jsonl_round_trip_is_exact() {
    let records = jsonl_sample();
    let bytes = jsonl_gzip(&records).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    assert_eq!(read_jsonl_gzip(&bytes).unwrap(), records);

    // One compact record per line, each line \n-terminated.
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
    assert_eq!(lines.len(), records.len());
    for (line, record) in lines.iter().zip(&records) {
        assert_eq!(*line, serde_json::to_string(record).unwrap());
    }
    assert!(
        text.contains(r#""notes \"Q4\"\nline2.txt""#),
        "newline in a string is escaped, not a line break"
    );

    assert_eq!(
        read_jsonl_gzip(&jsonl_gzip(&[]).unwrap()).unwrap(),
        Vec::<Value>::new()
    );
}

#[test]
fn jsonl_is_read_by_gzip_and_jq() {
    if !on_path("gzip", "--version") || !on_path("jq", "--version") {
        println!("NOTE: gzip or jq not on PATH; skipping the external-tool check");
        return;
    }
    let records = jsonl_sample();
    let path = temp_file("sample.jsonl.gz", &jsonl_gzip(&records).unwrap());
    let gunzip = Command::new("gzip").arg("-dc").arg(&path).output().unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        gunzip.status.success(),
        "gzip -dc: {}",
        String::from_utf8_lossy(&gunzip.stderr)
    );

    let mut jq = Command::new("jq")
        .arg("-c")
        .arg(".")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    jq.stdin.take().unwrap().write_all(&gunzip.stdout).unwrap();
    let jq = jq.wait_with_output().unwrap();
    assert!(
        jq.status.success(),
        "jq: {}",
        String::from_utf8_lossy(&jq.stderr)
    );
    let parsed: Vec<Value> = String::from_utf8(jq.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), records.len());
    for (got, want) in parsed.iter().zip(&records) {
        // jq 1.6 holds numbers as doubles: compare numbers by value, everything else exactly.
        let mut want = want.clone();
        want["unmapped"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k != "big" && k != "small");
        let mut got = got.clone();
        got["unmapped"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k != "big" && k != "small");
        assert!(same(&got, &want), "jq read\n{got}\nwrote\n{want}");
    }
}

#[test]
fn jsonl_read_errors_name_the_problem() {
    assert!(matches!(
        read_jsonl_gzip(b"{\"not\":\"gzip\"}\n"),
        Err(ExportError::Decompress(_))
    ));

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"{\"a\":1}\r\n\n{\"a\":2\n").unwrap();
    let err = read_jsonl_gzip(&gz.finish().unwrap()).unwrap_err();
    assert!(
        matches!(err, ExportError::InvalidLine { line: 3, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("line 3 is not valid JSON"),
        "{err}"
    );

    let full = jsonl_gzip(&jsonl_sample()).unwrap();
    assert!(matches!(
        read_jsonl_gzip(&full[..full.len() / 2]),
        Err(ExportError::Decompress(_))
    ));

    // Concatenated gzip members read as one stream.
    let mut two = jsonl_gzip(&[json!({"a": 1})]).unwrap();
    two.extend(jsonl_gzip(&[json!({"b": 2})]).unwrap());
    assert_eq!(
        read_jsonl_gzip(&two).unwrap(),
        vec![json!({"a": 1}), json!({"b": 2})]
    );
}

// ---------------------------------------------------------------------------------------
// Parquet
// ---------------------------------------------------------------------------------------

#[test]
fn parquet_round_trip_of_varied_findings() {
    let records = findings(40);
    let bytes = parquet(&records).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    let back = read_parquet(&bytes).unwrap();

    let want = stable_sorted_by_time(&records);
    assert_eq!(back.len(), want.len());
    for (got, wrote) in back.iter().zip(&want) {
        let expected = as_read_back(wrote);
        assert!(
            same(got, &expected),
            "read back\n{got}\nexpected\n{expected}"
        );
        // Stored as JSON text: exact, {} and null inside included.
        assert_eq!(got["unmapped"], wrote["unmapped"]);
        // Strings and integer columns keep every digit.
        assert_eq!(got["file"]["uid"], json!(BIG_UID));
        assert_eq!(got["file"]["size"], wrote["file"]["size"]);
        assert_eq!(got["metadata"]["uid"], wrote["metadata"]["uid"]);
    }
    // The rules did apply, so the comparison above compared something.
    let first_with_device = back
        .iter()
        .find(|r| r["metadata"]["uid"] == "evt-0000")
        .unwrap();
    assert!(first_with_device.get("device").is_none() && first_with_device.get("status").is_none());
    assert_eq!(first_with_device["risk_score"], json!(42.5));
    let int_risk = back
        .iter()
        .find(|r| r["metadata"]["uid"] == "evt-0001")
        .unwrap();
    assert_eq!(
        int_risk["risk_score"].as_f64(),
        Some(41.0),
        "integer in a float column"
    );
    let empty_types = back
        .iter()
        .find(|r| r["metadata"]["uid"] == "evt-0004")
        .unwrap();
    assert_eq!(empty_types["finding_info"]["types"], json!([]));
    let evidences = back
        .iter()
        .find(|r| r["metadata"]["uid"] == "evt-0002")
        .unwrap();
    assert_eq!(
        evidences["evidences"],
        json!([{}, { "file": { "name": "dump.csv", "size": 3 } }])
    );
    let attacks = back
        .iter()
        .find(|r| r["metadata"]["uid"] == "evt-0005")
        .unwrap();
    assert_eq!(attacks["attacks"][0], Value::Null);
    let empty_unmapped = back
        .iter()
        .find(|r| r["metadata"]["uid"] == "evt-0003")
        .unwrap();
    assert_eq!(empty_unmapped["unmapped"], json!({}));

    assert_eq!(json_text_columns(&bytes), vec!["unmapped"]);
}

#[test]
fn parquet_rows_come_back_sorted_by_time() {
    let records = findings(30);
    let input_times: Vec<i64> = records
        .iter()
        .map(|r| r["time"].as_i64().unwrap())
        .collect();
    assert!(
        input_times.windows(2).any(|w| w[0] > w[1]),
        "the sample must start unsorted"
    );

    let back = read_parquet(&parquet(&records).unwrap()).unwrap();
    let times: Vec<i64> = back.iter().map(|r| r["time"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // Equal times keep their input order.
    let uids: Vec<&Value> = back.iter().map(|r| &r["metadata"]["uid"]).collect();
    let want = stable_sorted_by_time(&records);
    let want_uids: Vec<&Value> = want.iter().map(|r| &r["metadata"]["uid"]).collect();
    assert_eq!(uids, want_uids);
}

#[test]
fn parquet_file_is_gzip_and_declares_time_order() {
    use parquet::basic::Compression;
    let bytes = parquet(&findings(30)).unwrap();
    let meta = parquet_metadata(&bytes);
    assert_eq!(meta.num_row_groups(), 1);
    let row_group = meta.row_group(0);
    assert_eq!(row_group.num_rows(), 30);
    for column in row_group.columns() {
        assert!(
            matches!(column.compression(), Compression::GZIP(_)),
            "{}: {:?}",
            column.column_path(),
            column.compression()
        );
    }
    let sorting = row_group
        .sorting_columns()
        .expect("sorting_columns declared");
    assert_eq!(sorting.len(), 1);
    let time = row_group.column(sorting[0].column_idx as usize);
    assert_eq!(time.column_path().string(), "time");
    assert!(!sorting[0].descending);
    assert_eq!(time.column_type(), parquet::basic::Type::INT64);
}

#[test]
fn parquet_falls_back_to_json_text_for_unresolvable_fields() {
    let base = |i: i64, extra: Value| {
        let mut r = json!({ "class_uid": 2006, "time": 1_000 + i, "metadata": { "version": "1.5.0", "uid": format!("x{i}") } });
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let records = vec![
        base(
            0,
            json!({ "raw_data": "GET /a", "flag": true, "count": u64::MAX, "mixed": 1, "tags": ["a", "b"], "deep": { "x": "s" } }),
        ),
        base(
            1,
            json!({ "raw_data": { "method": "GET", "path": "/b" }, "flag": "yes", "count": 3, "mixed": [2, 3], "tags": ["c", 4], "deep": { "x": { "y": 1 } } }),
        ),
        base(
            2,
            json!({ "raw_data": null, "flag": false, "mixed": [], "tags": [], "deep": { "x": {} }, "unmapped": { "k": [1, "two", null, {}] } }),
        ),
    ];
    let bytes = parquet(&records).unwrap();
    assert_eq!(
        json_text_columns(&bytes),
        vec!["count", "deep", "flag", "mixed", "raw_data", "tags", "unmapped"]
    );
    // Every field here is either typed without loss or JSON text: exact equality.
    assert_eq!(read_parquet(&bytes).unwrap(), records);
}

#[test]
fn parquet_empty_objects_and_nulls_follow_the_documented_rules() {
    let records = vec![
        json!({ "class_uid": 6006, "time": 2, "device": {}, "status": null, "a": { "b": {}, "c": null, "d": 1 },
                "list": [{}, { "x": 1 }, null], "always_empty": {}, "only_nulls": null }),
        json!({ "class_uid": 6006, "time": 1, "device": { "name": "laptop" }, "a": { "b": {} }, "always_empty": { "inner": {} },
                "list": [[]], "only_nulls": [null] }),
    ];
    let back = read_parquet(&parquet(&records).unwrap()).unwrap();
    assert_eq!(
        back,
        vec![
            // `list` is a list of structs in the first row and, here, a list of lists: a conflict,
            // so it is JSON text and exact.
            json!({ "class_uid": 6006, "time": 1, "device": { "name": "laptop" }, "list": [[]], "only_nulls": [null] }),
            json!({ "class_uid": 6006, "time": 2, "a": { "d": 1 }, "list": [{}, { "x": 1 }, null] }),
        ]
    );

    // Array elements are kept, {} and null included, only their members cleaned; arrays of
    // nothing but {} have no struct type and become JSON text.
    let records = vec![
        json!({ "class_uid": 6006, "time": 1, "list": [{}, { "x": 1 }, null], "lead_null": [null, { "y": "a" }],
                               "only_empty": [{}, {}], "inner": [{ "b": {}, "c": 1, "d": null }], "only_nulls": [null, null] }),
    ];
    let bytes = parquet(&records).unwrap();
    assert_eq!(json_text_columns(&bytes), vec!["only_empty"]);
    assert_eq!(
        read_parquet(&bytes).unwrap(),
        vec![
            json!({ "class_uid": 6006, "time": 1, "list": [{}, { "x": 1 }, null], "lead_null": [null, { "y": "a" }],
                     "only_empty": [{}, {}], "inner": [{ "c": 1 }], "only_nulls": [null, null] })
        ],
    );
}

#[test]
fn parquet_refuses_what_is_not_one_class_of_timed_objects() {
    let mut records = findings(3);
    records.push(file_hosting_activity(9));
    match parquet(&records) {
        Err(
            e @ ExportError::MixedClasses {
                index: 3,
                expected: 2006,
                found: 6006,
            },
        ) => {
            assert!(
                e.to_string().contains("one Parquet file per OCSF class"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }

    let mut records = findings(3);
    records[1].as_object_mut().unwrap().remove("class_uid");
    assert!(matches!(
        parquet(&records),
        Err(ExportError::MissingClassUid { index: 1 })
    ));
    records[1]["class_uid"] = json!("2006");
    assert!(matches!(
        parquet(&records),
        Err(ExportError::MissingClassUid { index: 1 })
    ));

    let mut records = findings(3);
    records[2]["time"] = json!("2026-11-29T01:00:00Z");
    assert!(matches!(
        parquet(&records),
        Err(ExportError::MissingTime { index: 2 })
    ));
    records[2].as_object_mut().unwrap().remove("time");
    assert!(matches!(
        parquet(&records),
        Err(ExportError::MissingTime { index: 2 })
    ));

    assert!(matches!(
        parquet(&[json!({"class_uid": 2006, "time": 1}), json!([1])]),
        Err(ExportError::NotAnObject { index: 1 })
    ));
    assert!(matches!(parquet(&[]), Err(ExportError::EmptyBatch)));
}

#[test]
fn read_parquet_rejects_damaged_files_without_panicking() {
    let bytes = parquet(&findings(30)).unwrap();
    assert!(matches!(
        read_parquet(b"PAR1 not really"),
        Err(ExportError::ParquetDecode(_))
    ));
    assert!(matches!(
        read_parquet(&bytes[..bytes.len() - 10]),
        Err(ExportError::ParquetDecode(_))
    ));
    assert!(matches!(
        read_parquet(&[]),
        Err(ExportError::ParquetDecode(_))
    ));
    // Damage in the middle of the data pages: an error or (if a page survives) rows, never a panic.
    for offset in [64usize, bytes.len() / 3, bytes.len() / 2] {
        let mut damaged = bytes.clone();
        for b in &mut damaged[offset..offset + 32] {
            *b ^= 0x5a;
        }
        let _ = read_parquet(&damaged);
    }
}

#[test]
fn parquet_is_read_by_pyarrow() {
    // scripts/test.sh installs pyarrow in its virtualenv and names its Python here: Apache
    // Arrow's own reader, the one Athena, Glue and Security Lake users reach for, reads our files.
    let python = std::env::var("CASB_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_pyarrow = Command::new(&python)
        .args(["-c", "import pyarrow"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_pyarrow {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{python} has no pyarrow: run the tests through scripts/test.sh, which installs it"
        );
        println!("NOTE: {python} with pyarrow not available; skipping the pyarrow check");
        return;
    }
    let records = findings(30);
    let path = temp_file("sample.gz.parquet", &parquet(&records).unwrap());
    let script = r#"
import json, sys
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
t = f.read()
print(json.dumps({
    "rows": t.num_rows,
    "codec": f.metadata.row_group(0).column(0).compression,
    "uids": [m["uid"] for m in t.column("metadata").to_pylist()],
    "times": t.column("time").to_pylist(),
    "file_uid": t.column("file").to_pylist()[0]["uid"],
    "unmapped": t.column("unmapped").to_pylist()[0],
}))
"#;
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "pyarrow: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = stable_sorted_by_time(&records);
    assert_eq!(got["rows"], json!(30));
    assert_eq!(got["codec"], json!("GZIP"));
    assert_eq!(
        got["uids"],
        json!(want
            .iter()
            .map(|r| r["metadata"]["uid"].clone())
            .collect::<Vec<_>>())
    );
    assert_eq!(
        got["times"],
        json!(want.iter().map(|r| r["time"].clone()).collect::<Vec<_>>())
    );
    assert_eq!(got["file_uid"], json!(BIG_UID));
    let unmapped: Value = serde_json::from_str(got["unmapped"].as_str().unwrap()).unwrap();
    assert_eq!(unmapped, want[0]["unmapped"]);
}

// ---------------------------------------------------------------------------------------
// Keys and names
// ---------------------------------------------------------------------------------------

#[test]
fn jsonl_keys_are_hive_partitioned() {
    let hour = Utc.with_ymd_and_hms(2026, 11, 29, 1, 37, 12).unwrap();
    assert_eq!(
        jsonl_key("exports/ocsf", 2006, hour, "b-1"),
        "exports/ocsf/class_uid=2006/year=2026/month=11/day=29/hour=01/b-1.jsonl.gz"
    );
    assert_eq!(
        jsonl_key("exports/ocsf/", 2006, hour, "b-1"),
        "exports/ocsf/class_uid=2006/year=2026/month=11/day=29/hour=01/b-1.jsonl.gz"
    );
    assert_eq!(
        jsonl_key("", 6006, hour, "x"),
        "class_uid=6006/year=2026/month=11/day=29/hour=01/x.jsonl.gz"
    );
    let late = Utc.with_ymd_and_hms(2027, 1, 2, 23, 0, 0).unwrap();
    assert_eq!(
        jsonl_key("p", 3002, late, "y"),
        "p/class_uid=3002/year=2027/month=01/day=02/hour=23/y.jsonl.gz"
    );
}

#[test]
fn security_lake_keys_follow_the_custom_source_layout() {
    let day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    assert_eq!(
        security_lake_key("casb_2006", "us-east-1", "123456789012", day, "0f8e2c1a-batch").unwrap(),
        "ext/casb_2006/region=us-east-1/accountId=123456789012/eventDay=20261129/0f8e2c1a-batch.gz.parquet",
    );
    let jan = NaiveDate::from_ymd_opt(2027, 1, 5).unwrap();
    assert_eq!(
        security_lake_key("A-b_9", "us-gov-west-1", "000000000001", jan, "b.1").unwrap(),
        "ext/A-b_9/region=us-gov-west-1/accountId=000000000001/eventDay=20270105/b.1.gz.parquet",
    );
    for region in [
        "eu-central-1",
        "ap-southeast-2",
        "cn-north-1",
        "us-isob-east-1",
    ] {
        assert!(
            security_lake_key("casb", region, "123456789012", day, "b").is_ok(),
            "{region}"
        );
    }
    assert!(security_lake_key(&"a".repeat(20), "us-east-1", "123456789012", day, "b").is_ok());
}

#[test]
fn security_lake_key_errors_say_what_is_wrong() {
    let day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let key = |source: &str, region: &str, account: &str, batch: &str| {
        security_lake_key(source, region, account, day, batch)
    };

    for (source, reason) in [
        ("", "is empty"),
        (&"a".repeat(21) as &str, "is 21 characters long"),
        ("casb.dlp", "contains '.'"),
        ("casb/x", "contains '/'"),
        ("café", "contains 'é'"),
    ] {
        match key(source, "us-east-1", "123456789012", "b") {
            Err(e @ ExportError::InvalidSourceName { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains(reason) && text.contains("1 to 20 characters"),
                    "{text}"
                );
            }
            other => panic!("{source:?}: {other:?}"),
        }
    }
    for region in [
        "",
        "us-east",
        "US-EAST-1",
        "us-east-1a",
        "useast1",
        "us--1",
        "u-east-1",
        "us-east-123",
        "us_east_1",
        "us-east-1/x",
    ] {
        match key("casb", region, "123456789012", "b") {
            Err(e @ ExportError::InvalidRegion(_)) => {
                assert!(e.to_string().contains("us-east-1"), "{e}")
            }
            other => panic!("{region:?}: {other:?}"),
        }
    }
    for account in [
        "",
        "12345678901",
        "1234567890123",
        "12345678901a",
        "１２３４５６７８９０１２",
    ] {
        match key("casb", "us-east-1", account, "b") {
            Err(e @ ExportError::InvalidAccountId(_)) => {
                assert!(e.to_string().contains("12 digits"), "{e}")
            }
            other => panic!("{account:?}: {other:?}"),
        }
    }
    for batch in ["", "a/b", "a b", &"x".repeat(129)] {
        assert!(
            matches!(
                key("casb", "us-east-1", "123456789012", batch),
                Err(ExportError::InvalidBatchId(_))
            ),
            "{batch:?}"
        );
    }
    let far = NaiveDate::from_ymd_opt(10000, 1, 1).unwrap();
    assert!(matches!(
        security_lake_key("casb", "us-east-1", "123456789012", far, "b"),
        Err(ExportError::InvalidDay(_))
    ));
}

#[test]
fn class_names_of_the_emitted_classes() {
    let expected = [
        (2004, "detection_finding"),
        (2006, "data_security_finding"),
        (3001, "account_change"),
        (3002, "authentication"),
        (3004, "entity_management"),
        (4001, "network_activity"),
        (5001, "inventory_info"),
        (6003, "api_activity"),
        (6006, "file_hosting"),
        (7001, "remediation_activity"),
        (7002, "file_remediation_activity"),
    ];
    for (uid, name) in expected {
        assert_eq!(class_name(uid), Some(name), "{uid}");
    }
    for uid in [0, 1001, 2001, 2005, 6001, 9999] {
        assert_eq!(class_name(uid), None, "{uid}");
    }
}
