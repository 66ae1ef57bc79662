//! Message ids.
//!
//! To clients an id is an opaque string that only ever grows within a channel. Inside the
//! service it is a Redis Stream entry id, `<milliseconds>-<sequence>`, which gives us the
//! ordering for free and lets the backend compare ids when it resumes a client or merges
//! replayed history with live messages. The embedded bus mints ids of the same shape so both
//! buses behave the same.

use std::{fmt, str::FromStr};

/// An ordered message id: ordering is (milliseconds, sequence).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId {
    /// Milliseconds since the Unix epoch at which the message was accepted.
    pub millis: u64,
    /// Distinguishes messages accepted within the same millisecond.
    pub seq: u64,
}

/// A `since` (or a stored id) that is not of the `<ms>-<seq>` shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a message id looks like `1700000000000-0`")]
pub struct MessageIdError;

impl MessageId {
    pub const ZERO: MessageId = MessageId { millis: 0, seq: 0 };
    /// Later than every id: "before the end" is the newest messages.
    pub const MAX: MessageId = MessageId {
        millis: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(millis: u64, seq: u64) -> Self {
        Self { millis, seq }
    }

    /// The id a new message gets when the last one was `self` and the clock reads `now_ms`.
    /// Same rule as Redis Streams: never go backwards, even if the clock does.
    pub fn next_after(self, now_ms: u64) -> Self {
        if now_ms > self.millis {
            Self::new(now_ms, 0)
        } else {
            Self::new(self.millis, self.seq + 1)
        }
    }
}

impl FromStr for MessageId {
    type Err = MessageIdError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (millis, seq) = raw.split_once('-').ok_or(MessageIdError)?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(millis) || !digits(seq) {
            return Err(MessageIdError);
        }
        Ok(Self {
            millis: millis.parse().map_err(|_| MessageIdError)?,
            seq: seq.parse().map_err(|_| MessageIdError)?,
        })
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.millis, self.seq)
    }
}

impl serde::Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders_numerically() {
        let a: MessageId = "1700000000000-9".parse().unwrap();
        let b: MessageId = "1700000000000-10".parse().unwrap();
        let c: MessageId = "1700000000001-0".parse().unwrap();
        assert!(a < b && b < c, "ordering must be numeric, not lexical");
        assert_eq!(b.to_string(), "1700000000000-10");
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "1",
            "-1",
            "1-",
            "a-1",
            "1-b",
            "1-2-3",
            " 1-2",
            "+1-2",
            "99999999999999999999999-0",
        ] {
            assert!(bad.parse::<MessageId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn next_after_never_goes_backwards() {
        let last = MessageId::new(1000, 4);
        assert_eq!(last.next_after(2000), MessageId::new(2000, 0));
        assert_eq!(last.next_after(1000), MessageId::new(1000, 5));
        assert_eq!(last.next_after(10), MessageId::new(1000, 5));
    }
}
