//! Clients that chat like the browser page does — reconnect with `since`, resend unacked
//! messages with their nonce — and record what they saw, so fault tests can assert that
//! every acked message reached every client once, in one order.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use protocol::{Epoch, MessageId, ServerFrame};
use tokio::{sync::watch, time::Instant};
use tokio_tungstenite::tungstenite::Message;

/// What one client saw and did, shared with the test while it runs.
#[derive(Default)]
pub struct Record {
    /// Message ids in the order they arrived (only ids newer than the last one).
    received: Vec<MessageId>,
    seen: HashSet<MessageId>,
    /// Every received message's text (unique per send: it is also the nonce) and id, to
    /// catch a send stored twice under two ids.
    texts: HashMap<String, HashSet<MessageId>>,
    /// Ids of this client's own messages, from their acks.
    acked: Vec<MessageId>,
    /// Nonces sent and not acked yet.
    pending: usize,
    duplicated: usize,
    reordered: usize,
    reconnects: usize,
    /// Resumes whose `welcome` said messages were lost.
    unrecovered: usize,
    pub connected: bool,
}

/// One client: connects (through a proxy or to an instance), chats while `sending`, reconnects with `since`
/// whenever its connection ends, resends unacked messages with their nonce.
pub async fn chatter(
    base: String,
    record: Arc<Mutex<Record>>,
    sending: watch::Receiver<bool>,
    mut done: watch::Receiver<bool>,
) {
    let mut last: Option<MessageId> = None;
    // The epoch of the latest welcome, sent back with `since` as the page does.
    let mut epoch: Option<Epoch> = None;
    // nonce -> (text, when last sent)
    let mut pending: VecDeque<(String, Option<Instant>)> = VecDeque::new();
    let mut counter = 0u64;
    let mut first = true;
    while !*done.borrow() {
        if !first {
            record.lock().unwrap().reconnects += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        first = false;
        let url = match (last, &epoch) {
            (Some(id), Some(epoch)) => format!("{base}?since={id}&epoch={epoch}"),
            (Some(id), None) => format!("{base}?since={id}"),
            (None, _) => base.clone(),
        };
        let Ok(Ok((mut socket, _))) = tokio::time::timeout(
            Duration::from_secs(3),
            tokio_tungstenite::connect_async(url),
        )
        .await
        else {
            continue;
        };
        for entry in pending.iter_mut() {
            entry.1 = None; // resend everything unacked on the new connection
        }
        let mut welcomed = false;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        'connection: loop {
            tokio::select! {
                _ = done.changed() => return,
                _ = tick.tick(), if welcomed => {
                    let now = Instant::now();
                    if *sending.borrow() && counter.is_multiple_of(4) {
                        pending.push_back((format!("{base}#{counter}"), None));
                    }
                    counter += 1;
                    for (text, sent) in pending.iter_mut() {
                        if sent.is_none_or(|at| now.duration_since(at) > Duration::from_secs(1)) {
                            let frame = serde_json::json!({"type": "send", "message": text, "nonce": text});
                            if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                                break 'connection;
                            }
                            *sent = Some(now);
                        }
                    }
                    record.lock().unwrap().pending = pending.len();
                }
                frame = socket.next() => {
                    let Some(Ok(Message::Text(text))) = frame else {
                        match frame {
                            Some(Ok(_)) => continue,
                            _ => break 'connection,
                        }
                    };
                    let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else { continue };
                    let mut r = record.lock().unwrap();
                    match frame {
                        ServerFrame::Welcome { recovered, epoch: welcome_epoch, .. } => {
                            if last.is_some() && !recovered {
                                r.unrecovered += 1;
                            }
                            epoch = welcome_epoch;
                            welcomed = true;
                            r.connected = true;
                        }
                        ServerFrame::Message(m) => {
                            if r.seen.contains(&m.id) {
                                r.duplicated += 1;
                            } else if last.is_some_and(|l| m.id <= l) {
                                r.reordered += 1;
                                r.seen.insert(m.id);
                            } else {
                                r.seen.insert(m.id);
                                r.received.push(m.id);
                                last = Some(m.id);
                            }
                            r.texts.entry(m.message).or_default().insert(m.id);
                        }
                        ServerFrame::Ack { nonce: Some(nonce), id } => {
                            if let Some(i) = pending.iter().position(|(t, _)| *t == nonce) {
                                pending.remove(i);
                                r.acked.push(id);
                            }
                            r.pending = pending.len();
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// `None` once every message is acked and every client has every acked message of its
/// channel; otherwise what is still missing.
pub fn converged(records: &[(usize, Arc<Mutex<Record>>)]) -> Option<String> {
    let mut acked: HashMap<usize, HashSet<MessageId>> = HashMap::new();
    let mut pending = 0;
    for (channel, record) in records {
        let r = record.lock().unwrap();
        acked
            .entry(*channel)
            .or_default()
            .extend(r.acked.iter().copied());
        pending += r.pending;
    }
    let behind = records
        .iter()
        .filter(|(channel, record)| {
            let r = record.lock().unwrap();
            acked[channel].iter().any(|id| !r.seen.contains(id))
        })
        .count();
    (pending > 0 || behind > 0).then(|| format!("{pending} sends unacked, {behind} clients behind"))
}

pub fn report(records: &[(usize, Arc<Mutex<Record>>)]) -> String {
    let mut acked: HashMap<usize, HashSet<MessageId>> = HashMap::new();
    let mut members: HashMap<usize, usize> = HashMap::new();
    let (
        mut seen,
        mut lost,
        mut duplicated,
        mut reordered,
        mut reconnects,
        mut unrecovered,
        mut unacked,
    ) = (0, 0, 0, 0, 0, 0, 0);
    for (channel, record) in records {
        let r = record.lock().unwrap();
        acked
            .entry(*channel)
            .or_default()
            .extend(r.acked.iter().copied());
        *members.entry(*channel).or_default() += 1;
    }
    let mut orders: HashMap<usize, Vec<MessageId>> = HashMap::new();
    for (channel, record) in records {
        let r = record.lock().unwrap();
        let expected = &acked[channel];
        seen += r.received.iter().filter(|id| expected.contains(id)).count();
        lost += expected.iter().filter(|id| !r.seen.contains(id)).count();
        duplicated += r.duplicated;
        // A retried send stored twice would show up as one text under two ids.
        duplicated += r.texts.values().filter(|ids| ids.len() > 1).count();
        reordered += r.reordered;
        reconnects += r.reconnects;
        unrecovered += r.unrecovered;
        unacked += r.pending;
        // One order per channel: every client's sequence of acked ids is the same.
        let order: Vec<MessageId> = r
            .received
            .iter()
            .filter(|id| expected.contains(id))
            .copied()
            .collect();
        match orders.get(channel) {
            Some(reference) if *reference != order && order.len() == reference.len() => {
                reordered += 1
            }
            Some(_) => {}
            None => {
                orders.insert(*channel, order);
            }
        }
    }
    let messages: usize = acked.values().map(HashSet::len).sum();
    let expected: usize = acked.iter().map(|(c, ids)| ids.len() * members[c]).sum();
    format!(
        "chaos: clients={} channels={} messages_acked={messages} deliveries_expected={expected} deliveries_seen={seen} lost={lost} duplicated={duplicated} reordered={reordered} unacked={unacked} reconnects={reconnects} unrecovered_resumes={unrecovered}",
        records.len(),
        members.len(),
    )
}

pub async fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(())
}
