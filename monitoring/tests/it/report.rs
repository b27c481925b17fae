//! The HTML report, rendered by a real browser (headless Chromium).
//!
//! Without a `chromium` on the PATH the test says so and passes, unless
//! `BANKPIPE_REQUIRE_BROWSER=1` (CI sets it).

use std::process::Command;

use monitoring::anomaly::Band;
use monitoring::checks::{Outcome, Severity, Verdict};
use monitoring::profile::{ColumnKind, ColumnProfile, TableProfile};
use monitoring::report::{ReportData, Series, html};

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok());
    if found.is_none() {
        assert!(
            std::env::var("BANKPIPE_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "BANKPIPE_REQUIRE_BROWSER=1 but no chromium on the PATH"
        );
        eprintln!("SKIPPED: no chromium on the PATH (apt-get install -y chromium)");
    }
    found
}

fn headless(browser: &str) -> Command {
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--window-size=1280,1600",
    ]);
    command
}

#[test]
fn the_report_renders_in_a_browser_with_its_failures_first() {
    let Some(browser) = chromium() else { return };
    let verdict = |check: &str, severity, outcome| Verdict {
        check: check.into(),
        table: "fact_transactions".into(),
        severity,
        owner: Some("data-team".into()),
        outcome,
        observed: "rows 4900".into(),
        expected: "9000–11000".into(),
    };
    let page = html(&ReportData {
        run_id: "run-42".into(),
        as_of: "2024-03-01".into(),
        verdicts: vec![
            verdict(
                "fact_transactions.rows_usual",
                Severity::Warn,
                Outcome::Fail,
            ),
            verdict("amount_complete", Severity::Error, Outcome::Pass),
        ],
        series: vec![Series {
            title: "fact_transactions rows".into(),
            history: vec![10_000.0, 10_100.0, 9_900.0, 10_050.0, 9_950.0],
            current: 4_900.0,
            band: Some(Band {
                median: 10_000.0,
                low: 9_000.0,
                high: 11_000.0,
            }),
        }],
        quarantine: vec![("transactions".into(), "duplicate".into(), 12)],
        deliveries: Vec::new(),
        profiles: vec![TableProfile {
            table: "transactions".into(),
            rows: 4_900,
            columns: vec![
                ColumnProfile {
                    column: "amount".into(),
                    kind: ColumnKind::Number,
                    nulls: 49,
                    distinct: Some(3_100),
                    min: Some(-2_500.0),
                    max: Some(87_000.0),
                    mean: Some(1_240.5),
                    quantiles: vec![
                        (5, -300.0),
                        (25, 40.0),
                        (50, 210.0),
                        (75, 900.0),
                        (95, 6_400.0),
                    ],
                    top: Vec::new(),
                },
                ColumnProfile {
                    column: "channel".into(),
                    kind: ColumnKind::Text,
                    nulls: 0,
                    distinct: Some(4),
                    min: None,
                    max: None,
                    mean: None,
                    quantiles: Vec::new(),
                    top: vec![("card".into(), 2_450), ("atm".into(), 1_470)],
                },
            ],
        }],
    });
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("report.html");
    std::fs::write(&file, page).expect("write");
    let url = format!("file://{}", file.display());

    let dom = headless(browser)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let failed = dom
        .find("id=\"failed-checks\"")
        .expect("a failed-checks table");
    let every = dom.find("id=\"all-checks\"").expect("an all-checks table");
    assert!(failed < every, "failures come first");
    assert!(dom[failed..every].contains("fact_transactions.rows_usual"));
    assert!(dom.contains("<b id=\"failed\">1</b>"));
    assert!(dom.contains("<svg"), "the history is drawn");
    let profiles = &dom[dom.find("id=\"profiles\"").expect("a profiles section")..];
    assert!(profiles.contains("40.0 · 210 · 900"), "the quartiles");
    assert!(
        profiles.contains("card 50 %"),
        "the frequent codes with their shares"
    );

    let shot = dir.path().join("report.png");
    let status = headless(browser)
        .current_dir(dir.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(status.status.success(), "{status:?}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        png.len() > 20_000,
        "a page with content, not a blank one ({} bytes)",
        png.len()
    );
}
