//! Settings, read from the environment the way Cloud Run passes them.
//!
//! Everything is parsed and validated here, before the runtime starts, so a bad deployment
//! fails at once with a message naming the variable instead of serving a page whose
//! WebSocket can never connect.
//!
//! | Variable      | Default               | Meaning                                            |
//! |---------------|-----------------------|----------------------------------------------------|
//! | `PORT`        | `8080`                | TCP port to listen on (`0` picks a free one).      |
//! | `BACKEND_URL` | `ws://localhost:8080` | Public base URL of the backend, as browsers see it. |
//! | `TRUSTED_PROXY_HOPS` | `0`            | Proxies appending to `X-Forwarded-For` (1 on Cloud Run), as the backend reads it. |
//!
//! Where tokens come from (`AUTH_JWT_SECRET`, `GUEST_TOKEN_TTL_SECS`, `TOKEN_URL`) is read by
//! [`crate::token_settings`]; the log format (`LOG_FORMAT`) by [`crate::logging`], before these.

use std::{
    env::VarError,
    fmt,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
};

use crate::token_settings::TokenSettings;

/// Port used when `PORT` is unset (Cloud Run's default too).
pub const DEFAULT_PORT: u16 = 8080;
/// Backend used when `BACKEND_URL` is unset: a backend running next to us on a laptop.
pub const DEFAULT_BACKEND_URL: &str = "ws://localhost:8080";

/// Everything the frontend needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Address to bind. Always `0.0.0.0` from the environment, because a container must
    /// accept connections from outside itself; tests use `127.0.0.1`.
    pub host: IpAddr,
    /// Port to bind; `0` lets the OS choose (see [`crate::Application::port`]).
    pub port: u16,
    /// Where the browser opens its WebSocket; rendered into the page and the CSP.
    pub backend_url: BackendUrl,
    /// Where the page gets tokens, if the backend wants them.
    pub tokens: TokenSettings,
    /// Proxies in front that each append to `X-Forwarded-For`: the client's address (for the
    /// token endpoint's budget) is that many entries from the right; 0, the socket's peer.
    pub trusted_proxy_hops: usize,
}

impl Settings {
    /// Reads `PORT` and `BACKEND_URL` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(VarError::NotPresent) => Ok(None),
            Err(VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode(name)),
        })
    }

    /// Builds settings from any source of variables; `from_env` with the environment made
    /// injectable, so parsing can be tested without touching process-global state.
    pub fn from_lookup(
        lookup: impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let port = match lookup("PORT")? {
            None => DEFAULT_PORT,
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| ConfigError::InvalidPort(raw.clone()))?,
        };
        let raw_backend = lookup("BACKEND_URL")?.unwrap_or_else(|| DEFAULT_BACKEND_URL.to_owned());
        let backend_url = raw_backend
            .parse()
            .map_err(|reason| ConfigError::InvalidBackendUrl {
                value: raw_backend.clone(),
                reason,
            })?;
        let trusted_proxy_hops = match lookup("TRUSTED_PROXY_HOPS")? {
            None => 0,
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| ConfigError::InvalidProxyHops(raw.clone()))?,
        };
        Ok(Self {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
            backend_url,
            tokens: TokenSettings::read(&lookup)?,
            trusted_proxy_hops,
        })
    }
}

/// A configuration value that cannot be used; the message says which and what would do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("PORT must be a TCP port number between 0 and 65535, got {0:?}")]
    InvalidPort(String),
    #[error(
        "BACKEND_URL {value:?} is not usable: {reason}. Set it to the backend's public base \
         URL, e.g. wss://backend.example.com or ws://localhost:8080"
    )]
    InvalidBackendUrl {
        value: String,
        reason: BackendUrlError,
    },
    #[error("{0} is not valid Unicode")]
    NotUnicode(&'static str),
    #[error("LOG_FORMAT {0:?} is neither json nor text")]
    InvalidLogFormat(String),
    #[error("TRUSTED_PROXY_HOPS must be a whole number (0, or 1 on Cloud Run), got {0:?}")]
    InvalidProxyHops(String),
    #[error("{0}")]
    InvalidSecret(String),
    #[error("GUEST_TOKEN_TTL_SECS must be whole seconds from 60 to 86400, got {0:?}")]
    InvalidGuestTokenTtl(String),
    #[error("TOKEN_URL {value:?} is not usable: {reason}")]
    InvalidTokenUrl { value: String, reason: &'static str },
    #[error(
        "AUTH_JWT_SECRET and TOKEN_URL are both set: set the secret for guest tokens minted \
         here, or TOKEN_URL for your own endpoint, not both"
    )]
    TwoTokenSources,
}

