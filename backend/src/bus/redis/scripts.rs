//! The Lua scripts that make each multi-step change atomic on Redis.
//!
//! `redis::Script` sends `EVALSHA` and falls back to loading the script when Redis does not
//! know it yet (after a restart, for instance), so nothing has to be loaded up front. The
//! presence scripts share one prelude (`prune.lua`), prepended to each.

use redis::Script;

pub struct Scripts {
    pub publish: Script,
    pub history: Script,
    pub presence_join: Script,
    pub presence_leave: Script,
    pub presence_refresh: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            publish: Script::new(include_str!("lua/publish.lua")),
            history: Script::new(include_str!("lua/history.lua")),
            presence_join: with_prune(include_str!("lua/presence_join.lua")),
            presence_leave: with_prune(include_str!("lua/presence_leave.lua")),
            presence_refresh: with_prune(include_str!("lua/presence_refresh.lua")),
        }
    }
}

fn with_prune(body: &str) -> Script {
    Script::new(&format!("{}\n{body}", include_str!("lua/prune.lua")))
}
