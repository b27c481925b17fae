//! `NUMERIC` in PostgreSQL's binary format, from and to a Decimal128 value.
//!
//! The format is: `ndigits` (i16), `weight` (i16: the power of 10000 of the first digit
//! group), `sign` (0x0000 positive, 0x4000 negative), `dscale` (digits after the point),
//! then `ndigits` base-10000 groups (i16), most significant first, aligned on the decimal
//! point. Zero has no groups.

use std::error::Error;
use std::fmt;

use tokio_postgres::types::private::BytesMut;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

const NBASE: u16 = 10_000;
const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
/// An i128 has at most 39 digits: 1 to 4 in the lowest group, 10 groups above it.
const MAX_GROUPS: usize = 11;

type BoxError = Box<dyn Error + Sync + Send>;

/// A decimal number `value × 10^-scale`, as Arrow's Decimal128 stores it, that converts to
/// and from PostgreSQL `NUMERIC` (binary format, no text on the way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Numeric {
    /// The unscaled value.
    pub value: i128,
    /// Digits after the decimal point (negative: zeros before it).
    pub scale: i8,
}

impl Numeric {
    /// Appends the binary `NUMERIC` encoding of `value × 10^-scale` to `out`.
    pub(crate) fn encode(value: i128, scale: i8, out: &mut BytesMut) {
        let dscale = u16::from(scale.max(0).unsigned_abs());
        if value == 0 {
            put_header(out, 0, 0, POSITIVE, dscale);
            return;
        }
        let sign = if value < 0 { NEGATIVE } else { POSITIVE };
        let groups = Groups::of(value.unsigned_abs(), scale);
        let digits = groups.significant();
        // At most MAX_GROUPS (11) groups, and weights within ±33: the casts are exact.
        put_header(out, digits.len() as i16, groups.weight, sign, dscale);
        for digit in digits.iter().rev() {
            out.extend_from_slice(&digit.to_be_bytes());
        }
    }
}

fn put_header(out: &mut BytesMut, ndigits: i16, weight: i16, sign: u16, dscale: u16) {
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
}

/// The base-10000 groups of a magnitude, least significant first.
struct Groups {
    digits: [i16; MAX_GROUPS],
    len: usize,
    /// The power of 10000 of the most significant group.
    weight: i16,
}

impl Groups {
    /// The groups of `magnitude × 10^-scale` (`magnitude` > 0).
    fn of(magnitude: u128, scale: i8) -> Groups {
        // The last digit's power of ten, split into its group and its place in the group.
        let last_power = -i32::from(scale);
        let place = last_power.rem_euclid(4) as u32;
        let lowest_group = last_power.div_euclid(4);
        let mut groups = Groups {
            digits: [0; MAX_GROUPS],
            len: 0,
            weight: 0,
        };
        match u64::try_from(magnitude) {
            Ok(small) => groups.fill(small, place),
            Err(_) => groups.fill(magnitude, place),
        }
        groups.weight = (lowest_group + groups.len as i32 - 1) as i16;
        groups
    }

    /// Splits `magnitude` into groups; its last digit sits at `place` (0..=3) in the
    /// lowest group.
    fn fill<M: Magnitude>(&mut self, magnitude: M, place: u32) {
        let (mut rest, low) = magnitude.div_rem(10u16.pow(4 - place));
        self.push(low * 10u16.pow(place));
        while !rest.is_zero() {
            let (next, group) = rest.div_rem(NBASE);
            self.push(group);
            rest = next;
        }
    }

    fn push(&mut self, group: u16) {
        // group < 10000 and len < MAX_GROUPS for any u128 (see MAX_GROUPS).
        if let Some(slot) = self.digits.get_mut(self.len) {
            *slot = group as i16;
            self.len += 1;
        }
    }

    /// The groups without the trailing (least significant) zero groups, least first.
    fn significant(&self) -> &[i16] {
        let all = &self.digits[..self.len];
        let zeros = all.iter().take_while(|&&d| d == 0).count();
        &all[zeros..]
    }
}

/// Unsigned integers that can be split into groups: u64 for speed, u128 for the rest.
trait Magnitude: Copy {
    fn div_rem(self, divisor: u16) -> (Self, u16);
    fn is_zero(self) -> bool;
}

impl Magnitude for u64 {
    fn div_rem(self, divisor: u16) -> (u64, u16) {
        let divisor = u64::from(divisor);
        (self / divisor, (self % divisor) as u16)
    }
    fn is_zero(self) -> bool {
        self == 0
    }
}

impl Magnitude for u128 {
    fn div_rem(self, divisor: u16) -> (u128, u16) {
        let divisor = u128::from(divisor);
        (self / divisor, (self % divisor) as u16)
    }
    fn is_zero(self) -> bool {
        self == 0
    }
}

