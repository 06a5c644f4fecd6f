//! Scans one file with the default catalog, for profilers: the engine alone, without the
//! CLI's start-up and output.
//!
//! `cargo run --profile profiling -p casb-dlp --example scan_file -- FILE [low|medium|high]`
//! then `perf record` / `perf stat` the binary in `target/profiling/examples/`.

use casb_dlp::{Confidence, Engine};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: scan_file FILE [low|medium|high]");
        std::process::exit(2);
    };
    let confidence = match args.next().as_deref() {
        None | Some("medium") => Confidence::Medium,
        Some("low") => Confidence::Low,
        Some("high") => Confidence::High,
        Some(other) => {
            eprintln!("unknown confidence {other}: use low, medium or high");
            std::process::exit(2);
        }
    };
    let engine = match Engine::builder().min_confidence(confidence).build() {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    // `CASB_LIST_FINDINGS=1`: one line per finding, to compare two builds' output.
    let list = std::env::var_os("CASB_LIST_FINDINGS").is_some();
    let mut findings = 0u64;
    let on_finding = |f: casb_dlp::Finding| {
        findings += 1;
        if list {
            println!("{} {} {} {:?}", f.start, f.end, f.detector_id, f.confidence);
        }
    };
    match engine.scan_reader(std::io::BufReader::new(file), on_finding) {
        Ok(bytes) => println!("{bytes} bytes, {findings} findings"),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}
