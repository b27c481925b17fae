//! Synthetic bank extracts for the pipeline: the nine raw entities of the data contract,
//! written the way the contract describes them, plus the ground truth an ingestion and a
//! fraud-rule engine can be checked against.
//!
//! # Files
//!
//! Into [`GenerateOptions::out`]: `clients.csv`, `products.csv`, `accounts.csv`,
//! `transactions.csv` (or `transactions_001.csv`, `_002` … of at most 2 M rows each, cut
//! between days, from scale 1.7 up), `loans.csv`, `payments.csv`, `satisfaction.jsonl`,
//! `fx_rates.csv`, `fraud_reports.csv`. CSV is RFC 4180: header row, UTF-8, `,`, `\n`,
//! fields quoted only when they hold a comma, quote or line break, quotes doubled. Dates
//! are `YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SSZ`, decimals have exactly the
//! contract's places (2; 4 for rates; 6 for `per_eur`), bools are `true`/`false`. Codes are
//! lower case except about 1 % written in upper case (input is case-insensitive); ISO codes
//! are upper case. Stale `transactions.csv` / `transactions_NNN.csv` files in the folder
//! are removed first, so a smaller run never leaves rows of a larger one behind.
//!
//! # Shapes
//!
//! Scale 1 is about 20 000 clients (at least 20), 1.56 accounts per client, 1 000 000
//! transactions over the 90 days ending on [`GenerateOptions::end_date`], loans for 8 % of
//! clients with every installment due up to `end_date`, 0.3 survey answers per client and
//! FX rates for every day from 30 days before the window to its end. Everything scales
//! linearly; 0.01 gives 200 clients and about 10 000 transactions.
//!
//! * Clients: mostly German (the bank is), some from 15 other countries; names with accents,
//!   an apostrophe or a particle; e-mail and phone sometimes empty; 18 to 90 years old.
//! * Products: twelve fixed products covering every category; one name has a comma, one
//!   quotes.
//! * Accounts: one main current account per client (EUR, or CZK for Czech clients), plus
//!   savings, credit card, insurance, investment and USD/GBP/CHF accounts for some; a few
//!   closed (with `closed_on` ≥ `opened_on`), dormant or frozen. IBANs are German, valid.
//! * Transactions: all seven channels; card rows carry merchant (some with commas or
//!   quotes), 4-digit mcc and sometimes a foreign country and currency; transfers and
//!   direct debits carry valid counterparty IBANs of ten countries; `balance_after` follows
//!   the account (negative for overdrafts and credit cards, empty while pending); about 1 %
//!   reversed, pending only in the last two days; descriptions sometimes empty.
//! * Loans and payments: see `loans.rs`; the loan status always agrees with its payments.
//! * Satisfaction: csat and/or nps, five channels, comments with unicode.
//! * FX: a random walk per currency (USD, GBP, CHF, CZK, PLN, SEK), flat over weekends.
//! * Fraud reports: about 85 % of planted fraud transactions (80 % of those confirmed) and a
//!   sample of ordinary ones (confirmed = false).
//!
//! # Defects
//!
//! With [`GenerateOptions::defects`] > 0, about `defects × rows` extra bad rows are planted
//! per entity, and at least one per rule that applies to it. Each is a copy of the valid row
//! written just before it, given a key nothing else has (and nothing references), then
//! corrupted in exactly one way, so it breaks exactly one ingestion rule; `duplicate` rows
//! instead keep the copied key. The ways per entity and rule are one table,
//! `defects::SPECS`. Rules an entity cannot break on its own are left out: clients have no
//! bound, IBAN, date pair or reference; products no IBAN, date pair or reference;
//! transactions no date pair; fx_rates no free text (so no `invalid_encoding`); satisfaction
//! (JSON) no `invalid_encoding` either.
//!
//! # Ground truth (`out/_generator/`)
//!
//! * `expected.json`: per entity `{"raw_rows", "accepted", "quarantined": {rule_id: n}}`:
//!   the exact counts an ingestion applying the contract's rules produces (`raw_rows` =
//!   data rows written = `accepted` + the quarantined ones).
//! * `planted_frauds.csv` (`transaction_id,rule`): every transaction of every planted fraud
//!   pattern, and `fraud_params.json`: the thresholds and windows to find them with.
//!
//! # Determinism and cost
//!
//! The same seed and scale give byte-identical files: every random choice comes from
//! `ChaCha8Rng` streams seeded with [`GenerateOptions::seed`], one stream per purpose.
//! Transactions are written day by day as they are drawn; memory holds the population (a
//! few hundred bytes per account) and one day of transactions.

