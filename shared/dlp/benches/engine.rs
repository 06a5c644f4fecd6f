//! Throughput of the engine with the whole catalog, on plain text (MB/s), at the default
//! threshold (medium) and with every tier reported (low).
//!
//! `cargo bench -p casb-dlp --bench engine`

use casb_dlp::{Confidence, Engine};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

/// Deterministic English-like text: about one word in 23 is a number-bearing token
/// (date, time, version, URL, price, invoice or room number: look-alikes that must not
/// fire) and every ~4 KiB carries a planted sensitive value (card, SSN, AWS key, IBAN,
/// e-mail, phone number).
fn corpus(size: usize) -> Vec<u8> {
    let words = [
        "the",
        "quarterly",
        "report",
        "shows",
        "revenue",
        "growth",
        "of",
        "percent",
        "in",
        "region",
        "customer",
        "meeting",
        "scheduled",
        "for",
        "and",
        "with",
        "team",
        "project",
        "deadline",
        "review",
        "please",
        "send",
        "update",
        "invoice",
        "account",
        "contact",
        "support",
        "about",
        "service",
        "order",
        "shipped",
        "today",
    ];
    let extras = [
        "on 2024-03-15",
        "at 10:30",
        "version 2.4.1",
        "https://example.com/docs/page",
        "total $1,234.56",
        "ref INV-20240315",
        "room 42",
        "build 20240315.1",
        "id 550e8400-e29b-41d4-a716-446655440000",
    ];
    let planted = [
        "card 4111 1111 1111 1111",
        "SSN 536-22-1234",
        "key AKIAZ3MSJV4WWNKWW5FG",
        "IBAN GB82 WEST 1234 5698 7654 32",
        "mail jane.doe@example.org",
        "call (415) 555-2671",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(size + 64);
    let mut since_plant = 0;
    while out.len() < size {
        let r = next();
        let piece = if r % 23 == 0 {
            extras[(r >> 8) as usize % extras.len()]
        } else {
            words[(r >> 8) as usize % words.len()]
        };
        out.extend_from_slice(piece.as_bytes());
        out.push(if r % 11 == 0 { b'\n' } else { b' ' });
        since_plant += piece.len() + 1;
        if since_plant > 4096 {
            out.extend_from_slice(planted[(r >> 16) as usize % planted.len()].as_bytes());
            out.push(b' ');
            since_plant = 0;
        }
    }
    out.truncate(size);
    out
}

fn bench_engine(c: &mut Criterion) {
    let engine = Engine::with_default_catalog();
    let text = corpus(8 << 20);
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("scan_text_full_catalog_8MiB", |b| {
        b.iter(|| black_box(engine.scan_text(black_box(&text))))
    });
    let prose: Vec<u8> = corpus(8 << 20)
        .into_iter()
        .map(|b| if b.is_ascii_digit() { b'x' } else { b })
        .collect();
    group.bench_function("scan_text_full_catalog_8MiB_no_digits", |b| {
        b.iter(|| black_box(engine.scan_text(black_box(&prose))))
    });
    let every_tier = Engine::builder()
        .min_confidence(Confidence::Low)
        .build()
        .expect("built-in catalog compiles");
    group.bench_function("scan_text_full_catalog_8MiB_low_tier", |b| {
        b.iter(|| black_box(every_tier.scan_text(black_box(&text))))
    });
    group.finish();
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
