//! Who may connect: browser origins, tokens, and how the client's address is found.

use super::{
    ConfigError,
    names::{ALLOWED_ORIGINS, AUTH_JWT_SECRET, TRUSTED_PROXY_HOPS},
    vars::{Vars, invalid},
};
use crate::auth::{TokenAuthority, authority_from_secret};

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
            auth: authority_from_secret(vars.raw(AUTH_JWT_SECRET))
                .map_err(|e| invalid(AUTH_JWT_SECRET, e.to_string()))?,
            trusted_proxy_hops: vars.number(TRUSTED_PROXY_HOPS, 0, 0)?,
        })
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
