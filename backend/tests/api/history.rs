//! History on join and gap-free resume, across instances.

use std::collections::HashSet;

use protocol::ServerFrame;

use crate::{helpers::*, on_every_engine};

on_every_engine!(
    a_new_member_gets_the_last_messages_oldest_first,
    resuming_on_the_other_instance_gets_exactly_what_was_missed,
    resuming_from_before_the_trimmed_history_is_not_recovered,
    resuming_from_an_unknown_future_id_is_not_recovered,
    joining_during_traffic_leaves_no_gap_and_no_duplicate,
);

const SMALL_HISTORY: &[(&str, &str)] = &[("HISTORY_LIMIT", "5"), ("HISTORY_MAX", "10")];

fn recovered(welcome: &ServerFrame) -> bool {
    match welcome {
        ServerFrame::Welcome { recovered, .. } => *recovered,
        other => panic!("not a welcome: {other:?}"),
    }
}

async fn a_new_member_gets_the_last_messages_oldest_first(engine: Engine) {
    let d = Deployment::start(engine, SMALL_HISTORY).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    for i in 0..8 {
        alice.say_acked(&format!("m{i}")).await;
    }
    let (mut bob, welcome) = Client::join(&d.b().ws_url("room", "bob")).await;
    assert!(!recovered(&welcome));
    let replay = bob.messages(5).await;
    assert_eq!(texts(&replay), ["m3", "m4", "m5", "m6", "m7"]);
    // Then live messages, and nothing replayed twice.
    alice.say_acked("live").await;
    assert_eq!(bob.next_message().await.message, "live");
}

async fn resuming_on_the_other_instance_gets_exactly_what_was_missed(engine: Engine) {
    let d = Deployment::start(engine, SMALL_HISTORY).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.a().ws_url("room", "bob")).await;
    alice.say_acked("before").await;
    let last_seen = bob.next_message().await.id;
    bob.close().await;

    for i in 0..3 {
        alice.say_acked(&format!("missed {i}")).await;
    }
    let (mut bob, welcome) = Client::join(&format!(
        "{}?since={last_seen}",
        d.b().ws_url("room", "bob")
    ))
    .await;
    assert!(recovered(&welcome));
    let replay = bob.messages(3).await;
    assert_eq!(texts(&replay), ["missed 0", "missed 1", "missed 2"]);
    alice.say_acked("after").await;
    assert_eq!(bob.next_message().await.message, "after");
}

async fn resuming_from_before_the_trimmed_history_is_not_recovered(engine: Engine) {
    let d = Deployment::start(engine, SMALL_HISTORY).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let first = alice.say_acked("m0").await;
    for i in 1..15 {
        alice.say_acked(&format!("m{i}")).await;
    }
    let (mut bob, welcome) =
        Client::join(&format!("{}?since={first}", d.b().ws_url("room", "bob"))).await;
    assert!(!recovered(&welcome), "m1..m4 were trimmed away");
    assert_eq!(
        texts(&bob.messages(5).await),
        ["m10", "m11", "m12", "m13", "m14"]
    );

    // Resuming from the last trimmed message itself loses nothing: recovered.
    let (mut carol, _) = Client::join(&d.a().ws_url("room", "carol")).await;
    let kept = carol.messages(5).await;
    drop(carol);
    let oldest_kept_but_one = kept[0].id; // m10: everything after it is retained
    let (mut dave, welcome) = Client::join(&format!(
        "{}?since={oldest_kept_but_one}",
        d.b().ws_url("room", "dave")
    ))
    .await;
    assert!(recovered(&welcome));
    assert_eq!(texts(&dave.messages(4).await), ["m11", "m12", "m13", "m14"]);
}

async fn resuming_from_an_unknown_future_id_is_not_recovered(engine: Engine) {
    let d = Deployment::start(engine, SMALL_HISTORY).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    alice.say_acked("m0").await;
    let (_bob, welcome) = Client::join(&format!(
        "{}?since=99999999999999-0",
        d.b().ws_url("room", "bob")
    ))
    .await;
    assert!(
        !recovered(&welcome),
        "a since the channel never issued means its history was lost"
    );
    // A channel with no history at all cannot recover a since either.
    let (_carol, welcome) =
        Client::join(&format!("{}?since=1-0", d.b().ws_url("empty", "carol"))).await;
    assert!(!recovered(&welcome));
}

async fn joining_during_traffic_leaves_no_gap_and_no_duplicate(engine: Engine) {
    const TOTAL: usize = 150;
    let d = Deployment::start(engine, &[("HISTORY_LIMIT", "1000")]).await;
    let (mut witness, _) = Client::join(&d.a().ws_url("busy", "witness")).await;
    let (mut sender, _) = Client::join(&d.a().ws_url("busy", "sender")).await;
    let sending = tokio::spawn(async move {
        for i in 0..TOTAL {
            sender.say(&format!("m{i}")).await;
            if i % 10 == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
        sender
    });
    // Several members join on the other instance while messages flow.
    let mut joiners = Vec::new();
    for n in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        joiners.push(
            Client::join(&d.b().ws_url("busy", &format!("late-{n}")))
                .await
                .0,
        );
    }
    let _sender = sending.await.unwrap();
    let all = witness.messages(TOTAL).await;
    assert_eq!(texts(&all).len(), TOTAL);
    for mut joiner in joiners {
        // History covers everything before it joined (limit 1000), live the rest.
        let seen = joiner.messages(TOTAL).await;
        let unique: HashSet<_> = seen.iter().map(|m| m.id).collect();
        assert_eq!(unique.len(), TOTAL, "duplicates seen");
        assert_eq!(seen, all, "a joiner saw a different sequence");
    }
}
