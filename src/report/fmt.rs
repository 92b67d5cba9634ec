//! French number formatting and HTML escaping for the portrait.
//!
//! Thousands are separated by a narrow no-break space (U+202F), the decimal separator is
//! a comma, and « % » follows a no-break space (U+00A0): `12 345`, `3,5 %`.

/// Narrow no-break space: the thousands separator.
pub const THIN: char = '\u{202F}';
/// No-break space: before « % » and units.
pub const NBSP: char = '\u{00A0}';

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole number with thin spaces: `12 345`.
pub fn int(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(THIN);
        }
        out.push(ch);
    }
    out
}

/// A number with `decimals` decimals, French style: `1 234,5`.
pub fn dec(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "non disponible".to_owned();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    let whole: u64 = whole.parse().unwrap_or(0);
    let negative = v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0');
    let mut out = String::new();
    if negative {
        out.push('−');
    }
    out.push_str(&int(whole));
    if !frac.is_empty() {
        out.push(',');
        out.push_str(frac);
    }
    out
}

/// A share (0–1) as a percentage with one decimal: `45,2 %`.
pub fn pct(share: f64) -> String {
    format!("{}{NBSP}%", dec(100.0 * share, 1))
}

/// Kilometres from metres, one decimal: `12,3 km`.
pub fn km(m: f64) -> String {
    format!("{}{NBSP}km", dec(m / 1_000.0, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_the_french_way() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_000), "1\u{202F}000");
        assert_eq!(int(1_234_567), "1\u{202F}234\u{202F}567");
        assert_eq!(dec(1234.56, 1), "1\u{202F}234,6");
        assert_eq!(dec(-0.04, 1), "0,0");
        assert_eq!(dec(-2.5, 1), "−2,5");
        assert_eq!(pct(0.4523), "45,2\u{A0}%");
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
