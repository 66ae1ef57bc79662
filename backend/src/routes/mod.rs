//! HTTP routes: health probes and the WebSocket endpoint, whose refusals a browser reads
//! as close codes ([`refusal`]).

pub mod health;
mod refusal;
pub mod ws;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/ws/{channel}/{client}", web::get().to(ws::connect));
}
