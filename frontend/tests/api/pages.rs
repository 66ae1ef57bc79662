use crate::helpers::{BACKEND_WS_URL, spawn_app};

#[actix_web::test]
async fn index_renders_the_join_form_with_the_backend_url() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(response.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(response.header("cache-control"), "no-cache");
    let html = response.text();
    assert!(
        html.contains(&format!(r#"data-backend-url="{BACKEND_WS_URL}""#)),
        "{html}"
    );
    assert!(html.contains(r#"<form id="join-form""#), "{html}");
    assert!(
        html.contains(r#"<label for="name">Your name</label>"#),
        "{html}"
    );
    assert!(
        !html.contains("data-channel="),
        "no room is preselected on /"
    );
}

#[actix_web::test]
async fn room_page_carries_the_channel_and_backend_url() {
    let app = spawn_app().await;

    let response = app.get("/c/general.dev-1_x").await;

    assert_eq!(response.status.as_u16(), 200);
    let html = response.text();
    assert!(html.contains(r#"data-channel="general.dev-1_x""#), "{html}");
    assert!(html.contains(r#"value="general.dev-1_x""#), "{html}");
    assert!(
        html.contains("<title>general.dev-1_x · Chat</title>"),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"data-backend-url="{BACKEND_WS_URL}""#)),
        "{html}"
    );
}

#[actix_web::test]
async fn pages_link_the_hashed_assets_and_have_no_inline_code() {
    let app = spawn_app().await;
    let assets = frontend::assets::assets();

    let html = app.get("/c/room").await.text().to_owned();

    assert!(html.contains(&format!(
        r#"<script src="{}" defer></script>"#,
        assets.js.url
    )));
    assert!(html.contains(&format!(
        r#"<link rel="stylesheet" href="{}">"#,
        assets.css.url
    )));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the external script"
    );
    assert!(
        !html.contains("style="),
        "inline styles would break the CSP"
    );
    assert!(
        !has_event_handler(&html),
        "inline event handlers would break the CSP"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
    assert!(html.contains(r#"aria-live="polite""#));
}

#[actix_web::test]
async fn invalid_channel_gets_a_readable_400_page() {
    let app = spawn_app().await;
    let cases = [
        ("/c/has%20space", "has space", "may only contain"),
        ("/c/%3Cscript%3E", "&#60;script&#62;", "may only contain"),
        (
            &format!("/c/{}", "x".repeat(65)),
            "xxxx",
            "at most 64 characters",
        ),
    ];

    for (path, shown, reason) in cases {
        let response = app.get(path).await;

        assert_eq!(response.status.as_u16(), 400, "{path}");
        assert_eq!(response.header("content-type"), "text/html; charset=utf-8");
        let html = response.text();
        assert!(html.contains("That room name isn&#39;t valid"), "{html}");
        assert!(html.contains(shown), "{path}: {html}");
        assert!(html.contains(reason), "{path}: {html}");
        assert!(!html.contains("<script>"), "the id must be escaped: {html}");
        assert!(html.contains(r#"<a href="/">"#), "{html}");
    }
}

#[actix_web::test]
async fn unknown_paths_get_an_html_404() {
    let app = spawn_app().await;

    for path in ["/nope", "/c/room/extra", "/c/"] {
        let response = app.get(path).await;

        assert_eq!(response.status.as_u16(), 404, "{path}");
        assert!(response.text().contains("Page not found"), "{path}");
    }
}

/// Whether the markup has an attribute like ` onclick=`.
fn has_event_handler(html: &str) -> bool {
    html.split(" on").skip(1).any(|rest| {
        let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

#[test]
fn event_handler_check_works() {
    assert!(has_event_handler(r#"<a onclick="x()">"#));
    assert!(!has_event_handler(r#"<h3>Online (<span id="online">"#));
}

#[actix_web::test]
async fn other_methods_are_not_allowed() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(format!("{}/c/room", app.address))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 405);
}

#[actix_web::test]
async fn room_page_has_labelled_controls_and_a_live_region() {
    let app = spawn_app().await;

    let html = app.get("/c/room").await.text().to_owned();

    for control in [
        r#"<label for="message" class="visually-hidden">Message</label>"#,
        r#"<label for="switch-channel" class="visually-hidden">Go to room</label>"#,
        r#"<button id="copy-link" type="button""#,
        r#"aria-controls="side" aria-expanded="false""#,
        r#"<div id="announce" class="visually-hidden" aria-live="polite""#,
        r#"<span id="status" role="status">"#,
    ] {
        assert!(html.contains(control), "missing {control}: {html}");
    }
}
