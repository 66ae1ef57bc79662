//! `POST /api/v1/channels/{channel}/messages` posts as the API's sender, exactly as a client's
//! `send` does (stored, numbered, delivered on every instance, in history).
//! `GET /api/v1/channels/{channel}/messages` reads the history a page at a time: the newest
//! messages by default, or those `before` or `after` an id.

use actix_web::{HttpRequest, HttpResponse, web};
use protocol::{ChannelId, MessageId, frames::MAX_NONCE_CHARS};
use serde::Deserialize;

use super::{ApiError, authorize};
use crate::state::AppState;

/// Messages a page holds unless the caller asks for fewer, and the most it may ask for.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 100;
/// Largest request body read: a message at its largest, escaped, with room to spare.
const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Post {
    message: String,
    /// Like a client's nonce: a repeated call with the same key stores nothing new and
    /// answers with the first call's id.
    #[serde(default)]
    idempotency_key: Option<String>,
}

pub async fn post(
    req: HttpRequest,
    channel: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let channel = channel_id(&channel)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge(format!(
            "the body is over {MAX_BODY_BYTES} bytes"
        )));
    }
    let post: Post = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be {{\"message\": \"…\", \"idempotency_key\": \"…\"}}: {e}"
        ))
    })?;
    check_message(&post.message, state.settings.limits.message.max_chars)?;
    if let Some(key) = &post.idempotency_key
        && (key.is_empty() || key.chars().count() > MAX_NONCE_CHARS)
    {
        return Err(ApiError::BadRequest(format!(
            "idempotency_key must have 1 to {MAX_NONCE_CHARS} characters"
        )));
    }
    let api = &state.settings.api;
    let id = state
        .bus
        .publish(
            &channel,
            &api.sender,
            Some(&api.sender_name),
            &post.message,
            post.idempotency_key.as_deref(),
        )
        .await?;
    state.metrics.message_in();
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": id.to_string(),
        "channel_id": channel,
        "client_id": api.sender,
        "name": api.sender_name,
    })))
}

/// The same rules as a client's `send`.
fn check_message(message: &str, max_chars: usize) -> Result<(), ApiError> {
    if message.is_empty() {
        return Err(ApiError::BadRequest("message must not be empty".into()));
    }
    let chars = message.chars().count();
    if chars > max_chars {
        return Err(ApiError::TooLarge(format!(
            "message has {chars} characters, the limit is {max_chars}"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    before: Option<MessageId>,
    after: Option<MessageId>,
    limit: Option<usize>,
}

pub async fn list(
    req: HttpRequest,
    channel: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let channel = channel_id(&channel)?;
    let page = web::Query::<Page>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("bad query: {e}")))?
        .into_inner();
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be from 1 to {MAX_PAGE}"
        )));
    }
    let (messages, more) = match (page.before, page.after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "ask for messages before an id or after one, not both".into(),
            ));
        }
        (None, Some(after)) => {
            // The history's current incarnation: `after` must belong to it, or the messages
            // right after it may be gone without the caller knowing.
            let epoch = state.bus.history(&channel, None, 0).await?.epoch;
            let page = state
                .bus
                .history_after(&channel, after, &epoch, limit + 1)
                .await?
                .ok_or(ApiError::Gone(after))?;
            let more = page.len() > limit;
            (page.into_iter().take(limit).collect(), more)
        }
        (before, None) => {
            let before = before.unwrap_or(MessageId::MAX);
            let page = state.bus.history_before(&channel, before, limit).await?;
            (page.messages, page.more)
        }
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "channel_id": channel,
        "messages": messages,
        "more": more,
    })))
}

/// A channel a client could join: the server's own channels are not the API's either.
pub(super) fn channel_id(raw: &str) -> Result<ChannelId, ApiError> {
    let channel =
        ChannelId::parse(raw).map_err(|e| ApiError::BadRequest(format!("channel id {e}")))?;
    if channel.is_reserved() {
        return Err(ApiError::BadRequest(format!(
            "channel id {}",
            protocol::IdError::Reserved
        )));
    }
    Ok(channel)
}
