//! An upgraded connection's own I/O: after the `101`, the socket is taken out of the HTTP
//! server's hands, so an idle connection keeps no read or write buffer (the HTTP/1 server
//! would keep 8 KiB of each for the connection's life).
//!
//! The read half goes to the session's frame reader ([`super::incoming`]); writes send the
//! writer's chunks as they come. This future lives as long as the connection's writer, so
//! the server counts the connection as open until its close frame is out.

use std::sync::Arc;

use actix_web::rt::net::TcpStream;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::{io::AsyncWriteExt, net::tcp::OwnedWriteHalf};

use super::{Request, Writer};
use crate::{shutdown::ConnectionGuard, state::AppState};

/// Runs the session of an upgraded connection until its writer is done. `early` is what the
/// client sent right after its request head, before the upgrade was answered.
pub async fn serve(
    state: Arc<AppState>,
    request: Request,
    connection: ConnectionGuard,
    socket: TcpStream,
    early: Bytes,
) {
    let (read, write) = socket.into_split();
    // Counted until both the session (cleanup) and this (the close frame) are done.
    let connection = Arc::new(connection);
    let writer = super::start(state, request, read, early, connection.clone());
    write_all(writer, write).await;
    drop(connection);
}

/// Sends the writer's chunks until it ends, then closes the sending side (FIN). A client
/// that stops reading blocks this until the kernel gives up on it (`TCP_USER_TIMEOUT`).
async fn write_all(mut writer: Writer, mut write: OwnedWriteHalf) {
    while let Some(Ok(chunk)) = writer.next().await {
        if write.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}
