//! The message bus: where a channel's messages are stored, numbered and shared between
//! instances.
//!
//! One interface, several engines, in the manner of centrifugo's brokers:
//! - [`embedded::EmbeddedBus`]: in-process, for a single instance on a laptop;
//! - [`redis::RedisBus`]: one Redis, or a Redis Cluster (sharded pub/sub), shared by any
//!   number of stateless instances. Every key and the pub/sub channel of one chat channel
//!   share one hash tag (see `redis::keys`), so a channel lives on one shard.
//!
//! The bus never talks to WebSockets. It hands every event of a channel this instance is
//! subscribed to to an [`EventSink`] (the local hub), in the channel's order.

pub mod embedded;
pub mod epoch;
pub mod history_flights;
pub mod redis;

use std::{collections::BTreeMap, time::Duration};

use async_trait::async_trait;
use protocol::{ChannelId, ChatMessage, ClientId, DisplayName, Epoch, MessageId, PresenceEvent};
use tokio::sync::watch;

/// Identifies one WebSocket connection across all instances (`<instance>-<n>`), so presence
/// can count connections per client id without instances trampling each other.
pub type ConnKey = String;

/// Something a channel's members must see, in the order the bus delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    Message(ChatMessage),
    Presence {
        event: PresenceEvent,
        client_id: ClientId,
        online_count: u64,
        name: Option<DisplayName>,
    },
    /// Something ephemeral: delivered to the members there are now, never stored.
    Signal(Signal),
}

/// An ephemeral event a member sends its channel (see [`Bus::signal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// `client` is typing; every member but its own connections hears it.
    Typing {
        client: ClientId,
        name: Option<DisplayName>,
    },
    /// Every connection of `client` in the channel the signal is sent on (in every channel,
    /// when sent on [`control_channel`]) is closed with 4000 and `reason`: moderation.
    Disconnect { client: ClientId, reason: String },
}

/// A client id's `typing` frames are passed on at most this often in a channel, whichever of
/// its connections (on whichever instance) sends them; those in between are dropped without an
/// answer (clients show one for a few seconds after the last). Each instance keeps to it on its
/// own (the hub), and engines shared by instances across them ([`Bus::signal`]).
pub const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The channel every instance listens on for what concerns all channels, from the start
/// (clients may not join it: its id is reserved).
pub fn control_channel() -> ChannelId {
    ChannelId::parse("__control").unwrap_or_else(|_| unreachable!("a valid id"))
}

/// Receives the events of subscribed channels. Called from the bus's delivery path, so it
/// must not block.
pub trait EventSink: Send + Sync + 'static {
    fn deliver(&self, channel: &ChannelId, event: BusEvent);

    /// The bus cannot tell what this instance missed of `channel` (its history no longer
    /// reaches back far enough): local members must resume on their own, where they will
    /// learn `recovered: false` instead of silently missing messages.
    fn gap(&self, channel: &ChannelId);
}

/// What every channel keeps, the same on every engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPolicy {
    /// Messages sent after `welcome` to a client that joins without `since` (or cannot resume).
    pub history_limit: usize,
    /// Messages kept per channel; older ones are trimmed.
    pub history_max: usize,
    /// How long a send's nonce is remembered, so a retry is stored only once.
    pub dedupe_window: Duration,
    /// How long a channel is kept after its last message or join (on the embedded bus:
    /// once no member is connected either). Forgetting it loses its history and epoch, so
    /// a resume from before is `recovered: false`.
    pub channel_ttl: Duration,
}

/// Where a resuming client (or a subscriber catching up) left off.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resume {
    /// The newest message it has; `0-0` for none.
    pub since: MessageId,
    /// The history incarnation `since` belongs to. `None` from clients that predate epochs:
    /// they are recovered only when `since` itself proves it belongs to the current history.
    pub epoch: Option<Epoch>,
}

/// What a joining (or resuming) client is sent before live messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
    /// True when the client asked to resume and nothing after its `since` was lost.
    pub recovered: bool,
    /// The incarnation of the channel's history these messages (and the live ones that
    /// follow) belong to. Reading history creates it when the channel has none yet, so a
    /// client always has one to resume with.
    pub epoch: Epoch,
}

/// Who is in a channel (right after a connection registered its presence, or when asked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    pub online: Vec<ClientId>,
    pub online_count: u64,
    /// The display names of those in `online` that have one.
    pub names: BTreeMap<ClientId, DisplayName>,
}

/// A page of history further back than what a member was replayed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryPage {
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
    /// Whether messages older than the first of `messages` are still kept.
    pub more: bool,
}

