//! Integration tests of the transformation crate (one binary).

mod dimension;
