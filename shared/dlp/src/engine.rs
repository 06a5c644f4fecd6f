//! The scanning engine: one pass over the text finds every place where any detector can
//! match, then each detector's regex and validator run only in small windows there.
//!
//! Pass 1 (prefilter), over the whole text once:
//! - one Aho-Corasick DFA holds every literal trigger (`AKIA`, `ghp_`, `@`, `password`,
//!   ...) and context keyword, cut to [`LITERAL_PREFIX`] bytes, in a table of its own
//!   ([`crate::literal_dfa`]) built for the walk over every byte;
//! - a bitmap of the digits groups them into clusters (digits at most [`CLUSTER_GAP`]
//!   apart), and a multi-pattern lazy DFA over each cluster tells which digit-based
//!   detectors can match there.
//!
//! Pass 2 (verification), only around candidates: the detector's regex over the merged
//! windows, then the validator, placeholder/entropy checks, context keywords within
//! [`CONTEXT_RADIUS`] bytes for the confidence, and overlap resolution between detectors.

use crate::catalog::{self, Spec, Trigger, CONTEXT_RADIUS};
use crate::literal_dfa::LiteralDfa;
use crate::model::{Category, Confidence, Finding};
use crate::util::mask;
use crate::validators;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::{util::syntax, Input};
use regex_syntax::hir::Hir;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Read;

/// Digits at most this many bytes apart belong to one candidate cluster
/// (`GB82 WEST 1234` has a gap of 6).
const CLUSTER_GAP: usize = 8;
/// Clusters are cut at this size (with overlap) so that a file of digits stays linear.
const MAX_CLUSTER: usize = 2048;
/// Bytes after a digit cluster in which a digit-triggered value may end (`AB123456C`).
const DIGIT_REACH_AFTER: usize = 16;
/// Lazy-DFA cache of the digit-detector set, per thread.
const DIGIT_SET_CACHE: usize = 48 << 20;
/// Trigger literals and context keywords are matched on at most this many leading bytes,
/// and checked whole on a hit. Long enough that a phrase is not a hit at every common word
/// it starts with (`account number` at every `account`: two fifths of the hits on
/// business prose, at six bytes), short enough that the ~1000 literals fit the table
/// (~4800 of its 8192 states).
const LITERAL_PREFIX: usize = 10;
/// Streaming: bytes per chunk, and bytes shared by consecutive chunks. The overlap is
/// larger than the longest match (a PEM key, 8 KiB) plus the context radius.
pub const STREAM_CHUNK: usize = 1 << 20;
pub const STREAM_OVERLAP: usize = 16 << 10;

/// Words that, right before a number, mark it as something else (order, invoice and part
/// numbers, versions, device serials): such a number is reported at low confidence only.
const NEGATIVE_CONTEXT: &[&[u8]] = &[
    b"version",
    b"ver.",
    b"order",
    b"invoice",
    b"imei",
    b"tracking",
    b"isbn",
    b"build",
    b"serial",
    b"sku",
    b"ticket",
    b"ref",
    b"po #",
    b"po#",
    b"uuid",
    b"sha",
    b"md5",
    b"commit",
    b"release",
    b"v.",
    b"part ",
    b"part#",
    b"part:",
    b"p/n",
    b"item",
    b"model",
    b"product",
    b"catalog",
    b"confirmation",
    b"booking",
    b"shipment",
    b"reservation",
    b"section",
    b"chapter",
    b"objectidentifier",
    b"oid",
    b"rfc",
    b"\xc2\xa7",
];

/// Compiles a detector pattern the way the engine runs it: bytes, ASCII classes.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(Regex::config().utf8_empty(false))
        .build(pattern)
        .map_err(|e| e.to_string())
}

fn build_keyword_automaton(words: &[String]) -> Result<Option<AhoCorasick>, String> {
    if words.is_empty() {
        return Ok(None);
    }
    // Leftmost-longest: `bank` must not hide `bankverbindung`, whose end is a word end.
    // Lower-cased and matched case-sensitively in lower-cased text (see `context_near`):
    // with case-sensitive patterns the crate finds candidates with a vectorized prefilter
    // instead of walking its automaton over every byte.
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build(words.iter().map(|w| w.to_ascii_lowercase()))
        .map(Some)
        .map_err(|e| e.to_string())
}

