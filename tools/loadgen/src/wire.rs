//! What differs between the servers loadgen can drive, behind one enum so every scenario runs
//! unchanged against either: our chat protocol (v1, `/ws/{channel}/{client}`), or the
//! socket.io reference server (`tools/reference`: Engine.IO v4 over a WebSocket, `signin`,
//! `sendMessage`, `message`).
//!
//! Nearly all the traffic is chat messages, so each protocol reads those with a scan for the
//! few fields loadgen needs, without building a JSON value, and falls back to the full parser
//! for anything that does not fit the fixed layout the servers write.
//!
//! A [`Wire`] says where to connect, how a connection joins its channel, how a message is sent
//! and what a server frame means to the run ([`Incoming`]).

mod chat;
pub mod engineio;
mod socketio;

use std::borrow::Cow;

use protocol::MessageId;
use tokio::time::Instant;

use crate::conn::Ws;

/// The server's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Wire {
    /// Our chat service (protocol v1).
    #[default]
    Chat,
    /// A socket.io chat server (the reference: Engine.IO v4 over WebSocket).
    #[value(name = "socketio")]
    SocketIo,
}

/// Who a connection is and where it goes.
#[derive(Debug, Clone, Copy)]
pub struct Join<'a> {
    pub channel: &'a str,
    pub client: &'a str,
}

/// A server frame, as far as the run is concerned.
#[derive(Debug, PartialEq)]
pub enum Incoming<'a> {
    /// A chat message; `id` when the server numbers its messages.
    Message {
        id: Option<MessageId>,
        text: Cow<'a, str>,
    },
    /// A send accepted; `seq` is the sequence number the send carried, if it parsed.
    Ack { seq: Option<u32> },
    /// An error; `for_send` when it answers a send (a refused message).
    Error { code: String, for_send: bool },
    /// The server asks for this answer (a keepalive), or the connection is dropped.
    Reply(&'static str),
    /// The server ended the session (the cause, for the report).
    Closed(&'static str),
    /// Anything the run does not count (presence, notifications, pongs).
    Other,
    /// Not a frame of this protocol.
    Bad,
}

/// A JSON string's contents up to its closing quote, when it has no escapes, and the text
/// after the quote: lets the message fast paths take a field straight from the frame. `None`
/// when the string has an escape (or no end): those frames take the full JSON parser.
fn plain_string(s: &str) -> Option<(&str, &str)> {
    let end = s.bytes().position(|b| b == b'"' || b == b'\\')?;
    (s.as_bytes()[end] == b'"').then(|| (&s[..end], &s[end + 1..]))
}

impl Wire {
    pub fn name(self) -> &'static str {
        match self {
            Wire::Chat => "chat",
            Wire::SocketIo => "socketio",
        }
    }

    /// The URL to open for `join` on the server at `base` (`ws://host:port`).
    pub fn url(self, base: &str, join: Join<'_>) -> String {
        match self {
            Wire::Chat => format!("{base}/ws/{}/{}", join.channel, join.client),
            Wire::SocketIo => format!("{base}{}", socketio::PATH),
        }
    }

    /// After the upgrade: whatever makes the socket a member of its channel, by `deadline`.
    /// Errors are short cause names for the report.
    pub async fn join(self, ws: &mut Ws, join: Join<'_>, deadline: Instant) -> Result<(), String> {
        match self {
            Wire::Chat => chat::await_welcome(ws, deadline).await,
            Wire::SocketIo => socketio::sign_in(ws, join, deadline).await,
        }
    }

    /// The text frame sending `message` as sequence number `seq` of this connection.
    pub fn send(self, message: String, seq: u32) -> Option<String> {
        match self {
            Wire::Chat => chat::send(message, seq),
            Wire::SocketIo => socketio::send_message(&message, seq),
        }
    }

    /// What a text frame from the server means.
    pub fn parse(self, text: &str) -> Incoming<'_> {
        match self {
            Wire::Chat => chat::parse(text),
            Wire::SocketIo => socketio::parse(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_end_at_the_quote() {
        assert_eq!(plain_string(r#"abc","x":1}"#), Some(("abc", r#","x":1}"#)));
        assert_eq!(plain_string(r#"""#), Some(("", "")));
        assert_eq!(plain_string(r#"a\"b""#), None);
        assert_eq!(plain_string("abc"), None);
    }
}
