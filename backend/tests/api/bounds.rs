//! What one client can make a backend hold is bounded: measured from outside, as the
//! resident memory of a real backend process, while clients that read nothing do their worst.

use std::time::Duration;

use protocol::{ErrorCode, ServerFrame};

use crate::{helpers::*, on_every_engine};

on_every_engine!(
    a_long_replay_arrives_in_pages_in_order,
    history_trimmed_during_a_replay_closes_it_and_the_resume_says_so,
);

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

/// Fills `channel`'s history with `n` messages of `text`, sent a few at a time (the sender's
/// own copies must fit its outbound queue); returns their ids in order.
/// Fills a channel with `n` messages; returns their ids and the channel history's epoch.
async fn fill_history(url: &str, n: usize, text: &str) -> (Vec<String>, String) {
    const AT_ONCE: usize = 20;
    let (mut sender, welcome) = Client::join(url).await;
    let ServerFrame::Welcome {
        epoch: Some(epoch), ..
    } = welcome
    else {
        panic!("no epoch in {welcome:?}");
    };
    let mut ids = Vec::with_capacity(n);
    for chunk in 0..n.div_ceil(AT_ONCE) {
        let count = AT_ONCE.min(n - chunk * AT_ONCE);
        for _ in 0..count {
            sender.say(text).await;
        }
        while ids.len() < (chunk * AT_ONCE) + count {
            if let ServerFrame::Ack { id, .. } = sender.reply().await {
                ids.push(id.to_string());
            }
        }
    }
    sender.close().await;
    (ids, epoch.to_string())
}

const NO_RATE_LIMIT: [(&str, &str); 2] = [
    ("RATE_LIMIT_PER_SEC", "100000"),
    ("RATE_LIMIT_BURST", "100000"),
];

/// Eight clients resume from the start of a full history (1,000 messages of control
/// characters, six times their size once escaped) and read nothing: the replays, once
/// serialized whole and held until read, grew a backend by 230 MiB. Then one of them reads,
/// and gets the history and what was sent meanwhile, in order, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_to_clients_that_read_nothing_are_paged_not_held_whole() {
    let backend = BackendProcess::start(&NO_RATE_LIMIT).await;
    let text = "\u{1}".repeat(4096);
    let (mut ids, epoch) = fill_history(&backend.ws_url("room", "filler"), 1000, &text).await;
    let before = settled_rss_kib(backend.pid()).await;

    let resume = format!(
        "{}?since=0-0&epoch={epoch}",
        backend.ws_url("room", "resumer")
    );
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(Client::connect_with_small_buffer(&resume).await);
    }
    let (mut talker, _) = Client::join(&backend.ws_url("room", "talker")).await;
    for i in 0..3 {
        ids.push(talker.say_acked(&format!("live {i}")).await);
    }
    let grown_mib = settled_rss_kib(backend.pid()).await.saturating_sub(before) / 1024;
    assert!(grown_mib < 24, "the backend grew by {grown_mib} MiB");

    let reader = &mut idle[0];
    assert!(matches!(
        reader.next().await,
        ServerFrame::Welcome {
            recovered: true,
            ..
        }
    ));
    let received: Vec<String> = reader
        .messages(ids.len())
        .await
        .into_iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(
        received, ids,
        "the replay and live messages, in order, once each"
    );
    talker.say_acked("after").await;
    assert_eq!(reader.next_message().await.message, "after");
}

/// A client that leaves in the middle of its replay gets the close frame after what was
/// already on its way, not after the rest of the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_ends_with_its_session() {
    let d = Deployment::start(Engine::Embedded, &NO_RATE_LIMIT).await;
    let text = "\u{1}".repeat(4096);
    let (_, epoch) = fill_history(&d.a().ws_url("room", "filler"), 1000, &text).await;
    let resume = format!("{}?since=0-0&epoch={epoch}", d.a().ws_url("room", "leaver"));
    let mut leaver = Client::connect_with_small_buffer(&resume).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    leaver
        .send_raw(tokio_tungstenite::tungstenite::Message::Close(None))
        .await;
    let mut replayed = 0;
    loop {
        match leaver.next_raw().await {
            tokio_tungstenite::tungstenite::Message::Close(_) => break,
            tokio_tungstenite::tungstenite::Message::Text(text)
                if text.contains(r#""type":"message""#) =>
            {
                replayed += 1
            }
            _ => {}
        }
    }
    assert!(
        replayed < 500,
        "{replayed} messages were replayed after the client left"
    );
}

async fn a_long_replay_arrives_in_pages_in_order(engine: Engine) {
    let mut overrides = NO_RATE_LIMIT.to_vec();
    overrides.extend([("HISTORY_LIMIT", "150"), ("HISTORY_MAX", "300")]);
    let d = Deployment::start(engine, &overrides).await;
    let (ids, _) = fill_history(&d.a().ws_url("room", "filler"), 250, "hello").await;
    // Without since: the last HISTORY_LIMIT, oldest first, over several pages.
    let (mut joiner, _) = Client::join(&d.b().ws_url("room", "joiner")).await;
    let got: Vec<String> = joiner
        .messages(150)
        .await
        .into_iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(got, ids[100..]);
    // Resuming: everything after since.
    let url = format!("{}?since={}", d.b().ws_url("room", "resumer"), ids[9]);
    let (mut resumer, welcome) = Client::join(&url).await;
    assert!(matches!(
        welcome,
        ServerFrame::Welcome {
            recovered: true,
            ..
        }
    ));
    let got: Vec<String> = resumer
        .messages(240)
        .await
        .into_iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(got, ids[10..]);
    resumer.expect_no_message(Duration::from_millis(200)).await;
}

/// The history a client is being replayed is trimmed before the replay reaches it: the
/// client is closed (1013) rather than silently skipped ahead, and its resume says it missed
/// messages.
async fn history_trimmed_during_a_replay_closes_it_and_the_resume_says_so(engine: Engine) {
    let mut overrides = NO_RATE_LIMIT.to_vec();
    overrides.push(("HISTORY_MAX", "500"));
    let d = Deployment::start(engine, &overrides).await;
    // 500 messages of 24 KiB once escaped: more than the sockets' buffers can take at once.
    let text = format!("x{}", "\u{1}".repeat(4000));
    let (_, epoch) = fill_history(&d.a().ws_url("room", "filler"), 500, &text).await;
    let resume = format!(
        "{}?since=0-0&epoch={epoch}",
        d.b().ws_url("room", "resumer")
    );
    let mut resumer = Client::connect_with_small_buffer(&resume).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another client id: the filler's nonces would be taken for retries of its sends.
    fill_history(&d.a().ws_url("room", "trimmer"), 600, "newer").await;
    let (mut last, mut replayed) = (None, 0);
    let close = loop {
        match resumer.next_raw().await {
            tokio_tungstenite::tungstenite::Message::Close(close) => break close,
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                if let Ok(ServerFrame::Message(m)) = serde_json::from_str(&text) {
                    assert!(
                        m.message.starts_with('x'),
                        "skipped ahead to {} after {replayed}",
                        m.message
                    );
                    last = Some(m.id);
                    replayed += 1;
                }
            }
            _ => {}
        }
    };
    let close = close.expect("a close frame");
    assert_eq!(u16::from(close.code), 1013);
    assert!(close.reason.contains("missed"), "{}", close.reason);
    let last = last.expect("the first page was replayed");
    let url = format!("{}?since={last}", d.b().ws_url("room", "resumer"));
    let (_, welcome) = Client::join(&url).await;
    assert!(matches!(
        welcome,
        ServerFrame::Welcome {
            recovered: false,
            ..
        }
    ));
}
