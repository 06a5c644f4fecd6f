//! The DLP engine from the outside: document and archive formats, and the `casb scan` command.
//! One test binary (link time is build time).

mod formats;
mod scan_command;
