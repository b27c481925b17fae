//! Tests of the generator, including a small reference ingestion written from the data
//! contract (not from the generator's tables) that must reproduce `expected.json` exactly,
//! and a small fraud engine that must find every planted pattern and nothing else.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, Timelike};

use super::defects::SPECS;
use super::fields::FieldBuf;
use super::iban;
use super::{GenerateOptions, GenerateSummary, generate};

/// A temporary output folder, removed on drop.
struct TempOut(PathBuf);

impl TempOut {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("bankpipe-generate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempOut {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const END: (i32, u32, u32) = (2024, 6, 28);

fn run(name: &str, scale: f64, seed: u64, defects: f64) -> (TempOut, GenerateSummary) {
    run_ending(name, scale, seed, defects, END)
}

fn run_ending(
    name: &str,
    scale: f64,
    seed: u64,
    defects: f64,
    (y, m, d): (i32, u32, u32),
) -> (TempOut, GenerateSummary) {
    let out = TempOut::new(name);
    let opts = GenerateOptions {
        out: out.0.clone(),
        scale,
        seed,
        defects,
        end_date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
    };
    let summary = generate(&opts).unwrap();
    (out, summary)
}

/// Every file under `dir`, relative path → bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// RFC 4180 records of a CSV file, header first, fields as raw bytes.
fn read_csv(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if quoted {
            match b {
                b'"' if bytes.get(i + 1) == Some(&b'"') => {
                    field.push(b'"');
                    i += 1;
                }
                b'"' => quoted = false,
                _ => field.push(b),
            }
        } else {
            match b {
                b'"' => quoted = true,
                b',' => record.push(std::mem::take(&mut field)),
                b'\n' => {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                _ => field.push(b),
            }
        }
        i += 1;
    }
    records
}

/// The data files of an entity, in name order.
fn entity_files(dir: &Path, entity: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(entity) && (name.ends_with(".csv") || name.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    files
}

fn expected(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("_generator/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Header-keyed valid rows of an entity's CSV files (defect-free runs).
fn rows(dir: &Path, entity: &str) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    for file in entity_files(dir, entity) {
        let records = read_csv(&std::fs::read(&file).unwrap());
        let header: Vec<String> = records[0]
            .iter()
            .map(|h| String::from_utf8(h.clone()).unwrap())
            .collect();
        for record in &records[1..] {
            out.push(
                header
                    .iter()
                    .cloned()
                    .zip(record.iter().map(|f| String::from_utf8(f.clone()).unwrap()))
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let (a, _) = run("det-a", 0.004, 7, 0.03);
    let (b, _) = run("det-b", 0.004, 7, 0.03);
    let (c, _) = run("det-c", 0.004, 8, 0.03);
    let (sa, sb, sc) = (snapshot(&a.0), snapshot(&b.0), snapshot(&c.0));
    assert_eq!(sa.len(), 12);
    assert_eq!(sa, sb);
    let tx = PathBuf::from("transactions.csv");
    assert_ne!(sa[&tx], sc[&tx]);
}

#[test]
fn every_iban_written_passes_mod_97() {
    let (out, _) = run("iban", 0.01, 3, 0.0);
    let mut seen = 0;
    for (entity, column) in [("accounts", "iban"), ("transactions", "counterparty_iban")] {
        for row in rows(&out.0, entity) {
            let value = &row[column];
            if !value.is_empty() {
                assert!(mod97_is_one(value), "{entity}.{column} {value}");
                seen += 1;
            }
        }
    }
    assert!(seen > 1_000);
}

#[test]
fn iban_layouts_have_registry_lengths_and_broken_ones_fail() {
    let lengths = [
        ("DE", 22),
        ("AT", 20),
        ("CZ", 24),
        ("FR", 27),
        ("NL", 18),
        ("BE", 16),
        ("PL", 28),
        ("GB", 22),
        ("CH", 21),
        ("ES", 24),
        ("IT", 27),
        ("SE", 24),
        ("PT", 25),
        ("GR", 27),
        ("HR", 21),
    ];
    let mut rng = super::random::stream(1, super::random::Stream::Fx);
    for (country, length) in lengths {
        let format = iban::format_of(country).unwrap();
        for _ in 0..50 {
            let valid = iban::random(&mut rng, format);
            assert_eq!(valid.len(), length, "{valid}");
            assert!(iban::is_valid(&valid) && mod97_is_one(&valid), "{valid}");
        }
    }
    for _ in 0..500 {
        let broken = iban::broken(&mut rng);
        assert!(
            !iban::is_valid(&broken) && !mod97_is_one(&broken),
            "{broken}"
        );
    }
    assert_eq!(
        iban::build("DE", "370400440532013000"),
        "DE89370400440532013000"
    );
}

/// An independent ISO 13616 check: digits of the rearranged IBAN, mod 97, must be 1.
fn mod97_is_one(iban: &str) -> bool {
    if iban.len() < 5 || !iban.is_ascii() {
        return false;
    }
    let rearranged = format!("{}{}", &iban[4..], &iban[..4]);
    let mut digits = String::new();
    for c in rearranged.chars() {
        match c {
            '0'..='9' => digits.push(c),
            'A'..='Z' => digits.push_str(&(c as u32 - 'A' as u32 + 10).to_string()),
            _ => return false,
        }
    }
    digits.as_bytes().chunks(9).fold(0u64, |r, chunk| {
        let part: u64 = std::str::from_utf8(chunk).unwrap().parse().unwrap();
        (r * 10u64.pow(chunk.len() as u32) + part) % 97
    }) == 1
}

#[test]
fn expected_raw_rows_match_the_data_lines_of_each_file() {
    let (out, summary) = run("lines", 0.01, 5, 0.05);
    let expected = expected(&out.0);
    let entities = expected.as_object().unwrap();
    assert_eq!(entities.len(), 9);
    for (entity, counts) in entities {
        let lines: u64 = entity_files(&out.0, entity)
            .iter()
            .map(|f| {
                std::fs::read(f)
                    .unwrap()
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64
            })
            .sum();
        let header = if entity == "satisfaction" { 0 } else { 1 };
        let raw = counts["raw_rows"].as_u64().unwrap();
        assert_eq!(lines - header, raw, "{entity}");
        let quarantined: u64 = counts["quarantined"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(
            counts["accepted"].as_u64().unwrap() + quarantined,
            raw,
            "{entity}"
        );
        assert_eq!(summary.rows[entity], raw, "{entity}");
    }
}

#[test]
fn every_applicable_rule_gets_a_bad_row() {
    let (out, _) = run("rules", 0.01, 9, 0.05);
    let expected = expected(&out.0);
    for spec in SPECS {
        let quarantined = &expected[spec.entity.name()]["quarantined"];
        for rule in spec.rules {
            let n = quarantined[rule.rule.as_str()].as_u64().unwrap_or(0);
            assert!(n >= 1, "{} {}", spec.entity.name(), rule.rule.as_str());
        }
    }
    let tx_rules = expected["transactions"]["quarantined"]
        .as_object()
        .unwrap()
        .len();
    assert_eq!(
        tx_rules, 9,
        "every rule but date_order, which transactions cannot break"
    );
    let tx = &expected["transactions"];
    let bad: u64 = tx["raw_rows"].as_u64().unwrap() - tx["accepted"].as_u64().unwrap();
    let share = bad as f64 / tx["accepted"].as_u64().unwrap() as f64;
    assert!((0.04..0.06).contains(&share), "{share}");
}

#[test]
fn no_defects_means_nothing_quarantined() {
    let (out, _) = run("clean", 0.005, 2, 0.0);
    let expected = expected(&out.0);
    for (entity, counts) in expected.as_object().unwrap() {
        assert!(
            counts["quarantined"].as_object().unwrap().is_empty(),
            "{entity}"
        );
        assert_eq!(counts["raw_rows"], counts["accepted"], "{entity}");
    }
}

#[test]
fn fx_rates_cover_every_day_and_every_currency_used() {
    let (out, _) = run("fx", 0.01, 4, 0.0);
    let mut have: HashSet<(String, String)> = HashSet::new();
    for row in rows(&out.0, "fx_rates") {
        assert!(row["per_eur"].parse::<f64>().unwrap() > 0.0);
        have.insert((row["date"].clone(), row["currency"].clone()));
    }
    let mut used = BTreeSet::new();
    for entity in ["products", "accounts", "transactions", "loans", "payments"] {
        for row in rows(&out.0, entity) {
            used.insert(row["currency"].to_ascii_uppercase());
        }
    }
    used.remove("EUR");
    assert!(used.len() >= 5, "{used:?}");
    let end = NaiveDate::from_ymd_opt(END.0, END.1, END.2).unwrap();
    let first = end - chrono::Days::new(89 + 30);
    let mut day = first;
    while day <= end {
        for ccy in &used {
            assert!(
                have.contains(&(day.to_string(), ccy.clone())),
                "{day} {ccy}"
            );
        }
        day = day.succ_opt().unwrap();
    }
}

#[test]
fn field_formatting() {
    let mut f = FieldBuf::default();
    f.fixed(-50, 2)
        .fixed(123_456, 2)
        .fixed(25_150_000, 6)
        .fixed(0, 4)
        .id("TX", 42, 10);
    let got: Vec<&[u8]> = f.iter().collect();
    let want: Vec<&[u8]> = vec![
        b"-0.50",
        b"1234.56",
        b"25.150000",
        b"0.0000",
        b"TX0000000042",
    ];
    assert_eq!(got, want);
    f.set(1, b"x");
    assert_eq!(f.get(1), b"x");
    assert_eq!(f.get(2), b"25.150000");
    let mut line = Vec::new();
    let fields: [&[u8]; 4] = [b"a,b", b"say \"hi\"", b"", b"plain"];
    super::writer::encode_csv(&mut line, fields.into_iter());
    assert_eq!(line, b"\"a,b\",\"say \"\"hi\"\"\",,plain\n");
}

// ---------------------------------------------------------------------------------------
// A reference ingestion, written from the contract.

#[derive(Clone, Copy, Debug)]
enum Ty {
    Text,
    Date,
    Ts,
    Dec,
    Int,
    Bool,
    Code(&'static [&'static str]),
    Country,
    Currency,
    Iban,
    Mcc,
}

#[derive(Clone, Copy, Debug)]
enum Bound {
    Positive,
    NonNegative,
    Between(f64, f64),
}

struct Contract {
    entity: &'static str,
    columns: &'static [(&'static str, Ty, bool)],
    bounds: &'static [(&'static str, Bound)],
    key: &'static [&'static str],
    refs: &'static [(&'static str, &'static str)],
    date_order: Option<(&'static str, &'static str, bool)>,
}

const COUNTRIES: &[&str] = &[
    "DE", "AT", "CZ", "FR", "NL", "BE", "PL", "GB", "CH", "ES", "IT", "US", "SE", "PT", "GR", "HR",
    "DK", "NO", "FI", "IE", "LU", "HU", "SK", "SI", "RO", "BG", "LT", "LV", "EE", "JP", "CA", "CN",
];
const CURRENCIES: &[&str] = &[
    "EUR", "USD", "GBP", "CHF", "CZK", "PLN", "SEK", "DKK", "NOK", "HUF", "JPY",
];

use Ty::{Bool, Code, Country, Currency, Date, Dec, Iban, Int, Mcc, Text, Ts};

const CONTRACTS: &[Contract] = &[
    Contract {
        entity: "products",
        columns: &[
            ("product_id", Text, true),
            ("name", Text, true),
            (
                "category",
                Code(&[
                    "current_account",
                    "savings",
                    "credit_card",
                    "personal_loan",
                    "mortgage",
                    "insurance",
                    "investment",
                ]),
                true,
            ),
            ("monthly_fee", Dec, true),
            ("interest_rate", Dec, false),
            ("currency", Currency, true),
            ("active", Bool, true),
        ],
        bounds: &[("monthly_fee", Bound::NonNegative)],
        key: &["product_id"],
        refs: &[],
        date_order: None,
    },
    Contract {
        entity: "clients",
        columns: &[
            ("client_id", Text, true),
            ("first_name", Text, true),
            ("last_name", Text, true),
            ("birth_date", Date, true),
            ("gender", Code(&["f", "m", "x"]), false),
            ("email", Text, false),
            ("phone", Text, false),
            ("city", Text, true),
            ("country", Country, true),
            (
                "segment",
                Code(&["retail", "premium", "private", "business"]),
                true,
            ),
            ("kyc_risk", Code(&["low", "medium", "high"]), true),
            ("joined_on", Date, true),
            ("updated_at", Ts, true),
        ],
        bounds: &[],
        key: &["client_id"],
        refs: &[],
        date_order: None,
    },
    Contract {
        entity: "accounts",
        columns: &[
            ("account_id", Text, true),
            ("client_id", Text, true),
            ("product_id", Text, true),
            ("iban", Iban, false),
            ("currency", Currency, true),
            ("opened_on", Date, true),
            ("closed_on", Date, false),
            (
                "status",
                Code(&["active", "dormant", "closed", "frozen"]),
                true,
            ),
            ("branch_code", Text, true),
            ("updated_at", Ts, true),
        ],
        bounds: &[],
        key: &["account_id"],
        refs: &[("client_id", "clients"), ("product_id", "products")],
        date_order: Some(("opened_on", "closed_on", false)),
    },
    Contract {
        entity: "transactions",
        columns: &[
            ("transaction_id", Text, true),
            ("account_id", Text, true),
            ("booked_at", Ts, true),
            ("value_date", Date, true),
            ("amount", Dec, true),
            ("direction", Code(&["credit", "debit"]), true),
            ("currency", Currency, true),
            (
                "channel",
                Code(&[
                    "branch",
                    "atm",
                    "card",
                    "online",
                    "mobile",
                    "transfer",
                    "direct_debit",
                ]),
                true,
            ),
            ("merchant_name", Text, false),
            ("mcc", Mcc, false),
            ("counterparty_iban", Iban, false),
            ("country", Country, true),
            ("balance_after", Dec, false),
            ("status", Code(&["booked", "pending", "reversed"]), true),
            ("description", Text, false),
        ],
        bounds: &[("amount", Bound::Positive)],
        key: &["transaction_id"],
        refs: &[("account_id", "accounts")],
        date_order: None,
    },
    Contract {
        entity: "loans",
        columns: &[
            ("loan_id", Text, true),
            ("client_id", Text, true),
            ("account_id", Text, true),
            ("product_id", Text, true),
            ("principal", Dec, true),
            ("currency", Currency, true),
            ("annual_rate", Dec, true),
            ("term_months", Int, true),
            ("start_date", Date, true),
            ("maturity_date", Date, true),
            (
                "status",
                Code(&["current", "late", "default", "repaid", "written_off"]),
                true,
            ),
        ],
        bounds: &[
            ("principal", Bound::Positive),
            ("annual_rate", Bound::NonNegative),
            ("term_months", Bound::Positive),
        ],
        key: &["loan_id"],
        refs: &[
            ("client_id", "clients"),
            ("account_id", "accounts"),
            ("product_id", "products"),
        ],
        date_order: Some(("start_date", "maturity_date", true)),
    },
    Contract {
        entity: "payments",
        columns: &[
            ("payment_id", Text, true),
            ("loan_id", Text, false),
            ("account_id", Text, true),
            ("due_date", Date, true),
            ("paid_at", Ts, false),
            ("amount", Dec, true),
            ("currency", Currency, true),
            (
                "kind",
                Code(&["installment", "fee", "card_repayment", "transfer"]),
                true,
            ),
            ("status", Code(&["paid", "late", "missed", "pending"]), true),
        ],
        bounds: &[("amount", Bound::Positive)],
        key: &["payment_id"],
        refs: &[("loan_id", "loans"), ("account_id", "accounts")],
        date_order: None,
    },
    Contract {
        entity: "satisfaction",
        columns: &[
            ("survey_id", Text, true),
            ("client_id", Text, true),
            ("product_id", Text, false),
            (
                "channel",
                Code(&["web", "app", "branch", "phone", "email"]),
                true,
            ),
            ("answered_at", Ts, true),
            ("csat", Int, false),
            ("nps", Int, false),
            ("comment", Text, false),
        ],
        bounds: &[
            ("csat", Bound::Between(1.0, 5.0)),
            ("nps", Bound::Between(0.0, 10.0)),
        ],
        key: &["survey_id"],
        refs: &[("client_id", "clients"), ("product_id", "products")],
        date_order: None,
    },
    Contract {
        entity: "fx_rates",
        columns: &[
            ("date", Date, true),
            ("currency", Currency, true),
            ("per_eur", Dec, true),
        ],
        bounds: &[("per_eur", Bound::Positive)],
        key: &["date", "currency"],
        refs: &[],
        date_order: None,
    },
    Contract {
        entity: "fraud_reports",
        columns: &[
            ("transaction_id", Text, true),
            ("reported_at", Ts, true),
            ("confirmed", Bool, true),
            ("reason", Text, false),
        ],
        bounds: &[],
        key: &["transaction_id", "reported_at"],
        refs: &[("transaction_id", "transactions")],
        date_order: None,
    },
];

fn parses(ty: Ty, v: &str) -> bool {
    let decimal = |v: &str| {
        let digits = v.strip_prefix('-').unwrap_or(v);
        let mut parts = digits.splitn(2, '.');
        let whole = parts.next().unwrap_or("");
        !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && parts
                .next()
                .is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    match ty {
        Date => NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
        Ts => NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        Dec => decimal(v),
        Int => v.parse::<i64>().is_ok(),
        Bool => matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "1" | "0" | "yes" | "no"
        ),
        _ => true,
    }
}

fn known_code(ty: Ty, v: &str) -> bool {
    match ty {
        Code(values) => values.contains(&v.to_ascii_lowercase().as_str()),
        Country => COUNTRIES.contains(&v.to_ascii_uppercase().as_str()),
        Currency => CURRENCIES.contains(&v.to_ascii_uppercase().as_str()),
        Mcc => v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit()),
        _ => true,
    }
}

/// One record's values by column (None: absent or empty), or the rule it already broke.
type Record = Result<HashMap<&'static str, String>, &'static str>;

fn csv_records(dir: &Path, c: &Contract) -> Vec<Record> {
    let mut out = Vec::new();
    for file in entity_files(dir, c.entity) {
        let records = read_csv(&std::fs::read(&file).unwrap());
        for record in &records[1..] {
            if record.len() != c.columns.len() {
                out.push(Err("malformed_record"));
            } else if record.iter().any(|f| std::str::from_utf8(f).is_err()) {
                out.push(Err("invalid_encoding"));
            } else {
                out.push(Ok(c
                    .columns
                    .iter()
                    .zip(record)
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(col, v)| (col.0, String::from_utf8(v.clone()).unwrap()))
                    .collect()));
            }
        }
    }
    out
}

