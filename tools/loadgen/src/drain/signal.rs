//! The drained backend's lifecycle as the scenario sees it: SIGTERM by pid (through `kill`,
//! so the crate needs no libc binding) and its exit, read from /proc (a zombie waiting for its
//! parent to reap it has exited).

use std::time::Duration;

use tokio::time::Instant;

pub fn terminate(pid: u32) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -TERM {pid} failed: {status}");
    Ok(())
}

/// False once `pid` has exited (gone, or a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .is_some_and(|stat| !is_zombie(&stat))
}

/// The state field follows the parenthesised command name, which may itself hold spaces.
fn is_zombie(stat: &str) -> bool {
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// How long `pid` took to exit from now, polled every 10 ms; `None` if it outlived `limit`.
pub async fn wait_exit(pid: u32, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(pid) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_zombie_state() {
        assert!(is_zombie("123 (back end) Z 1 2 3"));
        assert!(!is_zombie("123 (back end) S 1 2 3"));
        assert!(!is_zombie("garbage"));
        assert!(alive(std::process::id()));
    }
}
