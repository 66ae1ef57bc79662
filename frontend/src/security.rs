//! Security headers sent with every response.
//!
//! The page keeps all script and style in `/static` and passes its settings (the backend
//! URL, where tokens come from) through `data-` attributes, so the policy can forbid inline
//! code entirely. The only foreign origins a page may talk to are the backend's WebSocket
//! origin and, when one is configured, the operator's token endpoint.
//!
//! HSTS is sent only to requests that arrived over https. This server speaks plain HTTP
//! behind a TLS-terminating front end (Cloud Run's), which says so with
//! `X-Forwarded-Proto: https` (or `Forwarded: proto=https`). A client that forges the header
//! over plain http gains nothing: browsers ignore HSTS received over http (RFC 6797 §8.1).

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{
        CONTENT_SECURITY_POLICY, HeaderName, HeaderValue, REFERRER_POLICY,
        STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    },
    middleware::{DefaultHeaders, Next},
};

use crate::config::BackendUrl;

/// One year, subdomains included: the policy browsers expect of a site served only over https.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Powerful features the page never uses, denied to it and to anything that might end up
/// embedded in it. (The clipboard, which "Copy link" uses, stays allowed.)
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), \
     geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()";

/// The `Content-Security-Policy` for this deployment; `token_origin` is the operator's token
/// endpoint's origin, when the page fetches its tokens there.
pub fn content_security_policy(backend: &BackendUrl, token_origin: Option<&str>) -> String {
    let token_origin = token_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; connect-src 'self' {}{token_origin}; img-src 'self' data:; \
         style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        backend.origin()
    )
}

/// Middleware adding the headers to every response that does not set them itself.
pub fn headers(backend: &BackendUrl, token_origin: Option<&str>) -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            CONTENT_SECURITY_POLICY,
            content_security_policy(backend, token_origin),
        ))
        .add((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // The page URL names the room; don't leak it to anything the page links to.
        .add((REFERRER_POLICY, "no-referrer"))
        // `frame-ancestors 'none'` says the same to browsers that read the CSP; this is for
        // those that do not (clickjacking).
        .add((X_FRAME_OPTIONS, "DENY"))
        .add((PERMISSIONS_POLICY_HEADER, PERMISSIONS_POLICY))
}

const PERMISSIONS_POLICY_HEADER: HeaderName = HeaderName::from_static("permissions-policy");

/// Middleware (for `middleware::from_fn`) adding HSTS to responses to https requests.
pub async fn strict_transport_security(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let https = req.connection_info().scheme().eq_ignore_ascii_case("https");
    let mut response = next.call(req).await?;
    if https {
        response
            .headers_mut()
            .insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_allows_exactly_the_backend_origin() {
        let backend: BackendUrl = "https://b.example:8443/prefix/".parse().unwrap();
        let csp = content_security_policy(&backend, None);
        assert!(
            csp.contains("connect-src 'self' wss://b.example:8443;"),
            "{csp}"
        );
        let csp = content_security_policy(&backend, Some("https://auth.example"));
        assert!(
            csp.contains("connect-src 'self' wss://b.example:8443 https://auth.example;"),
            "{csp}"
        );
        assert!(!csp.contains("prefix"), "{csp}");
        assert!(
            csp.contains("script-src 'self';") && !csp.contains("unsafe"),
            "{csp}"
        );
    }
}
