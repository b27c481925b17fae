//! Alert delivery through real sockets: a local HTTP server for the webhook, a local
//! SMTP listener for e-mail, and a JSON-lines file.

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use monitoring::alerts::{Alert, AlertKind, ChannelConfig, deliver};
use monitoring::checks::Severity;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn alert(check: &str, severity: Severity) -> Alert {
    Alert {
        kind: AlertKind::Failing,
        check: check.into(),
        table: "fact_transactions".into(),
        severity,
        owner: Some("data-team".into()),
        observed: "rows 4900".into(),
        expected: "9000–11000".into(),
        since: Utc
            .with_ymd_and_hms(2024, 3, 1, 8, 0, 0)
            .single()
            .expect("time"),
        run_id: "run-42".into(),
        report: "file:///data/monitoring/reports/run-42.html".into(),
    }
}

#[derive(Deserialize)]
struct Channels {
    channels: Vec<ChannelConfig>,
}

fn channels(text: &str) -> Vec<ChannelConfig> {
    toml::from_str::<Channels>(text).expect("channels").channels
}

/// An HTTP server that answers `statuses` in turn (then 200) and keeps the bodies.
async fn http_server(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/hooks/secret-token",
        listener.local_addr().expect("addr")
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    tokio::spawn(async move {
        let mut statuses = statuses.into_iter();
        while let Ok((stream, _)) = listener.accept().await {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body).await;
            kept.lock()
                .expect("lock")
                .push(String::from_utf8_lossy(&body).into_owned());
            let status = statuses.next().unwrap_or(200);
            let response =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = reader.get_mut().write_all(response.as_bytes()).await;
        }
    });
    (url, bodies)
}

/// An SMTP listener that accepts every message and keeps each one's DATA.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let kept = messages.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 test ESMTP\r\n").await;
            let mut data: Option<String> = None;
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(text) = data.as_mut() {
                    if line == "." {
                        kept.lock().expect("lock").push(std::mem::take(text));
                        data = None;
                        let _ = write.write_all(b"250 queued\r\n").await;
                    } else {
                        text.push_str(&line);
                        text.push('\n');
                    }
                    continue;
                }
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 test\r\n",
                    "DATA" => {
                        data = Some(String::new());
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                let _ = write.write_all(reply).await;
            }
        }
    });
    (port, messages)
}

#[tokio::test]
async fn each_channel_gets_the_alerts_at_or_above_its_severity() {
    let dir = tempfile::tempdir().expect("dir");
    let jsonl = dir.path().join("alerts.jsonl");
    let (url, bodies) = http_server(vec![500]).await;
    let (port, mails) = smtp_server().await;
    let configured = channels(&format!(
        r#"
        [[channels]]
        min_severity = "info"
        jsonl = {{ path = "{}" }}
        [[channels]]
        min_severity = "error"
        webhook = {{ url = "{url}", timeout_secs = 5, retries = 2 }}
        [[channels]]
        min_severity = "warn"
        email = {{ host = "127.0.0.1", port = {port}, from = "bankpipe@bank.example", to = ["data-team@bank.example"] }}
        [[channels]]
        log = true
        "#,
        jsonl.display()
    ));
    let alerts = [
        alert("volume_low", Severity::Error),
        alert("nulls_up", Severity::Warn),
        alert("fyi", Severity::Info),
    ];
    let deliveries = deliver(&alerts, &configured).await;
    assert!(
        deliveries.iter().all(|d| d.error.is_none()),
        "{deliveries:?}"
    );
    let sent: Vec<(String, usize)> = deliveries
        .iter()
        .map(|d| {
            (
                d.channel.split(' ').next().unwrap_or("").to_owned(),
                d.alerts,
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("jsonl".into(), 3),
            ("webhook".into(), 1),
            ("email".into(), 2),
            ("log".into(), 2)
        ]
    );
    let webhook = deliveries
        .iter()
        .find(|d| d.channel.starts_with("webhook"))
        .expect("webhook");
    assert_eq!(webhook.attempts, 2, "the 500 is retried");
    assert!(
        !webhook.channel.contains("secret-token"),
        "the URL's secret is not shown"
    );

    let lines = std::fs::read_to_string(&jsonl).expect("jsonl");
    let lines: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["check"], "volume_low");
    assert!(
        lines[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("since 2024-03-01 08:00 UTC"))
    );

    let bodies = bodies.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 2, "one refused, one accepted");
    let body: serde_json::Value = serde_json::from_str(&bodies[1]).expect("json");
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.contains("volume_low failed on fact_transactions"))
    );

    let mails = mails.lock().expect("lock").clone();
    assert_eq!(mails.len(), 1, "one mail per run");
    assert!(
        mails[0].contains("Subject: [bankpipe] 2 checks failing, 0 recovered"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("nulls_up") && !mails[0].contains("fyi"));
}

#[tokio::test]
async fn a_channel_that_cannot_deliver_says_so_after_its_retries() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    drop(listener);
    let configured = channels(&format!(
        "[[channels]]\nmin_severity = \"warn\"\nwebhook = {{ url = \"{url}\", timeout_secs = 2, retries = 1 }}\n"
    ));
    let deliveries = deliver(&[alert("volume_low", Severity::Error)], &configured).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].attempts, 2);
    assert!(
        deliveries[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no answer")),
        "{deliveries:?}"
    );
}
