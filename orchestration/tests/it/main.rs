//! Integration tests of the pipeline (one binary).

mod ingest;
mod maintain;
mod pg;
mod runtime;
mod transform;
