//! Schedules: deployments (a flow, its parameters and a cron schedule in a time zone)
//! and the scheduler that launches their runs on time, across restarts.
//!
//! # The mental model
//! - A [`Deployment`] is a `[[deployments]]` entry of the configuration, checked by
//!   [`validate`] (every problem at once, each naming its deployment and field). Its
//!   [`Schedule`] gives its next runs ([`Schedule::next_runs`]) and says itself in
//!   words ([`Schedule::describe`]).
//! - The [`Scheduler`] keeps, per deployment, a *watermark* in the run store
//!   ([`DeploymentState`](crate::runtime::store::DeploymentState)): every occurrence at or
//!   before it was launched or skipped. [`Scheduler::due`] is pure: given the stored
//!   states and the time, the occurrences to launch. [`Scheduler::tick`] claims each
//!   in the store (moving the watermark to it) *before* asking the [`Launcher`] to
//!   start it, so a restart never launches an occurrence twice (a crash between the
//!   claim and the launch loses that one run: at most once, never twice).
//!   [`Scheduler::run`] ticks at each due time, on a [`Clock`].
//! - An occurrence at most [`grace`](SchedulerOptions::grace) late is on time and is
//!   launched. Later ones were *missed* (the process was down): the deployment's
//!   [`CatchUp`] decides — `skip` none, `latest` the most recent once, `all` each,
//!   oldest first, up to [`max_catch_up`](SchedulerOptions::max_catch_up).
//! - A paused deployment launches nothing; its occurrences pass and are skipped, not
//!   caught up on resume. Pause and resume live in the run store and win over the
//!   configuration's `paused` once set.
//! - [`crontab`] prints the deployments for the system's cron instead,
//!   [`business_dates`] expands a backfill's range, and [`new_backfill_id`] names the
//!   group its runs form.
//!
//! # Daylight saving time
//! A schedule is read on the wall clock of its time zone (e.g. `0 8 * * *` in
//! `Europe/Paris` is 07:00 UTC in winter and 06:00 UTC in summer). When the clock
//! changes, the rules are those of cronie and Prefect, as implemented by the `croner`
//! crate (the Open Cron Pattern Specification):
//! - **A local time that does not exist** (spring forward: in Paris on the last Sunday
//!   of March, 02:00–02:59 are skipped) runs **once, at the first instant after the
//!   gap**: `30 2 * * *` runs at 03:00 local (01:00 UTC) that day. This holds for
//!   patterns with one fixed hour and minute; a pattern that repeats (`*/15 * * * *`,
//!   `0 * * * *`) simply has no occurrence in the gap.
//! - **A local time that happens twice** (fall back: in Paris on the last Sunday of
//!   October, 02:00–02:59 come twice) runs **once, at its first occurrence** (summer
//!   time) for a fixed hour and minute; a repeating pattern runs in both, as real time
//!   passes (`0 * * * *` runs at both 02:00s).
//!
//! # Cron expressions
//! Five fields: minute, hour, day of month, month, day of week (0–7, Sunday being 0
//! and 7; names `MON`–`SUN`, `JAN`–`DEC`), with `*`, lists, ranges and steps, and the
//! nicknames `@daily`, `@weekly`, …; no seconds, no year. As in Vixie cron, a day of
//! month and a day of week both restricted match either. `L` (last) and `#` (nth
//! weekday) are accepted too.

mod backfill;
mod clock;
mod cron;
mod crontab;
mod deployment;
mod describe;
mod error;
mod scheduler;

pub use backfill::{DEFAULT_MAX_BACKFILL_DAYS, business_dates, new_backfill_id};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::Schedule;
pub use crontab::crontab;
pub use deployment::{CatchUp, Deployment, validate};
pub use error::{Problem, Result, ScheduleError};
pub use scheduler::{DueRun, Launcher, Scheduler, SchedulerOptions};
