//! IBANs (ISO 13616): national BBAN layouts of the countries used, mod-97 check digits,
//! validation, and the one-digit change that makes an `invalid_iban` defect (changing one
//! digit always changes the remainder mod 97, since 97 is prime and no power of 10 is a
//! multiple of it).

use rand::Rng;

use super::random::pick;

/// A national check inside the BBAN, computed so that strict validators accept it too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum National {
    None,
    /// France: two-digit RIB key over bank (5), branch (5) and account (11) digits.
    FrRib,
    /// Belgium: the last two digits are the first ten mod 97 (97 for 0).
    BeMod97,
}

/// The BBAN layout of a country: `n` a digit, `a` an upper-case letter, then the national
/// check digits, if any.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IbanFormat {
    pub country: &'static str,
    pub bban: &'static str,
    pub national: National,
}

const fn format(country: &'static str, bban: &'static str, national: National) -> IbanFormat {
    IbanFormat {
        country,
        bban,
        national,
    }
}

/// Layouts whose total lengths follow the IBAN registry (DE 22, FR 27, CZ 24, NL 18, BE 16 …).
pub(crate) const FORMATS: &[IbanFormat] = &[
    format("DE", "nnnnnnnnnnnnnnnnnn", National::None),
    format("AT", "nnnnnnnnnnnnnnnn", National::None),
    format("CZ", "nnnnnnnnnnnnnnnnnnnn", National::None),
    format("FR", "nnnnnnnnnnnnnnnnnnnnn", National::FrRib),
    format("NL", "aaaannnnnnnnnn", National::None),
    format("BE", "nnnnnnnnnn", National::BeMod97),
    format("PL", "nnnnnnnnnnnnnnnnnnnnnnnn", National::None),
    format("GB", "aaaannnnnnnnnnnnnn", National::None),
    format("CH", "nnnnnnnnnnnnnnnnn", National::None),
    format("ES", "nnnnnnnnnnnnnnnnnnnn", National::None),
    format("IT", "annnnnnnnnnnnnnnnnnnnnn", National::None),
    format("SE", "nnnnnnnnnnnnnnnnnnnn", National::None),
    format("PT", "nnnnnnnnnnnnnnnnnnnnn", National::None),
    format("GR", "nnnnnnnnnnnnnnnnnnnnnnn", National::None),
    format("HR", "nnnnnnnnnnnnnnnnn", National::None),
];

/// The layout of `country`, if it has IBANs here.
pub(crate) fn format_of(country: &str) -> Option<&'static IbanFormat> {
    FORMATS.iter().find(|f| f.country == country)
}

/// `value mod 97` of the IBAN digit string, letters counting as 10–35.
fn mod97(chars: impl Iterator<Item = u8>) -> u32 {
    chars.fold(0u32, |r, c| match c {
        b'0'..=b'9' => (r * 10 + u32::from(c - b'0')) % 97,
        b'A'..=b'Z' => (r * 100 + u32::from(c - b'A') + 10) % 97,
        _ => r,
    })
}

/// The IBAN of `bban` in `country`, with its check digits.
pub(crate) fn build(country: &str, bban: &str) -> String {
    let rest = bban.bytes().chain(country.bytes()).chain(*b"00");
    let check = 98 - mod97(rest);
    format!("{country}{check:02}{bban}")
}

/// True when `iban` is upper-case alphanumeric with a country, two digits and a BBAN, and
/// passes the ISO 13616 mod-97 check.
#[cfg(test)]
pub(crate) fn is_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        && mod97(b[4..].iter().chain(&b[..4]).copied()) == 1
}

/// A random valid IBAN of layout `format`.
pub(crate) fn random<R: Rng>(rng: &mut R, format: &IbanFormat) -> String {
    let mut bban = String::with_capacity(32);
    for c in format.bban.chars() {
        match c {
            'n' => bban.push(char::from(b'0' + rng.random_range(0..10u8))),
            'a' => bban.push(char::from(b'A' + rng.random_range(0..26u8))),
            other => bban.push(other),
        }
    }
    match format.national {
        National::None => {}
        National::FrRib => {
            let key = fr_rib_key(&bban);
            bban.push_str(&format!("{key:02}"));
        }
        National::BeMod97 => {
            let check = bban.parse::<u64>().map_or(97, |n| match n % 97 {
                0 => 97,
                r => r,
            });
            bban.push_str(&format!("{check:02}"));
        }
    }
    build(format.country, &bban)
}

fn fr_rib_key(digits: &str) -> u64 {
    let part = |range: std::ops::Range<usize>| {
        digits
            .get(range)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    97 - (89 * part(0..5) + 15 * part(5..10) + 3 * part(10..21)) % 97
}

/// A German IBAN of this bank's `bank_code` (8 digits) and a 10-digit account number.
pub(crate) fn domestic(bank_code: &str, account_number: u64) -> String {
    build("DE", &format!("{bank_code}{account_number:010}"))
}

/// A well-formed IBAN whose checksum fails: a valid one with one BBAN digit changed.
pub(crate) fn broken<R: Rng>(rng: &mut R) -> String {
    let format = pick(rng, FORMATS);
    let mut bytes = random(rng, format).into_bytes();
    let digits: Vec<usize> = (4..bytes.len())
        .filter(|&i| bytes[i].is_ascii_digit())
        .collect();
    let i = *pick(rng, &digits);
    let shift = rng.random_range(1..10u8);
    bytes[i] = b'0' + (bytes[i] - b'0' + shift) % 10;
    String::from_utf8_lossy(&bytes).into_owned()
}
