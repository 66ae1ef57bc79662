//! A connection's bounded frame queue: many senders (the hub, the session), one receiver
//! (the writer). Live events and replies alike count against its frames and bytes: the hub
//! never waits for room (a full queue means a slow client), the session's replies do.
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

/// Capacity an emptied queue may keep; a burst's larger buffer is given back.
const IDLE_CAPACITY: usize = 4;

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
}

/// Who queues a frame, which decides how it is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// The hub's fan-out: never waits; a full queue means the client is too slow.
    Live,
    /// The session's answer to the client's own frame: waits for room.
    Reply,
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
        if state.closed {
            return Err(Refused::Gone);
        }
        let fits_bytes = state.bytes + len <= self.limits.bytes
            // A reply waits for room; it must find some even if it is larger than the limit.
            || (sender == Sender::Reply && state.frames.is_empty());
        if state.frames.len() >= self.limits.frames || !fits_bytes {
            if sender == Sender::Reply {
                state.room_wanted = true;
            }
            return Err(Refused::Full(frame));
        }
        let was_empty = state.frames.is_empty();
        state.frames.push_back(frame);
        state.bytes += len;
        drop(state);
        if was_empty {
            self.writer.wake();
        }
        Ok(())
    }

    /// Queues a reply to the client's own frame, waiting for room in frames and in bytes: a
    /// client that sends without reading is held back, not answered into memory.
    pub async fn push(&self, mut frame: Outbound) -> Result<(), Gone> {
        loop {
            // Listen before trying, so room made in between is not missed.
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_push_as(frame, Sender::Reply) {
                Ok(()) => return Ok(()),
                Err(Refused::Gone) => return Err(Gone),
                Err(Refused::Full(back)) => frame = back,
            }
            room.await;
        }
    }

    /// For the writer: the next frame, `Ready(None)` once every sender is gone.
    pub fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<Outbound>> {
        let mut state = self.lock();
        if let Some(frame) = state.frames.pop_front() {
            state.bytes -= frame.len();
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

    /// The writer is gone: drops what is queued and turns every sender away from now on.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.frames = VecDeque::new();
        state.bytes = 0;
        drop(state);
        self.room.notify_waiters();
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

    fn queue(frames: usize, bytes: usize) -> Queue {
        Queue::new(QueueLimits { frames, bytes })
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
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.push(text("reply")).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a reply went over the byte limit");
        assert_eq!(
            pop(&q, Waker::noop()),
            Poll::Ready(Some("123456789".into()))
        );
        assert!(matches!(waiting.await, Ok(Ok(()))));
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
    fn an_emptied_queue_gives_back_a_burst_s_capacity() {
        let q = queue(1000, 1 << 20);
        for _ in 0..100 {
            assert!(q.try_push(text("x")).is_ok());
        }
        let waker = Waker::noop();
        while pop(&q, waker).is_ready() {}
        assert!(q.lock().frames.capacity() <= IDLE_CAPACITY);
    }

    #[tokio::test]
    async fn a_waiting_reply_goes_in_when_room_is_made_or_fails_when_the_writer_is_gone() {
        let q = Arc::new(queue(1, 1024));
        assert!(q.try_push(text("first")).is_ok());
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.push(text("reply")).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(pop(&q, Waker::noop()), Poll::Ready(Some("first".into())));
        assert!(matches!(waiting.await, Ok(Ok(()))));

        let blocked = tokio::spawn({
            let q = q.clone();
            async move { q.push(text("never")).await }
        });
        tokio::task::yield_now().await;
        q.close();
        assert!(matches!(blocked.await, Ok(Err(Gone))));
        assert!(matches!(q.try_push(text("late")), Err(Refused::Gone)));
    }
}
