//! One connection's task: open the socket, count it in its channel, wait for the send phase
//! while reading, send its planned messages on a ticker, and hand back what it saw.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use tokio::{
    sync::{Semaphore, watch},
    time::{Instant, MissedTickBehavior},
};
use tokio_tungstenite::tungstenite::{Message, protocol::WebSocketConfig};

use super::{
    plan::Spec,
    shared::{Phase, Shared, bump},
};
use crate::{
    body::Body,
    conn,
    stats::{OrderTracker, SeqSet},
    wire::Join,
};

/// What a connection task hands back.
pub(super) struct Outcome {
    pub(super) channel: usize,
    pub(super) joined: bool,
    pub(super) publisher: Option<u32>,
    pub(super) acked: SeqSet,
    pub(super) tracker: OrderTracker,
}

/// A connection's own record; only its task touches it, so nothing here is shared.
pub(super) struct Conn {
    pub(super) idx: usize,
    pub(super) spec: Spec,
    pub(super) shared: Arc<Shared>,
    pub(super) tracker: OrderTracker,
    pub(super) acked: SeqSet,
    /// Send time (ns since epoch) per sequence number, for ack latency.
    pub(super) sent_at: Vec<u64>,
    pub(super) next_seq: u32,
    /// Joined as a publisher and not yet counted in `publishers_done`.
    sending: bool,
}

/// Whether the connection goes on after a frame or a send.
pub(super) enum Step {
    Continue,
    /// Goes on once this frame is sent back (a protocol keepalive).
    Reply(&'static str),
    Closed,
}

impl Conn {
    pub(super) fn new(idx: usize, spec: Spec, shared: Arc<Shared>) -> Self {
        let sent_at = Vec::with_capacity(spec.publisher.map_or(0, |(_, n)| n as usize));
        let acked = SeqSet::with_capacity(spec.publisher.map_or(0, |(_, n)| n));
        Self {
            idx,
            spec,
            shared,
            tracker: OrderTracker::default(),
            acked,
            sent_at,
            next_seq: 0,
            sending: false,
        }
    }

    async fn send_next(&mut self, ws: &mut conn::Ws) -> Step {
        let Some((publisher, _)) = self.spec.publisher else {
            return Step::Continue;
        };
        let seq = self.next_seq;
        let sent_nanos = self.shared.nanos();
        let message = Body {
            run: self.shared.run,
            publisher,
            seq,
            sent_nanos,
        }
        .encode(self.shared.message_bytes);
        let Some(frame) = self.shared.wire.send(message, seq) else {
            return Step::Continue;
        };
        self.sent_at.push(sent_nanos);
        self.next_seq += 1;
        self.shared.sent.fetch_add(1, Relaxed);
        match ws.send(Message::text(frame)).await {
            Ok(()) => Step::Continue,
            Err(e) => {
                bump(&self.shared.disconnects, conn::ws_cause(&e));
                Step::Closed
            }
        }
    }

    /// Handles a server frame and sends the answer it asks for, if any.
    async fn answer(
        &mut self,
        ws: &mut conn::Ws,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Step {
        match self.handle(frame) {
            Step::Reply(text) => match ws.send(Message::text(text)).await {
                Ok(()) => Step::Continue,
                Err(e) => {
                    bump(&self.shared.disconnects, conn::ws_cause(&e));
                    Step::Closed
                }
            },
            step => step,
        }
    }

    /// This publisher sends no more (done, or its connection ended).
    fn finish_sending(&mut self) {
        if std::mem::take(&mut self.sending) {
            self.shared.publishers_done.fetch_add(1, Relaxed);
        }
    }

    fn outcome(mut self, joined: bool) -> Outcome {
        self.finish_sending();
        Outcome {
            channel: self.spec.channel,
            joined,
            publisher: self.spec.publisher.map(|(p, _)| p),
            acked: self.acked,
            tracker: self.tracker,
        }
    }
}

/// Where and how to open one connection.
pub(super) struct Dial {
    pub(super) addr: SocketAddr,
    pub(super) source: Option<IpAddr>,
    pub(super) url: String,
    pub(super) channel: String,
    pub(super) config: WebSocketConfig,
    pub(super) timeout: Duration,
}

/// The task of one connection, from dial to close.
pub(super) async fn connection(
    mut conn: Conn,
    dial: Dial,
    connect_slots: Arc<Semaphore>,
    mut phase: watch::Receiver<Phase>,
) -> Outcome {
    let opened = {
        let _slot = connect_slots.acquire_owned().await;
        let join = Join {
            channel: &dial.channel,
            client: &conn.spec.client,
        };
        let wire = conn.shared.wire;
        conn::open(
            dial.addr,
            dial.source,
            &dial.url,
            dial.config,
            dial.timeout,
            wire,
            join,
        )
        .await
    };
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(cause) => {
            conn.shared.failed.fetch_add(1, Relaxed);
            bump(&conn.shared.connect_failures, cause);
            return conn.outcome(false);
        }
    };
    if !conn.shared.join(conn.spec.channel) {
        conn.shared.failed.fetch_add(1, Relaxed);
        bump(&conn.shared.connect_failures, "ramp_timeout".into());
        let _ = ws.close(None).await;
        return conn.outcome(false);
    }
    conn.shared.opened.fetch_add(1, Relaxed);
    if conn.spec.publisher.is_some() {
        conn.sending = true;
        conn.shared.publishers_joined.fetch_add(1, Relaxed);
    }

