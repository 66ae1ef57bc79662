//! The session's event loop, once the client has joined: answers the client's frames, pings
//! it, and ends the connection when the client leaves, a close is requested, the client
//! stops answering pings, its token expires or the connection reaches its maximum age. A
//! client's sends are handled one after another, in the order it sent them, so they are
//! stored in that order.

use std::time::Duration;

use actix_http::ws::CloseCode;
use protocol::{ClientFrame, ErrorCode, ServerFrame};
use tokio::time::Instant;

use super::{
    ClientFrames, Request,
    incoming::{Incoming, ReadError},
    rate_limit::SendBudget,
};
use crate::{
    auth::unix_now,
    bus::BusError,
    outbox::{Outbound, Outbox},
    state::AppState,
};

/// What the loop needs besides its timers.
pub struct EventLoop<'a> {
    state: &'a AppState,
    request: &'a Request,
    incoming: ClientFrames,
    outbox: Outbox,
    sends: SendBudget,
    /// When the connection's token expires (Unix seconds), moved on by each `refresh`.
    token_expires: Option<u64>,
}

impl<'a> EventLoop<'a> {
    pub fn new(
        state: &'a AppState,
        request: &'a Request,
        incoming: ClientFrames,
        outbox: Outbox,
    ) -> Self {
        let sends = state
            .send_budgets
            .get(&request.channel, &request.client, Instant::now());
        Self {
            state,
            request,
            incoming,
            outbox,
            sends,
            token_expires: request.token_expires,
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
        let max_age = self.state.settings.connection_max_age;
        let retire_at = Instant::now() + max_age.mul_f64(0.9 + 0.1 * unit_random());
        let ping_every = self.state.settings.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        let mut pong_due: Option<Instant> = None;
        loop {
            let pong_deadline =
                pong_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
            let token_deadline = self.token_expires.map_or_else(
                || Instant::now() + Duration::from_secs(86_400),
                |exp| Instant::now() + Duration::from_secs(exp.saturating_sub(unix_now())),
            );
            tokio::select! {
                _ = closer.requested() => break,
                _ = ping.tick() => {
                    if self.outbox.send(Outbound::ping()).await.is_err() {
                        break;
                    }
                    pong_due.get_or_insert(Instant::now() + self.state.settings.pong_timeout);
                }
                _ = tokio::time::sleep_until(retire_at) => {
                    self.close(CloseCode::Restart, "connection reached its maximum age; reconnect with since");
                    break;
                }
                _ = tokio::time::sleep_until(token_deadline), if self.token_expires.is_some() => {
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
                        let reply = self.on_text(&text).await;
                        if self.outbox.send(reply).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(Incoming::Binary)) => {
                        let reply = ServerFrame::Error {
                            code: ErrorCode::BadFrame,
                            message: "frames are JSON text; binary frames are not supported".into(),
                            nonce: None,
                        };
                        self.state.metrics.error(ErrorCode::BadFrame);
                        if self.outbox.send(Outbound::frame(&reply)).await.is_err() {
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

    /// Takes a new token for the connection: it must be valid for this client id and
    /// channel, as at the handshake; the connection then lasts until it expires.
    fn refresh(&mut self, token: &str, nonce: Option<String>) -> ServerFrame {
        let Some(authority) = &self.state.settings.auth else {
            return ServerFrame::Error {
                code: ErrorCode::BadFrame,
                message: "this server does not use tokens".into(),
                nonce,
            };
        };
        match authority.verify_now(token, &self.request.client, &self.request.channel) {
            Ok(claims) => {
                self.token_expires = Some(claims.exp);
                ServerFrame::Refreshed {
                    expires_at: claims.exp,
                    nonce,
                }
            }
            Err(e) => ServerFrame::Error {
                code: ErrorCode::Unauthorized,
                message: format!(
                    "token refused: {e}; the connection ends when the current one expires"
                ),
                nonce,
            },
        }
    }

    /// Handles one client text frame and returns the frame to answer it with.
    async fn on_text(&mut self, text: &str) -> Outbound {
        let (state, request) = (self.state, self.request);
        let reply = match ClientFrame::parse(text, &state.limits) {
            Err(refused) => refused.into(),
            Ok(ClientFrame::Ping { nonce }) => ServerFrame::Pong { nonce },
            Ok(ClientFrame::Refresh { token, nonce }) => self.refresh(&token, nonce),
            Ok(ClientFrame::Send { nonce, .. }) if !self.sends.try_take(Instant::now()) => {
                ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    message: format!(
                        "too many messages; try again in {} ms",
                        self.sends.wait_hint().as_millis().max(1)
                    ),
                    nonce,
                }
            }
            Ok(ClientFrame::Send { message, nonce }) => match state
                .bus
                .publish(
                    &request.channel,
                    &request.client,
                    &message,
                    nonce.as_deref(),
                )
                .await
            {
                Ok(id) => ServerFrame::Ack { nonce, id },
                Err(e @ BusError::NotConfirmed { .. }) => {
                    log::warn!(channel:% = request.channel, error:% = e; "A message was not confirmed by a replica.");
                    ServerFrame::Error {
                        code: ErrorCode::NotConfirmed,
                        message: "stored, but not yet confirmed by a replica; resend with the same nonce to confirm".into(),
                        nonce,
                    }
                }
                Err(e) => {
                    log::warn!(channel:% = request.channel, error:% = e; "A message was not accepted.");
                    ServerFrame::Error {
                        code: ErrorCode::Unavailable,
                        message: "the message was not stored; send it again".into(),
                        nonce,
                    }
                }
            },
        };
        match &reply {
            ServerFrame::Ack { .. } => self.state.metrics.message_in(),
            ServerFrame::Error { code, .. } => self.state.metrics.error(*code),
            _ => {}
        }
        Outbound::frame(&reply)
    }
}

/// A number in [0, 1), from std's randomly keyed hasher: enough to spread reconnects.
fn unit_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
