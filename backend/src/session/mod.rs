//! One WebSocket connection, from `welcome` to cleanup.
//!
//! Joining follows one rule that makes replay and live delivery meet without a gap or a
//! duplicate: subscribe first, read history second. The connection is in the hub (so live
//! events queue up for it) and the bus subscription is confirmed before history is read;
//! the replay ([`replay`]) goes out page by page ahead of them, and the writer then drops
//! any queued message whose id it already replayed.
//!
//! The session task reads the client's frames (`reader`); the connection's [`Writer`] sends
//! the greeting, then drains the connection's bounded outbound queue; [`serve`] moves the
//! bytes between them and the socket.

mod frame_decoder;
pub mod incoming;
mod rate_limit;
pub mod read_check;
mod reader;
mod replay;
mod socket;
mod writer;

use std::{sync::Arc, time::Duration};

use actix_http::ws::CloseCode;
use bytes::Bytes;
use protocol::{
    ChannelId, ClientId, Epoch, ErrorCode, MessageId, ServerFrame, frames::MAX_FRAME_BYTES,
};
use tokio::{net::tcp::OwnedReadHalf, sync::watch};

use self::{
    incoming::IncomingFrames,
    writer::{Greeting, GreetingSender},
};
pub use self::{
    rate_limit::{RateLimit, SendBudgets},
    socket::serve,
    writer::Writer,
};
use crate::{
    bus::{BusError, ConnKey, History, Resume, Roster},
    hub::Member,
    outbox::{self, Outbox},
    shutdown::ConnectionGuard,
    state::AppState,
};

/// How long the server waits for the client to answer its close frame before it hangs up.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection request that passed validation.
#[derive(Debug, Clone)]
pub struct Request {
    pub channel: ChannelId,
    pub client: ClientId,
    pub since: Option<MessageId>,
    /// The history incarnation `since` belongs to, when the client sent one.
    pub epoch: Option<Epoch>,
    /// When the token the client connected with expires (Unix seconds), when tokens are
    /// required: the connection ends then unless the client sends a `refresh`.
    pub token_expires: Option<u64>,
}

impl Request {
    /// Where the client resumes from, if it does.
    fn resume(&self) -> Option<Resume> {
        self.since.map(|since| Resume {
            since,
            epoch: self.epoch.clone(),
        })
    }
}

/// The client's frames, read from the socket's read half.
type ClientFrames = IncomingFrames<OwnedReadHalf>;

/// Starts the session of an upgraded connection whose frames arrive on `read` (after the
/// `early` bytes that came with the request head), and returns the writer whose chunks must
/// go to the socket.
fn start(
    state: Arc<AppState>,
    request: Request,
    read: OwnedReadHalf,
    early: Bytes,
    connection: Arc<ConnectionGuard>,
) -> Writer {
    let (outbox, inbox) = outbox::outbox(state.settings.limits.outbound);
    let (writer, greet, writer_gone) =
        Writer::new(inbox, outbox.closer().clone(), state.metrics.clone());
    let incoming = IncomingFrames::new(
        read,
        early,
        writer_gone,
        MAX_FRAME_BYTES,
        state.settings.timeouts.message,
    );
    actix_web::rt::spawn(run(state, request, outbox, greet, incoming, connection));
    writer
}

async fn run(
    state: Arc<AppState>,
    request: Request,
    outbox: Outbox,
    greet: GreetingSender,
    mut incoming: ClientFrames,
    connection: Arc<ConnectionGuard>,
) {
    let conn_key = state.next_conn_key();
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
    match joined {
        Ok((roster, history)) => {
            let greeting = greeting(&state.instance_id, &request, roster, &history);
            // Fails only when the connection is already over.
            if greet.send(greeting).is_ok() {
                let replay = replay::send(
                    &state,
                    &request.channel,
                    &history.epoch,
                    history.messages,
                    &outbox,
                );
                let reading = reader::Reader::new(&state, &request, incoming, outbox.clone()).run();
                incoming = replay::alongside(replay, reading).await;
            }
        }
        Err(e) => {
            log::warn!(channel:% = request.channel, error:% = e; "Could not join a client.");
            let refusal = ServerFrame::Error {
                code: ErrorCode::Unavailable,
                message: format!("cannot join the channel right now: {e}"),
                nonce: None,
            };
            let _ = greet.send(Greeting {
                frames: vec![refusal.to_json().into()],
                last_replayed: None,
            });
            outbox
                .closer()
                .request(CloseCode::Again, "unavailable, retry later");
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
    // The close frame goes out now that the client's traces are gone, so a client that
    // reconnects at once never races its own departure. The server hangs up once the client
    // has answered it (RFC 6455): hanging up before could reset the connection under a
    // client that has not read the close frame yet.
    let closer = outbox.closer();
    closer.farewell(CloseCode::Away, "connection ended");
    outbox.discard();
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, incoming.until_closed()).await;
    closer.hang_up();
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
    let timeout = state.settings.timeouts.join;
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
    let history = state
        .bus
        .history(&request.channel, request.resume().as_ref(), replay::PAGE)
        .await?;
    Ok((roster, history))
}

/// `welcome`, and the id from which the replay (its first page is in `history`, see
/// [`replay`]) and live messages continue.
fn greeting(instance: &str, request: &Request, roster: Roster, history: &History) -> Greeting {
    let welcome = ServerFrame::Welcome {
        channel_id: request.channel.clone(),
        client_id: request.client.clone(),
        online: roster.online,
        online_count: roster.online_count,
        recovered: history.recovered,
        epoch: Some(history.epoch.clone()),
        instance: instance.to_owned(),
    };
    Greeting {
        frames: vec![welcome.to_json().into()],
        last_replayed: request.since.filter(|_| history.recovered),
    }
}
