//! Issues a token for a backend that runs with `AUTH_JWT_SECRET`.
//!
//!     AUTH_JWT_SECRET=... chat-token --sub alice [--channels lobby,dev] [--ttl 3600]
//!
//! Prints the token; pass it as `?token=` (browsers) or `Authorization: Bearer` (others).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use backend::auth::{Claims, MIN_SECRET_LEN, TokenAuthority};
use protocol::{ChannelId, ClientId};

fn main() -> anyhow::Result<()> {
    let secret = std::env::var("AUTH_JWT_SECRET").context("AUTH_JWT_SECRET is not set")?;
    if secret.len() < MIN_SECRET_LEN {
        bail!("AUTH_JWT_SECRET must be at least {MIN_SECRET_LEN} bytes");
    }
    let mut sub = None;
    let mut channels = None;
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
            "--ttl" => ttl = value()?.parse().context("--ttl takes seconds")?,
            "-h" | "--help" => {
                println!(
                    "usage: AUTH_JWT_SECRET=... chat-token --sub CLIENT_ID [--channels A,B] [--ttl SECONDS]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let sub = sub.context("--sub CLIENT_ID is required")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = Claims {
        sub: sub.into_string(),
        exp: now + ttl,
        nbf: None,
        channels,
    };
    println!("{}", TokenAuthority::new(secret.as_bytes()).issue(&claims));
    Ok(())
}
