//! The instance's one pub/sub connection.
//!
//! A single task owns it. Subscribe and unsubscribe requests arrive on a queue in the order
//! the hub made them, so a channel that empties and fills again can never end up
//! unsubscribed. The connection is dedicated (never from the command pool) and read by the
//! redis crate's own task into an unbounded buffer, so Redis never cuts it off for a full
//! output buffer while this instance is busy.
//!
//! When the connection drops (or stops answering pings), the task reconnects with backoff,
//! subscribes again to every channel that still has local members and backfills each (see
//! `subscriptions` for the rules that keep delivery gap-free and in order).

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use protocol::ChannelId;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, watch};

use crate::{
    bus::{
        BusError,
        redis::{
            keys::ChannelKeys,
            subscriptions::{
                ChannelLog, LogHandle, Request, SubscriberSetup, Subscriptions, ToSubscribe,
                take_subscribes,
            },
        },
    },
    metrics::Metrics,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub struct Subscriber {
    client: redis::Client,
    log: LogHandle,
    requests: mpsc::UnboundedReceiver<Request>,
    /// Whether the connection is up, for `/readyz`.
    up: watch::Sender<bool>,
    metrics: Arc<Metrics>,
    ping_every: Duration,
    channels: Subscriptions,
}

/// Why a connected session of the subscriber ended.
enum Ended {
    ConnectionLost(String),
    BusDropped,
}

impl From<BusError> for Ended {
    fn from(e: BusError) -> Self {
        Ended::ConnectionLost(e.to_string())
    }
}

impl Subscriber {
    pub fn new(client: redis::Client, setup: SubscriberSetup) -> Self {
        Self {
            client,
            log: setup.log,
            requests: setup.requests,
            up: setup.up,
            metrics: setup.metrics,
            ping_every: setup.ping_every,
            channels: Subscriptions::new(setup.sink),
        }
    }

    /// The bus, for one read; gone means this task is done too.
    fn log(&self) -> Result<Arc<dyn ChannelLog>, Ended> {
        self.log.upgrade().ok_or(Ended::BusDropped)
    }

    pub async fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        let mut connected_before = false;
        loop {
            match tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => {
                    if connected_before {
                        self.metrics.redis_reconnect();
                    }
                    connected_before = true;
                    let (sink, stream) = pubsub.split();
                    log::info!(channels = self.channels.count(); "Subscriber connected.");
                    match self.serve(sink, stream).await {
                        Ended::BusDropped => return,
                        Ended::ConnectionLost(why) => {
                            log::warn!(reason:% = why; "Subscriber connection lost; reconnecting.");
                        }
                    }
                    self.up.send_replace(false);
                    self.channels.set_all_live(false);
                }
                Ok(Err(e)) => log::warn!(error:% = e; "Subscriber could not connect."),
                Err(_) => log::warn!("Subscriber connection attempt timed out."),
            }
            if !self.wait_out(backoff).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Sleeps while still taking requests, so joins and leaves during an outage are kept.
    /// Returns false when the bus is gone.
    async fn wait_out(&mut self, pause: Duration) -> bool {
        let deadline = tokio::time::sleep(pause);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return true,
                request = self.requests.recv() => match request {
                    None => return false,
                    Some(Request::Subscribe(channel, live)) => self.channels.add(channel, live),
                    Some(Request::Unsubscribe(channel)) => self.channels.remove(&channel),
                },
            }
        }
    }

    async fn serve(&mut self, mut sink: PubSubSink, mut stream: PubSubStream) -> Ended {
        if let Err(ended) = self.resubscribe(&mut sink).await {
            return ended;
        }
        self.up.send_replace(true);
        let ping_every = self.ping_every;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        loop {
            tokio::select! {
                request = self.requests.recv() => match request {
                    None => return Ended::BusDropped,
                    Some(Request::Subscribe(channel, live)) => {
                        let (batch, after) = take_subscribes(&mut self.requests, (channel, live));
                        if let Err(ended) = self.subscribe(&mut sink, batch).await {
                            return ended;
                        }
                        if let Some(channel) = after
                            && let Err(ended) = self.unsubscribe(&mut sink, &channel).await
                        {
                            return ended;
                        }
                    }
                    Some(Request::Unsubscribe(channel)) => {
                        if let Err(ended) = self.unsubscribe(&mut sink, &channel).await {
                            return ended;
                        }
                    }
                },
                message = stream.next() => match message {
                    None => return Ended::ConnectionLost("the connection closed".into()),
                    Some(message) => self
                        .channels
                        .on_payload(message.get_channel_name(), message.get_payload_bytes()),
                },
                _ = ping.tick() => {
                    // A socket can hang without erroring; only an answer proves it works.
                    match tokio::time::timeout(ping_every, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Ended::ConnectionLost(format!("ping failed: {e}")),
                        Err(_) => return Ended::ConnectionLost("ping not answered in time".into()),
                    }
                }
            }
        }
    }

    /// Channels got their first local member: note their baselines, then subscribe, each
    /// step one round trip for the whole batch.
    async fn subscribe(
        &mut self,
        sink: &mut PubSubSink,
        batch: Vec<ToSubscribe>,
    ) -> Result<(), Ended> {
        let channels = self.channels.add_all(batch);
        self.subscribe_all(sink, &channels).await
    }

    /// A channel's last local member left.
    async fn unsubscribe(
        &mut self,
        sink: &mut PubSubSink,
        channel: &ChannelId,
    ) -> Result<(), Ended> {
        self.channels.remove(channel);
        sink.unsubscribe(ChannelKeys::new(channel).events())
            .await
            .map_err(|e| Ended::ConnectionLost(e.to_string()))
    }

    async fn subscribe_all(
        &mut self,
        sink: &mut PubSubSink,
        channels: &[ChannelId],
    ) -> Result<(), Ended> {
        /// Channels per SUBSCRIBE command, to keep each command reasonably sized.
        const PER_COMMAND: usize = 500;
        let log = self.log()?;
        self.channels.ensure_baselines(&*log, channels).await?;
        for chunk in channels.chunks(PER_COMMAND) {
            let names: Vec<String> = chunk.iter().map(|c| ChannelKeys::new(c).events()).collect();
            sink.subscribe(names)
                .await
                .map_err(|e| Ended::ConnectionLost(e.to_string()))?;
            self.channels.set_live(chunk, true);
        }
        Ok(())
    }

    /// After a (re)connect: subscribe to every tracked channel, then deliver from each
    /// stream what was published while the connection was down.
    async fn resubscribe(&mut self, sink: &mut PubSubSink) -> Result<(), Ended> {
        let channels = self.channels.channels();
        self.subscribe_all(sink, &channels).await?;
        let log = self.log()?;
        for channel in &channels {
            self.channels.backfill(&*log, channel).await?;
        }
        Ok(())
    }
}
