//! `satisfaction.jsonl`: about 0.3 survey answers per client over the window, each with a
//! csat (1–5), an nps (0–10) or both, sometimes a product the client holds, sometimes a
//! free comment (with accents, emoji, quotes or a line break, escaped in JSON).

use contract::Entity;
use rand::Rng;

use super::GenerateError;
use super::bank::Bank;
use super::calendar::{DAY_SECS, WINDOW_DAYS, Window};
use super::catalog::{PRODUCTS, SURVEY_COMMENTS};
use super::context::Ctx;
use super::parties::client_id;
use super::random::{Stream, pick, weighted};
use super::writer::Written;

struct Survey {
    client: u32,
    product: Option<u8>,
    channel: &'static str,
    /// Seconds since the window's first midnight.
    secs: u32,
    csat: Option<i64>,
    nps: Option<i64>,
    comment: Option<&'static str>,
}

fn draw(rng: &mut rand_chacha::ChaCha8Rng, bank: &Bank, window: &Window) -> Survey {
    let client = rng.random_range(0..bank.clients.len() as u32);
    // Answers come after the client joined.
    let joined = window.day_of(bank.clients[client as usize].joined).max(0) as u32;
    let accounts = bank.clients[client as usize].accounts.clone();
    let product = (rng.random_bool(0.6) && !accounts.is_empty())
        .then(|| bank.accounts[rng.random_range(accounts) as usize].product);
    let (csat, nps) = match rng.random_range(0..100) {
        0..45 => (true, true),
        45..75 => (true, false),
        _ => (false, true),
    };
    Survey {
        client,
        product,
        channel: weighted(
            rng,
            &[
                ("web", 30),
                ("app", 40),
                ("branch", 10),
                ("phone", 12),
                ("email", 8),
            ],
        ),
        secs: rng.random_range(joined.min(WINDOW_DAYS - 1) * DAY_SECS..WINDOW_DAYS * DAY_SECS),
        csat: csat.then(|| weighted(rng, &[(1, 5), (2, 8), (3, 17), (4, 38), (5, 32)])),
        nps: nps.then(|| {
            weighted(
                rng,
                &[
                    (0, 3),
                    (1, 2),
                    (2, 3),
                    (3, 3),
                    (4, 4),
                    (5, 6),
                    (6, 8),
                    (7, 14),
                    (8, 20),
                    (9, 19),
                    (10, 18),
                ],
            )
        }),
        comment: rng.random_bool(0.35).then(|| *pick(rng, SURVEY_COMMENTS)),
    }
}

/// Draws and writes the survey answers, in the order they were given.
pub(crate) fn write(ctx: &Ctx, bank: &Bank) -> Result<Written, GenerateError> {
    let mut rng = ctx.rng(Stream::Satisfaction);
    let mut surveys: Vec<Survey> = (0..ctx.sizes.surveys)
        .map(|_| draw(&mut rng, bank, &ctx.window))
        .collect();
    surveys.sort_by_key(|s| (s.secs, s.client));
    let mut writer = ctx.jsonl_writer(Entity::Satisfaction)?;
    let window = ctx.window;
    let mut id = 0u64;
    writer.write_batch(&surveys, |s, f| {
        id += 1;
        f.id("SV", id, 8);
        client_id(f, s.client)
            .opt(s.product, |f, p| f.text(PRODUCTS[p as usize].id))
            .text(s.channel)
            .timestamp(window.date(i64::from(s.secs / DAY_SECS)), s.secs % DAY_SECS)
            .opt(s.csat, |f, v| f.int(v))
            .opt(s.nps, |f, v| f.int(v))
            .opt(s.comment, |f, c| f.text(c));
    })?;
    writer.close()
}
