//! Test-only package; the suite lives in tests/suite.
