//! Channel and client ids.
//!
//! Both appear in URLs, Redis keys and log lines, so they are restricted to a small, safe
//! alphabet: 1–64 characters of `A-Z a-z 0-9 . _ -`. In particular none of `{ } : /` or
//! whitespace can appear, which keeps Redis hash tags and key separators unambiguous.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Display names are not ids (any Unicode text); they live beside them.
pub use crate::display_name::{DisplayName, NameError};

/// The longest id accepted, in characters (all allowed characters are one byte).
pub const MAX_ID_LEN: usize = 64;

/// Why an id was refused; the message is meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_ID_LEN} characters long")]
    TooLong,
    #[error("may only contain letters, digits, '.', '_' and '-'")]
    BadCharacter,
    #[error("must not start with \"__\": such ids are reserved for the server")]
    Reserved,
}

fn validate(raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty);
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(IdError::BadCharacter);
    }
    Ok(())
}

macro_rules! validated_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates `raw` and wraps it.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                validate(raw)?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                validate(&raw).map_err(serde::de::Error::custom)?;
                Ok(Self(raw))
            }
        }
    };
}

validated_id!(
    /// A chat room. Every message and presence event belongs to exactly one channel.
    ChannelId
);
/// Channel ids the server keeps for itself (a client may not join one).
pub const RESERVED_PREFIX: &str = "__";

impl ChannelId {
    /// The server's own channels start with [`RESERVED_PREFIX`]: they carry what instances tell
    /// each other, not chat, so a client may not join them.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with(RESERVED_PREFIX)
    }
}

validated_id!(
    /// Who is talking. One person may hold several connections with the same client id
    /// (tabs, reconnects); presence counts the id, not the connections.
    ClientId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_whole_alphabet_and_both_length_bounds() {
        assert!(ChannelId::parse("a").is_ok());
        assert!(ChannelId::parse("Az09._-").is_ok());
        assert!(ClientId::parse(&"x".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn rejects_empty_long_and_foreign_characters() {
        assert_eq!(ChannelId::parse(""), Err(IdError::Empty));
        assert_eq!(
            ChannelId::parse(&"x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong)
        );
        for bad in [
            "a b", "a/b", "a{b}", "a:b", "é", "a\nb", "a%20", "<script>", "a*",
        ] {
            assert_eq!(ClientId::parse(bad), Err(IdError::BadCharacter), "{bad:?}");
        }
    }

    #[test]
    fn deserializing_validates_too() {
        let ok: ClientId = serde_json::from_str("\"alice\"").unwrap();
        assert_eq!(ok.as_str(), "alice");
        assert!(serde_json::from_str::<ClientId>("\"al ice\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"alice\"");
    }
}
