//! Tests that need a server (PostgreSQL, an S3 stand-in): without one they say so and
//! pass, unless the variable that requires it is `1`, as in CI.

/// Reports that `what` is not available because of `why`: fails the test when
/// `require` (such as `BANKPIPE_REQUIRE_PG`) is `1`, else prints `SKIPPED: …` so the
/// skip shows in the output.
pub(crate) fn unavailable(require: &str, what: &str, why: impl std::fmt::Display) {
    if std::env::var(require).as_deref() == Ok("1") {
        panic!("{require}=1 but {what}: {why}");
    }
    eprintln!("SKIPPED: {what}: {why}");
}
