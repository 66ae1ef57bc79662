//! Paging back through a channel's history with `history` frames, on every engine.

use protocol::{ChatMessage, ServerFrame};

use crate::{helpers::*, on_every_engine};

on_every_engine!(
    paging_back_returns_every_message_once_in_order,
    paging_stops_where_the_kept_history_begins,
);

const FAST_SENDS: [(&str, &str); 2] = [
    ("RATE_LIMIT_PER_SEC", "100000"),
    ("RATE_LIMIT_BURST", "100000"),
];

/// Asks for the page before `before` and returns it, skipping any other frame meanwhile.
pub async fn page_before(
    client: &mut Client,
    before: &str,
    limit: usize,
) -> (Vec<ChatMessage>, bool) {
    let nonce = format!("page-{before}");
    let frame =
        serde_json::json!({"type": "history", "before": before, "limit": limit, "nonce": nonce});
    client.send_text(frame.to_string()).await;
    loop {
        match client.next().await {
            ServerFrame::History {
                messages,
                more,
                nonce: Some(n),
            } if n == nonce => return (messages, more),
            ServerFrame::Error {
                nonce: Some(n),
                code,
                message,
            } if n == nonce => {
                panic!("history refused: {code:?} {message}")
            }
            _ => {}
        }
    }
}

/// Every message kept, oldest first, paged back `limit` at a time from the newest.
async fn page_all(client: &mut Client, limit: usize) -> Vec<ChatMessage> {
    let mut before = "99999999999999-0".to_owned();
    let mut pages = Vec::new();
    loop {
        let (page, more) = page_before(client, &before, limit).await;
        assert!(page.len() <= limit);
        if more {
            assert_eq!(
                page.len(),
                limit,
                "a page short of the limit while more is kept"
            );
        }
        let Some(first) = page.first() else {
            assert!(!more);
            break;
        };
        before = first.id.to_string();
        pages.push(page);
        if !more {
            break;
        }
    }
    pages.into_iter().rev().flatten().collect()
}

async fn send_numbered(client: &mut Client, n: usize) {
    for i in 0..n {
        client.say_acked(&format!("m{i}")).await;
    }
}

async fn paging_back_returns_every_message_once_in_order(engine: Engine) {
    let d = Deployment::start(engine, &FAST_SENDS).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    send_numbered(&mut alice, 320).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    let all = page_all(&mut bob, 50).await;
    let texts: Vec<String> = all.iter().map(|m| m.message.clone()).collect();
    let expected: Vec<String> = (0..320).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    // Before the oldest there is nothing, and `more` says so.
    let (older, more) = page_before(&mut bob, &all[0].id.to_string(), 50).await;
    assert!(older.is_empty() && !more);
    // An id that is no message's: the newest messages older than it.
    let between = format!("{}-{}", all[100].id.millis, all[100].id.seq + 1);
    let (page, _) = page_before(&mut bob, &between, 2).await;
    let texts: Vec<&str> = page.iter().map(|m| m.message.as_str()).collect();
    if all[101].id.to_string() != between {
        assert_eq!(texts, ["m99", "m100"]);
    }
}

async fn paging_stops_where_the_kept_history_begins(engine: Engine) {
    let overrides = [
        FAST_SENDS[0],
        FAST_SENDS[1],
        ("HISTORY_LIMIT", "10"),
        ("HISTORY_MAX", "100"),
    ];
    let d = Deployment::start(engine, &overrides).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    send_numbered(&mut alice, 130).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    let all = page_all(&mut bob, 30).await;
    let texts: Vec<String> = all.iter().map(|m| m.message.clone()).collect();
    let expected: Vec<String> = (30..130).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected);
    // The limit is bounded: 101 is refused, nothing is read.
    let frame =
        serde_json::json!({"type": "history", "before": "1-0", "limit": 101, "nonce": "big"});
    bob.send_text(frame.to_string()).await;
    loop {
        if let ServerFrame::Error { code, nonce, .. } = bob.next().await {
            assert_eq!(
                (code, nonce.as_deref()),
                (protocol::ErrorCode::BadFrame, Some("big"))
            );
            break;
        }
    }
}
