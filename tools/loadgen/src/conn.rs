//! Opening one WebSocket: bind a source address, connect, upgrade, join (see [`Wire::join`]); and
//! naming why that failed, so a report can say *how* connections fail, not just how many.

use std::{
    io,
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use futures_util::StreamExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{self, Message, protocol::WebSocketConfig},
};

use crate::wire::{Join, Wire};

pub type Ws = WebSocketStream<TcpStream>;

/// Small buffers: tens of thousands of sockets must fit in memory, and frames are small.
pub fn ws_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(protocol::frames::MAX_FRAME_BYTES * 4))
        .max_frame_size(Some(protocol::frames::MAX_FRAME_BYTES * 4))
}

/// Why a connection could not be opened: short stable names, used as report keys.
pub fn io_cause(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(24) | Some(23) => return "too_many_open_files".into(), // EMFILE, ENFILE
        Some(98) | Some(99) => return "address_exhausted".into(),   // EADDRINUSE, EADDRNOTAVAIL
        _ => {}
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused".into(),
        io::ErrorKind::ConnectionReset => "reset".into(),
        io::ErrorKind::ConnectionAborted => "aborted".into(),
        io::ErrorKind::TimedOut => "timeout".into(),
        io::ErrorKind::AddrInUse | io::ErrorKind::AddrNotAvailable => "address_exhausted".into(),
        io::ErrorKind::UnexpectedEof => "closed".into(),
        kind => format!("io_{kind:?}").to_lowercase(),
    }
}

pub fn ws_cause(e: &tungstenite::Error) -> String {
    use tungstenite::Error as E;
    match e {
        E::Http(response) => format!("http_{}", response.status().as_u16()),
        E::Io(io) => io_cause(io),
        E::ConnectionClosed | E::AlreadyClosed => "closed".into(),
        E::Protocol(_) => "protocol_error".into(),
        E::Capacity(_) => "too_large".into(),
        _ => "handshake_error".into(),
    }
}

/// Opens `url` to `addr` from `source` and joins the socket to its channel as `wire` does it
/// (our `welcome`, socket.io's `signin`). The caller bounds the time.
pub async fn open(
    addr: SocketAddr,
    source: Option<IpAddr>,
    url: &str,
    config: WebSocketConfig,
    timeout: Duration,
    wire: Wire,
    join: Join<'_>,
) -> Result<Ws, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| io_cause(&e))?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| io_cause(&e))?;
    }
    let stream = tokio::time::timeout_at(deadline, socket.connect(addr))
        .await
        .map_err(|_| "timeout".to_owned())?
        .map_err(|e| io_cause(&e))?;
    stream.set_nodelay(true).map_err(|e| io_cause(&e))?;
    let (mut ws, _response) = tokio::time::timeout_at(
        deadline,
        tokio_tungstenite::client_async_with_config(url, stream, Some(config)),
    )
    .await
    .map_err(|_| "timeout".to_owned())?
    .map_err(|e| ws_cause(&e))?;
    wire.join(&mut ws, join, deadline).await?;
    Ok(ws)
}

/// The next text frame, by `deadline`; `what` names the awaited frame in the causes
/// (`welcome_timeout`, `closed_before_welcome`).
pub async fn next_text(
    ws: &mut Ws,
    deadline: tokio::time::Instant,
    what: &str,
) -> Result<String, String> {
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| format!("{what}_timeout"))?;
        match next {
            None => return Err(format!("closed_before_{what}")),
            Some(Err(e)) => return Err(ws_cause(&e)),
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => {
                return Err(match frame {
                    Some(f) => format!("closed_{}", u16::from(f.code)),
                    None => format!("closed_before_{what}"),
                });
            }
            Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_io_causes() {
        let os = |n| io_cause(&io::Error::from_raw_os_error(n));
        assert_eq!(os(111), "refused");
        assert_eq!(os(24), "too_many_open_files");
        assert_eq!(os(99), "address_exhausted");
        assert_eq!(os(98), "address_exhausted");
        assert_eq!(os(104), "reset");
        assert_eq!(os(110), "timeout");
    }

    async fn open_chat(addr: SocketAddr, source: Option<IpAddr>, url: &str) -> Result<Ws, String> {
        let join = Join {
            channel: "a",
            client: "b",
        };
        let timeout = Duration::from_secs(2);
        open(
            addr,
            source,
            url,
            ws_config(4096),
            timeout,
            Wire::Chat,
            join,
        )
        .await
    }

    #[tokio::test]
    async fn refused_and_http_status_are_named() {
        // A port nobody listens on.
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let url = format!("ws://{free}/ws/a/b");
        let err = open_chat(free, None, &url).await;
        assert_eq!(err.err().as_deref(), Some("refused"));

        // A server answering 503 before the upgrade.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let url = format!("ws://{addr}/ws/a/b");
        let source = Some("127.0.0.3".parse().unwrap());
        let err = open_chat(addr, source, &url).await;
        assert_eq!(err.err().as_deref(), Some("http_503"));
    }
}
