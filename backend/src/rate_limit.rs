//! A token bucket per client id and channel: a burst of sends is fine, a steady flood is not.
//!
//! The bucket outlives the connection: it is kept in the instance's [`SendBudgets`] until it
//! would be full again, so reconnecting does not buy a fresh burst.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use protocol::{ChannelId, ClientId};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

pub struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            limit,
            tokens: limit.burst,
            refilled: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled);
        self.refilled = now;
        self.tokens =
            (self.tokens + elapsed.as_secs_f64() * self.limit.per_second).min(self.limit.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next token, for the error message.
    pub fn wait_hint(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.limit.per_second).max(0.0))
    }

    /// Whether the bucket has refilled completely by `now`: forgetting it changes nothing.
    fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled);
        self.tokens + elapsed.as_secs_f64() * self.limit.per_second >= self.limit.burst
    }
}

/// The send budgets of this instance's clients, per channel and client id, kept while a
/// connection uses them or until they are full again.
pub struct SendBudgets {
    limit: RateLimit,
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    by_sender: HashMap<(ChannelId, ClientId), Arc<Mutex<TokenBucket>>>,
    /// Size of `by_sender` after the last sweep of forgettable buckets.
    after_sweep: usize,
}

/// One connection's handle on its client's budget in its channel.
pub struct SendBudget(Arc<Mutex<TokenBucket>>);

impl SendBudgets {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The budget of `client` in `channel`: the one its earlier connections left, if it has
    /// not refilled since, or a full one.
    pub fn get(&self, channel: &ChannelId, client: &ClientId, now: Instant) -> SendBudget {
        let mut buckets = self.lock();
        // Forget refilled buckets no connection holds whenever the map has doubled since the
        // last sweep, so the cost stays constant per connection.
        if buckets.by_sender.len() >= 2 * buckets.after_sweep.max(64) {
            buckets.by_sender.retain(|_, bucket| {
                Arc::strong_count(bucket) > 1 || !lock_bucket(bucket).is_full(now)
            });
            buckets.after_sweep = buckets.by_sender.len();
        }
        let bucket = buckets
            .by_sender
            .entry((channel.clone(), client.clone()))
            .or_insert_with(|| Arc::new(Mutex::new(TokenBucket::new(self.limit, now))));
        SendBudget(bucket.clone())
    }

    /// Budgets kept, for tests and metrics.
    pub fn len(&self) -> usize {
        self.lock().by_sender.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock_bucket(bucket: &Mutex<TokenBucket>) -> MutexGuard<'_, TokenBucket> {
    bucket.lock().unwrap_or_else(|p| p.into_inner())
}

impl SendBudget {
    /// Takes one send from the budget if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        lock_bucket(&self.0).try_take(now)
    }

    /// How long until the next send is allowed, for the error message.
    pub fn wait_hint(&self) -> Duration {
        lock_bucket(&self.0).wait_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(
            RateLimit {
                per_second: 10.0,
                burst: 3.0,
            },
            start,
        );
        assert!((0..3).all(|_| bucket.try_take(start)));
        assert!(!bucket.try_take(start));
        assert!(bucket.wait_hint() > Duration::ZERO);
        // 100 ms buys exactly one more token at 10/s.
        let later = start + Duration::from_millis(100);
        assert!(bucket.try_take(later));
        assert!(!bucket.try_take(later));
        // A long pause refills only up to the burst.
        let much_later = later + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_take(much_later)).count(), 3);
    }

    #[test]
    fn a_budget_is_shared_until_it_has_refilled_and_nobody_holds_it() {
        let limit = RateLimit {
            per_second: 1.0,
            burst: 2.0,
        };
        let budgets = SendBudgets::new(limit);
        let (room, alice) = (
            ChannelId::parse("room").unwrap(),
            ClientId::parse("alice").unwrap(),
        );
        let start = Instant::now();
        let mut first = budgets.get(&room, &alice, start);
        assert!(first.try_take(start) && first.try_take(start));
        drop(first);
        let mut again = budgets.get(&room, &alice, start);
        assert!(!again.try_take(start), "a reconnect got a fresh budget");
        drop(again);
        // Once refilled and unheld, budgets are forgotten as the map grows.
        let later = start + Duration::from_secs(10);
        for i in 0..200 {
            let client = ClientId::parse(&format!("c{i}")).unwrap();
            drop(budgets.get(&room, &client, later));
        }
        assert!(budgets.len() < 200, "{} budgets kept", budgets.len());
    }
}
