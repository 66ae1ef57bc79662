use crate::helpers::{BACKEND_ORIGIN, spawn_app};

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let expected_csp = format!(
        "default-src 'self'; connect-src 'self' {BACKEND_ORIGIN}; img-src 'self' data:; \
         style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    );

    for path in [
        "/",
        "/c/room",
        "/c/bad%20room",
        "/static/app.css",
        "/healthz",
        "/missing",
    ] {
        let response = app.get(path).await;

        assert_eq!(
            response.header("content-security-policy"),
            expected_csp,
            "{path}"
        );
        assert_eq!(
            response.header("x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(response.header("referrer-policy"), "no-referrer", "{path}");
    }
}
