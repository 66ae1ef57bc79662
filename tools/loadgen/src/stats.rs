//! Pure bookkeeping: which sequence numbers a receiver saw from each publisher (loss,
//! duplicates, reordering), and latency histograms shared by all connections.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    sync::{Mutex, PoisonError},
};

use hdrhistogram::Histogram;
use protocol::MessageId;
use serde::Serialize;

/// A set of sequence numbers `0..capacity`, one bit each.
#[derive(Debug, Clone, Default)]
pub struct SeqSet {
    words: Vec<u64>,
    len: u64,
}

impl SeqSet {
    pub fn with_capacity(capacity: u32) -> Self {
        Self {
            words: vec![0; (capacity as usize).div_ceil(64)],
            len: 0,
        }
    }

    /// Adds `seq`; false if it was already there. Grows as needed: callers bound `seq`.
    pub fn insert(&mut self, seq: u32) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        let fresh = self.words[word] & mask == 0;
        self.words[word] |= mask;
        self.len += u64::from(fresh);
        fresh
    }

    pub fn contains(&self, seq: u32) -> bool {
        self.words
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1u64 << (seq % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many members of `self` are missing from `other`.
    pub fn missing_from(&self, other: Option<&SeqSet>) -> u64 {
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let theirs = other.and_then(|o| o.words.get(i)).copied().unwrap_or(0);
                u64::from((w & !theirs).count_ones())
            })
            .sum()
    }
}

/// What one delivery was, for one receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time, in publisher order.
    First,
    /// First time, but after a later message of the same publisher.
    Reordered,
    /// Seen before.
    Duplicate,
}

#[derive(Debug, Default)]
struct PublisherTrack {
    seen: SeqSet,
    highest: Option<u32>,
}

/// Hashes publisher indexes cheaply (a multiply); SipHash is measurable per delivery.
#[derive(Debug, Default, Clone, Copy)]
pub struct IndexHasher(u64);

impl Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// One receiver's view: per publisher, which sequence numbers arrived and in what order, and
/// whether the channel's message ids arrived strictly increasing (the protocol promises one
/// order for every member).
#[derive(Debug, Default)]
pub struct OrderTracker {
    publishers: HashMap<u32, PublisherTrack, BuildHasherDefault<IndexHasher>>,
    last_id: Option<MessageId>,
    pub unique: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub id_regressions: u64,
}

impl OrderTracker {
    pub fn observe(&mut self, publisher: u32, seq: u32) -> Seen {
        let track = self.publishers.entry(publisher).or_default();
        if !track.seen.insert(seq) {
            self.duplicates += 1;
            return Seen::Duplicate;
        }
        self.unique += 1;
        match track.highest {
            Some(high) if seq < high => {
                self.reordered += 1;
                Seen::Reordered
            }
            _ => {
                track.highest = Some(seq);
                Seen::First
            }
        }
    }

    /// Records a delivered message id; ids must strictly increase within the channel.
    pub fn observe_id(&mut self, id: MessageId) {
        if self.last_id.is_some_and(|last| id <= last) {
            self.id_regressions += 1;
        } else {
            self.last_id = Some(id);
        }
    }

    /// Messages `publisher` had acknowledged that this receiver never saw.
    pub fn lost(&self, publisher: u32, acked: &SeqSet) -> u64 {
        acked.missing_from(self.publishers.get(&publisher).map(|t| &t.seen))
    }

    /// Messages this receiver saw from `publisher` that were never acknowledged.
    pub fn unacked(&self, publisher: u32, acked: &SeqSet) -> u64 {
        self.publishers
            .get(&publisher)
            .map_or(0, |t| t.seen.missing_from(Some(acked)))
    }
}

/// Highest latency a histogram holds (60 s, in µs); larger values are clamped.
const MAX_MICROS: u64 = 60_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant histogram bounds are valid")
}

struct Shard {
    total: Histogram<u64>,
    interval: Histogram<u64>,
}

/// Latency histograms (µs), sharded so connections on different threads rarely contend.
/// Keeps the whole run and the interval since the last [`Latency::take_interval`].
pub struct Latency {
    shards: Vec<Mutex<Shard>>,
}

impl Latency {
    pub fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1))
                .map(|_| {
                    Mutex::new(Shard {
                        total: new_histogram(),
                        interval: new_histogram(),
                    })
                })
                .collect(),
        }
    }

    pub fn record(&self, shard: usize, micros: u64) {
        let v = micros.clamp(1, MAX_MICROS);
        let mut s = self.shards[shard % self.shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        s.total.saturating_record(v);
        s.interval.saturating_record(v);
    }

    /// Everything recorded since the previous call.
    pub fn take_interval(&self) -> Histogram<u64> {
        let mut out = new_histogram();
        for shard in &self.shards {
            let mut s = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = out.add(&s.interval);
            s.interval.reset();
        }
        out
    }

    pub fn total(&self) -> Histogram<u64> {
        let mut out = new_histogram();
        for shard in &self.shards {
            let s = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = out.add(&s.total);
        }
        out
    }
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_set_counts_and_compares() {
        let mut acked = SeqSet::with_capacity(10);
        for s in [0, 1, 2, 63, 64, 200] {
            assert!(acked.insert(s));
        }
        assert!(!acked.insert(2));
        assert_eq!(acked.len(), 6);
        assert!(acked.contains(200) && !acked.contains(199) && !acked.contains(100_000));
        let mut seen = SeqSet::default();
        seen.insert(1);
        seen.insert(64);
        seen.insert(7); // never acked
        assert_eq!(acked.missing_from(Some(&seen)), 4);
        assert_eq!(acked.missing_from(None), 6);
        assert_eq!(seen.missing_from(Some(&acked)), 1);
    }

    #[test]
    fn tracker_finds_duplicates_reordering_and_loss() {
        let mut t = OrderTracker::default();
        let seq = [0, 1, 3, 2, 3, 4];
        let got: Vec<Seen> = seq.iter().map(|&s| t.observe(7, s)).collect();
        use Seen::*;
        assert_eq!(got, [First, First, First, Reordered, Duplicate, First]);
        assert_eq!((t.unique, t.duplicates, t.reordered), (5, 1, 1));
        // Another publisher's sequence is independent.
        assert_eq!(t.observe(8, 0), First);
        let mut acked = SeqSet::default();
        for s in 0..7 {
            acked.insert(s);
        }
        assert_eq!(t.lost(7, &acked), 2); // 5 and 6
        assert_eq!(t.lost(9, &acked), 7); // never heard of publisher 9
        let mut partial = SeqSet::default();
        partial.insert(0);
        assert_eq!(t.unacked(7, &partial), 4);
    }

    #[test]
    fn tracker_checks_channel_order() {
        let mut t = OrderTracker::default();
        for id in ["5-0", "5-1", "6-0", "5-9", "6-0", "7-0"] {
            t.observe_id(id.parse().unwrap());
        }
        assert_eq!(t.id_regressions, 2);
    }

    #[test]
    fn latency_percentiles_and_intervals() {
        let l = Latency::new(4);
        for i in 1..=1000u64 {
            l.record(i as usize, i * 1000); // 1..1000 ms
        }
        let first = l.take_interval();
        assert_eq!(first.len(), 1000);
        assert!(l.take_interval().is_empty());
        l.record(0, 0); // clamped to 1 µs
        let s = LatencySummary::of(&l.total());
        assert_eq!(s.count, 1001);
        assert!((s.p50_ms - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.p99_ms - 990.0).abs() < 1.0, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() < 1.0, "{s:?}");
        assert_eq!(
            LatencySummary::of(&new_histogram()),
            LatencySummary::default()
        );
    }
}
