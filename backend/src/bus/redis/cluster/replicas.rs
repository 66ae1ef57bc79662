//! How many replicas the cluster's primaries have, from `CLUSTER NODES`.

use redis::aio::ConnectionLike;

/// The fewest connected replicas any primary has, asked of any node.
pub async fn fewest_replicas(connection: &mut impl ConnectionLike) -> redis::RedisResult<usize> {
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(connection)
        .await?;
    Ok(fewest_in(&nodes))
}

/// The fewest connected replicas any primary has, from `CLUSTER NODES`.
fn fewest_in(nodes: &str) -> usize {
    let mut primaries: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut replicas_of: Vec<&str> = Vec::new();
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(id), Some(flags), Some(master), Some(state)) =
            (fields.first(), fields.get(2), fields.get(3), fields.get(7))
        else {
            continue;
        };
        if flags.contains("fail") || *state != "connected" {
            continue;
        }
        if flags.contains("master") {
            primaries.entry(id).or_insert(0);
        } else if flags.contains("slave") {
            replicas_of.push(master);
        }
    }
    for master in replicas_of {
        if let Some(count) = primaries.get_mut(master) {
            *count += 1;
        }
    }
    primaries.values().copied().min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::fewest_in;

    #[test]
    fn counts_live_replicas_per_primary() {
        let nodes = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922
a3 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383
b1 127.0.0.1:7004@17004 slave a1 0 0 1 connected
b2 127.0.0.1:7005@17005 slave a2 0 0 2 connected
b3 127.0.0.1:7006@17006 slave,fail a3 0 0 3 disconnected
";
        assert_eq!(fewest_in(nodes), 0);
        let healed = nodes.replace(
            "slave,fail a3 0 0 3 disconnected",
            "slave a3 0 0 3 connected",
        );
        assert_eq!(fewest_in(&healed), 1);
    }
}
