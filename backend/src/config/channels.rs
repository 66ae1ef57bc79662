//! What every channel keeps: its history and how long it and its send nonces are remembered.

use super::{
    ConfigError,
    names::{CHANNEL_TTL_SECS, DEDUPE_WINDOW_SECS, HISTORY_LIMIT, HISTORY_MAX},
    vars::{Vars, invalid},
};
use crate::bus::ChannelPolicy;

/// Reads the policy every bus applies to its channels.
pub(super) fn read_channel_policy(vars: &Vars) -> Result<ChannelPolicy, ConfigError> {
    let history_limit = vars.number(HISTORY_LIMIT, 50, 0)?;
    let history_max = vars.number(HISTORY_MAX, 1000, 1)?;
    if history_limit > history_max {
        return Err(invalid(
            HISTORY_LIMIT,
            format!("must not exceed {HISTORY_MAX} ({history_max})"),
        ));
    }
    Ok(ChannelPolicy {
        history_limit,
        history_max,
        dedupe_window: vars.secs(DEDUPE_WINDOW_SECS, 600)?,
        // A channel nobody sent to or joined for this long (and, on the embedded bus, with
        // no member connected) is forgotten with its history, so channels used once do
        // not hold memory forever.
        channel_ttl: vars.secs(CHANNEL_TTL_SECS, 3 * 24 * 60 * 60)?,
    })
}
