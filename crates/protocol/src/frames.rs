//! Every frame of protocol v1. All frames are JSON text frames with a `type` field.
//!
//! Client frames are parsed ([`parse`]) leniently enough to answer precisely: a frame that is
//! JSON but wrong still yields its `nonce` (when it has a usable one), so the error can name
//! the send it refers to and the client can tell which of its pending messages failed.

mod parse;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ChannelId, ClientId, DisplayName, Epoch, MessageId};

/// Largest WebSocket message (after reassembling fragments) a server reads; larger ones are
/// closed with 1009 (message too big).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Longest `nonce` a client may attach to a `send`, in characters.
pub const MAX_NONCE_CHARS: usize = 64;
/// Most client ids listed in a `welcome`; `online_count` always has the full number.
pub const MAX_WELCOME_ONLINE: usize = 1000;
/// Default longest message text, in Unicode scalar values.
pub const DEFAULT_MAX_MESSAGE_CHARS: usize = 4096;
/// Longest part of a client's input an `error` frame quotes back, in characters: a reply
/// must never grow with what the client sent.
pub const MAX_ECHO_CHARS: usize = 64;
/// Messages in a `history` answer when the client names no `limit`.
pub const DEFAULT_HISTORY_PAGE: usize = 50;
/// Most messages a `history` frame may ask for.
pub const MAX_HISTORY_PAGE: usize = 100;

/// A message as stored in a channel's history and delivered to its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Strictly increasing within the channel, in the order messages were accepted.
    pub id: MessageId,
    pub channel_id: ChannelId,
    pub client_id: ClientId,
    /// RFC 3339 UTC with milliseconds, the instant the message was accepted.
    pub time: String,
    pub message: String,
    /// The sender's display name when it sent the message; absent when it had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<DisplayName>,
}

/// Whether a client id's first connection to a channel opened or its last one closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceEvent {
    Join,
    Leave,
}

/// Why a client frame was not accepted. Clients must treat codes they do not know as a
/// generic failure of the frame named by `nonce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, an unknown `type`, a missing or ill-typed field. The connection stays open.
    BadFrame,
    /// The message text is longer than the server's limit.
    TooLarge,
    /// The message could not be stored and published; it was not accepted. Retry later.
    Unavailable,
    /// The client sends faster than the server allows; the send was not accepted.
    RateLimited,
    /// The message was stored and published (members may already have it), but no replica
    /// confirmed it in time, so a failover could still lose it. Not a failure to store:
    /// resend with the same nonce, and the answer is the `ack` of the original message once a
    /// replica has it — never a second message.
    NotConfirmed,
    /// A `refresh` whose token is not valid for this client id and channel. The connection
    /// stays until its current token expires.
    Unauthorized,
}

/// Frames a server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Always the first frame of a connection.
    Welcome {
        channel_id: ChannelId,
        client_id: ClientId,
        /// At most [`MAX_WELCOME_ONLINE`] client ids present in the channel, this one included.
        online: Vec<ClientId>,
        online_count: u64,
        /// The display names of those in `online` that have one.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        names: BTreeMap<ClientId, DisplayName>,
        /// True when the connection resumed with `since` and nothing after it was lost.
        recovered: bool,
        /// The incarnation of the channel's history the replayed and live messages belong
        /// to; a client resumes with it next to `since`. Absent only from older servers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<Epoch>,
        /// Which backend instance serves this connection, for support and debugging.
        #[serde(default)]
        instance: String,
    },
    Message(ChatMessage),
    /// To the sender only, once its message is stored and published.
    Ack {
        nonce: Option<String>,
        id: MessageId,
    },
    Presence {
        event: PresenceEvent,
        client_id: ClientId,
        online_count: u64,
        /// The client's display name, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<DisplayName>,
    },
    /// How many are present, instead of each `presence` event, in a channel too large for
    /// every join and leave to be worth a frame to every member.
    Online {
        online_count: u64,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// The answer to a client's `ping`.
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// The answer to a client's `history`: the messages right before its `before`, oldest
    /// first, and whether older ones are still kept.
    History {
        messages: Vec<ChatMessage>,
        more: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// Another member is typing. Never stored; clients show it for a few seconds.
    Typing {
        client_id: ClientId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<DisplayName>,
    },
    /// The answer to a `refresh` whose token was accepted: the connection now lasts until
    /// `expires_at` (Unix seconds) unless refreshed again.
    Refreshed {
        expires_at: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
}

impl ServerFrame {
    /// Serializes the frame for the wire. Every field is a string, number, bool or list of
    /// them, so serialization cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            // Unreachable for these types; keep the connection alive with a generic frame.
            format!(
                r#"{{"type":"error","code":"bad_frame","message":"unserializable frame: {e}"}}"#
            )
        })
    }
}

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Send {
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// Asks for a `pong`: liveness a browser can see (it cannot see WebSocket pings).
    Ping {
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// A new token for this connection, before the one it connected with expires.
    Refresh {
        token: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// Asks for up to `limit` messages older than `before` (a page further back).
    History {
        before: MessageId,
        limit: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// The client is typing; forwarded to the channel's other members, never stored.
    Typing,
}

/// Longest token a `refresh` may carry, in bytes.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Limits a server applies to message text; configurable per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Longest message text accepted, in Unicode scalar values.
    pub max_chars: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        Self {
            max_chars: DEFAULT_MAX_MESSAGE_CHARS,
        }
    }
}

/// A client frame that was refused, ready to be sent back as an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    pub nonce: Option<String>,
}

