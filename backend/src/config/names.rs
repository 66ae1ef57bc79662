//! The name of every environment variable the backend reads, written once: parsing, the
//! errors that name a variable and the messages that name another one all use these.

/// Port to listen on; 0 picks a free one.
pub const PORT: &str = "PORT";
/// Port `/metrics` is served on, apart from the public one.
pub const METRICS_PORT: &str = "METRICS_PORT";
/// HTTP worker threads.
pub const WORKERS: &str = "WORKERS";
/// Cloud Run's revision name, the stem of the instance id.
pub const K_REVISION: &str = "K_REVISION";
/// Set by Cloud Run; its presence makes JSON logs the default.
pub const K_SERVICE: &str = "K_SERVICE";
pub const LOG_FORMAT: &str = "LOG_FORMAT";

pub const REDIS_URL: &str = "REDIS_URL";
pub const REDIS_CLUSTER_URLS: &str = "REDIS_CLUSTER_URLS";
pub const REDIS_CA_CERT: &str = "REDIS_CA_CERT";
pub const REDIS_POOL_SIZE: &str = "REDIS_POOL_SIZE";
pub const REDIS_TIMEOUT_SECS: &str = "REDIS_TIMEOUT_SECS";
pub const REDIS_WAIT_REPLICAS: &str = "REDIS_WAIT_REPLICAS";
pub const REDIS_WAIT_TIMEOUT_MS: &str = "REDIS_WAIT_TIMEOUT_MS";
pub const SUBSCRIBER_PING_SECS: &str = "SUBSCRIBER_PING_SECS";
/// `true`: authenticate to the cluster with IAM access tokens (Memorystore for Redis Cluster).
pub const REDIS_IAM_AUTH: &str = "REDIS_IAM_AUTH";
/// Where the IAM access tokens come from; the metadata server by default.
pub const REDIS_IAM_TOKEN_URL: &str = "REDIS_IAM_TOKEN_URL";

pub const HISTORY_LIMIT: &str = "HISTORY_LIMIT";
pub const HISTORY_MAX: &str = "HISTORY_MAX";
pub const DEDUPE_WINDOW_SECS: &str = "DEDUPE_WINDOW_SECS";
pub const CHANNEL_TTL_SECS: &str = "CHANNEL_TTL_SECS";

pub const ALLOWED_ORIGINS: &str = "ALLOWED_ORIGINS";
pub const AUTH_JWT_SECRET: &str = "AUTH_JWT_SECRET";
/// During a rotation, the secret being replaced: tokens it signed still verify.
pub const AUTH_JWT_PREVIOUS_SECRET: &str = "AUTH_JWT_PREVIOUS_SECRET";
/// Seconds of tolerance on a token's `exp` and `nbf`.
pub const AUTH_CLOCK_LEEWAY_SECS: &str = "AUTH_CLOCK_LEEWAY_SECS";
pub const TRUSTED_PROXY_HOPS: &str = "TRUSTED_PROXY_HOPS";

pub const MAX_MESSAGE_CHARS: &str = "MAX_MESSAGE_CHARS";
pub const OUTBOUND_QUEUE_FRAMES: &str = "OUTBOUND_QUEUE_FRAMES";
pub const OUTBOUND_QUEUE_BYTES: &str = "OUTBOUND_QUEUE_BYTES";
pub const RATE_LIMIT_PER_SEC: &str = "RATE_LIMIT_PER_SEC";
pub const RATE_LIMIT_BURST: &str = "RATE_LIMIT_BURST";
pub const MAX_CONNECTIONS: &str = "MAX_CONNECTIONS";
pub const MAX_CONNECTIONS_PER_CLIENT: &str = "MAX_CONNECTIONS_PER_CLIENT";
pub const MAX_CONNECTIONS_PER_ADDRESS: &str = "MAX_CONNECTIONS_PER_ADDRESS";

pub const HANDSHAKE_TIMEOUT_SECS: &str = "HANDSHAKE_TIMEOUT_SECS";
pub const MESSAGE_TIMEOUT_SECS: &str = "MESSAGE_TIMEOUT_SECS";
pub const PING_INTERVAL_SECS: &str = "PING_INTERVAL_SECS";
pub const PONG_TIMEOUT_SECS: &str = "PONG_TIMEOUT_SECS";
pub const STALLED_SOCKET_TIMEOUT_SECS: &str = "STALLED_SOCKET_TIMEOUT_SECS";
pub const CONNECTION_MAX_AGE_SECS: &str = "CONNECTION_MAX_AGE_SECS";

pub const PRESENCE_TTL_SECS: &str = "PRESENCE_TTL_SECS";
pub const PRESENCE_DETAIL_MAX: &str = "PRESENCE_DETAIL_MAX";
pub const PRESENCE_BATCH_MS: &str = "PRESENCE_BATCH_MS";

/// Keys of the server API (comma-separated); unset: the API is off.
pub const API_KEYS: &str = "API_KEYS";
/// The client id and display name messages posted through the API carry.
pub const API_SENDER_ID: &str = "API_SENDER_ID";
pub const API_SENDER_NAME: &str = "API_SENDER_NAME";

pub const SHUTDOWN_GRACE_SECS: &str = "SHUTDOWN_GRACE_SECS";
pub const SHUTDOWN_SPREAD_MS: &str = "SHUTDOWN_SPREAD_MS";
