//! Integration tests of the transformation crate (one binary).

mod dimension;
mod fraud;
mod invariants;
mod loans;
mod tables;