/// A keyword counts only at the start of a word (`sin` must not fire inside `using`), and
/// short keywords must also end one (`aba` inside `abandon`).
fn at_word_boundary(text: &[u8], start: usize, end: usize, keyword_len: usize) -> bool {
    let before_ok = start == 0 || !text.get(start - 1).is_some_and(u8::is_ascii_alphanumeric);
    let after_ok = keyword_len > 4 || !text.get(end).is_some_and(u8::is_ascii_alphanumeric);
    before_ok && after_ok
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TriggerKind {
    Digits(u8),
    Literal,
    HexColons,
    Everywhere,
}

/// Exact-data match: values are compared by salted SHA-256, never kept in clear.
#[derive(Debug, Clone)]
pub struct ExactData {
    pub salt: String,
    pub hashes: HashSet<[u8; 32]>,
    pub case_sensitive: bool,
}

impl ExactData {
    /// The digest a value is stored under: `sha256(salt || normalized value)`, where
    /// normalisation trims and, unless case-sensitive, lower-cases ASCII.
    pub fn digest(salt: &str, value: &[u8], case_sensitive: bool) -> [u8; 32] {
        let trimmed = value.trim_ascii();
        let mut hasher = Sha256::new();
        hasher.update(salt.as_bytes());
        if case_sensitive {
            hasher.update(trimmed);
        } else {
            hasher.update(trimmed.to_ascii_lowercase());
        }
        hasher.finalize().into()
    }

    fn contains(&self, value: &[u8]) -> bool {
        self.hashes
            .contains(&Self::digest(&self.salt, value, self.case_sensitive))
    }
}

/// A user-defined rule (from the policy file). See [`crate::policy_file`].
#[derive(Debug, Clone)]
pub struct CustomRule {
    pub id: String,
    pub category: Category,
    pub kind: CustomKind,
    /// Supporting words within [`CONTEXT_RADIUS`] bytes.
    pub context: Vec<String>,
    /// Confidence without context; `None` = only reported with a context word near.
    pub base: Option<Confidence>,
    pub boosted: Confidence,
}

#[derive(Debug, Clone)]
pub enum CustomKind {
    /// A regex; capture group 1 (if any) is the value. With `anchors`, only verified near
    /// those words (fast); without, run over the whole text.
    Regex {
        pattern: String,
        anchors: Vec<String>,
    },
    /// Keyword lists and dictionaries of exact terms, any size (one Aho-Corasick automaton).
    Terms {
        terms: Vec<String>,
        case_sensitive: bool,
        whole_word: bool,
    },
    /// Values of the given shape whose salted SHA-256 is in the list.
    ExactData { pattern: String, data: ExactData },
}

/// A detector's regex, compiled on first use: most of the catalog never gets a candidate in
/// a given text, and compiling ~500 patterns up front would cost every start (a Lambda cold
/// start, every `casb scan`) a tenth of a second.
struct LazyRegex {
    pattern: String,
    /// The regex, and whether the pattern is `\b(...)\b` with one group: then the whole
    /// match is the value and the cheaper match-only search is enough. `None` if the pattern
    /// does not compile (the catalog's are all tested; custom rules are compiled up front).
    compiled: std::sync::OnceLock<Option<(Regex, bool)>>,
}

impl LazyRegex {
    fn new(pattern: &str) -> LazyRegex {
        LazyRegex {
            pattern: pattern.to_string(),
            compiled: std::sync::OnceLock::new(),
        }
    }

    fn compiled(&self, regex: Regex) -> LazyRegex {
        let whole = is_whole_match(&self.pattern, &regex);
        LazyRegex {
            pattern: self.pattern.clone(),
            compiled: std::sync::OnceLock::from(Some((regex, whole))),
        }
    }

    fn get(&self) -> Option<&(Regex, bool)> {
        self.compiled
            .get_or_init(|| {
                let regex = compile_pattern(&self.pattern).ok()?;
                let whole = is_whole_match(&self.pattern, &regex);
                Some((regex, whole))
            })
            .as_ref()
    }
}

/// A detector's supporting keywords, their automaton built on first use like the
/// [`LazyRegex`]: building ~500 of them up front took a third of the engine's start.
struct Keywords {
    words: Vec<String>,
    automaton: std::sync::OnceLock<Option<AhoCorasick>>,
}

impl Keywords {
    /// `None` without keywords.
    fn new(words: Vec<String>) -> Option<Keywords> {
        (!words.is_empty()).then(|| Keywords {
            words,
            automaton: std::sync::OnceLock::new(),
        })
    }

    /// Built now, so that a custom rule's error is reported when the policy is loaded.
    fn built(words: &[String]) -> Result<Option<Keywords>, String> {
        Ok(build_keyword_automaton(words)?.map(|automaton| Keywords {
            words: words.to_vec(),
            automaton: std::sync::OnceLock::from(Some(automaton)),
        }))
    }

    fn automaton(&self) -> Option<&AhoCorasick> {
        self.automaton
            .get_or_init(|| build_keyword_automaton(&self.words).ok().flatten())
            .as_ref()
    }
}

struct Detector {
    id: String,
    category: Category,
    regex: LazyRegex,
    validate: Option<fn(&[u8]) -> bool>,
    refine: Option<crate::catalog::Refine>,
    after_trigger: Option<fn(&[u8]) -> bool>,
    /// Digit triggers: bytes after the cluster in which the value may end.
    digit_reach_after: usize,
    context: Option<Keywords>,
    /// Context keyword hits come from the main pass (see the builder) instead of `context`.
    context_in_main_pass: bool,
    base: Option<Confidence>,
    boosted: Confidence,
    /// The value usually is something else: low confidence without a keyword.
    demote: Option<fn(&[u8]) -> bool>,
    secret: bool,
    min_entropy: f32,
    reach: usize,
    reach_back: usize,
    bare_needs_context: bool,
    trigger: TriggerKind,
    exact_data: Option<ExactData>,
}

struct TermSet {
    id: String,
    category: Category,
    automaton: AhoCorasick,
    whole_word: bool,
    context: Option<AhoCorasick>,
    base: Option<Confidence>,
    boosted: Confidence,
}

/// What one pattern of the literal automaton (a lower-cased prefix) stands for.
struct LiteralUse {
    /// Detectors triggered here, each with its full literal and whether it is matched
    /// case-sensitively (lower-cased if not): the automaton knows only the first
    /// [`LITERAL_PREFIX`] bytes, case-insensitively, so `account number` must not open a
    /// window at every `account`, nor `AKIA` at every `akia`.
    uses: Vec<(usize, Vec<u8>, bool)>,
    /// Detectors for which a keyword starting with this literal is a supporting (context)
    /// keyword, each with the whole keyword (lower-cased).
    context_of: Vec<(usize, Vec<u8>)>,
}

/// Builds an [`Engine`]: the built-in catalog (all or some detectors), custom rules, and
/// the lowest confidence that is reported.
#[derive(Default)]
pub struct EngineBuilder {
    disabled: HashSet<String>,
    only: Option<HashSet<String>>,
    custom: Vec<CustomRule>,
    min_confidence: Option<Confidence>,
}

impl EngineBuilder {
    /// Drops these built-in detectors.
    pub fn disable<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.disabled.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Keeps only these built-in detectors.
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.only = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    pub fn custom_rules(mut self, rules: Vec<CustomRule>) -> Self {
        self.custom.extend(rules);
        self
    }

    pub fn min_confidence(mut self, c: Confidence) -> Self {
        self.min_confidence = Some(c);
        self
    }

    pub fn build(self) -> Result<Engine, String> {
        let min_confidence = self.min_confidence.unwrap_or(Confidence::Medium);
        let specs: Vec<Spec> = catalog::builtin()
            .into_iter()
            .filter(|s| !self.disabled.contains(s.id))
            .filter(|s| self.only.as_ref().is_none_or(|o| o.contains(s.id)))
            .collect();
        let mut engine = Engine {
            detectors: Vec::new(),
            literal_automaton: None,
            literal_walk: None,
            ascii_literals: Vec::new(),
            non_ascii_automaton: None,
            non_ascii_literals: Vec::new(),
            literals: Vec::new(),
            digit_detectors: Vec::new(),
            needs_keyword: Vec::new(),
            digits_alone: None,
            digits_with_keyword: None,
            hex_colon_detectors: Vec::new(),
            everywhere: Vec::new(),
            term_sets: Vec::new(),
            min_confidence,
        };
        // One automaton pattern per lower-cased prefix, whatever uses it: a prefix shared by
        // a trigger and two keywords (`accoun`) is reported once, not three times.
        let mut literal_index: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut add_literal =
            |literal: &str, case_sensitive: bool, det: usize, literals: &mut Vec<LiteralUse>| {
                let full = if case_sensitive {
                    literal.as_bytes().to_vec()
                } else {
                    literal.to_ascii_lowercase().into_bytes()
                };
                let prefix = full[..full.len().min(LITERAL_PREFIX)].to_ascii_lowercase();
                let idx = *literal_index.entry(prefix.clone()).or_insert_with(|| {
                    patterns.push(prefix);
                    literals.push(LiteralUse {
                        uses: Vec::new(),
                        context_of: Vec::new(),
                    });
                    literals.len() - 1
                });
                let lit = &mut literals[idx];
                if !lit.uses.iter().any(|(d, f, _)| *d == det && *f == full) {
                    lit.uses.push((det, full, case_sensitive));
                }
            };

        // Context keywords go into the same automaton (whole words, not cut to a prefix),
        // so one pass over the text finds triggers and supporting words together.
        let mut context_words: Vec<(Vec<u8>, usize)> = Vec::new();

        for spec in &specs {
            let det = engine.detectors.len();
            let context: Vec<String> = spec.context.iter().map(|s| s.to_string()).collect();
            // Only detectors that need a keyword to be reported at this threshold take theirs
            // from the main pass (their candidates are frequent, e.g. any 9-digit number);
            // the others look around each match, which is rare, and keep common words out of
            // the automaton.
            let context_in_main_pass = spec.base < min_confidence || spec.bare_needs_context;
            if context_in_main_pass {
                context_words.extend(
                    context
                        .iter()
                        .map(|w| (w.to_ascii_lowercase().into_bytes(), det)),
                );
            }
            let trigger = match spec.trigger {
                Trigger::Digits(n) => TriggerKind::Digits(n),
                Trigger::Prefixes(list) => {
                    for p in list {
                        add_literal(p, true, det, &mut engine.literals);
                    }
                    TriggerKind::Literal
                }
                Trigger::Keywords(list) => {
                    for k in list {
                        add_literal(k, false, det, &mut engine.literals);
                    }
                    TriggerKind::Literal
                }
                Trigger::HexColons => TriggerKind::HexColons,
            };
            match trigger {
                TriggerKind::Digits(_) => engine.digit_detectors.push(det),
                TriggerKind::HexColons => engine.hex_colon_detectors.push(det),
                _ => {}
            }
            engine.detectors.push(Detector {
                id: spec.id.to_string(),
                category: spec.category,
                regex: LazyRegex::new(spec.pattern),
                validate: spec.validate,
                refine: spec.refine,
                after_trigger: spec.after_trigger,
                digit_reach_after: match spec.digit_set_pattern {
                    Some(_) => usize::from(spec.reach),
                    None => DIGIT_REACH_AFTER,
                },
                context: Keywords::new(context),
                context_in_main_pass,
                base: Some(spec.base),
                demote: spec.demote,
                boosted: spec.boosted,
                secret: spec.secret,
                min_entropy: spec.min_entropy,
                reach: usize::from(spec.reach),
                reach_back: usize::from(spec.reach_back),
                bare_needs_context: spec.bare_needs_context,
                trigger,
                exact_data: None,
            });
        }

        for rule in self.custom {
            if !matches!(rule.kind, CustomKind::Terms { .. }) {
                let det = engine.detectors.len();
                context_words.extend(
                    rule.context
                        .iter()
                        .map(|w| (w.to_ascii_lowercase().into_bytes(), det)),
                );
            }
            let (pattern, anchors, exact_data) = match rule.kind {
                CustomKind::Terms {
                    terms,
                    case_sensitive,
                    whole_word,
                } => {
                    let automaton = AhoCorasickBuilder::new()
                        .ascii_case_insensitive(!case_sensitive)
                        .match_kind(MatchKind::LeftmostLongest)
                        .build(terms.iter().filter(|t| !t.is_empty()))
                        .map_err(|e| format!("{}: {e}", rule.id))?;
                    engine.term_sets.push(TermSet {
                        id: rule.id,
                        category: rule.category,
                        automaton,
                        whole_word,
                        context: build_keyword_automaton(&rule.context)?,
                        base: rule.base,
                        boosted: rule.boosted,
                    });
                    continue;
                }
                CustomKind::Regex { pattern, anchors } => (pattern, anchors, None),
                CustomKind::ExactData { pattern, data } => (pattern, Vec::new(), Some(data)),
            };
            let det = engine.detectors.len();
            let regex = compile_pattern(&pattern).map_err(|e| format!("{}: {e}", rule.id))?;
            let trigger = if anchors.is_empty() {
                engine.everywhere.push(det);
                TriggerKind::Everywhere
            } else {
                for a in &anchors {
                    add_literal(a, false, det, &mut engine.literals);
                }
                TriggerKind::Literal
            };
            engine.detectors.push(Detector {
                id: rule.id,
                category: rule.category,
                regex: LazyRegex::new(&pattern).compiled(regex),
                validate: None,
                refine: None,
                after_trigger: None,
                digit_reach_after: DIGIT_REACH_AFTER,
                context: Keywords::built(&rule.context)?,
                context_in_main_pass: true,
                base: rule.base,
                demote: None,
                boosted: rule.boosted,
                secret: false,
                min_entropy: 0.0,
                reach: 256,
                reach_back: 256,
                bare_needs_context: false,
                trigger,
                exact_data,
            });
        }

        engine.needs_keyword = engine
            .detectors
            .iter()
            .map(|d| {
                d.base.is_none_or(|b| b < min_confidence)
                    && d.context.is_some()
                    && d.context_in_main_pass
            })
            .collect();
        for (word, det) in context_words {
            if word.is_empty() {
                continue;
            }
            // Cut to a prefix like the triggers (and checked whole on a hit): hundreds of
            // keywords in a dozen languages would otherwise grow the automaton past its table.
            let prefix = word[..word.len().min(LITERAL_PREFIX)].to_vec();
            let idx = *literal_index.entry(prefix.clone()).or_insert_with(|| {
                patterns.push(prefix);
                engine.literals.push(LiteralUse {
                    uses: Vec::new(),
                    context_of: Vec::new(),
                });
                engine.literals.len() - 1
            });
            let lit = &mut engine.literals[idx];
            if !lit.context_of.iter().any(|(d, w)| *d == det && *w == word) {
                lit.context_of.push((det, word));
            }
        }
        if !engine.digit_detectors.is_empty() {
            // Two sets. A detector reported at this threshold only next to a keyword gets no
            // window without one: its pattern goes in the second set, run only where such a
            // keyword is near, and widened by `any_digit`, which keeps the set's states few.
            // The others go in the first, run on every cluster worth it, exactly, or every
            // look-alike of their shape would open windows (at `low`, where no detector
            // needs a keyword, that doubled the scan's time).
            let syntax_config = syntax::Config::new().unicode(false).utf8(false);
            let (mut alone, mut with_keyword) =
                (DigitSetBuilder::default(), DigitSetBuilder::default());
            for (det, spec) in specs.iter().enumerate() {
                if !matches!(spec.trigger, Trigger::Digits(_)) {
                    continue;
                }
                let pattern = spec.digit_set_pattern.unwrap_or(spec.pattern);
                let hir = syntax::parse_with(pattern, &syntax_config)
                    .map_err(|e| format!("{}: {e}", spec.id))?;
                if engine.needs_keyword[det] {
                    with_keyword.add(any_digit(hir), det);
                } else {
                    alone.add(hir, det);
                }
            }
            engine.digits_alone = alone.build()?;
            engine.digits_with_keyword = with_keyword.build()?;
        }
        // Literals with bytes beyond ASCII (keywords in Korean, Greek, Cyrillic, or with
        // accents) get an automaton of their own, run only on text that is not pure ASCII:
        // their bytes would double the main automaton's byte classes, and with them its size
        // and the cache misses of every walk over English text.
        let (ascii, other): (Vec<usize>, Vec<usize>) =
            (0..patterns.len()).partition(|&i| patterns[i].is_ascii());
        if !ascii.is_empty() {
            let ascii_patterns: Vec<&[u8]> =
                ascii.iter().map(|&i| patterns[i].as_slice()).collect();
            engine.literal_walk = LiteralDfa::new(&ascii_patterns);
            if engine.literal_walk.is_none() {
                engine.literal_automaton = Some(
                    aho_corasick::dfa::Builder::new()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::Standard)
                        .start_kind(aho_corasick::StartKind::Unanchored)
                        .prefilter(false)
                        .build(&ascii_patterns)
                        .map_err(|e| e.to_string())?,
                );
            }
            engine.ascii_literals = ascii;
        }
        if !other.is_empty() {
            engine.non_ascii_automaton = Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .build(other.iter().map(|&i| &patterns[i]))
                    .map_err(|e| e.to_string())?,
            );
            engine.non_ascii_literals = other;
        }
        Ok(engine)
    }
}

/// The DLP engine. Build it once ([`Engine::with_default_catalog`] or [`Engine::builder`])
/// and share it: it is `Send + Sync` and scanning takes `&self`.
pub struct Engine {
    detectors: Vec<Detector>,
    /// The ASCII literals' automaton: this project's table when they fit it...
    literal_walk: Option<LiteralDfa>,
    /// ...and the `aho-corasick` crate's DFA when they do not.
    literal_automaton: Option<aho_corasick::dfa::DFA>,
    /// `literals` index of each pattern of those automata...
    ascii_literals: Vec<usize>,
    /// ...and of the literals that are not pure ASCII, in an automaton of their own.
    non_ascii_automaton: Option<AhoCorasick>,
    non_ascii_literals: Vec<usize>,
    literals: Vec<LiteralUse>,
    digit_detectors: Vec<usize>,
    /// Per detector: reported at this threshold only next to a keyword that the main pass
    /// finds, so a candidate with no keyword in reach is not worth a window.
    needs_keyword: Vec<bool>,
    /// The digit-triggered patterns of detectors reported without a keyword...
    digits_alone: Option<DigitSet>,
    /// ...and of those that need one, run only where one of their keywords is near.
    digits_with_keyword: Option<DigitSet>,
    hex_colon_detectors: Vec<usize>,
    everywhere: Vec<usize>,
    term_sets: Vec<TermSet>,
    min_confidence: Confidence,
}

/// Metadata of a detector, for listings (`casb scan --list-detectors`) and docs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DetectorInfo {
    pub id: String,
    pub category: Category,
}

