//! What one client can make a backend hold is bounded: measured from outside, as the
//! resident memory of a real backend process, while clients that read nothing do their worst.

use std::time::Duration;

use protocol::{ErrorCode, ServerFrame};

use crate::helpers::*;

/// The resident set of process `pid`, in KiB, as the kernel reports it.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in the process status")
}

/// Waits until the backend has taken in what it was sent: its memory stops growing.
async fn settled_rss_kib(pid: u32) -> u64 {
    let mut last = rss_kib(pid);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = rss_kib(pid);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// 600 frames whose unknown `type` is escaped to several times its size when quoted back:
/// unanswered, the replies once grew one connection by about 150 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_replies_to_a_client_that_reads_nothing_stay_small() {
    let backend = BackendProcess::start(&[]).await;
    let url = backend.ws_url("room", "flooder");
    // A soft hyphen is two bytes in UTF-8 and `\u{ad}` (seven bytes in JSON) when quoted.
    let kind = "\u{ad}".repeat(30_000);
    let frame = format!(r#"{{"type":"{kind}"}}"#);
    let (warm, _) = Client::join(&url).await;
    warm.close().await;
    let before = settled_rss_kib(backend.pid()).await;

    let mut flooder = Client::connect_with_small_buffer(&url).await;
    for _ in 0..600 {
        flooder.send_text(frame.clone()).await;
    }
    let grown_mib = settled_rss_kib(backend.pid()).await.saturating_sub(before) / 1024;
    assert!(grown_mib < 16, "the backend grew by {grown_mib} MiB");

    // Every frame was answered, each with a short quote of what was sent.
    let mut answered = 0;
    while answered < 600 {
        match flooder.next().await {
            ServerFrame::Error { code, message, .. } => {
                assert_eq!(code, ErrorCode::BadFrame);
                assert!(message.len() < 600, "a {} byte reply", message.len());
                answered += 1;
            }
            ServerFrame::Welcome { .. } | ServerFrame::Presence { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
