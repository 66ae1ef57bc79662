//! `GET /metrics` on the metrics port: Prometheus' text format; see docs/OPERATIONS.md for
//! what each series means.

use actix_web::{HttpResponse, web};

use crate::{metrics::Gauges, state::AppState};

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
