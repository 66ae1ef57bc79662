//! The epoch of a channel's history: which incarnation of it a message id belongs to.
//!
//! Message ids only order messages within one history. When a channel's history is lost (a
//! Redis restart without persistence, a deleted or expired stream, a restarted embedded
//! backend) and a new message creates the channel again, the new history mints ids that
//! look like a continuation of the old ones. The epoch tells the two apart: the server
//! names the history's incarnation in `welcome`, the client sends it back with `since`, and
//! a resume whose epoch is not the history's current one is never `recovered`.

use std::fmt;

/// Longest epoch accepted from a client, in characters.
pub const MAX_EPOCH_CHARS: usize = 64;

/// An opaque name of one incarnation of a channel's history: 1–64 characters of
/// `A-Z a-z 0-9 _ -`, compared as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Epoch(String);

/// An `epoch` that cannot have been issued by a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an epoch is 1 to {MAX_EPOCH_CHARS} characters of A-Z a-z 0-9 _ -")]
pub struct EpochError;

impl Epoch {
    pub fn parse(raw: &str) -> Result<Self, EpochError> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_EPOCH_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(EpochError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for Epoch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Epoch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Epoch::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_servers_issue_and_nothing_else() {
        assert_eq!(
            Epoch::parse("9f86d081884c7d65").unwrap().as_str(),
            "9f86d081884c7d65"
        );
        assert!(Epoch::parse(&"a".repeat(MAX_EPOCH_CHARS)).is_ok());
        for bad in [
            "",
            " a",
            "a:b",
            "{x}",
            "é",
            &"a".repeat(MAX_EPOCH_CHARS + 1),
        ] {
            assert!(Epoch::parse(bad).is_err(), "{bad:?}");
        }
    }
}
