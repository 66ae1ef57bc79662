//! `GET /ws/{channel}/{client}?since={id}&name={name}`: everything about a connection that
//! can be refused is checked here, before the session starts, so a bad request gets an HTTP
//! status and a JSON body — or, from a browser (a request with an `Origin`), which cannot
//! read those, a close code and reason right after the upgrade ([`super::refusal`]) —
//! instead of a socket that closes for no visible reason.
//!
//! Upgrade requests never reach the app's router: the HTTP server hands them, with their
//! socket, to [`upgrade`], which answers `101` and gives the socket to the session. A plain
//! `GET` of the same path goes through the router to [`connect`] and is refused.

use std::{collections::HashMap, net::IpAddr, sync::Arc};

use actix_codec::{Framed, FramedParts};
use actix_http::{
    RequestHead,
    body::{BodySize, MessageBody},
    h1,
};
use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::{StatusCode, header},
    rt::net::TcpStream,
    web,
};
use bytes::Bytes;
use futures_util::SinkExt;
use protocol::{ChannelId, ClientId, DisplayName, Epoch, IdError, MessageId};

use super::{handshake_error::HandshakeError, refusal};
use crate::{
    admission::{Crowded, Slot, client_address},
    auth::AuthError,
    session,
    state::AppState,
};

/// A `GET` without `Upgrade`: refused like any bad handshake, after the same checks.
pub async fn connect(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let refusal = match validate(req.head(), &state) {
        Err(Refusal::Bad(e)) => e,
        _ => match actix_http::ws::verify_handshake(req.head()) {
            Err(e) => HandshakeError::NotWebSocket(e.to_string()),
            Ok(()) => HandshakeError::NotWebSocket("the request did not ask for an upgrade".into()),
        },
    };
    let source = source_address(req.head(), req.peer_addr().map(|a| a.ip()), &state);
    record(&state, &refusal, source);
    refusal.error_response()
}

/// Counts a refusal by reason and logs it (once per source and reason, at a bounded rate).
fn record(state: &AppState, refusal: &HandshakeError, source: Option<IpAddr>) {
    state.metrics.upgrade_refused(refusal.reason());
    state.refusals.note(refusal, source);
}

/// Every request that asks for an upgrade, with its socket.
pub async fn upgrade(
    state: Arc<AppState>,
    req: actix_http::Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), actix_web::Error> {
    let head = req.head();
    let peer = framed.io_ref().peer_addr().ok().map(|a| a.ip());
    let source = source_address(head, peer, &state);
    let accepted = validate(head, &state).and_then(|request| {
        let connection = state
            .connections
            .try_track(state.settings.limits.connections.total)
            .ok_or(HandshakeError::TooManyConnections)?;
        let slot = admit(&state, &request, source)?;
        let response = actix_http::ws::handshake(head)
            .map_err(|e| HandshakeError::NotWebSocket(e.to_string()))?
            .finish()
            .drop_body();
        Ok((request, (connection, slot), response))
    });
    let (request, (connection, slot), response) = match accepted {
        Ok(accepted) => accepted,
        Err(Refusal::NotFound) => return Ok(refuse(&mut framed, not_found()).await?),
        Err(Refusal::Bad(e)) => {
            record(&state, &e, source);
            if let Some(code) = refusal::close_code_for(head, &e) {
                return Ok(refusal::close_after_upgrade(head, framed, code, &e).await?);
            }
            return Ok(refuse(&mut framed, e.error_response()).await?);
        }
    };
    framed.send((response, BodySize::None).into()).await?;
    drop(req);
    // Keep the socket and any bytes the client sent early; the HTTP server's 8 KiB read and
    // write buffers are dropped here rather than held for the connection's life.
    let FramedParts { io, read_buf, .. } = framed.into_parts();
    let early = Bytes::copy_from_slice(&read_buf);
    drop(read_buf);
    // The session runs on its own runtime (see `AppState::sessions`); this task, and what it
    // held for the handshake, ends here. The socket leaves this worker's reactor for it.
    session::start(state, request, connection, io.into_std()?, early, slot)?;
    Ok(())
}

/// Why an upgrade request is turned away.
enum Refusal {
    /// Not a WebSocket path at all.
    NotFound,
    Bad(HandshakeError),
}

impl From<HandshakeError> for Refusal {
    fn from(e: HandshakeError) -> Self {
        Refusal::Bad(e)
    }
}

fn not_found() -> HttpResponse {
    HttpResponse::build(StatusCode::NOT_FOUND).json(serde_json::json!({
        "error": "not_found",
        "message": "WebSocket connections go to /ws/{channel}/{client}",
    }))
}

