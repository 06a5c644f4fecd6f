//! The DLP engine from the outside: document and archive formats, and the `casb scan` command.
//! One test binary (link time is build time).

mod alloc_meter;
mod formats;
mod partial_inspection;
mod scan_command;