fn jsonl_records(dir: &Path, c: &Contract) -> Vec<Record> {
    let mut out = Vec::new();
    for file in entity_files(dir, c.entity) {
        for line in std::fs::read(&file).unwrap().split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let Ok(text) = std::str::from_utf8(line) else {
                out.push(Err("invalid_encoding"));
                continue;
            };
            let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) else {
                out.push(Err("malformed_record"));
                continue;
            };
            let mut values = HashMap::new();
            for col in c.columns {
                let value = match map.get(col.0) {
                    None | Some(serde_json::Value::Null) => continue,
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                if !value.is_empty() {
                    values.insert(col.0, value);
                }
            }
            out.push(Ok(values));
        }
    }
    out
}

/// The rule a parsed record breaks before the key and reference checks, if any.
fn row_rule(c: &Contract, row: &HashMap<&'static str, String>) -> Option<&'static str> {
    let missing = c
        .columns
        .iter()
        .any(|col| col.2 && !row.contains_key(col.0))
        || (c.entity == "satisfaction" && !row.contains_key("csat") && !row.contains_key("nps"));
    if missing {
        return Some("missing_required");
    }
    let present = || {
        c.columns
            .iter()
            .filter_map(|col| Some((col, row.get(col.0)?)))
    };
    if present().any(|(col, v)| !parses(col.1, v)) {
        return Some("unparseable");
    }
    let breaks = |name: &str, bound: Bound| {
        row.get(name).is_some_and(|v| {
            let x: f64 = v.parse().unwrap();
            match bound {
                Bound::Positive => x <= 0.0,
                Bound::NonNegative => x < 0.0,
                Bound::Between(lo, hi) => x < lo || x > hi,
            }
        })
    };
    if c.bounds.iter().any(|&(name, bound)| breaks(name, bound)) {
        return Some("out_of_range");
    }
    if present().any(|(col, v)| !known_code(col.1, v)) {
        return Some("unknown_code");
    }
    if present().any(|(col, v)| matches!(col.1, Iban) && !mod97_is_one(v)) {
        return Some("invalid_iban");
    }
    if let Some((first, second, strict)) = c.date_order
        && let (Some(a), Some(b)) = (row.get(first), row.get(second))
    {
        let (a, b) = (
            a.parse::<NaiveDate>().unwrap(),
            b.parse::<NaiveDate>().unwrap(),
        );
        if b < a || (strict && b == a) {
            return Some("date_order");
        }
    }
    None
}

/// Ingests every entity in dependency order and counts what it accepts and quarantines.
fn ingest(dir: &Path) -> BTreeMap<&'static str, (u64, BTreeMap<&'static str, u64>)> {
    let mut accepted_keys: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut result = BTreeMap::new();
    for c in CONTRACTS {
        let records = if c.entity == "satisfaction" {
            jsonl_records(dir, c)
        } else {
            csv_records(dir, c)
        };
        let mut keys = HashSet::new();
        let mut accepted = 0;
        let mut quarantined: BTreeMap<&str, u64> = BTreeMap::new();
        for record in records {
            let rule = match record {
                Err(rule) => Some(rule),
                Ok(row) => row_rule(c, &row).or_else(|| {
                    let key: Vec<&str> = c.key.iter().map(|k| row[k].as_str()).collect();
                    let orphan = c.refs.iter().any(|(col, parent)| {
                        row.get(col)
                            .is_some_and(|v| !accepted_keys[parent].contains(v))
                    });
                    if keys.contains(&key.join("\u{1}")) {
                        Some("duplicate")
                    } else if orphan {
                        Some("orphan_reference")
                    } else {
                        keys.insert(key.join("\u{1}"));
                        None
                    }
                }),
            };
            match rule {
                Some(rule) => *quarantined.entry(rule).or_insert(0) += 1,
                None => accepted += 1,
            }
        }
        accepted_keys.insert(c.entity, keys);
        result.insert(c.entity, (accepted, quarantined));
    }
    result
}

