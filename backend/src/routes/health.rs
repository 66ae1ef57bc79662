//! Probes. `/healthz`: the process serves requests (liveness). `/readyz`: it can serve chats
//! (the bus answers and shutdown has not begun), so load balancers stop sending clients to
//! an instance that would only refuse them.
//!
//! Anyone can ask `/readyz`, so it answers a fixed reason; what went wrong (Redis' own error
//! text, which can name hosts, ports and versions) goes to the log, once each time it changes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// What `/readyz` tells a caller while the bus cannot serve.
pub const UNAVAILABLE_REASON: &str = "the message store is unavailable; see the backend's logs";

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.shutdown.has_begun() {
        return HttpResponse::ServiceUnavailable().json(json!({"status": "shutting_down"}));
    }
    let outcome = state.bus.check_ready().await;
    state.readiness.note(&outcome);
    match outcome {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "message": UNAVAILABLE_REASON})),
    }
}
