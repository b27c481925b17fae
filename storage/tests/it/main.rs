//! Integration tests of the storage crate (one binary).

mod delta;
mod postgres;
