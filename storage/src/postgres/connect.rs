//! Connecting, with bounded retries and errors that say where and why.

use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::{ConnectFailure, PostgresError, server_message, with_causes};
use super::tls::TlsOptions;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The TCP connect timeout where the URL sets none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to PostgreSQL and spawns the connection's task on the current Tokio runtime.
///
/// TLS follows the URL's `sslmode`, with libpq's meanings (see [the module](super)):
/// `disable`, `prefer` (the default: TLS when the server offers it), `require`,
/// `verify-ca` and `verify-full` (the certificate checked against `sslrootcert=FILE`,
/// or the system's roots).
///
/// Makes up to `attempts` attempts (at least one), waiting `first_backoff`, then twice as
/// long each time (at most 30 s), between them. Only failures that may pass are retried
/// (unreachable server, server starting up or out of connections); a refused
/// authentication fails at once. The error names `user@host:port/database` (never the
/// password), the attempts made, the kind of failure ([`ConnectFailure`]) and the
/// server's or the network's message. A URL without `connect_timeout` gets one of 10 s.
pub async fn connect(
    url: &str,
    attempts: u32,
    first_backoff: Duration,
) -> Result<Client, PostgresError> {
    let invalid = |message: String| PostgresError::Connect {
        target: "(the URL given)".to_owned(),
        attempts: 0,
        failure: ConnectFailure::InvalidUrl,
        message,
    };
    let (url, tls) = TlsOptions::from_url(url).map_err(invalid)?;
    let mut config: Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| invalid(with_causes(&e)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    let connector = match config.get_ssl_mode() {
        SslMode::Disable => None,
        _ => Some(tls.connector().map_err(|message| PostgresError::Connect {
            target: target(&config),
            attempts: 0,
            failure: ConnectFailure::Tls,
            message,
        })?),
    };
    let attempts = attempts.max(1);
    let mut backoff = first_backoff;
    let mut attempt = 1;
    loop {
        let error = match attempt_connection(&config, connector.as_ref()).await {
            Ok(client) => return Ok(client),
            Err(error) => error,
        };
        let failure = classify(&error);
        if attempt >= attempts || !may_pass(failure, &error) {
            return Err(PostgresError::Connect {
                target: target(&config),
                attempts: attempt,
                failure,
                message: server_message(&error),
            });
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        attempt += 1;
    }
}

/// One connection attempt, with TLS when there is a connector (`sslmode` other than
/// `disable`); spawns the connection's task.
async fn attempt_connection(
    config: &Config,
    connector: Option<&MakeRustlsConnect>,
) -> Result<Client, tokio_postgres::Error> {
    // The connection's own error reaches the client as a closed connection.
    match connector {
        None => {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
        Some(connector) => {
            let (client, connection) = config.connect(connector.clone()).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
    }
}

/// The kind of a connection failure. tokio-postgres does not expose its error kinds, so
/// an error that is neither the server's nor a network one is told by its message.
fn classify(error: &tokio_postgres::Error) -> ConnectFailure {
    if let Some(db) = error.as_db_error() {
        // Class 28: invalid authorization specification (unknown role, bad password).
        return if db.code().code().starts_with("28") {
            ConnectFailure::Authentication
        } else {
            ConnectFailure::Rejected
        };
    }
    let text = with_causes(error);
    if text.contains("TLS") || text.contains("certificate") {
        ConnectFailure::Tls
    } else if text.starts_with("authentication error") || text.contains("password missing") {
        ConnectFailure::Authentication
    } else if is_network(error) {
        ConnectFailure::Unreachable
    } else {
        ConnectFailure::Rejected
    }
}

fn is_network(error: &tokio_postgres::Error) -> bool {
    let io = std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>());
    let text = error.to_string();
    io || text.starts_with("timeout") || text.starts_with("error connecting")
}

/// Whether retrying can help: the network, or a server starting up (57P03) or out of
/// connection slots (53300).
fn may_pass(failure: ConnectFailure, error: &tokio_postgres::Error) -> bool {
    match failure {
        ConnectFailure::Unreachable => true,
        ConnectFailure::Rejected => error
            .as_db_error()
            .is_some_and(|db| matches!(db.code().code(), "57P03" | "53300")),
        ConnectFailure::Authentication | ConnectFailure::InvalidUrl | ConnectFailure::Tls => false,
    }
}

/// What a connection URL points at, to show to people: `user@host:port/database`, never
/// the password; `(an invalid PostgreSQL URL)` when it does not parse.
pub fn describe_url(url: &str) -> String {
    url.parse::<Config>()
        .map(|config| target(&config))
        .unwrap_or_else(|_| "(an invalid PostgreSQL URL)".to_owned())
}

/// `user@host:port[,host:port…]/database`, without the password.
fn target(config: &Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    format!(
        "{}@{}/{}",
        config.get_user().unwrap_or("(no user)"),
        hosts.join(","),
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("(no database)")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_user_hosts_ports_and_database_but_no_password() {
        let config: Config = "postgres://loader:s3cret@db.example:6543/warehouse"
            .parse()
            .unwrap();
        let shown = target(&config);
        assert_eq!(shown, "loader@db.example:6543/warehouse");
        assert!(!shown.contains("s3cret"));
        let config: Config = "host=a,b port=1 user=u".parse().unwrap();
        assert_eq!(target(&config), "u@a:1,b:1/u");
        let shown = describe_url("postgres://loader:s3cret@db.example/warehouse");
        assert_eq!(shown, "loader@db.example:5432/warehouse");
        assert_eq!(
            describe_url("postgres://u:s3cret@h:notaport/db"),
            "(an invalid PostgreSQL URL)"
        );
    }

    #[tokio::test]
    async fn invalid_url_fails_at_once() {
        let error = connect("postgres://u@h:notaport/db", 5, Duration::from_secs(60))
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(
            error,
            PostgresError::Connect {
                failure: ConnectFailure::InvalidUrl,
                attempts: 0,
                ..
            }
        ));
        assert!(
            error.to_string().contains("not a valid PostgreSQL URL"),
            "{error}"
        );
    }
}
