//! Runs a tiny fanout through the library against a real backend binary (embedded bus, no
//! Redis), and the `loadgen` binary itself against that backend and against a closed port.
#![allow(clippy::unwrap_used)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use loadgen::{Config, Scenario};

/// The `backend` binary of the same build profile as this test's `loadgen`.
fn backend_binary() -> PathBuf {
    let loadgen = PathBuf::from(env!("CARGO_BIN_EXE_loadgen"));
    let dir = loadgen.parent().unwrap();
    let backend = dir.join(format!("backend{}", std::env::consts::EXE_SUFFIX));
    assert!(
        backend.is_file(),
        "{} is missing: build it first with `cargo build -p backend` (same profile as this test; \
         add --release if you run the tests with --release)",
        backend.display()
    );
    backend
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A backend process, killed (by pid) when dropped.
struct Backend {
    child: Child,
    port: u16,
}

impl Backend {
    /// Starts a backend on a free port, on another one if that port was taken in between
    /// (a port from `bind(0)` can become some outgoing connection's local port meanwhile).
    fn start() -> Self {
        for _ in 0..5 {
            if let Some(backend) = Self::try_start(free_port()) {
                return backend;
            }
        }
        panic!("no backend could start");
    }

    /// `None` if it exits before it is ready (its port was taken).
    fn try_start(port: u16) -> Option<Self> {
        let child = Command::new(backend_binary())
            .env_clear()
            .env("PORT", port.to_string())
            // Nobody scrapes it here; a fixed port would collide between tests.
            .env("METRICS_PORT", "0")
            .env("RATE_LIMIT_PER_SEC", "1000")
            .env("RATE_LIMIT_BURST", "1000")
            // Every connection comes from the loopback.
            .env("MAX_CONNECTIONS_PER_ADDRESS", "1000000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut backend = Backend { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !backend.ready() {
            if backend.child.try_wait().unwrap().is_some() {
                return None;
            }
            assert!(Instant::now() < deadline, "backend not ready within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(backend)
    }

    fn ready(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if s.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200")
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_fanout_loses_nothing() {
    let backend = Backend::start();
    let scenario = Scenario::Fanout {
        subscribers: 20,
        publishers: 2,
        rate: 50.0,
        duration: Duration::from_secs(1),
    };
    let mut config = Config::new(scenario, vec![backend.url()]);
    config.settle = Duration::from_millis(200);
    config.drain = Duration::from_secs(5);
    config.progress = false;
    config.watch = vec![("backend".into(), backend.child.id())];
    let report = loadgen::run(config).await.unwrap();
    let summary = report.human();

    assert_eq!(report.connections_held, 22, "{summary}");
    assert_eq!(report.connections_failed, 0, "{summary}");
    assert_eq!(report.messages_planned, 50, "{summary}");
    assert_eq!(report.messages_sent, 50, "{summary}");
    assert_eq!(report.messages_acked, 50, "{summary}");
    assert_eq!(report.deliveries_expected, 50 * 22, "{summary}");
    assert_eq!(report.deliveries_seen, 50 * 22, "{summary}");
    assert_eq!((report.lost, report.duplicated), (0, 0), "{summary}");
    assert_eq!(
        (report.reordered, report.id_order_violations),
        (0, 0),
        "{summary}"
    );
    assert_eq!(report.latency.count, 50 * 22, "{summary}");
    assert!(report.latency.p50_ms > 0.0, "{summary}");
    assert!(report.latency.max_ms < 5_000.0, "{summary}");
    assert!(report.send_errors.is_empty(), "{summary}");
    assert!(report.failure().is_none(), "{summary}");
    let watched = &report.processes[0];
    assert!(watched.rss_held_kib.unwrap() > 0, "{summary}");
    assert!(watched.cpu_s.is_some(), "{summary}");
}

#[test]
fn binary_reports_json_and_exit_status() {
    let backend = Backend::start();
    let plot = std::env::temp_dir().join(format!("loadgen-test-{}.svg", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["idle", "--url", &backend.url(), "-n", "30", "-m", "3"])
        .args(["--hold", "0.5", "--settle", "0", "--no-progress", "--plot"])
        .arg(&plot)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["connections_held"], 30, "{stderr}");
    assert!(stderr.contains("OK"), "{stderr}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg"), "{svg:.100}");
    let _ = std::fs::remove_file(&plot);

    // Nothing listens on a fresh free port: every connection is refused, and the run fails.
    let closed = format!("ws://127.0.0.1:{}", free_port());
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "idle",
            "--url",
            &closed,
            "-n",
            "5",
            "--hold",
            "0.1",
            "--no-progress",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused 5"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["connect_failures"]["refused"], 5);
}
