//! Integration tests of the monitoring crate (one binary).

mod alerts;
mod checks;
mod history;
mod report;
