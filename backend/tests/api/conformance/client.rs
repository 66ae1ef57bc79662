//! A WebSocket client written by hand over a plain TCP socket, so it can send what no
//! library would, and read every frame the server sends back.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::cases::{BINARY, CLOSE, PING, PONG, Step, TEXT};
use crate::helpers::PATIENCE;

/// A frame from the server (never masked).
#[derive(Debug)]
pub enum Got {
    Text(String),
    Binary,
    Ping,
    Pong(Vec<u8>),
    Close(Option<u16>),
}

pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    /// Completes the handshake and reads the `welcome`.
    pub async fn connect(port: u16, channel: &str) -> Result<Self, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let request = format!(
            "GET /ws/{channel}/conformance HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let mut client = Self {
            stream,
            buf: Vec::new(),
        };
        let deadline = Instant::now() + PATIENCE;
        let head_end = loop {
            if let Some(end) = client.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if !client.fill(deadline).await {
                return Err("no handshake response".into());
            }
        };
        let head = String::from_utf8_lossy(&client.buf[..head_end]).to_string();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(format!("handshake refused: {head}"));
        }
        client.buf.drain(..head_end);
        match client.frame(deadline).await {
            Some(Got::Text(text)) if text.contains(r#""type":"welcome""#) => Ok(client),
            other => Err(format!("expected a welcome, got {other:?}")),
        }
    }

    /// Reads more; false at the end of the stream, on an error or at the deadline.
    async fn fill(&mut self, deadline: Instant) -> bool {
        let mut chunk = [0u8; 8192];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// The next whole frame, `None` at the end of the stream or the deadline.
    pub async fn frame(&mut self, deadline: Instant) -> Option<Got> {
        loop {
            if let Some((got, len)) = parse_server_frame(&self.buf) {
                self.buf.drain(..len);
                return Some(got);
            }
            if !self.fill(deadline).await {
                return None;
            }
        }
    }

    pub async fn send(&mut self, step: &Step) -> std::io::Result<()> {
        match step {
            Step::Send(bytes) => self.stream.write_all(bytes).await,
            Step::Chop(bytes, size) => {
                for piece in bytes.chunks(*size) {
                    self.stream.write_all(piece).await?;
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                Ok(())
            }
        }
    }

    /// Writes bytes as they are; the server may already have hung up.
    pub async fn write(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Writes bytes, giving up after a second: false when the server no longer takes them.
    pub async fn try_write(&mut self, bytes: &[u8]) -> bool {
        let write = self.stream.write_all(bytes);
        matches!(
            tokio::time::timeout(Duration::from_secs(1), write).await,
            Ok(Ok(()))
        )
    }

    /// Whether the server has closed the connection by the deadline (end of stream or a
    /// reset), reading and discarding anything else.
    pub async fn closed_by(&mut self, deadline: Instant) -> bool {
        let mut chunk = [0u8; 8192];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

fn parse_server_frame(buf: &[u8]) -> Option<(Got, usize)> {
    let [first, second, ..] = *buf else {
        return None;
    };
    let (len, at) = match second & 0x7f {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(at..at + len)?;
    let got = match first & 0x0f {
        TEXT => Got::Text(String::from_utf8_lossy(payload).into_owned()),
        BINARY => Got::Binary,
        PING => Got::Ping,
        PONG => Got::Pong(payload.to_vec()),
        CLOSE => Got::Close(
            payload
                .get(..2)
                .map(|code| u16::from_be_bytes([code[0], code[1]])),
        ),
        other => panic!("server sent opcode {other}"),
    };
    Some((got, at + len))
}
