//! zip (and the zip-based office formats), gzip and tar, read under the limits.

use super::{extract_into, measure, member_path, office, read_up_to, Ctx, Ending};
use std::io::Cursor;

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

fn bomb(ctx: &mut Ctx<'_>, what: &str, format: &str) {
    let ratio = ctx.limits.max_compression_ratio;
    ctx.error(format!(
        "{what}: inflates beyond {ratio}:1 (possible {format} bomb); not extracted"
    ));
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
    let mut sink = ZipSink {
        office_kind: office::classify(&names),
        name,
        display,
        depth,
    };
    let ratio = ctx.limits.max_compression_ratio;
    // Members larger than what is left of the budget wait until every member that fits has
    // been read, then share what is left: a large log must not crowd out the files beside it.
    let mut larger: Vec<(usize, String)> = Vec::new();

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
        if let Some(kind) = sink.office_kind {
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
        if declared > ctx.remaining() {
            larger.push((i, member));
            continue;
        }
        if let Some(data) = read_member(ctx, &mut file, &label, &member) {
            drop(file);
            sink.take(ctx, &member, &data);
        }
    }
    let mut left_out = Vec::new();
    for (i, member) in larger {
        if ctx.timed_out() {
            break;
        }
        if ctx.remaining() == 0 {
            left_out.push(member);
            continue;
        }
        let mut file = match archive.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                ctx.error(format!("{label}!{member}: unreadable: {e}"));
                continue;
            }
        };
        if let Some(data) = read_member(ctx, &mut file, &label, &member) {
            drop(file);
            sink.take(ctx, &member, &data);
        }
    }
    ctx.not_scanned(&label, ("member", "members"), &left_out);
}

/// Inflates one zip member (whose declared ratio was checked) up to the ratio cap and what is
/// left of the budget, and counts it. `None` when it is refused or broken (the reason noted).
fn read_member(
    ctx: &mut Ctx<'_>,
    file: &mut zip::read::ZipFile<'_, Cursor<&[u8]>>,
    label: &str,
    member: &str,
) -> Option<Vec<u8>> {
    let declared = file.size();
    // Declared sizes can lie: the cap also holds for the bytes actually inflated (and the zip
    // crate refuses a member that inflates past its declared size).
    let ratio_cap = file
        .compressed_size()
        .max(1)
        .saturating_mul(ctx.limits.max_compression_ratio);
    let budget = ctx.remaining();
    // The declared size is enforced by the zip crate: it sizes the one allocation.
    let (data, ending) = read_up_to(file, declared.min(ratio_cap).min(budget));
    match ending {
        Ending::Whole => {}
        Ending::Broken(e) => {
            ctx.error(format!("{label}!{member}: corrupt member: {e}"));
            return None;
        }
        // Past the ratio, or past a declared size that fitted (a lying header).
        Ending::Cut if ratio_cap <= budget || declared <= budget => {
            bomb(ctx, &format!("{label}!{member}"), "zip");
            return None;
        }
        // Within the ratio, merely larger than what is left: its first part is scanned.
        Ending::Cut => ctx.partly_scanned(
            &format!("{label}!{member}"),
            data.len() as u64,
            Some(declared),
        ),
    }
    ctx.reserve(data.len() as u64).then_some(data)
}

/// Where the members of one zip go: the text of each part of an office document (named like
/// an archive member, `report.docx!word/document.xml`, so that a finding's line and column
/// point into that part), or extraction of each member.
struct ZipSink<'a> {
    office_kind: Option<office::OfficeKind>,
    name: &'a str,
    display: Option<&'a str>,
    depth: usize,
}

impl ZipSink<'_> {
    fn take(&mut self, ctx: &mut Ctx<'_>, member: &str, data: &[u8]) {
        let path = member_path(self.display, self.name, member);
        match self.office_kind {
            Some(kind) => {
                let text = office::markup_to_text(data, office::dialect_of(kind));
                ctx.push_text(Some(&path), text);
            }
            None => extract_into(ctx, member, Some(&path), data, self.depth + 1),
        }
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
    let budget = ctx.remaining();
    // Decoding from the slice itself: what is left of it afterwards is how much input the
    // decompressed bytes cost, the ratio of the part read.
    let mut decoder = flate2::bufread::MultiGzDecoder::new(bytes);
    let (size, ending) = measure(&mut decoder, ratio_cap.min(budget));
    match ending {
        Ending::Whole => {}
        Ending::Broken(e) => {
            ctx.error(format!("{label}: corrupt gzip stream: {e}"));
            return;
        }
        Ending::Cut => {
            let consumed = (bytes.len() - decoder.get_ref().len()).max(1) as u64;
            // Past the ratio over the whole stream, or over the part read: a gzip has no
            // declared size, and a bomb's first part is filler.
            if ratio_cap <= budget || size / consumed > ratio {
                bomb(ctx, &label, "gzip");
                return;
            }
            ctx.partly_scanned(&label, size, None);
        }
    }
    let (data, _) = read_up_to(&mut flate2::bufread::MultiGzDecoder::new(bytes), size);
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

/// Tar members are scanned in place: the archive is already in memory (and was counted when
/// it was decompressed), so its members cost no budget, and a .tar.gz cut at the limit still
/// has every member before the cut scanned whole.
pub(super) fn tar(
    ctx: &mut Ctx<'_>,
    name: &str,
    display: Option<&str>,
    bytes: &[u8],
    depth: usize,
) {
    let label = display.unwrap_or(name).to_string();
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
        let entry = match entry {
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
        let size = entry.size();
        let start = usize::try_from(entry.raw_file_position())
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start
            .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
            .min(bytes.len());
        let data = &bytes[start..end];
        let cut = (data.len() as u64) < size;
        if cut {
            // A truncated archive, or one cut at the limit by the gzip around it.
            ctx.error(format!(
                "{label}!{member}: the archive ends after {} of its {size} bytes; the rest is not scanned",
                data.len()
            ));
        }
        let path = member_path(display, "", &member);
        extract_into(ctx, &member, Some(&path), data, depth + 1);
        if cut {
            break;
        }
    }
}
