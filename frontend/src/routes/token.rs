//! `POST /token`: a guest token for one client id, one channel and one display name.
//!
//! Registered only when this service holds the backend's secret. Guests are anonymous, so
//! the token proves nothing about who they are; it lets the backend require tokens (and
//! read names from them) while the stock page still works. What guards it:
//!
//! - Cross-site requests: the body must be `application/json` (which a cross-site form
//!   cannot send, and a cross-site `fetch` cannot without a preflight this service never
//!   answers) and `Origin` must be this page's own origin.
//! - Bulk minting: a small budget per source address ([`crate::rate_limit`]).
//! - Reach: one channel per token (`channels: [channel]`), a short lifetime.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::{
        StatusCode,
        header::{CACHE_CONTROL, CONTENT_TYPE, ORIGIN, RETRY_AFTER},
    },
    web,
};
use protocol::{ChannelId, ClientId, DisplayName};
use serde::{Deserialize, Serialize};

use crate::{
    guest_token::GuestClaims,
    rate_limit::{AddressBudgets, client_address},
    token_settings::TokenSettings,
};

/// Largest request body: three short strings fit many times over.
const MAX_BODY_BYTES: usize = 4096;

/// What the route keeps between requests.
#[derive(Debug)]
pub struct TokenRoute {
    pub budgets: AddressBudgets,
    pub trusted_proxy_hops: usize,
}

/// The body size limit for `/token`.
pub fn payload_limit() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_BODY_BYTES)
}

#[derive(Deserialize)]
struct TokenRequest {
    client_id: String,
    name: String,
    channel: String,
}

#[derive(Serialize)]
struct TokenResponse {
    token: String,
    expires_at: u64,
}

pub async fn mint(
    req: HttpRequest,
    body: web::Bytes,
    tokens: web::Data<TokenSettings>,
    route: web::Data<TokenRoute>,
) -> Result<HttpResponse, TokenError> {
    let TokenSettings::Guest { signer, ttl } = tokens.get_ref() else {
        return Err(TokenError::NotHere);
    };
    check_same_origin(&req)?;
    check_json(&req)?;
    let forwarded_for: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let peer = req.peer_addr().map(|a| a.ip());
    if let Some(address) = client_address(&forwarded_for, peer, route.trusted_proxy_hops) {
        route
            .budgets
            .try_take(address, Instant::now())
            .map_err(TokenError::RateLimited)?;
    }
    let request: TokenRequest =
        serde_json::from_slice(&body).map_err(|_| TokenError::BadRequest)?;
    let client = ClientId::parse(&request.client_id)
        .map_err(|e| TokenError::Invalid("invalid_client_id", format!("client_id {e}")))?;
    let channel = ChannelId::parse(&request.channel)
        .map_err(|e| TokenError::Invalid("invalid_channel", format!("channel {e}")))?;
    // The backend's own rule, so a token is never minted for a name it would refuse.
    let name = DisplayName::parse(&request.name)
        .map_err(|e| TokenError::Invalid("invalid_name", format!("name {e}")))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let expires_at = now.saturating_add(ttl.as_secs());
    let token = signer.sign(&GuestClaims {
        sub: client.as_str(),
        exp: expires_at,
        channels: [channel.as_str()],
        name: name.as_str(),
    });
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(TokenResponse { token, expires_at }))
}

/// `Origin` must be the origin this request was addressed to, as the page sees it (the
/// scheme and host the front end reports).
fn check_same_origin(req: &HttpRequest) -> Result<(), TokenError> {
    let origin = req
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or(TokenError::CrossOrigin)?;
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    if origin.eq_ignore_ascii_case(&own) {
        Ok(())
    } else {
        Err(TokenError::CrossOrigin)
    }
}

fn check_json(req: &HttpRequest) -> Result<(), TokenError> {
    let essence = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    match essence {
        Some(mime) if mime.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(TokenError::NotJson),
    }
}

/// Why no token was minted; answered as `{"error": code, "message": …}`.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("guest tokens are not issued here")]
    NotHere,
    #[error("requests must come from this page's own origin")]
    CrossOrigin,
    #[error("the body must be application/json")]
    NotJson,
    #[error("too many token requests; try again later")]
    RateLimited(Duration),
    #[error("the body must be JSON with client_id, name and channel")]
    BadRequest,
    #[error("{1}")]
    Invalid(&'static str, String),
}

impl TokenError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotHere => "not_found",
            Self::CrossOrigin => "origin_not_allowed",
            Self::NotJson => "unsupported_media_type",
            Self::RateLimited(_) => "rate_limited",
            Self::BadRequest => "bad_request",
            Self::Invalid(code, _) => code,
        }
    }
}

impl ResponseError for TokenError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotHere => StatusCode::NOT_FOUND,
            Self::CrossOrigin => StatusCode::FORBIDDEN,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BadRequest | Self::Invalid(..) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((CACHE_CONTROL, "no-store"));
        if let Self::RateLimited(wait) = self {
            // Whole seconds, rounded up: asking again sooner would only be refused again.
            let secs = wait.as_secs_f64().ceil().max(1.0);
            response.insert_header((RETRY_AFTER, format!("{secs:.0}")));
        }
        response.json(serde_json::json!({
            "error": self.code(),
            "message": self.to_string(),
        }))
    }
}
