//! Display names: what people call themselves, next to the client id that identifies them.
//!
//! Unlike ids, a name may be any Unicode text (it never appears in keys or URLs paths, only
//! in frames and as a stream field), so it is validated for what a reader would see: trimmed
//! and NFC-normalised (so "José" typed two ways is one name), 1–[`MAX_NAME_CHARS`] scalar
//! values, no control character (which also keeps it on one line of the Redis event
//! payloads), and not made only of characters nobody can see. Clients render it as text.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// The longest name accepted, in Unicode scalar values after normalisation.
pub const MAX_NAME_CHARS: usize = 64;

/// Why a name was refused; the message is meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_NAME_CHARS} characters long")]
    TooLong,
    #[error("must not contain control characters")]
    Control,
    #[error("must contain at least one visible character")]
    Invisible,
}

/// A validated display name: trimmed, NFC, 1–64 characters, with something visible in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Normalises `raw` and validates the result.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name: String = raw.trim().nfc().collect();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::Control);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong);
        }
        if name.chars().all(invisible) {
            return Err(NameError::Invisible);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Characters that show nothing on their own: spaces and separators (Zs, Zl, Zp), format
/// characters (Cf), combining marks (Mn, Mc, Me) and the blank letters some scripts have.
fn invisible(c: char) -> bool {
    c.is_whitespace() || is_combining_mark(c) || format_character(c) || blank_letter(c)
}

/// Unicode general category Cf (format characters).
fn format_character(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Letters drawn as nothing: Hangul fillers and the blank Braille pattern.
fn blank_letter(c: char) -> bool {
    matches!(u32::from(c), 0x115F | 0x1160 | 0x2800 | 0x3164 | 0xFFA0)
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_script_and_keeps_inner_spaces() {
        for name in ["José", "Zoë Smith", "李雷", "O'Brien", "<b>x</b>", "👩‍💻 dev"] {
            assert_eq!(DisplayName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn trims_and_normalises_to_nfc() {
        let decomposed = "  Jose\u{301}\t";
        assert_eq!(DisplayName::parse(decomposed).unwrap().as_str(), "José");
        assert_eq!(
            DisplayName::parse("Jose\u{301}"),
            DisplayName::parse("Jos\u{e9}")
        );
    }

    #[test]
    fn bounds_count_characters_after_normalising() {
        assert!(DisplayName::parse(&"é".repeat(MAX_NAME_CHARS)).is_ok());
        // 64 letters each followed by a combining accent: 128 scalars typed, 64 once composed.
        assert!(DisplayName::parse(&"e\u{301}".repeat(MAX_NAME_CHARS)).is_ok());
        assert_eq!(
            DisplayName::parse(&"李".repeat(MAX_NAME_CHARS + 1)),
            Err(NameError::TooLong)
        );
        assert_eq!(DisplayName::parse(""), Err(NameError::Empty));
        assert_eq!(DisplayName::parse(" \u{3000} "), Err(NameError::Empty));
    }

    #[test]
    fn refuses_controls_and_names_nobody_can_see() {
        for bad in ["a\nb", "a\u{0}b", "tab\u{7}", "a\u{85}b", "x\u{9f}"] {
            assert_eq!(DisplayName::parse(bad), Err(NameError::Control), "{bad:?}");
        }
        for bad in [
            "\u{200B}",
            "\u{200B}\u{200D}\u{FEFF}",
            "\u{301}\u{308}",
            "\u{3164}",
            "\u{2800}\u{2800}",
            "\u{E0041}",
            "\u{202E}\u{2066}",
        ] {
            assert_eq!(
                DisplayName::parse(bad),
                Err(NameError::Invisible),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn deserializing_validates_and_normalises() {
        let name: DisplayName = serde_json::from_str("\" Zoe\u{308} \"").unwrap();
        assert_eq!(name.as_str(), "Zoë");
        assert!(serde_json::from_str::<DisplayName>("\"\\u0007\"").is_err());
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"Zoë\"");
    }
}