/// Why a backend URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendUrlError {
    #[error("it must be an absolute URL starting with ws://, wss://, http:// or https://")]
    MissingScheme,
    #[error("scheme {0:?} is not supported; use ws://, wss://, http:// or https://")]
    UnsupportedScheme(String),
    #[error("it has no host")]
    MissingHost,
    #[error("it must not contain credentials (user:password@)")]
    Credentials,
    #[error("it must not have a query (?) or fragment (#)")]
    QueryOrFragment,
    #[error("the host may only contain letters, digits, '.' and '-' (or be an [IPv6] literal)")]
    BadHost,
    #[error("the port must be a number between 1 and 65535")]
    BadPort,
    #[error("the path may only contain letters, digits and '-', '.', '_', '~', '%', '/'")]
    BadPath,
}

/// The backend's base URL as a browser should use it for WebSockets: scheme `ws` or `wss`,
/// lower-case host, optional port and path, no trailing slash, so the page can append
/// `/ws/{channel}/{client}` directly.
///
/// The value ends up in an HTML attribute and in the `Content-Security-Policy` header, so
/// only a conservative character set is accepted: nothing that could end an attribute or
/// add a CSP directive (`"`, `'`, `;`, `,`, whitespace) can get through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    url: String,
    /// Length of the `scheme://host[:port]` prefix of `url`.
    origin_len: usize,
}

impl BackendUrl {
    /// The whole normalized URL, e.g. `wss://backend.example.com/chat`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`, what the CSP `connect-src` needs.
    pub fn origin(&self) -> &str {
        &self.url[..self.origin_len]
    }
}

impl FromStr for BackendUrl {
    type Err = BackendUrlError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or(BackendUrlError::MissingScheme)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => "ws",
            "wss" | "https" => "wss",
            "" => return Err(BackendUrlError::MissingScheme),
            other => return Err(BackendUrlError::UnsupportedScheme(other.to_owned())),
        };
        if rest.contains(['?', '#']) {
            return Err(BackendUrlError::QueryOrFragment);
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(BackendUrlError::Credentials);
        }
        let (host, port) = split_host_port(authority)?;
        let path = path.trim_end_matches('/');
        let path_ok = path.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%' | b'/')
        });
        if !path_ok {
            return Err(BackendUrlError::BadPath);
        }
        let origin = origin(scheme, &host, port);
        Ok(Self {
            origin_len: origin.len(),
            url: origin + path,
        })
    }
}

/// `scheme://host[:port]`.
pub(crate) fn origin(scheme: &str, host: &str, port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    }
}