impl Engine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The whole built-in catalog at the default threshold, medium confidence: what the
    /// inspector and `casb scan` report unless told otherwise.
    pub fn with_default_catalog() -> Engine {
        // The catalog's patterns are compiled by a unit test, so this cannot fail.
        Engine::builder()
            .build()
            .expect("built-in catalog compiles")
    }

    pub fn detectors(&self) -> Vec<DetectorInfo> {
        self.detectors
            .iter()
            .map(|d| DetectorInfo {
                id: d.id.clone(),
                category: d.category,
            })
            .chain(self.term_sets.iter().map(|t| DetectorInfo {
                id: t.id.clone(),
                category: t.category,
            }))
            .collect()
    }

    pub fn min_confidence(&self) -> Confidence {
        self.min_confidence
    }

    /// Scans text held in memory. Offsets in the findings are into `text`.
    pub fn scan_text(&self, text: &[u8]) -> Vec<Finding> {
        let len = text.len();
        let mut windows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.detectors.len()];
        let mut context_hits: Vec<Vec<usize>> = vec![Vec::new(); self.detectors.len()];

        {
            let mut on_literal = |literal: usize, start: usize, end: usize| {
                let Some(lit) = self.literals.get(literal) else {
                    return;
                };
                let _ = end;
                let mut last_det = usize::MAX;
                for (det, full, case_sensitive) in &lit.uses {
                    let det = *det;
                    if det == last_det {
                        continue;
                    }
                    let Some(found) = text.get(start..start + full.len()) else {
                        continue;
                    };
                    // A short keyword is a word of its own (`bic`, not the end of `ARABIC`).
                    let same = if *case_sensitive {
                        found == full.as_slice()
                    } else {
                        found.eq_ignore_ascii_case(full)
                            && (full.len() > 4
                                || at_word_boundary(text, start, start + full.len(), full.len()))
                    };
                    let d = &self.detectors[det];
                    let after = text.get(start + full.len()..).unwrap_or_default();
                    if !same || d.after_trigger.is_some_and(|follows| !follows(after)) {
                        continue;
                    }
                    last_det = det;
                    windows[det].push((
                        start.saturating_sub(d.reach_back),
                        (start + full.len() + d.reach).min(len),
                    ));
                }
                for (det, word) in &lit.context_of {
                    let word_end = start + word.len();
                    if text
                        .get(start..word_end)
                        .is_some_and(|found| found.eq_ignore_ascii_case(word))
                        && at_word_boundary(text, start, word_end, word.len())
                    {
                        context_hits[*det].push(start);
                    }
                }
            };
            for (pattern, start, end) in literal_matches(
                self.literal_walk.as_ref(),
                self.literal_automaton.as_ref(),
                text,
            ) {
                on_literal(self.ascii_literals[pattern], start, end);
            }
            if let Some(ac) = &self.non_ascii_automaton {
                if !text.is_ascii() {
                    for m in ac.find_overlapping_iter(text) {
                        let literal = self.non_ascii_literals[m.pattern().as_usize()];
                        on_literal(literal, m.start(), m.end());
                    }
                }
            }
        }

        for hits in context_hits.iter_mut() {
            hits.sort_unstable();
        }
        let has_digit_sets = self.digits_alone.is_some() || self.digits_with_keyword.is_some();
        if has_digit_sets || !self.hex_colon_detectors.is_empty() {
            // Where a keyword of any detector that needs one was found: the second digit set
            // runs only near one. Prose is full of numbers shaped like some country's
            // identifier, and without a keyword in reach none of them can be reported.
            let mut any_keyword: Vec<usize> = Vec::new();
            if self.digits_with_keyword.is_some() {
                for &det in &self.digit_detectors {
                    if self.needs_keyword[det] {
                        any_keyword.extend_from_slice(&context_hits[det]);
                    }
                }
                any_keyword.sort_unstable();
                any_keyword.dedup();
            }
            let mut alone_matches = self.digits_alone.as_ref().map(DigitSet::matches);
            let mut keyword_matches = self.digits_with_keyword.as_ref().map(DigitSet::matches);
            for_each_digit_cluster(text, |start, end, digit_count| {
                // IPv6 addresses: a run of digits with colons in or right around it. (An
                // address made only of the letters a-f is missed; a search of its own for
                // every colon costs a twentieth of the whole scan.)
                if !self.hex_colon_detectors.is_empty() && colons_around(text, start, end) >= 2 {
                    for &det in &self.hex_colon_detectors {
                        let d = &self.detectors[det];
                        windows[det]
                            .push((start.saturating_sub(d.reach_back), (end + d.reach).min(len)));
                    }
                }
                if !has_digit_sets || !worth_checking(text, start, end, digit_count) {
                    return;
                }
                let mut open = |det: usize| {
                    let d = &self.detectors[det];
                    if let TriggerKind::Digits(min) = d.trigger {
                        if digit_count >= usize::from(min)
                            && (!self.needs_keyword[det]
                                || ContextHits(&context_hits[det]).near(start, end))
                        {
                            windows[det].push((
                                start.saturating_sub(d.reach_back),
                                (end + d.digit_reach_after).min(len),
                            ));
                        }
                    }
                };
                if let (Some(set), Some(which)) = (&self.digits_alone, &mut alone_matches) {
                    set.for_each_detector(text, start, end, which, &mut open);
                }
                if let (Some(set), Some(which)) = (&self.digits_with_keyword, &mut keyword_matches)
                {
                    if ContextHits(&any_keyword).near(start, end) {
                        set.for_each_detector(text, start, end, which, &mut open);
                    }
                }
            });
        }
        for &det in &self.everywhere {
            windows[det].push((0, len));
        }

        let mut findings: Vec<Candidate> = Vec::new();
        for (det, wins) in windows.into_iter().enumerate() {
            if wins.is_empty() {
                continue;
            }
            let context = ContextHits(&context_hits[det]);
            for (s, e) in merge_windows(wins) {
                self.verify_window(det, text, s, e, &context, &mut findings);
            }
        }

        for (set_index, set) in self.term_sets.iter().enumerate() {
            for m in set.automaton.find_iter(text) {
                if set.whole_word && !is_isolated_word(text, m.start(), m.end()) {
                    continue;
                }
                let keyword_distance = set
                    .context
                    .as_ref()
                    .and_then(|ac| context_near(ac, text, m.start(), m.end()));
                let has_ctx = keyword_distance.is_some();
                let Some(conf) = (if has_ctx { Some(set.boosted) } else { set.base }) else {
                    continue;
                };
                if conf < self.min_confidence {
                    continue;
                }
                findings.push(Candidate {
                    finding: Finding {
                        detector_id: set.id.clone(),
                        category: set.category,
                        confidence: conf,
                        start: m.start(),
                        end: m.end(),
                        snippet: mask(&text[m.start()..m.end()], false, &set.id),
                        line: 0,
                        column: 0,
                        part: None,
                    },
                    keyword_distance: keyword_distance.unwrap_or(usize::MAX),
                    priority: self.detectors.len() + set_index,
                });
            }
        }

        let mut found = resolve_overlaps(findings);
        locate(text, &mut found);
        found
    }

    fn verify_window(
        &self,
        det: usize,
        text: &[u8],
        ws: usize,
        we: usize,
        context: &ContextHits<'_>,
        out: &mut Vec<Candidate>,
    ) {
        let d = &self.detectors[det];
        if self.needs_keyword[det] && !context.near(ws, we) {
            // Reported at this threshold only with a keyword: look for one before running
            // the regex.
            return;
        }
        let Some((regex, whole_match)) = d.regex.get() else {
            return;
        };
        let input = Input::new(text).range(ws..we);
        let spans: Vec<regex_automata::Span> = if *whole_match {
            regex.find_iter(input).map(|m| m.span()).collect()
        } else {
            regex
                .captures_iter(input)
                .filter_map(|caps| caps.get_group(1).or_else(|| caps.get_group(0)))
                .collect()
        };
        for span in spans {
            let (start, mut end) = (span.start, span.end);
            if let Some(refine) = d.refine {
                match refine(&text[start..end]) {
                    Some(l) => end = start + l,
                    None => continue,
                }
            }
            let value = &text[start..end];
            if matches!(d.trigger, TriggerKind::Digits(_)) && !is_isolated_number(text, start, end)
            {
                continue;
            }
            if let Some(validate) = d.validate {
                if !validate(value) {
                    continue;
                }
            }
            if d.secret {
                if validators::is_placeholder(value) {
                    continue;
                }
                if (validators::shannon_entropy(value) as f32) < d.min_entropy {
                    continue;
                }
            }
            if let Some(edm) = &d.exact_data {
                if !edm.contains(value) {
                    continue;
                }
            }
            let keyword_distance = if d.context_in_main_pass {
                context.nearest(text, start, end)
            } else {
                d.context
                    .as_ref()
                    .and_then(Keywords::automaton)
                    .and_then(|ac| context_near(ac, text, start, end))
            };
            let has_ctx = keyword_distance.is_some();
            let Some(mut confidence) = (if has_ctx { Some(d.boosted) } else { d.base }) else {
                continue;
            };
            let bare = value.iter().all(u8::is_ascii_alphanumeric);
            if !has_ctx
                && ((d.bare_needs_context && bare) || d.demote.is_some_and(|looks| looks(value)))
            {
                confidence = Confidence::Low;
            }
            // "part 123456789", "IMEI: 35...", "version 1.2.3.4": the word right before a
            // number says what it is, whatever supporting words are further away.
            if matches!(d.trigger, TriggerKind::Digits(_))
                && (negative_context_before(text, start)
                    || in_a_column_of_versions(text, start, end)
                    || in_a_list_of_versions(text, start, end))
            {
                confidence = Confidence::Low;
            }
            if confidence < self.min_confidence {
                continue;
            }
            out.push(Candidate {
                finding: Finding {
                    detector_id: d.id.clone(),
                    category: d.category,
                    confidence,
                    start,
                    end,
                    snippet: mask(value, d.secret, &d.id),
                    line: 0,
                    column: 0,
                    part: None,
                },
                keyword_distance: keyword_distance.unwrap_or(usize::MAX),
                priority: det,
            });
        }
    }

    /// Scans a stream with bounded memory: chunks of [`STREAM_CHUNK`] bytes that overlap
    /// by [`STREAM_OVERLAP`]. Offsets are into the whole stream. Returns the bytes read.
    pub fn scan_reader<R: Read>(
        &self,
        mut reader: R,
        mut on_finding: impl FnMut(Finding),
    ) -> std::io::Result<u64> {
        // Allocated (and zeroed) once: growing it before each read zeroed a mebibyte per
        // chunk, a pass over the whole stream for nothing.
        let mut buf: Vec<u8> = vec![0; STREAM_CHUNK + STREAM_OVERLAP];
        let mut filled = 0; // bytes of `buf` holding the stream
        let mut buf_offset: u64 = 0; // stream offset of buf[0]
        let mut reported_until: u64 = 0; // findings starting before this were reported
        let mut total: u64 = 0;
        // Lines before buf[0], and characters on its line before buf[0]: positions in `buf`
        // become positions in the stream.
        let mut lines_before: usize = 0;
        let mut columns_before: usize = 0;
        loop {
            // Fill up to a full chunk.
            let mut eof = false;
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        filled += n;
                        total += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let text = &buf[..filled];
            let emit_limit = if eof {
                buf_offset + filled as u64
            } else {
                buf_offset + (filled - STREAM_OVERLAP) as u64
            };
            for mut f in self.scan_text(text) {
                let start = buf_offset + f.start as u64;
                if start >= reported_until && start < emit_limit {
                    f.start = start as usize;
                    f.end = (buf_offset + f.end as u64) as usize;
                    if f.line == 1 {
                        f.column += columns_before;
                    }
                    f.line += lines_before;
                    on_finding(f);
                }
            }
            if eof {
                return Ok(total);
            }
            reported_until = emit_limit;
            let keep_from = filled - STREAM_OVERLAP;
            let dropped = &text[..keep_from];
            match memchr::memrchr(b'\n', dropped) {
                Some(last) => {
                    lines_before += memchr::memchr_iter(b'\n', dropped).count();
                    columns_before = characters(&dropped[last + 1..]);
                }
                None => columns_before += characters(dropped),
            }
            buf.copy_within(keep_from..filled, 0);
            filled = STREAM_OVERLAP;
            buf_offset += keep_from as u64;
        }
    }
}

