//! Integration tests of the storage crate (one binary).

mod delta;
mod delta_concurrency;
mod delta_maintain;
mod delta_ops;
mod delta_s3;
mod postgres;
mod server;
