//! Where alerts go: the log, a JSON-lines file, a webhook, e-mail. Each channel has a
//! minimum severity; a failed delivery is retried with backoff, logged, and returned
//! as a [`Delivery`] with its error, so the run can record and show it.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Alert, AlertKind};
use crate::checks::Severity;

/// One configured channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "ChannelToml")]
pub struct ChannelConfig {
    /// Alerts below this severity are not sent here.
    pub min_severity: Severity,
    /// The channel.
    pub channel: Channel,
}

/// A channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Channel {
    /// The process's log (tracing), at the alert's level.
    Log,
    /// One JSON object per alert, appended to a file.
    JsonLines {
        /// The file.
        path: PathBuf,
    },
    /// An HTTP POST per alert of `{"text": …, "alert": {…}}`: Slack's and Teams'
    /// incoming webhooks show the `text`.
    Webhook {
        /// The URL (its path is often the secret: it is never printed).
        url: String,
        /// Seconds before an attempt is abandoned.
        timeout_secs: u64,
        /// Attempts after the first.
        retries: u32,
    },
    /// One e-mail per run with every alert, over SMTP (no TLS: the bank's relay).
    Email {
        /// The SMTP server.
        host: String,
        /// Its port.
        port: u16,
        /// The sender.
        from: String,
        /// The recipients.
        to: Vec<String>,
        /// Attempts after the first.
        retries: u32,
    },
}

