//! IAM authentication to a Redis Cluster, the way Memorystore does it: every new connection
//! sends `AUTH <access token>`, tokens come from the metadata server and last an hour, and a
//! connection stays authenticated after its token expires. Here a local cluster's password
//! rotates the same way (the new one accepted, then the old one revoked) and the metadata
//! server is a fake on loopback whose tokens live two seconds.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use protocol::ServerFrame;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::{cluster_harness::RedisCluster, helpers::*};

/// How long the fake's tokens live: the backend must fetch a new one every ~1.5 s.
const TOKEN_SECS: u64 = 2;

/// A metadata server on loopback that hands out the current token, to requests that carry
/// `Metadata-Flavor: Google` only, and remembers which tokens it handed out.
struct FakeMetadata {
    port: u16,
    token: Arc<Mutex<String>>,
    served: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeMetadata {
    async fn start(first: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let token = Arc::new(Mutex::new(first.to_owned()));
        let served = Arc::new(Mutex::new(Vec::new()));
        let (current, log) = (token.clone(), served.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).to_lowercase();
                let answer = if request.contains("metadata-flavor: google") {
                    let token = current.lock().unwrap().clone();
                    log.lock().unwrap().push(token.clone());
                    let body = format!(
                        r#"{{"access_token":"{token}","expires_in":{TOKEN_SECS},"token_type":"Bearer"}}"#
                    );
                    format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}")
                } else {
                    "HTTP/1.0 403 Forbidden\r\n\r\nMissing Metadata-Flavor:Google header.".into()
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        Self {
            port,
            token,
            served,
            task,
        }
    }

    fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/computeMetadata/v1/instance/service-accounts/default/token",
            self.port
        )
    }

    fn rotate_to(&self, token: &str) {
        *self.token.lock().unwrap() = token.to_owned();
    }

    fn times_served(&self, token: &str) -> usize {
        self.served
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == token)
            .count()
    }
}

impl Drop for FakeMetadata {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `cmd` on every node, authenticated with `password`.
async fn on_every_node(cluster: &RedisCluster, password: &str, cmd: &redis::Cmd) {
    for node in &cluster.nodes {
        let url = format!("redis://:{password}@127.0.0.1:{}", node.port);
        let client = redis::Client::open(url).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let _: redis::Value = cmd.query_async(&mut connection).await.unwrap();
    }
}

async fn wait_ready(app: &TestApp) {
    for _ in 0..300 {
        if matches!(http_get(&app.http_url("/readyz")).await, Ok((200, _))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("backend on port {} did not become ready", app.port);
}

/// Sends `text` until it is acked (the backend may be reconnecting to the cluster), resending
/// with the same nonce so it is stored once.
async fn say_until_acked(client: &mut Client, text: &str) {
    let nonce = format!("iam-{text}");
    let frame = serde_json::json!({"type": "send", "message": text, "nonce": nonce});
    for _ in 0..40 {
        client.send_text(frame.to_string()).await;
        loop {
            match client.reply().await {
                ServerFrame::Ack { nonce: Some(n), .. } if n == nonce => return,
                ServerFrame::Error { .. } => break,
                _ => continue,
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{text:?} was never acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_cluster_connections_authenticate_with_the_current_access_token() {
    let cluster = RedisCluster::start(3, 0).await;
    for node in &cluster.nodes {
        RedisCluster::command::<()>(
            node.port,
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("requirepass")
                .arg("tok-1"),
        )
        .await
        .unwrap();
    }
    let metadata = FakeMetadata::start("tok-1").await;
    let seeds = cluster.seeds();
    let url = metadata.url();
    let env = [
        ("REDIS_CLUSTER_URLS", seeds.as_str()),
        ("REDIS_IAM_AUTH", "true"),
        ("REDIS_IAM_TOKEN_URL", url.as_str()),
    ];
    let (a, b) = (TestApp::spawn(None, &env), TestApp::spawn(None, &env));
    wait_ready(&a).await;
    wait_ready(&b).await;
    let (mut alice, _) = Client::join(&a.ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&b.ws_url("room", "bob")).await;
    alice.say_acked("with the first token").await;
    assert_eq!(bob.next_message().await.message, "with the first token");

    // The password rotates as IAM tokens do: the new one is accepted before the old one is
    // revoked. Both instances fetch the new token before it is revoked.
    on_every_node(
        &cluster,
        "tok-1",
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg(">tok-2"),
    )
    .await;
    metadata.rotate_to("tok-2");
    for _ in 0..100 {
        if metadata.times_served("tok-2") >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        metadata.times_served("tok-2") >= 2,
        "the token was not refreshed"
    );
    on_every_node(
        &cluster,
        "tok-2",
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg("<tok-1"),
    )
    .await;

    // Connections made with the revoked token stay authenticated.
    alice.say_acked("on connections made before").await;
    assert_eq!(
        bob.next_message().await.message,
        "on connections made before"
    );

    // Every connection the backends hold is cut: the new ones can only use the new token.
    on_every_node(
        &cluster,
        "tok-2",
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"),
    )
    .await;
    on_every_node(
        &cluster,
        "tok-2",
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .arg("SKIPME")
            .arg("yes"),
    )
    .await;
    say_until_acked(&mut alice, "on new connections").await;
    assert_eq!(bob.next_message().await.message, "on new connections");
    bob.expect_no_message(Duration::from_millis(300)).await;
}
