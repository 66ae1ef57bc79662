//! One WebSocket connection, from `welcome` to cleanup.
//!
//! Joining follows one rule that makes replay and live delivery meet without a gap or a
//! duplicate: subscribe first, read history second. The connection is in the hub (so live
//! events queue up for it) and the bus subscription is confirmed before history is read;
//! the writer then drops any queued message whose id it already replayed.
//!
//! The session task reads the client's frames; a separate writer task drains the
//! connection's bounded outbound queue into the socket (see [`writer`]).

mod writer;

use std::{sync::Arc, time::Duration};

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, ProtocolError, Session};
use protocol::{ChannelId, ClientFrame, ClientId, ErrorCode, MessageId, ServerFrame};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

use crate::{
    bus::{BusError, ConnKey, History, Roster},
    hub::{Closer, Member, Outbound},
    state::AppState,
};

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
    mut stream: AggregatedMessageStream,
) {
    let _tracked = state.connections.track();
    let conn_key = state.next_conn_key();
    let (outbox, inbox) = mpsc::channel(state.settings.outbound_queue);
    let closer = Arc::new(Closer::default());
    let (member, subscribed) = state.hub.join(
        &request.channel,
        Member {
            client: request.client.clone(),
            conn_key: conn_key.clone(),
            outbox: outbox.clone(),
            closer: closer.clone(),
        },
        &*state.bus,
    );
    log::debug!(channel:% = request.channel, client_id:% = request.client, conn:% = conn_key; "Client connected.");

    let mut presence_registered = false;
    match join(
        &state,
        &request,
        &conn_key,
        subscribed,
        &mut presence_registered,
    )
    .await
    {
        Ok((roster, history)) => {
            if let Some(last_replayed) = greet(&mut session, &request, roster, history).await {
                let writer = actix_web::rt::spawn(writer::run(
                    session.clone(),
                    inbox,
                    last_replayed,
                    closer.clone(),
                    state.shutdown.wait(),
                ));
                read_frames(
                    &state,
                    &request,
                    &mut session,
                    &mut stream,
                    &outbox,
                    &closer,
                    writer,
                )
                .await;
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
            let _ = session
                .close(Some((CloseCode::Again, "unavailable, retry later").into()))
                .await;
        }
    }

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

/// Reads the client's frames until it leaves, the writer closes the socket, or the client
/// stops answering pings.
async fn read_frames(
    state: &AppState,
    request: &Request,
    session: &mut Session,
    stream: &mut AggregatedMessageStream,
    outbox: &mpsc::Sender<Outbound>,
    closer: &Closer,
    mut writer: tokio::task::JoinHandle<()>,
) {
    let ping_every = state.settings.ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut pong_due: Option<Instant> = None;
    loop {
        let pong_deadline =
            pong_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        tokio::select! {
            _ = &mut writer => return,
            _ = ping.tick() => {
                if session.ping(b"").await.is_err() {
                    return;
                }
                pong_due.get_or_insert(Instant::now() + state.settings.pong_timeout);
            }
            _ = tokio::time::sleep_until(pong_deadline), if pong_due.is_some() => {
                closer.request(CloseCode::Away, "no pong within the timeout");
                return;
            }
            frame = stream.recv() => match frame {
                None => return,
                Some(Ok(AggregatedMessage::Text(text))) => {
                    let reply = handle_text(state, request, &text).await;
                    if outbox.send(reply).await.is_err() {
                        return;
                    }
                }
                Some(Ok(AggregatedMessage::Binary(_))) => {
                    let reply = ServerFrame::Error {
                        code: ErrorCode::BadFrame,
                        message: "frames are JSON text; binary frames are not supported".into(),
                        nonce: None,
                    };
                    if outbox.send(Outbound::frame(&reply)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    let _ = session.pong(&bytes).await;
                }
                Some(Ok(AggregatedMessage::Pong(_))) => pong_due = None,
                Some(Ok(AggregatedMessage::Close(_))) => {
                    closer.request(CloseCode::Normal, "bye");
                    return;
                }
                Some(Err(ProtocolError::Overflow)) => {
                    closer.request(CloseCode::Size, "message too big: the limit is 64 KiB");
                    return;
                }
                Some(Err(e)) => {
                    closer.request(CloseCode::Protocol, &e.to_string());
                    return;
                }
            },
        }
    }
}

/// Handles one client text frame and returns the frame to answer it with.
async fn handle_text(state: &AppState, request: &Request, text: &str) -> Outbound {
    let reply = match ClientFrame::parse(text, &state.limits) {
        Err(refused) => refused.into(),
        Ok(ClientFrame::Send { message, nonce }) => {
            match state
                .bus
                .publish(
                    &request.channel,
                    &request.client,
                    &message,
                    nonce.as_deref(),
                )
                .await
            {
                Ok(id) => ServerFrame::Ack { nonce, id },
                Err(e) => {
                    log::warn!(channel:% = request.channel, error:% = e; "A message was not accepted.");
                    ServerFrame::Error {
                        code: ErrorCode::Unavailable,
                        message: "the message was not stored; send it again".into(),
                        nonce,
                    }
                }
            }
        }
    };
    Outbound::frame(&reply)
}
