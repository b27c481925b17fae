//! `fraud_reports.csv`: investigation outcomes. Most planted fraud transactions get a report
//! (confirmed for about 80 %), and a sample of ordinary transactions gets a false report
//! (confirmed = false). Reports come 1 hour to 10 days after booking, never after the end
//! of the window.

use chrono::{NaiveDateTime, NaiveTime, TimeDelta};
use contract::Entity;
use rand::Rng;

use super::GenerateError;
use super::catalog::{CONFIRMED_REASONS, DISMISSED_REASONS};
use super::context::Ctx;
use super::random::{Stream, pick};
use super::transactions::{Planted, TxRef};
use super::writer::Written;

const REPORTED_SHARE: f64 = 0.85;
const CONFIRMED_SHARE: f64 = 0.8;

struct Report {
    tx: TxRef,
    at: NaiveDateTime,
    confirmed: bool,
    reason: &'static str,
}

pub(crate) fn write(
    ctx: &Ctx,
    planted: &[Planted],
    sampled: &[TxRef],
) -> Result<Written, GenerateError> {
    let mut rng = ctx.rng(Stream::Reports);
    let last = ctx.window.end.and_time(NaiveTime::MIN) + TimeDelta::seconds(86_399);
    let report = |tx: TxRef, confirmed: bool, rng: &mut rand_chacha::ChaCha8Rng| {
        let delay = TimeDelta::seconds(rng.random_range(3_600..10 * 86_400));
        let reasons = if confirmed {
            CONFIRMED_REASONS
        } else {
            DISMISSED_REASONS
        };
        let reason = *pick(rng, reasons);
        Report {
            tx,
            at: (tx.booked + delay).min(last).max(tx.booked),
            confirmed,
            reason,
        }
    };
    let mut reports = Vec::new();
    for p in planted {
        if rng.random_bool(REPORTED_SHARE) {
            let confirmed = rng.random_bool(CONFIRMED_SHARE);
            reports.push(report(p.tx, confirmed, &mut rng));
        }
    }
    for &tx in sampled {
        reports.push(report(tx, false, &mut rng));
    }
    reports.sort_by_key(|r| (r.at, r.tx.id));
    let mut writer = ctx.csv_writer(Entity::FraudReports)?;
    writer.write_batch(&reports, |r, f| {
        f.id("TX", r.tx.id, 10)
            .datetime(r.at)
            .boolean(r.confirmed)
            .text(r.reason);
    })?;
    writer.close()
}
