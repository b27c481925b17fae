//! Generic, reusable star-schema builders: dimensions with stable surrogate keys and
//! history ([`dimension`]) and the calendar ([`dates`]). The banking model is declared
//! on top of them; another model can reuse them as they are.

pub mod dates;
pub mod dimension;

pub use dimension::{DimensionSpec, History};
