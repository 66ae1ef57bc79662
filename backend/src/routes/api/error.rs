//! What the server API answers when a call cannot be served: a status and
//! `{"error": "<code>", "message": "<sentence>"}`, as the WebSocket handshake's refusals.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use protocol::MessageId;

use crate::bus::BusError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no such endpoint (the server API is off unless API_KEYS is set)")]
    NotFound,
    #[error("a valid API key is required: Authorization: Bearer <key>")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("messages after {0} are no longer kept; read from the oldest kept instead")]
    Gone(MessageId),
    #[error("the message store is unavailable; try again")]
    Unavailable,
    /// Stored and published, but no replica confirmed it in time: the same call with the same
    /// idempotency key waits again and answers with this id.
    #[error(
        "message {0} was stored but not yet confirmed by a replica; repeat the call with the same idempotency_key"
    )]
    NotConfirmed(MessageId),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "not_found",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::TooLarge(_) => "too_large",
            ApiError::Gone(_) => "gone",
            ApiError::Unavailable => "unavailable",
            ApiError::NotConfirmed(_) => "not_confirmed",
        }
    }
}

impl From<BusError> for ApiError {
    fn from(e: BusError) -> Self {
        match e {
            BusError::NotConfirmed { id, .. } => ApiError::NotConfirmed(id),
            BusError::Unavailable(_) | BusError::Protocol(_) => {
                log::warn!(error:% = e; "A server API call failed on the bus.");
                ApiError::Unavailable
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Unavailable | ApiError::NotConfirmed(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        let mut body = serde_json::json!({"error": self.code(), "message": self.to_string()});
        if let ApiError::NotConfirmed(id) = self {
            body["id"] = id.to_string().into();
        }
        response.json(body)
    }
}

impl actix_web::Responder for ApiError {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        self.error_response()
    }
}
