use frontend::assets::assets;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn hashed_assets_are_served_with_long_immutable_caching() {
    let app = spawn_app().await;
    let assets = assets();

    for (asset, content_type, marker) in [
        (
            &assets.js,
            "text/javascript; charset=utf-8",
            "\"use strict\";",
        ),
        (
            &assets.css,
            "text/css; charset=utf-8",
            "prefers-color-scheme",
        ),
    ] {
        let response = app.get(&asset.url).await;

        assert_eq!(response.status.as_u16(), 200, "{}", asset.url);
        assert_eq!(response.header("content-type"), content_type);
        assert_eq!(
            response.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(response.header("etag"), asset.etag.to_string());
        assert!(response.text().contains(marker), "{}", asset.url);
        assert_eq!(response.body, asset.body);
    }
}

#[actix_web::test]
async fn plain_names_are_revalidated_with_an_etag() {
    let app = spawn_app().await;

    let response = app.get("/static/app.js").await;

    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(
        response.header("content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(response.header("cache-control"), "no-cache");
    let etag = response.header("etag").to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");

    let revalidated = app
        .get_with("/static/app.js", &[("if-none-match", &etag)])
        .await;

    assert_eq!(revalidated.status.as_u16(), 304);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header("etag"), etag);

    let stale = app
        .get_with("/static/app.js", &[("if-none-match", "W/\"0000\"")])
        .await;
    assert_eq!(stale.status.as_u16(), 200);
}

#[actix_web::test]
async fn assets_are_compressed_when_the_client_accepts_it() {
    let app = spawn_app().await;

    let gzip = app
        .get_with(&assets().js.url, &[("accept-encoding", "gzip")])
        .await;
    let brotli = app
        .get_with(&assets().css.url, &[("accept-encoding", "br")])
        .await;

    assert_eq!(gzip.header("content-encoding"), "gzip");
    assert!(gzip.body.len() < assets().js.body.len());
    assert_eq!(brotli.header("content-encoding"), "br");
    assert!(
        gzip.header("vary")
            .to_ascii_lowercase()
            .contains("accept-encoding")
    );
}

#[actix_web::test]
async fn unknown_assets_are_404() {
    let app = spawn_app().await;

    for path in [
        "/static/app.0000000000000000.js",
        "/static/other.js",
        "/static/",
    ] {
        assert_eq!(app.get(path).await.status.as_u16(), 404, "{path}");
    }
}
