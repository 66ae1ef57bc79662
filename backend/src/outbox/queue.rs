//! A connection's bounded frame queue: many senders (the hub, the session), one receiver
//! (the writer). Live events and replies alike count against its frames and bytes: the hub
//! never waits for room (a full queue means a slow client), the session's replies do.
//!
//! A joining client's replay is queued page by page, as the socket drains, ahead of every
//! live frame and within the same limits (at most half of them, so live events keep room
//! while it lasts); until it ends the writer takes nothing else, which keeps history before
//! live events without holding the whole history anywhere.
//!
//! Built for many mostly idle connections: an empty queue keeps no allocation (a channel
//! would hold a block of slots for every connection's whole life), and the writer is woken
//! only when the queue goes from empty to not empty, since it drains everything queued each
//! time it runs.

use std::{
    collections::VecDeque,
    mem,
    sync::{Mutex, MutexGuard},
    task::{Context, Poll},
};

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

use super::{Gone, Outbound, QueueLimits};

/// Capacity an emptied queue may keep: none, so an idle connection holds no buffer (the
/// next frame allocates a small one again, which costs far less than its socket write).
const IDLE_CAPACITY: usize = 0;

pub struct Queue {
    state: Mutex<State>,
    limits: QueueLimits,
    /// Wakes the writer.
    writer: AtomicWaker,
    /// Wakes a sender waiting for room.
    room: Notify,
}

struct State {
    frames: VecDeque<Outbound>,
    bytes: usize,
    senders: usize,
    /// The writer is gone: nothing queued will ever be sent.
    closed: bool,
    /// A sender waits for room: the writer notifies `room` when it takes a frame.
    room_wanted: bool,
    /// The replay is still coming: the writer takes only its frames until it ends.
    replaying: bool,
    /// Replay frames queued (all at the front of `frames`), and their bytes.
    replay_frames: usize,
    replay_bytes: usize,
}

/// Who queues a frame, which decides how it is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// The hub's fan-out: never waits; a full queue means the client is too slow.
    Live,
    /// The session's answer to the client's own frame: waits for room.
    Reply,
    /// A page of the joining client's replay: waits for room, goes ahead of live frames.
    Replay,
}

/// Why a frame was not queued.
pub enum Refused {
    Full(Outbound),
    Gone,
}

