//! `casb-dlp`: the DLP engine of the CASB.
//!
//! - [`Engine`]: a catalog of 100+ detectors (PII, financial, health, secrets) plus custom
//!   rules, scanning text in one prefilter pass with verification only near candidates.
//! - [`extract`]: text out of documents and archives, with limits against hostile files.
//! - [`scan`]: the `casb scan` command (recursive, text / JSON lines / SARIF output).
//! - [`policy_file`]: custom rules from a JSON policy file.
//!
//! ```
//! let engine = casb_dlp::Engine::with_default_catalog();
//! let report = engine.scan_bytes("notes.txt", b"SSN: 536-22-1234");
//! assert_eq!(report.findings[0].detector_id, "us_ssn");
//! assert_eq!(report.findings[0].snippet, "***-**-*234"); // never more than a third shown
//! ```

pub mod catalog;
pub mod engine;
mod literal_dfa;
pub mod model;
pub mod util;
pub mod validators;

pub use engine::{CustomKind, CustomRule, Engine, EngineBuilder, ExactData};
pub use model::{Category, Confidence, Finding, ScanReport};
pub mod extract;
pub mod file_scan;
pub mod policy_file;
pub mod scan;
