//! ISO 13616 IBAN checksum.

/// Whether `text` is a well-formed IBAN with a valid mod-97 checksum.
///
/// Spaces are ignored and letters may be in any case. The check is the standard
/// one: move the first four characters to the end, read letters as 10–35, and the
/// number must leave 1 when divided by 97.
pub fn is_valid(text: &str) -> bool {
    let chars: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if !(15..=34).contains(&chars.len())
        || !chars[..2].iter().all(u8::is_ascii_uppercase)
        || !chars[2..4].iter().all(u8::is_ascii_digit)
        || !chars.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let rotated = chars[4..].iter().chain(&chars[..4]);
    let remainder = rotated.fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            (acc * 10 + u32::from(c - b'0')) % 97
        } else {
            (acc * 100 + u32::from(c - b'A') + 10) % 97
        }
    });
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ibans() {
        assert!(is_valid("DE89370400440532013000"));
        assert!(is_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(is_valid("fr1420041010050500013m02606"));
        assert!(!is_valid("DE89370400440532013001"));
        assert!(!is_valid("DE8937"));
        assert!(!is_valid("D€89370400440532013000"));
        assert!(!is_valid(""));
    }
}
