//! Who may connect: browser origins, tokens, and how the client's address is found.

use super::{
    ConfigError,
    names::{
        ALLOWED_ORIGINS, AUTH_CLOCK_LEEWAY_SECS, AUTH_JWT_PREVIOUS_SECRET, AUTH_JWT_SECRET,
        TRUSTED_PROXY_HOPS,
    },
    vars::{Vars, invalid},
};
use crate::auth::{DEFAULT_CLOCK_LEEWAY_SECS, TokenAuthority, authority_from_secret, read_secret};

/// Most clock leeway accepted: beyond a few minutes it is no longer about clocks, it lets
/// expired tokens in.
const MAX_CLOCK_LEEWAY_SECS: u64 = 300;

/// Origins the browser page is served from when run locally (see the README).
pub const DEFAULT_ALLOWED_ORIGINS: &str = "http://localhost:3000,http://127.0.0.1:3000";

#[derive(Debug, Clone)]
pub struct AccessSettings {
    pub allowed_origins: AllowedOrigins,
    /// When set, connections need a token signed with it.
    pub auth: Option<TokenAuthority>,
    /// Proxies in front of the service that each append the address they saw to
    /// `X-Forwarded-For` (1 for Cloud Run's front end): the client's address is that many
    /// entries from the right. 0: the socket's peer.
    pub trusted_proxy_hops: usize,
}

impl AccessSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            allowed_origins: AllowedOrigins::parse(
                vars.get(ALLOWED_ORIGINS).unwrap_or(DEFAULT_ALLOWED_ORIGINS),
            )?,
            auth: read_authority(vars)?,
            trusted_proxy_hops: vars.number(TRUSTED_PROXY_HOPS, 0, 0)?,
        })
    }
}

/// The current secret, the previous one during a rotation, and the clock leeway.
fn read_authority(vars: &Vars) -> Result<Option<TokenAuthority>, ConfigError> {
    let current = authority_from_secret(vars.raw(AUTH_JWT_SECRET))
        .map_err(|e| invalid(AUTH_JWT_SECRET, e.to_string()))?;
    let previous = read_secret(vars.raw(AUTH_JWT_PREVIOUS_SECRET))
        .map_err(|e| invalid(AUTH_JWT_PREVIOUS_SECRET, e.to_string()))?;
    let leeway = vars.number(AUTH_CLOCK_LEEWAY_SECS, DEFAULT_CLOCK_LEEWAY_SECS, 0)?;
    if leeway > MAX_CLOCK_LEEWAY_SECS {
        return Err(invalid(
            AUTH_CLOCK_LEEWAY_SECS,
            format!("must be at most {MAX_CLOCK_LEEWAY_SECS}"),
        ));
    }
    match (current, previous) {
        (None, Some(_)) => Err(invalid(
            AUTH_JWT_PREVIOUS_SECRET,
            format!("is only read beside {AUTH_JWT_SECRET}, which is not set"),
        )),
        (None, None) => Ok(None),
        (Some(current), previous) => {
            let current = current.with_leeway(leeway);
            Ok(Some(match previous {
                Some(previous) => current.with_previous(previous.as_bytes()),
                None => current,
            }))
        }
    }
}

/// Which browser origins may open a WebSocket (defence against cross-site WebSocket
/// hijacking). Requests without `Origin` come from non-browser clients and are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    List(Vec<String>),
}

impl AllowedOrigins {
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }

    fn parse(raw: &str) -> Result<Self, ConfigError> {
        if raw.trim() == "*" {
            return Ok(AllowedOrigins::Any);
        }
        let list: Vec<String> = raw
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if let Some(bad) = list
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(invalid(
                ALLOWED_ORIGINS,
                format!("{bad:?} is not an origin like https://chat.example.com"),
            ));
        }
        Ok(AllowedOrigins::List(list))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn read(pairs: &[(&str, &str)]) -> Result<Option<TokenAuthority>, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read_authority(&Vars::new(map))
    }

    #[test]
    fn a_rotation_needs_the_current_secret_and_a_sane_leeway() {
        assert!(read(&[]).unwrap().is_none());
        let auth = read(&[
            (AUTH_JWT_SECRET, SECRET),
            (
                AUTH_JWT_PREVIOUS_SECRET,
                "another secret of at least 32 bytes",
            ),
        ])
        .unwrap()
        .unwrap();
        assert!(format!("{auth:?}").contains("leeway: 30"), "{auth:?}");
        for (pairs, named) in [
            (
                vec![(AUTH_JWT_PREVIOUS_SECRET, SECRET)],
                AUTH_JWT_PREVIOUS_SECRET,
            ),
            (
                vec![
                    (AUTH_JWT_SECRET, SECRET),
                    (AUTH_JWT_PREVIOUS_SECRET, "short"),
                ],
                AUTH_JWT_PREVIOUS_SECRET,
            ),
            (
                vec![(AUTH_JWT_SECRET, SECRET), (AUTH_CLOCK_LEEWAY_SECS, "301")],
                AUTH_CLOCK_LEEWAY_SECS,
            ),
            (
                vec![(AUTH_JWT_SECRET, SECRET), (AUTH_CLOCK_LEEWAY_SECS, "-1")],
                AUTH_CLOCK_LEEWAY_SECS,
            ),
        ] {
            let err = read(&pairs).unwrap_err().to_string();
            assert!(err.starts_with(named), "{pairs:?}: {err}");
        }
    }
}
