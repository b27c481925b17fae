//! `loans.csv` and `payments.csv`.
//!
//! About 8 % of clients hold a personal loan or a mortgage on their main account, started up
//! to five years before `end_date`. Every monthly installment due up to `end_date` is a
//! payment: paid on time, paid late (`paid_at` after `due_date`), missed (unpaid five days
//! or more after it was due) or pending (due in the last days). The loan's status is derived
//! from its installments: `written_off` with 6+ missed, `default` with 3+, `late` with one or
//! a late payment among the last three, `repaid` when every installment is due and paid,
//! `current` otherwise. Card repayments, account fees and standing-order transfers inside
//! the window are payments too (without a loan).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use contract::Entity;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::GenerateError;
use super::bank::{AccountStatus, Bank, Mix, product_of};
use super::calendar::{minus_months, months_of, plus_days, plus_months};
use super::catalog::{Ccy, PRODUCTS, product};
use super::context::Ctx;
use super::fields::FieldBuf;
use super::fx::FxTable;
use super::parties::{account_id, client_id};
use super::random::{Stream, between, pick, weighted};
use super::writer::{CsvSink, EntityWriter, Written};

/// An unpaid installment becomes `missed` this many days after it was due.
const GRACE_DAYS: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PayStatus {
    Paid,
    Late,
    Missed,
    Pending,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PayKind {
    Installment,
    Fee,
    CardRepayment,
    Transfer,
}

/// How a payment goes, before the end of the window cuts it.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    OnTime,
    Late(i64),
    Unpaid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Good,
    Late,
    Default,
    WrittenOff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoanStatus {
    Current,
    Late,
    Default,
    Repaid,
    WrittenOff,
}

struct Loan {
    id: u64,
    client: u32,
    account: u32,
    product: u8,
    principal: i64,
    currency: Ccy,
    rate: i64,
    term: u32,
    start: NaiveDate,
    maturity: NaiveDate,
    status: LoanStatus,
}

struct Payment {
    loan: Option<u64>,
    account: u32,
    due: NaiveDate,
    paid: Option<NaiveDateTime>,
    amount: i64,
    currency: Ccy,
    kind: PayKind,
    status: PayStatus,
}

/// Writes payments with consecutive ids.
struct PaymentWriter {
    writer: EntityWriter<CsvSink>,
    next_id: u64,
}

impl PaymentWriter {
    fn write(&mut self, payments: &[Payment]) -> Result<(), GenerateError> {
        let next_id = &mut self.next_id;
        self.writer.write_batch(payments, |p, f| {
            *next_id += 1;
            render_payment(p, *next_id, f);
        })
    }
}

/// Draws loans and payments and writes `loans.csv` and `payments.csv`.
pub(crate) fn write(
    ctx: &Ctx,
    bank: &Bank,
    fx: &FxTable,
) -> Result<(Written, Written), GenerateError> {
    let mut rng = ctx.rng(Stream::Loans);
    let mut loans = ctx.csv_writer(Entity::Loans)?;
    let mut payments = PaymentWriter {
        writer: ctx.csv_writer(Entity::Payments)?,
        next_id: 0,
    };
    let mut batch = Vec::new();
    for (n, client) in borrowers(ctx, bank, &mut rng).into_iter().enumerate() {
        batch.clear();
        let loan = draw_loan(ctx, bank, fx, client, n as u64 + 1, &mut rng, &mut batch);
        loans.write_batch(std::slice::from_ref(&loan), render_loan)?;
        payments.write(&batch)?;
    }
    let months = months_of(&ctx.window);
    for a in 0..bank.accounts.len() {
        batch.clear();
        account_payments(ctx, bank, fx, a, &months, &mut rng, &mut batch);
        payments.write(&batch)?;
    }
    Ok((loans.close()?, payments.writer.close()?))
}

/// Clients whose main account is active and older than 40 days, in client order.
fn borrowers(ctx: &Ctx, bank: &Bank, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let latest = plus_days(ctx.window.end, -40);
    let mut eligible: Vec<u32> = (0..bank.clients.len() as u32)
        .filter(|&c| {
            let main = &bank.accounts[bank.clients[c as usize].accounts.start as usize];
            main.status == AccountStatus::Active && main.closed.is_none() && main.opened <= latest
        })
        .collect();
    eligible.shuffle(rng);
    eligible.truncate(ctx.sizes.loans);
    eligible.sort_unstable();
    eligible
}

fn draw_loan(
    ctx: &Ctx,
    bank: &Bank,
    fx: &FxTable,
    client: u32,
    id: u64,
    rng: &mut ChaCha8Rng,
    payments: &mut Vec<Payment>,
) -> Loan {
    let end = ctx.window.end;
    let account = bank.clients[client as usize].accounts.start;
    let main = &bank.accounts[account as usize];
    let mortgage = rng.random_bool(0.2);
    let (product, term, eur, unit) = if mortgage {
        let term = *pick(rng, &[120, 240]);
        (
            product::MORTGAGE,
            term,
            between(rng, 80_000.0, 600_000.0),
            1_000.0,
        )
    } else {
        let term = *pick(rng, &[12, 24, 36, 48, 60]);
        (
            product::PERSONAL_LOAN,
            term,
            between(rng, 2_000.0, 40_000.0),
            100.0,
        )
    };
    let drawn = plus_days(
        minus_months(end, rng.random_range(1..=60)),
        -rng.random_range(0..28),
    );
    let start = if drawn <= main.opened {
        plus_days(main.opened, rng.random_range(1..28))
    } else {
        drawn
    }
    .min(plus_days(end, -10));
    let per_eur = fx.per_eur(main.currency, ctx.window.day_of(start));
    let principal = ((eur * per_eur / unit).round().max(1.0) * unit * 100.0) as i64;
    let base = PRODUCTS[product as usize].rate.unwrap_or(500);
    let rate = (base + rng.random_range(-150..=250)).max(100);
    let behaviour = weighted(
        rng,
        &[
            (Behaviour::Good, 85),
            (Behaviour::Late, 8),
            (Behaviour::Default, 4),
            (Behaviour::WrittenOff, 3),
        ],
    );
    let mut loan = Loan {
        id,
        client,
        account,
        product,
        principal,
        currency: main.currency,
        rate,
        term,
        start,
        maturity: plus_months(start, term),
        status: LoanStatus::Current,
    };
    installments(&loan, behaviour, end, rng, payments);
    loan.status = loan_status(payments, term);
    loan
}

/// The installments of `loan` due up to `end`.
fn installments(
    loan: &Loan,
    behaviour: Behaviour,
    end: NaiveDate,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Payment>,
) {
    let due_count = (1..=loan.term)
        .take_while(|&k| plus_months(loan.start, k) <= end)
        .count() as u32;
    let tail = match behaviour {
        Behaviour::Good => 0,
        Behaviour::Late => 1,
        Behaviour::Default => rng.random_range(3..=5),
        Behaviour::WrittenOff => rng.random_range(6..=9),
    };
    let amount = annuity(loan.principal, loan.rate, loan.term);
    for k in 1..=due_count {
        let due = plus_months(loan.start, k);
        let outcome = match behaviour {
            _ if k + tail <= due_count => ordinary_outcome(rng, due, end, 0.03),
            Behaviour::Late if rng.random_bool(0.5) => Outcome::Late(rng.random_range(10..=40)),
            _ => Outcome::Unpaid,
        };
        let (status, paid) = settle(due, outcome, end, rng);
        out.push(Payment {
            loan: Some(loan.id),
            account: loan.account,
            due,
            paid,
            amount,
            currency: loan.currency,
            kind: PayKind::Installment,
            status,
        });
    }
}

/// On time, or with probability `late` 1–20 days late when there was time for it.
fn ordinary_outcome(rng: &mut ChaCha8Rng, due: NaiveDate, end: NaiveDate, late: f64) -> Outcome {
    if (end - due).num_days() > 30 && rng.random_bool(late) {
        Outcome::Late(rng.random_range(1..=20))
    } else {
        Outcome::OnTime
    }
}

/// Status and payment time of a payment due on `due`, as of the end of `end`.
fn settle(
    due: NaiveDate,
    outcome: Outcome,
    end: NaiveDate,
    rng: &mut ChaCha8Rng,
) -> (PayStatus, Option<NaiveDateTime>) {
    let overdue = (end - due).num_days();
    let at = |date: NaiveDate, rng: &mut ChaCha8Rng| {
        date.and_time(NaiveTime::MIN) + TimeDelta::seconds(rng.random_range(6 * 3600..22 * 3600))
    };
    match outcome {
        Outcome::OnTime if overdue < 3 && rng.random_bool(0.5) => (PayStatus::Pending, None),
        Outcome::OnTime => {
            let early = rng.random_range(0..=3);
            (PayStatus::Paid, Some(at(plus_days(due, -early), rng)))
        }
        Outcome::Late(days) if days <= overdue => {
            (PayStatus::Late, Some(at(plus_days(due, days), rng)))
        }
        Outcome::Late(_) | Outcome::Unpaid if overdue < GRACE_DAYS => (PayStatus::Pending, None),
        Outcome::Late(_) | Outcome::Unpaid => (PayStatus::Missed, None),
    }
}

fn loan_status(installments: &[Payment], term: u32) -> LoanStatus {
    let missed = installments
        .iter()
        .filter(|p| p.status == PayStatus::Missed)
        .count();
    let recently_late = installments
        .iter()
        .rev()
        .take(3)
        .any(|p| p.status == PayStatus::Late);
    let all_paid = installments
        .iter()
        .all(|p| matches!(p.status, PayStatus::Paid | PayStatus::Late));
    match missed {
        6.. => LoanStatus::WrittenOff,
        3.. => LoanStatus::Default,
        1.. => LoanStatus::Late,
        _ if recently_late => LoanStatus::Late,
        _ if all_paid && installments.len() as u32 == term => LoanStatus::Repaid,
        _ => LoanStatus::Current,
    }
}

/// The monthly installment (annuity) of `principal` cents at `rate` (units of 0.0001).
fn annuity(principal: i64, rate: i64, term: u32) -> i64 {
    let monthly = rate as f64 / 10_000.0 / 12.0;
    let p = principal as f64;
    let n = f64::from(term.max(1));
    let amount = if monthly <= 0.0 {
        p / n
    } else {
        p * monthly / (1.0 - (1.0 + monthly).powf(-n))
    };
    (amount.round() as i64).max(1)
}

/// Card repayments, account fees and standing orders of account `a` inside the window.
fn account_payments(
    ctx: &Ctx,
    bank: &Bank,
    fx: &FxTable,
    a: usize,
    months: &[NaiveDate],
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Payment>,
) {
    let account = &bank.accounts[a];
    let profile = account.profile;
    let charges_fee = product_of(account).fee_cents > 0 && rng.random_bool(0.3);
    let standing_order = rng.random_bool(0.08);
    let Some((from, to)) = profile.live else {
        return;
    };
    let (first, last) = (
        ctx.window.date(i64::from(from)),
        ctx.window.date(i64::from(to)),
    );
    for &month in months {
        let mut plan: Vec<(PayKind, NaiveDate, f64)> = Vec::new();
        if profile.mix == Mix::CreditCard {
            let eur = profile.typical_eur * between(rng, 3.0, 15.0);
            plan.push((PayKind::CardRepayment, plus_days(month, 19), eur));
        }
        if profile.mix == Mix::Current && charges_fee {
            let fee = product_of(account).fee_cents as f64 / 100.0;
            plan.push((PayKind::Fee, plus_days(plus_months(month, 1), -1), fee));
        }
        if profile.mix == Mix::Current && standing_order {
            let eur = profile.typical_eur * between(rng, 5.0, 20.0);
            plan.push((PayKind::Transfer, month, eur));
        }
        for (kind, due, eur) in plan {
            if due < first || due > last {
                continue;
            }
            let outcome = if rng.random_bool(0.02) {
                Outcome::Unpaid
            } else {
                ordinary_outcome(rng, due, ctx.window.end, 0.03)
            };
            let (status, paid) = settle(due, outcome, ctx.window.end, rng);
            let currency = if kind == PayKind::Fee {
                product_of(account).currency
            } else {
                account.currency
            };
            let amount = if kind == PayKind::Fee {
                product_of(account).fee_cents
            } else {
                let per_eur = fx.per_eur(currency, ctx.window.day_of(due));
                ((eur * per_eur * 100.0).round() as i64).max(1)
            };
            out.push(Payment {
                loan: None,
                account: a as u32,
                due,
                paid,
                amount,
                currency,
                kind,
                status,
            });
        }
    }
}

fn render_loan(loan: &Loan, f: &mut FieldBuf) {
    f.id("LN", loan.id, 7);
    client_id(f, loan.client);
    account_id(f, loan.account)
        .text(PRODUCTS[loan.product as usize].id)
        .fixed(loan.principal, 2)
        .text(loan.currency.code())
        .fixed(loan.rate, 4)
        .int(i64::from(loan.term))
        .date(loan.start)
        .date(loan.maturity)
        .text(match loan.status {
            LoanStatus::Current => "current",
            LoanStatus::Late => "late",
            LoanStatus::Default => "default",
            LoanStatus::Repaid => "repaid",
            LoanStatus::WrittenOff => "written_off",
        });
}

fn render_payment(p: &Payment, id: u64, f: &mut FieldBuf) {
    f.id("PY", id, 9).opt(p.loan, |f, loan| f.id("LN", loan, 7));
    account_id(f, p.account)
        .date(p.due)
        .opt(p.paid, FieldBuf::datetime)
        .fixed(p.amount, 2)
        .text(p.currency.code())
        .text(match p.kind {
            PayKind::Installment => "installment",
            PayKind::Fee => "fee",
            PayKind::CardRepayment => "card_repayment",
            PayKind::Transfer => "transfer",
        })
        .text(match p.status {
            PayStatus::Paid => "paid",
            PayStatus::Late => "late",
            PayStatus::Missed => "missed",
            PayStatus::Pending => "pending",
        });
}
