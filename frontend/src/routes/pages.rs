//! The chat page and the error pages.
//!
//! Pages link content-hashed assets, so they themselves must always be revalidated
//! (`no-cache`), or a browser could keep an old page pointing at an old script.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header::CACHE_CONTROL},
    web,
};
use askama::Template;
use protocol::{ChannelId, IdError, frames::DEFAULT_MAX_MESSAGE_CHARS, ids::MAX_ID_LEN};

use crate::{
    config::BackendUrl,
    templates::{AssetUrls, ChatPage, ErrorPage},
    token_settings::TokenSettings,
};

/// `GET /`: the join form.
pub async fn index(
    backend: web::Data<BackendUrl>,
    tokens: web::Data<TokenSettings>,
) -> Result<HttpResponse, PageError> {
    chat_page(&backend, &tokens, None)
}

/// `GET /c/{channel}`: the room itself, so a link to a room can be shared.
pub async fn room(
    backend: web::Data<BackendUrl>,
    tokens: web::Data<TokenSettings>,
    channel: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let raw = channel.into_inner();
    let channel =
        ChannelId::parse(&raw).map_err(|reason| PageError::InvalidChannel { raw, reason })?;
    chat_page(&backend, &tokens, Some(channel.as_str()))
}

/// Every path no route claims.
pub async fn not_found() -> Result<HttpResponse, PageError> {
    Err(PageError::NotFound)
}

fn chat_page(
    backend: &BackendUrl,
    tokens: &TokenSettings,
    channel: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let page = ChatPage {
        assets: AssetUrls::current(),
        backend_url: backend.as_str(),
        tokens: tokens.for_page(),
        channel,
        max_id_len: MAX_ID_LEN,
        max_message_chars: DEFAULT_MAX_MESSAGE_CHARS,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-cache"))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// Why a page could not be shown; rendered as an HTML page with the matching status.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("invalid room name {raw:?}: {reason}")]
    InvalidChannel { raw: String, reason: IdError },
    #[error("no such page")]
    NotFound,
    #[error("failed to render page")]
    Render(#[from] askama::Error),
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::InvalidChannel { .. } => StatusCode::BAD_REQUEST,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, detail) = match self {
            PageError::InvalidChannel { raw, reason } => (
                "That room name isn't valid",
                format!(
                    "The room name “{}” {reason}. Room names are 1–{MAX_ID_LEN} characters: \
                     letters A–Z and a–z, digits 0–9, '.', '_' and '-'.",
                    shorten(raw)
                ),
            ),
            PageError::NotFound => ("Page not found", "There is nothing at this address.".into()),
            PageError::Render(e) => {
                log::error!("rendering a page failed: {e}");
                (
                    "Something went wrong",
                    "Please try again in a moment.".into(),
                )
            }
        };
        let page = ErrorPage {
            assets: AssetUrls::current(),
            title,
            detail: &detail,
        };
        match page.render() {
            Ok(body) => html(status, body),
            Err(e) => {
                log::error!("rendering the error page failed: {e}");
                HttpResponse::build(status)
                    .content_type("text/plain; charset=utf-8")
                    .body(format!("{title}. {detail}"))
            }
        }
    }
}

/// Caps how much of a bad id is echoed back: enough to recognise, not a whole URL's worth.
fn shorten(raw: &str) -> String {
    const SHOWN: usize = MAX_ID_LEN + 16;
    match raw.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_keeps_short_ids_and_cuts_long_ones_on_char_boundaries() {
        assert_eq!(shorten("room"), "room");
        let long = "é".repeat(200);
        let cut = shorten(&long);
        assert_eq!(cut.chars().count(), MAX_ID_LEN + 16 + 1);
        assert!(cut.ends_with('…'));
    }
}
