//! The `tracing` events of the code a task runs, stored with the task run's logs.
//!
//! The executor runs each task run inside a span, `task_run` (fields `run`, `task`,
//! `task_run`), at level `ERROR` so that every usual filter keeps it. When the
//! process's subscriber holds a [`TaskLogLayer`], the span also carries where the
//! task run's lines go, and the layer stores every event inside it (or inside a span
//! within it) as a line of that task run: its level (`TRACE` as `debug`), its message
//! and its other fields (`message key=value …`), as the console would show them.
//!
//! # What is and is not stored
//! - Only the events the subscriber's filter lets through: the layer sits beside the
//!   console's, under the same filter (or its own, with `Layer::with_filter`).
//! - An event outside any task run costs a lookup of the current span and nothing
//!   more (no allocation).
//! - The console's copy of a line written with
//!   [`TaskContext::log`](super::TaskContext::log) is not stored twice.
//! - A span does not follow work to another thread by itself: a task that hands work
//!   to a blocking thread does it with [`spawn_blocking`] (a drop-in for tokio's),
//!   which runs the closure in the caller's span; work spawned as another tokio task
//!   keeps it with [`tracing::Instrument::in_current_span`].
//! - The subscriber must be built on `tracing_subscriber`'s registry (as
//!   `tracing_subscriber::registry()` and `tracing_subscriber::fmt()` are); a filter
//!   that turns this module's target off turns the stored events off too.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::EnvFilter::new("info"))
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(orchestration::runtime::TaskLogLayer)
//!     .init();
//! ```

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::span::Id;
use tracing::{Dispatch, Event, Level, Span, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::logs::{ECHO_TARGET, LogLevel, LogSink};
use super::store::{FlowRunId, TaskRunId};

/// A `tracing_subscriber` layer that stores the events inside a task run's span with
/// that task run's logs (see the [module](self) docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskLogLayer;

/// Where the events inside a task run's span go: the span's extension.
struct TaskRunSink {
    sink: LogSink,
    task_run: TaskRunId,
}

impl<S> Layer<S> for TaskLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(current) = ctx.event_span(event) else {
            return;
        };
        if event.metadata().target() == ECHO_TARGET {
            return;
        }
        for span in current.scope() {
            if let Some(target) = span.extensions().get::<TaskRunSink>() {
                let mut line = Line::default();
                event.record(&mut line);
                target
                    .sink
                    .store(Some(target.task_run), level(event), line.text());
                return;
            }
        }
    }
}

/// The span a task run runs in; it carries the task run's sink when the subscriber
/// has a [`TaskLogLayer`].
pub(crate) fn task_span(sink: &LogSink, run: FlowRunId, task: &str, task_run: TaskRunId) -> Span {
    let span = tracing::error_span!("task_run", %run, task, task_run = task_run.0);
    span.with_subscriber(|(id, dispatch)| attach(dispatch, id, sink, task_run));
    span
}

/// Puts the task run's sink in span `id`'s extensions, if the layer is there to use it.
fn attach(dispatch: &Dispatch, id: &Id, sink: &LogSink, task_run: TaskRunId) {
    if dispatch.downcast_ref::<TaskLogLayer>().is_none() {
        return;
    }
    if let Some(span) = dispatch
        .downcast_ref::<Registry>()
        .and_then(|registry| registry.span(id))
    {
        span.extensions_mut().insert(TaskRunSink {
            sink: sink.clone(),
            task_run,
        });
    }
}

/// [`tokio::task::spawn_blocking`], the closure running in the caller's span (and
/// with its subscriber): the `tracing` events of a task's blocking work are stored
/// with the task run's logs.
pub fn spawn_blocking<F, R>(work: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = Span::current();
    let dispatch = tracing::dispatcher::get_default(Dispatch::clone);
    tokio::task::spawn_blocking(move || {
        tracing::dispatcher::with_default(&dispatch, || span.in_scope(work))
    })
}

