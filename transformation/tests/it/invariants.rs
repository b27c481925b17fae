//! Property tests of the dimension builder's invariants over random delivery
//! sequences: surrogate keys unique and stable, one current version per business key,
//! validity intervals that never overlap, the latest delivery current, reruns idempotent.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use transformation::star_schema::History;

use crate::dimension::run;
use crate::tables::rows;

/// One delivery: client id → city, at most six clients out of eight, three cities.
fn delivery() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        (0..8u8).prop_map(|i| format!("C{i}")),
        prop::sample::select(vec!["Brno", "Praha", "Ostrava"]).prop_map(str::to_owned),
        0..6,
    )
}

/// Registers `batches` as `dim` and checks the invariants that hold after any run.
async fn check(ctx: &SessionContext, batches: Vec<RecordBatch>) -> Vec<String> {
    ctx.deregister_table("dim").expect("deregister");
    ctx.register_batch(
        "dim",
        arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat"),
    )
    .expect("register");
    let violations = [
        (
            "duplicate keys",
            "SELECT client_key FROM dim GROUP BY client_key HAVING count(*) > 1",
        ),
        (
            "not exactly one current version",
            "SELECT client_id FROM dim GROUP BY client_id HAVING sum(CAST(is_current AS INT)) <> 1",
        ),
        (
            "overlapping versions",
            "SELECT a.client_key FROM dim a JOIN dim b ON a.client_id = b.client_id AND a.client_key < b.client_key \
             WHERE a.valid_from < COALESCE(b.valid_to, arrow_cast(9e15, 'Timestamp(Microsecond, Some(\"UTC\"))')) \
               AND b.valid_from < COALESCE(a.valid_to, arrow_cast(9e15, 'Timestamp(Microsecond, Some(\"UTC\"))'))",
        ),
        (
            "a current version that is closed",
            "SELECT client_key FROM dim WHERE is_current AND valid_to IS NOT NULL",
        ),
    ];
    let mut found = Vec::new();
    for (what, sql) in violations {
        let bad = rows(ctx, sql).await;
        if !bad.is_empty() {
            found.push(format!("{what}: {bad:?}"));
        }
    }
    found
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn type2_invariants_hold_across_runs(deliveries in prop::collection::vec(delivery(), 1..4)) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let ctx = SessionContext::new();
            let mut previous: Option<Vec<RecordBatch>> = None;
            let mut keys_so_far: BTreeMap<i64, String> = BTreeMap::new();
            let mut latest: BTreeMap<String, String> = BTreeMap::new();
            for (day, delivery) in deliveries.iter().enumerate() {
                let rows_in: Vec<(&str, &str)> = delivery.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let (batches, table) = run(&ctx, History::Type2, &rows_in, day as i64 + 1, previous.clone()).await;
                let violations = check(&ctx, batches.clone()).await;
                prop_assert!(violations.is_empty(), "day {day}: {violations:?}");
                // A key once given keeps its business key.
                for (key, id, ..) in &table {
                    if let Some(before) = keys_so_far.get(key) {
                        prop_assert_eq!(before, id, "key {} changed owner", key);
                    }
                }
                prop_assert!(keys_so_far.keys().all(|k| table.iter().any(|r| r.0 == *k)), "a key disappeared");
                keys_so_far.extend(table.iter().map(|r| (r.0, r.1.clone())));
                // The current version of each client carries its latest delivered city.
                latest.extend(delivery.clone());
                for (id, city) in &latest {
                    let current = table.iter().find(|r| &r.1 == id && r.4).map(|r| r.2.clone());
                    prop_assert_eq!(current, Some(Some(city.clone())), "client {}", id);
                }
                // Delivering the same rows again changes nothing.
                let (_, again) = run(&ctx, History::Type2, &rows_in, day as i64 + 1, Some(batches.clone())).await;
                prop_assert_eq!(&again, &table, "rerun of day {}", day);
                previous = Some(batches);
            }
            Ok(())
        })?;
    }
}
