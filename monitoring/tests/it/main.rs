//! Integration tests of the monitoring crate (one binary).

mod alerts;
mod checks;
mod drift;
mod history;
mod jumps;
mod report;
