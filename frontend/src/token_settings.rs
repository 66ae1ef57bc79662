//! Where the page gets its tokens, when the backend requires them.
//!
//! | Variable               | Default | Meaning                                                      |
//! |------------------------|---------|--------------------------------------------------------------|
//! | `AUTH_JWT_SECRET`      | unset   | The backend's secret: this service then mints guest tokens (`POST /token`). |
//! | `GUEST_TOKEN_TTL_SECS` | `900`   | Lifetime of a guest token; the page refreshes before it ends. |
//! | `TOKEN_URL`            | unset   | The operator's own token endpoint, which the page calls instead. |
//!
//! The two sources exclude each other: with both set, which one the page should use would be
//! a guess.

use std::{fmt, time::Duration};

use crate::{config::ConfigError, guest_token::GuestSigner};

/// Guest token lifetime unless `GUEST_TOKEN_TTL_SECS` says otherwise.
pub const DEFAULT_GUEST_TOKEN_TTL_SECS: u64 = 900;
/// Shortest guest lifetime: the page must have time to use a token before refreshing it.
const MIN_GUEST_TOKEN_TTL_SECS: u64 = 60;
/// Longest guest lifetime: a day. Guests are anonymous; a leaked token should not last.
const MAX_GUEST_TOKEN_TTL_SECS: u64 = 24 * 3600;

/// Where the page gets its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TokenSettings {
    /// The backend needs none.
    #[default]
    Off,
    /// This service mints them for guests at `POST /token`.
    Guest { signer: GuestSigner, ttl: Duration },
    /// The page asks the operator's endpoint, with the browser's credentials.
    Operator { url: TokenUrl },
}

impl TokenSettings {
    /// Reads `AUTH_JWT_SECRET`, `GUEST_TOKEN_TTL_SECS` and `TOKEN_URL`.
    pub fn read(
        lookup: &impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let secret = lookup("AUTH_JWT_SECRET")?;
        let signer = GuestSigner::from_secret(secret.as_deref())
            .map_err(|reason| ConfigError::InvalidSecret(reason.to_owned()))?;
        let url = lookup("TOKEN_URL")?.filter(|raw| !raw.trim().is_empty());
        let ttl = match lookup("GUEST_TOKEN_TTL_SECS")? {
            None => DEFAULT_GUEST_TOKEN_TTL_SECS,
            Some(raw) => raw
                .trim()
                .parse()
                .ok()
                .filter(|s| (MIN_GUEST_TOKEN_TTL_SECS..=MAX_GUEST_TOKEN_TTL_SECS).contains(s))
                .ok_or(ConfigError::InvalidGuestTokenTtl(raw))?,
        };
        match (signer, url) {
            (Some(_), Some(_)) => Err(ConfigError::TwoTokenSources),
            (Some(signer), None) => Ok(Self::Guest {
                signer,
                ttl: Duration::from_secs(ttl),
            }),
            (None, Some(raw)) => Ok(Self::Operator {
                url: TokenUrl::parse(&raw).map_err(|reason| ConfigError::InvalidTokenUrl {
                    value: raw.clone(),
                    reason,
                })?,
            }),
            (None, None) => Ok(Self::Off),
        }
    }

    /// What the page is told: the URL to ask and whether it is ours (`guest`) or the
    /// operator's (`operator`, asked with credentials).
    pub fn for_page(&self) -> Option<(&str, &'static str)> {
        match self {
            Self::Off => None,
            Self::Guest { .. } => Some(("/token", "guest")),
            Self::Operator { url } => Some((url.as_str(), "operator")),
        }
    }

    /// The origin the page must be allowed to fetch from (CSP `connect-src`), if foreign.
    pub fn foreign_origin(&self) -> Option<&str> {
        match self {
            Self::Operator { url } => Some(url.origin()),
            _ => None,
        }
    }
}

/// The operator's token endpoint: an absolute `http(s)` URL without credentials or fragment.
/// The whole URL goes into an (escaped) attribute; only its origin goes into the CSP, and
/// that is checked like the backend's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUrl {
    url: String,
    origin_len: usize,
}

impl TokenUrl {
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn origin(&self) -> &str {
        &self.url[..self.origin_len]
    }

    fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or("it must be an absolute http:// or https:// URL")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err("it must be an absolute http:// or https:// URL");
        }
        if rest.contains('#') || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("it must not contain a fragment (#), spaces or control characters");
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err("it must not contain credentials (user:password@)");
        }
        let (host, port) = crate::config::split_host_port(authority)
            .map_err(|_| "its host or port is not valid")?;
        let origin = crate::config::origin(&scheme, &host, port);
        Ok(Self {
            origin_len: origin.len(),
            url: origin + path,
        })
    }
}

impl fmt::Display for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn read(pairs: &[(&'static str, &str)]) -> Result<TokenSettings, ConfigError> {
        TokenSettings::read(&|name| {
            Ok(pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string()))
        })
    }

    #[test]
    fn one_source_or_none() {
        assert_eq!(read(&[]).unwrap(), TokenSettings::Off);
        let guest = read(&[("AUTH_JWT_SECRET", SECRET)]).unwrap();
        assert!(
            matches!(guest, TokenSettings::Guest { ttl, .. } if ttl == Duration::from_secs(900))
        );
        assert_eq!(guest.for_page(), Some(("/token", "guest")));
        assert_eq!(guest.foreign_origin(), None);
        let operator =
            read(&[("TOKEN_URL", "https://Auth.example.com:8443/chat/token?x=1")]).unwrap();
        assert_eq!(
            operator.for_page(),
            Some(("https://auth.example.com:8443/chat/token?x=1", "operator"))
        );
        assert_eq!(
            operator.foreign_origin(),
            Some("https://auth.example.com:8443")
        );
        assert!(matches!(
            read(&[
                ("AUTH_JWT_SECRET", SECRET),
                ("TOKEN_URL", "https://a.example/t")
            ]),
            Err(ConfigError::TwoTokenSources)
        ));
    }

    #[test]
    fn bad_values_are_refused() {
        for pairs in [
            vec![("AUTH_JWT_SECRET", "short")],
            vec![("AUTH_JWT_SECRET", SECRET), ("GUEST_TOKEN_TTL_SECS", "10")],
            vec![
                ("AUTH_JWT_SECRET", SECRET),
                ("GUEST_TOKEN_TTL_SECS", "soon"),
            ],
            vec![("TOKEN_URL", "/relative/token")],
            vec![("TOKEN_URL", "javascript:alert(1)")],
            vec![("TOKEN_URL", "https://user:pw@auth.example/t")],
            vec![("TOKEN_URL", "https://auth.example/t#x")],
            vec![("TOKEN_URL", "https://auth;example/t")],
        ] {
            assert!(read(&pairs).is_err(), "{pairs:?}");
        }
    }
}
