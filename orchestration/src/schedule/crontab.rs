//! The deployments as crontab lines, for hosts that prefer the system's cron to
//! `bankpipe serve` (`bankpipe schedule --crontab`).

use std::fmt::Write as _;
use std::path::Path;

use super::deployment::Deployment;

/// The crontab lines that run each deployment with `bankpipe run --config CONFIG
/// --data DATA --deployment NAME`: a header, then per deployment a comment (its schedule in
/// words), `CRON_TZ=<its time zone>` and its line; the lines of a deployment paused
/// in the configuration are commented out (the run store's pauses are `serve`'s). The deployments must be valid (see [`validate`](super::validate));
/// one whose schedule does not parse is described by its cron expression alone.
///
/// `CRON_TZ` is honoured by cronie (Red Hat, Fedora, Arch, Alpine's cronie) but
/// **ignored by Debian's and Ubuntu's cron**, which reads every line in the host's
/// time zone: there, the host's zone must be the deployments' (the header says so).
pub fn crontab(
    deployments: &[Deployment],
    binary_path: &Path,
    config_path: &Path,
    data_path: &Path,
) -> String {
    let binary = shell_word(&binary_path.display().to_string());
    let config = shell_word(&config_path.display().to_string());
    let data = shell_word(&data_path.display().to_string());
    let mut out = String::new();
    out.push_str(
        "# bankpipe deployments, from `bankpipe schedule --crontab`: install with `crontab FILE`.\n\
         # Each line runs in the time zone set by the CRON_TZ line above it (cronie honours\n\
         # CRON_TZ). Debian's and Ubuntu's cron IGNORE CRON_TZ and read every line in the\n\
         # host's time zone: on those hosts, set the host's zone to the deployments' zone\n\
         # (timedatectl set-timezone ZONE) or rewrite the hours by hand.\n\
         # Paused deployments are commented out. Runs started here are not scheduled by\n\
         # `bankpipe serve`: run only one of the two.\n",
    );
    for deployment in deployments {
        let words = deployment
            .schedule()
            .map(|schedule| schedule.describe())
            .unwrap_or_else(|_| format!("cron '{}'", deployment.cron));
        let (state, prefix) = match deployment.paused {
            true => (" (paused)", "# "),
            false => ("", ""),
        };
        let _ = writeln!(out, "\n# {}{state}: {words}", deployment.name);
        if let Some(description) = &deployment.description {
            let _ = writeln!(out, "# {}", description.replace('\n', " "));
        }
        let _ = writeln!(out, "{prefix}CRON_TZ={}", deployment.timezone);
        let _ = writeln!(
            out,
            "{prefix}{} {binary} run --config {config} --data {data} --deployment {}",
            deployment.cron.trim(),
            shell_word(&deployment.name)
        );
    }
    out
}

/// `word` for `sh`, quoted if needed, with cron's `%` (a newline to cron) escaped.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '+' | ':' | '=')
        });
    let quoted = match plain {
        true => word.to_owned(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    };
    quoted.replace('%', r"\%")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::schedule::CatchUp;

    fn deployment(name: &str, cron: &str, timezone: &str, paused: bool) -> Deployment {
        Deployment {
            name: name.to_owned(),
            flow: "daily".to_owned(),
            cron: cron.to_owned(),
            timezone: timezone.to_owned(),
            parameters: Default::default(),
            catch_up: CatchUp::Skip,
            paused,
            description: None,
        }
    }

    #[test]
    fn each_deployment_gets_its_zone_its_line_and_paused_ones_are_commented_out() {
        let mut daily = deployment("bank-daily", "0 8 * * *", "Europe/Paris", false);
        daily.description = Some("The daily load".to_owned());
        let weekly = deployment("bank-weekly", "30 6 * * 1", "UTC", true);
        let text = crontab(
            &[daily, weekly],
            Path::new("/usr/local/bin/bankpipe"),
            Path::new("/etc/bank pipe/bankpipe.toml"),
            Path::new("/srv/bank"),
        );
        let body: Vec<&str> = text.lines().skip_while(|l| l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "",
                "# bank-daily: every day at 08:00 (Europe/Paris)",
                "# The daily load",
                "CRON_TZ=Europe/Paris",
                "0 8 * * * /usr/local/bin/bankpipe run --config '/etc/bank pipe/bankpipe.toml' \
                 --data /srv/bank --deployment bank-daily",
                "",
                "# bank-weekly (paused): at 06:30 on Monday (UTC)",
                "# CRON_TZ=UTC",
                "# 30 6 * * 1 /usr/local/bin/bankpipe run --config '/etc/bank pipe/bankpipe.toml' \
                 --data /srv/bank --deployment bank-weekly",
            ]
        );
        assert!(text.starts_with("# bankpipe deployments"));
        assert!(text.contains("Debian's and Ubuntu's cron IGNORE CRON_TZ"));
    }

    #[test]
    fn awkward_paths_are_quoted_for_the_shell_and_cron() {
        assert_eq!(shell_word("/opt/bankpipe"), "/opt/bankpipe");
        assert_eq!(shell_word("/opt/it's"), r"'/opt/it'\''s'");
        assert_eq!(shell_word("/data/100%"), r"'/data/100\%'");
    }
}
