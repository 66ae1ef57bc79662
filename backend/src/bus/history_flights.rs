//! One history read for the clients that join a channel at the same moment from the same place.
//!
//! When an instance stops (every deploy), its clients reconnect to the others within a second,
//! and the members of one channel mostly resume from the same message. Each would read the
//! same first page of history: Redis work would grow with clients. Instead, a join that finds
//! a read of the same channel, position and size already under way waits for it and takes its
//! answer — so the work grows with channels.
//!
//! Sharing must not open a gap. A joiner reads history only once it is in the hub and its
//! subscription is live (see `session::join`): everything published after that reaches it
//! live. A read *started* after that moment sees everything published before it, so the two
//! meet; a read started earlier may miss what was published in between. So a joiner takes
//! only a read that started no earlier than it became ready, and starts its own otherwise.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use futures_util::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use protocol::ChannelId;
use tokio::time::Instant;

use super::{Bus, BusError, History, Resume};

type Read = Shared<BoxFuture<'static, Result<History, BusError>>>;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    channel: ChannelId,
    resume: Option<Resume>,
    limit: usize,
}

struct Flight {
    started: Instant,
    read: Read,
}

/// Reads under way, by what they read.
#[derive(Default)]
pub struct HistoryFlights {
    /// Held only to look up, add or remove a flight, never across an `.await`.
    flights: Mutex<HashMap<Key, Flight>>,
}

/// Whether a joiner started its own read or joined one under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryRead {
    Started,
    Joined,
}

