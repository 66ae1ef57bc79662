//! Randomness for values that only need to differ (history epochs, reconnect spreads), not
//! to be secret: std's randomly keyed hasher, seeded from the OS once per thread, fed a
//! counter and the clock so that no two calls in a process repeat.

use std::{
    hash::{BuildHasher, Hasher, RandomState},
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

pub fn random_u64() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// A number in [0, 1).
pub fn unit_random() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_differ_and_units_stay_below_one() {
        let values: std::collections::HashSet<u64> = (0..1000).map(|_| random_u64()).collect();
        assert_eq!(values.len(), 1000);
        assert!(
            (0..1000)
                .map(|_| unit_random())
                .all(|u| (0.0..1.0).contains(&u))
        );
    }
}
