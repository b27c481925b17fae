//! Arbitrary bytes never panic the reader, and conservation always holds.

use contract::Entity;
use ingestion::IngestConfig;
use proptest::prelude::*;

use crate::{folder, ingest};

const HEADER: &str = "transaction_id,account_id,booked_at,value_date,amount,direction,currency,channel,merchant_name,mcc,counterparty_iban,country,balance_after,status,description\n";

/// Pieces that make CSV-ish lines: good values, separators, quotes, newlines, junk.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"T1,A1,2024-03-01T08:00:00Z,2024-03-01,10.00,debit,EUR,card,Shop,5411,,FR,90.00,booked,\n".to_vec()),
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xff".to_vec()),
        "[a-zA-Z0-9 .:-]{0,12}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic_and_conserve_rows(pieces in proptest::collection::vec(piece(), 0..40)) {
        let mut content = HEADER.as_bytes().to_vec();
        pieces.iter().for_each(|p| content.extend_from_slice(p));
        let dir = folder(&[("transactions.csv", &content)]);
        // `ingest` asserts raw = accepted + quarantined for every entity.
        let out = ingest(dir.path(), IngestConfig::default());
        let tx = &out[&Entity::Transactions];
        prop_assert_eq!(tx.summary.raw_rows, tx.accepted_rows() as u64 + tx.summary.quarantined_total());
    }
}
