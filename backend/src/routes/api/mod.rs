//! The server API: what an app that embeds the chat calls from its own servers — post into a
//! channel, read its history page by page, see who is online, disconnect a client. HTTP and
//! JSON under `/api/v1` on the public port (docs/API.md), authorized with one of `API_KEYS` as
//! a bearer token; off (404) when no key is configured.
//!
//! Every call goes through the same bus as the clients' frames, so it behaves the same on the
//! three engines and reaches every instance.

mod clients;
mod error;
mod messages;
mod presence;

use actix_web::{HttpRequest, web};

pub use self::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route(
                "/channels/{channel}/messages",
                web::post().to(messages::post),
            )
            .route(
                "/channels/{channel}/messages",
                web::get().to(messages::list),
            )
            .route(
                "/channels/{channel}/presence",
                web::get().to(presence::online),
            )
            .route(
                "/channels/{channel}/clients/{client}",
                web::delete().to(clients::disconnect_from_channel),
            )
            .route(
                "/clients/{client}",
                web::delete().to(clients::disconnect_everywhere),
            )
            .default_service(web::to(|| async { ApiError::NotFound })),
    );
}

/// Lets the call through if it carries one of the keys. A call without the API configured is
/// answered as if the path did not exist.
fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let api = &state.settings.api;
    if !api.enabled() {
        return Err(ApiError::NotFound);
    }
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer_token)
        .ok_or(ApiError::Unauthorized)?;
    if api.accepts(presented) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}
