//! One drain client: joins its channel on its first backend, sends its share of the channel's
//! messages while the run is sending, and when its connection ends (close 1012 or a dropped
//! socket) reconnects to the surviving backend with `since` and `epoch`, resending what was
//! not acked with the same nonce, as docs/PROTOCOL.md asks of every client.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use protocol::{ClientFrame, MessageId, ServerFrame};
use tokio::{
    net::TcpStream,
    sync::watch,
    time::{Instant, MissedTickBehavior},
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where the run is; every client follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Joined, waiting for the others.
    Joining,
    /// Sending, on a schedule that starts at this instant.
    Sending(Instant),
    /// No more sends; deliveries still arrive.
    Quiet,
    /// Close and report.
    Stop,
}

/// Counters the orchestrator polls while clients run.
#[derive(Debug, Default)]
pub struct Live {
    /// Clients that got their first `welcome`.
    pub joined: AtomicUsize,
    /// Clients whose connection ended and that have no new `welcome` yet.
    pub down: AtomicUsize,
}

/// Who one client is and what it sends.
#[derive(Debug, Clone)]
pub struct Plan {
    pub channel: String,
    pub client: String,
    /// URL of the backend of its first connection, and of the one it reconnects to.
    pub first_url: String,
    pub fallback_url: String,
    /// Its turn in the channel's schedule: it sends at `offset`, then every `every`.
    pub offset: Duration,
    pub every: Duration,
    /// Upper bound of the random wait before reconnecting.
    pub jitter: Duration,
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct Log {
    pub received: Vec<MessageId>,
    pub acked: Vec<MessageId>,
    /// Close frame (or socket end) to the next `welcome`, one per reconnect.
    pub gaps: Vec<Duration>,
    /// Reconnects whose `welcome` said `recovered: false`.
    pub not_recovered: u64,
    /// Reconnects that ended with a close code, by code (0: no close frame).
    pub close_codes: BTreeMap<u16, u64>,
    /// Sends the socket refused (its connection was ending); turns come back only while
    /// connected, so a client between connections simply misses its turns.
    pub skipped: u64,
    /// Why the client gave up, when it did.
    pub failed: Option<String>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

pub async fn run(plan: Plan, live: Arc<Live>, mut phase: watch::Receiver<Phase>) -> Log {
    let mut log = Log::default();
    let mut last: Option<MessageId> = None;
    let mut epoch: Option<String> = None;
    let mut pending: BTreeMap<u64, String> = BTreeMap::new();
    let mut next_nonce = 0u64;
    let mut lost_at: Option<Instant> = None;
    let mut url = plan.first_url.clone();
    loop {
        // A resuming client names the last message it has (`0-0`: none since its `welcome`).
        let since = lost_at.map(|_| (last.unwrap_or_default(), epoch.clone()));
        let mut ws = match connect_until_welcome(&plan, &url, since, &mut phase).await {
            Ok((ws, welcome)) => {
                if let Some(at) = lost_at.take() {
                    log.gaps.push(at.elapsed());
                    log.not_recovered += u64::from(!welcome.recovered);
                    live.down.fetch_sub(1, Ordering::Relaxed);
                } else {
                    live.joined.fetch_add(1, Ordering::Relaxed);
                }
                if welcome.epoch.is_some() {
                    epoch = welcome.epoch;
                }
                ws
            }
            Err(e) => {
                log.failed = Some(e);
                return log;
            }
        };
        for (nonce, text) in &pending {
            if ws.send(send_frame(text, *nonce)).await.is_err() {
                break;
            }
        }
        let mut ticks = schedule(&plan, *phase.borrow());
        let ended = loop {
            tokio::select! {
                changed = phase.changed() => {
                    let now = *phase.borrow_and_update();
                    if changed.is_err() || now == Phase::Stop {
                        let _ = ws.close(None).await;
                        return log;
                    }
                    ticks = schedule(&plan, now);
                }
                _ = tick(&mut ticks) => {
                    let text = format!("{}:{next_nonce}", plan.client);
                    if ws.send(send_frame(&text, next_nonce)).await.is_err() {
                        log.skipped += 1;
                    } else {
                        pending.insert(next_nonce, text);
                    }
                    next_nonce += 1;
                }
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str(text.as_str()) {
                        Ok(ServerFrame::Message(m)) => {
                            log.received.push(m.id);
                            last = Some(m.id);
                        }
                        Ok(ServerFrame::Ack { nonce, id }) => {
                            let nonce = nonce.and_then(|n| n.parse::<u64>().ok());
                            if nonce.and_then(|n| pending.remove(&n)).is_some() {
                                log.acked.push(id);
                            }
                        }
                        _ => {}
                    },
                    Some(Ok(Message::Close(close))) => {
                        break close.map_or(0, |c| u16::from(c.code));
                    }
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => break 0,
                },
            }
        };
        lost_at = Some(Instant::now());
        live.down.fetch_add(1, Ordering::Relaxed);
        *log.close_codes.entry(ended).or_default() += 1;
        url = plan.fallback_url.clone();
        tokio::time::sleep(jitter(&plan)).await;
    }
}

/// `welcome`'s fields a resuming client needs.
struct Welcome {
    recovered: bool,
    epoch: Option<String>,
}

/// Connects until a `welcome` arrives, retrying refused or failed attempts with a short backoff,
/// and giving up after [`GIVE_UP_AFTER`] or when the run stops.
async fn connect_until_welcome(
    plan: &Plan,
    base: &str,
    since: Option<(MessageId, Option<String>)>,
    phase: &mut watch::Receiver<Phase>,
) -> Result<(Socket, Welcome), String> {
    let mut url = format!("{base}/ws/{}/{}", plan.channel, plan.client);
    if let Some((id, epoch)) = since {
        url.push_str(&format!("?since={id}"));
        if let Some(epoch) = epoch {
            url.push_str(&format!("&epoch={epoch}"));
        }
    }
    let give_up = Instant::now() + GIVE_UP_AFTER;
    let mut last_error = String::new();
    while Instant::now() < give_up {
        if *phase.borrow() == Phase::Stop {
            break;
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, open(&url)).await {
            Ok(Ok(done)) => return Ok(done),
            Ok(Err(e)) => last_error = e,
            Err(_) => last_error = "timeout".into(),
        }
        tokio::time::sleep(Duration::from_millis(100) + jitter(plan)).await;
    }
    Err(format!("gave up connecting: {last_error}"))
}

async fn open(url: &str) -> Result<(Socket, Welcome), String> {
    let config = crate::conn::ws_config(4096);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| crate::conn::ws_cause(&e))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return match serde_json::from_str(text.as_str()) {
                    Ok(ServerFrame::Welcome {
                        recovered, epoch, ..
                    }) => Ok((
                        ws,
                        Welcome {
                            recovered,
                            epoch: epoch.map(|e| e.as_str().to_owned()),
                        },
                    )),
                    _ => Err("no_welcome".into()),
                };
            }
            Some(Ok(Message::Close(c))) => {
                return Err(format!("closed_{}", c.map_or(0, |c| u16::from(c.code))));
            }
            Some(Ok(_)) => {}
            None => return Err("closed_before_welcome".into()),
            Some(Err(e)) => return Err(crate::conn::ws_cause(&e)),
        }
    }
}

fn send_frame(text: &str, nonce: u64) -> Message {
    let frame = ClientFrame::Send {
        message: text.to_owned(),
        nonce: Some(nonce.to_string()),
    };
    Message::text(serde_json::to_string(&frame).unwrap_or_default())
}

/// The client's send ticks for `phase`: none unless sending.
fn schedule(plan: &Plan, phase: Phase) -> Option<tokio::time::Interval> {
    let Phase::Sending(start) = phase else {
        return None;
    };
    let mut first = start + plan.offset;
    let now = Instant::now();
    while first < now {
        first += plan.every;
    }
    let mut ticks = tokio::time::interval_at(first, plan.every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    Some(ticks)
}

async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// A pseudo-random wait in `0..plan.jitter`, from the clock (no RNG dependency needed for
/// spreading reconnects).
fn jitter(plan: &Plan) -> Duration {
    let max = plan.jitter.as_micros() as u64;
    if max == 0 {
        return Duration::ZERO;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mixed = nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ plan.client.len() as u64;
    Duration::from_micros(mixed % max)
}
