//! Alerts on the pipeline's own failures: a flow run's failed or crashed task is told
//! through the `[quality.alerts]` channels, like a failed data-quality check.
//!
//! Each task of the flow is a check `task.<flow>.<task>` (severity `error`, table
//! `flow <flow>`): failed or crashed fails it, completed or skipped passes it, cancelled
//! (never run, for an upstream failure) leaves it unjudged. So the alerts keep the
//! checks' rules ([`send_alerts`], the same state file): a failing task
//! alerts once, again when its error changes or after `repeat_after_hours`, and a
//! recovery is sent when it completes again.

use monitoring::alerts::{AlertConfig, Delivery};
use monitoring::checks::{Outcome, Severity, Verdict};

use crate::error::Result;
use crate::layout::DataLayout;
use crate::quality::send_alerts;
use crate::runtime::{FlowRunDetail, RunState};

/// The longest error text an alert carries.
const MAX_ERROR: usize = 500;

/// The verdicts of a flow run's tasks (see the [module](self)).
pub fn task_verdicts(detail: &FlowRunDetail) -> Vec<Verdict> {
    let flow = &detail.run.flow;
    detail
        .tasks
        .iter()
        .map(|task| {
            let outcome = match task.state {
                RunState::Failed | RunState::Crashed => Outcome::Fail,
                RunState::Completed | RunState::Skipped => Outcome::Pass,
                _ => Outcome::NotJudged,
            };
            let observed = match (&task.error, outcome) {
                (Some(error), Outcome::Fail) => {
                    let mut text: String = error.chars().take(MAX_ERROR).collect();
                    if text.len() < error.len() {
                        text.push('…');
                    }
                    format!("{} after {} attempt(s): {text}", task.state, task.attempt)
                }
                _ => task.state.to_string(),
            };
            Verdict {
                check: format!("task.{flow}.{}", task.task),
                table: format!("flow {flow}"),
                severity: Severity::Error,
                owner: None,
                outcome,
                observed,
                expected: "completed".to_owned(),
            }
        })
        .collect()
}

/// Sends the alerts that the tasks of run `detail` call for to `config`'s channels,
/// keeping the state in `<data>/monitoring/alert_state.json`, and returns the
/// deliveries (none when there is nothing new to tell or no channel).
pub async fn alert_run(
    detail: &FlowRunDetail,
    config: &AlertConfig,
    layout: &DataLayout,
) -> Result<Vec<Delivery>> {
    if config.channels.is_empty() {
        return Ok(Vec::new());
    }
    let id = detail.run.id.0;
    let (_, deliveries) = send_alerts(
        &task_verdicts(detail),
        config,
        layout,
        &format!("flow run #{id}"),
        &format!("bankpipe serve: /runs/{id}"),
    )
    .await?;
    Ok(deliveries)
}