#[test]
fn a_reference_ingestion_reproduces_expected_json_exactly() {
    let runs = [
        (11, 0.05, END),
        (12, 0.01, (2024, 2, 29)),
        (13, 0.0, (2023, 12, 31)),
        (14, 0.2, (2025, 1, 31)),
    ];
    for (seed, defects, end) in runs {
        let (out, _) = run_ending(&format!("ingest-{seed}"), 0.01, seed, defects, end);
        let expected = expected(&out.0);
        for (entity, (accepted, quarantined)) in ingest(&out.0) {
            let want = &expected[entity];
            assert_eq!(
                want["accepted"].as_u64().unwrap(),
                accepted,
                "{entity} seed {seed}"
            );
            let want_q: BTreeMap<String, u64> = want["quarantined"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect();
            let got_q: BTreeMap<String, u64> = quarantined
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            assert_eq!(want_q, got_q, "{entity} seed {seed}");
        }
    }
}

#[test]
fn loan_status_agrees_with_its_installments() {
    let (out, _) = run("loans", 0.05, 21, 0.0);
    let mut by_loan: HashMap<String, Vec<HashMap<String, String>>> = HashMap::new();
    for p in rows(&out.0, "payments") {
        if !p["loan_id"].is_empty() {
            by_loan.entry(p["loan_id"].clone()).or_default().push(p);
        }
    }
    let mut statuses = BTreeSet::new();
    for loan in rows(&out.0, "loans") {
        let installments = by_loan.get(&loan["loan_id"]).cloned().unwrap_or_default();
        let missed = installments
            .iter()
            .filter(|p| p["status"] == "missed")
            .count();
        let status = loan["status"].as_str();
        statuses.insert(status.to_string());
        match status {
            "written_off" => assert!(missed >= 6),
            "default" => assert!((3..6).contains(&missed)),
            "late" => assert!(missed >= 1 || installments.iter().any(|p| p["status"] == "late")),
            "current" | "repaid" => assert_eq!(missed, 0),
            other => panic!("status {other}"),
        }
        assert!(loan["maturity_date"] > loan["start_date"]);
    }
    assert!(statuses.len() >= 4, "{statuses:?}");
}

// ---------------------------------------------------------------------------------------
// A small fraud engine configured from fraud_params.json.

struct Tx {
    id: String,
    account: String,
    at: NaiveDateTime,
    eur: f64,
    debit: bool,
    channel: String,
    country: String,
}

fn transactions_in_eur(dir: &Path) -> Vec<Tx> {
    let mut rates: HashMap<(String, String), f64> = HashMap::new();
    for r in rows(dir, "fx_rates") {
        rates.insert(
            (r["date"].clone(), r["currency"].clone()),
            r["per_eur"].parse().unwrap(),
        );
    }
    rows(dir, "transactions")
        .into_iter()
        .map(|r| {
            let at = NaiveDateTime::parse_from_str(&r["booked_at"], "%Y-%m-%dT%H:%M:%SZ").unwrap();
            let rate = if r["currency"] == "EUR" {
                1.0
            } else {
                rates[&(at.date().to_string(), r["currency"].clone())]
            };
            Tx {
                id: r["transaction_id"].clone(),
                account: r["account_id"].clone(),
                at,
                eur: r["amount"].parse::<f64>().unwrap() / rate,
                debit: r["direction"] == "debit",
                channel: r["channel"].to_ascii_lowercase(),
                country: r["country"].clone(),
            }
        })
        .collect()
}

/// Alerts per rule, as sets of transaction ids.
fn detect(txs: &[Tx], p: &serde_json::Value) -> BTreeMap<&'static str, BTreeSet<String>> {
    let f = |path: &[&str]| path.iter().fold(p, |v, k| &v[*k]).as_f64().unwrap();
    let mut by_account: BTreeMap<&str, Vec<&Tx>> = BTreeMap::new();
    for tx in txs {
        by_account.entry(&tx.account).or_default().push(tx);
    }
    let mut alerts: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut alert = |rule: &'static str, tx: &Tx| {
        alerts.entry(rule).or_default().insert(tx.id.clone());
    };
    for list in by_account.values() {
        let (mut sum, mut debits) = (0.0, 0.0);
        let mut countries = HashSet::new();
        let mut structuring: BTreeMap<NaiveDate, Vec<&Tx>> = BTreeMap::new();
        let mut start = 0;
        for (i, tx) in list.iter().enumerate() {
            let mean = (debits > 0.0).then(|| sum / debits);
            if tx.debit
                && debits >= f(&["large_amount", "min_prior_debits"])
                && mean.is_some_and(|m| tx.eur >= f(&["large_amount", "min_factor"]) * m)
            {
                alert("large_amount", tx);
            }
            if i > 0 {
                let gap = (tx.at - list[i - 1].at).num_seconds() as f64 / 86_400.0;
                if tx.debit
                    && gap >= f(&["dormant_reactivation", "min_gap_days"])
                    && mean
                        .is_some_and(|m| tx.eur >= f(&["dormant_reactivation", "min_factor"]) * m)
                {
                    alert("dormant_reactivation", tx);
                }
            }
            let history_days = (tx.at - list[0].at).num_seconds() as f64 / 86_400.0;
            if tx.channel == "card"
                && !countries.contains(&tx.country)
                && history_days >= f(&["new_country", "min_history_days"])
            {
                alert("new_country", tx);
            }
            if tx.channel == "atm"
                && tx.debit
                && f64::from(tx.at.hour()) < f(&["night_atm", "to_hour_utc"])
            {
                alert("night_atm", tx);
            }
            let window = f(&["velocity", "window_seconds"]) as i64;
            while (tx.at - list[start].at).num_seconds() >= window {
                start += 1;
            }
            if (i + 1 - start) as f64 >= f(&["velocity", "min_count"]) {
                for t in &list[start..=i] {
                    alert("velocity", t);
                }
            }
            let lower = f(&["structuring", "lower_bound_eur"]);
            let threshold = f(&["structuring", "threshold_eur"]);
            if !tx.debit
                && (tx.channel == "atm" || tx.channel == "branch")
                && (lower..threshold).contains(&tx.eur)
            {
                structuring.entry(tx.at.date()).or_default().push(tx);
            }
            if tx.debit {
                sum += tx.eur;
                debits += 1.0;
            }
            countries.insert(tx.country.clone());
        }
        for day in structuring.values() {
            if day.len() as f64 >= f(&["structuring", "min_count"]) {
                for t in day {
                    alert("structuring", t);
                }
            }
        }
    }
    alerts
}

