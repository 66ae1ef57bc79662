//! The orchestrator: plans connections for a scenario, opens them, runs the bounded send
//! phase, waits for deliveries to drain, and gathers everything into a [`Report`].

use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write as _},
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use protocol::{ChannelId, ClientFrame, ClientId, MessageId, ServerFrame};
use serde::Deserialize;
use tokio::{
    sync::{Semaphore, watch},
    task::JoinSet,
    time::{Instant, MissedTickBehavior},
};
use tokio_tungstenite::tungstenite::{Message, protocol::WebSocketConfig};

use crate::{
    addrs::{self, Target},
    body::Body,
    conn,
    procstat::{self, ProcSample},
    report::{Machine, Report, SeriesPoint, Watched},
    stats::{Latency, LatencySummary, OrderTracker, Seen, SeqSet},
};

/// What to run. Every scenario is bounded in connections, messages and time.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// Hold `connections` spread over `channels` for `hold`; nobody sends.
    Idle {
        connections: usize,
        channels: usize,
        hold: Duration,
    },
    /// One channel: `subscribers` listen, `publishers` (also members) send `rate` msg/s in
    /// total for `duration`.
    Fanout {
        subscribers: usize,
        publishers: usize,
        rate: f64,
        duration: Duration,
    },
    /// `connections` over `channels`; every client sends `rate_per_client` msg/s for
    /// `duration`.
    Rooms {
        connections: usize,
        channels: usize,
        rate_per_client: f64,
        duration: Duration,
    },
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Idle { .. } => "idle",
            Scenario::Fanout { .. } => "fanout",
            Scenario::Rooms { .. } => "rooms",
        }
    }

    pub fn connections(&self) -> usize {
        match *self {
            Scenario::Idle { connections, .. } | Scenario::Rooms { connections, .. } => connections,
            Scenario::Fanout {
                subscribers,
                publishers,
                ..
            } => subscribers + publishers,
        }
    }

    fn duration(&self) -> Duration {
        match *self {
            Scenario::Idle { hold, .. } => hold,
            Scenario::Fanout { duration, .. } | Scenario::Rooms { duration, .. } => duration,
        }
    }
}

/// Everything a run needs; [`Config::new`] fills in sensible defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: Scenario,
    /// Backend URLs (`ws://host:port`); connection `i` goes to `urls[i % urls.len()]`.
    pub urls: Vec<String>,
    /// Local addresses to connect from, round-robin; `None`: automatic (see
    /// [`addrs::auto_sources`]); an empty list: let the kernel pick.
    pub sources: Option<Vec<IpAddr>>,
    /// Limit for one connection: TCP connect, upgrade and `welcome`.
    pub connect_timeout: Duration,
    /// Connections being opened at once.
    pub connect_concurrency: usize,
    /// New connections per second (0: as fast as `connect_concurrency` allows).
    pub connect_rate: f64,
    /// Limit for opening all connections; later ones count as failed (`ramp_timeout`).
    pub ramp_timeout: Duration,
    /// Pause between the last connection and the first send (joins and presence settle).
    pub settle: Duration,
    /// Longest wait after the last send for acks and deliveries.
    pub drain: Duration,
    /// Pad message bodies to this many bytes.
    pub message_bytes: usize,
    /// WebSocket read buffer per connection, bytes.
    pub read_buffer: usize,
    /// Channel names are `<prefix>-<n>`; by default unique per run, so history is empty.
    pub channel_prefix: Option<String>,
    /// Local processes to measure (RSS, CPU): label and pid.
    pub watch: Vec<(String, u32)>,
    /// Live progress line on stderr (only shown when stderr is a terminal).
    pub progress: bool,
}

impl Config {
    pub fn new(scenario: Scenario, urls: Vec<String>) -> Self {
        Self {
            scenario,
            urls,
            sources: None,
            connect_timeout: Duration::from_secs(10),
            connect_concurrency: 200,
            connect_rate: 0.0,
            ramp_timeout: Duration::from_secs(300),
            settle: Duration::from_secs(2),
            drain: Duration::from_secs(10),
            message_bytes: 0,
            read_buffer: 4096,
            channel_prefix: None,
            watch: Vec::new(),
            progress: true,
        }
    }
}

