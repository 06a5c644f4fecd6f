//! The test suite: contract tests that run one suite against both back ends, end-to-end tests of
//! the pipeline across functions, and checks of the deployment artefacts (template, events).
//!
//! AWS adapters run against moto's server mode: `scripts/test.sh` starts `moto_server` and sets
//! `CASB_TEST_MOTO_ENDPOINT`. Without it the AWS half is skipped with a message, except under
//! `CI=true`, where it fails.

mod support;

mod box_end_to_end;
mod contract;
mod deployment;
mod export;
mod m365_end_to_end;
mod notifications;
mod pipeline;
mod rest_api;
mod security_sources;
mod threats;
