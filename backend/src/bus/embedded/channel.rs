//! What the embedded bus keeps per channel: the retained history and its incarnation, who is
//! present, and the nonces of recent sends.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::Instant,
};

use protocol::{ChatMessage, ClientId, DisplayName, Epoch, MessageId, frames::MAX_WELCOME_ONLINE};

use crate::bus::{ConnKey, HistoryPage, Roster, epoch};

/// A send's nonce, remembered until the dedupe window has passed.
pub struct SeenNonce {
    pub id: MessageId,
    pub expires: Instant,
}

pub struct ChannelState {
    /// This history's incarnation: minted with the state, so a restarted process (which
    /// has lost every history) never hands out an epoch a client could resume from.
    pub epoch: Epoch,
    /// The retained history, oldest first, at most `policy.max` long.
    pub log: VecDeque<ChatMessage>,
    /// The newest id ever minted, even if trimmed away since.
    pub last_id: MessageId,
    /// The newest id trimmed away; a resume from before it has lost messages.
    pub max_trimmed: MessageId,
    /// Open connections per present client id.
    pub present: HashMap<ClientId, HashSet<ConnKey>>,
    /// Display names of present client ids that have one.
    pub names: HashMap<ClientId, DisplayName>,
    /// Recent nonces per client, for exactly-once sends.
    pub nonces: HashMap<(ClientId, String), SeenNonce>,
    /// Size of `nonces` after the last sweep of expired entries.
    pub nonces_after_sweep: usize,
    /// The last message, join or leave; with nobody present, the channel is forgotten once
    /// this is older than the channel TTL.
    pub touched: Instant,
}

impl ChannelState {
    pub fn new() -> Self {
        Self {
            epoch: epoch::mint(),
            log: VecDeque::new(),
            last_id: MessageId::ZERO,
            max_trimmed: MessageId::ZERO,
            present: HashMap::new(),
            names: HashMap::new(),
            nonces: HashMap::new(),
            nonces_after_sweep: 0,
            touched: Instant::now(),
        }
    }
}

impl ChannelState {
    /// The id of the message `client` sent with `nonce`, when that was within the window.
    pub fn seen(&self, client: &ClientId, nonce: &str, now: Instant) -> Option<MessageId> {
        self.nonces
            .get(&(client.clone(), nonce.to_owned()))
            .filter(|seen| seen.expires > now)
            .map(|seen| seen.id)
    }

    /// Remembers `client`'s `nonce` until `expires`, for exactly-once sends.
    pub fn remember(
        &mut self,
        client: &ClientId,
        nonce: &str,
        id: MessageId,
        now: Instant,
        expires: Instant,
    ) {
        // Forget expired nonces whenever the map has doubled since the last sweep, so the
        // cost stays constant per send.
        if self.nonces.len() >= 2 * self.nonces_after_sweep.max(64) {
            self.nonces.retain(|_, seen| seen.expires > now);
            self.nonces_after_sweep = self.nonces.len();
        }
        self.nonces.insert(
            (client.clone(), nonce.to_owned()),
            SeenNonce { id, expires },
        );
    }

    /// Trims the history to its newest `max` messages.
    pub fn trim(&mut self, max: usize) {
        while self.log.len() > max {
            if let Some(trimmed) = self.log.pop_front() {
                self.max_trimmed = trimmed.id;
            }
        }
    }
}

/// At most `limit` retained messages after `id`, oldest first.
pub fn after(state: &ChannelState, id: MessageId, limit: usize) -> Vec<ChatMessage> {
    let start = state.log.partition_point(|m| m.id <= id);
    state.log.range(start..).take(limit).cloned().collect()
}

/// At most `limit` retained messages older than `id` (the newest of them), oldest first.
pub fn before(state: &ChannelState, id: MessageId, limit: usize) -> HistoryPage {
    let end = state.log.partition_point(|m| m.id < id);
    let start = end.saturating_sub(limit);
    HistoryPage {
        messages: state.log.range(start..end).cloned().collect(),
        more: start > 0,
    }
}

pub fn roster(state: &ChannelState) -> Roster {
    let online: Vec<ClientId> = state
        .present
        .keys()
        .take(MAX_WELCOME_ONLINE)
        .cloned()
        .collect();
    let names = online
        .iter()
        .filter_map(|c| Some((c.clone(), state.names.get(c)?.clone())))
        .collect();
    Roster {
        online,
        online_count: state.present.len() as u64,
        names,
    }
}
