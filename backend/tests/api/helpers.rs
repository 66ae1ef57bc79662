//! Test harness: private Redis servers, in-process backend instances, WebSocket clients.

use std::{
    collections::{HashMap, VecDeque},
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use backend::{config::Settings, startup::Application};
use futures_util::{SinkExt, StreamExt};
use protocol::{ChatMessage, ServerFrame};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, protocol::CloseFrame},
};

/// How long a test waits for anything that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A free port outside the kernel's ephemeral range, for a server that will be restarted on
/// the same port: an outgoing connection can never be holding it as its local port.
pub fn stable_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let span = low.saturating_sub(10_000).max(1);
    let seed = free_port();
    for i in 0..1000u32 {
        let port = 10_000 + ((u32::from(seed) * 7919 + i * 104_729) % u32::from(span)) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// A `redis-server` of the test's own, on a free port, stopped (by pid) when dropped.
pub struct RedisServer {
    pub port: u16,
    persistence: Option<std::path::PathBuf>,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        for _ in 0..5 {
            if let Some(server) = Self::try_start_on(stable_port(), None).await {
                return server;
            }
        }
        panic!("no redis-server could start");
    }

    pub async fn start_on(port: u16, persistence: Option<std::path::PathBuf>) -> Self {
        Self::try_start_on(port, persistence)
            .await
            .unwrap_or_else(|| panic!("redis-server on port {port} did not come up"))
    }

    /// Starts on `port`; with a directory, keeps an fsynced append-only file there so a
    /// restart on the same directory finds the data again. `None` if it exits at once (the
    /// port was taken meanwhile).
    async fn try_start_on(port: u16, persistence: Option<std::path::PathBuf>) -> Option<Self> {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--loglevel", "warning"]);
        match &persistence {
            Some(dir) => command
                .args(["--appendonly", "yes", "--appendfsync", "always"])
                .arg("--dir")
                .arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (see README)");
        let mut server = Self {
            port,
            persistence,
            child: Some(child),
        };
        server.wait_until_up().await.then_some(server)
    }

    /// A replica of `primary` of the test's own, once it has synced with it.
    pub async fn start_replica_of(primary: &RedisServer) -> Self {
        let replica = Self::start().await;
        let _: String = replica
            .command(redis::cmd("REPLICAOF").arg("127.0.0.1").arg(primary.port))
            .await;
        for _ in 0..200 {
            let info: String = replica.command(redis::cmd("INFO").arg("replication")).await;
            if info.contains("master_link_status:up") {
                return replica;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("replica on {} did not sync", replica.port);
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to this server's own process, by pid.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        send_signal(pid, signal);
    }

    /// Kills the server and starts a new one on the same port (and data directory).
    pub async fn restart(&mut self) {
        self.kill();
        *self = Self::start_on(self.port, self.persistence.take()).await;
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_until_up(&mut self) -> bool {
        for _ in 0..100 {
            let exited = self
                .child
                .as_mut()
                .is_none_or(|c| c.try_wait().ok().flatten().is_some());
            if exited {
                self.child = None;
                return false;
            }
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill();
        false
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn command<T: redis::FromRedisValue>(&self, cmd: &mut redis::Cmd) -> T {
        let client = redis::Client::open(self.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        cmd.query_async(&mut c).await.unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One backend instance running in-process on a free port.
pub struct TestApp {
    pub port: u16,
    /// Where `/metrics` is served (not on the public port).
    pub metrics_port: u16,
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn spawn(redis_url: Option<&str>, overrides: &[(&str, &str)]) -> Self {
        // Silent unless RUST_LOG asks for logs.
        let _ = env_logger::builder().is_test(true).try_init();
        let mut vars: HashMap<String, String> = HashMap::from([
            ("PORT".into(), "0".into()),
            ("WORKERS".into(), "1".into()),
            ("SHUTDOWN_GRACE_SECS".into(), "3".into()),
            ("REDIS_TIMEOUT_SECS".into(), "2".into()),
            ("SHUTDOWN_SPREAD_MS".into(), "200".into()),
            // Behaviour tests send in bursts; the limits tests set their own.
            ("RATE_LIMIT_PER_SEC".into(), "1000".into()),
            ("RATE_LIMIT_BURST".into(), "1000".into()),
        ]);
        if let Some(url) = redis_url {
            vars.insert("REDIS_URL".into(), url.into());
        }
        for (k, v) in overrides {
            vars.insert((*k).into(), (*v).into());
        }
        let settings = Settings::from_vars(vars).expect("test settings");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let metrics_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let app = Application::build_on(settings, listener, metrics_listener).expect("app builds");
        let port = app.port();
        let metrics_port = app.metrics_port();
        let (stop, stop_rx) = oneshot::channel();
        let stopped = tokio::spawn(app.run_until_stopped(async move {
            let _ = stop_rx.await;
        }));
        Self {
            port,
            metrics_port,
            stop: Some(stop),
            stopped: Some(stopped),
        }
    }

    pub fn ws_url(&self, channel: &str, client: &str) -> String {
        format!("ws://127.0.0.1:{}/ws/{channel}/{client}", self.port)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Begins graceful shutdown and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            tokio::time::timeout(Duration::from_secs(10), stopped)
                .await
                .expect("shutdown took longer than 10 s")
                .unwrap()
                .unwrap();
        }
    }

    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.begin_stop();
    }
}

/// A backend running as its own process (the built binary), for faults that need one:
/// signals, or dying without any cleanup.
pub struct BackendProcess {
    pub port: u16,
    child: tokio::process::Child,
}

impl BackendProcess {
    /// Starts on a free port. Another test may grab the port between our probe and the
    /// backend's bind; then the backend exits and we try another.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        for _ in 0..10 {
            if let Some(started) = Self::try_start_on(free_port(), env).await {
                return started;
            }
        }
        panic!("no backend process could start");
    }

    /// Starts on `port` (a restart on the port a previous process had).
    pub async fn start_on(port: u16, env: &[(&str, &str)]) -> Self {
        Self::try_start_on(port, env)
            .await
            .unwrap_or_else(|| panic!("backend process on port {port} did not become ready"))
    }

    /// `None` if the process exits before it is ready (port taken). Readiness is checked
    /// against this very process: its instance id, which carries a name given here, must be
    /// the one `/metrics` reports, not that of whoever else might answer on the port.
    async fn try_start_on(port: u16, env: &[(&str, &str)]) -> Option<Self> {
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "proc-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let metrics_port = free_port();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"))
            .env("PORT", port.to_string())
            .env("METRICS_PORT", metrics_port.to_string())
            .env("RUST_LOG", "error")
            .env("K_REVISION", &name)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("backend binary");
        let ours = format!("chat_instance_info{{instance_id=\"{name}-");
        for _ in 0..200 {
            if child.try_wait().ok().flatten().is_some() {
                return None;
            }
            let ready = matches!(
                http_get(&format!("http://127.0.0.1:{port}/readyz")).await,
                Ok((200, _))
            );
            if ready
                && let Ok((200, metrics)) =
                    http_get_text(&format!("http://127.0.0.1:{metrics_port}/metrics")).await
                && metrics.contains(&ours)
            {
                return Some(Self { port, child });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.start_kill();
        None
    }

    pub fn ws_url(&self, channel: &str, client: &str) -> String {
        format!("ws://127.0.0.1:{}/ws/{channel}/{client}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// SIGTERM: the graceful stop Cloud Run asks for.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGKILL: no cleanup of any kind.
    pub fn kill(&mut self) {
        let _ = self.child.start_kill();
    }

    pub async fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().await.expect("wait for backend")
    }
}

/// The deployment a behaviour test runs against.
pub struct Deployment {
    pub instances: Vec<TestApp>,
    pub redis: Option<RedisServer>,
    pub cluster: Option<crate::cluster_harness::RedisCluster>,
}

#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Embedded,
    Redis,
    /// Two instances on a three-primary Redis Cluster (sharded pub/sub).
    Cluster,
}

impl Deployment {
    /// Embedded: one instance. Redis: two instances on a private `redis-server`. Cluster: two
    /// instances on a private three-primary Redis Cluster.
    pub async fn start(engine: Engine, overrides: &[(&str, &str)]) -> Self {
        match engine {
            Engine::Embedded => Self {
                instances: vec![TestApp::spawn(None, overrides)],
                redis: None,
                cluster: None,
            },
            Engine::Cluster => {
                let cluster = crate::cluster_harness::RedisCluster::start(3, 0).await;
                let seeds = cluster.seeds();
                let with_cluster: Vec<(&str, &str)> = overrides
                    .iter()
                    .copied()
                    .chain([("REDIS_CLUSTER_URLS", seeds.as_str())])
                    .collect();
                Self {
                    instances: vec![
                        TestApp::spawn(None, &with_cluster),
                        TestApp::spawn(None, &with_cluster),
                    ],
                    redis: None,
                    cluster: Some(cluster),
                }
            }
            Engine::Redis => {
                let redis = RedisServer::start().await;
                let url = redis.url();
                Self {
                    instances: vec![
                        TestApp::spawn(Some(&url), overrides),
                        TestApp::spawn(Some(&url), overrides),
                    ],
                    redis: Some(redis),
                    cluster: None,
                }
            }
        }
    }

    /// The first instance.
    pub fn a(&self) -> &TestApp {
        &self.instances[0]
    }

    /// The second instance, or the only one on the embedded bus.
    pub fn b(&self) -> &TestApp {
        self.instances.last().unwrap()
    }
}

/// Generates one test per engine for a behaviour `async fn(Engine)`.
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$name($crate::helpers::Engine::Embedded).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() {
                    super::$name($crate::helpers::Engine::Redis).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn cluster() {
                    super::$name($crate::helpers::Engine::Cluster).await;
                }
            }
        )*
    };
}

/// A WebSocket client speaking protocol v1.
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    nonce: u64,
    /// Frames read while waiting for something else (an ack), handed out by `next` first.
    stash: VecDeque<ServerFrame>,
}

/// Why a connection attempt failed before the upgrade.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Client {
    pub async fn connect(url: &str) -> Self {
        Self::try_connect(url, &[])
            .await
            .unwrap_or_else(|r| panic!("connect to {url} refused: {r:?}"))
    }

    /// Connects and reads the `welcome`.
    pub async fn join(url: &str) -> (Self, ServerFrame) {
        let mut client = Self::connect(url).await;
        let welcome = client.next().await;
        assert!(
            matches!(welcome, ServerFrame::Welcome { .. }),
            "first frame must be welcome, got {welcome:?}"
        );
        (client, welcome)
    }

    pub async fn try_connect(url: &str, headers: &[(&str, &str)]) -> Result<Self, Refused> {
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        match tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request)).await {
            Err(_) => panic!("connecting to {url} timed out"),
            Ok(Ok((socket, _))) => Ok(Self {
                socket,
                nonce: 0,
                stash: VecDeque::new(),
            }),
            Ok(Err(tungstenite::Error::Http(response))) => Err(Refused {
                status: response.status().as_u16(),
                body: serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .unwrap_or(serde_json::Value::Null),
            }),
            Ok(Err(e)) => panic!("connecting to {url} failed: {e}"),
        }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.socket
            .send(Message::Text(text.into().into()))
            .await
            .unwrap();
    }

    /// Sends a message with a fresh nonce and returns the nonce.
    pub async fn say(&mut self, message: &str) -> String {
        self.nonce += 1;
        let nonce = format!("n-{}", self.nonce);
        let frame = serde_json::json!({"type": "send", "message": message, "nonce": nonce});
        self.send_text(frame.to_string()).await;
        nonce
    }

    /// The next protocol frame (skipping pings), or a panic after [`PATIENCE`].
    pub async fn next(&mut self) -> ServerFrame {
        match self.stash.pop_front() {
            Some(frame) => frame,
            None => self.read().await,
        }
    }

    /// The next frame that is not a presence event.
    pub async fn reply(&mut self) -> ServerFrame {
        loop {
            let frame = self.next().await;
            if !matches!(
                frame,
                ServerFrame::Presence { .. } | ServerFrame::Online { .. }
            ) {
                return frame;
            }
        }
    }

    async fn read(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("no frame in time")
                .expect("socket ended")
                .expect("socket error");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("unparseable frame {text}: {e}"));
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next `message` frame, skipping presence, acks and errors.
    pub async fn next_message(&mut self) -> ChatMessage {
        loop {
            if let ServerFrame::Message(m) = self.next().await {
                return m;
            }
        }
    }

    /// Collects `n` messages.
    pub async fn messages(&mut self, n: usize) -> Vec<ChatMessage> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            out.push(self.next_message().await);
        }
        out
    }

    /// Collects `n` messages' texts.
    pub async fn message_texts(&mut self, n: usize) -> Vec<String> {
        let messages = self.messages(n).await;
        messages.into_iter().map(|m| m.message).collect()
    }

    /// Sends a message and waits for its ack; returns the acked id.
    pub async fn say_acked(&mut self, message: &str) -> String {
        let nonce = self.say(message).await;
        loop {
            match self.read().await {
                ServerFrame::Ack { nonce: n, id } if n.as_deref() == Some(&nonce) => {
                    return id.to_string();
                }
                ServerFrame::Error { code, message, .. } => {
                    panic!("send refused: {code:?} {message}")
                }
                other => self.stash.push_back(other),
            }
        }
    }

    /// Waits for the server to close the connection; returns the close frame.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("connection not closed in time");
            match next {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Asserts nothing but pings/presence arrives for a short while.
    pub async fn expect_no_message(&mut self, wait: Duration) {
        let stashed = std::mem::take(&mut self.stash);
        for frame in stashed {
            assert!(
                !matches!(frame, ServerFrame::Message(_)),
                "unexpected message {frame:?}"
            );
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: ServerFrame = serde_json::from_str(&text).unwrap();
                    assert!(
                        !matches!(frame, ServerFrame::Message(_)),
                        "unexpected message {text}"
                    );
                }
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("connection ended: {other:?}"),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        // Drain until the server's close arrives, so its cleanup has started.
        let _ = tokio::time::timeout(PATIENCE, async {
            while let Some(Ok(_)) = self.socket.next().await {}
        })
        .await;
    }

    /// Connects with a small receive buffer, for a client that reads slowly (or never).
    pub async fn connect_with_small_buffer(url: &str) -> Self {
        let request = url.into_client_request().unwrap();
        let host = request.uri().authority().unwrap().as_str().to_owned();
        let address = tokio::net::lookup_host(host).await.unwrap().next().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(address).await.unwrap();
        let (socket, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
        Self {
            socket,
            nonce: 0,
            stash: VecDeque::new(),
        }
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.unwrap();
    }

    /// The client side's local port, to find the connection in the kernel's tables.
    pub fn local_port(&self) -> u16 {
        match self.socket.get_ref() {
            MaybeTlsStream::Plain(stream) => stream.local_addr().unwrap().port(),
            _ => panic!("not a plain TCP connection"),
        }
    }

    /// The next WebSocket message of any kind, pings and pongs included.
    pub async fn next_raw(&mut self) -> Message {
        tokio::time::timeout(PATIENCE, self.socket.next())
            .await
            .expect("no frame in time")
            .expect("socket ended")
            .expect("socket error")
    }
}

/// Sends `signal` (`STOP`, `CONT`, `TERM`, …) to one process, by its pid.
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// A plain HTTP GET over a fresh connection: status and body (JSON when it parses).
pub async fn http_get(url: &str) -> std::io::Result<(u16, serde_json::Value)> {
    let (status, body) = http_get_text(url).await?;
    Ok((
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    ))
}

/// The value of one Prometheus series (exact name with labels) at `/metrics` on
/// `metrics_port`.
pub async fn metric(metrics_port: u16, series: &str) -> f64 {
    let (status, text) = http_get_text(&format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
        .parse()
        .unwrap()
}

/// A plain HTTP GET over a fresh connection: status and body text.
pub async fn http_get_text(url: &str) -> std::io::Result<(u16, String)> {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("HTTP response timed out"))??;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text}")))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_owned()))
}

/// The texts of `messages`, in order.
pub fn texts(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.message.as_str()).collect()
}
