//! Part 6: DLP on every file, on documents nobody here wrote.
//!
//! Real files from the machine's `/usr/share/doc` (changelogs, READMEs, copyright notices, HTML
//! and PDF manuals, gzip-compressed or not) are uploaded into a watched folder while the
//! integration is connected. The clock runs from the first upload until every file's version
//! has a classification in the store: files and bytes per second through webhook, poll-job,
//! enrichment, download, extraction, scan and store. Then a sample of them is shared by an
//! open link, and the benchmark counts the downloads the simulator serves meanwhile: a version
//! already classified must be judged on its stored classification, not downloaded again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::incidents::PUBLIC_LINK;
use crate::world::{self, TENANT};

#[derive(Debug, Clone)]
pub struct Options {
    pub files: usize,
    pub max_file_bytes: u64,
    pub shares: usize,
    pub source: PathBuf,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub source: String,
    pub files: usize,
    pub bytes: u64,
    pub classified: usize,
    pub seconds: f64,
    pub files_per_second: f64,
    pub megabytes_per_second: f64,
    pub complete_coverage: usize,
    pub partial_coverage: usize,
    pub uninspected: usize,
    /// Files with at least one finding (medium confidence or more), and the detectors most seen.
    pub files_with_findings: usize,
    pub top_detectors: Vec<(String, usize)>,
    /// Downloads the simulator served for the uploads, and for the shares that followed.
    pub downloads_for_uploads: usize,
    pub downloads_for_shares: usize,
    pub shares: usize,
    pub share_incidents: usize,
    pub complete: bool,
}

/// Regular files under `root`, sorted by path (the same set on every run of one machine), at
/// most `max_bytes` each.
fn documents(root: &Path, limit: usize, max_bytes: u64) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() && meta.len() > 0 && meta.len() <= max_bytes {
                found.push(path);
            }
        }
    }
    found.sort();
    // Spread the sample over the whole tree rather than the first packages alphabetically.
    let step = (found.len() / limit.max(1)).max(1);
    found.into_iter().step_by(step).take(limit).collect()
}

pub async fn run(work_dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let paths = documents(&options.source, options.files, options.max_file_bytes);
    anyhow::ensure!(
        !paths.is_empty(),
        "no documents under {}",
        options.source.display()
    );
    let sim = world::start_simulator().await?;
    let world =
        world::start_casb(&sim, &work_dir.join("classify"), Duration::from_secs(60)).await?;
    let admin = sim.admin_user_id();
    let folder = sim
        .create_folder(&admin, "0", "Docs")
        .map_err(world::simulator_error)?;
    world::connect_in_process(&world, "push", &folder).await?;
    let classifications = world.casb.core.backend.classifications.clone();

    let started = Instant::now();
    let mut files = Vec::with_capacity(paths.len());
    let mut bytes = 0u64;
    for (i, path) in paths.iter().enumerate() {
        let content = std::fs::read(path)?;
        bytes += content.len() as u64;
        let name = format!(
            "{i:05}-{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let id = sim
            .upload_file(&admin, &folder, &name, content)
            .map_err(world::simulator_error)?;
        files.push(id);
    }

    // Until every version is classified (or the timeout).
    let key = |id: &String| sim.file(id).map(|f| format!("sha1:{}", f.sha1));
    let mut found = BTreeMap::new();
    let deadline = Instant::now() + options.timeout;
    while found.len() < files.len() && Instant::now() < deadline {
        for id in &files {
            if found.contains_key(id) {
                continue;
            }
            let Some(key) = key(id) else { continue };
            if let Some(c) = classifications.get_classification(TENANT, &key).await? {
                found.insert(id.clone(), c);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let served = |files: &[String]| files.iter().map(|f| sim.downloads_served(f)).sum::<usize>();
    let downloads_for_uploads = served(&files);

    let mut detectors: BTreeMap<String, usize> = BTreeMap::new();
    let mut outcome = Outcome {
        source: options.source.display().to_string(),
        files: files.len(),
        bytes,
        classified: found.len(),
        seconds,
        files_per_second: found.len() as f64 / seconds.max(1e-9),
        megabytes_per_second: bytes as f64 / (1 << 20) as f64 / seconds.max(1e-9),
        downloads_for_uploads,
        ..Outcome::default()
    };
    for classification in found.values() {
        use casb_shared::domain::Coverage;
        match classification.coverage {
            Coverage::Complete => outcome.complete_coverage += 1,
            Coverage::Partial(_) => outcome.partial_coverage += 1,
            Coverage::Uninspected(_) => outcome.uninspected += 1,
        }
        if !classification.detectors.is_empty() {
            outcome.files_with_findings += 1;
        }
        for d in &classification.detectors {
            *detectors.entry(d.detector.clone()).or_default() += 1;
        }
    }
    let mut top: Vec<(String, usize)> = detectors.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(8);
    outcome.top_detectors = top;

    // Share a sample: judged on the stored classifications, no new download.
    let shared: Vec<String> = files.iter().take(options.shares).cloned().collect();
    let reader = world.reader()?;
    for id in &shared {
        sim.share_file(None, id, "open")
            .map_err(world::simulator_error)?;
    }
    let deadline = Instant::now() + options.timeout;
    loop {
        let incidents = reader.incidents(TENANT).await?;
        outcome.share_incidents = incidents
            .iter()
            .filter(|i| i.policy_id == PUBLIC_LINK)
            .count();
        if outcome.share_incidents >= shared.len() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outcome.shares = shared.len();
    outcome.downloads_for_shares = served(&files) - downloads_for_uploads;
    outcome.complete = outcome.classified == outcome.files
        && outcome.share_incidents >= outcome.shares
        && outcome.downloads_for_shares == 0;
    world.stop().await;
    sim.shutdown().await;
    Ok(outcome)
}
