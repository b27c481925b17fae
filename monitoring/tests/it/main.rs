//! Integration tests of the monitoring crate (one binary).

mod checks;
mod history;
mod report;