/// Characters (Unicode code points) in UTF-8 `bytes`: every byte that does not continue one.
fn characters(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// Sets each finding's 1-based line and column (in characters) in `text`, walking the
/// findings in order: lines are counted only up to each finding (a vectorised count), and a
/// finding on the line of the previous one counts characters from there, so a single long
/// line with many findings stays linear.
fn locate(text: &[u8], findings: &mut [Finding]) {
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by_key(|&i| findings[i].start);
    let (mut counted_to, mut line) = (0usize, 1usize);
    // Offset and column of the previous finding.
    let (mut prev_at, mut prev_column) = (0usize, 1usize);
    for i in order {
        let f = &mut findings[i];
        let start = f.start.min(text.len());
        let newlines = memchr::memchr_iter(b'\n', &text[counted_to..start]).count();
        line += newlines;
        f.column = if newlines == 0 && counted_to > 0 {
            prev_column + characters(&text[prev_at..start])
        } else {
            let line_start = memchr::memrchr(b'\n', &text[..start]).map_or(0, |n| n + 1);
            characters(&text[line_start..start]) + 1
        };
        f.line = line;
        counted_to = start;
        (prev_at, prev_column) = (start, f.column);
    }
}

fn is_whole_match(pattern: &str, regex: &Regex) -> bool {
    // Group 0 is the whole match; exactly one explicit group, opened right after the
    // leading `\b` and closed right before the trailing one.
    let groups = regex
        .group_info()
        .group_len(regex_automata::PatternID::ZERO);
    if groups != 2 || !pattern.starts_with(r"\b(") || !pattern.ends_with(r")\b") {
        return false;
    }
    let bytes = pattern.as_bytes();
    let (mut depth, mut i, mut in_class) = (0usize, 2usize, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => depth += 1,
            b')' if !in_class => {
                depth -= 1;
                if depth == 0 {
                    return i == bytes.len() - 3;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Every (overlapping) literal match as `(pattern, start, end)`, in no particular order.
///
/// Collected apart from their handling so that the walk below is compiled on its own: inlined
/// into the scan, its four lanes' states were kept on the stack instead of in registers.
#[inline(never)]
fn literal_matches(
    walk: Option<&LiteralDfa>,
    dfa: Option<&aho_corasick::dfa::DFA>,
    text: &[u8],
) -> Vec<(usize, usize, usize)> {
    let mut found = Vec::new();
    let mut on_match = |pattern, start, end| found.push((pattern, start, end));
    match (walk, dfa) {
        (Some(walk), _) => walk.for_each_match(text, &mut on_match),
        (None, Some(dfa)) => for_each_literal(dfa, text, on_match),
        (None, None) => {}
    }
    found
}

/// Every (overlapping) literal match of the `aho-corasick` crate's DFA, handed to
/// `on_match(pattern, start, end)`: the walk for literals too many for [`LiteralDfa`].
///
/// A DFA walk is bound by the latency of its table lookups, one after the other. Four
/// walks over four slices of the text, advanced in lockstep, overlap those latencies and
/// run several times faster on one core. Slice `k` reports the matches that *end* in it
/// and starts `max_pattern_len - 1` bytes early, so no match is lost or reported twice.
fn for_each_literal(
    dfa: &aho_corasick::dfa::DFA,
    text: &[u8],
    mut on_match: impl FnMut(usize, usize, usize),
) {
    use aho_corasick::automaton::Automaton;
    use aho_corasick::Anchored;
    const LANES: usize = 4;
    let Ok(start_state) = dfa.start_state(Anchored::No) else {
        return;
    };
    let n = text.len();
    let lead = dfa.max_pattern_len().saturating_sub(1);
    let lanes = if n >= 4096 { LANES } else { 1 };
    let seg = n / lanes;
    let mut pos = [0usize; LANES];
    let mut report_from = [0usize; LANES];
    let mut stop = [0usize; LANES];
    let mut state = [start_state; LANES];
    for k in 0..lanes {
        report_from[k] = k * seg;
        pos[k] = report_from[k].saturating_sub(lead);
        stop[k] = if k + 1 == lanes { n } else { (k + 1) * seg };
    }
    let report = |sid, end: usize, from: usize, on_match: &mut dyn FnMut(usize, usize, usize)| {
        if end <= from && from != 0 {
            return;
        }
        for i in 0..dfa.match_len(sid) {
            let pid = dfa.match_pattern(sid, i);
            let len = dfa.pattern_len(pid);
            on_match(pid.as_usize(), end - len, end);
        }
    };
    // Lockstep while every lane has bytes left; the longest lane is finished alone.
    let common = (0..lanes).map(|k| stop[k] - pos[k]).min().unwrap_or(0);
    if lanes == LANES {
        let (t0, t1, t2, t3) = (
            &text[pos[0]..pos[0] + common],
            &text[pos[1]..pos[1] + common],
            &text[pos[2]..pos[2] + common],
            &text[pos[3]..pos[3] + common],
        );
        let (mut s0, mut s1, mut s2, mut s3) = (state[0], state[1], state[2], state[3]);
        for i in 0..common {
            s0 = dfa.next_state(Anchored::No, s0, t0[i]);
            s1 = dfa.next_state(Anchored::No, s1, t1[i]);
            s2 = dfa.next_state(Anchored::No, s2, t2[i]);
            s3 = dfa.next_state(Anchored::No, s3, t3[i]);
            if dfa.is_special(s0) | dfa.is_special(s1) | dfa.is_special(s2) | dfa.is_special(s3) {
                for (k, sid) in [s0, s1, s2, s3].into_iter().enumerate() {
                    if dfa.is_match(sid) {
                        report(sid, pos[k] + i + 1, report_from[k], &mut on_match);
                    }
                }
            }
        }
        state = [s0, s1, s2, s3];
        for p in pos.iter_mut() {
            *p += common;
        }
    }
    for k in 0..lanes {
        while pos[k] < stop[k] {
            let sid = dfa.next_state(Anchored::No, state[k], text[pos[k]]);
            state[k] = sid;
            pos[k] += 1;
            if dfa.is_special(sid) && dfa.is_match(sid) {
                report(sid, pos[k], report_from[k], &mut on_match);
            }
        }
    }
}

/// Where the ASCII digits of a text are: one bit per byte, 64 bytes a word. Computed in one
/// pass that the compiler turns into vector compares (`b - '0' < 10` per byte, packed into
/// a mask), it replaces a search for the next digit and a byte-by-byte walk through each
/// cluster: prose has a cluster every hundred-odd bytes.
struct DigitBits {
    words: Vec<u64>,
    len: usize,
}

impl DigitBits {
    fn new(text: &[u8]) -> DigitBits {
        let mut words = Vec::with_capacity(text.len() / 64 + 1);
        let mut blocks = text.chunks_exact(64);
        for block in &mut blocks {
            words.push(digit_mask(block));
        }
        words.push(digit_mask(blocks.remainder()));
        DigitBits {
            words,
            len: text.len(),
        }
    }

    /// The first digit at or after `from`.
    fn next(&self, from: usize) -> Option<usize> {
        let mut word = from / 64;
        let mut bits = self.words.get(word)? & (u64::MAX << (from % 64));
        while bits == 0 {
            word += 1;
            bits = *self.words.get(word)?;
        }
        Some(word * 64 + bits.trailing_zeros() as usize)
    }

    /// Bit `i` set where a digit is among the [`CLUSTER_GAP`] bytes before byte
    /// `64 * word + i`.
    fn digit_in_the_gap_before(&self, word: usize) -> u64 {
        let here = self.words.get(word).copied().unwrap_or(0);
        let before = match word.checked_sub(1) {
            Some(w) => self.words.get(w).copied().unwrap_or(0),
            None => 0,
        };
        (1..=CLUSTER_GAP).fold(0, |bits, k| bits | here << k | before >> (64 - k))
    }

    /// The digits from the one at `start`, each at most [`CLUSTER_GAP`] bytes after the one
    /// before, and fewer than `max_len` bytes from `start`: `(last digit, how many)`.
    /// A word at a time: the run ends at the first byte with no digit in the gap before it.
    fn run_from(&self, start: usize, max_len: usize) -> (usize, usize) {
        let mut word = (start + 1) / 64;
        let mut ends = !self.digit_in_the_gap_before(word) & (u64::MAX << ((start + 1) % 64));
        while ends == 0 && word + 1 < self.words.len() {
            word += 1;
            ends = !self.digit_in_the_gap_before(word);
        }
        let end = match ends {
            0 => self.words.len() * 64,
            _ => word * 64 + ends.trailing_zeros() as usize,
        }
        .min(start + max_len);
        // The digits in start..end.
        let (mut last, mut count) = (start, 0);
        for word in start / 64..=(end - 1) / 64 {
            let mut bits = self.words.get(word).copied().unwrap_or(0);
            if word == start / 64 {
                bits &= u64::MAX << (start % 64);
            }
            if word == (end - 1) / 64 {
                bits &= u64::MAX >> (63 - (end - 1) % 64);
            }
            if bits != 0 {
                count += bits.count_ones() as usize;
                last = word * 64 + 63 - bits.leading_zeros() as usize;
            }
        }
        (last, count)
    }
}

/// Bit `i` set where `block[i]` is an ASCII digit (`block` holds at most 64 bytes).
///
/// Written so that the compiler vectorizes it: one flag byte per byte (`b - '0' < 10`,
/// sixteen bytes per compare), then a multiplication gathers each eight flags into eight
/// bits: flag `j` (bit `8j`) times the byte of `GATHER` that puts it at bit `56 + j`, where
/// no other product lands. (A loop setting one bit per byte is not vectorized, and ran ten
/// times slower.)
fn digit_mask(block: &[u8]) -> u64 {
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let mut flags = [0u8; 64];
    for (flag, b) in flags.iter_mut().zip(block) {
        *flag = u8::from(b.wrapping_sub(b'0') < 10);
    }
    let mut mask = 0u64;
    for (k, eight) in flags.chunks_exact(8).enumerate() {
        let eight = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
        mask |= (eight.wrapping_mul(GATHER) >> 56) << (8 * k);
    }
    mask
}

/// Groups digits into clusters and calls `f(start, end, digit_count)` for each.
fn for_each_digit_cluster(text: &[u8], mut f: impl FnMut(usize, usize, usize)) {
    let digits = DigitBits::new(text);
    let mut from = 0;
    while let Some(start) = digits.next(from) {
        let (last_digit, count) = digits.run_from(start, MAX_CLUSTER);
        f(start, last_digit + 1, count);
        let stopped_at = (last_digit + CLUSTER_GAP + 1)
            .min(digits.len)
            .min(start + MAX_CLUSTER);
        from = if stopped_at - start >= MAX_CLUSTER {
            // Re-scan an overlap so a value spanning the cut is seen whole next time.
            last_digit.saturating_sub(64).max(start + 1)
        } else {
            last_digit + 1
        };
    }
}

/// Colons in a digit cluster and the eight bytes on either side (`fe80::1`, `::ffff:8.8.4.4`).
fn colons_around(text: &[u8], start: usize, end: usize) -> usize {
    let span = &text[start.saturating_sub(8)..(end + 8).min(text.len())];
    span.iter().filter(|&&b| b == b':').count()
}

/// Short digit runs (years, times, prices, "room 42") can only be part of a detected
/// value when letters (IBAN, VIN, ICD-10, PAN, ...), dots (IPv4) or colons (MAC) are
/// involved; skipping the rest keeps prose with many small numbers fast.
fn worth_checking(text: &[u8], start: usize, end: usize, digit_count: usize) -> bool {
    const SHORT: usize = 6;
    if digit_count >= SHORT {
        return true;
    }
    let cluster = &text[start..end];
    let count = |c: u8| cluster.iter().filter(|&&b| b == c).count();
    if count(b'.') >= 3 || count(b':') >= 2 {
        return true;
    }
    let around = &text[start.saturating_sub(12)..(end + 12).min(text.len())];
    around.iter().any(u8::is_ascii_uppercase)
}

fn merge_windows(mut wins: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    wins.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(wins.len());
    for (s, e) in wins {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Digit-triggered patterns in one automaton: one pass over a cluster tells which
/// detectors can match there at all.
struct DigitSet {
    set: Regex,
    /// Bytes before and after a cluster that the set reads: as far as its patterns' matches
    /// can run before their first digit or after their last (an Italian fiscal code's six
    /// letters; `AB 12 34 56 C`), computed from the patterns ([`DigitFree`]). The set runs on
    /// most clusters and reads every byte of its window, so every byte counts.
    reach_back: usize,
    reach_after: usize,
    /// The detectors behind each pattern.
    detectors: Vec<Vec<usize>>,
}

impl DigitSet {
    fn matches(&self) -> regex_automata::PatternSet {
        regex_automata::PatternSet::new(self.set.pattern_len())
    }

    /// Calls `open(detector)` for every detector whose pattern matches around the cluster
    /// `start..end`; `which` is scratch space from [`DigitSet::matches`].
    fn for_each_detector(
        &self,
        text: &[u8],
        start: usize,
        end: usize,
        which: &mut regex_automata::PatternSet,
        mut open: impl FnMut(usize),
    ) {
        // Clearing and iterating a set walks all of its slots: do it only when something
        // matched, and stop after the last match.
        if !which.is_empty() {
            which.clear();
        }
        let window =
            start.saturating_sub(self.reach_back)..(end + self.reach_after).min(text.len());
        self.set
            .which_overlapping_matches(&Input::new(text).range(window), which);
        for pattern in which.iter().take(which.len()) {
            for &det in &self.detectors[pattern.as_usize()] {
                open(det);
            }
        }
    }
}

/// Many identifiers share a shape (`\b(\d{9})\b` is a dozen countries' numbers): each
/// distinct pattern goes in the set once and names every detector behind it.
#[derive(Default)]
struct DigitSetBuilder {
    shapes: Vec<(String, Hir)>,
    detectors: Vec<Vec<usize>>,
    reach_back: usize,
    reach_after: usize,
}

impl DigitSetBuilder {
    fn add(&mut self, shape: Hir, det: usize) {
        // Past these caps the set only sees part of a value (bitcoin addresses get a set
        // pattern of their own for that).
        let reach = DigitFree::of(&shape);
        self.reach_back = self.reach_back.max(reach.lead.min(32));
        self.reach_after = self.reach_after.max(reach.trail.min(DIGIT_REACH_AFTER));
        let key = shape.to_string();
        let slot = match self.shapes.iter().position(|(k, _)| *k == key) {
            Some(slot) => slot,
            None => {
                self.shapes.push((key, shape));
                self.detectors.push(Vec::new());
                self.shapes.len() - 1
            }
        };
        self.detectors[slot].push(det);
    }

    fn build(self) -> Result<Option<DigitSet>, String> {
        if self.shapes.is_empty() {
            return Ok(None);
        }
        let shapes: Vec<Hir> = self.shapes.into_iter().map(|(_, shape)| shape).collect();
        Ok(Some(DigitSet {
            set: compile_digit_set(&shapes)?,
            reach_back: self.reach_back,
            reach_after: self.reach_after,
            detectors: self.detectors,
        }))
    }
}

/// The automaton that tells which digit-triggered patterns can match around a cluster.
///
/// It runs on every cluster of digits in the text, so it has to be fast, and it only has to
/// say where each detector's own regex is worth running. Patterns widened by [`any_digit`]
/// read every digit as any digit (`9\d{2}` as `\d{3}`, `(?:19|20)\d{2}` as `\d{4}`), which
/// puts all ten digits in one byte class where only they are concerned, so the states follow
/// the shape of a number more than its value, and stay in the cache.
fn compile_digit_set(shapes: &[Hir]) -> Result<Regex, String> {
    Regex::builder()
        // A big lazy-DFA cache: with ~150 patterns in overlapping mode the default (2 MiB)
        // is cleared so often that determinization dominates.
        .configure(
            Regex::config()
                .utf8_empty(false)
                .match_kind(regex_automata::MatchKind::All)
                .hybrid_cache_capacity(DIGIT_SET_CACHE),
        )
        .build_many_from_hir(shapes)
        .map_err(|e| e.to_string())
}

/// `hir` with every digit it matches widened to any digit. Everything else is unchanged, so
/// the result matches wherever `hir` does.
fn any_digit(hir: Hir) -> Hir {
    use regex_syntax::hir::{Capture, Class, ClassBytes, ClassBytesRange, HirKind, Repetition};
    let digits = ClassBytes::new([ClassBytesRange::new(b'0', b'9')]);
    let widen = |mut class: ClassBytes| {
        if class
            .ranges()
            .iter()
            .any(|r| r.start() <= b'9' && r.end() >= b'0')
        {
            class.union(&digits);
        }
        class
    };
    match hir.into_kind() {
        HirKind::Literal(literal) => Hir::concat(
            literal
                .0
                .iter()
                .map(|&b| {
                    if b.is_ascii_digit() {
                        Hir::class(Class::Bytes(digits.clone()))
                    } else {
                        Hir::literal([b])
                    }
                })
                .collect(),
        ),
        HirKind::Class(Class::Bytes(class)) => Hir::class(Class::Bytes(widen(class))),
        HirKind::Class(Class::Unicode(class)) => match class.to_byte_class() {
            Some(bytes) => Hir::class(Class::Bytes(widen(bytes))),
            None => Hir::class(Class::Unicode(class)),
        },
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(any_digit(*rep.sub)),
            ..rep
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            sub: Box::new(any_digit(*cap.sub)),
            ..cap
        }),
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(any_digit).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.into_iter().map(any_digit).collect()),
        HirKind::Empty => Hir::empty(),
        HirKind::Look(look) => Hir::look(look),
    }
}

/// How far a pattern's matches run without a digit: from their start to their first digit
/// (`lead`), from their last digit to their end (`trail`), and whole (`whole`: `None` when
/// every match holds a digit). Lengths in bytes; `usize::MAX` stands for unbounded.
#[derive(Clone, Copy, Debug, PartialEq)]
struct DigitFree {
    whole: Option<usize>,
    lead: usize,
    trail: usize,
}

impl DigitFree {
    const EMPTY: DigitFree = DigitFree {
        whole: Some(0),
        lead: 0,
        trail: 0,
    };
    /// A byte of a class that holds only digits.
    const DIGIT: DigitFree = DigitFree {
        whole: None,
        lead: 0,
        trail: 0,
    };

    fn other(width: usize) -> DigitFree {
        DigitFree {
            whole: Some(width),
            lead: width,
            trail: width,
        }
    }

    fn of(hir: &Hir) -> DigitFree {
        use regex_syntax::hir::{Class, HirKind};
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => DigitFree::EMPTY,
            HirKind::Literal(literal) => {
                let bytes = &literal.0;
                match (
                    bytes.iter().position(u8::is_ascii_digit),
                    bytes.iter().rposition(u8::is_ascii_digit),
                ) {
                    (Some(first), Some(last)) => DigitFree {
                        whole: None,
                        lead: first,
                        trail: bytes.len() - 1 - last,
                    },
                    _ => DigitFree::other(bytes.len()),
                }
            }
            HirKind::Class(Class::Bytes(class)) => {
                if class
                    .ranges()
                    .iter()
                    .all(|r| r.start() >= b'0' && r.end() <= b'9')
                {
                    DigitFree::DIGIT
                } else {
                    DigitFree::other(1)
                }
            }
            // Patterns are parsed without Unicode; a character is up to four bytes.
            HirKind::Class(Class::Unicode(_)) => DigitFree::other(4),
            HirKind::Capture(capture) => DigitFree::of(&capture.sub),
            HirKind::Repetition(repetition) => {
                let most = repetition.max.map_or(usize::MAX, |m| m as usize);
                if most == 0 {
                    return DigitFree::EMPTY;
                }
                let one = DigitFree::of(&repetition.sub);
                // Copies before the last (or after the first) add their whole length when
                // they can hold no digit.
                let more = |run: usize| match one.whole {
                    Some(whole) => run.saturating_add(whole.saturating_mul(most - 1)),
                    None => run,
                };
                DigitFree {
                    whole: match one.whole {
                        Some(whole) => Some(whole.saturating_mul(most)),
                        None => (repetition.min == 0).then_some(0),
                    },
                    lead: more(one.lead),
                    trail: more(one.trail),
                }
            }
            HirKind::Concat(subs) => {
                subs.iter()
                    .map(DigitFree::of)
                    .fold(DigitFree::EMPTY, |first, then| DigitFree {
                        whole: first
                            .whole
                            .zip(then.whole)
                            .map(|(a, b)| a.saturating_add(b)),
                        lead: first
                            .lead
                            .max(first.whole.map_or(0, |w| w.saturating_add(then.lead))),
                        trail: then
                            .trail
                            .max(then.whole.map_or(0, |w| w.saturating_add(first.trail))),
                    })
            }
            HirKind::Alternation(subs) => {
                subs.iter()
                    .map(DigitFree::of)
                    .fold(DigitFree::DIGIT, |a, b| DigitFree {
                        whole: a.whole.max(b.whole),
                        lead: a.lead.max(b.lead),
                        trail: a.trail.max(b.trail),
                    })
            }
        }
    }
}

/// Where one detector's context keywords occur in the text (sorted start offsets).
struct ContextHits<'a>(&'a [usize]);

impl ContextHits<'_> {
    /// A keyword within [`CONTEXT_RADIUS`] bytes of `start..end` (a cheap first test: the
    /// sentence is checked per match).
    fn near(&self, start: usize, end: usize) -> bool {
        let lo = start.saturating_sub(CONTEXT_RADIUS);
        let first = self.0.partition_point(|&h| h < lo);
        self.0.get(first).is_some_and(|&h| h < end + CONTEXT_RADIUS)
    }

    /// Distance in bytes to the closest keyword within the radius and the same sentence.
    fn nearest(&self, text: &[u8], start: usize, end: usize) -> Option<usize> {
        let lo = start.saturating_sub(CONTEXT_RADIUS);
        let hi = end + CONTEXT_RADIUS;
        let first = self.0.partition_point(|&h| h < lo);
        let in_reach = self.0[first..].iter().copied().take_while(|&h| h < hi);
        closest_in_the_same_sentence(text, in_reach, start, end)
    }
}

/// Distance in bytes from `start..end` to the closest of `keywords` (their starts, in
/// ascending order) in the same sentence. Only the closest keyword on each side needs its
/// sentence checked: a sentence end between the value and a keyword is also between the
/// value and every keyword further out on that side.
fn closest_in_the_same_sentence(
    text: &[u8],
    keywords: impl Iterator<Item = usize>,
    start: usize,
    end: usize,
) -> Option<usize> {
    let (mut before, mut after) = (None, None);
    for at in keywords {
        if at < start {
            before = Some(at);
        } else {
            after = Some(at);
            break;
        }
    }
    [before, after]
        .into_iter()
        .flatten()
        .filter(|&at| same_sentence(text, at, start, end))
        .map(|at| distance(at, start, end))
        .min()
}

/// Whether a keyword at `keyword_at` and the value at `start..end` are in one sentence, line
/// or cell: no sentence ends between them. "Send the SSN to HR. Part 123456789 shipped."
/// says nothing about the part number. A sentence ends at `.`, `!` or `?` followed by a space
/// and a capital letter (not after an abbreviation such as `No.` or `Dr.`), or at a blank
/// line. Table rows stay together: a header keyword covers the values under it.
fn same_sentence(text: &[u8], keyword_at: usize, start: usize, end: usize) -> bool {
    let (from, to) = if keyword_at < start {
        (keyword_at, start)
    } else if keyword_at < end {
        return true; // the keyword is part of the value (`db` in `db-Zx8pLm29Qa`)
    } else {
        (end, keyword_at.min(text.len()))
    };
    let between = &text[from..to];
    !between.iter().enumerate().any(|(i, &b)| match b {
        b'.' | b'!' | b'?' => ends_sentence(between, i),
        b'\n' => blank_line_follows(&between[i + 1..]),
        _ => false,
    })
}

fn ends_sentence(text: &[u8], at: usize) -> bool {
    let rest = &text[at + 1..];
    let spaces = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
    if spaces == 0 || !rest.get(spaces).is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let word_len = text[..at]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let word = text[at - word_len..at].to_ascii_lowercase();
    const ABBREVIATIONS: &[&[u8]] = &[
        b"no", b"nr", b"nos", b"num", b"tel", b"ext", b"etc", b"inc", b"ltd", b"dr", b"mr", b"mrs",
        b"ms", b"st", b"vs", b"dept", b"acct", b"approx", b"co", b"corp", b"jr", b"sr", b"pass",
        b"ref", b"id",
    ];
    word_len >= 2 && !ABBREVIATIONS.contains(&word.as_slice())
}

fn blank_line_follows(rest: &[u8]) -> bool {
    let blank = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t' || b == b'\r')
        .count();
    rest.get(blank) == Some(&b'\n')
}

fn distance(keyword_at: usize, start: usize, end: usize) -> usize {
    if keyword_at < start {
        start - keyword_at
    } else {
        keyword_at.saturating_sub(end)
    }
}

/// Distance to the closest context keyword within [`CONTEXT_RADIUS`] bytes, if any.
fn context_near(ac: &AhoCorasick, text: &[u8], start: usize, end: usize) -> Option<usize> {
    let lo = start.saturating_sub(CONTEXT_RADIUS);
    let hi = (end + CONTEXT_RADIUS).min(text.len());
    // The keywords are lower-cased: so is a copy of the text around the value. Non-overlapping
    // search keeps the automaton's prefilter (memchr/Teddy) in play.
    let around = text[lo..hi].to_ascii_lowercase();
    let keywords = ac
        .find_iter(&around)
        .filter(|m| at_word_boundary(text, lo + m.start(), lo + m.end(), m.end() - m.start()))
        .map(|m| lo + m.start());
    closest_in_the_same_sentence(text, keywords, start, end)
}

/// A finding before overlap resolution, with what ranks it against its rivals.
struct Candidate {
    finding: Finding,
    /// Bytes to the closest supporting keyword (`usize::MAX` without one).
    keyword_distance: usize,
    /// Catalog position: earlier wins a full tie.
    priority: usize,
}

fn negative_context_before(text: &[u8], start: usize) -> bool {
    static WORDS: std::sync::LazyLock<AhoCorasick> = std::sync::LazyLock::new(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(NEGATIVE_CONTEXT)
            .expect("static word list")
    });
    let lo = start.saturating_sub(24);
    WORDS.find_overlapping_iter(&text[lo..start]).any(|m| {
        let p = lo + m.start();
        p == 0 || !text[p - 1].is_ascii_alphanumeric()
    }) || names_an_object_identifier(text, start)
}

