//! `GET /api/v1/channels/{channel}/presence`: who is online in a channel, from the same
//! roster the members' `welcome` and presence events come from.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ApiError, authorize, messages::channel_id};
use crate::state::AppState;

pub async fn online(
    req: HttpRequest,
    channel: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    let channel = channel_id(&channel)?;
    let roster = state.bus.presence(&channel).await?;
    let online: Vec<_> = roster
        .online
        .iter()
        .map(|client| {
            serde_json::json!({
                "client_id": client,
                "name": roster.names.get(client),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "channel_id": channel,
        "online": online,
        "online_count": roster.online_count,
    })))
}