/// A bus operation that did not happen, or did not fully happen. The caller tells its client
/// so (`unavailable`, `not_confirmed`); it never pretends it succeeded, nor that something
/// stored was not.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BusError {
    #[error("the message store is unreachable: {0}")]
    Unavailable(String),
    #[error("the message store answered something unexpected: {0}")]
    Protocol(String),
    /// A publish that stored and published the message (its id is known to every member),
    /// but fewer replicas than required confirmed it in time. A resend with the same nonce
    /// waits again and is acked with this id.
    #[error("message {id} was stored, but {confirmed} of {wanted} replicas confirmed it in time")]
    NotConfirmed {
        id: MessageId,
        confirmed: usize,
        wanted: usize,
    },
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Starts delivering `channel`'s events to the sink. Called under the hub's lock when the
    /// channel gets its first local member, in the same order as [`Bus::unsubscribe`], so it
    /// must not block: engines queue the work and flip the returned watch to `true` once
    /// events published from then on are sure to be delivered (and back to `false` while
    /// that is not so).
    fn subscribe(&self, channel: &ChannelId) -> watch::Receiver<bool>;

    /// Stops delivering `channel`'s events: its last local member left.
    fn unsubscribe(&self, channel: &ChannelId);

    /// Stores the message and publishes it to every instance, atomically, so the id order is
    /// the delivery order. Returns its id once both happened.
    ///
    /// A `nonce` this client already used in this channel within the dedupe window means the
    /// client is retrying a send it got no ack for: nothing is stored or published again and
    /// the original message's id is returned, so a retry can never create a second message.
    ///
    /// `name` is the sender's display name now; it is stored with the message, so history
    /// shows the name it was sent under.
    async fn publish(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        name: Option<&DisplayName>,
        text: &str,
        nonce: Option<&str>,
    ) -> Result<MessageId, BusError>;

    /// At most `limit` of the kept messages older than `before` (the newest of them), oldest
    /// first, for a member scrolling back. `before` need not be a kept id: ids are ordered.
    async fn history_before(
        &self,
        channel: &ChannelId,
        before: MessageId,
        limit: usize,
    ) -> Result<HistoryPage, BusError>;

    /// Hands `signal` to the channel's members on every instance, without storing it: a
    /// member who is not there now never hears it, and no resume replays it.
    async fn signal(&self, channel: &ChannelId, signal: Signal) -> Result<(), BusError>;

    /// Who is in the channel now, names included; changes nothing.
    async fn presence(&self, channel: &ChannelId) -> Result<Roster, BusError>;

    /// The first `limit` messages a client joining with (or without) a resume position must
    /// be replayed; the rest follows page by page from [`Bus::history_after`], so a replay is
    /// never held whole. Recovered only when the position is provably in the channel's
    /// current history (see [`epoch::recoverable`]); never after that history was lost and
    /// created again.
    async fn history(
        &self,
        channel: &ChannelId,
        resume: Option<&Resume>,
        limit: usize,
    ) -> Result<History, BusError>;

    /// The next page of a replay: at most `limit` messages after `after`, oldest first, of
    /// the history `epoch` names. `None` when messages right after `after` are no longer kept
    /// (trimmed while the client was being replayed, or the history was lost and created
    /// again): going on would leave a gap.
    async fn history_after(
        &self,
        channel: &ChannelId,
        after: MessageId,
        epoch: &Epoch,
        limit: usize,
    ) -> Result<Option<Vec<ChatMessage>>, BusError>;

    /// Registers one connection of `client` as present, announcing a `join` if it is the
    /// client's first connection to the channel on any instance. `name` becomes the client's
    /// display name in the roster (the newest connection's name is the one shown).
    async fn join_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        name: Option<&DisplayName>,
        conn: &ConnKey,
    ) -> Result<Roster, BusError>;

    /// Removes one connection, announcing a `leave` if it was the client's last.
    async fn leave_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<(), BusError>;

    /// Keeps this instance's connections present. Engines whose presence can outlive the
    /// instance (Redis) expire entries that are not refreshed, so a crashed instance leaves
    /// no ghosts for longer than the presence TTL.
    async fn refresh_presence(
        &self,
        channel: &ChannelId,
        members: &[(ClientId, ConnKey)],
    ) -> Result<(), BusError>;

    /// [`Bus::refresh_presence`] for every channel of `channels`; returns the channels whose
    /// refresh failed, with why. Engines that can send many refreshes together (one Redis:
    /// in pipelines) do, so the periodic refresh of every channel costs few round trips.
    async fn refresh_presence_all(
        &self,
        channels: &[(ChannelId, Vec<(ClientId, ConnKey)>)],
    ) -> Vec<(ChannelId, BusError)> {
        let mut failed = Vec::new();
        for (channel, members) in channels {
            if let Err(e) = self.refresh_presence(channel, members).await {
                failed.push((channel.clone(), e));
            }
        }
        failed
    }

    /// Whether the bus can serve requests now (for `/readyz`).
    async fn check_ready(&self) -> Result<(), BusError>;
}
