//! Refusals before the WebSocket session: an HTTP status and a JSON body
//! `{"error": "<code>", "message": "<sentence>"}`, so clients can tell them apart; for
//! browsers, which cannot read those, a WebSocket close code with the sentence as reason.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use protocol::{EpochError, IdError, MessageIdError};

use crate::auth::AuthError;

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
    pub fn code(&self) -> &'static str {
        match self {
            HandshakeError::InvalidChannel(_) => "invalid_channel",
            HandshakeError::InvalidClient(_) => "invalid_client",
            HandshakeError::InvalidSince(_) => "invalid_since",
            HandshakeError::InvalidEpoch(_) => "invalid_epoch",
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
