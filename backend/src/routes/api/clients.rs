//! `DELETE /api/v1/channels/{channel}/clients/{client}` and `DELETE /api/v1/clients/{client}`:
//! moderation. Every connection of the client (in that channel, or in every channel) is
//! closed with 4000 and the given reason, on whichever instance holds it: the request goes out
//! as a signal every instance hears (the channel's, or the control channel's).

use actix_web::{HttpRequest, HttpResponse, web};
use protocol::{ChannelId, ClientId};
use serde::Deserialize;

use super::{ApiError, authorize, messages::channel_id};
use crate::{
    bus::{Signal, control_channel},
    state::AppState,
};

/// The longest reason a close frame can carry, in bytes.
const MAX_REASON_BYTES: usize = 123;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: Option<String>,
}

pub async fn disconnect_from_channel(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let (channel, client) = path.into_inner();
    let channel = channel_id(&channel)?;
    disconnect(&req, &state, channel, &client).await
}

pub async fn disconnect_everywhere(
    req: HttpRequest,
    client: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    disconnect(&req, &state, control_channel(), &client).await
}

async fn disconnect(
    req: &HttpRequest,
    state: &AppState,
    channel: ChannelId,
    client: &str,
) -> Result<HttpResponse, ApiError> {
    let client =
        ClientId::parse(client).map_err(|e| ApiError::BadRequest(format!("client id {e}")))?;
    let reason = web::Query::<Reason>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("bad query: {e}")))?
        .into_inner()
        .reason
        .unwrap_or_else(|| "disconnected by the server".to_owned());
    if reason.len() > MAX_REASON_BYTES {
        return Err(ApiError::BadRequest(format!(
            "reason must fit a close frame: at most {MAX_REASON_BYTES} bytes"
        )));
    }
    state
        .bus
        .signal(
            &channel,
            Signal::Disconnect {
                client: client.clone(),
                reason,
            },
        )
        .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"client_id": client})))
}
