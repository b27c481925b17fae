//! Integration tests of the storage crate (one binary).

mod delta;
mod delta_concurrency;
mod delta_maintain;
mod delta_ops;
mod postgres;