impl Queue {
    pub fn new(limits: QueueLimits) -> Self {
        Self {
            state: Mutex::new(State {
                frames: VecDeque::new(),
                bytes: 0,
                senders: 1,
                closed: false,
                room_wanted: false,
                replaying: true,
                replay_frames: 0,
                replay_bytes: 0,
            }),
            limits,
            writer: AtomicWaker::new(),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a live event if it fits, in frames and in bytes.
    pub fn try_push(&self, frame: Outbound) -> Result<(), Refused> {
        self.try_push_as(frame, Sender::Live)
    }

    fn try_push_as(&self, frame: Outbound, sender: Sender) -> Result<(), Refused> {
        let len = frame.len();
        let mut state = self.lock();
        if state.closed || (sender == Sender::Replay && !state.replaying) {
            return Err(Refused::Gone);
        }
        let fits =
            state.frames.len() < self.limits.frames && state.bytes + len <= self.limits.bytes;
        let fits = match sender {
            Sender::Live => fits,
            // A reply waits for room; it must find some even if it is larger than the limit.
            Sender::Reply => fits || state.frames.is_empty(),
            // Half the limits at most; and the replay always goes on once its frames are out.
            Sender::Replay => {
                state.replay_frames == 0
                    || (fits
                        && state.replay_frames < self.limits.frames / 2
                        && state.replay_bytes + len <= self.limits.bytes / 2)
            }
        };
        if !fits {
            if sender != Sender::Live {
                state.room_wanted = true;
            }
            return Err(Refused::Full(frame));
        }
        // The writer waits for the queue to stop being empty, or for replay frames.
        let wake = match sender {
            Sender::Replay => state.replay_frames == 0,
            _ => state.frames.is_empty(),
        };
        if sender == Sender::Replay {
            let at = state.replay_frames;
            state.frames.insert(at, frame);
            state.replay_frames += 1;
            state.replay_bytes += len;
        } else {
            state.frames.push_back(frame);
        }
        state.bytes += len;
        drop(state);
        if wake {
            self.writer.wake();
        }
        Ok(())
    }

    /// Queues a frame of the replay ahead of every live frame, waiting for room.
    pub async fn push_replay(&self, frame: Outbound) -> Result<(), Gone> {
        self.push_as(frame, Sender::Replay).await
    }

    /// The replay is complete: live frames may follow.
    pub fn end_replay(&self) {
        self.lock().replaying = false;
        self.writer.wake();
    }

    /// Queues a reply to the client's own frame, waiting for room in frames and in bytes: a
    /// client that sends without reading is held back, not answered into memory.
    pub async fn push(&self, frame: Outbound) -> Result<(), Gone> {
        self.push_as(frame, Sender::Reply).await
    }

    async fn push_as(&self, mut frame: Outbound, sender: Sender) -> Result<(), Gone> {
        loop {
            // Listen before trying, so room made in between is not missed.
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_push_as(frame, sender) {
                Ok(()) => return Ok(()),
                Err(Refused::Gone) => return Err(Gone),
                Err(Refused::Full(back)) => frame = back,
            }
            room.await;
        }
    }

    /// For the writer: the next frame (only the replay's while it lasts), `Ready(None)` once
    /// every sender is gone.
    pub fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<Outbound>> {
        let mut state = self.lock();
        let ready = !state.replaying || state.replay_frames > 0;
        if ready && let Some(frame) = state.frames.pop_front() {
            state.bytes -= frame.len();
            if state.replay_frames > 0 {
                state.replay_frames -= 1;
                state.replay_bytes -= frame.len();
            }
            let room_wanted = mem::take(&mut state.room_wanted);
            if state.frames.is_empty() && state.frames.capacity() > IDLE_CAPACITY {
                state.frames.shrink_to(IDLE_CAPACITY);
            }
            drop(state);
            if room_wanted {
                self.room.notify_waiters();
            }
            return Poll::Ready(Some(frame));
        }
        if state.senders == 0 {
            return Poll::Ready(None);
        }
        // Registered under the lock: a sender that queues after it is released wakes us.
        self.writer.register(cx.waker());
        Poll::Pending
    }

    pub fn add_sender(&self) {
        self.lock().senders += 1;
    }

    pub fn drop_sender(&self) {
        let mut state = self.lock();
        state.senders -= 1;
        let last = state.senders == 0;
        drop(state);
        if last {
            self.writer.wake();
        }
    }

    /// The session is over, but the client is owed the answers queued before its close:
    /// drops the replay, and the live messages too while the replay had not finished
    /// (sending them would skip what it had not reached), keeps the rest, and turns every
    /// sender away from now on.
    pub fn close_keeping_answers(&self) {
        let mut state = self.lock();
        let unfinished = state.replaying;
        let replay = state.replay_frames;
        let kept: VecDeque<Outbound> = mem::take(&mut state.frames)
            .into_iter()
            .skip(replay)
            .filter(|frame| !unfinished || frame.id.is_none())
            .collect();
        state.close_keeping(kept);
        drop(state);
        self.room.notify_waiters();
        self.writer.wake();
    }

    /// The writer is gone: drops what is queued and turns every sender away from now on.
    pub fn close(&self) {
        self.lock().close_keeping(VecDeque::new());
        self.room.notify_waiters();
    }
}

impl State {
    /// Turns every sender away from now on; the writer still gets `kept`, and nothing of the
    /// replay.
    fn close_keeping(&mut self, kept: VecDeque<Outbound>) {
        self.bytes = kept.iter().map(Outbound::len).sum();
        self.frames = kept;
        self.closed = true;
        self.replaying = false;
        self.replay_frames = 0;
        self.replay_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        task::{Wake, Waker},
    };

    use super::*;
    use crate::outbox::FrameKind;

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn text(body: &str) -> Outbound {
        Outbound {
            id: None,
            kind: FrameKind::Text(body.into()),
        }
    }

    /// A queue past its (empty) replay.
    fn queue(frames: usize, bytes: usize) -> Queue {
        let q = Queue::new(QueueLimits { frames, bytes });
        q.end_replay();
        q
    }

    fn pop(queue: &Queue, waker: &Waker) -> Poll<Option<String>> {
        queue
            .poll_pop(&mut Context::from_waker(waker))
            .map(|frame| {
                frame.map(|f| match f.kind {
                    FrameKind::Text(t) => t.to_string(),
                    other => panic!("{other:?}"),
                })
            })
    }

    /// A reply pushed from another task, given the chance to go in (or start waiting).
    async fn waiting_reply(
        q: &Arc<Queue>,
        body: &'static str,
    ) -> tokio::task::JoinHandle<Result<(), Gone>> {
        let pushing = tokio::spawn({
            let q = q.clone();
            async move { q.push(text(body)).await }
        });
        tokio::task::yield_now().await;
        pushing
    }

    #[test]
    fn full_by_frames_or_by_bytes_replies_too() {
        let q = queue(3, 10);
        assert!(q.try_push(text("12345678")).is_ok());
        assert!(matches!(q.try_push(text("123")), Err(Refused::Full(_))));
        assert!(matches!(
            q.try_push_as(text("123"), Sender::Reply),
            Err(Refused::Full(_))
        ));
        assert!(q.try_push_as(text("12"), Sender::Reply).is_ok());
        assert!(q.try_push(text("")).is_ok());
        assert!(matches!(q.try_push(text("")), Err(Refused::Full(_))));
        // An empty queue takes a reply of any size, so a reply never waits forever.
        let q = queue(3, 10);
        assert!(q.try_push_as(text(&"x".repeat(100)), Sender::Reply).is_ok());
    }

    #[tokio::test]
    async fn a_reply_waits_for_room_in_bytes() {
        let q = Arc::new(queue(100, 10));
        assert!(q.try_push(text("123456789")).is_ok());
        let waiting = waiting_reply(&q, "reply").await;
        assert!(!waiting.is_finished(), "a reply went over the byte limit");
        assert_eq!(
            pop(&q, Waker::noop()),
            Poll::Ready(Some("123456789".into()))
        );
        assert!(matches!(waiting.await, Ok(Ok(()))));
    }

    #[tokio::test]
    async fn the_replay_takes_at_most_half_the_room_goes_first_and_holds_live_frames_back() {
        let q = Arc::new(Queue::new(QueueLimits {
            frames: 100,
            bytes: 20,
        }));
        assert!(q.try_push(text("live")).is_ok());
        assert!(q.push_replay(text("r1")).await.is_ok());
        assert!(q.push_replay(text("r2")).await.is_ok());
        let third = tokio::spawn({
            let q = q.clone();
            async move { q.push_replay(text("r3-is-long")).await }
        });
        tokio::task::yield_now().await;
        assert!(
            !third.is_finished(),
            "the replay took more than half the bytes"
        );
        assert_eq!(pop(&q, Waker::noop()), Poll::Ready(Some("r1".into())));
        assert_eq!(pop(&q, Waker::noop()), Poll::Ready(Some("r2".into())));
        assert!(
            matches!(third.await, Ok(Ok(()))),
            "an empty replay must take a frame"
        );
        assert_eq!(
            pop(&q, Waker::noop()),
            Poll::Ready(Some("r3-is-long".into()))
        );
        assert_eq!(
            pop(&q, Waker::noop()),
            Poll::Pending,
            "a live frame during the replay"
        );
        q.end_replay();
        assert_eq!(pop(&q, Waker::noop()), Poll::Ready(Some("live".into())));
    }

    #[test]
    fn the_writer_is_woken_when_the_queue_stops_being_empty_not_for_every_frame() {
        let q = queue(8, 1024);
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        assert_eq!(pop(&q, &waker), Poll::Pending);
        assert!(q.try_push(text("a")).is_ok());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        // Even with a waker registered, a frame joining a non-empty queue wakes nobody: the
        // writer drains everything queued when it runs.
        q.writer.register(&waker);
        assert!(q.try_push(text("b")).is_ok());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(pop(&q, &waker), Poll::Ready(Some("a".into())));
        assert_eq!(pop(&q, &waker), Poll::Ready(Some("b".into())));
        assert_eq!(pop(&q, &waker), Poll::Pending);
        assert!(q.try_push(text("c")).is_ok());
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_writer_ends_when_the_last_sender_is_gone() {
        let q = queue(8, 1024);
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        q.add_sender();
        assert!(q.try_push(text("last words")).is_ok());
        q.drop_sender();
        q.drop_sender();
        assert_eq!(pop(&q, &waker), Poll::Ready(Some("last words".into())));
        assert_eq!(pop(&q, &waker), Poll::Ready(None));
    }

    #[test]
    fn an_emptied_queue_keeps_no_buffer() {
        let q = queue(1000, 1 << 20);
        let waker = Waker::noop();
        for burst in [1, 100] {
            for _ in 0..burst {
                assert!(q.try_push(text("x")).is_ok());
            }
            while !q.lock().frames.is_empty() {
                assert!(pop(&q, waker).is_ready());
            }
            assert_eq!(q.lock().frames.capacity(), 0);
        }
    }

    #[tokio::test]
    async fn a_waiting_reply_goes_in_when_room_is_made_or_fails_when_the_writer_is_gone() {
        let q = Arc::new(queue(1, 1024));
        assert!(q.try_push(text("first")).is_ok());
        let waiting = waiting_reply(&q, "reply").await;
        assert!(!waiting.is_finished());
        assert_eq!(pop(&q, Waker::noop()), Poll::Ready(Some("first".into())));
        assert!(matches!(waiting.await, Ok(Ok(()))));

        let blocked = waiting_reply(&q, "never").await;
        q.close();
        assert!(matches!(blocked.await, Ok(Err(Gone))));
        assert!(matches!(q.try_push(text("late")), Err(Refused::Gone)));
    }
}