impl FrameError {
    fn bad(message: impl Into<String>, nonce: Option<String>) -> Self {
        Self {
            code: ErrorCode::BadFrame,
            message: message.into(),
            nonce,
        }
    }
}

impl From<FrameError> for ServerFrame {
    fn from(e: FrameError) -> Self {
        ServerFrame::Error {
            code: e.code,
            message: e.message,
            nonce: e.nonce,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn named_frames_have_the_documented_shape() {
        let typing = ServerFrame::Typing {
            client_id: ClientId::parse("lei").unwrap(),
            name: Some(DisplayName::parse("李雷").unwrap()),
        };
        assert_eq!(
            serde_json::from_str::<Value>(&typing.to_json()).unwrap(),
            serde_json::json!({"type":"typing","client_id":"lei","name":"李雷"})
        );
        let page = ServerFrame::History {
            messages: vec![],
            more: false,
            nonce: Some("h".into()),
        };
        assert_eq!(
            serde_json::from_str::<Value>(&page.to_json()).unwrap(),
            serde_json::json!({"type":"history","messages":[],"more":false,"nonce":"h"})
        );
        // Frames without names read as before, and older servers' frames still parse.
        let presence: ServerFrame = serde_json::from_str(
            r#"{"type":"presence","event":"join","client_id":"a","online_count":1}"#,
        )
        .unwrap();
        assert!(matches!(presence, ServerFrame::Presence { name: None, .. }));
    }

    #[test]
    fn server_frames_have_the_documented_shape() {
        let msg = ChatMessage {
            id: "1700000000000-0".parse().unwrap(),
            channel_id: ChannelId::parse("room").unwrap(),
            client_id: ClientId::parse("alice").unwrap(),
            time: "2023-11-14T22:13:20.000Z".into(),
            message: "<b>hi</b>".into(),
            name: None,
        };
        let json: Value =
            serde_json::from_str(&ServerFrame::Message(msg.clone()).to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type":"message","id":"1700000000000-0","channel_id":"room",
                "client_id":"alice","time":"2023-11-14T22:13:20.000Z","message":"<b>hi</b>"})
        );
        let ack: Value = serde_json::from_str(
            &ServerFrame::Ack {
                nonce: None,
                id: msg.id,
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(
            ack,
            serde_json::json!({"type":"ack","nonce":null,"id":"1700000000000-0"})
        );
        let err: Value = serde_json::from_str(
            &ServerFrame::Error {
                code: ErrorCode::Unavailable,
                message: "x".into(),
                nonce: None,
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(
            err,
            serde_json::json!({"type":"error","code":"unavailable","message":"x"})
        );
        assert_eq!(
            serde_json::to_value(ErrorCode::NotConfirmed).unwrap(),
            "not_confirmed"
        );
        let online: Value = serde_json::from_str(
            &ServerFrame::Online {
                online_count: 12873,
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(
            online,
            serde_json::json!({"type":"online","online_count":12873})
        );
    }

    #[test]
    fn server_frames_round_trip() {
        let frames = [
            ServerFrame::Welcome {
                channel_id: ChannelId::parse("room").unwrap(),
                client_id: ClientId::parse("bob").unwrap(),
                online: vec![ClientId::parse("bob").unwrap()],
                online_count: 1,
                names: BTreeMap::from([(
                    ClientId::parse("bob").unwrap(),
                    DisplayName::parse("Bob").unwrap(),
                )]),
                recovered: false,
                epoch: Some(Epoch::parse("e1").unwrap()),
                instance: "rev-1-0a1b2c3d".into(),
            },
            ServerFrame::Presence {
                event: PresenceEvent::Leave,
                client_id: ClientId::parse("bob").unwrap(),
                online_count: 0,
                name: Some(DisplayName::parse("李雷").unwrap()),
            },
            ServerFrame::Online { online_count: 101 },
            ServerFrame::History {
                messages: vec![ChatMessage {
                    id: MessageId::new(3, 1),
                    channel_id: ChannelId::parse("room").unwrap(),
                    client_id: ClientId::parse("zoe").unwrap(),
                    time: "1970-01-01T00:00:00.003Z".into(),
                    message: "hi".into(),
                    name: Some(DisplayName::parse("Zoë Smith").unwrap()),
                }],
                more: true,
                nonce: None,
            },
            ServerFrame::Error {
                code: ErrorCode::TooLarge,
                message: "too long".into(),
                nonce: Some("n".into()),
            },
            ServerFrame::Error {
                code: ErrorCode::NotConfirmed,
                message: "stored, but not yet confirmed".into(),
                nonce: Some("n".into()),
            },
        ];
        for frame in frames {
            let back: ServerFrame = serde_json::from_str(&frame.to_json()).unwrap();
            assert_eq!(back, frame);
        }
        assert!(
            serde_json::from_str::<ServerFrame>(r#"{"type":"ack","nonce":null,"id":"nope"}"#)
                .is_err()
        );
    }
}