impl ToSql for Numeric {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        Numeric::encode(self.value, self.scale, out);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Numeric, BoxError> {
        let mut words = raw
            .chunks_exact(2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]));
        let mut next = || words.next().ok_or("NUMERIC value is truncated");
        let ndigits = next()?;
        let weight = i32::from(next()? as i16);
        let sign = next()?;
        let dscale = next()?;
        let scale = i8::try_from(dscale).map_err(|_| "NUMERIC scale does not fit an i8")?;
        let negative = match sign {
            POSITIVE => false,
            NEGATIVE => true,
            _ => return Err("NUMERIC NaN or infinity has no Decimal128 value".into()),
        };
        let mut value: i128 = 0;
        for index in 0..i32::from(ndigits) {
            let power = 4 * (weight - index) + i32::from(dscale);
            value = add_scaled(value, next()?, power, negative)?;
        }
        Ok(Numeric { value, scale })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

/// `value ± digit × 10^power`, checked; a negative power must drop only zeros.
fn add_scaled(value: i128, digit: u16, power: i32, negative: bool) -> Result<i128, BoxError> {
    const OVERFLOW: &str = "NUMERIC value does not fit a Decimal128";
    let digit = i128::from(digit);
    let term = if power >= 0 {
        let factor = 10i128.checked_pow(power.unsigned_abs()).ok_or(OVERFLOW)?;
        digit.checked_mul(factor).ok_or(OVERFLOW)?
    } else {
        let divisor = 10i128.pow(power.unsigned_abs().min(4));
        if digit % divisor != 0 {
            return Err("NUMERIC value has more digits than its scale".into());
        }
        digit / divisor
    };
    let sum = if negative {
        value.checked_sub(term)
    } else {
        value.checked_add(term)
    };
    Ok(sum.ok_or(OVERFLOW)?)
}

impl fmt::Display for Numeric {
    /// Formats like PostgreSQL's text output: `-1234.50` for value -123450 and scale 2.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.value < 0 { "-" } else { "" };
        let digits = self.value.unsigned_abs().to_string();
        let scale = usize::from(self.scale.unsigned_abs());
        if self.scale <= 0 {
            let zeros = if self.value == 0 { 0 } else { scale };
            return write!(f, "{sign}{digits}{}", "0".repeat(zeros));
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: i128, scale: i8) -> Vec<i16> {
        let mut out = BytesMut::new();
        Numeric::encode(value, scale, &mut out);
        out.chunks_exact(2)
            .map(|w| i16::from_be_bytes([w[0], w[1]]))
            .collect()
    }

    #[test]
    fn encodes_like_postgres() {
        // [ndigits, weight, sign, dscale, digits…]
        assert_eq!(encoded(0, 2), [0, 0, 0, 2]);
        assert_eq!(encoded(-1, 2), [1, -1, 0x4000, 2, 100]);
        assert_eq!(encoded(10_000, 0), [1, 1, 0, 0, 1]);
        assert_eq!(
            encoded(999_999_999_999_999_999, 4),
            [5, 3, 0, 4, 99, 9999, 9999, 9999, 9999]
        );
        assert_eq!(encoded(1_234_567, 6), [3, 0, 0, 6, 1, 2345, 6700]);
        assert_eq!(encoded(12_345, -2), [2, 1, 0, 0, 123, 4500]);
        assert_eq!(encoded(5, 127).len(), 5);
        let max = encoded(i128::MAX, 0);
        assert_eq!(max[..4], [10, 9, 0, 0]);
        assert_eq!(encoded(i128::MIN, 38)[..4], [11, 0, 0x4000, 38]);
    }

    #[test]
    fn decodes_what_it_encodes() {
        for (value, scale) in [
            (0, 0),
            (-1, 2),
            (10_000, 0),
            (123_456_789, 6),
            (i128::MIN, 10),
        ] {
            let mut out = BytesMut::new();
            Numeric::encode(value, scale, &mut out);
            let back = Numeric::from_sql(&Type::NUMERIC, &out).unwrap();
            assert_eq!(back, Numeric { value, scale });
        }
    }

    #[test]
    fn displays_like_postgres() {
        let text = |value, scale| Numeric { value, scale }.to_string();
        assert_eq!(text(-1, 2), "-0.01");
        assert_eq!(text(0, 2), "0.00");
        assert_eq!(text(12_345, 0), "12345");
        assert_eq!(text(12_345, -2), "1234500");
        assert_eq!(text(-999_999_999_999_999_999, 4), "-99999999999999.9999");
    }
}
