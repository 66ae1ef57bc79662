//! Keeps this instance's connections present in the shared roster (entries that stop being
//! refreshed, because the instance crashed, expire after the presence TTL), sends presence
//! events to local members in short batches, and tells the members of large channels how
//! many are online.

use std::{sync::Arc, time::Duration};

use crate::state::AppState;

/// Refreshes three times per TTL, so one late or failed round never expires anybody.
pub async fn keep_fresh(state: Arc<AppState>) {
    let period = state.settings.presence.ttl / 3;
    let stop = state.shutdown.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(period) => {}
        }
        let channels = state.hub.presence_snapshot();
        for (channel, e) in state.bus.refresh_presence_all(&channels).await {
            log::warn!(channel:% = channel, error:% = e; "Presence refresh failed.");
        }
    }
}

/// Sends each channel's coalesced presence events every `PRESENCE_BATCH_MS`, until shutdown.
pub async fn announce_presence_batches(state: Arc<AppState>) {
    let stop = state.shutdown.wait();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(state.settings.presence.batch);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => state.hub.send_presence_batches(),
        }
    }
}

/// How often members of a large channel hear the online count, when it changed.
const ONLINE_COUNT_PERIOD: Duration = Duration::from_secs(1);

/// Sends large channels' online counts every `ONLINE_COUNT_PERIOD`, until shutdown.
pub async fn announce_online_counts(state: Arc<AppState>) {
    let stop = state.shutdown.wait();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(ONLINE_COUNT_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => state.hub.send_online_counts(),
        }
    }
}
