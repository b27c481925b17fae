//! The Berka example: the PKDD'99 Czech bank onboarded by configuration alone.

use std::path::PathBuf;

use contract::Entity;
use ingestion::IngestConfig;

use crate::ingest;

fn config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/berka/bankpipe.toml")
}

#[test]
fn berka_maps_onto_the_contract_with_the_published_counts() {
    let config = IngestConfig::from_file(&config_path()).expect("the example's configuration");
    let raw = config
        .raw
        .clone()
        .expect("the example names its raw folder");
    assert!(
        raw.join("trans.asc").is_file(),
        "Berka data expected at {}",
        raw.display()
    );
    let out = ingest(&raw, config);
    let accepted = |entity| out[&entity].accepted_rows();
    let quarantined = |entity: Entity| out[&entity].rejections();

    assert_eq!(
        accepted(Entity::Products),
        7,
        "3 statement kinds, 3 card types, the loan"
    );
    assert_eq!(
        accepted(Entity::Clients),
        5_369,
        "{:?}",
        &quarantined(Entity::Clients)[..3.min(quarantined(Entity::Clients).len())]
    );
    assert_eq!(
        accepted(Entity::Accounts),
        4_500,
        "{:?}",
        quarantined(Entity::Accounts).first()
    );
    assert_eq!(
        accepted(Entity::Loans),
        682,
        "{:?}",
        quarantined(Entity::Loans).first()
    );
    let tx = &out[&Entity::Transactions];
    assert_eq!(tx.summary.raw_rows, 49_102);
    assert_eq!(
        tx.accepted_rows() as u64 + tx.summary.quarantined_total(),
        49_102
    );
    assert!(out[&Entity::Payments].accepted_rows() > 0);
    assert!(!out.contains_key(&Entity::FxRates), "Berka has no FX rates");
}
