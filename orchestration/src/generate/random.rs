//! Seeded random streams and the few distributions the generator needs (rand 0.9 without
//! `rand_distr`).

use contract::Entity;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One independent ChaCha stream per purpose, so that a change in how one entity is drawn
/// does not shift the draws of the others.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Fx,
    Clients,
    Accounts,
    Counterparties,
    FraudPlan,
    Transactions,
    Reports,
    Loans,
    Satisfaction,
    /// The ordinary transactions sampled for false fraud reports.
    Sample,
    /// The defect planter of one entity.
    Defects(Entity),
}

impl Stream {
    /// The ChaCha stream number of this purpose; fixed, so a seed keeps giving the same data.
    fn id(self) -> u64 {
        match self {
            Self::Fx => 1,
            Self::Clients => 2,
            Self::Accounts => 3,
            Self::Counterparties => 4,
            Self::FraudPlan => 5,
            Self::Transactions => 6,
            Self::Reports => 7,
            Self::Loans => 8,
            Self::Satisfaction => 9,
            Self::Sample => 10,
            // The generator's own entity order (not the contract's), kept so that a seed
            // keeps planting the same bad rows.
            Self::Defects(entity) => match entity {
                Entity::Clients => 100,
                Entity::Products => 101,
                Entity::Accounts => 102,
                Entity::Transactions => 103,
                Entity::Loans => 104,
                Entity::Payments => 105,
                Entity::Satisfaction => 106,
                Entity::FxRates => 107,
                Entity::FraudReports => 108,
            },
        }
    }
}

/// The random stream `stream` of the run seeded with `seed`.
pub(crate) fn stream(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream.id());
    rng
}

/// A uniformly chosen element of a non-empty static list.
pub(crate) fn pick<'a, T, R: Rng>(rng: &mut R, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A value chosen with the given integer weights.
pub(crate) fn weighted<T: Copy, R: Rng>(rng: &mut R, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|&(_, w)| w).sum();
    let mut x = rng.random_range(0..total.max(1));
    for &(value, w) in items {
        if x < w {
            return value;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// A uniform value in `[lo, hi)`.
pub(crate) fn between<R: Rng>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// A standard normal deviate (Box–Muller).
pub(crate) fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `exp(sigma × N(0,1))` clamped to `[lo, hi]`: a positive factor around 1.
pub(crate) fn spread<R: Rng>(rng: &mut R, sigma: f64, lo: f64, hi: f64) -> f64 {
    (sigma * normal(rng)).exp().clamp(lo, hi)
}

/// A Poisson count (Knuth's method; the generator's rates are small).
pub(crate) fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let limit = (-lambda).exp();
    let mut product = rng.random::<f64>();
    let mut k = 0;
    while product > limit && k < 1_000 {
        product *= rng.random::<f64>();
        k += 1;
    }
    k
}
