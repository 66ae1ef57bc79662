//! How the Redis bus reaches Redis, the same for one Redis and a cluster: every command
//! runs over a [`source::CommandSource`], which is all that tells the two apart.
//!
//! - [`source`]: the pool or the cluster router, and the connection either gives;
//! - [`replicas`]: how many replicas an ack waits for, kept current, and the `WAIT`;
//! - [`positions`]: what the subscribers read (`ChannelLog`);
//! - [`reads`]: pages further back in a history, and the roster as it is;
//! - [`signals`]: events published without being stored;
//! - [`presence_refresh`]: the periodic presence refresh of every channel, pipelined;
//! - here: running a command within the timeout, and reading stream entries back.
//!
//! The `Bus` operations themselves are in `engine`, on top of these.

pub mod positions;
pub mod presence_refresh;
pub mod reads;
pub mod replicas;
pub mod signals;
pub mod source;

use std::future::Future;

use protocol::{
    ChannelId, ChatMessage, ClientId, DisplayName, Epoch, MessageId, time::rfc3339_millis,
};

use self::source::Conn;
use super::RedisBus;
use crate::bus::BusError;

/// A stream entry as returned by XRANGE: id and flat field/value pairs.
pub type Entry = (String, Vec<String>);

impl RedisBus {
    /// How long a channel's stream is kept after its last message or join, in ms.
    pub fn channel_ttl_ms(&self) -> u64 {
        (self.policy.channel_ttl.as_millis() as u64).max(1)
    }

    /// Runs one command within the command timeout (see [`source::CommandSource::run`]).
    pub async fn with_connection<T, F, Fut>(
        &self,
        key: Option<&str>,
        command: F,
    ) -> Result<T, BusError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.source
            .run(key, self.settings.command_timeout, command)
            .await
    }

    /// Whether Redis answers. Tried twice when the first try finds Redis away: a pooled
    /// connection is reused without a check while it answered a moment ago, so the first
    /// try may only find that connection dead (and put the others in doubt); the second
    /// says whether Redis itself is.
    pub async fn ping(&self) -> Result<(), BusError> {
        match self.ping_once().await {
            Err(BusError::Unavailable(_)) => self.ping_once().await,
            answer => answer,
        }
    }

    async fn ping_once(&self) -> Result<(), BusError> {
        let pong: String = self
            .with_connection(None, |mut c| async move {
                redis::cmd("PING").query_async(&mut c).await
            })
            .await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(BusError::Protocol(format!("PING answered {pong}")))
        }
    }
}

pub fn parse_id(id: &str) -> Result<MessageId, BusError> {
    id.parse()
        .map_err(|_| BusError::Protocol(format!("bad stream id {id}")))
}

pub fn parse_epoch(epoch: &str) -> Result<Epoch, BusError> {
    Epoch::parse(epoch).map_err(|_| BusError::Protocol(format!("bad epoch {epoch:?}")))
}

pub fn message_from_entry(
    channel: &ChannelId,
    (id, fields): Entry,
) -> Result<ChatMessage, BusError> {
    let id = parse_id(&id)?;
    let optional = |name: &str| {
        fields
            .chunks_exact(2)
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
    };
    let field = |name: &str| {
        optional(name).ok_or_else(|| BusError::Protocol(format!("entry {id} has no field {name}")))
    };
    // Messages stored before names existed have no `n`.
    let name = optional("n")
        .map(|raw| DisplayName::parse(&raw))
        .transpose()
        .map_err(|e| BusError::Protocol(format!("entry {id}: bad name: {e}")))?;
    Ok(ChatMessage {
        id,
        channel_id: channel.clone(),
        client_id: ClientId::parse(&field("c")?)
            .map_err(|e| BusError::Protocol(format!("entry {id}: bad client id: {e}")))?,
        time: rfc3339_millis(id.millis),
        message: field("m")?,
        name,
    })
}
