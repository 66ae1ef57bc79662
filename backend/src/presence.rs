//! Keeps this instance's connections present in the shared roster. Entries that stop being
//! refreshed (the instance crashed) expire after the presence TTL.

use std::sync::Arc;

use crate::state::AppState;

/// Refreshes three times per TTL, so one late or failed round never expires anybody.
pub async fn keep_fresh(state: Arc<AppState>) {
    let period = state.settings.presence_ttl / 3;
    let stop = state.shutdown.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(period) => {}
        }
        for (channel, members) in state.hub.presence_snapshot() {
            if let Err(e) = state.bus.refresh_presence(&channel, &members).await {
                log::warn!(channel:% = channel, error:% = e; "Presence refresh failed.");
            }
        }
    }
}