#[test]
fn a_fraud_engine_finds_every_planted_pattern_and_nothing_else() {
    let (out, _) = run("fraud", 0.05, 31, 0.0);
    let params: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.0.join("_generator/fraud_params.json")).unwrap(),
    )
    .unwrap();
    let txs = transactions_in_eur(&out.0);
    let account_of: HashMap<&str, &str> = txs
        .iter()
        .map(|t| (t.id.as_str(), t.account.as_str()))
        .collect();
    let mut planted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let records = read_csv(&std::fs::read(out.0.join("_generator/planted_frauds.csv")).unwrap());
    for r in &records[1..] {
        let (id, rule) = (
            String::from_utf8(r[0].clone()).unwrap(),
            String::from_utf8(r[1].clone()).unwrap(),
        );
        planted.entry(rule).or_default().insert(id);
    }
    assert_eq!(planted.len(), 6, "{:?}", planted.keys());
    let alerts = detect(&txs, &params);
    for (rule, ids) in &planted {
        let found = alerts.get(rule.as_str()).cloned().unwrap_or_default();
        let missed: Vec<&String> = ids.difference(&found).collect();
        assert!(
            missed.is_empty(),
            "{rule}: planted but not found {missed:?}"
        );
        let accounts: HashSet<&str> = ids.iter().map(|id| account_of[id.as_str()]).collect();
        let extra: Vec<&String> = found
            .iter()
            .filter(|id| !accounts.contains(account_of[id.as_str()]))
            .collect();
        assert!(
            extra.is_empty(),
            "{rule}: alerts on ordinary accounts {extra:?}"
        );
    }
    let reports = rows(&out.0, "fraud_reports");
    let confirmed = reports.iter().filter(|r| r["confirmed"] == "true").count();
    assert!(confirmed > 0 && confirmed < reports.len());
}
