//! SQL text from names: quoted identifiers, string literals and generated object names.
//!
//! These are the only pieces of text ever spliced into SQL; row data always travels in
//! binary COPY.

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN - 1`); longer ones are cut.
const MAX_IDENTIFIER: usize = 63;

/// An identifier, double-quoted, with embedded double quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub(crate) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A comma-separated list of quoted identifiers.
pub(crate) fn quote_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| quote_ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A string literal that means the same whatever `standard_conforming_strings` is:
/// `E'…'` with quotes and backslashes doubled.
pub(crate) fn quote_literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// A generated object name (`parts` joined by `_`, then `_suffix`) that PostgreSQL will
/// not cut: a name longer than 63 bytes is shortened and given a hash of the full name,
/// so two long names never collide after cutting.
pub(crate) fn object_name(parts: &[&str], suffix: &str) -> String {
    let full = format!("{}_{suffix}", parts.join("_"));
    if full.len() <= MAX_IDENTIFIER {
        return full;
    }
    let tail = format!("_{:08x}_{suffix}", fnv1a(&full));
    let mut cut = MAX_IDENTIFIER.saturating_sub(tail.len());
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tail}", &full[..cut])
}

/// 32-bit FNV-1a: a stable, dependency-free hash for name shortening.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_quotes_doubled() {
        assert_eq!(quote_ident("dim_clients"), "\"dim_clients\"");
        assert_eq!(quote_ident("Weird \"Name\""), "\"Weird \"\"Name\"\"\"");
        assert_eq!(qualified("bank_dw", "T"), "\"bank_dw\".\"T\"");
        assert_eq!(quote_list(&["a", "B\""]), "\"a\", \"B\"\"\"");
    }

    #[test]
    fn literals_double_quotes_and_backslashes() {
        assert_eq!(quote_literal("it's"), "E'it''s'");
        assert_eq!(quote_literal(r"a\'; DROP"), r"E'a\\''; DROP'");
    }

    #[test]
    fn long_names_are_cut_with_a_hash() {
        assert_eq!(object_name(&["t", "a", "b"], "idx"), "t_a_b_idx");
        let long_a = "x".repeat(40);
        let first = object_name(&[&long_a, "column_one"], "idx");
        let second = object_name(&[&long_a, "column_two"], "idx");
        assert!(first.len() <= MAX_IDENTIFIER && second.len() <= MAX_IDENTIFIER);
        assert_ne!(first, second);
        assert!(first.ends_with("_idx"));
        let multibyte = object_name(&[&"é".repeat(40)], "fkey");
        assert!(multibyte.len() <= MAX_IDENTIFIER, "{multibyte}");
    }
}
