//! Writes the reference entities: `products.csv`, `clients.csv` and `accounts.csv`.

use contract::Entity;

use super::GenerateError;
use super::bank::{Account, Bank, Client, account_iban, product_of};
use super::catalog::{COUNTRIES, PRODUCTS, Product};
use super::context::Ctx;
use super::fields::FieldBuf;
use super::writer::Written;

/// The client id of client `i` (`CL00000001`).
pub(crate) fn client_id(f: &mut FieldBuf, i: u32) -> &mut FieldBuf {
    f.id("CL", u64::from(i) + 1, 8)
}

/// The account id of account `a` (`AC00000001`).
pub(crate) fn account_id(f: &mut FieldBuf, a: u32) -> &mut FieldBuf {
    f.id("AC", u64::from(a) + 1, 8)
}

/// A code, in upper case when `upper` (input codes are case-insensitive).
pub(crate) fn code<'f>(f: &'f mut FieldBuf, code: &str, upper: bool) -> &'f mut FieldBuf {
    if upper {
        f.text(&code.to_ascii_uppercase())
    } else {
        f.text(code)
    }
}

pub(crate) fn write_products(ctx: &Ctx) -> Result<Written, GenerateError> {
    let mut writer = ctx.csv_writer(Entity::Products)?;
    writer.write_batch(PRODUCTS, |p: &Product, f| {
        f.text(p.id)
            .text(p.name)
            .text(p.category.code())
            .fixed(p.fee_cents, 2)
            .opt(p.rate, |f, r| f.fixed(r, 4))
            .text(p.currency.code())
            .boolean(p.active);
    })?;
    writer.close()
}

pub(crate) fn write_clients(ctx: &Ctx, bank: &Bank) -> Result<Written, GenerateError> {
    let mut writer = ctx.csv_writer(Entity::Clients)?;
    let mut index = 0u32;
    writer.write_batch(&bank.clients, |c: &Client, f| {
        client_id(f, index)
            .text(c.first)
            .text(c.last)
            .date(c.birth)
            .opt(c.gender, FieldBuf::text)
            .opt(c.email.as_deref(), FieldBuf::text)
            .opt(c.phone.as_deref(), FieldBuf::text)
            .text(c.city)
            .text(COUNTRIES[c.country as usize].code);
        code(f, c.segment.code(), c.upper)
            .text(c.kyc)
            .date(c.joined)
            .timestamp(c.updated.0, c.updated.1);
        index += 1;
    })?;
    writer.close()
}

pub(crate) fn write_accounts(ctx: &Ctx, bank: &Bank) -> Result<Written, GenerateError> {
    let mut writer = ctx.csv_writer(Entity::Accounts)?;
    let mut index = 0u32;
    writer.write_batch(&bank.accounts, |a: &Account, f| {
        account_id(f, index);
        client_id(f, a.client)
            .text(product_of(a).id)
            .opt(
                a.has_iban.then(|| account_iban(index as usize)),
                |f, iban| f.text(&iban),
            )
            .text(a.currency.code())
            .date(a.opened)
            .opt(a.closed, FieldBuf::date);
        code(f, a.status.code(), a.upper)
            .id("BR", u64::from(bank.clients[a.client as usize].branch), 3)
            .timestamp(a.updated.0, a.updated.1);
        index += 1;
    })?;
    writer.close()
}
