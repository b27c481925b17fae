//! One record as a list of byte fields, filled by allocation-free formatters of the
//! contract's types: every entity renders into a [`FieldBuf`], the writers encode it, and the
//! defect planter edits a copy of it.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// The fields of one record, stored back to back in one reusable buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldBuf {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl FieldBuf {
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] }
    }

    /// Field `i`, or empty past the last field.
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        match self.ends.get(i) {
            Some(&end) => &self.data[self.start(i)..end],
            None => &[],
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    fn close(&mut self) -> &mut Self {
        self.ends.push(self.data.len());
        self
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) -> &mut Self {
        self.data.extend_from_slice(value);
        self.close()
    }

    pub(crate) fn text(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    pub(crate) fn empty(&mut self) -> &mut Self {
        self.close()
    }

    /// `prefix` followed by `n` zero-padded to `width` digits (`AC00000042`).
    pub(crate) fn id(&mut self, prefix: &str, n: u64, width: usize) -> &mut Self {
        self.data.extend_from_slice(prefix.as_bytes());
        push_padded(&mut self.data, n, width);
        self.close()
    }

    /// A decimal stored as an integer of `scale` decimal places (`fixed(-1250, 2)` = `-12.50`).
    pub(crate) fn fixed(&mut self, value: i64, scale: u32) -> &mut Self {
        push_fixed(&mut self.data, value, scale);
        self.close()
    }

    pub(crate) fn int(&mut self, value: i64) -> &mut Self {
        push_fixed(&mut self.data, value, 0);
        self.close()
    }

    pub(crate) fn date(&mut self, date: NaiveDate) -> &mut Self {
        push_date(&mut self.data, date);
        self.close()
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` from a date and the seconds since its midnight.
    pub(crate) fn timestamp(&mut self, date: NaiveDate, secs_of_day: u32) -> &mut Self {
        push_date(&mut self.data, date);
        self.data.push(b'T');
        push_time(&mut self.data, secs_of_day);
        self.data.push(b'Z');
        self.close()
    }

    pub(crate) fn datetime(&mut self, at: NaiveDateTime) -> &mut Self {
        self.timestamp(at.date(), at.time().num_seconds_from_midnight())
    }

    pub(crate) fn boolean(&mut self, value: bool) -> &mut Self {
        self.text(if value { "true" } else { "false" })
    }

    /// `render(value)` when present, else an empty field.
    pub(crate) fn opt<T>(
        &mut self,
        value: Option<T>,
        render: impl FnOnce(&mut Self, T) -> &mut Self,
    ) -> &mut Self {
        match value {
            Some(v) => render(self, v),
            None => self.empty(),
        }
    }

    /// Replaces field `i` (no-op past the last field).
    pub(crate) fn set(&mut self, i: usize, value: &[u8]) {
        let Some(&end) = self.ends.get(i) else {
            return;
        };
        let start = self.start(i);
        self.data.splice(start..end, value.iter().copied());
        let new_end = start + value.len();
        for e in &mut self.ends[i..] {
            *e = *e - end + new_end;
        }
    }
}

/// Appends the decimal digits of `value`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `value` left-padded with zeros to at least `width` digits.
pub(crate) fn push_padded(out: &mut Vec<u8>, value: u64, width: usize) {
    let digits = value.checked_ilog10().map_or(1, |l| l as usize + 1);
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(digits)));
    push_u64(out, value);
}

/// Appends `value / 10^scale` with exactly `scale` decimals.
pub(crate) fn push_fixed(out: &mut Vec<u8>, value: i64, scale: u32) {
    if value < 0 {
        out.push(b'-');
    }
    let abs = value.unsigned_abs();
    let unit = 10u64.pow(scale);
    push_u64(out, abs / unit);
    if scale > 0 {
        out.push(b'.');
        push_padded(out, abs % unit, scale as usize);
    }
}

pub(crate) fn push_date(out: &mut Vec<u8>, date: NaiveDate) {
    push_padded(out, u64::from(date.year().unsigned_abs()), 4);
    out.push(b'-');
    push_padded(out, u64::from(date.month()), 2);
    out.push(b'-');
    push_padded(out, u64::from(date.day()), 2);
}

pub(crate) fn push_time(out: &mut Vec<u8>, secs_of_day: u32) {
    push_padded(out, u64::from(secs_of_day / 3600), 2);
    out.push(b':');
    push_padded(out, u64::from(secs_of_day / 60 % 60), 2);
    out.push(b':');
    push_padded(out, u64::from(secs_of_day % 60), 2);
}

/// A formatted date as an owned string (for the rare callers outside a record).
pub(crate) fn date_string(date: NaiveDate) -> String {
    let mut out = Vec::with_capacity(10);
    push_date(&mut out, date);
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the `YYYY-MM-DD` this module writes.
pub(crate) fn parse_date(value: &[u8]) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(std::str::from_utf8(value).ok()?, "%Y-%m-%d").ok()
}

/// Parses the `YYYY-MM-DDTHH:MM:SSZ` this module writes.
pub(crate) fn parse_timestamp(value: &[u8]) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(std::str::from_utf8(value).ok()?, "%Y-%m-%dT%H:%M:%SZ").ok()
}