    // Wait for the send phase, reading (and so answering pings, draining presence).
    let (start, stop_sending) = loop {
        let current = *phase.borrow_and_update();
        match current {
            Phase::Running {
                start,
                stop_sending,
            } => break (start, stop_sending),
            Phase::Stopping => return close(ws, conn).await,
            Phase::Connecting => {}
        }
        tokio::select! {
            changed = phase.changed() => if changed.is_err() { return close(ws, conn).await },
            frame = ws.next() => if let Step::Closed = conn.answer(&mut ws, frame).await { return conn.outcome(true) },
        }
    };

    let mut ticker = conn.spec.publisher.filter(|&(_, n)| n > 0).map(|(p, n)| {
        let period = stop_sending.saturating_duration_since(start) / n;
        let period = period.max(Duration::from_micros(10));
        // Spread publishers over the first period so they do not send in lockstep.
        let offset = period.mul_f64(fraction(p));
        let mut t = tokio::time::interval_at(start + offset, period);
        t.set_missed_tick_behavior(MissedTickBehavior::Burst);
        (t, n)
    });
    if ticker.is_none() {
        conn.finish_sending();
    }
    let stopping = wait_for_stop(phase);
    tokio::pin!(stopping);
    // Bound: a publisher that fell far behind stops anyway.
    let hard_stop = stop_sending + stop_sending.saturating_duration_since(start) / 2;
    loop {
        let sending = ticker.is_some();
        tokio::select! {
            _ = async {
                match ticker.as_mut() {
                    Some((t, _)) => { t.tick().await; }
                    None => std::future::pending::<()>().await,
                }
            }, if sending => {
                let planned = ticker.as_ref().map_or(0, |(_, n)| *n);
                if conn.next_seq >= planned || Instant::now() >= hard_stop {
                    ticker = None;
                    conn.finish_sending();
                    continue;
                }
                if let Step::Closed = conn.send_next(&mut ws).await {
                    return conn.outcome(true);
                }
                if conn.next_seq >= planned {
                    ticker = None;
                    conn.finish_sending();
                }
            }
            () = &mut stopping => return close(ws, conn).await,
            frame = ws.next() => if let Step::Closed = conn.answer(&mut ws, frame).await { return conn.outcome(true) },
        }
    }
}

/// Resolves when the run moves to [`Phase::Stopping`] (or the orchestrator is gone).
async fn wait_for_stop(mut phase: watch::Receiver<Phase>) {
    loop {
        if *phase.borrow_and_update() == Phase::Stopping || phase.changed().await.is_err() {
            return;
        }
    }
}

async fn close(mut ws: conn::Ws, conn: Conn) -> Outcome {
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    conn.outcome(true)
}

/// A well-spread fraction in [0, 1) for index `i` (golden ratio sequence).
fn fraction(i: u32) -> f64 {
    (f64::from(i) * 0.618_033_988_749_895).fract()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_spread() {
        let mut f: Vec<f64> = (0..10).map(fraction).collect();
        assert!(f.iter().all(|x| (0.0..1.0).contains(x)));
        f.sort_by(f64::total_cmp);
        assert!(f.windows(2).all(|w| w[1] - w[0] > 0.01));
    }
}
