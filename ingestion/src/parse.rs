//! Parsers for one text value of each contract type.
//!
//! Each parser takes the trimmed text of a cell and returns the typed value or a
//! sentence saying what was expected. They never panic, whatever the input.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

/// Options that change how values are read, from the source's configuration.
#[derive(Debug, Clone, Default)]
pub struct ValueFormat {
    /// `12,50` instead of `12.50`.
    pub decimal_comma: bool,
    /// Extra `chrono` formats tried after ISO `YYYY-MM-DD`, e.g. `%d/%m/%Y`.
    pub date_formats: Vec<String>,
    /// Extra `chrono` formats tried after ISO 8601, e.g. `%d/%m/%Y %H:%M`.
    pub timestamp_formats: Vec<String>,
    /// Values that mean "no value" (`NULL`, `N/A`, …), besides an empty field.
    pub null_values: Vec<String>,
}

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01, for Arrow's `Date32`.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Arrow `Date32` value (days since 1970-01-01) of a date.
pub fn date32(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// Parses a decimal with at most 18 digits and at most `scale` digits after the point,
/// into the integer of its value × 10^scale. A sign, `.` (or `,` with `decimal_comma`)
/// and nothing else: no thousands separators, no exponent.
pub fn decimal(text: &str, scale: i8, decimal_comma: bool) -> Result<i128, String> {
    let point = if decimal_comma { b',' } else { b'.' };
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let expected = || format!("'{text}' is not a decimal number");
    let (int_part, frac_part) = match digits.iter().position(|&b| b == point) {
        Some(at) => (&digits[..at], &digits[at + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(expected());
    }
    if !int_part.iter().chain(frac_part).all(u8::is_ascii_digit) {
        return Err(expected());
    }
    let scale = usize::try_from(scale).unwrap_or(0);
    if frac_part.len() > scale {
        return Err(format!(
            "'{text}' has more than {scale} digits after the point"
        ));
    }
    let significant = int_part.iter().skip_while(|&&b| b == b'0').count() + scale;
    if significant > 18 {
        return Err(format!("'{text}' has more than 18 digits"));
    }
    let mut value: i128 = 0;
    for &digit in int_part.iter().chain(frac_part) {
        value = value * 10 + i128::from(digit - b'0');
    }
    value *= 10_i128.pow((scale - frac_part.len()) as u32);
    Ok(if negative { -value } else { value })
}

/// Parses a date: ISO `YYYY-MM-DD` first, then each configured format.
pub fn date(text: &str, formats: &[String]) -> Result<NaiveDate, String> {
    iso_date(text)
        .or_else(|| {
            formats
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
        })
        .ok_or_else(|| format!("'{text}' is not a date (expected YYYY-MM-DD)"))
}

fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// Parses a timestamp into microseconds since the Unix epoch, UTC.
///
/// Accepts ISO 8601 / RFC 3339 with an offset (`2024-03-01T08:15:00+01:00`, `…Z`),
/// without one (then UTC, per the contract), with `T` or a space, with fractions of a
/// second, a bare date (midnight UTC), then each configured format (read as UTC).
pub fn timestamp(text: &str, formats: &[String]) -> Result<i64, String> {
    let utc_micros = |naive: NaiveDateTime| naive.and_utc().timestamp_micros();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
            .map(utc_micros)
        })
        .or_else(|| {
            DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z")
                .ok()
                .map(|t| t.timestamp_micros())
        })
        .or_else(|| iso_date(text).map(|d| utc_micros(d.and_time(NaiveTime::MIN))))
        .or_else(|| {
            formats.iter().find_map(|f| {
                NaiveDateTime::parse_from_str(text, f)
                    .ok()
                    .or_else(|| {
                        NaiveDate::parse_from_str(text, f)
                            .ok()
                            .map(|d| d.and_time(NaiveTime::MIN))
                    })
                    .map(utc_micros)
            })
        })
        .ok_or_else(|| format!("'{text}' is not a timestamp (expected ISO 8601)"))
}

/// Parses a 32-bit integer.
pub fn int(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .map_err(|_| format!("'{text}' is not a whole number"))
}

/// Parses `true/false`, `1/0`, `yes/no` (any case).
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!(
            "'{text}' is not a boolean (true/false, 1/0, yes/no)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal("12.5", 2, false), Ok(1250));
        assert_eq!(decimal("-0.01", 2, false), Ok(-1));
        assert_eq!(decimal("7", 2, false), Ok(700));
        assert_eq!(decimal(".5", 2, false), Ok(50));
        assert_eq!(decimal("12,50", 2, true), Ok(1250));
        assert_eq!(decimal("0.0425", 4, false), Ok(425));
        assert!(decimal("12.345", 2, false).is_err_and(|e| e.contains("more than 2 digits")));
        assert!(decimal("12.3.4", 2, false).is_err());
        assert!(decimal("1e5", 2, false).is_err());
        assert!(decimal("", 2, false).is_err());
        assert!(decimal("-", 2, false).is_err());
        assert!(decimal("1234567890123456789", 2, false).is_err());
        assert_eq!(
            decimal("9999999999999999.99", 2, false),
            Ok(999_999_999_999_999_999)
        );
    }

    #[test]
    fn dates_iso_and_configured() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(date("2024-02-29", &[]).ok(), d(2024, 2, 29));
        assert!(date("2023-02-29", &[]).is_err());
        assert!(date("2024-13-45", &[]).is_err());
        assert_eq!(date("930101", &["%y%m%d".into()]).ok(), d(1993, 1, 1));
        assert_eq!(
            date32(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap_or_default()),
            1
        );
    }

    #[test]
    fn timestamps_default_to_utc() {
        assert_eq!(timestamp("1970-01-01T00:00:01Z", &[]), Ok(1_000_000));
        assert_eq!(timestamp("1970-01-01T00:00:01", &[]), Ok(1_000_000));
        assert_eq!(timestamp("1970-01-01 01:00:01+01:00", &[]), Ok(1_000_000));
        assert_eq!(timestamp("1970-01-01T01:00:01+01:00", &[]), Ok(1_000_000));
        assert_eq!(timestamp("1970-01-02", &[]), Ok(86_400_000_000));
        assert_eq!(timestamp("1970-01-01T00:00:00.5Z", &[]), Ok(500_000));
        assert!(timestamp("yesterday", &[]).is_err());
    }

    #[test]
    fn ints_and_bools() {
        assert_eq!(int("42"), Ok(42));
        assert!(int("twelve").is_err());
        assert_eq!(boolean("YES"), Ok(true));
        assert_eq!(boolean("0"), Ok(false));
        assert!(boolean("maybe").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,40}") {
            let _ = decimal(&text, 2, false);
            let _ = decimal(&text, 6, true);
            let _ = date(&text, &["%d/%m/%Y".into()]);
            let _ = timestamp(&text, &["%d/%m/%Y %H:%M".into()]);
            let _ = int(&text);
            let _ = boolean(&text);
        }

        #[test]
        fn decimal_round_trips(cents in -999_999_999_999i64..999_999_999_999) {
            let text = format!("{}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100);
            prop_assert_eq!(decimal(&text, 2, false), Ok(i128::from(cents)));
        }
    }
}
