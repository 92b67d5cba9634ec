//! Typed identifiers: INSEE commune codes and FINESS numbers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "INSEE commune code {0:?} is not 5 characters (2 for the département, 2A/2B for Corsica)"
    )]
    Insee(String),
    #[error("FINESS number {0:?} is not 9 characters (digits, or 2A/2B for Corsica)")]
    Finess(String),
}

/// INSEE code of a commune (COG), e.g. `79329` Thouars, `2A004` Ajaccio, `97411`.
///
/// Codes lose their leading zero in spreadsheets (`1001` for `01001`): [`InseeCode::parse`]
/// restores it for 4-digit numeric input. Held inline (five ASCII bytes): copying a code
/// allocates nothing, and codes order as their text does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InseeCode([u8; 5]);

impl InseeCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        let s = if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
            format!("0{s}")
        } else {
            s.to_ascii_uppercase()
        };
        let b = s.as_bytes();
        let dep_ok = b.len() == 5
            && ((b[0].is_ascii_digit() && b[1].is_ascii_digit())
                || (b[0] == b'2' && (b[1] == b'A' || b[1] == b'B')));
        match <[u8; 5]>::try_from(b) {
            Ok(code) if dep_ok && b[2..].iter().all(u8::is_ascii_digit) => Ok(Self(code)),
            _ => Err(IdError::Insee(s)),
        }
    }

    pub fn as_str(&self) -> &str {
        // Always ASCII: checked by `parse`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Département code: 2 characters in metropolitan France (`79`, `2A`), 3 overseas (`974`).
    pub fn departement(&self) -> &str {
        let s = self.as_str();
        if s.starts_with("97") || s.starts_with("98") {
            &s[..3]
        } else {
            &s[..2]
        }
    }
}

impl TryFrom<String> for InseeCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<InseeCode> for String {
    fn from(c: InseeCode) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for InseeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// FINESS number of an établissement (ET), always 9 characters, leading zero kept
/// (`010000024`). Files that stored it as a number (`10000024`) are padded back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FinessNumber(String);

impl FinessNumber {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim().to_ascii_uppercase();
        let s = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            format!("0{s}")
        } else {
            s
        };
        let b = s.as_bytes();
        let ok = b.len() == 9
            && b[0].is_ascii_digit()
            && (b[1].is_ascii_digit() || b[1] == b'A' || b[1] == b'B')
            && b[2..].iter().all(u8::is_ascii_digit);
        if ok {
            Ok(Self(s))
        } else {
            Err(IdError::Finess(s))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FinessNumber {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<FinessNumber> for String {
    fn from(c: FinessNumber) -> String {
        c.0
    }
}

impl fmt::Display for FinessNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insee_codes() {
        assert_eq!(InseeCode::parse("79329").unwrap().as_str(), "79329");
        assert_eq!(InseeCode::parse("1001").unwrap().as_str(), "01001");
        assert_eq!(InseeCode::parse("2a004").unwrap().as_str(), "2A004");
        assert_eq!(InseeCode::parse("97411").unwrap().departement(), "974");
        assert_eq!(InseeCode::parse("79329").unwrap().departement(), "79");
        for bad in ["", "793", "793290", "2C004", "79A29", "abcde"] {
            assert!(InseeCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn finess_numbers_keep_leading_zero() {
        assert_eq!(
            FinessNumber::parse("10000024").unwrap().as_str(),
            "010000024"
        );
        assert_eq!(
            FinessNumber::parse("790000376").unwrap().as_str(),
            "790000376"
        );
        assert_eq!(
            FinessNumber::parse("2A0000123").unwrap().as_str(),
            "2A0000123"
        );
        for bad in ["", "1234567", "7900003761", "79000037X"] {
            assert!(FinessNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