/// The value is a whole cell of a table (tab- or comma-separated) whose cells in the same
/// column on the lines above and below are version numbers no address can be (`2.4.0`,
/// `1.0rc1`): a package list's `10.13.0.35` is a version, not an IPv4 address. (Both, so that
/// a key-value list with a version above an address does not count.)
fn in_a_column_of_versions(text: &[u8], start: usize, end: usize) -> bool {
    // Lines longer than this are not table rows worth reading cell by cell.
    const ROW: usize = 4096;
    let line_start = |at: usize| {
        let from = at.saturating_sub(ROW);
        memchr::memrchr(b'\n', &text[from..at]).map(|i| from + i + 1)
    };
    let line_end = |at: usize| {
        let to = (at + ROW).min(text.len());
        memchr::memchr(b'\n', &text[at..to])
            .map_or((to == text.len()).then_some(to), |i| Some(at + i))
    };
    let Some(row_start) = line_start(start).or((start < ROW).then_some(0)) else {
        return false;
    };
    let Some(row_end) = line_end(end) else {
        return false;
    };
    let row = &text[row_start..row_end];
    let Some(separator) = [b'\t', b','].into_iter().find(|s| row.contains(s)) else {
        return false;
    };
    let is_edge = |b: Option<&u8>| b.is_none_or(|&b| b == separator || b == b'\r');
    if !is_edge(
        start
            .checked_sub(1)
            .filter(|&i| i >= row_start)
            .map(|i| &text[i]),
    ) || !is_edge(text.get(end).filter(|_| end < row_end))
    {
        return false;
    }
    let column = text[row_start..start]
        .iter()
        .filter(|&&b| b == separator)
        .count();
    fn cell_in(line: &[u8], separator: u8, column: usize) -> Option<&[u8]> {
        line.split(|&b| b == separator)
            .nth(column)
            .map(|cell| cell.strip_suffix(b"\r").unwrap_or(cell))
    }
    let above = row_start.checked_sub(1).and_then(|newline| {
        line_start(newline)
            .or((newline < ROW).then_some(0))
            .map(|s| &text[s..newline])
    });
    let below = (row_end < text.len())
        .then(|| line_end(row_end + 1).map(|e| &text[row_end + 1..e]))
        .flatten();
    let neighbours: Vec<&[u8]> = [above, below]
        .into_iter()
        .flatten()
        .filter_map(|line| cell_in(line, separator, column))
        .collect();
    !neighbours.is_empty() && neighbours.into_iter().all(is_version_but_no_address)
}

