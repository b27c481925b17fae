//! Every kind of bad row lands in quarantine under its rule, and nothing is lost.

use contract::Entity;
use ingestion::IngestConfig;

use crate::{folder, ingest};

const PRODUCTS: &[u8] = b"product_id,name,category,monthly_fee,interest_rate,currency,active
P1,Current,current_account,2.50,,EUR,true
";
const CLIENTS: &[u8] = b"client_id,first_name,last_name,birth_date,gender,email,phone,city,country,segment,kyc_risk,joined_on,updated_at
C1,Ann,Lee,1980-01-02,F,,,Paris,FR,retail,low,2020-01-01,2024-01-01T00:00:00Z
";
const ACCOUNTS: &[u8] = b"account_id,client_id,product_id,iban,currency,opened_on,closed_on,status,branch_code,updated_at
A1,C1,P1,DE89370400440532013000,EUR,2020-01-01,,active,B01,2024-01-01T00:00:00Z
A2,C1,P1,DE89370400440532013001,EUR,2020-01-01,,active,B01,2024-01-01T00:00:00Z
A3,C1,P1,,EUR,2020-01-01,2019-12-31,closed,B01,2024-01-01T00:00:00Z
A4,C9,P1,,EUR,2020-01-01,,active,B01,2024-01-01T00:00:00Z
";

/// One transaction per rule (and two good ones), with the expected rule per line.
const TRANSACTIONS: &[u8] = b"transaction_id,account_id,booked_at,value_date,amount,direction,currency,channel,merchant_name,mcc,counterparty_iban,country,balance_after,status,description
T1,A1,2024-03-01T08:00:00Z,2024-03-01,10.00,debit,EUR,card,\"Shop, Inc.\",5411,,FR,90.00,booked,
T2,A1,2024-03-01T09:00:00Z,2024-03-01,10.00,debit,EUR,card,Shop,5411,,FR,80.00,booked
T3,A1,2024-03-01T09:00:00Z,2024-03-01,10.00,debit,EUR,card,Sh\xff\xfeop,5411,,FR,80.00,booked,
T4,,2024-03-01T09:00:00Z,2024-03-01,10.00,debit,EUR,card,Shop,5411,,FR,80.00,booked,
T5,A1,yesterday,2024-03-01,10.00,debit,EUR,card,Shop,5411,,FR,80.00,booked,
T6,A1,2024-03-01T09:00:00Z,2024-03-01,0.00,debit,EUR,card,Shop,5411,,FR,80.00,booked,
T7,A1,2024-03-01T09:00:00Z,2024-03-01,10.00,debit,EUR,teleport,Shop,5411,,FR,80.00,booked,
T8,A1,2024-03-01T09:00:00Z,2024-03-01,10.00,debit,EUR,transfer,,,DE89370400440532013001,DE,80.00,booked,
T1,A1,2024-03-01T08:00:00Z,2024-03-01,10.00,debit,EUR,card,\"Shop, Inc.\",5411,,FR,90.00,booked,
T9,A404,2024-03-01T09:00:00Z,2024-03-01,10.00,credit,EUR,online,,,,FR,80.00,booked,
T10,A1,2024-03-02T09:00:00Z,2024-03-02,12.345,debit,EUR,card,\"multi
line\",5411,,FR,80.00,pending,two lines
T11,A1,2024-03-02T09:00:00Z,2024-03-02,\"1,5\",credit,eur,MOBILE,,,,fr,,Booked,
";

const LOANS: &[u8] = b"loan_id,client_id,account_id,product_id,principal,currency,annual_rate,term_months,start_date,maturity_date,status
L1,C1,A1,P1,1000.00,EUR,0.0425,12,2024-01-01,2025-01-01,current
L2,C1,A1,P1,1000.00,EUR,0.0425,12,2024-01-01,2024-01-01,current
L3,C1,A1,P1,1000.00,EUR,0.0425,twelve,2024-01-01,2025-01-01,current
";

