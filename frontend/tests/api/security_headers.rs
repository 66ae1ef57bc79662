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
        assert_eq!(response.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(
            response.header("permissions-policy"),
            "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), \
             magnetometer=(), microphone=(), midi=(), payment=(), usb=()",
            "{path}"
        );
        assert_eq!(
            response.header("strict-transport-security"),
            "",
            "{path}: no HSTS over plain http"
        );
    }
}

/// Behind Cloud Run's front end, which terminates TLS and says so, every response carries
/// HSTS; a request that came in over http does not.
#[actix_web::test]
async fn hsts_goes_with_every_response_to_an_https_request() {
    let app = spawn_app().await;
    let https: [&[(&str, &str)]; 3] = [
        &[("X-Forwarded-Proto", "https")],
        &[("X-Forwarded-Proto", "HTTPS")],
        &[("Forwarded", "for=203.0.113.7;proto=https")],
    ];
    for path in ["/", "/c/room", "/static/app.css", "/healthz", "/missing"] {
        for headers in https {
            let response = app.get_with(path, headers).await;
            assert_eq!(
                response.header("strict-transport-security"),
                "max-age=31536000; includeSubDomains",
                "{path} {headers:?}"
            );
        }
        let plain = app.get_with(path, &[("X-Forwarded-Proto", "http")]).await;
        assert_eq!(plain.header("strict-transport-security"), "", "{path}");
    }
}
