//! A connection's writer: the only source of what goes to the socket, and what writes it.
//!
//! [`Writer::write_to`] asks for the next chunk whenever the socket can take more, and a
//! frame offered to the connection's queue wakes it directly: no task in between, and every
//! frame that queued up while the socket was busy is encoded into one chunk, so it leaves in
//! one write. The order on the wire is always: the greeting (`welcome`), the replay, then
//! live frames, then the close frame; the chunks end (and the server hangs up) when the
//! session says so.

use std::{
    collections::VecDeque,
    future::{Future, poll_fn},
    mem,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use actix_codec::Encoder;
use actix_http::ws::{CloseReason, Codec, Message};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use protocol::MessageId;
use tokio::{io::AsyncWriteExt, net::tcp::OwnedWriteHalf, sync::oneshot};

use crate::{
    metrics::Metrics,
    outbox::{Closer, FrameKind, OutboxReceiver},
};

/// Frames are gathered into one chunk up to about this size before it is handed on.
const CHUNK_BYTES: usize = 64 * 1024;

/// RFC 6455: a control frame carries at most 125 bytes; a close frame's reason 123.
const MAX_CONTROL_PAYLOAD: usize = 125;
const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// What the session sends first, once the client has joined: `welcome` (or the refusal),
/// and the id after which the replay (queued page by page) and live messages continue.
pub struct Greeting {
    pub frames: Vec<ByteString>,
    pub last_replayed: Option<MessageId>,
}

/// Where the live queue stands after a round of writing.
enum Queue {
    /// Everything queued so far is in the chunk.
    Empty,
    /// The chunk is full; more is queued.
    More,
    /// Nothing can ever be queued again (every sender is gone).
    Ended,
}

/// The session's handle on a writer it has not greeted yet.
pub type GreetingSender = oneshot::Sender<Greeting>;

pub struct Writer {
    greeting: Option<oneshot::Receiver<Greeting>>,
    /// The greeting's frames not yet written; the replay comes through the queue.
    greeting_frames: VecDeque<ByteString>,
    queued: OutboxReceiver,
    closer: Arc<Closer>,
    last_sent: Option<MessageId>,
    metrics: Arc<Metrics>,
    codec: Codec,
    chunk: BytesMut,
    close_sent: bool,
    finished: bool,
    /// Dropped with the writer, which tells the client's frames ([`super::incoming`]) that
    /// the connection is over.
    _gone: oneshot::Sender<()>,
}

impl Writer {
    /// Returns the writer, the sender for its greeting, and what resolves when the writer
    /// is gone (the connection is over).
    pub fn new(
        queued: OutboxReceiver,
        closer: Arc<Closer>,
        metrics: Arc<Metrics>,
    ) -> (Self, GreetingSender, oneshot::Receiver<()>) {
        let (greet, greeting) = oneshot::channel();
        let (gone, writer_gone) = oneshot::channel();
        let writer = Self {
            greeting: Some(greeting),
            greeting_frames: VecDeque::new(),
            queued,
            closer,
            last_sent: None,
            metrics,
            codec: Codec::new(),
            chunk: BytesMut::new(),
            close_sent: false,
            finished: false,
            _gone: gone,
        };
        (writer, greet, writer_gone)
    }

    /// Takes the greeting once the session has sent it. A session that ended before
    /// greeting (the client left while joining) leaves nothing to replay.
    fn poll_greeting(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(greeting) = self.greeting.as_mut() else {
            return true;
        };
        match Pin::new(greeting).poll(cx) {
            Poll::Pending => false,
            Poll::Ready(greeting) => {
                if let Ok(greeting) = greeting {
                    self.greeting_frames = greeting.frames.into();
                    self.last_sent = greeting.last_replayed;
                }
                self.greeting = None;
                true
            }
        }
    }

    fn write_greeting(&mut self) {
        while self.chunk.len() < CHUNK_BYTES
            && let Some(text) = self.greeting_frames.pop_front()
        {
            self.encode(Message::Text(text));
        }
    }

    /// Encodes every frame queued so far (only the replay's while it lasts), up to a chunk.
    fn write_live(&mut self, cx: &mut Context<'_>) -> Queue {
        loop {
            if self.chunk.len() >= CHUNK_BYTES {
                return Queue::More;
            }
            let frame = match self.queued.poll_recv(cx) {
                Poll::Ready(Some(frame)) => frame,
                Poll::Ready(None) => return Queue::Ended,
                Poll::Pending => return Queue::Empty,
            };
            if let Some(id) = frame.id {
                // Already replayed from history, or a duplicate: never send twice.
                if self.last_sent.is_some_and(|last| id <= last) {
                    continue;
                }
                self.last_sent = Some(id);
                self.metrics.message_out();
            }
            let message = match frame.kind {
                FrameKind::Text(text) => Message::Text(text),
                FrameKind::Ping => Message::Ping(Bytes::new()),
                FrameKind::Pong(payload) => {
                    Message::Pong(payload.slice(..payload.len().min(MAX_CONTROL_PAYLOAD)))
                }
            };
            self.encode(message);
        }
    }

    fn write_close(&mut self, mut reason: CloseReason) {
        if let Some(description) = reason.description.as_mut() {
            let mut end = description.len().min(MAX_CLOSE_REASON);
            while !description.is_char_boundary(end) {
                end -= 1;
            }
            description.truncate(end);
        }
        self.encode(Message::Close(Some(reason)));
    }

    fn encode(&mut self, message: Message) {
        // Encoding a text, ping, pong or close message into a buffer cannot fail.
        if let Err(e) = self.codec.encode(message, &mut self.chunk) {
            log::error!(error:% = e; "Could not encode a WebSocket frame.");
        }
    }

    /// Writes the chunks until there are no more, then closes the sending side (FIN). A
    /// client that stops reading blocks this until the kernel gives up on it
    /// (`TCP_USER_TIMEOUT`).
    ///
    /// An `async` block rather than an `async fn`, which would keep the writer twice in the
    /// task an idle connection holds for its whole life.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would store its arguments twice"
    )]
    pub fn write_to(mut self, mut socket: OwnedWriteHalf) -> impl Future<Output = ()> {
        async move {
            while let Some(chunk) = self.next_chunk().await {
                if socket.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            let _ = socket.shutdown().await;
        }
    }

    /// The next bytes to send, `None` once the connection may be hung up.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        poll_fn(|cx| self.poll_next_chunk(cx)).await
    }

    fn poll_next_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.finished {
            return Poll::Ready(None);
        }
        // Registered before the close state is read, so a request in between still wakes us.
        self.closer.register_writer(cx.waker());
        let greeted = self.poll_greeting(cx);
        self.write_greeting();
        let greeted = greeted && self.greeting_frames.is_empty();
        // After a close request nothing more is sent, unless the request lets what was
        // queued before it go out first.
        let mut drained = true;
        if greeted && (!self.closer.is_requested() || self.closer.drains()) {
            match self.write_live(cx) {
                Queue::Ended => self.finished = true,
                Queue::More => drained = false,
                Queue::Empty => {}
            }
        }
        if greeted
            && drained
            && !self.close_sent
            && let Some(reason) = self.closer.farewell_due()
        {
            self.write_close(reason);
            self.close_sent = true;
        }
        if !self.chunk.is_empty() {
            // A fresh buffer each time: an idle connection keeps none.
            return Poll::Ready(Some(mem::take(&mut self.chunk).freeze()));
        }
        if self.close_sent && self.closer.hang_up_due() {
            self.finished = true;
        }
        if self.finished {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_codec::Decoder;
    use actix_http::ws::{CloseCode, Frame};

    use super::*;
    use crate::outbox::{self, Offered, Outbound, Outbox, QueueLimits};

    fn writer() -> (Writer, GreetingSender, Outbox) {
        let (outbox, queued) = outbox::channel(QueueLimits {
            frames: 16,
            bytes: 1 << 20,
        });
        let (writer, greet, _gone) = Writer::new(queued, outbox.closer().clone(), Arc::default());
        (writer, greet, outbox)
    }

    fn message(seq: u64) -> Outbound {
        Outbound {
            id: Some(MessageId::new(1, seq)),
            kind: FrameKind::Text(format!("m{seq}").into()),
        }
    }

    fn poll(writer: &mut Writer) -> Poll<Option<Bytes>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        writer.poll_next_chunk(&mut cx)
    }

    /// Decodes a chunk the way a client does.
    fn frames(chunk: Bytes) -> Vec<Frame> {
        let mut codec = Codec::new().client_mode();
        let mut buf = BytesMut::from(&chunk[..]);
        let mut out = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).expect("valid frames") {
            out.push(frame);
        }
        assert!(buf.is_empty(), "a partial frame at the end of a chunk");
        out
    }

    /// The reason of the close frame that must be all of the next chunk.
    fn close_frame(writer: &mut Writer) -> CloseReason {
        let Poll::Ready(Some(chunk)) = poll(writer) else {
            panic!("no close frame");
        };
        match <[Frame; 1]>::try_from(frames(chunk)) {
            Ok([Frame::Close(Some(reason))]) => reason,
            other => panic!("expected only a close frame, got {other:?}"),
        }
    }

    fn texts(frames: &[Frame]) -> Vec<&str> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Text(t) => std::str::from_utf8(t).expect("UTF-8"),
                other => panic!("expected text, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn live_frames_wait_for_the_greeting_then_leave_with_it_in_one_chunk_without_repeats() {
        let (mut writer, greet, outbox) = writer();
        for seq in 1..=3 {
            assert_eq!(outbox.offer(message(seq)), Offered::Queued);
        }
        assert!(poll(&mut writer).is_pending(), "nothing before the welcome");
        let greeting = Greeting {
            frames: vec!["welcome".into(), "m1".into(), "m2".into()],
            last_replayed: Some(MessageId::new(1, 2)),
        };
        assert!(greet.send(greeting).is_ok());
        outbox.end_replay();
        let Poll::Ready(Some(chunk)) = poll(&mut writer) else {
            panic!("the greeting and the queued frame were not written");
        };
        assert_eq!(texts(&frames(chunk)), ["welcome", "m1", "m2", "m3"]);
        assert!(poll(&mut writer).is_pending());
    }

    #[tokio::test]
    async fn the_replay_goes_ahead_of_live_frames_which_wait_for_its_end() {
        let (mut writer, greet, outbox) = writer();
        for seq in 2..=4 {
            assert_eq!(outbox.offer(message(seq)), Offered::Queued);
        }
        let greeting = Greeting {
            frames: vec!["welcome".into()],
            last_replayed: None,
        };
        assert!(greet.send(greeting).is_ok());
        for seq in 1..=3 {
            assert!(outbox.replay(message(seq)).await.is_ok());
        }
        let Poll::Ready(Some(chunk)) = poll(&mut writer) else {
            panic!("the replay was not written");
        };
        assert_eq!(texts(&frames(chunk)), ["welcome", "m1", "m2", "m3"]);
        assert!(
            poll(&mut writer).is_pending(),
            "live frames before the replay ended"
        );
        outbox.end_replay();
        let Poll::Ready(Some(chunk)) = poll(&mut writer) else {
            panic!("live frames were not written after the replay");
        };
        assert_eq!(
            texts(&frames(chunk)),
            ["m4"],
            "a replayed message was sent twice"
        );
    }

    #[test]
    fn after_a_close_request_nothing_more_is_sent_then_the_close_frame_then_the_end() {
        let (mut writer, greet, outbox) = writer();
        assert!(
            greet
                .send(Greeting {
                    frames: vec![],
                    last_replayed: None,
                })
                .is_ok()
        );
        outbox.offer(message(1));
        outbox
            .closer()
            .request(CloseCode::Again, "too slow: outbound queue full");
        outbox.offer(message(2));
        assert!(poll(&mut writer).is_pending(), "nothing after the request");
        outbox
            .closer()
            .farewell(CloseCode::Away, "connection ended");
        // The first reason wins.
        assert_eq!(close_frame(&mut writer).code, CloseCode::Again);
        assert!(
            poll(&mut writer).is_pending(),
            "hung up before the client answered"
        );
        outbox.closer().hang_up();
        assert_eq!(poll(&mut writer), Poll::Ready(None));
    }

    #[test]
    fn a_long_close_reason_is_cut_to_fit_a_control_frame() {
        let (mut writer, greet, outbox) = writer();
        drop(greet);
        outbox
            .closer()
            .farewell(CloseCode::Protocol, &"é".repeat(100));
        let reason = close_frame(&mut writer);
        let description = reason.description.as_deref().unwrap_or_default();
        assert_eq!(description, "é".repeat(61));
    }
}
