// Temporary measurement harness (removed after use).
use casb_dlp::extract::Limits;
use casb_dlp::Engine;
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::Path::new(&args[1]);
    let limit: u64 = args[2].parse().unwrap();
    let limits = Limits {
        max_total_bytes: limit,
        ..Limits::default()
    };
    let e = Engine::with_default_catalog();
    let t = std::time::Instant::now();
    let r = if args.get(3).map(String::as_str) == Some("mem") {
        e.scan_bytes_with_limits(
            &path.file_name().unwrap().to_string_lossy(),
            &std::fs::read(path).unwrap(),
            &limits,
        )
    } else {
        e.scan_file(path, &limits).unwrap()
    };
    let mut by: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    for f in &r.findings {
        *by.entry((f.detector_id.clone(), f.part.clone()))
            .or_default() += 1;
    }
    println!(
        "file {} limit {limit} took {:?}",
        path.display(),
        t.elapsed()
    );
    println!("scanned_bytes {} skipped {:?}", r.scanned_bytes, r.skipped);
    for m in &r.errors {
        println!("error: {m}");
    }
    let parts: std::collections::BTreeSet<_> = r.findings.iter().map(|f| f.part.clone()).collect();
    println!("findings {} in {} parts", r.findings.len(), parts.len());
    for ((d, p), n) in by.iter().take(25) {
        println!("  {d} {p:?} x{n}");
    }
}
