//! One WebSocket connection, from the upgrade to the end of the closing handshake.
//!
//! [`start`] is the only way in. It moves the upgraded socket off the HTTP server's worker
//! onto the sessions runtime and splits it: the read half goes to the client's frames
//! ([`incoming`]), the write half to the connection's writer ([`writer`], a task of its own),
//! which sends the greeting, then drains the connection's bounded outbound queue
//! ([`crate::outbox`]). The session's own task joins the channel ([`join`]), runs
//! the replay ([`replay`]) alongside the event loop ([`event_loop`], which leaves what to
//! answer each client frame with to [`answers`]), and then gives back what the connection
//! held ([`membership`]) before it closes.
//!
//! Beside them: [`frame_decoder`] (the RFC 6455 decoding under [`incoming`]) and
//! [`read_check`] (the read side's properties, checked by the fuzz tests). The send budgets
//! [`answers`] draws on are [`crate::rate_limit`]'s, kept across reconnects.

mod answers;
mod event_loop;
mod frame_decoder;
pub mod incoming;
mod join;
mod membership;
pub mod read_check;
mod replay;
mod writer;

use std::{sync::Arc, time::Duration};

use actix_http::ws::CloseCode;
use bytes::Bytes;
use protocol::{ChannelId, ClientId, DisplayName, Epoch, MessageId, frames::MAX_FRAME_BYTES};
use tokio::net::{TcpStream, tcp::OwnedReadHalf};

use self::{
    event_loop::EventLoop,
    incoming::IncomingFrames,
    membership::Membership,
    writer::{GreetingSender, Writer},
};
use crate::{
    admission::Slot,
    bus::Resume,
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
    /// The display name the connection speaks under, when it has one.
    pub name: Option<DisplayName>,
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

/// The client's frames, read from the socket's read half. Boxed: they move from the session
/// to its event loop and back, and each would otherwise keep a slot of their size.
type ClientFrames = Box<IncomingFrames<OwnedReadHalf>>;

/// Starts the session of an upgraded connection on the sessions runtime
/// ([`AppState::sessions`]). `early` is what the client sent right after its request head,
/// before the upgrade was answered; `slot` (what the connection counts against per client
/// and per address) is held until the connection is over.
///
/// The socket is taken out of the HTTP server's hands, so an idle connection keeps no read
/// or write buffer (the HTTP/1 server would keep 8 KiB of each for the connection's life),
/// and no HTTP task either. Two small tasks carry it: the writer's and the session's (join,
/// replay, event loop, leave). The server counts the connection as open until both are
/// done: the session's cleanup and its close frame.
pub fn start(
    state: Arc<AppState>,
    request: Request,
    connection: ConnectionGuard,
    socket: std::net::TcpStream,
    early: Bytes,
    slot: Slot,
) -> std::io::Result<()> {
    let _runtime = state.sessions.enter();
    // Registers the socket with the sessions runtime's reactor.
    let (read, write) = TcpStream::from_std(socket)?.into_split();
    let connection = Arc::new((connection, slot));
    let (outbox, queued) = outbox::channel(state.settings.limits.outbound);
    let (writer, greet, writer_gone) =
        Writer::new(queued, outbox.closer().clone(), state.metrics.clone());
    let frames = Box::new(IncomingFrames::new(
        read,
        early,
        writer_gone,
        MAX_FRAME_BYTES,
        state.settings.timeouts.message,
    ));
    tokio::spawn(converse(
        state,
        request,
        outbox,
        greet,
        frames,
        connection.clone(),
    ));
    tokio::spawn(async move {
        writer.write_to(write).await;
        drop(connection);
    });
    Ok(())
}

/// The session's own task: join, greet, replay alongside the event loop, leave, close.
///
/// An `async` block rather than an `async fn`, which would keep its arguments twice in the
/// task an idle connection holds for its whole life.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store its arguments twice"
)]
fn converse(
    state: Arc<AppState>,
    request: Request,
    outbox: Outbox,
    greet: GreetingSender,
    mut frames: ClientFrames,
    connection: Arc<(ConnectionGuard, Slot)>,
) -> impl Future<Output = ()> + Send {
    async move {
        let (mut membership, subscribed) = Membership::enter(&state, &request, &outbox);
        // What runs once (joining, leaving, closing) is boxed, so the task an idle connection
        // keeps is only as large as its event loop, not as its largest step.
        match Box::pin(join::join(&state, &request, &mut membership, subscribed)).await {
            Ok((roster, history)) => {
                let greeting = join::greeting(&state.instance_id, &request, roster, &history);
                // Fails only when the connection is already over.
                if greet.send(greeting).is_ok() {
                    // Built in place: a future kept in a local would be stored in this task too.
                    frames = replay::alongside(
                        replay::send(
                            &state,
                            &request.channel,
                            &history.epoch,
                            history.messages,
                            &outbox,
                        ),
                        EventLoop::new(&state, &request, frames, outbox.clone()).run(),
                    )
                    .await;
                }
            }
            Err(e) => {
                log::warn!(channel:% = request.channel, error:% = e; "Could not join a client.");
                let _ = greet.send(join::refusal(&e));
                outbox
                    .closer()
                    .request(CloseCode::Again, "unavailable, retry later");
            }
        }
        Box::pin(membership.leave(&state, &request)).await;
        Box::pin(close(&outbox, frames)).await;
        drop(connection);
    }
}

/// Sends the close frame and hangs up once the client has answered it.
///
/// The close frame goes out only now that the client's traces are gone, so a client that
/// reconnects at once never races its own departure. The server hangs up once the client
/// has answered it (RFC 6455): hanging up before could reset the connection under a client
/// that has not read the close frame yet.
async fn close(outbox: &Outbox, mut frames: ClientFrames) {
    let closer = outbox.closer();
    closer.farewell(CloseCode::Away, "connection ended");
    outbox.discard();
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, frames.until_closed()).await;
    closer.hang_up();
}
