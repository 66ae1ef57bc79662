//! Liveness: the process is up and serving. The frontend has no dependencies worth
//! probing (the browser, not this service, talks to the backend), so this is always 200.

use actix_web::{HttpResponse, http::header::CACHE_CONTROL};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}
