//! The prefilter's walk over every byte: an Aho-Corasick DFA for the literal triggers and
//! keywords (ASCII, case-insensitive), built into a table laid out for that one loop.
//!
//! The walk is five table lookups per round, one per lane, and the work around each lookup
//! counts as much as the lookup itself. The `aho-corasick` crate's DFA checks each index
//! against its table's length and tells a match by one of several tests. This table:
//! - has a fixed power-of-two size and every index is masked with it, so no lookup needs
//!   a bounds check (and no `unsafe` is needed to skip one);
//! - numbers the match states first, so one comparison tells a match;
//! - stores each next state as the offset of its row, so a lookup is one add.
//!
//! It is also built here, in a few milliseconds for the catalog's ~1000 literals: the crate
//! builds its DFA through a second automaton, and that took a third of the engine's start.

/// Table entries: up to `TABLE_LEN / stride` states (8192 states of 64 columns). The
/// default catalog needs 2500-5300, depending on the threshold.
const TABLE_LEN: usize = 1 << 19;

/// The literal DFA. Built by [`LiteralDfa::new`], walked by [`LiteralDfa::for_each_match`].
pub(crate) struct LiteralDfa {
    /// Byte → column: one per byte that occurs in a literal (both cases of a letter share
    /// it), and column 0 for every other byte.
    classes: [u32; 256],
    /// Row `s` (at offset `s * stride`) holds the offset of the next state's row, per column.
    table: Box<[u32; TABLE_LEN]>,
    /// Rows before this offset are match states'.
    match_limit: u32,
    start: u32,
    stride_log2: u32,
    /// For the match state of row `r`: `match_list[match_ranges[r].0..match_ranges[r].1]`.
    match_ranges: Vec<(u32, u32)>,
    /// (pattern, pattern length) of every match, grouped by state.
    match_list: Vec<(u32, u32)>,
    max_pattern_len: usize,
}

impl LiteralDfa {
    /// The DFA matching every pattern (ASCII, case-insensitively) wherever it occurs, also
    /// inside or overlapping another. `None` when a pattern is empty or not ASCII, or the
    /// patterns need more states than the table holds (a policy with thousands of custom
    /// keywords): the caller then uses the `aho-corasick` crate's automaton.
    pub(crate) fn new<P: AsRef<[u8]>>(patterns: &[P]) -> Option<LiteralDfa> {
        let patterns: Vec<Vec<u8>> = patterns
            .iter()
            .map(|p| p.as_ref().to_ascii_lowercase())
            .collect();
        if patterns.iter().any(|p| p.is_empty() || !p.is_ascii()) {
            return None;
        }
        let mut classes = [0u32; 256];
        let mut columns = 1u32;
        for &b in patterns.iter().flatten() {
            if classes[usize::from(b)] == 0 {
                classes[usize::from(b)] = columns;
                classes[usize::from(b.to_ascii_uppercase())] = columns;
                columns += 1;
            }
        }
        let stride = columns.next_power_of_two() as usize;
        const ABSENT: u32 = u32::MAX;

        // The trie: state 0 is the root; `next[state * stride + column]`.
        let mut next: Vec<u32> = vec![ABSENT; stride];
        let mut outputs: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
        for (pattern, bytes) in patterns.iter().enumerate() {
            let mut state = 0usize;
            for &b in bytes {
                let slot = state * stride + classes[usize::from(b)] as usize;
                if next[slot] == ABSENT {
                    next[slot] = outputs.len() as u32;
                    outputs.push(Vec::new());
                    next.resize(next.len() + stride, ABSENT);
                }
                state = next[slot] as usize;
            }
            outputs[state].push((pattern as u32, bytes.len() as u32));
        }
        let states = outputs.len();
        if states * stride > TABLE_LEN {
            return None;
        }

        // Breadth-first, each state's missing transitions become those of its failure state
        // (the longest proper suffix of its path that is also a trie path), which is
        // shallower and so already complete, and it inherits that state's matches.
        let mut fail = vec![0u32; states];
        let mut order: Vec<u32> = Vec::with_capacity(states);
        for slot in next.iter_mut().take(stride) {
            match *slot {
                ABSENT => *slot = 0,
                child => order.push(child),
            }
        }
        let mut visited = 0;
        while let Some(&state) = order.get(visited) {
            visited += 1;
            let state = state as usize;
            let inherited = outputs[fail[state] as usize].clone();
            outputs[state].extend(inherited);
            for column in 0..stride {
                let slot = state * stride + column;
                let through_fail = next[fail[state] as usize * stride + column];
                match next[slot] {
                    ABSENT => next[slot] = through_fail,
                    child => {
                        fail[child as usize] = through_fail;
                        order.push(child);
                    }
                }
            }
        }

        // Rows: match states first, then the rest, each breadth-first, so that the shallow
        // states that ordinary words keep visiting share few cache lines. Every transition
        // becomes a row offset.
        let breadth_first = || std::iter::once(0).chain(order.iter().map(|&s| s as usize));
        let mut rank: Vec<u32> = vec![0; states];
        let matching: Vec<usize> = breadth_first()
            .filter(|&s| !outputs[s].is_empty())
            .collect();
        let others = breadth_first().filter(|&s| outputs[s].is_empty());
        for (row, state) in matching.iter().copied().chain(others).enumerate() {
            rank[state] = (row * stride) as u32;
        }
        let mut table: Box<[u32; TABLE_LEN]> =
            vec![0u32; TABLE_LEN].into_boxed_slice().try_into().ok()?;
        for state in 0..states {
            let row = rank[state] as usize;
            for column in 0..stride {
                table[row + column] = rank[next[state * stride + column] as usize];
            }
        }
        let mut match_ranges = Vec::with_capacity(matching.len());
        let mut match_list = Vec::new();
        for &state in &matching {
            let from = match_list.len() as u32;
            match_list.extend_from_slice(&outputs[state]);
            match_ranges.push((from, match_list.len() as u32));
        }
        Some(LiteralDfa {
            classes,
            table,
            match_limit: (matching.len() * stride) as u32,
            start: rank[0],
            stride_log2: stride.trailing_zeros(),
            match_ranges,
            match_list,
            max_pattern_len: patterns.iter().map(Vec::len).max().unwrap_or(0),
        })
    }

