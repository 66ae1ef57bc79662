//! One WebSocket connection, from `welcome` to cleanup.
//!
//! Joining follows one rule that makes replay and live delivery meet without a gap or a
//! duplicate: subscribe first, read history second. The connection is in the hub (so live
//! events queue up for it) and the bus subscription is confirmed before history is read;
//! the writer then drops any queued message whose id it already replayed.
//!
//! The session task reads the client's frames ([`reader`]); a separate writer task drains
//! the connection's bounded outbound queue into the socket ([`writer`]).

mod rate_limit;
mod reader;
mod writer;

use std::{sync::Arc, time::Duration};

use actix_ws::{AggregatedMessageStream, CloseCode, Session};
use protocol::{ChannelId, ClientId, ErrorCode, MessageId, ServerFrame};
use tokio::sync::watch;

use crate::{
    bus::{BusError, ConnKey, History, Roster},
    hub::Member,
    outbox::{self, QueueLimits},
    shutdown::ConnectionGuard,
    state::AppState,
};

/// How long the goodbye (close frame) may take to reach a client that reads slowly, after
/// the connection has already been cleaned up.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection request that passed validation.
#[derive(Debug, Clone)]
pub struct Request {
    pub channel: ChannelId,
    pub client: ClientId,
    pub since: Option<MessageId>,
}

pub async fn run(
    state: Arc<AppState>,
    request: Request,
    mut session: Session,
    stream: AggregatedMessageStream,
    connection: ConnectionGuard,
) {
    let conn_key = state.next_conn_key();
    let (outbox, inbox) = outbox::outbox(QueueLimits {
        frames: state.settings.outbound_queue,
        bytes: state.settings.outbound_queue_bytes,
    });
    let (member, subscribed) = state.hub.join(
        &request.channel,
        Member {
            client: request.client.clone(),
            conn_key: conn_key.clone(),
            outbox: outbox.clone(),
        },
        &*state.bus,
    );
    log::debug!(channel:% = request.channel, client_id:% = request.client, conn:% = conn_key; "Client connected.");

    let mut presence_registered = false;
    let joined = join(
        &state,
        &request,
        &conn_key,
        subscribed,
        &mut presence_registered,
    )
    .await;
    let goodbye = match joined {
        Ok((roster, history)) => {
            match greet(&mut session, &state.instance_id, &request, roster, history).await {
                Some(last_replayed) => {
                    let writer = actix_web::rt::spawn(writer::run(
                        session.clone(),
                        inbox,
                        last_replayed,
                        outbox.closer().clone(),
                        state.metrics.clone(),
                    ));
                    reader::Reader::new(&state, &request, session.clone(), stream, outbox)
                        .run(writer)
                        .await
                }
                None => None,
            }
        }
        Err(e) => {
            log::warn!(channel:% = request.channel, error:% = e; "Could not join a client.");
            let refusal = ServerFrame::Error {
                code: ErrorCode::Unavailable,
                message: format!("cannot join the channel right now: {e}"),
                nonce: None,
            };
            let _ = session.text(refusal.to_json()).await;
            Some((CloseCode::Again, "unavailable, retry later").into())
        }
    };

    state.hub.leave(&request.channel, member, &*state.bus);
    if presence_registered
        && let Err(e) = state
            .bus
            .leave_presence(&request.channel, &request.client, &conn_key)
            .await
    {
        log::warn!(channel:% = request.channel, error:% = e; "Could not remove presence; it will expire.");
    }
    log::debug!(channel:% = request.channel, client_id:% = request.client, conn:% = conn_key; "Client disconnected.");
    if let Some(reason) = goodbye {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.close(Some(reason))).await;
    }
    drop(connection);
}

/// Waits for the subscription, registers presence and reads what to replay.
async fn join(
    state: &AppState,
    request: &Request,
    conn_key: &ConnKey,
    mut subscribed: watch::Receiver<bool>,
    presence_registered: &mut bool,
) -> Result<(Roster, History), BusError> {
    let timeout = state.settings.redis_timeout;
    match tokio::time::timeout(timeout, subscribed.wait_for(|live| *live)).await {
        Ok(Ok(_)) => {}
        _ => {
            return Err(BusError::Unavailable(
                "subscription not confirmed in time".into(),
            ));
        }
    }
    let roster = state
        .bus
        .join_presence(&request.channel, &request.client, conn_key)
        .await?;
    *presence_registered = true;
    let history = state.bus.history(&request.channel, request.since).await?;
    Ok((roster, history))
}

/// Sends `welcome` and the replay. Returns the last replayed id (if any) for the writer, or
/// `None` when the client is already gone.
async fn greet(
    session: &mut Session,
    instance: &str,
    request: &Request,
    roster: Roster,
    history: History,
) -> Option<Option<MessageId>> {
    let welcome = ServerFrame::Welcome {
        channel_id: request.channel.clone(),
        client_id: request.client.clone(),
        online: roster.online,
        online_count: roster.online_count,
        recovered: history.recovered,
        instance: instance.to_owned(),
    };
    session.text(welcome.to_json()).await.ok()?;
    let mut last = request.since.filter(|_| history.recovered);
    for message in history.messages {
        last = Some(message.id);
        session
            .text(ServerFrame::Message(message).to_json())
            .await
            .ok()?;
    }
    Some(last)
}
