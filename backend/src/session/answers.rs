//! What the server answers to each of the client's frames: a `send` is rate limited, then
//! published and acknowledged once stored; a `history` is answered with the page before its
//! `before`; a `typing` is passed on to the channel (at most one per [`TYPING_EVERY`]) and
//! not answered; a `refresh` moves the connection's token expiry on; a `ping` is answered
//! with a `pong`; anything the client got wrong is answered with an error frame, counted by
//! its code.

use protocol::{ClientFrame, ErrorCode, MessageId, ServerFrame};
use tokio::time::Instant;

use super::Request;
use crate::{
    bus::{BusError, Signal},
    outbox::Outbound,
    rate_limit::SendBudget,
    state::AppState,
};

pub use crate::bus::TYPING_EVERY;

pub struct Answers<'a> {
    state: &'a AppState,
    request: &'a Request,
    sends: SendBudget,
    /// When the connection's token expires (Unix seconds), moved on by each `refresh`.
    token_expires: Option<u64>,
}

impl<'a> Answers<'a> {
    pub fn new(state: &'a AppState, request: &'a Request) -> Self {
        let sends = state
            .send_budgets
            .get(&request.channel, &request.client, Instant::now());
        Self {
            state,
            request,
            sends,
            token_expires: request.token_expires,
        }
    }

    /// When the connection must end unless the client sends a `refresh` first.
    pub fn token_expires(&self) -> Option<u64> {
        self.token_expires
    }

    /// The answer to a binary frame: the protocol has none.
    pub fn for_binary(&self) -> Outbound {
        let reply = ServerFrame::Error {
            code: ErrorCode::BadFrame,
            message: "frames are JSON text; binary frames are not supported".into(),
            nonce: None,
        };
        self.state.metrics.error(ErrorCode::BadFrame);
        Outbound::frame(&reply)
    }

    /// Takes a new token for the connection: it must be valid for this client id and
    /// channel, as at the handshake; the connection then lasts until it expires.
    fn refresh(&mut self, token: &str, nonce: Option<String>) -> ServerFrame {
        let Some(authority) = &self.state.settings.access.auth else {
            return ServerFrame::Error {
                code: ErrorCode::BadFrame,
                message: "this server does not use tokens".into(),
                nonce,
            };
        };
        match authority.verify_now(token, &self.request.client, &self.request.channel) {
            Ok(claims) => {
                self.token_expires = Some(authority.holds_until(&claims));
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

    /// The page of history before `before`.
    async fn history(&self, before: MessageId, limit: usize, nonce: Option<String>) -> ServerFrame {
        let channel = &self.request.channel;
        match self.state.bus.history_before(channel, before, limit).await {
            Ok(page) => ServerFrame::History {
                messages: page.messages,
                more: page.more,
                nonce,
            },
            Err(e) => {
                log::warn!(channel:% = channel, error:% = e; "A history page could not be read.");
                ServerFrame::Error {
                    code: ErrorCode::Unavailable,
                    message: "history could not be read; ask again".into(),
                    nonce,
                }
            }
        }
    }

    /// Passes a `typing` on, unless the client id's last one was less than [`TYPING_EVERY`]
    /// ago.
    async fn typing(&self) {
        let (channel, client) = (&self.request.channel, &self.request.client);
        let now = std::time::Instant::now();
        if !self
            .state
            .hub
            .take_typing_turn(channel, client, now, TYPING_EVERY)
        {
            return;
        }
        let signal = Signal::Typing {
            client: self.request.client.clone(),
            name: self.request.name.clone(),
        };
        if let Err(e) = self.state.bus.signal(&self.request.channel, signal).await {
            // Ephemeral: the next keystroke sends another.
            log::debug!(channel:% = self.request.channel, error:% = e; "A typing signal was lost.");
        }
    }

    /// Handles one client text frame and returns the frame to answer it with, if any.
    pub async fn for_text(&mut self, text: &str) -> Option<Outbound> {
        let (state, request) = (self.state, self.request);
        let reply = match ClientFrame::parse(text, &state.settings.limits.message) {
            Err(refused) => refused.into(),
            Ok(ClientFrame::Ping { nonce }) => ServerFrame::Pong { nonce },
            Ok(ClientFrame::Refresh { token, nonce }) => self.refresh(&token, nonce),
            Ok(ClientFrame::Typing) => {
                self.typing().await;
                return None;
            }
            Ok(ClientFrame::History {
                before,
                limit,
                nonce,
            }) => self.history(before, limit, nonce).await,
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
                    request.name.as_ref(),
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
        Some(Outbound::frame(&reply))
    }
}
