//! The text of every message the load generator sends: which run and publisher sent it, its
//! sequence number and when it was sent, so each receiver can compute the end-to-end latency
//! and check for loss, duplicates and reordering without any shared state.
//!
//! Format: `<run:8 hex>:<publisher>:<seq>:<nanos since loadgen start>[:<padding>]`. The clock is
//! the load generator's own monotonic clock: sender and receivers live in one process.

use std::fmt::Write as _;

/// What a message body says about its send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    /// Identifies one loadgen run, so messages of another run (history, a concurrent run on
    /// the same channel) are not mistaken for ours.
    pub run: u32,
    pub publisher: u32,
    pub seq: u32,
    pub sent_nanos: u64,
}

impl Body {
    /// The message text; padded with `x` up to `pad_to` bytes when that is longer.
    pub fn encode(&self, pad_to: usize) -> String {
        let mut text = String::with_capacity(pad_to.max(40));
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "{:08x}:{}:{}:{}",
            self.run, self.publisher, self.seq, self.sent_nanos
        );
        if text.len() + 1 < pad_to {
            text.push(':');
            text.extend(std::iter::repeat_n('x', pad_to - text.len()));
        }
        text
    }

    /// Reads a body back; `None` for anything that is not one (someone else's message).
    pub fn decode(text: &str) -> Option<Body> {
        let mut parts = text.splitn(5, ':');
        let run = parts.next()?;
        if run.len() != 8 || !run.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Body {
            run: u32::from_str_radix(run, 16).ok()?,
            publisher: digits(parts.next()?)?,
            seq: digits(parts.next()?)?,
            sent_nanos: digits(parts.next()?)?,
        })
    }
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Body = Body {
        run: 0xdead_beef,
        publisher: 3,
        seq: 41,
        sent_nanos: 1_234_567_890_123,
    };

    #[test]
    fn round_trips_with_and_without_padding() {
        assert_eq!(B.encode(0), "deadbeef:3:41:1234567890123");
        assert_eq!(Body::decode(&B.encode(0)), Some(B));
        let padded = B.encode(100);
        assert_eq!(padded.len(), 100);
        assert_eq!(Body::decode(&padded), Some(B));
        // Padding shorter than the body itself changes nothing.
        assert_eq!(B.encode(10), B.encode(0));
    }

    #[test]
    fn rejects_foreign_text() {
        for text in [
            "",
            "hello",
            "deadbeef:3:41",
            "deadbee:3:41:5",
            "deadbeeg:3:41:5",
            "deadbeef:-3:41:5",
            "deadbeef:+3:41:5",
            "deadbeef:3:99999999999:5",
            "deadbeef:3:41:",
            "deadbeef:3:41:5x",
        ] {
            assert_eq!(Body::decode(text), None, "{text:?}");
        }
    }
}