mod bank;
mod calendar;
mod catalog;
mod context;
mod defects;
mod expected;
mod fields;
mod fraud;
mod fx;
mod iban;
mod loans;
mod parties;
mod random;
mod reports;
mod satisfaction;
mod transactions;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use context::Ctx;
use expected::Run;
use writer::io_error;

/// Options of one generator run.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Folder to write into; created if missing.
    pub out: PathBuf,
    /// Size factor: 1.0 is about 20 000 clients and 1 000 000 transactions; fractions such
    /// as 0.01 are fine (at most 1 000).
    pub scale: f64,
    /// Seed of every random choice: the same seed and scale give byte-identical files.
    pub seed: u64,
    /// Share of extra bad rows per entity: 0.0 = none, 0.01 = 1 % (at most 0.5).
    pub defects: f64,
    /// Last business day of the data: transactions cover the 90 days ending on it.
    pub end_date: NaiveDate,
}

/// What a run wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Every file written: the entity files, then those under `_generator/`.
    pub files: Vec<PathBuf>,
    /// Data rows written per entity name (header excluded, bad rows included).
    pub rows: BTreeMap<String, u64>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Creating, writing or removing a file or folder failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Serializing a JSON document failed.
    #[error("cannot write JSON to {}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// An option is outside what the generator supports.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// The option's field name.
        option: &'static str,
        /// What was expected and what was given.
        reason: String,
    },
    /// The defect table names a column its entity does not have (a bug in the generator).
    #[error("defect table of {entity} names unknown column `{column}`")]
    UnknownColumn {
        /// The entity.
        entity: &'static str,
        /// The column named.
        column: &'static str,
    },
}

/// Writes a complete synthetic extract, with its ground truth, into `opts.out`.
///
/// # Errors
///
/// [`GenerateError::InvalidOption`] for a scale or defect share out of range, and
/// [`GenerateError::Io`] / [`GenerateError::Json`] when a file cannot be written.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    let ctx = Ctx::new(opts)?;
    prepare_folder(&ctx)?;
    let mut run = Run::default();

    let fx = fx::FxTable::generate(&ctx);
    run.add(fx::write(&ctx, &fx)?);
    run.add(parties::write_products(&ctx)?);
    let bank = bank::Bank::generate(&ctx);
    run.add(parties::write_clients(&ctx, &bank)?);
    run.add(parties::write_accounts(&ctx, &bank)?);
    let tx = transactions::write(&ctx, &bank, &fx)?;
    run.add(tx.written);
    run.add(reports::write(&ctx, &tx.planted, &tx.sampled)?);
    let (loans, payments) = loans::write(&ctx, &bank, &fx)?;
    run.add(loans);
    run.add(payments);
    run.add(satisfaction::write(&ctx, &bank)?);
    run.add_files(fraud::write_ground_truth(&ctx, &tx.planted)?);
    run.finish(&ctx)
}

/// Creates the folders and removes transactions files a previous run may have left.
fn prepare_folder(ctx: &Ctx) -> Result<(), GenerateError> {
    let out = &ctx.opts.out;
    let generator = ctx.generator_dir();
    std::fs::create_dir_all(&generator).map_err(|e| io_error(&generator, e))?;
    let entries = std::fs::read_dir(out).map_err(|e| io_error(out, e))?;
    for entry in entries {
        let path = entry.map_err(|e| io_error(out, e))?.path();
        if is_transactions_file(&path) {
            std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        }
    }
    Ok(())
}

/// `transactions.csv` or `transactions_NNN.csv`.
fn is_transactions_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some(stem) = name
        .strip_prefix("transactions")
        .and_then(|s| s.strip_suffix(".csv"))
    else {
        return false;
    };
    stem.is_empty()
        || stem
            .strip_prefix('_')
            .is_some_and(|n| n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit()))
}
