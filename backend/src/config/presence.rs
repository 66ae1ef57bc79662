//! How presence is kept and announced.

use std::time::Duration;

use super::{
    ConfigError,
    names::{PRESENCE_BATCH_MS, PRESENCE_DETAIL_MAX, PRESENCE_TTL_SECS},
    vars::Vars,
};

#[derive(Debug, Clone, Copy)]
pub struct PresenceSettings {
    /// How long a connection stays present without a refresh.
    pub ttl: Duration,
    /// Above this many clients online, a channel's members get the count once a second
    /// (`online`) instead of every `presence` event: announcing each of N joins to N members
    /// costs N² frames.
    pub detail_max: u64,
    /// Presence events of a channel are sent to its local members in batches this far
    /// apart, one frame per client id (its last event), so join/leave churn stays cheap.
    pub batch: Duration,
}

impl PresenceSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            ttl: vars.secs(PRESENCE_TTL_SECS, 30)?,
            detail_max: vars.number(PRESENCE_DETAIL_MAX, 100, 0)?,
            batch: vars.millis(PRESENCE_BATCH_MS, 200, 1)?,
        })
    }
}
