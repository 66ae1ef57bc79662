//! Settings, read from the environment (Cloud Run style) and validated before anything
//! starts, so a bad deployment fails at once with a message naming the variable.
//!
//! Grouped the way the system is: each group is read and checked once, into the type the
//! part that uses it takes as it is.
//!
//! - [`names`]: every variable's name, written once.
//! - `vars`: reading one variable (trimming, numbers, minimums, the error).
//! - `bus`: [`BusSettings`], embedded, one Redis or a Redis Cluster, with the Redis settings.
//! - `channels`: the history and retention every channel gets ([`ChannelPolicy`]).
//! - `access`: [`AccessSettings`], allowed origins, tokens, trusted proxies.
//! - `api`: [`ApiSettings`], the server API's keys and the sender its messages carry.
//! - `limits`: [`LimitSettings`], message size, outbound queue, send rate, connections.
//! - `timeouts`, `presence`, `shutdown`: [`TimeoutSettings`], [`PresenceSettings`],
//!   [`ShutdownSettings`], the timings of those parts.

mod access;
mod api;
mod bus;
mod channels;
mod limits;
pub mod names;
mod presence;
mod shutdown;
mod timeouts;
mod vars;

use std::collections::HashMap;

pub use self::{
    access::{AccessSettings, AllowedOrigins, DEFAULT_ALLOWED_ORIGINS},
    api::ApiSettings,
    bus::BusSettings,
    limits::{ConnectionLimits, LimitSettings},
    presence::PresenceSettings,
    shutdown::ShutdownSettings,
    timeouts::TimeoutSettings,
};
use self::{
    names::{K_REVISION, K_SERVICE, LOG_FORMAT, METRICS_PORT, PORT, REDIS_TIMEOUT_SECS, WORKERS},
    vars::{Vars, invalid},
};
use crate::bus::ChannelPolicy;

