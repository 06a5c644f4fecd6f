//! Bounded pagination: every paged provider call goes through a [`PageGuard`], which stops
//! when the provider hands back a marker it already gave (a mock of Box's official spec returns
//! the same page forever) or after a page cap, with an error that says which.

use std::collections::HashSet;

use super::ConnectorError;

/// Pages one listing may take before we stop (at 1000 entries a page, a million entries).
pub const DEFAULT_MAX_PAGES: usize = 1000;

pub struct PageGuard {
    what: String,
    seen: HashSet<String>,
    pages: usize,
    max_pages: usize,
}

impl PageGuard {
    /// `what` names the listing in errors, e.g. "collaborations of file 123".
    pub fn new(what: impl Into<String>, max_pages: usize) -> Self {
        PageGuard {
            what: what.into(),
            seen: HashSet::new(),
            pages: 0,
            max_pages: max_pages.max(1),
        }
    }

    /// Accepts the marker (cursor, offset, page token) for the next page, or refuses it: a
    /// marker seen before means the provider is not advancing.
    pub fn next_page(&mut self, marker: &str) -> Result<(), ConnectorError> {
        self.pages += 1;
        if !self.seen.insert(marker.to_string()) {
            return Err(ConnectorError::Permanent(format!(
                "the provider returned the same page again while listing {} (marker '{}' after {} pages); stopped so the call cannot loop forever",
                self.what, marker, self.pages
            )));
        }
        if self.pages >= self.max_pages {
            return Err(ConnectorError::Permanent(format!(
                "listing {} took more than {} pages; stopped (raise the page cap if the tenant really is this large)",
                self.what, self.max_pages
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_marker_or_too_many_pages_stops_the_listing() {
        let mut guard = PageGuard::new("collaborations of file 1", 3);
        guard.next_page("m1").unwrap();
        let repeated = guard.next_page("m1").unwrap_err().to_string();
        assert!(repeated.contains("same page again"), "{repeated}");
        assert!(repeated.contains("collaborations of file 1"), "{repeated}");

        let mut guard = PageGuard::new("items", 3);
        guard.next_page("0").unwrap();
        guard.next_page("1000").unwrap();
        let capped = guard.next_page("2000").unwrap_err().to_string();
        assert!(capped.contains("more than 3 pages"), "{capped}");
    }
}