impl HistoryFlights {
    /// [`Bus::history`] for a joiner that became ready (in the hub, subscription live) at
    /// `ready_at`, shared with other joiners where that cannot open a gap.
    pub async fn history(
        &self,
        bus: &Arc<dyn Bus>,
        channel: &ChannelId,
        resume: Option<&Resume>,
        limit: usize,
        ready_at: Instant,
    ) -> (Result<History, BusError>, HistoryRead) {
        let key = Key {
            channel: channel.clone(),
            resume: resume.cloned(),
            limit,
        };
        let (read, how) = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            match flights.get(&key) {
                Some(flight) if flight.started >= ready_at => {
                    (flight.read.clone(), HistoryRead::Joined)
                }
                _ => {
                    let read = start(bus.clone(), key.clone());
                    let flight = Flight {
                        started: Instant::now(),
                        read: read.clone(),
                    };
                    flights.insert(key.clone(), flight);
                    (read, HistoryRead::Started)
                }
            }
        };
        let result = read.clone().await;
        // The read is over: forget it, unless a newer one took its place meanwhile.
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if flights.get(&key).is_some_and(|f| f.read.ptr_eq(&read)) {
            flights.remove(&key);
        }
        (result, how)
    }

    /// Reads under way now.
    pub fn in_flight(&self) -> usize {
        self.flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn start(bus: Arc<dyn Bus>, key: Key) -> Read {
    async move {
        bus.history(&key.channel, key.resume.as_ref(), key.limit)
            .await
    }
    .boxed()
    .shared()
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use async_trait::async_trait;
    use protocol::{ChatMessage, ClientId, DisplayName, Epoch, MessageId};
    use tokio::sync::watch;

    use super::*;
    use crate::bus::{ConnKey, HistoryPage, Roster, Signal, epoch};

    /// A bus whose history reads take a while (as over a network) and are counted; nothing
    /// else of it is used here.
    #[derive(Default)]
    struct SlowHistory {
        reads: AtomicUsize,
    }

    #[async_trait]
    impl Bus for SlowHistory {
        async fn history(
            &self,
            _: &ChannelId,
            _: Option<&Resume>,
            _: usize,
        ) -> Result<History, BusError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(History {
                messages: Vec::new(),
                recovered: true,
                epoch: epoch::mint(),
            })
        }
        fn subscribe(&self, _: &ChannelId) -> watch::Receiver<bool> {
            unreachable!("not used")
        }
        fn unsubscribe(&self, _: &ChannelId) {}
        async fn publish(
            &self,
            _: &ChannelId,
            _: &ClientId,
            _: Option<&DisplayName>,
            _: &str,
            _: Option<&str>,
        ) -> Result<MessageId, BusError> {
            unreachable!("not used")
        }
        async fn history_before(
            &self,
            _: &ChannelId,
            _: MessageId,
            _: usize,
        ) -> Result<HistoryPage, BusError> {
            unreachable!("not used")
        }
        async fn signal(&self, _: &ChannelId, _: Signal) -> Result<(), BusError> {
            unreachable!("not used")
        }
        async fn presence(&self, _: &ChannelId) -> Result<Roster, BusError> {
            unreachable!("not used")
        }
        async fn history_after(
            &self,
            _: &ChannelId,
            _: MessageId,
            _: &Epoch,
            _: usize,
        ) -> Result<Option<Vec<ChatMessage>>, BusError> {
            unreachable!("not used")
        }
        async fn join_presence(
            &self,
            _: &ChannelId,
            _: &ClientId,
            _: Option<&DisplayName>,
            _: &ConnKey,
        ) -> Result<Roster, BusError> {
            unreachable!("not used")
        }
        async fn leave_presence(
            &self,
            _: &ChannelId,
            _: &ClientId,
            _: &ConnKey,
        ) -> Result<(), BusError> {
            unreachable!("not used")
        }
        async fn refresh_presence(
            &self,
            _: &ChannelId,
            _: &[(ClientId, ConnKey)],
        ) -> Result<(), BusError> {
            unreachable!("not used")
        }
        async fn check_ready(&self) -> Result<(), BusError> {
            Ok(())
        }
    }

    fn room() -> ChannelId {
        ChannelId::parse("room").unwrap_or_else(|_| unreachable!())
    }

    #[tokio::test]
    async fn joiners_ready_before_a_read_started_share_it_later_ones_do_not() {
        let slow = Arc::new(SlowHistory::default());
        let bus: Arc<dyn Bus> = slow.clone();
        let flights = Arc::new(HistoryFlights::default());
        let resume = Resume {
            since: MessageId::new(5, 0),
            epoch: None,
        };
        // Ten joiners ready at once: one read, nine joined.
        let ready = Instant::now();
        let joins: Vec<_> = (0..10)
            .map(|_| {
                let (flights, bus, resume) = (flights.clone(), bus.clone(), resume.clone());
                tokio::spawn(async move {
                    flights
                        .history(&bus, &room(), Some(&resume), 50, ready)
                        .await
                })
            })
            .collect();
        let mut how = Vec::new();
        for join in joins {
            let (result, read) = join.await.unwrap_or_else(|e| panic!("{e}"));
            assert!(result.is_ok());
            how.push(read);
        }
        assert_eq!(slow.reads.load(Ordering::SeqCst), 1);
        assert_eq!(
            how.iter().filter(|r| **r == HistoryRead::Started).count(),
            1
        );
        assert_eq!(flights.in_flight(), 0, "a finished read is forgotten");

        // A joiner that became ready after a read started must not take it: it could miss
        // what was published in between. Another position is another read too.
        let first = {
            let (flights, bus, resume) = (flights.clone(), bus.clone(), resume.clone());
            tokio::spawn(async move {
                flights
                    .history(&bus, &room(), Some(&resume), 50, Instant::now())
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (_, late) = flights
            .history(&bus, &room(), Some(&resume), 50, Instant::now())
            .await;
        let (_, elsewhere) = flights.history(&bus, &room(), None, 50, ready).await;
        let (_, early) = first.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (early, late, elsewhere),
            (
                HistoryRead::Started,
                HistoryRead::Started,
                HistoryRead::Started
            )
        );
        assert_eq!(slow.reads.load(Ordering::SeqCst), 4);
    }
}