/// An event's level as a log line's (`TRACE` is `debug`).
fn level(event: &Event<'_>) -> LogLevel {
    match *event.metadata().level() {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

/// An event's text: its message, then its other fields as `key=value`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Line {
    fn text(mut self) -> String {
        if self.message.is_empty() {
            return self.fields.trim_start().to_owned();
        }
        self.message.push_str(&self.fields);
        self.message
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            // What `log` records carry when bridged to `tracing`: not the event's own.
            name if name.starts_with("log.") => {}
            name => {
                let _ = write!(self.fields, " {name}={value:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::runtime::store::LogScope;
    use crate::runtime::{Executor, Flow, RunRequest, RunStore, Task, TaskContext, TaskOutput};

    /// Runs a flow of one task, `work`, whose body is `body`, with `subscriber` as the
    /// thread's default (the test's runtime has one thread), and returns the run's
    /// stored lines.
    async fn stored_lines(
        subscriber: impl Subscriber + Send + Sync + 'static,
        body: fn(TaskContext) -> futures::future::BoxFuture<'static, ()>,
    ) -> Vec<(LogLevel, String)> {
        let _default = tracing::subscriber::set_default(subscriber);
        let dir = tempfile::tempdir().expect("temp dir");
        let store = RunStore::open_in(dir.path()).await.expect("store");
        let flow = Flow::builder("traced")
            .task(Task::new("work", move |ctx| async move {
                body(ctx).await;
                Ok(TaskOutput::default())
            }))
            .build()
            .expect("flow");
        tracing::warn!("before the run");
        let run = Executor::new(store.clone())
            .run(&flow, RunRequest::default())
            .await
            .expect("run");
        tracing::warn!("after the run");
        store
            .logs(LogScope::FlowRun(run.run.id), 0, 100)
            .await
            .expect("logs")
            .into_iter()
            .map(|line| (line.level, line.message))
            .collect()
    }

    fn warn_everywhere(ctx: TaskContext) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            tracing::warn!(free_mib = 12, disk = "/data", "disk nearly full");
            tracing::info!(tables = 2, log.target = "deltalake", "bridged from log");
            tracing::info!(tables = 2);
            ctx.log(LogLevel::Warn, "written with the context");
            let inner = tracing::info_span!("inner");
            inner.in_scope(|| tracing::error!("inside a span within the task"));
            spawn_blocking(|| tracing::warn!(rows = 3, "from a blocking thread"))
                .await
                .expect("the blocking work");
            tracing::debug!("too fine for the filter");
        })
    }

    #[tokio::test]
    async fn events_inside_a_task_are_stored_with_its_logs_and_others_are_not() {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(TaskLogLayer);
        let lines = stored_lines(subscriber, warn_everywhere).await;
        let level_of = |text: &str| {
            lines
                .iter()
                .filter(|(_, message)| message == text)
                .map(|(level, _)| *level)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            level_of("disk nearly full free_mib=12 disk=\"/data\""),
            [LogLevel::Warn],
            "{lines:?}"
        );
        assert_eq!(
            level_of("written with the context"),
            [LogLevel::Warn],
            "stored once: {lines:?}"
        );
        assert_eq!(level_of("inside a span within the task"), [LogLevel::Error]);
        assert_eq!(level_of("from a blocking thread rows=3"), [LogLevel::Warn]);
        assert_eq!(
            level_of("bridged from log tables=2"),
            [LogLevel::Info],
            "`log`'s own fields are left out: {lines:?}"
        );
        assert_eq!(level_of("tables=2"), [LogLevel::Info]);
        let texts: Vec<&str> = lines.iter().map(|(_, text)| text.as_str()).collect();
        assert!(
            !texts.iter().any(|t| t.contains("too fine")),
            "the filter holds: {texts:?}"
        );
        assert!(
            !texts.iter().any(|t| t.contains("the run")),
            "events outside the task are not stored: {texts:?}"
        );
    }

    #[tokio::test]
    async fn without_the_layer_only_the_contexts_lines_are_stored() {
        let lines = stored_lines(tracing_subscriber::registry(), warn_everywhere).await;
        let texts: Vec<&str> = lines.iter().map(|(_, text)| text.as_str()).collect();
        assert!(texts.contains(&"written with the context"), "{texts:?}");
        assert!(
            !texts.iter().any(|t| t.contains("disk nearly full")),
            "{texts:?}"
        );
    }
}
