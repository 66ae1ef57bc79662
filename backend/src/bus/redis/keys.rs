//! Redis names of a chat channel.
//!
//! Every key and the pub/sub channel of one chat channel share the hash tag `{chat:<id>}`, so
//! on a Redis Cluster they live on one shard and the store-and-publish script stays atomic.
//! Channel and client ids cannot contain `{`, `}` or `:` (see `protocol::ids`), so names
//! never collide.

use protocol::{ChannelId, ClientId};

/// The Redis names used for one chat channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelKeys {
    tag: String,
}

const EVENTS_SUFFIX: &str = ":events";
const TAG_PREFIX: &str = "{chat:";

impl ChannelKeys {
    pub fn new(channel: &ChannelId) -> Self {
        Self {
            tag: format!("{TAG_PREFIX}{channel}}}"),
        }
    }

    /// Stream of the channel's messages; entry ids are the message ids.
    pub fn log(&self) -> String {
        format!("{}:log", self.tag)
    }

    /// Sorted set of present client ids, scored by when their presence expires.
    pub fn online(&self) -> String {
        format!("{}:online", self.tag)
    }

    /// Hash of present client ids' display names. The presence scripts derive it from
    /// `online` (`:online` → `:names`), so the two are always side by side; named here for
    /// the test that holds them to it.
    #[cfg(test)]
    pub fn names(&self) -> String {
        format!("{}:names", self.tag)
    }

    /// Sorted set of one client's open connections, scored by when each expires.
    pub fn connections(&self, client: &ClientId) -> String {
        format!("{}{client}", self.connections_prefix())
    }

    /// What `connections` puts before the client id; the presence scripts build the keys of
    /// clients they only learn about inside Redis (expired ones) from it.
    pub fn connections_prefix(&self) -> String {
        format!("{}:conns:", self.tag)
    }

    /// A client's recent send nonce, holding the id of the message it created and the epoch
    /// of the history it was stored in (`<id>/<epoch>`).
    pub fn nonce(&self, client: &ClientId, nonce: &str) -> String {
        format!("{}:nonce:{client}:{nonce}", self.tag)
    }

    /// Set for a while when a client's `typing` was passed on, so its other instances' are not.
    pub fn typing(&self, client: &ClientId) -> String {
        format!("{}:typing:{client}", self.tag)
    }

    /// Pub/sub channel carrying the channel's messages and presence changes.
    pub fn events(&self) -> String {
        format!("{}{EVENTS_SUFFIX}", self.tag)
    }
}

/// The chat channel a pub/sub channel name belongs to, if it is one of ours.
pub fn channel_of_events(name: &str) -> Option<ChannelId> {
    let inner = name.strip_prefix(TAG_PREFIX)?.strip_suffix(EVENTS_SUFFIX)?;
    ChannelId::parse(inner.strip_suffix('}')?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_names_share_one_hash_tag() {
        let keys = ChannelKeys::new(&ChannelId::parse("room-1").unwrap());
        let client = ClientId::parse("alice").unwrap();
        for name in [
            keys.log(),
            keys.online(),
            keys.names(),
            keys.connections(&client),
            keys.nonce(&client, "n:{x}"),
            keys.events(),
        ] {
            assert!(name.starts_with("{chat:room-1}:"), "{name}");
        }
    }

    #[test]
    fn names_sit_where_the_presence_scripts_look_for_them() {
        let keys = ChannelKeys::new(&ChannelId::parse("room").unwrap());
        assert_eq!(
            keys.online().strip_suffix(":online"),
            keys.names().strip_suffix(":names")
        );
    }

    #[test]
    fn events_name_maps_back_to_its_channel() {
        let channel = ChannelId::parse("room.1_x").unwrap();
        assert_eq!(
            channel_of_events(&ChannelKeys::new(&channel).events()),
            Some(channel)
        );
        assert_eq!(channel_of_events("{chat:room}:log"), None);
        assert_eq!(channel_of_events("other"), None);
    }
}
