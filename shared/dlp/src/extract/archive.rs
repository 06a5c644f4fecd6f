//! zip (and the zip-based office formats), gzip and tar, read under the limits.

use super::{extract_into, member_path, office, Ctx};
use std::io::{Cursor, Read};

/// Reads at most `cap` bytes; the flag says whether there was more.
fn read_capped(reader: &mut dyn Read, cap: u64) -> std::io::Result<(Vec<u8>, bool)> {
    let mut data = Vec::new();
    reader.take(cap.saturating_add(1)).read_to_end(&mut data)?;
    let exceeded = data.len() as u64 > cap;
    if exceeded {
        data.truncate(cap as usize);
    }
    Ok((data, exceeded))
}

/// A member inflated past its cap: past the compression ratio (a bomb), or past what is left of
/// the file's total budget, whichever cap was the lower.
fn report_inflation_limit(
    ctx: &mut Ctx<'_>,
    what: &str,
    format: &str,
    ratio_cap: u64,
    budget: u64,
) {
    if ratio_cap <= budget {
        let ratio = ctx.limits.max_compression_ratio;
        ctx.error(format!(
            "{what}: inflates beyond {ratio}:1 (possible {format} bomb); not extracted"
        ));
    } else {
        ctx.error(format!(
            "limit: more than {} bytes extracted; the rest is not scanned",
            ctx.limits.max_total_bytes
        ));
    }
}

fn remaining(ctx: &Ctx<'_>) -> u64 {
    ctx.limits.max_total_bytes.saturating_sub(ctx.total_bytes)
}

fn count_entry(ctx: &mut Ctx<'_>, label: &str) -> bool {
    ctx.entries += 1;
    if ctx.entries > ctx.limits.max_entries {
        ctx.error(format!(
            "limit: {label} has more than {} entries; the rest is not scanned",
            ctx.limits.max_entries
        ));
        return false;
    }
    true
}

pub(super) fn zip(
    ctx: &mut Ctx<'_>,
    name: &str,
    display: Option<&str>,
    bytes: &[u8],
    depth: usize,
) {
    let label = display.unwrap_or(name).to_string();
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            ctx.error(format!("{label}: unreadable zip archive: {e}"));
            return;
        }
    };
    let names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect();
    let office_kind = office::classify(&names);
    let mut document_text: Vec<u8> = Vec::new();
    let ratio = ctx.limits.max_compression_ratio;

    for i in 0..archive.len() {
        if ctx.timed_out() || !count_entry(ctx, &label) {
            break;
        }
        let mut file = match archive.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                ctx.error(format!("{label}: member #{i} unreadable: {e}"));
                continue;
            }
        };
        if file.is_dir() {
            continue;
        }
        let member = file
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        if let Some(kind) = office_kind {
            if !office::wants_member(kind, &member) {
                continue;
            }
        }
        let compressed = file.compressed_size().max(1);
        let declared = file.size();
        if declared / compressed > ratio {
            ctx.error(format!(
                "{label}!{member}: compression ratio {}:1 exceeds the {ratio}:1 limit (possible zip bomb); not extracted",
                declared / compressed
            ));
            continue;
        }
        // Declared sizes can lie: the cap also holds for the bytes actually inflated.
        let ratio_cap = compressed.saturating_mul(ratio);
        let budget = remaining(ctx);
        let (data, exceeded) = match read_capped(&mut file, ratio_cap.min(budget)) {
            Ok(r) => r,
            Err(e) => {
                ctx.error(format!("{label}!{member}: corrupt member: {e}"));
                continue;
            }
        };
        if exceeded {
            report_inflation_limit(ctx, &format!("{label}!{member}"), "zip", ratio_cap, budget);
            continue;
        }
        if !ctx.reserve(data.len() as u64) {
            break;
        }
        drop(file);
        match office_kind {
            Some(kind) => {
                let text = office::markup_to_text(&data, office::dialect_of(kind));
                if !text.is_empty() {
                    document_text.extend_from_slice(&text);
                    document_text.push(b'\n');
                }
            }
            None => {
                let path = member_path(display, name, &member);
                extract_into(ctx, &member, Some(&path), &data, depth + 1);
            }
        }
    }
    if office_kind.is_some() {
        ctx.push_text(display, document_text);
    }
}

pub(super) fn gzip(
    ctx: &mut Ctx<'_>,
    name: &str,
    display: Option<&str>,
    bytes: &[u8],
    depth: usize,
) {
    let label = display.unwrap_or(name).to_string();
    let ratio = ctx.limits.max_compression_ratio;
    let ratio_cap = (bytes.len() as u64).saturating_mul(ratio);
    let budget = remaining(ctx);
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    let (data, exceeded) = match read_capped(&mut decoder, ratio_cap.min(budget)) {
        Ok(r) => r,
        Err(e) => {
            ctx.error(format!("{label}: corrupt gzip stream: {e}"));
            return;
        }
    };
    if exceeded {
        report_inflation_limit(ctx, &label, "gzip", ratio_cap, budget);
        return;
    }
    if !ctx.reserve(data.len() as u64) {
        return;
    }
    let lower = name.to_ascii_lowercase();
    let inner = if lower.ends_with(".tgz") {
        format!("{}.tar", &name[..name.len() - 4])
    } else if lower.ends_with(".gz") {
        name[..name.len() - 3].to_string()
    } else {
        name.to_string()
    };
    // The decompressed stream is the same document: keep the outer display name.
    extract_into(ctx, &inner, display, &data, depth + 1);
}

pub(super) fn tar(ctx: &mut Ctx<'_>, display: Option<&str>, bytes: &[u8], depth: usize) {
    let label = display.unwrap_or("tar archive").to_string();
    let mut archive = tar::Archive::new(bytes);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            ctx.error(format!("{label}: unreadable tar archive: {e}"));
            return;
        }
    };
    for entry in entries {
        if ctx.timed_out() || !count_entry(ctx, &label) {
            break;
        }
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                ctx.error(format!("{label}: corrupt tar entry: {e}"));
                break;
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "?".into());
        let budget = remaining(ctx);
        let (data, exceeded) = match read_capped(&mut entry, budget) {
            Ok(r) => r,
            Err(e) => {
                ctx.error(format!("{label}!{member}: corrupt member: {e}"));
                continue;
            }
        };
        if exceeded || !ctx.reserve(data.len() as u64) {
            ctx.error(format!(
                "limit: more than {} bytes extracted; the rest is not scanned",
                ctx.limits.max_total_bytes
            ));
            break;
        }
        let path = member_path(display, "", &member);
        extract_into(ctx, &member, Some(&path), &data, depth + 1);
    }
}
