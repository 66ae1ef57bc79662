//! Security headers sent with every response.
//!
//! The page keeps all script and style in `/static` and passes its one setting (the
//! backend URL) through a `data-` attribute, so the policy can forbid inline code entirely.
//! The only foreign origin a page may talk to is the backend's WebSocket origin.

use actix_web::{
    http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS},
    middleware::DefaultHeaders,
};

use crate::config::BackendUrl;

/// The `Content-Security-Policy` for this deployment.
pub fn content_security_policy(backend: &BackendUrl) -> String {
    format!(
        "default-src 'self'; connect-src 'self' {}; img-src 'self' data:; style-src 'self'; \
         script-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        backend.origin()
    )
}

/// Middleware adding the headers to every response that does not set them itself.
pub fn headers(backend: &BackendUrl) -> DefaultHeaders {
    DefaultHeaders::new()
        .add((CONTENT_SECURITY_POLICY, content_security_policy(backend)))
        .add((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // The page URL names the room; don't leak it to anything the page links to.
        .add((REFERRER_POLICY, "no-referrer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_allows_exactly_the_backend_origin() {
        let backend: BackendUrl = "https://b.example:8443/prefix/".parse().unwrap();
        let csp = content_security_policy(&backend);
        assert!(
            csp.contains("connect-src 'self' wss://b.example:8443;"),
            "{csp}"
        );
        assert!(!csp.contains("prefix"), "{csp}");
        assert!(
            csp.contains("script-src 'self';") && !csp.contains("unsafe"),
            "{csp}"
        );
    }
}
