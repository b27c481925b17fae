//! Integration tests of the pipeline (one binary).

mod ingest;
mod pg;
mod transform;
