//! A Redis Cluster of the test's own: `redis-server --cluster-enabled yes` nodes on free
//! ports, joined with `redis-cli --cluster create`, stopped by pid when dropped.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::helpers::{free_port, stable_port};

pub struct RedisCluster {
    pub nodes: Vec<ClusterNode>,
    dir: PathBuf,
}

pub struct ClusterNode {
    pub port: u16,
    child: Option<Child>,
}

impl ClusterNode {
    fn start(port: u16, dir: &std::path::Path) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            // Replicas sync at once (the default waits 5 s for more replicas to batch).
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        Self {
            port,
            child: Some(child),
        }
    }

    /// Starts a node on a free port pair and waits until it answers. A port checked free can
    /// still be taken before the node binds it (another test's node, or its bus port), and
    /// the node then exits at once: it is started again on other ports.
    async fn start_answering(dir: &std::path::Path) -> Self {
        for _ in 0..5 {
            let mut node = Self::start(node_port(), dir);
            for _ in 0..200 {
                let exited = node
                    .child
                    .as_mut()
                    .is_none_or(|child| matches!(child.try_wait(), Ok(Some(_)) | Err(_)));
                if exited {
                    break;
                }
                // Answering is not enough: it must be this node, not whoever holds the port.
                let pid = node.child.as_ref().map(Child::id).unwrap_or_default();
                let info: redis::RedisResult<String> =
                    RedisCluster::command(node.port, redis::cmd("INFO").arg("server")).await;
                if info.is_ok_and(|info| info.contains(&format!("process_id:{pid}\r\n"))) {
                    return node;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            node.kill();
        }
        panic!("no cluster node came up on five port pairs");
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to this node's own process, by pid.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        crate::helpers::send_signal(pid, signal);
    }

    /// SIGKILL: the node is gone without a word to the others.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        self.kill();
    }
}

impl RedisCluster {
    /// `primaries` primaries with `replicas` replicas each, every slot assigned.
    pub async fn start(primaries: usize, replicas: usize) -> Self {
        let dir = std::env::temp_dir().join(format!("chat-cluster-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut nodes = Vec::new();
        for _ in 0..primaries * (1 + replicas) {
            nodes.push(ClusterNode::start_answering(&dir).await);
        }
        let cluster = Self { nodes, dir };
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli must be installed");
        assert!(status.success(), "redis-cli --cluster create failed");
        for node in &cluster.nodes {
            cluster
                .wait_for(node.port, |info| info.contains("cluster_state:ok"))
                .await;
        }
        // A replica can only take over once it has synced: until then it refuses to fail
        // over ("disconnected from master for longer than allowed").
        for node in &cluster.nodes {
            cluster.wait_until_synced(node.port).await;
        }
        cluster
    }

    /// Waits until the node, if it is a replica, has its replication link up.
    async fn wait_until_synced(&self, port: u16) {
        for _ in 0..200 {
            let info: redis::RedisResult<String> =
                Self::command(port, redis::cmd("INFO").arg("replication")).await;
            if let Ok(info) = info
                && (info.contains("role:master") || info.contains("master_link_status:up"))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("replica {port} did not sync with its primary");
    }

    /// The comma-separated seed list for `REDIS_CLUSTER_URLS`.
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub async fn command<T: redis::FromRedisValue>(
        port: u16,
        cmd: &redis::Cmd,
    ) -> redis::RedisResult<T> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        cmd.query_async(&mut connection).await
    }

    /// Ports of the nodes that are primaries now, each with the slot ranges it serves.
    pub async fn primaries(&self) -> Vec<u16> {
        let mut ports = Vec::new();
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            let role: redis::RedisResult<Vec<redis::Value>> =
                Self::command(node.port, &redis::cmd("ROLE")).await;
            if let Ok(role) = role
                && matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master")
            {
                ports.push(node.port);
            }
        }
        ports
    }

    /// The nodes that are replicas now.
    pub async fn replicas(&self) -> Vec<&ClusterNode> {
        let primaries = self.primaries().await;
        self.nodes
            .iter()
            .filter(|n| n.child.is_some() && !primaries.contains(&n.port))
            .collect()
    }

    async fn wait_for(&self, port: u16, ready: impl Fn(&str) -> bool) {
        for _ in 0..200 {
            let info: redis::RedisResult<String> =
                Self::command(port, redis::cmd("CLUSTER").arg("INFO")).await;
            if let Ok(info) = info
                && ready(&info)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cluster node {port} did not become ready");
    }
}

/// A free port for a cluster node: its cluster bus listens 10,000 higher (so the port must be
/// at most 55,535), and that port must be free too. Below the ephemeral range, so neither can
/// be taken by an outgoing connection meanwhile.
fn node_port() -> u16 {
    for _ in 0..100 {
        let port = stable_port();
        if std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