    /// Every (overlapping) match, handed to `on_match(pattern, start, end)`.
    ///
    /// Five walks over five slices of the text, advanced in lockstep, overlap the latencies
    /// of their lookups: each lookup waits for the one before it in its lane, and five lanes
    /// are as many as stay in registers with their eight bytes each (four were 4% slower
    /// on prose, six no faster). Slice `k` reports the matches that *end* in it and starts
    /// `max_pattern_len - 1` bytes early, so no match is lost or reported twice.
    pub(crate) fn for_each_match(
        &self,
        text: &[u8],
        on_match: &mut dyn FnMut(usize, usize, usize),
    ) {
        const LANES: usize = 5;
        let n = text.len();
        let lead = self.max_pattern_len.saturating_sub(1);
        let lanes = if n >= 4096 { LANES } else { 1 };
        let seg = n / lanes;
        let mut pos = [0usize; LANES];
        let mut report_from = [0usize; LANES];
        let mut stop = [0usize; LANES];
        let mut state = [self.start; LANES];
        for k in 0..lanes {
            report_from[k] = k * seg;
            pos[k] = report_from[k].saturating_sub(lead);
            stop[k] = if k + 1 == lanes { n } else { (k + 1) * seg };
        }
        let report =
            |s: u32, end: usize, from: usize, on_match: &mut dyn FnMut(usize, usize, usize)| {
                if end <= from && from != 0 {
                    return;
                }
                let Some(&(first, last)) = self.match_ranges.get((s >> self.stride_log2) as usize)
                else {
                    return;
                };
                for &(pattern, len) in self
                    .match_list
                    .get(first as usize..last as usize)
                    .unwrap_or(&[])
                {
                    on_match(pattern as usize, end - len as usize, end);
                }
            };
        let table = &*self.table;
        let classes = &self.classes;
        let limit = self.match_limit;
        let step =
            |s: u32, byte: u8| table[(s + classes[usize::from(byte)]) as usize & (TABLE_LEN - 1)];
        // Lockstep while every lane has bytes left; the longest lane is finished alone.
        let common = (0..lanes).map(|k| stop[k] - pos[k]).min().unwrap_or(0);
        if lanes == LANES {
            // Eight bytes of each lane per load, from slices of equal length: no bounds
            // checks, and few enough values live in the eight steps between loads that all
            // stay in registers.
            let eights = common / 8;
            let lane = |k: usize| text[pos[k]..pos[k] + eights * 8].chunks_exact(8);
            let word = |eight: &[u8]| u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
            let [mut s0, mut s1, mut s2, mut s3, mut s4] = state;
            for (round, ((((e0, e1), e2), e3), e4)) in lane(0)
                .zip(lane(1))
                .zip(lane(2))
                .zip(lane(3))
                .zip(lane(4))
                .enumerate()
            {
                let (mut w0, mut w1, mut w2, mut w3, mut w4) =
                    (word(e0), word(e1), word(e2), word(e3), word(e4));
                for j in 0..8 {
                    s0 = step(s0, w0 as u8);
                    s1 = step(s1, w1 as u8);
                    s2 = step(s2, w2 as u8);
                    s3 = step(s3, w3 as u8);
                    s4 = step(s4, w4 as u8);
                    (w0, w1, w2, w3, w4) = (w0 >> 8, w1 >> 8, w2 >> 8, w3 >> 8, w4 >> 8);
                    if (s0 < limit) | (s1 < limit) | (s2 < limit) | (s3 < limit) | (s4 < limit) {
                        let i = round * 8 + j;
                        for (k, s) in [s0, s1, s2, s3, s4].into_iter().enumerate() {
                            if s < limit {
                                report(s, pos[k] + i + 1, report_from[k], on_match);
                            }
                        }
                    }
                }
            }
            state = [s0, s1, s2, s3, s4];
            for p in pos.iter_mut() {
                *p += eights * 8;
            }
        }
        for k in 0..lanes {
            while pos[k] < stop[k] {
                let s = step(state[k], text[pos[k]]);
                state[k] = s;
                pos[k] += 1;
                if s < limit {
                    report(s, pos[k], report_from[k], on_match);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aho_corasick::AhoCorasickBuilder;

    /// Literals with the shapes of the catalog's: prefixes, keywords, a phrase, one byte.
    pub(crate) const PATTERNS: [&str; 8] = [
        "akia",
        "ghp_",
        "password",
        "@",
        "ssn",
        "social security",
        "://",
        "sword",
    ];

    /// 50,000 bytes of pieces of `PATTERNS`, whole or cut, between filler and bytes beyond
    /// ASCII.
    pub(crate) fn generated_text() -> Vec<u8> {
        let mut text = Vec::new();
        let mut seed = 1u32;
        while text.len() < 50_000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let piece: &[u8] = match (seed >> 16) % 10 {
                0 => b"AKIA",
                1 => b"Social Security",
                2 => b"pass",
                3 => b"word",
                4 => b"a@b",
                5 => b"https://",
                6 => &[0xe2, 0x82, 0xac],
                7 => b"s",
                _ => b"lorem ",
            };
            text.extend_from_slice(piece);
        }
        text
    }

    /// The `aho-corasick` crate's overlapping matches, sorted.
    pub(crate) fn library_matches(patterns: &[&str], text: &[u8]) -> Vec<(usize, usize, usize)> {
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(patterns)
            .unwrap();
        let mut found: Vec<_> = ac
            .find_overlapping_iter(text)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect();
        found.sort_unstable();
        found
    }

    fn our_matches(patterns: &[&str], text: &[u8]) -> Vec<(usize, usize, usize)> {
        let dfa = LiteralDfa::new(patterns).unwrap();
        let mut found = Vec::new();
        dfa.for_each_match(text, &mut |p, s, e| found.push((p, s, e)));
        found.sort_unstable();
        found
    }

    #[test]
    fn finds_every_overlapping_match_the_library_finds() {
        // Suffixes of other patterns (`ssn` in `xssn`), a pattern inside another
        // (`word` in `password`), one-byte and repeated-byte patterns.
        let mut patterns = PATTERNS.to_vec();
        patterns.extend(["xssn", "word", "aaab", "a", "-----b"]);
        for text in [
            &b""[..],
            b"a",
            b"AKIA",
            b"xSSN",
            b"aaaab",
            b"PassWord://@",
            b"-----BEGIN",
            &[0xff, b'a', 0xc3, b'@'],
        ] {
            assert_eq!(
                our_matches(&patterns, text),
                library_matches(&patterns, text),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn the_lanes_lose_and_double_nothing_in_long_text() {
        let text = generated_text();
        let theirs = library_matches(&PATTERNS, &text);
        assert!(theirs.len() > 2000);
        assert_eq!(our_matches(&PATTERNS, &text), theirs);
    }

    #[test]
    fn refuses_what_it_cannot_hold() {
        assert!(LiteralDfa::new(&["ok", ""]).is_none());
        assert!(LiteralDfa::new(&["ok", "caf\u{e9}"]).is_none());
        // 10,000 distinct six-letter patterns need more states than the table has.
        let many: Vec<String> = (0..10_000u32)
            .map(|i| {
                (0..6)
                    .map(|d| char::from(b'a' + ((i >> (d * 3)) % 26) as u8))
                    .collect()
            })
            .collect();
        assert!(LiteralDfa::new(&many).is_none());
    }
}