/// One connection of the plan.
#[derive(Debug, Clone)]
struct Spec {
    channel: usize,
    client: String,
    /// Publisher index and how many messages it sends over the send phase.
    publisher: Option<(u32, u32)>,
}

fn plan(scenario: &Scenario) -> Result<(usize, Vec<Spec>), String> {
    let duration = scenario.duration().as_secs_f64();
    let positive = |what: &str, n: usize| {
        if n == 0 {
            Err(format!("{what} must be at least 1"))
        } else {
            Ok(())
        }
    };
    match *scenario {
        Scenario::Idle {
            connections,
            channels,
            ..
        } => {
            positive("connections", connections)?;
            positive("channels", channels)?;
            let specs = (0..connections)
                .map(|i| Spec {
                    channel: i % channels,
                    client: format!("lg-c{i}"),
                    publisher: None,
                })
                .collect();
            Ok((channels.min(connections), specs))
        }
        Scenario::Fanout {
            subscribers,
            publishers,
            rate,
            ..
        } => {
            positive("publishers", publishers)?;
            if !(rate > 0.0 && rate.is_finite()) {
                return Err("rate must be a positive number".into());
            }
            let total = (rate * duration).round().max(1.0);
            if total > f64::from(u32::MAX / 2) {
                return Err("rate × duration is too large".into());
            }
            let total = total as u32;
            let p = publishers as u32;
            let mut specs: Vec<Spec> = (0..p)
                .map(|j| Spec {
                    channel: 0,
                    client: format!("lg-p{j}"),
                    publisher: Some((j, total / p + u32::from(j < total % p))),
                })
                .collect();
            specs.extend((0..subscribers).map(|i| Spec {
                channel: 0,
                client: format!("lg-s{i}"),
                publisher: None,
            }));
            Ok((1, specs))
        }
        Scenario::Rooms {
            connections,
            channels,
            rate_per_client,
            ..
        } => {
            positive("connections", connections)?;
            positive("channels", channels)?;
            if !(rate_per_client > 0.0 && rate_per_client.is_finite()) {
                return Err("rate must be a positive number".into());
            }
            let each = (rate_per_client * duration).round();
            if each < 1.0 {
                return Err(format!(
                    "rate × duration = {:.2}: every client would send nothing",
                    rate_per_client * duration
                ));
            }
            if each > 1e7 {
                return Err("rate × duration is too large".into());
            }
            let specs = (0..connections)
                .map(|i| Spec {
                    channel: i % channels,
                    client: format!("lg-c{i}"),
                    publisher: Some((i as u32, each as u32)),
                })
                .collect();
            Ok((channels.min(connections), specs))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Running {
        start: Instant,
        stop_sending: Instant,
    },
    Stopping,
}

/// State every connection task shares.
struct Shared {
    run: u32,
    epoch: std::time::Instant,
    message_bytes: usize,
    /// Connections that got their `welcome`, per channel; closed when sending starts.
    joins: Mutex<Option<Vec<u64>>>,
    members: OnceLock<Vec<u64>>,
    /// Planned messages per publisher index (bounds the sequence numbers we accept).
    planned: Vec<u32>,
    latency: Latency,
    ack_latency: Latency,
    opened: AtomicU64,
    failed: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    refused_sends: AtomicU64,
    expected: AtomicU64,
    deliveries: AtomicU64,
    unique: AtomicU64,
    foreign: AtomicU64,
    bad_frames: AtomicU64,
    /// Publishers that joined, and those that finished sending (or ended).
    publishers_joined: AtomicU64,
    publishers_done: AtomicU64,
    connect_failures: Mutex<BTreeMap<String, u64>>,
    send_errors: Mutex<BTreeMap<String, u64>>,
    disconnects: Mutex<BTreeMap<String, u64>>,
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: String) {
    *map.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default() += 1;
}

impl Shared {
    fn nanos(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Counts a connection in its channel, unless sending has started (then it is too late).
    fn join(&self, channel: usize) -> bool {
        let mut joins = self.joins.lock().unwrap_or_else(PoisonError::into_inner);
        match joins.as_mut() {
            Some(counts) => {
                counts[channel] += 1;
                true
            }
            None => false,
        }
    }

    fn close_joins(&self) -> Vec<u64> {
        let counts = self
            .joins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        let _ = self.members.set(counts.clone());
        counts
    }
}

/// What a connection task hands back.
struct Outcome {
    channel: usize,
    joined: bool,
    publisher: Option<u32>,
    acked: SeqSet,
    tracker: OrderTracker,
}

struct Conn {
    idx: usize,
    spec: Spec,
    shared: Arc<Shared>,
    tracker: OrderTracker,
    acked: SeqSet,
    /// Send time (ns since epoch) per sequence number, for ack latency.
    sent_at: Vec<u64>,
    next_seq: u32,
    /// Joined as a publisher and not yet counted in `publishers_done`.
    sending: bool,
}

/// The fields of a `message` frame loadgen needs, borrowed from the text when possible.
#[derive(Deserialize)]
struct FastMessage<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<std::borrow::Cow<'a, str>>,
}

enum Step {
    Continue,
    Closed,
}

impl Conn {
    fn handle(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Step {
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map_or("closed".to_owned(), |f| {
                    format!("close_{}", u16::from(f.code))
                });
                bump(&self.shared.disconnects, why);
                return Step::Closed;
            }
            Some(Ok(_)) => return Step::Continue,
            Some(Err(e)) => {
                bump(&self.shared.disconnects, conn::ws_cause(&e));
                return Step::Closed;
            }
            None => {
                bump(&self.shared.disconnects, "closed".into());
                return Step::Closed;
            }
        };
        let shared = &*self.shared;
        // Fast path for the frame that is nearly all the traffic: `message`, read without
        // copying (protocol::ServerFrame is an internally tagged enum, which serde buffers).
        if let Ok(FastMessage {
            kind,
            id: Some(id),
            message: Some(message),
        }) = serde_json::from_str::<FastMessage>(&text)
            && kind == "message"
        {
            match id.parse::<MessageId>() {
                Ok(id) => self.on_message(id, &message),
                Err(_) => {
                    shared.bad_frames.fetch_add(1, Relaxed);
                }
            }
            return Step::Continue;
        }
        match serde_json::from_str::<ServerFrame>(&text) {
            Ok(ServerFrame::Message(m)) => self.on_message(m.id, &m.message),
            Ok(ServerFrame::Ack { nonce, .. }) => {
                let seq = nonce.and_then(|n| n.parse::<u32>().ok());
                if let Some(seq) = seq.filter(|&s| s < self.next_seq)
                    && self.acked.insert(seq)
                {
                    shared.acked.fetch_add(1, Relaxed);
                    let members = shared
                        .members
                        .get()
                        .and_then(|m| m.get(self.spec.channel))
                        .copied()
                        .unwrap_or(0);
                    shared.expected.fetch_add(members, Relaxed);
                    let sent = self.sent_at.get(seq as usize).copied().unwrap_or(0);
                    shared
                        .ack_latency
                        .record(self.idx, shared.nanos().saturating_sub(sent) / 1000);
                }
            }
            Ok(ServerFrame::Error { code, nonce, .. }) => {
                if nonce.is_some() {
                    shared.refused_sends.fetch_add(1, Relaxed);
                }
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".into());
                bump(&shared.send_errors, code);
            }
            Ok(
                ServerFrame::Welcome { .. }
                | ServerFrame::Presence { .. }
                | ServerFrame::Online { .. }
                | ServerFrame::Pong { .. }
                | ServerFrame::Refreshed { .. },
            ) => {}
            Err(_) => {
                shared.bad_frames.fetch_add(1, Relaxed);
            }
        }
        Step::Continue
    }

    fn on_message(&mut self, id: MessageId, text: &str) {
        let shared = &*self.shared;
        let now = shared.nanos();
        let Some(body) = Body::decode(text).filter(|b| {
            b.run == shared.run
                && shared
                    .planned
                    .get(b.publisher as usize)
                    .is_some_and(|&n| b.seq < n)
        }) else {
            shared.foreign.fetch_add(1, Relaxed);
            return;
        };
        shared.deliveries.fetch_add(1, Relaxed);
        self.tracker.observe_id(id);
        if self.tracker.observe(body.publisher, body.seq) != Seen::Duplicate {
            shared.unique.fetch_add(1, Relaxed);
            let micros = now.saturating_sub(body.sent_nanos) / 1000;
            shared.latency.record(self.idx, micros);
        }
    }

    async fn send_next(&mut self, ws: &mut conn::Ws) -> Step {
        let Some((publisher, _)) = self.spec.publisher else {
            return Step::Continue;
        };
        let seq = self.next_seq;
        let sent_nanos = self.shared.nanos();
        let frame = ClientFrame::Send {
            message: Body {
                run: self.shared.run,
                publisher,
                seq,
                sent_nanos,
            }
            .encode(self.shared.message_bytes),
            nonce: Some(seq.to_string()),
        };
        let Ok(json) = serde_json::to_string(&frame) else {
            return Step::Continue;
        };
        self.sent_at.push(sent_nanos);
        self.next_seq += 1;
        self.shared.sent.fetch_add(1, Relaxed);
        match ws.send(Message::text(json)).await {
            Ok(()) => Step::Continue,
            Err(e) => {
                bump(&self.shared.disconnects, conn::ws_cause(&e));
                Step::Closed
            }
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

struct Dial {
    addr: SocketAddr,
    source: Option<IpAddr>,
    url: String,
    config: WebSocketConfig,
    timeout: Duration,
}

async fn connection(
    mut conn: Conn,
    dial: Dial,
    connect_slots: Arc<Semaphore>,
    mut phase: watch::Receiver<Phase>,
) -> Outcome {
    let opened = {
        let _slot = connect_slots.acquire_owned().await;
        conn::open(dial.addr, dial.source, &dial.url, dial.config, dial.timeout).await
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
            frame = ws.next() => if let Step::Closed = conn.handle(frame) { return conn.outcome(true) },
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
            frame = ws.next() => if let Step::Closed = conn.handle(frame) { return conn.outcome(true) },
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

fn sample_all(watch: &[(String, u32)]) -> Vec<Option<ProcSample>> {
    watch
        .iter()
        .map(|(_, pid)| procstat::sample(Some(*pid)).ok())
        .collect()
}

fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

struct Progress {
    enabled: bool,
    total: usize,
}

impl Progress {
    fn show(&self, phase: &str, s: &Shared, rate: f64, p99_ms: Option<f64>) {
        if !self.enabled {
            return;
        }
        let p99 = p99_ms.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{phase:<8} conns {}/{} failed {} | sent {} acked {} | {:.0} deliveries/s | p99 {p99}",
            s.opened.load(Relaxed),
            self.total,
            s.failed.load(Relaxed),
            s.sent.load(Relaxed),
            s.acked.load(Relaxed),
            rate,
        );
        let _ = err.flush();
    }

    fn done(&self) {
        if self.enabled {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// Runs `config` to the end and reports. Errors are for runs that could not start (bad
/// configuration, unresolvable URL); everything that goes wrong during the run is reported.
pub async fn run(config: Config) -> anyhow::Result<Report> {
    let (channel_count, specs) = plan(&config.scenario).map_err(anyhow::Error::msg)?;
    if config.urls.is_empty() {
        anyhow::bail!("give at least one backend URL (--url ws://host:port)");
    }
    let targets = config
        .urls
        .iter()
        .map(|u| Target::parse(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let mut resolved = Vec::with_capacity(targets.len());
    for t in &targets {
        resolved.push(t.resolve().await.map_err(anyhow::Error::msg)?);
    }
    let sources = match &config.sources {
        Some(list) => list.clone(),
        None => addrs::auto_sources(specs.len(), &resolved),
    };
    if config.connect_concurrency == 0 {
        anyhow::bail!("connect concurrency must be at least 1");
    }

    let epoch = std::time::Instant::now();
    let run = (epoch.elapsed().as_nanos() as u32)
        ^ std::process::id().rotate_left(16)
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u32));
    let prefix = config
        .channel_prefix
        .clone()
        .unwrap_or_else(|| format!("lg{run:08x}"));
    let channels: Vec<String> = (0..channel_count)
        .map(|c| format!("{prefix}-{c}"))
        .collect();
    for c in &channels {
        ChannelId::parse(c).map_err(|e| anyhow::anyhow!("channel {c:?}: {e}"))?;
    }
    for s in &specs {
        ClientId::parse(&s.client).map_err(|e| anyhow::anyhow!("client {:?}: {e}", s.client))?;
    }
    let mut warnings = Vec::new();
    if let Some(limit) = open_file_limit()
        && (specs.len() as u64 + 64) > limit
    {
        warnings.push(format!(
            "{} connections but this process may open only {limit} files: expect too_many_open_files (raise ulimit -n)",
            specs.len()
        ));
    }

    let planned: Vec<u32> = {
        let mut p = Vec::new();
        for s in &specs {
            if let Some((idx, n)) = s.publisher {
                if p.len() <= idx as usize {
                    p.resize(idx as usize + 1, 0);
                }
                p[idx as usize] = n;
            }
        }
        p
    };
    let shards = 16;
    let shared = Arc::new(Shared {
        run,
        epoch,
        message_bytes: config.message_bytes,
        joins: Mutex::new(Some(vec![0; channel_count])),
        members: OnceLock::new(),
        planned: planned.clone(),
        latency: Latency::new(shards),
        ack_latency: Latency::new(shards),
        opened: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        refused_sends: AtomicU64::new(0),
        expected: AtomicU64::new(0),
        deliveries: AtomicU64::new(0),
        unique: AtomicU64::new(0),
        foreign: AtomicU64::new(0),
        bad_frames: AtomicU64::new(0),
        publishers_joined: AtomicU64::new(0),
        publishers_done: AtomicU64::new(0),
        connect_failures: Mutex::new(BTreeMap::new()),
        send_errors: Mutex::new(BTreeMap::new()),
        disconnects: Mutex::new(BTreeMap::new()),
    });
    let progress = Progress {
        enabled: config.progress && std::io::stderr().is_terminal(),
        total: specs.len(),
    };

    let before = sample_all(&config.watch);
    let self_before = procstat::sample(None).ok();

    // Connect.
    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
    let slots = Arc::new(Semaphore::new(config.connect_concurrency));
    let ws_config = conn::ws_config(config.read_buffer);
    let mut tasks = JoinSet::new();
    let ramp_start = Instant::now();
    let ramp_deadline = ramp_start + config.ramp_timeout;
    let mut last_show = Instant::now();
    let total = specs.len() as u64;
    for (idx, spec) in specs.into_iter().enumerate() {
        if config.connect_rate > 0.0 {
            let due = ramp_start + Duration::from_secs_f64(idx as f64 / config.connect_rate);
            if due >= ramp_deadline {
                // Would open after the ramp deadline: counts as failed without trying.
                shared.failed.fetch_add(1, Relaxed);
                bump(&shared.connect_failures, "ramp_timeout".into());
                continue;
            }
            tokio::time::sleep_until(due).await;
        }
        let t = idx % resolved.len();
        let dial = Dial {
            addr: resolved[t],
            source: (!sources.is_empty()).then(|| sources[idx % sources.len()]),
            url: format!(
                "{}/ws/{}/{}",
                targets[t].base, channels[spec.channel], spec.client
            ),
            config: ws_config,
            timeout: config.connect_timeout,
        };
        let sent_at = Vec::with_capacity(spec.publisher.map_or(0, |(_, n)| n as usize));
        let acked = SeqSet::with_capacity(spec.publisher.map_or(0, |(_, n)| n));
        let conn = Conn {
            idx,
            spec,
            shared: shared.clone(),
            tracker: OrderTracker::default(),
            acked,
            sent_at,
            next_seq: 0,
            sending: false,
        };
        tasks.spawn(connection(conn, dial, slots.clone(), phase_rx.clone()));
        if last_show.elapsed() >= Duration::from_millis(250) {
            progress.show("connect", &shared, 0.0, None);
            last_show = Instant::now();
        }
    }
    loop {
        let done = shared.opened.load(Relaxed) + shared.failed.load(Relaxed);
        if done >= total || Instant::now() >= ramp_deadline {
            break;
        }
        progress.show("connect", &shared, 0.0, None);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ramp_secs = ramp_start.elapsed().as_secs_f64();
    tokio::time::sleep(config.settle).await;
    let members = shared.close_joins();
    let held: u64 = members.iter().sum();
    let held_samples = sample_all(&config.watch);

    // Send (or hold).
    let run_len = config.scenario.duration();
    let start = Instant::now() + Duration::from_millis(100);
    let stop_sending = start + run_len;
    let _ = phase_tx.send(Phase::Running {
        start,
        stop_sending,
    });
    tokio::time::sleep_until(start).await;
    let cpu_start = sample_all(&config.watch);
    let machine_start = procstat::machine_cpu();
    let self_start = procstat::sample(None).ok();
    let mut series = Vec::new();
    let mut last_tick = start;
    let mut last_unique = 0u64;
    let drain_deadline = stop_sending + config.drain;
    let idle = matches!(config.scenario, Scenario::Idle { .. });
    let mut p99_now = None;
    let mut rate_now = 0.0;
    let drained_at = loop {
        let now = Instant::now();
        if now.duration_since(last_tick) >= Duration::from_secs(1) {
            let unique = shared.unique.load(Relaxed);
            let dt = now.duration_since(last_tick).as_secs_f64();
            let interval = shared.latency.take_interval();
            rate_now = (unique - last_unique) as f64 / dt;
            p99_now =
                (!interval.is_empty()).then(|| interval.value_at_quantile(0.99) as f64 / 1000.0);
            series.push(SeriesPoint {
                t_s: now.duration_since(start).as_secs_f64(),
                deliveries_per_s: rate_now,
                p99_ms: p99_now,
                connections: shared.opened.load(Relaxed),
            });
            last_tick = now;
            last_unique = unique;
        }
        let phase_name = if now < stop_sending {
            if idle { "hold" } else { "send" }
        } else {
            "drain"
        };
        if now.duration_since(last_show) >= Duration::from_millis(250) {
            progress.show(phase_name, &shared, rate_now, p99_now);
            last_show = now;
        }
        if now >= stop_sending {
            if idle || now >= drain_deadline {
                break now;
            }
            let sent = shared.sent.load(Relaxed);
            let resolved_sends = shared.acked.load(Relaxed) + shared.refused_sends.load(Relaxed);
            let all_sent =
                shared.publishers_done.load(Relaxed) >= shared.publishers_joined.load(Relaxed);
            if all_sent
                && resolved_sends >= sent
                && shared.unique.load(Relaxed) >= shared.expected.load(Relaxed)
            {
                break now;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let measured = drained_at.duration_since(start);
    let end_samples = sample_all(&config.watch);
    let machine_end = procstat::machine_cpu();
    let self_end = procstat::sample(None).ok();
    progress.done();

    // Stop and collect.
    let _ = phase_tx.send(Phase::Stopping);
    let mut outcomes = Vec::with_capacity(total as usize);
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            if let Ok(o) = joined {
                outcomes.push(o);
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(15), collect)
        .await
        .is_err()
    {
        warnings
            .push("some connections did not close within 15 s; their figures are missing".into());
        tasks.abort_all();
    }

    // Loss: for every receiver that joined, every acked message of every publisher that
    // joined the same channel and is not in the receiver's record.
    let mut lost = 0u64;
    let mut unacked_delivered = 0u64;
    let (mut duplicated, mut reordered, mut id_regressions) = (0u64, 0u64, 0u64);
    let mut by_channel: Vec<Vec<(u32, &SeqSet)>> = vec![Vec::new(); channel_count];
    for o in outcomes.iter().filter(|o| o.joined) {
        if let Some(p) = o.publisher {
            by_channel[o.channel].push((p, &o.acked));
        }
    }
    for o in outcomes.iter().filter(|o| o.joined) {
        for (p, acked) in &by_channel[o.channel] {
            lost += o.tracker.lost(*p, acked);
            unacked_delivered += o.tracker.unacked(*p, acked);
        }
        duplicated += o.tracker.duplicates;
        reordered += o.tracker.reordered;
        id_regressions += o.tracker.id_regressions;
    }

    let send_errors = std::mem::take(
        &mut *shared
            .send_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    if send_errors.contains_key("rate_limited") {
        warnings.push(
            "sends were rate-limited: raise RATE_LIMIT_PER_SEC / RATE_LIMIT_BURST on the backends, \
             or spread the rate over more --publishers"
                .into(),
        );
    }
    let unique = shared.unique.load(Relaxed);
    let take = |m: &Mutex<BTreeMap<String, u64>>| {
        std::mem::take(&mut *m.lock().unwrap_or_else(PoisonError::into_inner))
    };
    let watched = config
        .watch
        .iter()
        .enumerate()
        .map(|(i, (label, pid))| {
            Watched::new(
                label,
                *pid,
                before[i],
                held_samples[i],
                cpu_start[i],
                end_samples[i],
                unique,
            )
        })
        .collect();
    let loadgen = Watched::new(
        "loadgen",
        std::process::id(),
        self_before,
        self_start,
        self_start,
        self_end,
        unique,
    );
    let histogram = shared.latency.total();
    Ok(Report {
        scenario: config.scenario.name().to_owned(),
        urls: config.urls.clone(),
        channels: channel_count as u64,
        connections_planned: total,
        connections_held: held,
        connections_failed: shared.failed.load(Relaxed),
        connect_failures: take(&shared.connect_failures),
        ramp_s: ramp_secs,
        disconnects: take(&shared.disconnects),
        messages_planned: planned.iter().map(|&n| u64::from(n)).sum(),
        messages_sent: shared.sent.load(Relaxed),
        messages_acked: shared.acked.load(Relaxed),
        send_errors,
        deliveries_expected: shared.expected.load(Relaxed),
        deliveries_seen: unique,
        lost,
        duplicated,
        reordered,
        id_order_violations: id_regressions,
        unacked_delivered,
        foreign_messages: shared.foreign.load(Relaxed),
        bad_frames: shared.bad_frames.load(Relaxed),
        measured_s: measured.as_secs_f64(),
        deliveries_per_s: unique as f64 / measured.as_secs_f64().max(1e-9),
        latency: LatencySummary::of(&histogram),
        ack_latency: LatencySummary::of(&shared.ack_latency.total()),
        processes: watched,
        machine: Machine {
            cores: procstat::cores(),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next()?.parse().ok()),
            cpu_busy_pct: match (machine_start, machine_end) {
                (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                    Some(100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
                }
                _ => None,
            },
        },
        loadgen,
        warnings,
        series,
        histogram,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_bounded_and_spread() {
        let (ch, specs) = plan(&Scenario::Fanout {
            subscribers: 10,
            publishers: 3,
            rate: 10.0,
            duration: Duration::from_secs(1),
        })
        .unwrap();
        assert_eq!((ch, specs.len()), (1, 13));
        let counts: Vec<u32> = specs
            .iter()
            .filter_map(|s| s.publisher.map(|p| p.1))
            .collect();
        assert_eq!(counts, [4, 3, 3]);

        let (ch, specs) = plan(&Scenario::Rooms {
            connections: 10,
            channels: 4,
            rate_per_client: 0.5,
            duration: Duration::from_secs(10),
        })
        .unwrap();
        assert_eq!(ch, 4);
        assert!(specs.iter().all(|s| s.publisher.map(|p| p.1) == Some(5)));
        assert_eq!(specs.iter().filter(|s| s.channel == 3).count(), 2);

        let too_slow = Scenario::Rooms {
            connections: 1,
            channels: 1,
            rate_per_client: 0.01,
            duration: Duration::from_secs(1),
        };
        assert!(plan(&too_slow).is_err());
        let empty = Scenario::Idle {
            connections: 0,
            channels: 1,
            hold: Duration::from_secs(1),
        };
        assert!(plan(&empty).is_err());
    }

    #[test]
    fn fast_path_reads_the_protocol_message_frame() {
        let frame = ServerFrame::Message(protocol::ChatMessage {
            id: "1700000000000-3".parse().unwrap(),
            channel_id: ChannelId::parse("room").unwrap(),
            client_id: ClientId::parse("lg-p0").unwrap(),
            time: "2023-11-14T22:13:20.000Z".into(),
            message: "deadbeef:0:1:2 \"quoted\"".into(),
        });
        let text = frame.to_json();
        let fast: FastMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(fast.kind, "message");
        assert_eq!(fast.id.as_deref(), Some("1700000000000-3"));
        assert_eq!(fast.message.as_deref(), Some("deadbeef:0:1:2 \"quoted\""));
        let ack = ServerFrame::Ack {
            nonce: Some("1".into()),
            id: "1-0".parse().unwrap(),
        };
        let ack = ack.to_json();
        let fast: FastMessage = serde_json::from_str(&ack).unwrap();
        assert_eq!((fast.kind.as_ref(), fast.message), ("ack", None));
    }

    #[test]
    fn fractions_spread() {
        let mut f: Vec<f64> = (0..10).map(fraction).collect();
        assert!(f.iter().all(|x| (0.0..1.0).contains(x)));
        f.sort_by(f64::total_cmp);
        assert!(f.windows(2).all(|w| w[1] - w[0] > 0.01));
    }
}
