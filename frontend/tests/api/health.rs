use crate::helpers::spawn_app;

#[actix_web::test]
async fn healthz_returns_200() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(response.text(), "ok");
    assert_eq!(response.header("cache-control"), "no-store");
}

#[actix_web::test]
async fn healthz_answers_head_without_a_body() {
    let app = spawn_app().await;

    let response = app
        .client
        .head(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers().get("content-length").unwrap(), "2");
}
