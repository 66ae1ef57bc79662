//! Spawns the application in-process on a random port, once per test.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::http::{StatusCode, header::HeaderMap};
use awc::Client;
use frontend::{Application, Settings, token_settings::TokenSettings};

/// The backend URL every test app is configured with (as `BACKEND_URL` would be).
pub const BACKEND_URL: &str = "https://Backend.example.test:8443/chat/";
/// The same URL normalized, as the page must carry it.
pub const BACKEND_WS_URL: &str = "wss://backend.example.test:8443/chat";
/// Its origin, as the CSP must list it.
pub const BACKEND_ORIGIN: &str = "wss://backend.example.test:8443";

pub struct TestApp {
    pub address: String,
    pub client: Client,
}

/// A response read to the end, so tests can assert on everything at once.
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("body is not UTF-8")
    }

    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is not ASCII"))
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> Response {
        self.get_with(path, &[]).await
    }

    /// POST `body` with request headers.
    pub async fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut request = self.client.post(format!("{}{path}", self.address));
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        read(request.send_body(body.to_owned())).await
    }

    /// GET with extra request headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.address));
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        read(request.send()).await
    }
}

/// Sends the request and reads the whole response.
async fn read(sent: awc::SendClientRequest) -> Response {
    let mut response = sent.await.expect("request failed");
    let body = response
        .body()
        .limit(4 << 20)
        .await
        .expect("failed to read body");
    Response {
        status: response.status(),
        headers: response.headers().clone(),
        body: body.to_vec(),
    }
}

/// Starts the app with [`BACKEND_URL`] on a free port of 127.0.0.1.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TokenSettings::Off).await
}

/// Starts the app with [`BACKEND_URL`] and `tokens` on a free port of 127.0.0.1.
pub async fn spawn_app_with(tokens: TokenSettings) -> TestApp {
    let settings = Settings {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        backend_url: BACKEND_URL.parse().expect("test backend URL is valid"),
        tokens,
        trusted_proxy_hops: 0,
    };
    let app = Application::build(settings).expect("failed to build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: Client::default(),
    }
}
