//! A client's frames, decoded from the bytes it sends, with fragmented messages put back
//! together.
//!
//! Ends when the client closes the TCP stream or when the writer is gone: the writer goes
//! once the connection is over (its socket write failed, or the close frame is out), and a
//! socket nobody reads from again would otherwise keep the session waiting.

use std::{
    future::{Future, poll_fn},
    pin::Pin,
    task::{Context, Poll},
};

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::sync::oneshot;

use super::socket::ClientBytes;

/// A complete message or control frame from the client.
#[derive(Debug)]
pub enum Incoming {
    Text(ByteString),
    Binary,
    Ping(Bytes),
    Pong,
    Close,
}

/// Why the client's frames cannot be read on; each closes the connection with its own code.
#[derive(Debug, thiserror::Error)]
pub enum BadFrames {
    #[error("message too big: the limit is {} KiB", .0 / 1024)]
    TooBig(usize),
    #[error("text frames must be UTF-8")]
    NotUtf8,
    #[error("{0}")]
    Protocol(ProtocolError),
}

impl BadFrames {
    fn from_codec(e: ProtocolError, max_message: usize) -> Self {
        match e {
            ProtocolError::Overflow => Self::TooBig(max_message),
            e => Self::Protocol(e),
        }
    }
}

/// A fragmented message being put back together.
struct Fragments {
    text: bool,
    bytes: BytesMut,
}

pub struct IncomingFrames {
    bytes: ClientBytes,
    writer_gone: oneshot::Receiver<()>,
    codec: Codec,
    /// Bytes read but not yet decoded; empty (and unallocated) between frames.
    buf: BytesMut,
    fragments: Option<Fragments>,
    max_message: usize,
    ended: bool,
}

impl IncomingFrames {
    /// `max_message` bounds a frame and a reassembled message alike.
    pub fn new(bytes: ClientBytes, writer_gone: oneshot::Receiver<()>, max_message: usize) -> Self {
        Self {
            bytes,
            writer_gone,
            codec: Codec::new().max_size(max_message),
            buf: BytesMut::new(),
            fragments: None,
            max_message,
            ended: false,
        }
    }

    /// The next message, `None` once the connection is over.
    pub async fn recv(&mut self) -> Option<Result<Incoming, BadFrames>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Returns once the client has sent its close frame or gone, discarding anything else
    /// it sends: the second half of a closing handshake the server started.
    pub async fn until_closed(&mut self) {
        while self.recv().await.is_some() {}
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Incoming, BadFrames>>> {
        loop {
            if let Some(incoming) = self.decode().transpose() {
                // Nothing after a close or a broken frame counts.
                if matches!(incoming, Err(_) | Ok(Incoming::Close)) {
                    self.ended = true;
                }
                return Poll::Ready(Some(incoming));
            }
            if self.buf.is_empty() {
                // Keep no buffer while idle.
                self.buf = BytesMut::new();
            }
            if self.ended {
                return Poll::Ready(None);
            }
            if Pin::new(&mut self.writer_gone).poll(cx).is_ready() {
                self.ended = true;
                continue;
            }
            match self.bytes.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => self.buf.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(BadFrames::Protocol(ProtocolError::Io(e)))));
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Decodes frames from what has been read until one completes a message.
    fn decode(&mut self) -> Result<Option<Incoming>, BadFrames> {
        let max_message = self.max_message;
        while let Some(frame) = self
            .codec
            .decode(&mut self.buf)
            .map_err(|e| BadFrames::from_codec(e, max_message))?
        {
            let incoming = match frame {
                Frame::Text(bytes) => Incoming::Text(utf8(bytes)?),
                Frame::Binary(_) => Incoming::Binary,
                Frame::Ping(bytes) => Incoming::Ping(bytes),
                Frame::Pong(_) => Incoming::Pong,
                Frame::Close(_) => Incoming::Close,
                Frame::Continuation(item) => match self.reassemble(item)? {
                    Some(incoming) => incoming,
                    None => continue,
                },
            };
            return Ok(Some(incoming));
        }
        Ok(None)
    }

    fn reassemble(&mut self, item: Item) -> Result<Option<Incoming>, BadFrames> {
        let (first, text, bytes, last) = match item {
            Item::FirstText(bytes) => (true, true, bytes, false),
            Item::FirstBinary(bytes) => (true, false, bytes, false),
            Item::Continue(bytes) => (false, false, bytes, false),
            Item::Last(bytes) => (false, false, bytes, true),
        };
        if first {
            self.fragments = Some(Fragments {
                text,
                bytes: BytesMut::new(),
            });
        }
        let Some(fragments) = self.fragments.as_mut() else {
            return Err(BadFrames::Protocol(ProtocolError::ContinuationNotStarted));
        };
        if fragments.bytes.len() + bytes.len() > self.max_message {
            return Err(BadFrames::TooBig(self.max_message));
        }
        fragments.bytes.extend_from_slice(&bytes);
        if !last {
            return Ok(None);
        }
        let Some(Fragments { text, bytes }) = self.fragments.take() else {
            return Ok(None);
        };
        Ok(Some(if text {
            Incoming::Text(utf8(bytes.freeze())?)
        } else {
            Incoming::Binary
        }))
    }
}

fn utf8(bytes: Bytes) -> Result<ByteString, BadFrames> {
    ByteString::try_from(bytes).map_err(|_| BadFrames::NotUtf8)
}
