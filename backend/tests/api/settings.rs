//! A bad setting stops the real binary at start-up with a message naming the variable,
//! instead of a backend that runs with a limit silently switched off.

use std::{process::Stdio, time::Duration};

use tokio::io::AsyncReadExt;

/// Starts the backend binary with `name=value` and returns what it said before exiting;
/// panics if it is still running after a few seconds (it accepted the value).
async fn refusal(name: &str, value: &str) -> String {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"))
        .env("PORT", "0")
        .env("RUST_LOG", "error")
        .env(name, value)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("backend binary");
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .unwrap_or_else(|_| panic!("the backend started with {name}={value:?}"))
        .unwrap();
    assert!(!status.success(), "{name}={value:?}: {status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_numbers_stop_the_backend_naming_the_variable() {
    for (name, value) in [
        ("RATE_LIMIT_PER_SEC", "NaN"),
        ("RATE_LIMIT_PER_SEC", "inf"),
        ("RATE_LIMIT_BURST", "-inf"),
        ("MAX_CONNECTIONS", "inf"),
    ] {
        let stderr = refusal(name, value).await;
        assert!(
            stderr.contains(&format!(
                "{name} is invalid: {value:?} is not a finite number"
            )),
            "{name}={value:?}: {stderr}"
        );
    }
}
