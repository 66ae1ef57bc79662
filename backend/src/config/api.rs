//! The server API: who may call it, and whom its messages are from.

use protocol::{ClientId, DisplayName};

use super::{
    ConfigError,
    names::{API_KEYS, API_SENDER_ID, API_SENDER_NAME},
    vars::{Vars, invalid},
};

/// Shortest key accepted: a key is a secret, not a password someone types.
const MIN_KEY_CHARS: usize = 24;

#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Keys any of which authorizes a call (`Authorization: Bearer <key>`); several, so a key
    /// can be rotated without downtime. Empty: the API is off and answers 404.
    pub keys: Vec<String>,
    /// The client id messages posted through the API are sent as.
    pub sender: ClientId,
    /// The display name they are shown with.
    pub sender_name: DisplayName,
}

impl ApiSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let keys: Vec<String> = vars
            .raw(API_KEYS)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(short) = keys.iter().find(|k| k.chars().count() < MIN_KEY_CHARS) {
            return Err(invalid(
                API_KEYS,
                format!(
                    "a key of {} characters is too short to be a secret; use at least {MIN_KEY_CHARS} random characters",
                    short.chars().count()
                ),
            ));
        }
        let sender = ClientId::parse(vars.get(API_SENDER_ID).unwrap_or("system"))
            .map_err(|e| invalid(API_SENDER_ID, e.to_string()))?;
        let sender_name = DisplayName::parse(vars.get(API_SENDER_NAME).unwrap_or("System"))
            .map_err(|e| invalid(API_SENDER_NAME, e.to_string()))?;
        Ok(Self {
            keys,
            sender,
            sender_name,
        })
    }

    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether `presented` is one of the keys, compared in constant time: how long the check
    /// takes says nothing about how much of a key was right.
    pub fn accepts(&self, presented: &str) -> bool {
        let mut found = false;
        for key in &self.keys {
            found |= constant_time_eq(key.as_bytes(), presented.as_bytes());
        }
        found
    }
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        let y = b.get(i % b.len().max(1)).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_whole_keys() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
        assert!(!constant_time_eq(b"abcdef", b"abcde"));
        assert!(!constant_time_eq(b"abcdef", b"abcdefg"));
        assert!(!constant_time_eq(b"abcdef", b""));
        assert!(constant_time_eq(b"", b""));
    }
}
