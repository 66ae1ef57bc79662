//! HTTP routes, one file per kind of resource.
//!
//! - [`pages`]: the chat page (`/`, `/c/{channel}`) and the HTML error pages.
//! - [`static_files`]: the embedded script and stylesheet under `/static/`.
//! - [`health`]: `/healthz`, for load balancers and start-up probes.

pub mod health;
pub mod pages;
pub mod static_files;

use actix_web::{Route, guard, web};

/// Registers every route; other methods on these paths get 405, other paths the HTML 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
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
