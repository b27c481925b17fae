//! A cron expression in words, for the dashboard and the crontab's comments: the
//! common shapes (every N minutes, hourly, daily, on some weekdays, monthly) get a
//! sentence, anything else is quoted as it is.

/// The English weekday names, Sunday first (cron's 0; 7 is Sunday too).
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Cron `expression` (already validated) in time zone `timezone`, in words.
pub(super) fn describe(expression: &str, timezone: &str) -> String {
    words(expression)
        .map(|words| format!("{words} ({timezone})"))
        .unwrap_or_else(|| format!("cron '{expression}' in {timezone}"))
}

fn words(expression: &str) -> Option<String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let [minute, hour, day, month, weekday] = fields[..] else {
        return None;
    };
    if month != "*" {
        return None;
    }
    match (number(minute, 59), hour, day, weekday) {
        (Some(minute), "*", "*", "*") => Some(format!("at minute {minute} of every hour")),
        (None, "*", "*", "*") => every_minutes(minute),
        (Some(minute), hour, day, weekday) => {
            let at = format!("{:02}:{minute:02}", number(hour, 23)?);
            match (day, weekday) {
                ("*", "*") => Some(format!("every day at {at}")),
                ("*", weekday) => Some(format!("at {at} on {}", weekdays(weekday)?)),
                (day, "*") => Some(format!(
                    "at {at} on day {} of every month",
                    number(day, 31)?
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `*` (every minute) or `*/N` (every N minutes).
fn every_minutes(minute: &str) -> Option<String> {
    match minute {
        "*" => Some("every minute".to_owned()),
        _ => {
            let step = number(minute.strip_prefix("*/")?, 59)?;
            (step > 1).then(|| format!("every {step} minutes"))
        }
    }
}

/// A plain number from 0 to `max`.
fn number(field: &str, max: u32) -> Option<u32> {
    let value: u32 = field.parse().ok()?;
    (value <= max && field.bytes().all(|b| b.is_ascii_digit())).then_some(value)
}

/// A weekday field in words: one day (`Monday`), a range (`Monday to Friday`) or a
/// list of days (`Monday, Wednesday and Friday`).
fn weekdays(field: &str) -> Option<String> {
    if let Some((first, last)) = field.split_once('-') {
        let (first, last) = (weekday(first)?, weekday(last)?);
        return (first < last).then(|| format!("{} to {}", WEEKDAYS[first], WEEKDAYS[last % 7]));
    }
    let days = field
        .split(',')
        .map(|day| weekday(day).map(|day| WEEKDAYS[day % 7]))
        .collect::<Option<Vec<_>>>()?;
    match days.as_slice() {
        [] => None,
        [day] => Some((*day).to_owned()),
        [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
    }
}

/// A weekday as cron's number (0 to 7, Sunday both 0 and 7) or three-letter name.
fn weekday(token: &str) -> Option<usize> {
    if let Some(day) = number(token, 7) {
        return usize::try_from(day).ok();
    }
    WEEKDAYS
        .iter()
        .position(|name| name[..3].eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_shapes_are_told_in_words() {
        let cases = [
            ("0 8 * * *", "every day at 08:00 (Europe/Paris)"),
            ("15 * * * *", "at minute 15 of every hour (Europe/Paris)"),
            (
                "30 6 * * 1-5",
                "at 06:30 on Monday to Friday (Europe/Paris)",
            ),
            (
                "30 6 * * MON-FRI",
                "at 06:30 on Monday to Friday (Europe/Paris)",
            ),
            (
                "0 22 * * 6-7",
                "at 22:00 on Saturday to Sunday (Europe/Paris)",
            ),
            ("0 9 * * 0", "at 09:00 on Sunday (Europe/Paris)"),
            (
                "0 9 * * 1,3,5",
                "at 09:00 on Monday, Wednesday and Friday (Europe/Paris)",
            ),
            (
                "45 23 1 * *",
                "at 23:45 on day 1 of every month (Europe/Paris)",
            ),
            ("*/15 * * * *", "every 15 minutes (Europe/Paris)"),
            ("* * * * *", "every minute (Europe/Paris)"),
        ];
        for (cron, words) in cases {
            assert_eq!(describe(cron, "Europe/Paris"), words, "{cron}");
        }
    }

    #[test]
    fn other_patterns_are_quoted() {
        for cron in [
            "0 8 1-7 * 1",
            "0 8,20 * * *",
            "0 8 * 1 *",
            "0 */2 * * *",
            "@daily",
            "0 8 L * *",
        ] {
            assert_eq!(
                describe(cron, "UTC"),
                format!("cron '{cron}' in UTC"),
                "{cron}"
            );
        }
    }
}
