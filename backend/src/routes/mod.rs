//! HTTP routes. On the public port: health probes ([`health`], failures logged once per
//! change by [`readiness_log`]) and the WebSocket endpoint
//! ([`ws`]), whose refusals ([`handshake_error`]) a browser reads as close codes
//! ([`refusal`]) and operators see counted and logged ([`refusal_log`]). On the metrics
//! port, apart from anything clients can reach: [`metrics`]. The server API ([`api`]) is on
//! the public port, for the apps that embed the chat, behind its keys.

pub mod api;
pub mod handshake_error;
pub mod health;
pub mod metrics;
pub mod readiness_log;
mod refusal;
pub mod refusal_log;
pub mod ws;

use actix_web::web;

/// The public port's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/ws/{channel}/{client}", web::get().to(ws::connect))
        .configure(api::configure);
}

/// The metrics port's routes.
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics::metrics));
}
