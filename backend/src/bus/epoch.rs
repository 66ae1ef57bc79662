//! Epochs of channel histories, and the one rule that decides whether a resume is recovered.
//!
//! Every engine gives a channel's history an [`Epoch`] when the history is created, and
//! loses it together with the history: the embedded bus keeps it in the channel's state (a
//! restarted process starts with none), Redis keeps it inside the stream's key (see
//! `redis/lua/epoch.lua`). A history created again after a loss therefore has a new epoch,
//! and a client resuming from the old one is told `recovered: false` even though the ids
//! of the new history seem to continue where it left off.
//!
//! The rule is written once here for the embedded bus and mirrored in `history.lua`.

use protocol::{Epoch, MessageId};

use super::Resume;
use crate::random::random_u64;

/// A new epoch: 16 hex digits, unpredictable and different in every process and call.
pub fn mint() -> Epoch {
    // Sixteen hex digits always parse as an epoch.
    Epoch::parse(&format!("{:016x}", random_u64())).unwrap_or_else(|_| unreachable!())
}

/// What a history knows about itself that a resume is checked against.
pub struct Incarnation<'a> {
    pub epoch: &'a Epoch,
    /// The newest id the history ever issued.
    pub last: MessageId,
    /// The newest id trimmed from it (`0-0` when nothing was).
    pub trimmed: MessageId,
}

/// Whether everything after `resume.since` is still in the history, so the client can be
/// given exactly what it missed. `holds(id)` says whether the history still has that id.
///
/// - A different epoch: the position belongs to a history that is gone.
/// - No epoch (a client older than epochs): only a `since` the history itself holds (or
///   trimmed last) proves the position is from this history; `0-0` proves nothing.
/// - `since` newer than anything issued, or older than what was trimmed: lost.
/// - `since` within the range but not held: it was never stored here (a failover to a
///   replica that lacked it, with newer messages since).
pub fn recoverable(
    resume: &Resume,
    history: &Incarnation<'_>,
    holds: impl FnOnce(MessageId) -> bool,
) -> bool {
    match &resume.epoch {
        Some(claimed) if claimed != history.epoch => return false,
        None if resume.since == MessageId::ZERO => return false,
        _ => {}
    }
    let since = resume.since;
    since <= history.last && since >= history.trimmed && (since == history.trimmed || holds(since))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(millis: u64) -> MessageId {
        MessageId::new(millis, 0)
    }

    #[test]
    fn minted_epochs_differ() {
        let epochs: std::collections::HashSet<_> = (0..1000).map(|_| mint()).collect();
        assert_eq!(epochs.len(), 1000);
    }

    #[test]
    fn only_a_position_in_the_current_history_is_recoverable() {
        let current = mint();
        let history = Incarnation {
            epoch: &current,
            last: id(30),
            trimmed: id(10),
        };
        let held = |i: MessageId| [id(20), id(30)].contains(&i);
        let resume = |since, epoch: Option<&Epoch>| Resume {
            since,
            epoch: epoch.cloned(),
        };
        assert!(recoverable(&resume(id(20), Some(&current)), &history, held));
        assert!(recoverable(&resume(id(10), Some(&current)), &history, held));
        assert!(recoverable(&resume(id(30), None), &history, held));
        for (since, epoch) in [
            (id(20), Some(&mint())),
            (id(25), Some(&current)),
            (id(31), Some(&current)),
            (id(5), Some(&current)),
            (id(25), None),
            (MessageId::ZERO, None),
        ] {
            assert!(
                !recoverable(&resume(since, epoch), &history, held),
                "{since} {epoch:?}"
            );
        }
        let empty = Incarnation {
            epoch: &current,
            last: MessageId::ZERO,
            trimmed: MessageId::ZERO,
        };
        assert!(recoverable(
            &resume(MessageId::ZERO, Some(&current)),
            &empty,
            |_| false
        ));
        assert!(!recoverable(&resume(MessageId::ZERO, None), &empty, |_| {
            false
        }));
    }
}
