//! FX rates: a geometric random walk per currency, moving on weekdays and carrying Friday's
//! rate over the weekend, for every day from 30 days before the window to its end.

use chrono::NaiveDate;
use contract::Entity;

use super::GenerateError;
use super::calendar::{FX_LEAD_DAYS, is_weekend, plus_days};
use super::catalog::Ccy;
use super::context::Ctx;
use super::random::{Stream, normal};
use super::writer::Written;

/// Units of each currency per EUR, in millionths, for every day of the FX range.
pub(crate) struct FxTable {
    start: NaiveDate,
    micros: Vec<[i64; 7]>,
}

impl FxTable {
    pub(crate) fn generate(ctx: &Ctx) -> Self {
        let mut rng = ctx.rng(Stream::Fx);
        let start = ctx.window.fx_start();
        let days = (ctx.window.end - start).num_days() + 1;
        let mut level = [0.0; 7];
        for ccy in [Ccy::Eur].into_iter().chain(Ccy::FOREIGN) {
            level[ccy.index()] = ccy.start_rate().0;
        }
        let mut micros = Vec::with_capacity(days.max(0) as usize);
        for i in 0..days {
            if i > 0 && !is_weekend(plus_days(start, i)) {
                for ccy in Ccy::FOREIGN {
                    let volatility = ccy.start_rate().1;
                    level[ccy.index()] *= (volatility * normal(&mut rng)).exp();
                }
            }
            micros.push(level.map(|v| (v * 1e6).round() as i64));
        }
        Self { start, micros }
    }

    /// Millionths of `ccy` per EUR on window day `day` (the FX range starts at day -30).
    pub(crate) fn micros(&self, ccy: Ccy, day: i64) -> i64 {
        let i = (day + i64::from(FX_LEAD_DAYS)).clamp(0, self.micros.len() as i64 - 1);
        self.micros
            .get(i as usize)
            .map_or(1_000_000, |row| row[ccy.index()])
    }

    /// Units of `ccy` per EUR on window day `day`.
    pub(crate) fn per_eur(&self, ccy: Ccy, day: i64) -> f64 {
        self.micros(ccy, day) as f64 / 1e6
    }
}

struct Rate {
    date: NaiveDate,
    ccy: Ccy,
    micros: i64,
}

/// Writes `fx_rates.csv`: one row per day and non-EUR currency.
pub(crate) fn write(ctx: &Ctx, fx: &FxTable) -> Result<Written, GenerateError> {
    let rates: Vec<Rate> = fx
        .micros
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            let date = plus_days(fx.start, i as i64);
            Ccy::FOREIGN.map(|ccy| Rate {
                date,
                ccy,
                micros: row[ccy.index()],
            })
        })
        .collect();
    let mut writer = ctx.csv_writer(Entity::FxRates)?;
    writer.write_batch(&rates, |r, f| {
        f.date(r.date).text(r.ccy.code()).fixed(r.micros, 6);
    })?;
    writer.close()
}
