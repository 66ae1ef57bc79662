//! Refusals a browser can read. A browser's WebSocket API hides the status and body of a
//! refused upgrade (the page only sees close code 1006, as for a network failure), so a
//! request that carries an `Origin` — every browser's does — is refused by completing the
//! upgrade and closing at once with a close code and a reason it can act on (see
//! [`HandshakeError::close_code`]). Clients without an `Origin` keep the HTTP status and JSON
//! body, which they can read.

use std::time::Duration;

use actix_codec::Framed;
use actix_http::{
    RequestHead,
    body::BodySize,
    h1,
    ws::{self, CloseCode, CloseReason},
};
use actix_web::{http::header, rt::net::TcpStream};
use futures_util::{SinkExt, StreamExt};

use super::handshake_error::HandshakeError;

/// How long a refused client is given to answer the close before the socket is dropped. A
/// refusal must not hold a socket for long (a refused flood at the connection cap would hold
/// one per refusal); a client whose answer is slower still gets the code and reason, which
/// arrived before the socket closed.
const CLOSE_ANSWER_WAIT: Duration = Duration::from_millis(500);

/// The longest close reason the protocol allows, in bytes.
const MAX_REASON_BYTES: usize = 123;

/// The close code to refuse this request with after an upgrade, if it is a browser's, is a
/// valid upgrade request, and the refusal has one; `None` means: answer with the HTTP status.
pub fn close_code_for(head: &RequestHead, refusal: &HandshakeError) -> Option<u16> {
    let browser = head.headers().contains_key(header::ORIGIN);
    let upgradable = ws::verify_handshake(head).is_ok();
    (browser && upgradable)
        .then(|| refusal.close_code())
        .flatten()
}

/// Upgrades, sends a close frame with `code` and the refusal's sentence, waits briefly for the
/// client's close and drops the connection. For requests [`close_code_for`] gave a code.
pub async fn close_after_upgrade(
    head: &RequestHead,
    mut framed: Framed<TcpStream, h1::Codec>,
    code: u16,
    refusal: &HandshakeError,
) -> std::io::Result<()> {
    let mut response = ws::handshake(head).map_err(|e| std::io::Error::other(e.to_string()))?;
    let response = response.finish().drop_body();
    framed.send((response, BodySize::None).into()).await?;
    let mut socket = framed.replace_codec(ws::Codec::new());
    socket
        .send(ws::Message::Close(Some(CloseReason {
            code: CloseCode::Other(code),
            description: Some(bounded(&refusal.to_string())),
        })))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // The client answers with its own close (or just goes); nothing else is read.
    let _ = tokio::time::timeout(CLOSE_ANSWER_WAIT, socket.next()).await;
    let _ = socket.close().await;
    Ok(())
}

/// `reason` cut to what a close frame can carry, at a character boundary.
fn bounded(reason: &str) -> String {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn reasons_fit_a_close_frame_at_a_character_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(100);
        let cut = bounded(&long);
        assert!(cut.len() <= 123 && cut.len() >= 121, "{}", cut.len());
        assert!(long.starts_with(&cut));
    }
}
