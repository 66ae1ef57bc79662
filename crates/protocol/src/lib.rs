//! Wire protocol v1 of the chat service, shared by the backend, the frontend and the tools.
//!
//! Everything a client and a server say to each other is a type here, so the two sides cannot
//! drift apart. Nothing in this crate does I/O: it parses, validates and serializes.
//!
//! - [`ids`]: channel and client ids, validated once at the edge.
//! - [`display_name`]: the names people show next to their client id.
//! - [`message_id`]: the ordered message id (a Redis Stream entry id) used for resume.
//! - [`epoch`]: which incarnation of a channel's history a resume position belongs to.
//! - [`frames`]: every frame a client sends and a server sends, and the limits on them.
//! - [`time`]: the RFC 3339 timestamps carried by messages.
//!
//! The public contract these types implement is written down in `docs/PROTOCOL.md`.

pub mod display_name;
pub mod epoch;
pub mod frames;
pub mod ids;
pub mod message_id;
pub mod time;

pub use display_name::{DisplayName, NameError};
pub use epoch::{Epoch, EpochError};
pub use frames::{
    ChatMessage, ClientFrame, ErrorCode, FrameError, MessageLimits, PresenceEvent, ServerFrame,
};
pub use ids::{ChannelId, ClientId, IdError};
pub use message_id::{MessageId, MessageIdError};
