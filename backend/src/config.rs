//! Settings, read from the environment (Cloud Run style) and validated before anything
//! starts, so a bad deployment fails at once with a message naming the variable.

use std::{collections::HashMap, time::Duration};

use protocol::frames::DEFAULT_MAX_MESSAGE_CHARS;

use crate::auth::{TokenAuthority, authority_from_secret};

/// Where Prometheus scrapes `/metrics` unless `METRICS_PORT` says otherwise.
pub const DEFAULT_METRICS_PORT: u16 = 9090;

/// Origins the browser page is served from when run locally (see the README).
pub const DEFAULT_ALLOWED_ORIGINS: &str = "http://localhost:3000,http://127.0.0.1:3000";

#[derive(Debug, Clone)]
pub struct Settings {
    /// Port to listen on (all interfaces); 0 picks a free one (tests).
    pub port: u16,
    /// Port `/metrics` is served on (all interfaces), apart from the public port so it is never
    /// exposed through the load balancer; 0 picks a free one (tests).
    pub metrics_port: u16,
    /// `None` (and no cluster) runs the embedded single-instance bus.
    pub redis_url: Option<String>,
    /// Seed nodes of a Redis Cluster; selects cluster mode (sharded pub/sub).
    pub redis_cluster_urls: Option<Vec<String>>,
    /// PEM certificate(s) to trust for `rediss://` (Memorystore's server CA), instead of
    /// the system's roots.
    pub redis_ca_cert: Option<Vec<u8>>,
    pub redis_pool_size: usize,
    pub redis_timeout: Duration,
    pub history_limit: usize,
    pub history_max: usize,
    pub max_message_chars: usize,
    pub allowed_origins: AllowedOrigins,
    /// Frames a connection may have queued before it is closed as too slow (1013).
    pub outbound_queue: usize,
    /// Bytes a connection may have queued before it is closed as too slow (1013).
    pub outbound_queue_bytes: usize,
    /// Sustained sends per second per connection; beyond it, `rate_limited`.
    pub rate_limit_per_sec: f64,
    /// Sends a connection may make at once before the rate applies.
    pub rate_limit_burst: f64,
    /// WebSockets this instance accepts; beyond it, HTTP 503 before the upgrade.
    pub max_connections: usize,
    /// WebSockets one client id may have open on this instance; beyond it, HTTP 429.
    pub max_connections_per_client: usize,
    /// WebSockets one source address (an IPv6 /64) may have open on this instance; beyond
    /// it, HTTP 429. High enough for an office behind one NAT.
    pub max_connections_per_address: usize,
    /// Proxies in front of the service that each append the address they saw to
    /// `X-Forwarded-For` (1 for Cloud Run's front end): the client's address is that many
    /// entries from the right. 0: the socket's peer.
    pub trusted_proxy_hops: usize,
    /// Time a client has to send its complete request head (slowloris defence).
    pub handshake_timeout: Duration,
    /// Time a client has to finish a message (every frame of it) once it has begun: a frame
    /// header followed by nothing, or a byte a second, is closed with 1008.
    pub message_timeout: Duration,
    /// On shutdown, closes are spread over this window so clients do not all reconnect at once.
    pub shutdown_spread: Duration,
    pub ping_interval: Duration,
    pub pong_timeout: Duration,
    /// A socket whose client reads nothing (its TCP window stays shut) for this long is cut
    /// off by the kernel (`TCP_USER_TIMEOUT`): otherwise its connection, which can neither
    /// take more nor its close frame, would be held open for as long as the client lives.
    pub stalled_socket_timeout: Duration,
    pub presence_ttl: Duration,
    /// Above this many clients online, a channel's members get the count once a second
    /// (`online`) instead of every `presence` event: announcing each of N joins to N members
    /// costs N² frames.
    pub presence_detail_max: u64,
    /// Presence events of a channel are sent to its local members in batches this far
    /// apart, one frame per client id (its last event), so join/leave churn stays cheap.
    pub presence_batch: Duration,
    /// Replicas an ack waits for: `None` = one where a replica answers (auto), `Some(0)` = off.
    pub redis_wait_replicas: Option<usize>,
    /// Longest such wait before the send is answered `unavailable`.
    pub redis_wait_timeout: Duration,
    /// How often the pub/sub connection is pinged, so a hung socket is found within
    /// about twice this.
    pub subscriber_ping: Duration,
    /// How long a send's nonce is remembered for exactly-once retries.
    pub dedupe_window: Duration,
    /// A channel nobody sent to or joined for this long (and, on the embedded bus, with
    /// no member connected) is forgotten with its history, so channels used once do not
    /// hold memory forever.
    pub channel_ttl: Duration,
    /// How long shutdown waits for connections to close; below Cloud Run's 10 s grace.
    pub shutdown_grace: Duration,
    /// HTTP worker threads; by default one per CPU core.
    pub workers: Option<usize>,
    /// Connections are closed (1012) after about this long, before the platform's request
    /// timeout cuts them (Cloud Run: up to 60 min), each at a jittered moment.
    pub connection_max_age: Duration,
    /// When set, connections need a token signed with it.
    pub auth: Option<TokenAuthority>,
    /// Names this process in logs, metrics, presence and `welcome`: `K_REVISION` (Cloud Run)
    /// or `local`, plus a random suffix, so two instances of one revision differ.
    pub instance_id: String,
    /// One JSON object per log line (Cloud Logging's shape) instead of human-readable lines.
    pub json_logs: bool,
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
            return Err(ConfigError::Invalid {
                name: "ALLOWED_ORIGINS",
                reason: format!("{bad:?} is not an origin like https://chat.example.com"),
            });
        }
        Ok(AllowedOrigins::List(list))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Reads settings from a set of variables (the environment, or a test's map).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        fn number<T>(
            name: &'static str,
            raw: Option<&str>,
            default: T,
            min: T,
        ) -> Result<T, ConfigError>
        where
            T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
        {
            let Some(raw) = raw else { return Ok(default) };
            // `NaN` compares as neither below nor above any minimum, and `inf` passes every
            // minimum: either would switch a limit off. No setting means them.
            if raw.parse::<f64>().is_ok_and(|v| !v.is_finite()) {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("{raw:?} is not a finite number"),
                });
            }
            let value: T = raw.parse().map_err(|_| ConfigError::Invalid {
                name,
                reason: format!("{raw:?} is not a number"),
            })?;
            if value < min {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("must be at least {min}"),
                });
            }
            Ok(value)
        }
        let secs = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            number(name, get(name), default, 1).map(Duration::from_secs)
        };

        let redis_url = get("REDIS_URL").map(str::to_owned);
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::Invalid {
                name: "REDIS_URL",
                reason: "must start with redis:// or rediss://".into(),
            });
        }
        let redis_cluster_urls = get("REDIS_CLUSTER_URLS").map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        if let Some(urls) = &redis_cluster_urls {
            if redis_url.is_some() {
                return Err(ConfigError::Invalid {
                    name: "REDIS_CLUSTER_URLS",
                    reason: "set either REDIS_URL (one Redis) or REDIS_CLUSTER_URLS (a cluster), not both".into(),
                });
            }
            if urls.is_empty()
                || urls
                    .iter()
                    .any(|u| !(u.starts_with("redis://") || u.starts_with("rediss://")))
            {
                return Err(ConfigError::Invalid {
                    name: "REDIS_CLUSTER_URLS",
                    reason: "must be comma-separated redis:// or rediss:// seed node URLs".into(),
                });
            }
        }
        let history_limit = number("HISTORY_LIMIT", get("HISTORY_LIMIT"), 50, 0)?;
        let history_max = number("HISTORY_MAX", get("HISTORY_MAX"), 1000, 1)?;
        if history_limit > history_max {
            return Err(ConfigError::Invalid {
                name: "HISTORY_LIMIT",
                reason: format!("must not exceed HISTORY_MAX ({history_max})"),
            });
        }
        let shutdown_grace = secs("SHUTDOWN_GRACE_SECS", 8)?;
        let redis_timeout = secs("REDIS_TIMEOUT_SECS", 3)?;
        let redis_wait_timeout = Duration::from_millis(number(
            "REDIS_WAIT_TIMEOUT_MS",
            get("REDIS_WAIT_TIMEOUT_MS"),
            500,
            1,
        )?);
        // The wait for a replica runs within the send's command timeout: one that outlasted
        // it would turn a stored message into "not stored" (`unavailable`).
        if redis_wait_timeout >= redis_timeout {
            return Err(ConfigError::Invalid {
                name: "REDIS_WAIT_TIMEOUT_MS",
                reason: format!(
                    "must be below REDIS_TIMEOUT_SECS ({} s)",
                    redis_timeout.as_secs()
                ),
            });
        }
        let port = number("PORT", get("PORT"), 8080, 0)?;
        let metrics_port = number("METRICS_PORT", get("METRICS_PORT"), DEFAULT_METRICS_PORT, 0)?;
        if metrics_port == port && port != 0 {
            return Err(ConfigError::Invalid {
                name: "METRICS_PORT",
                reason: format!(
                    "must differ from PORT ({port}): metrics are not served to clients"
                ),
            });
        }
        Ok(Self {
            port,
            metrics_port,
            redis_url,
            redis_cluster_urls,
            redis_ca_cert: match get("REDIS_CA_CERT") {
                None => None,
                Some(path) => {
                    let pem = std::fs::read(path).map_err(|e| ConfigError::Invalid {
                        name: "REDIS_CA_CERT",
                        reason: format!("cannot read {path}: {e}"),
                    })?;
                    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                        return Err(ConfigError::Invalid {
                            name: "REDIS_CA_CERT",
                            reason: format!("{path} holds no PEM certificate"),
                        });
                    }
                    Some(pem)
                }
            },
            redis_pool_size: number("REDIS_POOL_SIZE", get("REDIS_POOL_SIZE"), 8, 1)?,
            redis_timeout,
            history_limit,
            history_max,
            max_message_chars: number(
                "MAX_MESSAGE_CHARS",
                get("MAX_MESSAGE_CHARS"),
                DEFAULT_MAX_MESSAGE_CHARS,
                1,
            )?,
            allowed_origins: AllowedOrigins::parse(
                get("ALLOWED_ORIGINS").unwrap_or(DEFAULT_ALLOWED_ORIGINS),
            )?,
            outbound_queue_bytes: number(
                "OUTBOUND_QUEUE_BYTES",
                get("OUTBOUND_QUEUE_BYTES"),
                1024 * 1024,
                protocol::frames::MAX_FRAME_BYTES,
            )?,
            rate_limit_per_sec: number(
                "RATE_LIMIT_PER_SEC",
                get("RATE_LIMIT_PER_SEC"),
                10.0,
                0.001,
            )?,
            rate_limit_burst: number("RATE_LIMIT_BURST", get("RATE_LIMIT_BURST"), 20.0, 1.0)?,
            max_connections: number(
                "MAX_CONNECTIONS",
                get("MAX_CONNECTIONS"),
                default_max_connections(),
                1,
            )?,
            max_connections_per_client: number(
                "MAX_CONNECTIONS_PER_CLIENT",
                get("MAX_CONNECTIONS_PER_CLIENT"),
                50,
                1,
            )?,
            max_connections_per_address: number(
                "MAX_CONNECTIONS_PER_ADDRESS",
                get("MAX_CONNECTIONS_PER_ADDRESS"),
                500,
                1,
            )?,
            trusted_proxy_hops: number("TRUSTED_PROXY_HOPS", get("TRUSTED_PROXY_HOPS"), 0, 0)?,
            handshake_timeout: secs("HANDSHAKE_TIMEOUT_SECS", 5)?,
            message_timeout: secs("MESSAGE_TIMEOUT_SECS", 10)?,
            shutdown_spread: Duration::from_millis(number(
                "SHUTDOWN_SPREAD_MS",
                get("SHUTDOWN_SPREAD_MS"),
                2000,
                0,
            )?),
            outbound_queue: number(
                "OUTBOUND_QUEUE_FRAMES",
                get("OUTBOUND_QUEUE_FRAMES"),
                1024,
                16,
            )?,
            ping_interval: secs("PING_INTERVAL_SECS", 30)?,
            pong_timeout: secs("PONG_TIMEOUT_SECS", 10)?,
            stalled_socket_timeout: secs("STALLED_SOCKET_TIMEOUT_SECS", 30)?,
            presence_ttl: secs("PRESENCE_TTL_SECS", 30)?,
            presence_detail_max: number("PRESENCE_DETAIL_MAX", get("PRESENCE_DETAIL_MAX"), 100, 0)?,
            presence_batch: Duration::from_millis(number(
                "PRESENCE_BATCH_MS",
                get("PRESENCE_BATCH_MS"),
                200,
                1,
            )?),
            dedupe_window: secs("DEDUPE_WINDOW_SECS", 600)?,
            channel_ttl: secs("CHANNEL_TTL_SECS", 3 * 24 * 60 * 60)?,
            subscriber_ping: secs("SUBSCRIBER_PING_SECS", 2)?,
            redis_wait_replicas: match get("REDIS_WAIT_REPLICAS") {
                None | Some("auto") => None,
                Some(raw) => Some(number("REDIS_WAIT_REPLICAS", Some(raw), 0, 0)?),
            },
            redis_wait_timeout,
            shutdown_grace,
            workers: get("WORKERS")
                .map(|raw| number("WORKERS", Some(raw), 1, 1))
                .transpose()?,
            connection_max_age: secs("CONNECTION_MAX_AGE_SECS", 3300)?,
            auth: authority_from_secret(vars.get("AUTH_JWT_SECRET").map(String::as_str)).map_err(
                |e| ConfigError::Invalid {
                    name: "AUTH_JWT_SECRET",
                    reason: e.to_string(),
                },
            )?,
            instance_id: format!(
                "{}-{:08x}",
                get("K_REVISION").unwrap_or("local"),
                random_u32()
            ),
            json_logs: match get("LOG_FORMAT") {
                Some("json") => true,
                Some("text") => false,
                None => vars.contains_key("K_SERVICE"),
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "LOG_FORMAT",
                        reason: format!("{other:?} is neither json nor text"),
                    });
                }
            },
        })
    }
}

