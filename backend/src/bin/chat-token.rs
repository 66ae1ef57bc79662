//! Issues a token for a backend that runs with `AUTH_JWT_SECRET`.
//!
//!     AUTH_JWT_SECRET=... chat-token --sub alice [--channels lobby,dev] [--name "Alice B."] [--ttl 3600]
//!
//! Prints the token; pass it as `?token=` (browsers) or `Authorization: Bearer` (others).
//! `--name` puts the display name in the token; the backend checks it when it is used.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use backend::auth::{Claims, authority_from_secret};
use protocol::{ChannelId, ClientId};

/// Longest lifetime a token may be given: ten years. Anything longer is a mistake, and an
/// expiry past every clock would wrap around into a token that has already expired.
const MAX_TTL_SECS: u64 = 10 * 365 * 24 * 3600;

fn main() -> anyhow::Result<()> {
    let secret = std::env::var("AUTH_JWT_SECRET").ok();
    // Read exactly as the backend reads it, so the two agree on the key.
    let authority = authority_from_secret(secret.as_deref())
        .map_err(|e| anyhow!("AUTH_JWT_SECRET {e}"))?
        .context("AUTH_JWT_SECRET is not set")?;
    let mut sub = None;
    let mut channels = None;
    let mut name = None;
    let mut ttl: u64 = 3600;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--sub" => sub = Some(ClientId::parse(&value()?).context("--sub")?),
            "--channels" => {
                let list = value()?
                    .split(',')
                    .map(|c| ChannelId::parse(c.trim()).map(ChannelId::into_string))
                    .collect::<Result<Vec<_>, _>>()
                    .context("--channels")?;
                channels = Some(list);
            }
            "--name" => name = Some(parse_name(&value()?)?),
            "--ttl" => ttl = parse_ttl(&value()?)?,
            "-h" | "--help" => {
                println!(
                    "usage: AUTH_JWT_SECRET=... chat-token --sub CLIENT_ID [--channels A,B] [--name NAME] [--ttl SECONDS]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let sub = sub.context("--sub CLIENT_ID is required")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let exp = now
        .checked_add(ttl)
        .context("--ttl reaches past the end of time")?;
    let claims = Claims {
        sub: sub.into_string(),
        exp,
        nbf: None,
        channels,
        name,
    };
    println!("{}", authority.issue(&claims));
    Ok(())
}

/// `--name`: a display name, trimmed. Only emptiness is refused here; the backend applies the
/// full rule when the token is used, so there is one rule and it lives there.
fn parse_name(raw: &str) -> anyhow::Result<String> {
    let name = raw.trim();
    if name.is_empty() {
        bail!("--name must not be empty");
    }
    Ok(name.to_owned())
}

/// `--ttl`: whole seconds, at least one and at most [`MAX_TTL_SECS`].
fn parse_ttl(raw: &str) -> anyhow::Result<u64> {
    let wrong =
        || format!("--ttl takes whole seconds from 1 to {MAX_TTL_SECS} (ten years), got {raw:?}");
    let ttl: u64 = raw.trim().parse().with_context(wrong)?;
    if !(1..=MAX_TTL_SECS).contains(&ttl) {
        bail!(wrong());
    }
    Ok(ttl)
}
