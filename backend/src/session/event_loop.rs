//! The session's event loop, once the client has joined: answers the client's frames, pings
//! it, and ends the connection when the client leaves, a close is requested, the client
//! stops answering pings, its token expires or the connection reaches its maximum age. A
//! client's sends are handled one after another, in the order it sent them, so they are
//! stored in that order.

use std::{pin::Pin, time::Duration};

use actix_http::ws::CloseCode;
use tokio::time::Instant;

use super::{
    ClientFrames, Request,
    answers::Answers,
    incoming::{Incoming, ReadError},
};
use crate::{
    auth::unix_now,
    outbox::{Gone, Outbound, Outbox},
    state::AppState,
};

/// What the loop needs besides its timers.
pub struct EventLoop<'a> {
    state: &'a AppState,
    request: &'a Request,
    incoming: ClientFrames,
    outbox: Outbox,
    answers: Answers<'a>,
}

impl<'a> EventLoop<'a> {
    pub fn new(
        state: &'a AppState,
        request: &'a Request,
        incoming: ClientFrames,
        outbox: Outbox,
    ) -> Self {
        Self {
            state,
            request,
            incoming,
            outbox,
            answers: Answers::new(state, request),
        }
    }

    /// Runs until the connection must end, and hands back the client's frames for the end
    /// of the closing handshake. The reason to give the client is with the connection's
    /// closer.
    ///
    /// An `async` block rather than an `async fn`: an `async fn` would keep the loop's state
    /// twice in the connection's task (its argument and the moved-in copy).
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would store its arguments twice"
    )]
    pub fn run(mut self) -> impl Future<Output = ClientFrames> {
        async move {
            let closer = self.outbox.closer().clone();
            let timeouts = &self.state.settings.timeouts;
            // Leave before the platform's request timeout does it for us, at a moment of our own
            // choosing (the last tenth of the allowed age, at random) so clients that connected
            // together do not all reconnect together.
            let retire_at = Instant::now()
                + timeouts
                    .connection_max_age
                    .mul_f64(0.9 + 0.1 * crate::random::unit_random());
            let mut next_ping = Instant::now() + timeouts.ping_interval;
            let mut pong_due: Option<Instant> = None;
            let mut token = TokenDeadline::default();
            // One timer for all of the connection's deadlines, set to the nearest: an idle
            // connection keeps one timer entry, not one per deadline.
            let timer = tokio::time::sleep_until(next_ping);
            tokio::pin!(timer);
            loop {
                let token_at = token.at(self.answers.token_expires());
                let wake_at = [Some(next_ping), pong_due, Some(retire_at), token_at]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(retire_at);
                if timer.deadline() != wake_at {
                    timer.as_mut().reset(wake_at);
                }
                tokio::select! {
                    () = std::future::poll_fn(|cx| closer.poll_requested(cx)) => break,
                    () = &mut timer => {
                        let now = Instant::now();
                        if now >= retire_at {
                            self.close(CloseCode::Restart, "connection reached its maximum age; reconnect with since");
                            break;
                        }
                        if token_at.is_some_and(|at| now >= at) {
                            // A code the page acts on by getting a new token (4401, like a refusal).
                            self.close(CloseCode::Other(4401), "token expired; connect again with a new token");
                            break;
                        }
                        if pong_due.is_some_and(|due| now >= due) {
                            self.close(CloseCode::Away, "no pong within the timeout");
                            break;
                        }
                        if now >= next_ping {
                            next_ping = now + timeouts.ping_interval;
                            if self.reply(Outbound::ping()).await.is_err() {
                                break;
                            }
                            pong_due.get_or_insert(Instant::now() + timeouts.pong);
                        }
                    }
                    frame = self.incoming.recv() => match frame {
                        None => break,
                        Some(Ok(Incoming::Text(text))) => {
                            // A `typing` has no answer.
                            // Boxed: the answer's steps are not kept in an idle connection's task.
                            if let Some(reply) = Box::pin(self.answers.for_text(&text)).await
                                && self.reply(reply).await.is_err()
                            {
                                break;
                            }
                        }
                        Some(Ok(Incoming::Binary)) => {
                            if self.reply(self.answers.for_binary()).await.is_err() {
                                break;
                            }
                        }
                        Some(Ok(Incoming::Ping(payload))) => {
                            if self.reply(Outbound::pong(payload)).await.is_err() {
                                break;
                            }
                        }
                        Some(Ok(Incoming::Pong)) => pong_due = None,
                        Some(Ok(Incoming::Close(_))) => {
                            self.outbox.closer().request_after_queued(CloseCode::Normal, "bye");
                            break;
                        }
                        Some(Err(e)) => {
                            let code = match &e {
                                ReadError::Frames(bad) => bad.close_code(),
                                ReadError::TooSlow(_) => CloseCode::Policy,
                                ReadError::Io(_) => CloseCode::Away,
                            };
                            log::debug!(channel:% = self.request.channel, error:% = e; "Client frames refused.");
                            // What the client was owed before its bad frame still goes out.
                            self.outbox.closer().request_after_queued(code, &e.to_string());
                            break;
                        }
                    },
                }
            }
            self.incoming
        }
    }

    /// Queues a frame for the client, waiting for room. Boxed: the wait is not kept in an
    /// idle connection's state (it is as large as the rest of the loop together).
    fn reply(&self, frame: Outbound) -> Pin<Box<impl Future<Output = Result<(), Gone>> + '_>> {
        Box::pin(self.outbox.send(frame))
    }

    fn close(&self, code: CloseCode, reason: &str) {
        self.outbox.closer().request(code, reason);
    }
}

/// When the connection's token expires, as an instant, worked out again only when the
/// expiry (Unix seconds) changes, i.e. after a `refresh`: the timer is not moved by the
/// clocks' rounding on every loop.
#[derive(Default)]
struct TokenDeadline {
    for_expiry: Option<(u64, Instant)>,
}

impl TokenDeadline {
    fn at(&mut self, expires: Option<u64>) -> Option<Instant> {
        let expires = expires?;
        match self.for_expiry {
            Some((seen, at)) if seen == expires => Some(at),
            _ => {
                let at = Instant::now() + Duration::from_secs(expires.saturating_sub(unix_now()));
                self.for_expiry = Some((expires, at));
                Some(at)
            }
        }
    }
}
