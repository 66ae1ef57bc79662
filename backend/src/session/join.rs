//! Joining a channel, and what the client hears first.
//!
//! Joining follows one rule that makes replay and live delivery meet without a gap or a
//! duplicate: subscribe first, read history second. The connection is in the hub (so live
//! events queue up for it) and the bus subscription is confirmed before history is read;
//! the replay ([`super::replay`]) goes out page by page ahead of them, and the writer then
//! drops any queued message whose id it already replayed. Clients joining one channel from
//! one position at the same moment (a mass reconnect) share one read of its first page.

use protocol::{ErrorCode, ServerFrame};
use tokio::{sync::watch, time::Instant};

use super::{Request, membership::Membership, replay, writer::Greeting};
use crate::{
    bus::{BusError, History, Roster},
    state::AppState,
};

/// Waits for the subscription, registers presence and reads what to replay.
pub async fn join(
    state: &AppState,
    request: &Request,
    membership: &mut Membership,
    mut subscribed: watch::Receiver<bool>,
) -> Result<(Roster, History), BusError> {
    let timeout = state.settings.timeouts.join;
    match tokio::time::timeout(timeout, subscribed.wait_for(|live| *live)).await {
        Ok(Ok(_)) => {}
        _ => {
            return Err(BusError::Unavailable(
                "subscription not confirmed in time".into(),
            ));
        }
    }
    // From here on everything published reaches this member live: a history read started
    // from now on may be shared with others joining alongside (`bus::history_flights`).
    let ready_at = Instant::now();
    let roster = membership.join_presence(state, request).await?;
    let (history, read) = state
        .history_flights
        .history(
            &state.bus,
            &request.channel,
            request.resume().as_ref(),
            replay::PAGE,
            ready_at,
        )
        .await;
    state.metrics.history_read(read);
    Ok((roster, history?))
}

/// `welcome`, and the id from which the replay (its first page is in `history`, see
/// [`replay`]) and live messages continue.
pub fn greeting(instance: &str, request: &Request, roster: Roster, history: &History) -> Greeting {
    let welcome = ServerFrame::Welcome {
        channel_id: request.channel.clone(),
        client_id: request.client.clone(),
        online: roster.online,
        online_count: roster.online_count,
        names: roster.names,
        recovered: history.recovered,
        epoch: Some(history.epoch.clone()),
        instance: instance.to_owned(),
    };
    Greeting {
        frames: vec![welcome.to_json().into()],
        last_replayed: request.since.filter(|_| history.recovered),
    }
}

/// What a client that could not join hears instead of `welcome`.
pub fn refusal(e: &BusError) -> Greeting {
    let refusal = ServerFrame::Error {
        code: ErrorCode::Unavailable,
        message: format!("cannot join the channel right now: {e}"),
        nonce: None,
    };
    Greeting {
        frames: vec![refusal.to_json().into()],
        last_replayed: None,
    }
}
