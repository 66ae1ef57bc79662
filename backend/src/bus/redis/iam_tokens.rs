//! IAM authentication for a managed Redis Cluster (Memorystore for Redis Cluster with
//! `AUTH_MODE_IAM_AUTH`): every new node connection authenticates with `AUTH <access token>`,
//! the token being the instance's service-account token from the metadata server.
//!
//! A token lives about an hour and is checked only when a connection authenticates:
//! connections already open keep working after it expires, but every connection opened later
//! (a reconnect, a node learned from a `MOVED`, a failover) needs one that is valid then. So
//! a task keeps a fresh token at hand, fetching a new one well before the current one expires
//! and retrying (the current token still serves meanwhile) when the metadata server fails.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Where Cloud Run (like every Google Cloud runtime) hands out the service account's token.
pub const METADATA_TOKEN_URL: &str =
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token";

/// Longest a token fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an answer read; a token answer is well under 4 KiB.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// How long before its expiry a token is replaced, at most (a quarter of its life for
/// short-lived ones), so a slow or failing metadata server has time to recover.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// Retry pauses after a failed fetch: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_LAST: Duration = Duration::from_secs(30);

/// The current access token, kept fresh by a background task for as long as any clone lives.
#[derive(Clone)]
pub struct AccessTokens {
    current: Arc<Mutex<Option<String>>>,
}

impl AccessTokens {
    /// Starts fetching tokens from `url` (an `http://` URL: the metadata server speaks plain
    /// HTTP on a link-local address). Connections made before the first answer fail, and the
    /// bus reports not ready until one arrives.
    pub fn start(url: &str) -> Result<Self, String> {
        let target = Target::parse(url)?;
        let current = Arc::new(Mutex::new(None));
        tokio::spawn(keep_fresh(target, Arc::downgrade(&current)));
        Ok(Self { current })
    }

    /// The token to authenticate a new connection with, if one was fetched.
    pub fn current(&self) -> Option<String> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Fetches a token, stores it and sleeps until it is due for replacement; on failure, retries
/// with growing pauses. Ends when the last [`AccessTokens`] is dropped.
async fn keep_fresh(target: Target, current: std::sync::Weak<Mutex<Option<String>>>) {
    let mut retry = RETRY_FIRST;
    loop {
        let pause = match fetch(&target).await {
            Ok(token) => {
                let Some(current) = current.upgrade() else {
                    return;
                };
                *current.lock().unwrap_or_else(PoisonError::into_inner) = Some(token.value);
                retry = RETRY_FIRST;
                refresh_after(token.lifetime)
            }
            Err(e) => {
                log::warn!(error:% = e, retry_ms = retry.as_millis() as u64; "Could not fetch an IAM access token for Redis.");
                let pause = retry;
                retry = (retry * 2).min(RETRY_LAST);
                pause
            }
        };
        if current.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

/// How long a token of `lifetime` is used before a new one is fetched.
fn refresh_after(lifetime: Duration) -> Duration {
    let ahead = REFRESH_AHEAD.min(lifetime / 4);
    lifetime.saturating_sub(ahead).max(Duration::from_secs(1))
}

struct Token {
    value: String,
    lifetime: Duration,
}

/// Host, port and path of the token endpoint.
struct Target {
    host: String,
    port: u16,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .map_err(|_| format!("{url:?} has a bad port"))?,
            ),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("{url:?} names no host"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path: format!("/{path}"),
        })
    }
}

/// One `GET` of the token endpoint. HTTP/1.0, so the answer is never chunked and ends with
/// the connection.
async fn fetch(target: &Target) -> Result<Token, String> {
    let exchange = async {
        let mut socket = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("cannot reach {}:{}: {e}", target.host, target.port))?;
        let request = format!(
            "GET {} HTTP/1.0\r\nHost: {}\r\nMetadata-Flavor: Google\r\nAccept: application/json\r\n\r\n",
            target.path, target.host
        );
        socket
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        socket
            .take(MAX_ANSWER_BYTES)
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(answer)
    };
    let answer = tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .map_err(|_| "the token endpoint did not answer in time".to_owned())??;
    parse_answer(&answer)
}

fn parse_answer(answer: &[u8]) -> Result<Token, String> {
    let text = std::str::from_utf8(answer).map_err(|_| "the answer is not UTF-8".to_owned())?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "the answer has no body".to_owned())?;
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(format!("the token endpoint answered {status}"));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        access_token: String,
        expires_in: u64,
    }
    let answer: Answer =
        serde_json::from_str(body).map_err(|e| format!("the token answer is malformed: {e}"))?;
    if answer.access_token.is_empty() {
        return Err("the token answer holds an empty token".into());
    }
    Ok(Token {
        value: answer.access_token,
        lifetime: Duration::from_secs(answer.expires_in),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_well_before_they_expire() {
        assert_eq!(
            refresh_after(Duration::from_secs(3599)),
            Duration::from_secs(3299)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(8)),
            Duration::from_secs(6)
        );
        assert_eq!(refresh_after(Duration::ZERO), Duration::from_secs(1));
    }

    #[test]
    fn reads_the_metadata_servers_answer() {
        let answer = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"access_token\":\"ya29.x\",\"expires_in\":3599,\"token_type\":\"Bearer\"}";
        let token = parse_answer(answer).expect("a token");
        assert_eq!(token.value, "ya29.x");
        assert_eq!(token.lifetime, Duration::from_secs(3599));
        let refused = b"HTTP/1.0 403 Forbidden\r\n\r\nMissing Metadata-Flavor:Google header.";
        assert!(parse_answer(refused).is_err());
    }

    #[test]
    fn parses_token_urls() {
        let target = Target::parse(METADATA_TOKEN_URL).expect("the default parses");
        assert_eq!(target.host, "metadata.google.internal");
        assert_eq!(target.port, 80);
        assert!(target.path.ends_with("/default/token"));
        let local = Target::parse("http://127.0.0.1:8931/token").expect("parses");
        assert_eq!((local.host.as_str(), local.port), ("127.0.0.1", 8931));
        assert!(Target::parse("https://example.com/").is_err());
    }
}