/// Answers an upgrade request with `response` and closes the connection.
async fn refuse(
    framed: &mut Framed<TcpStream, h1::Codec>,
    response: HttpResponse,
) -> std::io::Result<()> {
    let (response, body) = actix_http::Response::from(response).into_parts();
    let body = body.try_into_bytes().unwrap_or_default();
    let size = BodySize::Sized(body.len() as u64);
    // Head and body leave in one write: a client may read no further than the first segment.
    framed.feed((response.drop_body(), size).into()).await?;
    framed.feed(h1::Message::Chunk(Some(body))).await?;
    framed.send(h1::Message::Chunk(None)).await?;
    framed.close().await
}

/// The client's address (an IPv6 /64), behind as many proxies as are trusted.
fn source_address(head: &RequestHead, peer: Option<IpAddr>, state: &AppState) -> Option<IpAddr> {
    let forwarded_for: Vec<&str> = head
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    client_address(
        &forwarded_for,
        peer,
        state.settings.access.trusted_proxy_hops,
    )
}

/// Takes a place among the client id's and the source address's connections.
fn admit(
    state: &AppState,
    request: &session::Request,
    address: Option<IpAddr>,
) -> Result<Slot, HandshakeError> {
    state
        .admission
        .try_admit(&request.client, address)
        .map_err(|crowded| match crowded {
            Crowded::Client => HandshakeError::TooManyForClient,
            Crowded::Address => HandshakeError::TooManyFromAddress,
        })
}

/// `/ws/{channel}/{client}`, both segments present.
fn path_segments(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/ws/")?;
    let (channel, client) = rest.split_once('/')?;
    (!client.contains('/')).then_some((channel, client))
}

fn bearer_token(head: &RequestHead) -> Option<&str> {
    head.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(crate::auth::bearer_token)
}

fn validate(head: &RequestHead, state: &AppState) -> Result<session::Request, Refusal> {
    let (channel, client) = path_segments(head.uri.path()).ok_or(Refusal::NotFound)?;
    let channel = ChannelId::parse(channel).map_err(HandshakeError::InvalidChannel)?;
    if channel.is_reserved() {
        return Err(HandshakeError::InvalidChannel(IdError::Reserved).into());
    }
    let client = ClientId::parse(client).map_err(HandshakeError::InvalidClient)?;
    let query =
        web::Query::<HashMap<String, String>>::from_query(head.uri.query().unwrap_or_default())
            .map_err(|e| HandshakeError::InvalidQuery(e.to_string()))?;
    let since = query
        .get("since")
        .map(|raw| raw.parse::<MessageId>())
        .transpose()
        .map_err(HandshakeError::InvalidSince)?;
    let epoch = query
        .get("epoch")
        .map(|raw| Epoch::parse(raw))
        .transpose()
        .map_err(HandshakeError::InvalidEpoch)?;
    if let Some(origin) = head.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !state.settings.access.allowed_origins.allows(origin) {
            return Err(HandshakeError::OriginNotAllowed(origin.to_owned()).into());
        }
    }
    // The display name: the query's, unless tokens are required (below). Absent is no name;
    // present but invalid is refused.
    let mut raw_name = query.get("name").cloned();
    let mut token_expires = None;
    if let Some(authority) = &state.settings.access.auth {
        let token = query
            .get("token")
            .map(String::as_str)
            .or_else(|| bearer_token(head))
            .ok_or(HandshakeError::Unauthorized(AuthError::Missing))?;
        let claims = authority
            .verify_now(token, &client, &channel)
            .map_err(HandshakeError::Unauthorized)?;
        token_expires = Some(authority.holds_until(&claims));
        // With tokens, the name is the token's: a client cannot call itself what its token
        // does not say.
        raw_name = claims.name;
    }
    let name = raw_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()
        .map_err(HandshakeError::InvalidName)?;
    if state.shutdown.has_begun() {
        return Err(HandshakeError::ShuttingDown.into());
    }
    Ok(session::Request {
        channel,
        client,
        name,
        since,
        epoch,
        token_expires,
    })
}

#[cfg(test)]
mod tests {
    use super::path_segments;

    #[test]
    fn only_two_segments_under_ws_are_a_websocket_path() {
        assert_eq!(path_segments("/ws/room/alice"), Some(("room", "alice")));
        assert_eq!(path_segments("/ws/room/"), Some(("room", "")));
        assert_eq!(path_segments("/ws/room"), None);
        assert_eq!(path_segments("/ws/room/alice/extra"), None);
        assert_eq!(path_segments("/healthz"), None);
    }
}
