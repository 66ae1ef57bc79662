//! What the embedded bus keeps per channel: the retained history and its incarnation, who is
//! present, and the nonces of recent sends.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::Instant,
};

use protocol::{ChatMessage, ClientId, Epoch, MessageId, frames::MAX_WELCOME_ONLINE};

use crate::bus::{ConnKey, Roster, epoch};

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
            nonces: HashMap::new(),
            nonces_after_sweep: 0,
            touched: Instant::now(),
        }
    }
}

/// At most `limit` retained messages after `id`, oldest first.
pub fn after(state: &ChannelState, id: MessageId, limit: usize) -> Vec<ChatMessage> {
    let start = state.log.partition_point(|m| m.id <= id);
    state.log.range(start..).take(limit).cloned().collect()
}

pub fn roster(state: &ChannelState) -> Roster {
    Roster {
        online: state
            .present
            .keys()
            .take(MAX_WELCOME_ONLINE)
            .cloned()
            .collect(),
        online_count: state.present.len() as u64,
    }
}
