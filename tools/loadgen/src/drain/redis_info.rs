//! Redis command counts from `INFO commandstats`, read over a plain TCP connection (one
//! inline command, one bulk reply), so the scenario can say how many Redis commands the
//! reconnect wave cost.

use std::collections::BTreeMap;

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// Calls per command name (`xadd`, `xrange`, …).
pub type Calls = BTreeMap<String, u64>;

/// Asks the Redis at `addr` (`host:port`) for its command counts.
pub async fn command_calls(addr: &str) -> anyhow::Result<Calls> {
    let stream = TcpStream::connect(addr).await?;
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(b"INFO commandstats\r\n").await?;
    let mut header = String::new();
    stream.read_line(&mut header).await?;
    let len: usize = header
        .trim_end()
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("unexpected INFO reply: {}", header.trim_end()))?;
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await?;
    Ok(parse(&String::from_utf8_lossy(&body)))
}

/// Reads `cmdstat_<name>:calls=<n>,usec=…` lines; anything else is skipped.
pub fn parse(info: &str) -> Calls {
    info.lines()
        .filter_map(|line| {
            let (name, fields) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = fields
                .split(',')
                .find_map(|f| f.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Calls made between `before` and `after`, per command, dropping commands not called.
pub fn delta(before: &Calls, after: &Calls) -> Calls {
    after
        .iter()
        .filter_map(|(name, &n)| {
            let d = n.saturating_sub(before.get(name).copied().unwrap_or(0));
            (d > 0).then(|| (name.clone(), d))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_subtracts_commandstats() {
        let before = parse(
            "# Commandstats\r\ncmdstat_xadd:calls=10,usec=50,usec_per_call=5.00\r\n\
             cmdstat_ping:calls=3,usec=1\r\n",
        );
        assert_eq!(before.get("xadd"), Some(&10));
        let after = parse(
            "cmdstat_xadd:calls=15,usec=80\r\ncmdstat_ping:calls=3,usec=1\r\n\
             cmdstat_xrange:calls=4,usec=9\r\n",
        );
        let d = delta(&before, &after);
        assert_eq!(d.get("xadd"), Some(&5));
        assert_eq!(d.get("xrange"), Some(&4));
        assert!(!d.contains_key("ping"));
    }
}
