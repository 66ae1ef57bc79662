//! HTTP routes, one file per kind of resource.
//!
//! - [`pages`]: the chat page (`/`, `/c/{channel}`) and the HTML error pages.
//! - [`static_files`]: the embedded script and stylesheet under `/static/`.
//! - [`health`]: `/healthz`, for load balancers and start-up probes.
//! - [`token`]: `POST /token`, guest tokens, only when this service holds the secret.

pub mod health;
pub mod pages;
pub mod static_files;
pub mod token;

use actix_web::{Route, guard, web};

use crate::token_settings::TokenSettings;

/// Registers every route; other methods on these paths get 405, other paths the HTML 404.
/// Without the secret there is no `/token` at all: it is an ordinary 404.
pub fn configure(cfg: &mut web::ServiceConfig, tokens: &TokenSettings) {
    if matches!(tokens, TokenSettings::Guest { .. }) {
        cfg.service(
            web::resource("/token")
                .app_data(token::payload_limit())
                .route(web::post().to(token::mint)),
        );
    }
    cfg.service(web::resource("/").route(read().to(pages::index)))
        .service(web::resource("/c/{channel}").route(read().to(pages::room)))
        .service(web::resource("/static/{file}").route(read().to(static_files::asset)))
        .service(web::resource("/healthz").route(read().to(health::healthz)))
        .default_service(web::to(pages::not_found));
}

/// GET, and HEAD too: probes and `curl -I` use it, and actix drops the body for HEAD.
fn read() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}
