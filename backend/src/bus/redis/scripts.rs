//! The Lua scripts that make each multi-step change atomic on Redis.
//!
//! `redis::Script` sends `EVALSHA` and falls back to loading the script when Redis does not
//! know it yet (after a restart, for instance), so nothing has to be loaded up front. The
//! presence scripts share one prelude (`prune.lua`), and the scripts that touch the stream
//! another (`epoch.lua`), prepended to each.

use redis::Script;

/// How the scripts publish: `PUBLISH` on one Redis, `SPUBLISH` (sharded, Redis ≥ 7) on a
/// cluster, where a channel's events must stay on the shard that holds its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    Plain,
    Sharded,
}

pub struct Scripts {
    pub publish: Script,
    pub history: Script,
    pub position: Script,
    pub history_after: Script,
    pub presence_join: Script,
    pub presence_leave: Script,
    pub presence_refresh: Script,
    pub presence_read: Script,
    pub typing: Script,
}

impl Scripts {
    pub fn new(publish: Publish) -> Self {
        let script = |body: &str| {
            Script::new(&match publish {
                Publish::Plain => body.to_owned(),
                Publish::Sharded => body.replace("redis.call('PUBLISH'", "redis.call('SPUBLISH'"),
            })
        };
        let with_prune = |body: &str| script(&format!("{}\n{body}", include_str!("lua/prune.lua")));
        let with_epoch = |body: &str| script(&format!("{}\n{body}", include_str!("lua/epoch.lua")));
        Self {
            publish: with_epoch(include_str!("lua/publish.lua")),
            history: with_epoch(include_str!("lua/history.lua")),
            history_after: with_epoch(include_str!("lua/history_after.lua")),
            position: with_epoch(include_str!("lua/position.lua")),
            presence_join: with_prune(include_str!("lua/presence_join.lua")),
            presence_leave: with_prune(include_str!("lua/presence_leave.lua")),
            presence_refresh: with_prune(include_str!("lua/presence_refresh.lua")),
            presence_read: with_prune(include_str!("lua/presence_read.lua")),
            typing: script(include_str!("lua/typing.lua")),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sharded_scripts_never_use_plain_publish() {
        let bodies = [
            include_str!("lua/publish.lua"),
            include_str!("lua/prune.lua"),
            include_str!("lua/presence_join.lua"),
            include_str!("lua/presence_leave.lua"),
            include_str!("lua/typing.lua"),
        ];
        for body in bodies {
            let sharded = body.replace("redis.call('PUBLISH'", "redis.call('SPUBLISH'");
            assert!(!sharded.contains("'PUBLISH'"), "{body}");
        }
        assert!(include_str!("lua/publish.lua").contains("redis.call('PUBLISH'"));
        // Every publish is written `redis.call('PUBLISH', …)`, so the rewrite finds it.
        for body in [
            include_str!("lua/publish.lua"),
            include_str!("lua/prune.lua"),
            include_str!("lua/presence_join.lua"),
            include_str!("lua/presence_leave.lua"),
        ] {
            assert_eq!(
                body.matches("PUBLISH").count(),
                body.matches("redis.call('PUBLISH'").count(),
                "{body}"
            );
        }
    }
}
