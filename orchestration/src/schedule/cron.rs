//! A deployment's schedule: a 5-field cron expression read in an IANA time zone, and
//! its occurrences as instants (UTC). The rules at daylight saving time changes are
//! in the [module's documentation](super#daylight-saving-time).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::describe::describe;

/// A cron expression in a time zone: when a deployment runs.
#[derive(Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
    timezone: Tz,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?} in {})", self.expression, self.timezone)
    }
}

impl Schedule {
    /// The schedule of cron `expression` in time zone `timezone`, or the message that
    /// says what is wrong with each (`(field, message)`: `cron`, `timezone`).
    pub(super) fn parse(
        expression: &str,
        timezone: &str,
    ) -> Result<Schedule, Vec<(&'static str, String)>> {
        let cron = parse_cron(expression).map_err(|message| ("cron", message));
        let timezone = Tz::from_str(timezone).map_err(|_| {
            (
                "timezone",
                format!(
                    "unknown time zone `{timezone}`: use an IANA name such as `Europe/Paris`, \
                     `America/New_York` or `UTC` (case matters)"
                ),
            )
        });
        match (cron, timezone) {
            (Ok(cron), Ok(timezone)) => Ok(Schedule {
                expression: expression.trim().to_owned(),
                cron,
                timezone,
            }),
            (cron, timezone) => Err([cron.err(), timezone.err()].into_iter().flatten().collect()),
        }
    }

    /// The cron expression, as declared.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone it is read in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first occurrence strictly after `after`, or `None` if there is none (a
    /// pattern that matches no date, like the 30th of February, or past year 5000).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.trunc_subsecs(0).with_timezone(&self.timezone);
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        Some(next.with_timezone(&Utc))
    }

    /// The next `n` occurrences strictly after `after`, oldest first (fewer if the
    /// pattern runs out, see [`next_after`](Self::next_after)).
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.next_after(after), |&at| self.next_after(at))
            .take(n)
            .collect()
    }

    /// The latest occurrence at or before `at` (`inclusive`) or strictly before it.
    pub(super) fn previous(&self, at: DateTime<Utc>, inclusive: bool) -> Option<DateTime<Utc>> {
        let local = at.trunc_subsecs(0).with_timezone(&self.timezone);
        let previous = self.cron.find_previous_occurrence(&local, inclusive).ok()?;
        Some(previous.with_timezone(&Utc))
    }

    /// The schedule in words: `every day at 08:00 (Europe/Paris)`, `at minute 15 of
    /// every hour (UTC)`, `at 06:30 on Monday to Friday (Europe/Paris)`, … and, for a
    /// pattern with no simple wording, `cron '0 8 1-7 * 1' in Europe/Paris`.
    pub fn describe(&self) -> String {
        describe(&self.expression, self.timezone.name())
    }
}

/// Parses a 5-field cron expression (minute hour day-of-month month day-of-week; no
/// seconds, no year) that matches at least one date.
fn parse_cron(expression: &str) -> Result<Cron, String> {
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    let cron = parser.parse(expression).map_err(|error| {
        format!(
            "`{expression}` is not a 5-field cron expression (minute hour day-of-month month \
             day-of-week, e.g. `0 8 * * *` for 08:00 every day): {error}"
        )
    })?;
    // croner searches up to the year 5000: a pattern it finds nothing for matches no date.
    if cron
        .find_next_occurrence(&DateTime::<Utc>::UNIX_EPOCH, false)
        .is_err()
    {
        return Err(format!(
            "`{expression}` matches no date (a day that its months do not have?)"
        ));
    }
    Ok(cron)
}
