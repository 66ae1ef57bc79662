//! Pure accounting for the drain scenario: what each client had to receive (every message of
//! its channel, once, in id order) against what it did receive, across its reconnects.

use std::collections::BTreeSet;

use protocol::MessageId;

/// One client's delivery faults.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// Messages of the channel the client never received.
    pub lost: u64,
    /// Deliveries of an id the client had already received.
    pub duplicated: u64,
    /// Deliveries of a new id lower than one received before it.
    pub reordered: u64,
}

impl Faults {
    pub fn add(&mut self, other: Faults) {
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
    }
}

/// The messages a channel's members must all have: every id one of them got acked, and every
/// id any of them received (a message stored whose `ack` was lost with its connection is still
/// the channel's).
pub fn channel_truth<'a>(
    acked: impl IntoIterator<Item = &'a MessageId>,
    received: impl IntoIterator<Item = &'a MessageId>,
) -> BTreeSet<MessageId> {
    acked.into_iter().chain(received).copied().collect()
}

/// Compares what one client `received`, in arrival order over all its connections, with its
/// channel's `truth`.
pub fn faults(received: &[MessageId], truth: &BTreeSet<MessageId>) -> Faults {
    let mut seen = BTreeSet::new();
    let mut highest: Option<MessageId> = None;
    let mut out = Faults::default();
    for &id in received {
        if !seen.insert(id) {
            out.duplicated += 1;
            continue;
        }
        if highest.is_some_and(|h| id < h) {
            out.reordered += 1;
        }
        highest = highest.max(Some(id));
    }
    out.lost = truth.iter().filter(|id| !seen.contains(*id)).count() as u64;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[&str]) -> Vec<MessageId> {
        raw.iter().map(|r| r.parse().unwrap()).collect()
    }

    #[test]
    fn clean_delivery_has_no_faults() {
        let got = ids(&["1-0", "1-1", "2-0"]);
        let truth = channel_truth(&got, &[]);
        assert_eq!(faults(&got, &truth), Faults::default());
    }

    #[test]
    fn counts_loss_duplicates_and_reordering() {
        let truth: BTreeSet<_> = ids(&["1-0", "2-0", "3-0", "4-0", "5-0"])
            .into_iter()
            .collect();
        // 2-0 replayed twice across a reconnect, 4-0 before 3-0, 5-0 never arrived.
        let got = ids(&["1-0", "2-0", "2-0", "4-0", "3-0"]);
        assert_eq!(
            faults(&got, &truth),
            Faults {
                lost: 1,
                duplicated: 1,
                reordered: 1,
            }
        );
        // A duplicate is not also counted as reordered, nor does it hide a loss.
        let got = ids(&["1-0", "3-0", "1-0", "4-0", "5-0"]);
        assert_eq!(
            faults(&got, &truth),
            Faults {
                lost: 1,
                duplicated: 1,
                reordered: 0,
            }
        );
    }

    #[test]
    fn truth_includes_stored_messages_whose_ack_was_lost() {
        let acked = ids(&["1-0", "3-0"]);
        let seen_by_a_peer = ids(&["1-0", "2-0", "3-0"]);
        let truth = channel_truth(&acked, &seen_by_a_peer);
        assert_eq!(truth.len(), 3);
        assert_eq!(faults(&acked, &truth).lost, 1);
    }

    #[test]
    fn sums_faults() {
        let mut total = Faults::default();
        total.add(Faults {
            lost: 1,
            duplicated: 2,
            reordered: 3,
        });
        total.add(Faults {
            lost: 1,
            duplicated: 0,
            reordered: 0,
        });
        assert_eq!(total.lost, 2);
        assert_eq!(total.duplicated, 2);
        assert_eq!(total.reordered, 3);
    }
}
