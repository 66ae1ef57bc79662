//! The built binary's log lines: with `LOG_FORMAT=json` each is one Cloud Logging object.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

/// The frontend process; killed and reaped when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn json_log_lines_parse_with_severity_and_message() {
    let mut frontend = Running(
        Command::new(env!("CARGO_BIN_EXE_frontend"))
            .env("PORT", "0")
            .env("BACKEND_URL", "wss://backend.example.test")
            .env("LOG_FORMAT", "json")
            .env("K_REVISION", "chat-frontend-00001-abc")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start the frontend binary"),
    );
    let stderr = frontend.0.stderr.take().expect("stderr is piped");
    // Read on a thread so a binary that never logs fails the test instead of hanging it.
    let (sender, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });

    // Every line is one JSON object with a severity and a message (actix logs its workers
    // first); the startup line also carries the structured fields.
    let deadline = Instant::now() + Duration::from_secs(20);
    let listening = loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("no \"Frontend listening.\" line within 20 s");
        let entry: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line:?}"));
        assert!(entry["severity"].is_string(), "{line}");
        assert!(entry["message"].is_string(), "{line}");
        assert!(
            entry["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        if entry["message"] == "Frontend listening." {
            break entry;
        }
    };
    assert_eq!(listening["severity"], "INFO");
    assert!(listening["port"].as_u64().is_some_and(|port| port > 0));
    assert_eq!(listening["backend"], "wss://backend.example.test");
    assert!(
        listening["instance"]
            .as_str()
            .is_some_and(|i| i.starts_with("chat-frontend-00001-abc-"))
    );
}
