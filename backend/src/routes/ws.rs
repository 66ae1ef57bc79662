//! `GET /ws/{channel}/{client}?since={id}`: everything about a connection that can be refused
//! is checked here, before the upgrade, so a bad request gets an HTTP status and a JSON body
//! instead of a socket that closes for no visible reason.

use std::collections::HashMap;

use actix_http::body::{BodyStream, MessageBody};
use actix_web::{HttpRequest, HttpResponse, http::header, web};
use protocol::{ChannelId, ClientId, MessageId};

use crate::{auth::AuthError, error::HandshakeError, session, state::AppState};

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HandshakeError> {
    let request = validate(&req, &state)?;
    let connection = state
        .connections
        .try_track(state.settings.max_connections)
        .ok_or(HandshakeError::TooManyConnections)?;
    let mut response = actix_http::ws::handshake(req.head())
        .map_err(|e| HandshakeError::NotWebSocket(e.to_string()))?;
    let writer = session::start(state.into_inner(), request, body.into_inner(), connection);
    // The writer is the response body: the server polls it whenever the socket can take more.
    let response = response.finish().set_body(BodyStream::new(writer).boxed());
    Ok(response.into())
}

fn validate(req: &HttpRequest, state: &AppState) -> Result<session::Request, HandshakeError> {
    let segment = |name| req.match_info().get(name).unwrap_or_default();
    let channel = ChannelId::parse(segment("channel")).map_err(HandshakeError::InvalidChannel)?;
    let client = ClientId::parse(segment("client")).map_err(HandshakeError::InvalidClient)?;
    let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map_err(|e| HandshakeError::InvalidQuery(e.to_string()))?;
    let since = query
        .get("since")
        .map(|raw| raw.parse::<MessageId>())
        .transpose()
        .map_err(HandshakeError::InvalidSince)?;
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !state.settings.allowed_origins.allows(origin) {
            return Err(HandshakeError::OriginNotAllowed(origin.to_owned()));
        }
    }
    if let Some(authority) = &state.settings.auth {
        let token = query
            .get("token")
            .map(String::as_str)
            .or_else(|| bearer_token(req))
            .ok_or(HandshakeError::Unauthorized(AuthError::Missing))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        authority
            .verify(token, &client, &channel, now)
            .map_err(HandshakeError::Unauthorized)?;
    }
    if state.shutdown.has_begun() {
        return Err(HandshakeError::ShuttingDown);
    }
    Ok(session::Request {
        channel,
        client,
        since,
    })
}
