//! The session's event loop, once the client has joined: answers the client's frames, pings
//! it, and ends the connection when the client leaves, a close is requested, the client
//! stops answering pings, its token expires or the connection reaches its maximum age. A
//! client's sends are handled one after another, in the order it sent them, so they are
//! stored in that order.

use std::time::Duration;

use actix_http::ws::CloseCode;
use tokio::time::Instant;

use super::{
    ClientFrames, Request,
    answers::Answers,
    incoming::{Incoming, ReadError},
};
use crate::{
    auth::unix_now,
    outbox::{Outbound, Outbox},
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
    pub async fn run(mut self) -> ClientFrames {
        let closer = self.outbox.closer().clone();
        // Leave before the platform's request timeout does it for us, at a moment of our own
        // choosing (the last tenth of the allowed age, at random) so clients that connected
        // together do not all reconnect together.
        let max_age = self.state.settings.timeouts.connection_max_age;
        let retire_at = Instant::now() + max_age.mul_f64(0.9 + 0.1 * crate::random::unit_random());
        let ping_every = self.state.settings.timeouts.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        let mut pong_due: Option<Instant> = None;
        loop {
            let pong_deadline =
                pong_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
            let token_expires = self.answers.token_expires();
            let token_deadline = token_expires.map_or_else(
                || Instant::now() + Duration::from_secs(86_400),
                |exp| Instant::now() + Duration::from_secs(exp.saturating_sub(unix_now())),
            );
            tokio::select! {
                _ = closer.requested() => break,
                _ = ping.tick() => {
                    if self.outbox.send(Outbound::ping()).await.is_err() {
                        break;
                    }
                    pong_due.get_or_insert(Instant::now() + self.state.settings.timeouts.pong);
                }
                _ = tokio::time::sleep_until(retire_at) => {
                    self.close(CloseCode::Restart, "connection reached its maximum age; reconnect with since");
                    break;
                }
                _ = tokio::time::sleep_until(token_deadline), if token_expires.is_some() => {
                    // A code the page acts on by getting a new token (4401, like a refusal).
                    self.close(CloseCode::Other(4401), "token expired; connect again with a new token");
                    break;
                }
                _ = tokio::time::sleep_until(pong_deadline), if pong_due.is_some() => {
                    self.close(CloseCode::Away, "no pong within the timeout");
                    break;
                }
                frame = self.incoming.recv() => match frame {
                    None => break,
                    Some(Ok(Incoming::Text(text))) => {
                        // A `typing` has no answer.
                        if let Some(reply) = self.answers.for_text(&text).await
                            && self.outbox.send(reply).await.is_err()
                        {
                            break;
                        }
                    }
                    Some(Ok(Incoming::Binary)) => {
                        if self.outbox.send(self.answers.for_binary()).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(Incoming::Ping(payload))) => {
                        if self.outbox.send(Outbound::pong(payload)).await.is_err() {
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

    fn close(&self, code: CloseCode, reason: &str) {
        self.outbox.closer().request(code, reason);
    }
}