/// Where Prometheus scrapes `/metrics` unless `METRICS_PORT` says otherwise.
pub const DEFAULT_METRICS_PORT: u16 = 9090;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Port to listen on (all interfaces); 0 picks a free one (tests).
    pub port: u16,
    /// Port `/metrics` is served on (all interfaces), apart from the public port so it is never
    /// exposed through the load balancer; 0 picks a free one (tests).
    pub metrics_port: u16,
    /// HTTP worker threads; by default one per CPU core.
    pub workers: Option<usize>,
    /// Names this process in logs, metrics, presence and `welcome`: `K_REVISION` (Cloud Run)
    /// or `local`, plus a random suffix, so two instances of one revision differ.
    pub instance_id: String,
    /// One JSON object per log line (Cloud Logging's shape) instead of human-readable lines.
    pub json_logs: bool,
    pub bus: BusSettings,
    pub channels: ChannelPolicy,
    pub access: AccessSettings,
    pub api: ApiSettings,
    pub limits: LimitSettings,
    pub timeouts: TimeoutSettings,
    pub presence: PresenceSettings,
    pub shutdown: ShutdownSettings,
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
        let vars = Vars::new(vars);
        // Bounds every Redis command, and a join's wait for its subscription on any bus.
        let bus_timeout = vars.secs(REDIS_TIMEOUT_SECS, 3)?;
        let presence = PresenceSettings::read(&vars)?;
        let port = vars.number(PORT, 8080, 0)?;
        let metrics_port = vars.number(METRICS_PORT, DEFAULT_METRICS_PORT, 0)?;
        if metrics_port == port && port != 0 {
            return Err(invalid(
                METRICS_PORT,
                format!("must differ from {PORT} ({port}): metrics are not served to clients"),
            ));
        }
        Ok(Self {
            bus: BusSettings::read(&vars, bus_timeout, presence.ttl)?,
            channels: channels::read_channel_policy(&vars)?,
            shutdown: ShutdownSettings::read(&vars)?,
            port,
            metrics_port,
            access: AccessSettings::read(&vars)?,
            api: ApiSettings::read(&vars)?,
            limits: LimitSettings::read(&vars)?,
            timeouts: TimeoutSettings::read(&vars, bus_timeout)?,
            presence,
            workers: vars.optional_number(WORKERS, 1)?,
            instance_id: log_lines::instance_id(vars.get(K_REVISION)),
            json_logs: match vars.get(LOG_FORMAT) {
                Some("json") => true,
                Some("text") => false,
                None => vars.is_present(K_SERVICE),
                Some(other) => {
                    return Err(invalid(
                        LOG_FORMAT,
                        format!("{other:?} is neither json nor text"),
                    ));
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::bus::redis::{RedisSettings, RedisTarget};
    use std::time::Duration;

    use protocol::frames::DEFAULT_MAX_MESSAGE_CHARS;

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
        assert!(matches!(s.bus, BusSettings::Embedded));
        assert_eq!(
            (s.channels.history_limit, s.channels.history_max),
            (50, 1000)
        );
        assert_eq!(
            s.channels.channel_ttl,
            Duration::from_secs(3 * 24 * 60 * 60)
        );
        assert!(s.access.allowed_origins.allows("http://localhost:3000"));
        assert!(!s.access.allowed_origins.allows("https://evil.example"));
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
        assert_eq!(s.limits.rate.per_second, 0.5);
    }

    #[test]
    fn origins_can_be_listed_or_opened_up() {
        let s = Settings::from_vars(vars(&[(
            "ALLOWED_ORIGINS",
            "https://chat.example.com/, http://localhost:3000",
        )]))
        .unwrap();
        assert!(s.access.allowed_origins.allows("https://chat.example.com"));
        let any = Settings::from_vars(vars(&[("ALLOWED_ORIGINS", "*")])).unwrap();
        assert!(
            any.access
                .allowed_origins
                .allows("https://anything.example")
        );
    }

    #[test]
    fn the_bus_is_decided_once_with_its_redis_settings_built() {
        let single = Settings::from_vars(vars(&[
            ("REDIS_URL", "rediss://cache:6380"),
            ("REDIS_POOL_SIZE", "4"),
            ("PRESENCE_TTL_SECS", "12"),
        ]))
        .unwrap();
        let BusSettings::Redis(redis) = &single.bus else {
            panic!("{:?}", single.bus);
        };
        assert!(
            matches!(&redis.target, RedisTarget::Single { url } if url == "rediss://cache:6380"),
            "{:?}",
            redis.target
        );
        assert_eq!(redis.pool_size, 4);
        assert_eq!(redis.presence_ttl, Duration::from_secs(12));
        assert_eq!(redis.command_timeout, single.timeouts.join);
        assert_eq!(single.bus.kind(), "redis");

        let cluster = Settings::from_vars(vars(&[(
            "REDIS_CLUSTER_URLS",
            " redis://a:7000, ,redis://b:7001 ",
        )]))
        .unwrap();
        let BusSettings::Redis(RedisSettings {
            target: RedisTarget::Cluster { seeds },
            ..
        }) = &cluster.bus
        else {
            panic!("{:?}", cluster.bus);
        };
        assert_eq!(seeds, &["redis://a:7000", "redis://b:7001"]);
        assert_eq!(cluster.bus.kind(), "redis-cluster");
    }

    #[test]
    fn iam_authentication_is_for_a_cluster_whose_urls_carry_no_password() {
        let cluster = ("REDIS_CLUSTER_URLS", "redis://a:7000,redis://b:7001");
        let iam = ("REDIS_IAM_AUTH", "true");
        let s = Settings::from_vars(vars(&[cluster, iam])).unwrap();
        let BusSettings::Redis(redis) = &s.bus else {
            panic!("{:?}", s.bus);
        };
        assert_eq!(
            redis.iam_token_url.as_deref(),
            Some(crate::bus::redis::METADATA_TOKEN_URL)
        );
        let local = ("REDIS_IAM_TOKEN_URL", "http://127.0.0.1:9/token");
        let s = Settings::from_vars(vars(&[cluster, iam, local])).unwrap();
        let BusSettings::Redis(redis) = &s.bus else {
            panic!("{:?}", s.bus);
        };
        assert_eq!(
            redis.iam_token_url.as_deref(),
            Some("http://127.0.0.1:9/token")
        );
        let without = Settings::from_vars(vars(&[cluster])).unwrap();
        let BusSettings::Redis(redis) = &without.bus else {
            panic!("{:?}", without.bus);
        };
        assert_eq!(redis.iam_token_url, None);

        for (wrong, names) in [
            (vec![iam], "REDIS_IAM_AUTH"),
            (vec![("REDIS_URL", "redis://r:6379"), iam], "REDIS_IAM_AUTH"),
            (vec![cluster, ("REDIS_IAM_AUTH", "yes")], "REDIS_IAM_AUTH"),
            (
                vec![("REDIS_CLUSTER_URLS", "redis://:secret@a:7000"), iam],
                "REDIS_CLUSTER_URLS",
            ),
            (
                vec![cluster, iam, ("REDIS_IAM_TOKEN_URL", "https://x/token")],
                "REDIS_IAM_TOKEN_URL",
            ),
        ] {
            let err = Settings::from_vars(vars(&wrong)).unwrap_err();
            assert!(err.to_string().starts_with(names), "{wrong:?}: {err}");
        }
        assert!(super::bus::has_password("redis://user:pw@host:1/0"));
        assert!(!super::bus::has_password("redis://user@host:1"));
        assert!(!super::bus::has_password("redis://host:1"));
    }

    #[test]
    fn limits_are_held_in_the_types_that_enforce_them() {
        let s = Settings::from_vars(vars(&[
            ("OUTBOUND_QUEUE_FRAMES", "64"),
            ("RATE_LIMIT_BURST", "3"),
            ("MAX_CONNECTIONS_PER_CLIENT", "7"),
            ("REDIS_TIMEOUT_SECS", "9"),
        ]))
        .unwrap();
        assert_eq!(s.limits.outbound.frames, 64);
        assert_eq!(s.limits.rate.burst, 3.0);
        assert_eq!(s.limits.connections.per_client, 7);
        assert_eq!(s.limits.message.max_chars, DEFAULT_MAX_MESSAGE_CHARS);
        // The bus's timeout bounds joins on the embedded bus too.
        assert_eq!(s.timeouts.join, Duration::from_secs(9));
    }
}
