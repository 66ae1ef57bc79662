//! Probes. `/healthz`: the process serves requests (liveness). `/readyz`: it can serve chats
//! (the bus answers and shutdown has not begun), so load balancers stop sending clients to
//! an instance that would only refuse them.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{metrics::Gauges, state::AppState};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Prometheus metrics; see docs/OPERATIONS.md for what each series means.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let gauges = Gauges {
        instance: &state.instance_id,
        connections: state.connections.active(),
        channels: state.hub.channel_count(),
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(gauges))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.shutdown.has_begun() {
        return HttpResponse::ServiceUnavailable().json(json!({"status": "shutting_down"}));
    }
    match state.bus.check_ready().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "message": e.to_string()})),
    }
}
