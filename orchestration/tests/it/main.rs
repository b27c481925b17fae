//! Integration tests of the pipeline (one binary).

mod dashboard;
mod ingest;
mod maintain;
mod pg;
mod pipeline;
mod run_stores;
mod runtime;
mod schedule;
mod serve;
mod task_events;
mod transform;
