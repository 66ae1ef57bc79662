//! What a connection holds in shared state while it lasts: its place in this instance's hub
//! and its entry in the channel's presence roster. Both are taken as it joins and given back
//! here, in one place, however the session ends.

use tokio::sync::watch;

use super::Request;
use crate::{
    bus::{BusError, ConnKey, Roster},
    hub::{Member, MemberId},
    outbox::Outbox,
    state::AppState,
};

pub struct Membership {
    /// Tells this connection apart from the client id's other connections in the roster.
    conn_key: ConnKey,
    /// The connection's place in the hub, given back on leaving.
    member: MemberId,
    /// Whether the roster has an entry of this connection to remove.
    present: bool,
}

impl Membership {
    /// Puts the connection in the hub, so live events queue up for it from now on; the
    /// receiver turns true once the bus delivers the channel's events to this instance.
    pub fn enter(
        state: &AppState,
        request: &Request,
        outbox: &Outbox,
    ) -> (Self, watch::Receiver<bool>) {
        let conn_key = state.next_conn_key();
        let (member, subscribed) = state.hub.join(
            &request.channel,
            Member {
                client: request.client.clone(),
                conn_key: conn_key.clone(),
                outbox: outbox.clone(),
            },
            &*state.bus,
        );
        log::debug!(channel:% = request.channel, client_id:% = request.client, conn:% = conn_key; "Client connected.");
        let membership = Self {
            conn_key,
            member,
            present: false,
        };
        (membership, subscribed)
    }

    /// Adds the connection to the channel's roster and returns who is online.
    pub async fn join_presence(
        &mut self,
        state: &AppState,
        request: &Request,
    ) -> Result<Roster, BusError> {
        let roster = state
            .bus
            .join_presence(
                &request.channel,
                &request.client,
                request.name.as_ref(),
                &self.conn_key,
            )
            .await?;
        self.present = true;
        Ok(roster)
    }

    /// Takes the connection out of the hub and, if it got there, the roster.
    pub async fn leave(self, state: &AppState, request: &Request) {
        state.hub.leave(&request.channel, self.member, &*state.bus);
        if self.present
            && let Err(e) = state
                .bus
                .leave_presence(&request.channel, &request.client, &self.conn_key)
                .await
        {
            log::warn!(channel:% = request.channel, error:% = e; "Could not remove presence; it will expire.");
        }
        log::debug!(channel:% = request.channel, client_id:% = request.client, conn:% = self.conn_key; "Client disconnected.");
    }
}