impl Channel {
    /// The channel in words, without secrets.
    pub fn describe(&self) -> String {
        match self {
            Channel::Log => "log".into(),
            Channel::JsonLines { path } => format!("jsonl {}", path.display()),
            Channel::Webhook { url, .. } => match reqwest::Url::parse(url) {
                Ok(url) => format!(
                    "webhook {}://{}",
                    url.scheme(),
                    url.host_str().unwrap_or("?")
                ),
                Err(_) => "webhook (invalid URL)".into(),
            },
            Channel::Email { host, port, to, .. } => {
                format!("email via {host}:{port} to {}", to.join(", "))
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelToml {
    #[serde(default = "warn")]
    min_severity: Severity,
    #[serde(default)]
    log: bool,
    jsonl: Option<JsonlToml>,
    webhook: Option<WebhookToml>,
    email: Option<EmailToml>,
}

fn warn() -> Severity {
    Severity::Warn
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlToml {
    path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookToml {
    url: String,
    #[serde(default = "ten")]
    timeout_secs: u64,
    #[serde(default = "three")]
    retries: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailToml {
    host: String,
    #[serde(default = "smtp_port")]
    port: u16,
    from: String,
    to: Vec<String>,
    #[serde(default = "three")]
    retries: u32,
}

fn ten() -> u64 {
    10
}

fn three() -> u32 {
    3
}

fn smtp_port() -> u16 {
    25
}

impl TryFrom<ChannelToml> for ChannelConfig {
    type Error = String;

    fn try_from(raw: ChannelToml) -> Result<ChannelConfig, String> {
        let mut channels = Vec::new();
        if raw.log {
            channels.push(Channel::Log);
        }
        if let Some(JsonlToml { path }) = raw.jsonl {
            channels.push(Channel::JsonLines { path });
        }
        if let Some(WebhookToml {
            url,
            timeout_secs,
            retries,
        }) = raw.webhook
        {
            channels.push(Channel::Webhook {
                url,
                timeout_secs,
                retries,
            });
        }
        if let Some(EmailToml {
            host,
            port,
            from,
            to,
            retries,
        }) = raw.email
        {
            channels.push(Channel::Email {
                host,
                port,
                from,
                to,
                retries,
            });
        }
        if channels.len() != 1 {
            return Err(format!(
                "an alert channel needs exactly one of log = true, jsonl, webhook, email (it has {})",
                channels.len()
            ));
        }
        Ok(ChannelConfig {
            min_severity: raw.min_severity,
            channel: channels.remove(0),
        })
    }
}

/// What became of the alerts sent to one channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delivery {
    /// The channel, in words.
    pub channel: String,
    /// The alerts meant for it.
    pub alerts: usize,
    /// Attempts made (for the last alert sent).
    pub attempts: u32,
    /// Why delivery failed, after the retries; none when it succeeded.
    pub error: Option<String>,
}

/// Sends each channel the alerts at or above its severity. Never fails: what could
/// not be delivered comes back with its error (and is logged).
pub async fn deliver(alerts: &[Alert], channels: &[ChannelConfig]) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    for config in channels {
        let chosen: Vec<&Alert> = alerts
            .iter()
            .filter(|a| a.severity >= config.min_severity)
            .collect();
        if chosen.is_empty() {
            continue;
        }
        let (attempts, result) = match &config.channel {
            Channel::Log => {
                chosen.iter().for_each(|a| log(a));
                (1, Ok(()))
            }
            Channel::JsonLines { path } => (1, append_lines(path, &chosen)),
            Channel::Webhook {
                url,
                timeout_secs,
                retries,
            } => post_all(url, Duration::from_secs(*timeout_secs), *retries, &chosen).await,
            Channel::Email {
                host,
                port,
                from,
                to,
                retries,
            } => {
                let mail = Mail {
                    host,
                    port: *port,
                    from,
                    to,
                };
                with_retries(*retries, || send_mail(&mail, &chosen)).await
            }
        };
        let channel = config.channel.describe();
        if let Err(error) = &result {
            tracing::error!(%channel, %error, alerts = chosen.len(), "alert delivery failed");
        }
        deliveries.push(Delivery {
            channel,
            alerts: chosen.len(),
            attempts,
            error: result.err(),
        });
    }
    deliveries
}

fn log(alert: &Alert) {
    let message = alert.message();
    match (alert.kind, alert.severity) {
        (AlertKind::Recovered, _) | (_, Severity::Info) => tracing::info!("{message}"),
        (_, Severity::Warn) => tracing::warn!("{message}"),
        (_, Severity::Error) => tracing::error!("{message}"),
    }
}

fn append_lines(path: &std::path::Path, alerts: &[&Alert]) -> Result<(), String> {
    let mut text = String::new();
    for alert in alerts {
        let mut value = serde_json::to_value(alert).map_err(|e| e.to_string())?;
        value["message"] = alert.message().into();
        text.push_str(&value.to_string());
        text.push('\n');
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs `attempt` until it succeeds or `retries` more attempts failed, waiting
/// 0.5 s, 1 s, 2 s, … in between; returns the attempts made and the last result.
async fn with_retries<F, Fut>(retries: u32, mut attempt: F) -> (u32, Result<(), String>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut made = 0;
    loop {
        made += 1;
        let result = attempt().await;
        if result.is_ok() || made > retries {
            return (made, result);
        }
        let wait = Duration::from_millis(500u64 << (made - 1).min(6));
        tokio::time::sleep(wait).await;
    }
}

async fn post_all(
    url: &str,
    timeout: Duration,
    retries: u32,
    alerts: &[&Alert],
) -> (u32, Result<(), String>) {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(client) => client,
        Err(e) => return (0, Err(e.to_string())),
    };
    let mut last = (0, Ok(()));
    for alert in alerts {
        let body = serde_json::json!({ "text": alert.message(), "alert": alert }).to_string();
        last = with_retries(retries, || async {
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .map_err(|e| format!("no answer: {}", e.without_url()))?;
            match response.status() {
                status if status.is_success() => Ok(()),
                status => Err(format!("answered {status}")),
            }
        })
        .await;
        if last.1.is_err() {
            break;
        }
    }
    last
}

struct Mail<'a> {
    host: &'a str,
    port: u16,
    from: &'a str,
    to: &'a [String],
}

async fn send_mail(mail: &Mail<'_>, alerts: &[&Alert]) -> Result<(), String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let failing = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Failing)
        .count();
    let subject = format!(
        "[bankpipe] {failing} checks failing, {} recovered",
        alerts.len() - failing
    );
    let body: Vec<String> = alerts.iter().map(|a| a.message()).collect();
    let mut builder = Message::builder()
        .from(mail.from.parse().map_err(|e| format!("from: {e}"))?)
        .subject(subject);
    for to in mail.to {
        builder = builder.to(to.parse().map_err(|e| format!("to {to}: {e}"))?);
    }
    let message = builder.body(body.join("\n")).map_err(|e| e.to_string())?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(mail.host)
        .port(mail.port)
        .timeout(Some(Duration::from_secs(10)))
        .build();
    transport
        .send(message)
        .await
        .map(drop)
        .map_err(|e| format!("SMTP {}:{}: {e}", mail.host, mail.port))
}