/// A dotted number among other dotted numbers separated by spaces, one of which at least is
/// a version that no address can be (`3.7.402 3.7.501.1 4.0.3.3`, the versions of a package
/// in a list): it is a version too.
fn in_a_list_of_versions(text: &[u8], start: usize, end: usize) -> bool {
    // Neighbours read on each side: enough to reach past a run of four-part versions.
    const NEIGHBOURS: usize = 12;
    const TOKEN: usize = 32;
    if !is_dotted_number(&text[start..end]) {
        return false;
    }
    // Tokens in the run, and whether one of them is a version that no address can be.
    let (mut tokens, mut any_version) = (1, false);
    let mut admit = |token: &[u8]| {
        let in_run = is_dotted_number(token);
        if in_run {
            tokens += 1;
            any_version |= is_version_but_no_address(token);
        }
        in_run
    };
    // Leftwards: each neighbour ends one space before the current token starts.
    let mut at = start;
    for _ in 0..NEIGHBOURS {
        if at < 2 || text[at - 1] != b' ' {
            break;
        }
        let token_end = at - 1;
        let token_start = text[token_end.saturating_sub(TOKEN)..token_end]
            .iter()
            .rposition(|b| b.is_ascii_whitespace())
            .map_or(token_end.saturating_sub(TOKEN), |i| {
                token_end.saturating_sub(TOKEN) + i + 1
            });
        if !admit(&text[token_start..token_end]) {
            break;
        }
        at = token_start;
    }
    // Rightwards.
    let mut at = end;
    for _ in 0..NEIGHBOURS {
        if text.get(at) != Some(&b' ') {
            break;
        }
        let token_start = at + 1;
        let rest = &text[token_start..(token_start + TOKEN).min(text.len())];
        let token_end = token_start
            + rest
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(rest.len());
        if !admit(&text[token_start..token_end]) {
            break;
        }
        at = token_end;
    }
    tokens >= 3 && any_version
}

/// `2.4`, `10.13.0rc1`, `2.0.0-beta`: a digit first, a dot, and nothing but letters, digits,
/// dots, `-` and `+`.
fn is_dotted_number(token: &[u8]) -> bool {
    token.first().is_some_and(u8::is_ascii_digit)
        && token.contains(&b'.')
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
}

/// `2.4.0`, `1.0`, `3.1.0rc1`, `2.0.0-beta`: digits first, dotted parts, and either not four
/// parts or a part no IPv4 address has.
fn is_version_but_no_address(cell: &[u8]) -> bool {
    let parts: Vec<&[u8]> = cell.split(|&b| b == b'.').collect();
    let well_formed = is_dotted_number(cell) && parts.iter().all(|p| !p.is_empty());
    let address_like = parts.len() == 4 && parts.iter().all(|p| validators::is_decimal_octet(p));
    // `868.850.2465`: a North American phone number written with dots, not a version. A
    // column of them would otherwise lower the phone numbers written other ways between them.
    let phone_like = parts.iter().map(|p| p.len()).eq([3, 3, 4])
        && parts.iter().all(|p| p.iter().all(u8::is_ascii_digit));
    well_formed && !address_like && !phone_like
}

/// The line before `start` (up to 160 bytes) says that what follows is an object identifier (`2.5.4.3`, an
/// X.500 attribute, reads as an IPv4 address): `OID` in capitals not ending a longer
/// capitalised word (`szOID_COMMON_NAME`, not `VOID`), or `oid` or `ObjectIdentifier` as a
/// word in any case.
fn names_an_object_identifier(text: &[u8], start: usize) -> bool {
    // At most this far back: a file of one long line must not make each number reread it.
    const REACH: usize = 160;
    let from = start.saturating_sub(REACH);
    let line_start = memchr::memrchr(b'\n', &text[from..start]).map_or(from, |i| from + i + 1);
    let line = &text[line_start..start];
    let word_edge = |at: Option<&u8>| at.is_none_or(|c| !c.is_ascii_alphabetic());
    let capital_oid = memchr::memmem::find_iter(line, b"OID")
        .any(|at| at == 0 || !line[at - 1].is_ascii_uppercase());
    capital_oid
        || line
            .windows(16)
            .any(|w| w.eq_ignore_ascii_case(b"objectidentifier"))
        || line.windows(3).enumerate().any(|(at, w)| {
            w.eq_ignore_ascii_case(b"oid")
                && word_edge(at.checked_sub(1).map(|i| &line[i]))
                && word_edge(line.get(at + 3))
        })
}

/// A number stands alone: not glued to letters, and not one piece of a longer dotted,
/// dashed or slashed number (`1.2.3.4.5`, `123-45-6789-01`, a UUID segment).
fn is_isolated_number(text: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).and_then(|i| text.get(i)).copied();
    let before2 = start.checked_sub(2).and_then(|i| text.get(i)).copied();
    let after = text.get(end).copied();
    let after2 = text.get(end + 1).copied();
    let glued = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
    let joiner = |c: Option<u8>| c.is_some_and(|c| matches!(c, b'-' | b'.' | b'/' | b':' | b'_'));
    let digit_or_letter = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if glued(before) || glued(after) {
        return false;
    }
    // A minus sign right before the digits makes a negative number (`{-5 -232 545 699}`, a
    // font's bounding box), not an identifier; `ID-232545699` is handled below.
    if before == Some(b'-') && !digit_or_letter(before2) {
        return false;
    }
    if joiner(before) && digit_or_letter(before2) {
        return false;
    }
    if joiner(after) && digit_or_letter(after2) {
        return false;
    }
    // A value written in space-separated groups does not stop in the middle of a longer
    // run of such groups (`4692 6709 6564` inside `4692 6709 6564 8340`, or four groups of
    // digits inside a list of hexadecimal code points: `527D 5282 5281 5290 5293 52A0`).
    let Some(value) = text.get(start..end).filter(|v| v.contains(&b' ')) else {
        return true;
    };
    let digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    if (before == Some(b' ') && digit(before2)) || (after == Some(b' ') && digit(after2)) {
        return false;
    }
    let first_group = value.iter().take_while(|&&b| b != b' ').count();
    let last_group = value.iter().rev().take_while(|&&b| b != b' ').count();
    // A group of `len` hexadecimal characters, at least one a digit, at `from..from + len`
    // and standing alone there.
    let hex_group_at = |from: usize, len: usize| {
        let alone = |at: Option<usize>| {
            at.and_then(|i| text.get(i))
                .is_none_or(|b| !b.is_ascii_alphanumeric())
        };
        text.get(from..from + len).is_some_and(|group| {
            group.iter().all(u8::is_ascii_hexdigit) && group.iter().any(u8::is_ascii_digit)
        }) && alone(from.checked_sub(1))
            && alone(Some(from + len))
    };
    let run_before = before == Some(b' ')
        && (start - 1)
            .checked_sub(first_group)
            .is_some_and(|from| hex_group_at(from, first_group));
    let run_after = after == Some(b' ') && hex_group_at(end + 1, last_group);
    !(run_before || run_after)
}

fn is_isolated_word(text: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).and_then(|i| text.get(i));
    let after = text.get(end);
    !before.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !after.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Keeps one finding per overlapping group: highest confidence, then longest, then the
