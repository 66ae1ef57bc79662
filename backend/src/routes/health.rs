//! Probes. `/healthz`: the process serves requests (liveness). `/readyz`: it can serve chats
//! (the bus answers and shutdown has not begun), so load balancers stop sending clients to
//! an instance that would only refuse them.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
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