#[test]
fn each_bad_row_gets_its_rule_and_nothing_is_lost() {
    let dir = folder(&[
        ("products.csv", PRODUCTS),
        ("clients.csv", CLIENTS),
        ("accounts.csv", ACCOUNTS),
        ("transactions.csv", TRANSACTIONS),
        ("loans.csv", LOANS),
    ]);
    let out = ingest(dir.path(), IngestConfig::default());

    let accounts = &out[&Entity::Accounts];
    let rules: Vec<_> = accounts
        .rejections()
        .into_iter()
        .map(|(line, rule, _)| (line, rule))
        .collect();
    assert_eq!(
        rules,
        [
            (Some(3), "invalid_iban".into()),
            (Some(4), "date_order".into()),
            (Some(5), "orphan_reference".into())
        ]
    );
    assert_eq!(accounts.accepted_rows(), 1);

    let tx = &out[&Entity::Transactions];
    let got: Vec<_> = tx
        .rejections()
        .into_iter()
        .map(|(line, rule, column)| (line.unwrap_or(-1), rule, column))
        .collect();
    let expect = |line: i64, rule: &str, column: Option<&str>| {
        (line, rule.to_owned(), column.map(str::to_owned))
    };
    assert_eq!(
        got,
        [
            expect(3, "malformed_record", None),
            expect(4, "invalid_encoding", Some("merchant_name")),
            expect(5, "missing_required", Some("account_id")),
            expect(6, "unparseable", Some("booked_at")),
            expect(7, "out_of_range", Some("amount")),
            expect(8, "unknown_code", Some("channel")),
            expect(9, "invalid_iban", Some("counterparty_iban")),
            expect(10, "duplicate", Some("transaction_id")),
            expect(11, "orphan_reference", Some("account_id")),
            expect(12, "unparseable", Some("amount")),
            expect(14, "unparseable", Some("amount")),
        ]
    );
    assert_eq!(tx.accepted_rows(), 1, "only T1 is clean");
    assert_eq!(tx.summary.raw_rows, 12);
    assert_eq!(tx.summary.duplicates(), 1);

    let loans = &out[&Entity::Loans];
    let rules: Vec<_> = loans
        .rejections()
        .into_iter()
        .map(|(_, rule, _)| rule)
        .collect();
    assert_eq!(rules, ["date_order", "unparseable"]);
}

#[test]
fn decimal_comma_and_case_are_configurable() {
    let dir = folder(&[(
        "transactions.csv",
        b"transaction_id;account_id;booked_at;value_date;amount;direction;currency;channel;country;status;description\n\
          T1;A1;01/03/2024 08:00;01/03/2024;1,50;DEBIT;eur;Card;fr;BOOKED;\n\
          T2;A1;01/03/2024 09:00;01/03/2024; 2,00 ;debit;EUR;card;FR;booked;N/A\n",
    )]);
    let config = IngestConfig::from_toml(
        r#"[entities.transactions.options]
           delimiter = ";"
           null_values = ["N/A"]
           decimal_comma = true
           date_formats = ["%d/%m/%Y"]
           timestamp_formats = ["%d/%m/%Y %H:%M"]"#,
    )
    .expect("config");
    let out = ingest(dir.path(), config);
    let tx = &out[&Entity::Transactions];
    assert_eq!(tx.summary.quarantined_total(), 0, "{:?}", tx.rejections());
    use ingestion::cleaning::Action;
    let cleaned = &tx.summary.cleaned;
    for column in ["direction", "currency", "channel", "country", "status"] {
        assert_eq!(cleaned.get(column, Action::NormaliseCase), 1, "{column}");
    }
    assert_eq!(cleaned.get("amount", Action::Trim), 1);
    assert_eq!(cleaned.get("description", Action::NullToken), 1);
    assert_eq!(cleaned.get("transaction_id", Action::Trim), 0);
    let batch = &tx.accepted[0];
    use arrow::array::AsArray;
    let amount = batch
        .column_by_name("amount")
        .expect("amount")
        .as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(amount.value(0), 150);
    assert_eq!(
        batch
            .column_by_name("channel")
            .expect("channel")
            .as_string::<i32>()
            .value(0),
        "card"
    );
    assert_eq!(
        batch
            .column_by_name("currency")
            .expect("currency")
            .as_string::<i32>()
            .value(0),
        "EUR"
    );
    let booked = batch.column_by_name("booked_at").expect("booked_at");
    assert_eq!(
        booked
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
            .value(0),
        1_709_280_000_000_000
    );
    assert!(
        tx.summary
            .unchecked_references
            .iter()
            .any(|r| r.contains("account_id"))
    );
}