/// detector listed first in the catalog.
/// Keeps one finding per overlapping group: highest confidence, then the closest
/// supporting keyword (a number next to "Passport No:" is a passport number even when
/// "SSN" appears further away), then the longest, then the detector listed first.
fn resolve_overlaps(mut candidates: Vec<Candidate>) -> Vec<Finding> {
    candidates.sort_by(|a, b| {
        a.finding
            .start
            .cmp(&b.finding.start)
            .then(b.finding.end.cmp(&a.finding.end))
    });
    candidates.dedup_by(|a, b| {
        a.finding.start == b.finding.start
            && a.finding.end == b.finding.end
            && a.priority == b.priority
    });
    let rank = |c: &Candidate| {
        (
            c.finding.confidence,
            std::cmp::Reverse(c.keyword_distance),
            c.finding.end - c.finding.start,
            std::cmp::Reverse(c.priority),
        )
    };
    let mut kept: Vec<Candidate> = Vec::with_capacity(candidates.len());
    for c in candidates {
        match kept.last_mut() {
            Some(last) if c.finding.start < last.finding.end => {
                if rank(&c) > rank(last) {
                    *last = c;
                }
            }
            _ => kept.push(c),
        }
    }
    kept.into_iter().map(|c| c.finding).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(engine: &Engine, text: &str) -> Vec<String> {
        engine
            .scan_text(text.as_bytes())
            .into_iter()
            .map(|f| f.detector_id)
            .collect()
    }

    #[test]
    fn engine_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>(_: &T) {}
        let engine = Engine::with_default_catalog();
        assert_send_sync(&engine);
        let found: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| s.spawn(|| engine.scan_text(b"SSN 536-22-1234").len()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(found, [1, 1]);
    }

    #[test]
    fn digit_clusters_group_nearby_digits() {
        let mut got = Vec::new();
        for_each_digit_cluster(b"call 415 555 2671 now, year 2024", |s, e, n| {
            got.push((s, e, n))
        });
        assert_eq!(got, vec![(5, 17, 10), (28, 32, 4)]);
    }

    #[test]
    fn whole_match_detection() {
        let check = |p: &str| is_whole_match(p, &compile_pattern(p).unwrap());
        assert!(check(r"\b(\d{3}-\d{2}-\d{4}|\d{9})\b"));
        assert!(!check(r"\b(a)x(?:y)\b"));
        assert!(!check(r"\b(a)\b|\b(b)\b"));
        assert!(!check(r"key=(\w+)"));
        assert!(check(r"\b([A-Z][\)(]\d)\b"));
    }

    /// The clusters of the simple walk this replaced: digit by digit, each within
    /// CLUSTER_GAP bytes of the last, cut at MAX_CLUSTER bytes with an overlap.
    fn clusters_one_byte_at_a_time(text: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut found = Vec::new();
        let mut i = 0;
        let len = text.len();
        while i < len {
            match text[i..].iter().position(u8::is_ascii_digit) {
                Some(p) => i += p,
                None => break,
            }
            let start = i;
            let mut last_digit = i;
            let mut count = 0usize;
            while i < len && i - last_digit <= CLUSTER_GAP && i - start < MAX_CLUSTER {
                if text[i].is_ascii_digit() {
                    last_digit = i;
                    count += 1;
                }
                i += 1;
            }
            found.push((start, last_digit + 1, count));
            if i - start >= MAX_CLUSTER {
                i = last_digit.saturating_sub(64).max(start + 1);
            } else {
                i = last_digit + 1;
            }
        }
        found
    }

    #[test]
    fn digit_bits_find_the_clusters_of_the_byte_walk() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"abc".to_vec(),
            b"\xff\xb9\x39/:0".to_vec(),
            "\u{e9}\u{e9}\u{20ac} 7".as_bytes().to_vec(),
            // Digits on both sides of a 64-byte word's edge, gaps of exactly 8 and 9.
            [&[b'x'; 62][..], b"12345678x9", b"abcdefgh1", b"abcdefghi2"].concat(),
            // Longer than a cluster can be: cut, and seen again with an overlap.
            b"1 ".repeat(3000),
            [&b"7".repeat(MAX_CLUSTER - 1)[..], b"abcdefgh12"].concat(),
        ];
        // Every byte value at every position of a word.
        for b in 0..=255u8 {
            let mut t = vec![b'x'; 130];
            t[(usize::from(b) * 7) % 130] = b;
            t[64] = b;
            samples.push(t);
        }
        let mut seed = 7u32;
        samples.push(
            (0..20_000)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    match (seed >> 16) % 13 {
                        0..=2 => b'0' + (seed >> 20) as u8 % 10,
                        3 => b'-',
                        _ => b'a',
                    }
                })
                .collect(),
        );
        for text in &samples {
            let mut got = Vec::new();
            for_each_digit_cluster(text, |s, e, n| got.push((s, e, n)));
            assert_eq!(
                got,
                clusters_one_byte_at_a_time(text),
                "{}",
                String::from_utf8_lossy(&text[..text.len().min(80)])
            );
        }
    }

    #[test]
    fn interleaved_literal_walk_equals_the_library_search() {
        use crate::literal_dfa::tests::{generated_text, library_matches, PATTERNS};
        let dfa = aho_corasick::dfa::Builder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(PATTERNS)
            .unwrap();
        let text = generated_text();
        let mut ours = Vec::new();
        for_each_literal(&dfa, &text, |p, s, e| ours.push((p, s, e)));
        ours.sort_unstable();
        let theirs = library_matches(&PATTERNS, &text);
        assert!(!theirs.is_empty());
        assert_eq!(ours, theirs);
    }

    fn digit_free(pattern: &str) -> DigitFree {
        let config = syntax::Config::new().unicode(false).utf8(false);
        DigitFree::of(&syntax::parse_with(pattern, &config).unwrap())
    }

    #[test]
    fn digit_free_runs_are_read_from_the_pattern() {
        let runs = |pattern: &str| {
            let reach = digit_free(pattern);
            (reach.lead, reach.trail)
        };
        assert_eq!(runs(r"\b(\d{3}-\d{2}-\d{4})\b"), (0, 0));
        assert_eq!(runs(r"\b([A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b"), (3, 2));
        // A letter-or-digit class can be all letters: `ab:cd:ef:ab:cd:ef`.
        assert_eq!(
            runs(r"\b([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\b"),
            (17, 17)
        );
        assert_eq!(runs(r"(?:\+1[ .\-]?)?\(?\d{3}\)?"), (1, 1));
        assert_eq!(runs(r"(?:ATU|CHE-)\d{8}|\d{4}x?"), (4, 1));
        assert_eq!(runs(r"[A-Z]+\d{2}"), (usize::MAX, 0));
        assert_eq!(digit_free(r"\d{2}").whole, None);
        assert_eq!(digit_free(r"(?:\d{2})?").whole, Some(0));
        assert_eq!(digit_free(r"[a-z]{3}(?:-\d)?").whole, Some(3));
    }

    /// A detector's window reaches back `reach_back` bytes before its cluster: enough for
    /// any value its pattern can match, as far as the pattern lets a value start before its
    /// first digit (`+1 415`, `AB 12 34 56 C`).
    #[test]
    fn digit_triggered_detectors_reach_back_as_far_as_their_patterns() {
        let mut short = Vec::new();
        for spec in catalog::builtin() {
            if !matches!(spec.trigger, Trigger::Digits(_)) {
                continue;
            }
            let lead = digit_free(spec.pattern).lead;
            if usize::from(spec.reach_back) < lead {
                short.push((spec.id, spec.reach_back, lead));
            }
        }
        assert!(
            short.is_empty(),
            "(detector, reach_back, pattern's lead): {short:?}"
        );
    }

    #[test]
    fn the_digit_set_reads_every_digit_as_any_digit_and_nothing_else_wider() {
        let syntax_config = syntax::Config::new().unicode(false).utf8(false);
        let patterns = [
            r"\b(9\d{2}-\d{2}-\d{4})\b",
            r"\b(?:19|20)\d{2}\b",
            r"[A-Z]{2}\d{2}",
        ];
        let shapes: Vec<Hir> = patterns
            .into_iter()
            .map(|p| any_digit(syntax::parse_with(p, &syntax_config).unwrap()))
            .collect();
        let set = compile_digit_set(&shapes).unwrap();
        let matches = |text: &str| {
            let mut which = regex_automata::PatternSet::new(set.pattern_len());
            set.which_overlapping_matches(&Input::new(text), &mut which);
            which.iter().map(|p| p.as_usize()).collect::<Vec<_>>()
        };
        // The last group reads as a year too.
        assert_eq!(matches("912-34-5678"), [0, 1]);
        assert_eq!(matches("123-45-6789"), [0, 1], "widened: any first digit");
        assert_eq!(matches("3124"), [1], "widened: any year");
        assert_eq!(matches("GB12"), [2]);
        assert_eq!(
            matches("gb12"),
            Vec::<usize>::new(),
            "letters are not widened"
        );
        assert_eq!(matches("12-34"), Vec::<usize>::new());
    }

    #[test]
    fn a_cell_in_a_column_of_versions_is_a_version() {
        let engine = Engine::builder()
            .only(["ip_address"])
            .min_confidence(Confidence::Low)
            .build()
            .unwrap();
        let confidence_of = |text: &str| {
            engine
                .scan_text(text.as_bytes())
                .iter()
                .map(|f| f.confidence)
                .collect::<Vec<_>>()
        };
        // Lines of Debian's pypi.tsv package list: name, version, month, description.
        let packages = "tcr-deep-insight\t1.0.2\t2025-09\t\ttcr\n\
                        tensorrt-dispatch-cu11\t10.13.0.35\t2025-07\t\tA high performance server\n\
                        tensorrt-lean\t10.13.0rc1\t2025-07\t\tTensorRT\n";
        assert_eq!(confidence_of(packages), [Confidence::Low]);
        // A column of addresses, and a key-value list, keep theirs.
        let hosts = "host,ip\nweb1,10.0.0.1\nweb2,10.13.0.35\nweb3,10.0.0.3\n";
        assert!(
            confidence_of(hosts)
                .iter()
                .all(|&c| c >= Confidence::Medium),
            "{:?}",
            confidence_of(hosts)
        );
        let settings = "version,1.2.3\nname of the dns server,10.13.0.35\nport,8080\n";
        assert_eq!(confidence_of(settings), [Confidence::High]);
        // The versions of a package served by NuGet, one cell of Debian's nuget.tsv: the
        // four-part ones read as addresses among three-part ones that cannot be.
        let versions = "Core Runtime [AWS Amazon cloud aws-sdk-v4]\t3.7.202.18 3.7.402 3.7.501.1 \
                        4.0.3.3 4.0.100.2 4.0.100.6 4.0.101 4.0.101.1\n";
        let found = confidence_of(versions);
        assert!(found.len() >= 5, "{found:?}");
        assert!(found.iter().all(|&c| c == Confidence::Low), "{found:?}");
        // A list of addresses keeps its confidence, and so does an address after a version.
        let servers = "dns servers 10.0.0.1 10.0.0.2 10.13.0.35\n";
        assert!(confidence_of(servers)
            .iter()
            .all(|&c| c >= Confidence::Medium));
        let upgraded = "upgraded to 2.4.1 the dns server 10.13.0.35\n";
        assert_eq!(confidence_of(upgraded), [Confidence::High]);
        // Phone numbers with dots are not versions: the one between them keeps its confidence.
        let phones = Engine::builder()
            .only(["phone_number"])
            .min_confidence(Confidence::Low)
            .build()
            .unwrap();
        let contacts = "name,phone\nann,568.905.9835\nbob,(201) 376-9610\ncid,337.303.6428\n";
        let found: Vec<Confidence> = phones
            .scan_text(contacts.as_bytes())
            .iter()
            .map(|f| f.confidence)
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().all(|&c| c >= Confidence::Medium), "{found:?}");
    }

    #[test]
    fn isolated_numbers() {
        let t = b"a 123-45-6789 b";
        assert!(is_isolated_number(t, 2, 13));
        let t = b"x 123-45-6789-01";
        assert!(!is_isolated_number(t, 2, 13));
        let t = b"v1234567";
        assert!(!is_isolated_number(t, 1, 8));
    }

    #[test]
    fn finds_each_required_kind() {
        let e = Engine::with_default_catalog();
        assert_eq!(ids(&e, "card 4111 1111 1111 1111 on file"), ["credit_card"]);
        assert_eq!(ids(&e, "Mastercard 2223 0031 2200 3222"), ["credit_card"]);
        assert_eq!(ids(&e, "SSN: 536-22-1234"), ["us_ssn"]);
        assert_eq!(
            ids(&e, "pay to GB82 WEST 1234 5698 7654 32 today"),
            ["iban"]
        );
        assert_eq!(ids(&e, "ABA routing number 021000021"), ["us_bank_routing"]);
        assert_eq!(ids(&e, "mail jane.doe@example.org please"), ["email"]);
        assert_eq!(ids(&e, "phone: (415) 555-2671"), ["phone_number"]);
        assert_eq!(ids(&e, "NI number AB 12 34 56 C"), ["uk_nino"]);
        assert_eq!(ids(&e, "SIN 130 692 544"), ["ca_sin"]);
        assert_eq!(ids(&e, "ITIN 912-70-1234"), ["us_itin"]);
        assert_eq!(ids(&e, "passport no. 340020013"), ["us_passport"]);
        assert_eq!(ids(&e, "key AKIAZ3MSJV4WWNKWW5FG"), ["aws_access_key_id"]);
        assert_eq!(
            ids(
                &e,
                "aws_secret_access_key = Zq8vN2xR4tY6uI8oP0aS2dF4gH6jK8lZ1xC3vB5n"
            ),
            ["aws_secret_access_key"]
        );
        assert_eq!(
            ids(&e, "token ghp_Z3xY9wV8uT7sR6qP5oN4mL3kJ2iH1gF0eD9c"),
            ["github_token"]
        );
        assert_eq!(
            ids(
                &e,
                "xoxb-263594206564-2343594206574-FGqddMF8t08v8N7Oq4i57vs1"
            ),
            ["slack_token"]
        );
        assert_eq!(
            ids(&e, "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            ["stripe_secret_key"]
        );
        assert_eq!(
            ids(&e, "AIzaSyD8x2mQ7vR3tY9uI1oP5aS6dF7gH8jK9lZ"),
            ["google_api_key"]
        );
        assert_eq!(
            ids(&e, "t=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
            ["jwt"]
        );
    }

    #[test]
    fn look_alikes_do_not_fire() {
        let e = Engine::with_default_catalog();
        for text in [
            "SSN 912-34-5678",                         // area 9xx never issued
            "id 550e8400-e29b-41d4-a716-446655440000", // UUID
            "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "version 10.4.1.2 released",        // version string
            "order number 4111-1111-1111-1112", // fails Luhn
            "IMEI 490154203237518",             // IMEI, not a card
            "date 2024-03-15 and 15/03/2024",   // dates
            "AKIAIOSFODNN7EXAMPLE",             // AWS documented example
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "card XXXX-XXXX-XXXX-1234", // masked
            "number 021000021",         // no ABA context word
        ] {
            assert!(ids(&e, text).is_empty(), "{text}: {:?}", ids(&e, text));
        }
    }

    #[test]
    fn confidence_rises_with_context() {
        let e = Engine::with_default_catalog();
        let bare = e.scan_text(b"ref 4111 1111 1111 1111 x");
        assert!(
            bare.is_empty(),
            "negative context `ref` lowers an unsupported number below the default"
        );
        let every_tier = Engine::builder()
            .min_confidence(Confidence::Low)
            .build()
            .unwrap();
        let low = every_tier.scan_text(b"ref 4111 1111 1111 1111 x");
        assert_eq!(low[0].confidence, Confidence::Low);
        let plain = e.scan_text(b"value 4111 1111 1111 1111 x");
        assert_eq!(plain[0].confidence, Confidence::Medium);
        let with_ctx = e.scan_text(b"Visa card number 4111 1111 1111 1111");
        assert_eq!(with_ctx[0].confidence, Confidence::High);
        assert_eq!(
            &b"Visa card number 4111 1111 1111 1111"[with_ctx[0].start..with_ctx[0].end],
            b"4111 1111 1111 1111"
        );
        // Bare 9 digits are only a low-confidence SSN without the word, and the word must
        // be in the same sentence.
        assert!(e.scan_text(b"number 536221234").is_empty());
        assert_eq!(ids(&e, "ssn 536221234"), ["us_ssn"]);
        assert_eq!(ids(&e, "Your SSN: 536221234."), ["us_ssn"]);
        assert!(ids(&e, "Mail your SSN card to HR. Reorder 536221234 today.").is_empty());
        let low = every_tier.scan_text(b"number 536221234");
        assert_eq!(
            (low[0].detector_id.as_str(), low[0].confidence),
            ("us_ssn", Confidence::Low)
        );
    }

    #[test]
    fn keywords_count_only_in_the_same_sentence_line_or_cell() {
        let e = Engine::builder()
            .min_confidence(Confidence::Low)
            .build()
            .unwrap();
        let tier = |text: &str| {
            e.scan_text(text.as_bytes())
                .into_iter()
                .find(|f| f.detector_id == "us_ssn")
                .map(|f| f.confidence)
        };
        // A keyword inside the value itself is no sentence apart from it.
        assert!(!e.scan_text(b"password = db-Zx8pLm29Qa").is_empty());
        // The keyword in the same sentence, after an abbreviation, or as a column header.
        assert_eq!(
            tier("Employee SSN no. 536-22-1234 on file"),
            Some(Confidence::High)
        );
        assert_eq!(
            tier("name,ssn,team\nBob,536-22-1234,ops\n"),
            Some(Confidence::High)
        );
        // In another sentence, or another paragraph, it says nothing about the number.
        assert_eq!(
            tier("Bring your SSN card on Monday. Badge 536-22-1234 opens the lab."),
            Some(Confidence::Medium)
        );
        assert_eq!(
            tier("SSN requests go to HR\n\nbadge 536-22-1234"),
            Some(Confidence::Medium)
        );
        // A part number right before it: low, whatever keyword is near.
        assert_eq!(
            tier("Your SSN is not needed: part 536-22-1234 ships today"),
            Some(Confidence::Low)
        );
        // Nine bare digits in another sentence than the keyword: low (as whatever nine-digit
        // identifier takes them), below the default.
        let part =
            e.scan_text(b"We never ask for an SSN by mail. Part 536221234 is back in stock.");
        assert!(!part.is_empty());
        assert!(
            part.iter().all(|f| f.confidence == Confidence::Low),
            "{part:?}"
        );
        let default = Engine::with_default_catalog();
        assert!(default
            .scan_text(b"We never ask for an SSN by mail. Part 536221234 is back in stock.")
            .is_empty());
    }

    #[test]
    fn snippets_are_masked() {
        let e = Engine::with_default_catalog();
        let f = &e.scan_text(b"token ghp_Z3xY9wV8uT7sR6qP5oN4mL3kJ2iH1gF0eD9c")[0];
        assert!(!f.snippet.contains("Z3xY9wV8uT7sR6qP5oN4mL3kJ2iH1gF0eD9c"));
        assert!(f.snippet.starts_with("ghp_"));
    }

    #[test]
    fn streaming_matches_in_memory_scan_across_chunk_edges() {
        let e = Engine::with_default_catalog();
        let mut text = Vec::new();
        let filler = b"lorem ipsum dolor sit amet consectetur adipiscing elit ";
        let mut planted = 0;
        while text.len() < STREAM_CHUNK * 3 {
            text.extend_from_slice(filler);
            if text.len() % 7 == 0
                || (text.len() > STREAM_CHUNK - 40 && text.len() < STREAM_CHUNK + 40)
            {
                text.extend_from_slice(b" card 4111 1111 1111 1111 ");
                planted += 1;
            }
        }
        let in_memory = e.scan_text(&text);
        let mut streamed = Vec::new();
        e.scan_reader(&text[..], |f| streamed.push(f)).unwrap();
        assert_eq!(in_memory.len(), planted);
        assert_eq!(streamed, in_memory);

        // A reader that hands out a few kilobytes at a time and is sometimes interrupted
        // (a pipe, a socket) fills each chunk over many reads.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                self.1 += 1;
                if self.1 % 5 == 0 {
                    return Err(std::io::ErrorKind::Interrupted.into());
                }
                let n = out.len().min(self.0.len()).min(4099);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut trickled = Vec::new();
        let read = e
            .scan_reader(Trickle(&text, 0), |f| trickled.push(f))
            .unwrap();
        assert_eq!(read, text.len() as u64);
        assert_eq!(trickled, in_memory);
    }

    /// The crate's automaton takes over silently, and walks a third slower: the catalog's
    /// own literals must fit the table whatever the threshold (which decides how many
    /// context keywords join the walk).
    #[test]
    fn the_catalog_literals_fit_the_literal_table_at_every_threshold() {
        for confidence in [Confidence::Low, Confidence::Medium, Confidence::High] {
            let engine = Engine::builder()
                .min_confidence(confidence)
                .build()
                .unwrap();
            assert!(engine.literal_walk.is_some(), "{confidence:?}");
        }
    }

    #[test]
    fn a_policy_with_more_keywords_than_the_table_holds_still_finds_them() {
        // 12,000 distinct six-letter anchors: more states than the literal table has room
        // for, so the engine walks the aho-corasick crate's DFA instead.
        let anchors: Vec<String> = (0..12_000u32)
            .map(|i| {
                (0..6)
                    .map(|d| char::from(b'a' + ((i >> (d * 3)) % 8) as u8 + 8 * (d % 2) as u8))
                    .collect()
            })
            .collect();
        let last = anchors.last().unwrap().clone();
        let engine = Engine::builder()
            .only(Vec::<String>::new())
            .custom_rules(vec![CustomRule {
                id: "codename".into(),
                category: Category::Custom,
                kind: CustomKind::Regex {
                    pattern: r"\b[a-z]{6}-\d{4}\b".into(),
                    anchors,
                },
                context: vec![],
                base: Some(Confidence::Medium),
                boosted: Confidence::High,
            }])
            .build()
            .unwrap();
        assert!(engine.literal_walk.is_none() && engine.literal_automaton.is_some());
        // The other value is out of reach of any anchor's window.
        let text = format!("see {last}-2024 {} zzzzzz-2024", "and ".repeat(100));
        assert_eq!(ids(&engine, &text), ["codename"]);
    }

    #[test]
    fn custom_rules_terms_regex_and_exact_data() {
        let salt = "s3";
        let mut hashes = HashSet::new();
        hashes.insert(ExactData::digest(salt, b"E123456", false));
        let engine = Engine::builder()
            .only(Vec::<String>::new())
            .custom_rules(vec![
                CustomRule {
                    id: "project_names".into(),
                    category: Category::Custom,
                    kind: CustomKind::Terms {
                        terms: vec!["Blue Falcon".into(), "Nightjar".into()],
                        case_sensitive: false,
                        whole_word: true,
                    },
                    context: vec![],
                    base: Some(Confidence::Medium),
                    boosted: Confidence::High,
                },
                CustomRule {
                    id: "ticket".into(),
                    category: Category::Custom,
                    kind: CustomKind::Regex {
                        pattern: r"\bCASE-\d{5}\b".into(),
                        anchors: vec!["case-".into()],
                    },
                    context: vec!["confidential".into()],
                    base: None,
                    boosted: Confidence::High,
                },
                CustomRule {
                    id: "employee_id".into(),
                    category: Category::Custom,
                    kind: CustomKind::ExactData {
                        pattern: r"\bE\d{6}\b".into(),
                        data: ExactData {
                            salt: salt.into(),
                            hashes,
                            case_sensitive: false,
                        },
                    },
                    context: vec![],
                    base: Some(Confidence::High),
                    boosted: Confidence::High,
                },
            ])
            .build()
            .unwrap();
        let found = ids(
            &engine,
            "project blue falcon, not nightjars; CASE-12345; E123456 and E654321",
        );
        assert_eq!(found, ["project_names", "employee_id"]);
        let found = ids(&engine, "confidential: CASE-12345");
        assert_eq!(found, ["ticket"]);
    }
}
