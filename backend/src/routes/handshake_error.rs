//! Refusals before the WebSocket session: an HTTP status and a JSON body
//! `{"error": "<code>", "message": "<sentence>"}`, so clients can tell them apart; for
//! browsers, which cannot read those, a WebSocket close code with the sentence as reason.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use protocol::{EpochError, IdError, MessageIdError, NameError};

use crate::auth::AuthError;

/// The kinds of refusal an operator tells apart (the `reason` label of
/// `chat_upgrades_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    BadRequest,
    NotWebSocket,
    Origin,
    Token,
    Draining,
    LimitInstance,
    LimitClient,
    LimitAddress,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 8] = [
        RefusalReason::BadRequest,
        RefusalReason::NotWebSocket,
        RefusalReason::Origin,
        RefusalReason::Token,
        RefusalReason::Draining,
        RefusalReason::LimitInstance,
        RefusalReason::LimitClient,
        RefusalReason::LimitAddress,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::BadRequest => "bad_request",
            RefusalReason::NotWebSocket => "not_websocket",
            RefusalReason::Origin => "origin",
            RefusalReason::Token => "token",
            RefusalReason::Draining => "draining",
            RefusalReason::LimitInstance => "limit_instance",
            RefusalReason::LimitClient => "limit_client",
            RefusalReason::LimitAddress => "limit_address",
        }
    }

    /// Its place among the counters: a match, so a new reason cannot go uncounted.
    pub fn slot(self) -> usize {
        match self {
            RefusalReason::BadRequest => 0,
            RefusalReason::NotWebSocket => 1,
            RefusalReason::Origin => 2,
            RefusalReason::Token => 3,
            RefusalReason::Draining => 4,
            RefusalReason::LimitInstance => 5,
            RefusalReason::LimitClient => 6,
            RefusalReason::LimitAddress => 7,
        }
    }
}

/// Why an upgrade request was refused, with what the client is told.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("channel id {0}")]
    InvalidChannel(IdError),
    #[error("client id {0}")]
    InvalidClient(IdError),
    #[error("since {0}")]
    InvalidSince(MessageIdError),
    #[error("epoch {0}")]
    InvalidEpoch(EpochError),
    #[error("name {0}")]
    InvalidName(NameError),
    #[error("query string is malformed: {0}")]
    InvalidQuery(String),
    #[error("this endpoint only speaks WebSocket: {0}")]
    NotWebSocket(String),
    #[error("not authorized: {0}")]
    Unauthorized(AuthError),
    #[error("origin {0:?} is not allowed to connect")]
    OriginNotAllowed(String),
    #[error("this instance is shutting down; connect again")]
    ShuttingDown,
    #[error("this instance is at its connection limit; connect again")]
    TooManyConnections,
    #[error("this client id has too many connections open; close one first")]
    TooManyForClient,
    #[error("too many connections from this address; close one first or connect later")]
    TooManyFromAddress,
}

impl HandshakeError {
    /// Why the upgrade was refused, as operators count it: one of a few kinds, so the
    /// refusal counter's labels stay few whatever a client sends.
    pub fn reason(&self) -> RefusalReason {
        match self {
            HandshakeError::InvalidChannel(_)
            | HandshakeError::InvalidClient(_)
            | HandshakeError::InvalidSince(_)
            | HandshakeError::InvalidEpoch(_)
            | HandshakeError::InvalidName(_)
            | HandshakeError::InvalidQuery(_) => RefusalReason::BadRequest,
            HandshakeError::NotWebSocket(_) => RefusalReason::NotWebSocket,
            HandshakeError::OriginNotAllowed(_) => RefusalReason::Origin,
            HandshakeError::Unauthorized(_) => RefusalReason::Token,
            HandshakeError::ShuttingDown => RefusalReason::Draining,
            HandshakeError::TooManyConnections => RefusalReason::LimitInstance,
            HandshakeError::TooManyForClient => RefusalReason::LimitClient,
            HandshakeError::TooManyFromAddress => RefusalReason::LimitAddress,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            HandshakeError::InvalidChannel(_) => "invalid_channel",
            HandshakeError::InvalidClient(_) => "invalid_client",
            HandshakeError::InvalidSince(_) => "invalid_since",
            HandshakeError::InvalidEpoch(_) => "invalid_epoch",
            HandshakeError::InvalidName(_) => "invalid_name",
            HandshakeError::InvalidQuery(_) => "invalid_query",
            HandshakeError::NotWebSocket(_) => "not_websocket",
            HandshakeError::OriginNotAllowed(_) => "origin_not_allowed",
            HandshakeError::Unauthorized(_) => "unauthorized",
            HandshakeError::ShuttingDown => "shutting_down",
            HandshakeError::TooManyConnections => "too_many_connections",
            HandshakeError::TooManyForClient => "too_many_connections_for_client",
            HandshakeError::TooManyFromAddress => "too_many_connections_from_address",
        }
    }
}

impl HandshakeError {
    /// The close code a browser gets instead of the HTTP status, in the range RFC 6455 leaves
    /// to applications (4000–4999, the HTTP status plus 4000, as centrifugo does) where no
    /// standard code says the same: 4400 bad request, 4401 no valid token (a new one may
    /// help), 4403 not allowed (retrying cannot help), 4429 too many connections (retry
    /// later), 1012 restarting (retry now, elsewhere). `None`: the request cannot be upgraded,
    /// so only the status can answer it.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            HandshakeError::InvalidChannel(_)
            | HandshakeError::InvalidClient(_)
            | HandshakeError::InvalidSince(_)
            | HandshakeError::InvalidEpoch(_)
            | HandshakeError::InvalidName(_)
            | HandshakeError::InvalidQuery(_) => Some(4400),
            HandshakeError::Unauthorized(AuthError::ChannelNotGranted) => Some(4403),
            HandshakeError::Unauthorized(_) => Some(4401),
            HandshakeError::OriginNotAllowed(_) => Some(4403),
            HandshakeError::TooManyConnections
            | HandshakeError::TooManyForClient
            | HandshakeError::TooManyFromAddress => Some(4429),
            HandshakeError::ShuttingDown => Some(1012),
            HandshakeError::NotWebSocket(_) => None,
        }
    }
}

impl ResponseError for HandshakeError {
    fn status_code(&self) -> StatusCode {
        match self {
            HandshakeError::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            HandshakeError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HandshakeError::ShuttingDown | HandshakeError::TooManyConnections => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            HandshakeError::TooManyForClient | HandshakeError::TooManyFromAddress => {
                StatusCode::TOO_MANY_REQUESTS
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(serde_json::json!({
            "error": self.code(),
            "message": self.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::RefusalReason;

    #[test]
    fn every_reason_has_its_own_counter_slot() {
        for (i, reason) in RefusalReason::ALL.into_iter().enumerate() {
            assert_eq!(reason.slot(), i, "{reason:?}");
        }
    }
}
