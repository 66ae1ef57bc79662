//! A client's messages, read from its socket as they arrive.
//!
//! Every poll either consumes input, yields a message, or waits for the socket, the
//! writer's end or the message deadline: after the client's close frame, a refused frame,
//! the end of its stream or the writer's end it yields `None` for good, so no loop over it
//! can spin on the same state. A message that has begun must be complete within the
//! message timeout, so a client that sends a frame header and then nothing (or a byte a
//! second) is closed like a slow handshake is.
//!
//! Ends when the writer is gone as well: the writer goes once the connection is over (its
//! socket write failed, or the close frame is out), and a socket nobody writes to again
//! would otherwise keep the session waiting.

use std::{
    future::{Future, poll_fn},
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use tokio::{
    io::{AsyncRead, ReadBuf},
    sync::oneshot,
    time::{Instant, Sleep},
};

use super::frame_decoder::FrameDecoder;
pub use super::frame_decoder::{BadFrames, Incoming};

/// Largest read at once; only what arrived is kept.
const READ_CHUNK: usize = 4096;

/// Why reading ended early, besides a refused frame.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Frames(#[from] BadFrames),
    #[error("message not complete within {} s", .0.as_secs())]
    TooSlow(Duration),
    #[error("socket: {0}")]
    Io(io::Error),
}

pub struct IncomingFrames<R> {
    read: R,
    writer_gone: oneshot::Receiver<()>,
    decoder: FrameDecoder,
    /// Bytes read but not yet decoded; empty (and unallocated) between frames.
    buf: BytesMut,
    message_timeout: Duration,
    /// Armed while a message has begun and not ended; none (no timer) while idle.
    deadline: Option<Pin<Box<Sleep>>>,
    ended: bool,
}

impl<R: AsyncRead + Unpin> IncomingFrames<R> {
    /// `early` is what the client sent before the upgrade was answered; `max_message`
    /// bounds a frame and a reassembled message alike.
    pub fn new(
        read: R,
        early: Bytes,
        writer_gone: oneshot::Receiver<()>,
        max_message: usize,
        message_timeout: Duration,
    ) -> Self {
        Self {
            read,
            writer_gone,
            decoder: FrameDecoder::new(max_message),
            buf: BytesMut::from(&early[..]),
            message_timeout,
            deadline: None,
            ended: false,
        }
    }

    /// The byte source, for checks of what is left in it.
    pub fn source(&self) -> &R {
        &self.read
    }

    /// The next message, `None` once the connection is over.
    pub async fn recv(&mut self) -> Option<Result<Incoming, ReadError>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Returns once the client has sent its close frame or gone, discarding anything else
    /// it sends: the second half of a closing handshake the server started.
    pub async fn until_closed(&mut self) {
        while self.recv().await.is_some() {}
    }

    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Incoming, ReadError>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(incoming)) => {
                    self.ended = self.decoder.is_done();
                    self.track_deadline();
                    return Poll::Ready(Some(Ok(incoming)));
                }
                Err(e) => return self.end_with(e.into()),
                Ok(None) if self.decoder.is_done() => {
                    self.ended = true;
                    continue;
                }
                Ok(None) => {}
            }
            if self.buf.is_empty() {
                // Keep no buffer while idle.
                self.buf = BytesMut::new();
            }
            self.track_deadline();
            if Pin::new(&mut self.writer_gone).poll(cx).is_ready() {
                self.ended = true;
                continue;
            }
            if let Some(deadline) = self.deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                return self.end_with(ReadError::TooSlow(self.message_timeout));
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(0)) => self.ended = true,
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return self.end_with(ReadError::Io(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn end_with(&mut self, e: ReadError) -> Poll<Option<Result<Incoming, ReadError>>> {
        self.ended = true;
        self.deadline = None;
        self.buf = BytesMut::new();
        Poll::Ready(Some(Err(e)))
    }

    /// Starts the message deadline when a message begins, drops it when none is under way.
    fn track_deadline(&mut self) {
        if !self.decoder.in_message(&self.buf) {
            self.deadline = None;
        } else if self.deadline.is_none() {
            let at = Instant::now() + self.message_timeout;
            self.deadline = Some(Box::pin(tokio::time::sleep_until(at)));
        }
    }

    /// Reads what has arrived onto the buffer; `Ok(0)` at the end of the stream.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // Not held across a wait: an idle connection's read state keeps no buffer.
        let mut chunk = [0u8; READ_CHUNK];
        let mut read = ReadBuf::new(&mut chunk);
        match Pin::new(&mut self.read).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                self.buf.extend_from_slice(read.filled());
                Poll::Ready(Ok(read.filled().len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
