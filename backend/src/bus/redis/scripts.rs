//! The Lua scripts that make each multi-step change atomic on Redis.
//!
//! `redis::Script` sends `EVALSHA` and falls back to loading the script when Redis does not
//! know it yet (after a restart, for instance), so nothing has to be loaded up front.

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
            presence_join: Script::new(include_str!("lua/presence_join.lua")),
            presence_leave: Script::new(include_str!("lua/presence_leave.lua")),
            presence_refresh: Script::new(include_str!("lua/presence_refresh.lua")),
        }
    }
}
