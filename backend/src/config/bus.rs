//! Which bus the instance runs, decided once: the embedded one, one Redis, or a Redis
//! Cluster, with the Redis settings already built for the bus to take as they are.

use std::time::Duration;

use super::{
    ConfigError,
    names::{
        REDIS_CA_CERT, REDIS_CLUSTER_URLS, REDIS_IAM_AUTH, REDIS_IAM_TOKEN_URL, REDIS_POOL_SIZE,
        REDIS_TIMEOUT_SECS, REDIS_URL, REDIS_WAIT_REPLICAS, REDIS_WAIT_TIMEOUT_MS,
        SUBSCRIBER_PING_SECS,
    },
    vars::{Vars, invalid},
};
use crate::bus::redis::{METADATA_TOKEN_URL, RedisSettings, RedisTarget};

/// The store-and-publish engine behind every channel.
#[derive(Debug, Clone)]
pub enum BusSettings {
    /// No Redis configured: a single instance keeps history in memory.
    Embedded,
    /// One Redis (`REDIS_URL`, with replicas or not) or a Redis Cluster
    /// (`REDIS_CLUSTER_URLS`), as its target says.
    Redis(RedisSettings),
}

impl BusSettings {
    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            BusSettings::Embedded => "embedded",
            BusSettings::Redis(RedisSettings {
                target: RedisTarget::Single { .. },
                ..
            }) => "redis",
            BusSettings::Redis(RedisSettings {
                target: RedisTarget::Cluster { .. },
                ..
            }) => "redis-cluster",
        }
    }

    /// Reads the bus. Every Redis variable is checked even when no Redis is configured,
    /// so a mistake shows before the day Redis is switched on. `command_timeout` is
    /// `REDIS_TIMEOUT_SECS`, read by the caller since it bounds joins on any bus.
    pub(super) fn read(
        vars: &Vars,
        command_timeout: Duration,
        presence_ttl: Duration,
    ) -> Result<Self, ConfigError> {
        let url = vars.get(REDIS_URL).map(str::to_owned);
        if let Some(url) = &url
            && !is_redis_url(url)
        {
            return Err(invalid(REDIS_URL, "must start with redis:// or rediss://"));
        }
        let seeds = vars.get(REDIS_CLUSTER_URLS).map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        if let Some(seeds) = &seeds {
            if url.is_some() {
                return Err(invalid(
                    REDIS_CLUSTER_URLS,
                    format!(
                        "set either {REDIS_URL} (one Redis) or {REDIS_CLUSTER_URLS} (a cluster), not both"
                    ),
                ));
            }
            if seeds.is_empty() || !seeds.iter().all(|u| is_redis_url(u)) {
                return Err(invalid(
                    REDIS_CLUSTER_URLS,
                    "must be comma-separated redis:// or rediss:// seed node URLs",
                ));
            }
        }
        let wait_timeout = vars.millis(REDIS_WAIT_TIMEOUT_MS, 500, 1)?;
        // The wait for a replica runs within the send's command timeout: one that outlasted
        // it would turn a stored message into "not stored" (`unavailable`).
        if wait_timeout >= command_timeout {
            return Err(invalid(
                REDIS_WAIT_TIMEOUT_MS,
                format!(
                    "must be below {REDIS_TIMEOUT_SECS} ({} s)",
                    command_timeout.as_secs()
                ),
            ));
        }
        let ca_cert = read_ca_cert(vars)?;
        let pool_size = vars.number(REDIS_POOL_SIZE, 8, 1)?;
        let subscriber_ping = vars.secs(SUBSCRIBER_PING_SECS, 2)?;
        let wait_replicas = match vars.get(REDIS_WAIT_REPLICAS) {
            None | Some("auto") => None,
            Some(_) => vars.optional_number(REDIS_WAIT_REPLICAS, 0)?,
        };
        let iam_token_url = read_iam_auth(vars, seeds.as_deref())?;
        let target = match (url, seeds) {
            (Some(url), _) => RedisTarget::Single { url },
            (None, Some(seeds)) => RedisTarget::Cluster { seeds },
            (None, None) => return Ok(BusSettings::Embedded),
        };
        Ok(BusSettings::Redis(RedisSettings {
            target,
            ca_cert,
            iam_token_url,
            pool_size,
            command_timeout,
            presence_ttl,
            subscriber_ping,
            wait_replicas,
            wait_timeout,
        }))
    }
}

/// The token endpoint when the cluster authenticates with IAM (`REDIS_IAM_AUTH=true`). Only
/// a cluster can (Memorystore for Redis Cluster's IAM mode), and its seed URLs then carry no
/// password: the token is the password.
fn read_iam_auth(vars: &Vars, seeds: Option<&[String]>) -> Result<Option<String>, ConfigError> {
    let enabled = match vars.get(REDIS_IAM_AUTH) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(invalid(
                REDIS_IAM_AUTH,
                format!("{other:?} is neither true nor false"),
            ));
        }
    };
    let url = vars.get(REDIS_IAM_TOKEN_URL).unwrap_or(METADATA_TOKEN_URL);
    if !url.starts_with("http://") {
        return Err(invalid(
            REDIS_IAM_TOKEN_URL,
            "must be an http:// URL (the metadata server speaks plain HTTP)",
        ));
    }
    if !enabled {
        return Ok(None);
    }
    let Some(seeds) = seeds else {
        return Err(invalid(
            REDIS_IAM_AUTH,
            format!("needs {REDIS_CLUSTER_URLS}: IAM authentication is for a Redis Cluster"),
        ));
    };
    if seeds.iter().any(|seed| has_password(seed)) {
        return Err(invalid(
            REDIS_CLUSTER_URLS,
            format!(
                "must carry no password with {REDIS_IAM_AUTH}=true: the access token is the password"
            ),
        ));
    }
    Ok(Some(url.to_owned()))
}

/// Whether a `redis://[user[:password]@]host...` URL names a password.
pub(super) fn has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

fn is_redis_url(url: &str) -> bool {
    url.starts_with("redis://") || url.starts_with("rediss://")
}

/// The PEM certificate(s) in the file `REDIS_CA_CERT` names, to trust for `rediss://`
/// (Memorystore's server CA) instead of the system's roots.
fn read_ca_cert(vars: &Vars) -> Result<Option<Vec<u8>>, ConfigError> {
    let Some(path) = vars.get(REDIS_CA_CERT) else {
        return Ok(None);
    };
    let pem = std::fs::read(path)
        .map_err(|e| invalid(REDIS_CA_CERT, format!("cannot read {path}: {e}")))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(invalid(
            REDIS_CA_CERT,
            format!("{path} holds no PEM certificate"),
        ));
    }
    Ok(Some(pem))
}
