//! How every Redis connection is made, on one Redis and on a cluster's nodes alike: the
//! TCP settings, and the TLS roots to trust.

use redis::{Client, ConnectionInfo, RedisResult};

/// TCP settings for every Redis connection: Nagle off, since a publish is a small write
/// that must not wait for the previous one's ACK (it cost acks ~40 ms).
pub fn no_delay() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

/// A client for `info`, trusting `ca_cert` (PEM) for `rediss://` when given, else the
/// system's roots.
pub fn client(info: ConnectionInfo, ca_cert: Option<&[u8]>) -> RedisResult<Client> {
    match ca_cert {
        None => Client::open(info),
        Some(pem) => Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            },
        ),
    }
}
