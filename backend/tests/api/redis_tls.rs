//! `rediss://` with a private CA and AUTH, as Memorystore with in-transit encryption needs:
//! against a real `redis-server --tls-port`, with certificates made for the test.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::helpers::*;

const PASSWORD: &str = "s3cret-pass";

struct TlsRedis {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, a server certificate for 127.0.0.1 signed by it, and a TLS-only redis-server.
async fn start_tls_redis() -> TlsRedis {
    let dir = std::env::temp_dir().join(format!("chat-tls-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "1",
                "-subj",
                "/CN=chat test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args([
            "--tls-cert-file",
            "server.crt",
            "--tls-key-file",
            "server.key",
        ])
        .args(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no"])
        .args([
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server");
    // Wait for the TLS port to accept connections.
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    TlsRedis { port, dir, child }
}

async fn ready_within(app: &TestApp, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if matches!(http_get(&app.http_url("/readyz")).await, Ok((200, _))) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_works_over_rediss_with_a_private_ca_and_auth() {
    let redis = start_tls_redis().await;
    let url = format!("rediss://:{PASSWORD}@127.0.0.1:{}", redis.port);
    let ca = redis.dir.join("ca.crt");
    let ca = ca.to_str().unwrap();
    let a = TestApp::spawn(Some(&url), &[("REDIS_CA_CERT", ca)]);
    let b = TestApp::spawn(Some(&url), &[("REDIS_CA_CERT", ca)]);
    assert!(ready_within(&a, Duration::from_secs(5)).await);
    let (mut alice, _) = Client::join(&a.ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&b.ws_url("room", "bob")).await;
    alice.say_acked("over TLS").await;
    assert_eq!(bob.next_message().await.message, "over TLS");

    // Without the CA the server's certificate is not trusted; with a wrong password AUTH
    // fails: either way the instance never becomes ready.
    let untrusting = TestApp::spawn(Some(&url), &[]);
    let wrong_password = format!("rediss://:nope@127.0.0.1:{}", redis.port);
    let unauthenticated = TestApp::spawn(Some(&wrong_password), &[("REDIS_CA_CERT", ca)]);
    assert!(!ready_within(&untrusting, Duration::from_secs(1)).await);
    assert!(!ready_within(&unauthenticated, Duration::from_secs(1)).await);
}
