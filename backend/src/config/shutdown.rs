//! How the instance winds down on SIGTERM.

use std::time::Duration;

use super::{
    ConfigError,
    names::{SHUTDOWN_GRACE_SECS, SHUTDOWN_SPREAD_MS},
    vars::Vars,
};

#[derive(Debug, Clone, Copy)]
pub struct ShutdownSettings {
    /// How long shutdown waits for connections to close; below Cloud Run's 10 s grace.
    pub grace: Duration,
    /// Closes are spread over this window so clients do not all reconnect at once.
    pub spread: Duration,
}

impl ShutdownSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            grace: vars.secs(SHUTDOWN_GRACE_SECS, 8)?,
            spread: vars.millis(SHUTDOWN_SPREAD_MS, 2000, 0)?,
        })
    }
}
