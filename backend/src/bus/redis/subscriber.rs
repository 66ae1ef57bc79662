//! The instance's one pub/sub connection.
//!
//! A single task owns it. Subscribe and unsubscribe requests arrive on a queue in the order
//! the hub made them, so a channel that empties and fills again can never end up
//! unsubscribed. The connection is dedicated (never from the command pool) and read by the
//! redis crate's own task into an unbounded buffer, so Redis never cuts it off for a full
//! output buffer while this instance is busy.
//!
//! When the connection drops, the task reconnects with backoff and subscribes again to every
//! channel that still has local members; each channel's watch reads `false` meanwhile.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::StreamExt;
use protocol::ChannelId;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, watch};

use super::events;
use super::keys::{ChannelKeys, channel_of_events};
use crate::bus::EventSink;

/// What the hub asks of the subscriber.
pub enum Command {
    Subscribe(ChannelId, watch::Sender<bool>),
    Unsubscribe(ChannelId),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub struct Subscriber {
    client: redis::Client,
    commands: mpsc::UnboundedReceiver<Command>,
    sink: Arc<dyn EventSink>,
    /// Channels with local members, and the watch that tells their joiners whether the
    /// subscription is live.
    wanted: HashMap<ChannelId, watch::Sender<bool>>,
}

/// Why a connected session of the subscriber ended.
enum Ended {
    ConnectionLost,
    BusDropped,
}

impl Subscriber {
    pub fn new(
        client: redis::Client,
        commands: mpsc::UnboundedReceiver<Command>,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            client,
            commands,
            sink,
            wanted: HashMap::new(),
        }
    }

    pub async fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => {
                    let (sink, stream) = pubsub.split();
                    log::info!(channels = self.wanted.len(); "Subscriber connected.");
                    backoff = FIRST_BACKOFF;
                    match self.serve(sink, stream).await {
                        Ended::BusDropped => return,
                        Ended::ConnectionLost => {
                            log::warn!("Subscriber connection lost; reconnecting.");
                            for live in self.wanted.values() {
                                live.send_replace(false);
                            }
                        }
                    }
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
                command = self.commands.recv() => match command {
                    None => return false,
                    Some(Command::Subscribe(channel, live)) => {
                        self.wanted.insert(channel, live);
                    }
                    Some(Command::Unsubscribe(channel)) => {
                        self.wanted.remove(&channel);
                    }
                },
            }
        }
    }

    async fn serve(&mut self, mut sink: PubSubSink, mut stream: PubSubStream) -> Ended {
        for (channel, live) in &self.wanted {
            if sink
                .subscribe(ChannelKeys::new(channel).events())
                .await
                .is_err()
            {
                return Ended::ConnectionLost;
            }
            live.send_replace(true);
        }
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => return Ended::BusDropped,
                    Some(Command::Subscribe(channel, live)) => {
                        let subscribed = sink.subscribe(ChannelKeys::new(&channel).events()).await;
                        live.send_replace(subscribed.is_ok());
                        self.wanted.insert(channel, live);
                        if subscribed.is_err() {
                            return Ended::ConnectionLost;
                        }
                    }
                    Some(Command::Unsubscribe(channel)) => {
                        self.wanted.remove(&channel);
                        if sink.unsubscribe(ChannelKeys::new(&channel).events()).await.is_err() {
                            return Ended::ConnectionLost;
                        }
                    }
                },
                message = stream.next() => match message {
                    None => return Ended::ConnectionLost,
                    Some(message) => self.deliver(&message),
                },
            }
        }
    }

    fn deliver(&self, message: &redis::Msg) {
        let Some(channel) = channel_of_events(message.get_channel_name()) else {
            return;
        };
        match events::decode(&channel, message.get_payload_bytes()) {
            Ok(event) => self.sink.deliver(&channel, event),
            Err(e) => log::warn!(channel:% = channel, error:% = e; "Dropped an unreadable event."),
        }
    }
}
