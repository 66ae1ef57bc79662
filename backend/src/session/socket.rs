//! An upgraded connection's own I/O: after the `101`, the socket is taken out of the HTTP
//! server's hands, so an idle connection keeps no read or write buffer (the HTTP/1 server
//! would keep 8 KiB of each for the connection's life).
//!
//! Reads go through a stack buffer and hand on only the bytes that arrived; writes send the
//! writer's chunks as they come. This future lives as long as the connection's writer, so
//! the server counts the connection as open until its close frame is out.

use std::{io, pin::Pin, sync::Arc};

use actix_web::rt::net::TcpStream;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use tokio::{
    io::AsyncWriteExt,
    net::tcp::{OwnedReadHalf, OwnedWriteHalf},
};

use super::{Request, Writer};
use crate::{shutdown::ConnectionGuard, state::AppState};

/// The bytes a client sends, as they arrive.
pub type ClientBytes = Pin<Box<dyn Stream<Item = io::Result<Bytes>>>>;

/// Largest read at once; only what arrived is kept.
const READ_CHUNK: usize = 4096;

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
    let writer = super::start(
        state,
        request,
        client_bytes(early, read),
        connection.clone(),
    );
    write_all(writer, write).await;
    drop(connection);
}

fn client_bytes(early: Bytes, read: OwnedReadHalf) -> ClientBytes {
    let early = stream::iter((!early.is_empty()).then_some(Ok(early)));
    let rest = stream::unfold(Some(read), |read| async move {
        let read = read?;
        loop {
            if let Err(e) = read.readable().await {
                return Some((Err(e), None));
            }
            // Not held across an await: an idle connection's read state keeps no buffer.
            let mut buf = [0u8; READ_CHUNK];
            match read.try_read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => return Some((Ok(Bytes::copy_from_slice(&buf[..n])), Some(read))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Some((Err(e), None)),
            }
        }
    });
    Box::pin(early.chain(rest))
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
