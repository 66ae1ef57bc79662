//! Display names: from the `name` query parameter through live delivery, history (on join
//! and paged) and presence, across instances; and the names refused at the handshake.

use protocol::{ChatMessage, DisplayName, ServerFrame};

use crate::{handshake::refused_by_close, helpers::*, on_every_engine, paging::page_before};

on_every_engine!(names_reach_members_live_in_history_and_in_presence);

const NAMES: [&str; 4] = ["José", "Zoë Smith", "李雷", "O'Brien"];

/// `raw` as a query parameter value: every byte outside the unreserved set percent-encoded.
pub fn query_value(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn named_url(app: &TestApp, channel: &str, client: &str, name: &str) -> String {
    format!("{}?name={}", app.ws_url(channel, client), query_value(name))
}

fn name_of(message: &ChatMessage) -> Option<&str> {
    message.name.as_ref().map(DisplayName::as_str)
}

async fn names_reach_members_live_in_history_and_in_presence(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    let mut speakers = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let (speaker, _) = Client::join(&named_url(d.a(), "room", &format!("p{i}"), name)).await;
        speakers.push(speaker);
    }
    // Bob hears each join with its name (in whatever batches presence comes).
    let mut joined = Vec::new();
    while joined.len() < NAMES.len() {
        if let ServerFrame::Presence {
            name: Some(name), ..
        } = bob.next().await
        {
            joined.push(name.into_string());
        }
    }
    joined.sort();
    let mut expected: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(joined, expected);

    for (speaker, name) in speakers.iter_mut().zip(NAMES) {
        speaker.say_acked(&format!("hello from {name}")).await;
    }
    let live = bob.messages(NAMES.len()).await;
    for (message, name) in live.iter().zip(NAMES) {
        assert_eq!(message.message, format!("hello from {name}"));
        assert_eq!(name_of(message), Some(name));
    }
    bob.say_acked("nameless").await;

    // A later member: names in its welcome, in the replay and in a page of history.
    let (mut carol, welcome) = Client::join(&d.b().ws_url("room", "carol")).await;
    let ServerFrame::Welcome { names, .. } = welcome else {
        unreachable!()
    };
    let mut listed: Vec<String> = names.into_values().map(DisplayName::into_string).collect();
    listed.sort();
    assert_eq!(listed, expected, "bob and carol have no name");
    let replay = carol.messages(NAMES.len() + 1).await;
    let replayed: Vec<Option<&str>> = replay.iter().map(name_of).collect();
    let page = page_before(&mut carol, "99999999999999-0", 10).await;
    let paged: Vec<Option<&str>> = page.0.iter().map(name_of).collect();
    let mut want: Vec<Option<&str>> = NAMES.iter().copied().map(Some).collect();
    want.push(None);
    assert_eq!(replayed, want);
    assert_eq!(paged, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_names_are_refused_with_400_or_4400() {
    let d = Deployment::start(
        Engine::Embedded,
        &[("ALLOWED_ORIGINS", "https://chat.example")],
    )
    .await;
    let too_long = "é".repeat(65);
    for bad in [
        "",
        "   ",
        "a\nb",
        "\u{7}",
        "\u{200B}\u{200D}",
        too_long.as_str(),
    ] {
        let url = named_url(d.a(), "room", "alice", bad);
        let refused = match Client::try_connect(&url, &[]).await {
            Err(refused) => refused,
            Ok(_) => panic!("{bad:?} was accepted"),
        };
        assert_eq!(refused.status, 400, "{bad:?}");
        assert_eq!(refused.body["error"], "invalid_name", "{bad:?}");
        let (code, reason) = refused_by_close(&url, &[("Origin", "https://chat.example")]).await;
        assert_eq!(code, 4400, "{bad:?}");
        assert!(reason.starts_with("name "), "{bad:?}: {reason}");
    }
    // Trimmed and normalised, not refused.
    let url = named_url(d.a(), "room", "alice", " Jose\u{301} ");
    let (mut alice, _) = Client::join(&url).await;
    alice.say_acked("hi").await;
    assert_eq!(alice.next_message().await.name.unwrap().as_str(), "José");
}

on_every_engine!(with_tokens_the_name_is_the_tokens);

/// With tokens required, a connection is called what its token says, whatever its URL claims.
async fn with_tokens_the_name_is_the_tokens(engine: Engine) {
    const SECRET: &str = "names-secret-that-is-long-enough-0123456789";
    let d = Deployment::start(engine, &[("AUTH_JWT_SECRET", SECRET)]).await;
    let authority = backend::auth::TokenAuthority::new(SECRET.as_bytes());
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = |sub: &str, name: Option<&str>| {
        authority.issue(&backend::auth::Claims {
            sub: sub.into(),
            exp,
            nbf: None,
            channels: None,
            name: name.map(str::to_owned),
        })
    };
    let url = format!(
        "{}&token={}",
        named_url(d.a(), "room", "ana", "Impostor"),
        token("ana", Some("Ana María"))
    );
    let (mut ana, _) = Client::join(&url).await;
    let bob_url = format!(
        "{}?token={}",
        d.b().ws_url("room", "bob"),
        token("bob", None)
    );
    let (mut bob, _) = Client::join(&bob_url).await;
    ana.say_acked("hola").await;
    let heard = bob.next_message().await;
    assert_eq!(name_of(&heard), Some("Ana María"));
    // A token without a name means no name, not the URL's.
    let nameless = format!(
        "{}&token={}",
        named_url(d.a(), "room", "cy", "Impostor"),
        token("cy", None)
    );
    let (mut cy, _) = Client::join(&nameless).await;
    cy.say_acked("hi").await;
    let heard = bob.next_message().await;
    assert_eq!(heard.client_id.as_str(), "cy");
    assert_eq!(name_of(&heard), None);
}