/// Splits `host[:port]` or `[v6]:port`, returning the lower-cased host and the port.
pub(crate) fn split_host_port(authority: &str) -> Result<(String, Option<u16>), BackendUrlError> {
    if authority.is_empty() {
        return Err(BackendUrlError::MissingHost);
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inner, after) = v6.split_once(']').ok_or(BackendUrlError::BadHost)?;
        let valid = !inner.is_empty()
            && inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
        if !valid {
            return Err(BackendUrlError::BadHost);
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(BackendUrlError::BadPort)?),
        };
        (&authority[..inner.len() + 2], port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(BackendUrlError::MissingHost);
        }
        let valid = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            && !host.starts_with(['.', '-']);
        if !valid {
            return Err(BackendUrlError::BadHost);
        }
        (host, port)
    };
    let port = port
        .map(|p| {
            let digits = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            match p.parse::<u16>() {
                Ok(n) if digits && n > 0 => Ok(n),
                _ => Err(BackendUrlError::BadPort),
            }
        })
        .transpose()?;
    Ok((host.to_ascii_lowercase(), port))
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&'static str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Settings::from_lookup(|name| Ok(vars.get(name).cloned()))
    }

    fn url(raw: &str) -> Result<String, BackendUrlError> {
        raw.parse::<BackendUrl>().map(|u| u.as_str().to_owned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(s.backend_url.as_str(), "ws://localhost:8080");
    }

    #[test]
    fn reads_port_and_backend_url() {
        let s = settings(&[("PORT", "9000"), ("BACKEND_URL", "https://b.example/")]).unwrap();
        assert_eq!(s.port, 9000);
        assert_eq!(s.backend_url.as_str(), "wss://b.example");
        assert_eq!(settings(&[("PORT", "0")]).unwrap().port, 0);
    }

    #[test]
    fn token_and_proxy_settings_name_their_variable_when_wrong() {
        let s = settings(&[("TRUSTED_PROXY_HOPS", " 1 ")]).unwrap();
        assert_eq!((s.trusted_proxy_hops, s.tokens), (1, TokenSettings::Off));
        let secret = ("AUTH_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        for (pairs, named) in [
            (vec![("TRUSTED_PROXY_HOPS", "-1")], "TRUSTED_PROXY_HOPS"),
            (vec![("AUTH_JWT_SECRET", "short")], "AUTH_JWT_SECRET"),
            (
                vec![secret, ("GUEST_TOKEN_TTL_SECS", "0")],
                "GUEST_TOKEN_TTL_SECS",
            ),
            (vec![("TOKEN_URL", "ftp://a.example")], "TOKEN_URL"),
            (
                vec![secret, ("TOKEN_URL", "https://a.example")],
                "AUTH_JWT_SECRET",
            ),
        ] {
            let err = settings(&pairs).unwrap_err().to_string();
            assert!(err.starts_with(named), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        for port in ["", "http", "-1", "65536", "80.5", "NaN", "inf", "-inf"] {
            let err = settings(&[("PORT", port)]).unwrap_err();
            assert!(matches!(err, ConfigError::InvalidPort(_)), "{port:?}");
            assert!(err.to_string().starts_with("PORT "), "{err}");
        }
        let err = settings(&[("BACKEND_URL", "ftp://x.example")]).unwrap_err();
        assert!(
            err.to_string().contains("BACKEND_URL \"ftp://x.example\""),
            "{err}"
        );
        assert!(
            err.to_string().contains("\"ftp\" is not supported"),
            "{err}"
        );
        let unicode = Settings::from_lookup(|name| Err(ConfigError::NotUnicode(name)));
        assert!(matches!(unicode, Err(ConfigError::NotUnicode("PORT"))));
    }

    #[test]
    fn normalizes_scheme_case_and_trailing_slashes() {
        let cases = [
            ("ws://localhost:8080", "ws://localhost:8080"),
            ("wss://backend-xyz.a.run.app", "wss://backend-xyz.a.run.app"),
            ("http://localhost:8080/", "ws://localhost:8080"),
            (
                "https://backend-xyz.a.run.app",
                "wss://backend-xyz.a.run.app",
            ),
            ("HTTPS://Backend.Example.COM//", "wss://backend.example.com"),
            ("  wss://b.example/chat/  ", "wss://b.example/chat"),
            ("ws://127.0.0.1:1", "ws://127.0.0.1:1"),
            ("ws://[::1]:8080/", "ws://[::1]:8080"),
        ];
        for (raw, want) in cases {
            assert_eq!(url(raw).as_deref(), Ok(want), "{raw:?}");
        }
    }

    #[test]
    fn origin_drops_the_path() {
        let u: BackendUrl = "https://b.example:8443/chat/".parse().unwrap();
        assert_eq!(u.as_str(), "wss://b.example:8443/chat");
        assert_eq!(u.origin(), "wss://b.example:8443");
        assert_eq!(u.to_string(), u.as_str());
    }

    #[test]
    fn rejects_unusable_urls() {
        use BackendUrlError::*;
        let cases = [
            ("", MissingScheme),
            ("localhost:8080", MissingScheme),
            ("://x", MissingScheme),
            ("ftp://x.example", UnsupportedScheme("ftp".into())),
            ("file:///etc", UnsupportedScheme("file".into())),
            ("wss://", MissingHost),
            ("wss://:80", MissingHost),
            ("wss://user:pw@x.example", Credentials),
            ("wss://x.example/?a=b", QueryOrFragment),
            ("wss://x.example#top", QueryOrFragment),
            ("wss://x .example", BadHost),
            ("wss://x\".example", BadHost),
            ("wss://-x.example", BadHost),
            ("wss://[zz]:80", BadHost),
            ("wss://x.example:0", BadPort),
            ("wss://x.example:65536", BadPort),
            ("wss://x.example:80:80", BadPort),
            ("wss://x.example:", BadPort),
            ("wss://[::1]80", BadPort),
            ("wss://x.example/a;b", BadPath),
            ("wss://x.example/a'b", BadPath),
            ("wss://x.example/a b", BadPath),
        ];
        for (raw, want) in cases {
            assert_eq!(url(raw), Err(want), "{raw:?}");
        }
    }
}