/// Randomness for ids that only need to be unique, from std's randomly keyed hasher.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish() as u32
}

/// Every WebSocket costs one file descriptor: allow what the process's open-file limit
/// allows, less headroom for Redis connections, listeners and logs.
fn default_max_connections() -> usize {
    const HEADROOM: usize = 256;
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|soft| soft.parse::<usize>().ok());
    match soft_limit {
        Some(limit) => limit.saturating_sub(HEADROOM).max(limit / 2).max(1),
        None => 10_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_run_the_embedded_bus_on_8080() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.port, 8080);
        assert!(s.redis_url.is_none());
        assert_eq!((s.history_limit, s.history_max), (50, 1000));
        assert_eq!(s.channel_ttl, Duration::from_secs(3 * 24 * 60 * 60));
        assert!(s.allowed_origins.allows("http://localhost:3000"));
        assert!(!s.allowed_origins.allows("https://evil.example"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("REDIS_URL", "localhost:6379"),
            ("HISTORY_MAX", "0"),
            ("ALLOWED_ORIGINS", "localhost:3000"),
            ("REDIS_CA_CERT", "/nonexistent/ca.pem"),
            ("LOG_FORMAT", "xml"),
            ("TRUSTED_PROXY_HOPS", "-1"),
            ("MAX_CONNECTIONS_PER_ADDRESS", "0"),
            ("REDIS_CLUSTER_URLS", "node-1:7000"),
            ("AUTH_JWT_SECRET", "too-short"),
            ("REDIS_WAIT_TIMEOUT_MS", "3000"),
        ] {
            let err = Settings::from_vars(vars(&[(name, value)])).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
        let err = Settings::from_vars(vars(&[
            ("REDIS_URL", "redis://a:6379"),
            ("REDIS_CLUSTER_URLS", "redis://b:7000"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        let err = Settings::from_vars(vars(&[("HISTORY_LIMIT", "20"), ("HISTORY_MAX", "10")]))
            .unwrap_err();
        assert!(err.to_string().contains("HISTORY_MAX"));
    }

    #[test]
    fn non_finite_numbers_are_refused_for_every_numeric_setting() {
        let numeric = [
            "PORT",
            "REDIS_POOL_SIZE",
            "REDIS_TIMEOUT_SECS",
            "HISTORY_LIMIT",
            "HISTORY_MAX",
            "MAX_MESSAGE_CHARS",
            "OUTBOUND_QUEUE_BYTES",
            "RATE_LIMIT_PER_SEC",
            "RATE_LIMIT_BURST",
            "MAX_CONNECTIONS",
            "HANDSHAKE_TIMEOUT_SECS",
            "SHUTDOWN_SPREAD_MS",
            "OUTBOUND_QUEUE_FRAMES",
            "PING_INTERVAL_SECS",
            "PONG_TIMEOUT_SECS",
            "STALLED_SOCKET_TIMEOUT_SECS",
            "PRESENCE_TTL_SECS",
            "PRESENCE_DETAIL_MAX",
            "DEDUPE_WINDOW_SECS",
            "SUBSCRIBER_PING_SECS",
            "REDIS_WAIT_REPLICAS",
            "REDIS_WAIT_TIMEOUT_MS",
            "SHUTDOWN_GRACE_SECS",
            "WORKERS",
            "CONNECTION_MAX_AGE_SECS",
        ];
        for name in numeric {
            for value in ["NaN", "nan", "inf", "-inf", "+Infinity", "1e999"] {
                let err = Settings::from_vars(vars(&[(name, value)])).unwrap_err();
                assert_eq!(
                    err.to_string(),
                    format!("{name} is invalid: {value:?} is not a finite number")
                );
            }
        }
        let s = Settings::from_vars(vars(&[("RATE_LIMIT_PER_SEC", "0.5")])).unwrap();
        assert_eq!(s.rate_limit_per_sec, 0.5);
    }

    #[test]
    fn origins_can_be_listed_or_opened_up() {
        let s = Settings::from_vars(vars(&[(
            "ALLOWED_ORIGINS",
            "https://chat.example.com/, http://localhost:3000",
        )]))
        .unwrap();
        assert!(s.allowed_origins.allows("https://chat.example.com"));
        let any = Settings::from_vars(vars(&[("ALLOWED_ORIGINS", "*")])).unwrap();
        assert!(any.allowed_origins.allows("https://anything.example"));
    }
}
