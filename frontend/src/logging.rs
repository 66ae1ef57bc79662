//! How the frontend logs: the lines both services share ([`log_lines`]), human locally and
//! Cloud Logging JSON on Cloud Run (`LOG_FORMAT=json`, the default when `K_SERVICE` is set).

use crate::config::ConfigError;

/// How and as whom this process logs, read from the environment before anything else starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// Cloud Logging JSON lines instead of human ones.
    pub json: bool,
    /// `K_REVISION` (or `local`) plus a random suffix, so two instances of one revision differ.
    pub instance: String,
}

impl LogSettings {
    /// Reads `LOG_FORMAT` (`json` or `text`; unset: JSON on Cloud Run, i.e. when `K_SERVICE`
    /// is set) and `K_REVISION` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `from_env` with the environment injectable, for tests.
    pub fn from_lookup(
        lookup: impl Fn(&'static str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let json = match lookup("LOG_FORMAT").as_deref() {
            Some("json") => true,
            Some("text") => false,
            None => lookup("K_SERVICE").is_some(),
            Some(other) => return Err(ConfigError::InvalidLogFormat(other.to_owned())),
        };
        Ok(Self {
            json,
            instance: log_lines::instance_id(lookup("K_REVISION").as_deref()),
        })
    }
}

/// Installs the global logger in the backend's format ([`log_lines`]).
pub fn init(settings: &LogSettings) {
    log_lines::init(settings.json, &settings.instance);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&'static str, &str)]) -> Result<LogSettings, ConfigError> {
        LogSettings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn json_on_cloud_run_or_when_asked_and_text_otherwise() {
        assert!(!settings(&[]).unwrap().json);
        assert!(settings(&[("K_SERVICE", "chat-frontend")]).unwrap().json);
        assert!(settings(&[("LOG_FORMAT", "json")]).unwrap().json);
        assert!(
            !settings(&[("LOG_FORMAT", "text"), ("K_SERVICE", "x")])
                .unwrap()
                .json
        );
        let refused = settings(&[("LOG_FORMAT", "xml")]).unwrap_err().to_string();
        assert!(refused.contains("LOG_FORMAT"), "{refused}");
    }

    #[test]
    fn the_instance_is_the_revision_and_a_suffix() {
        let instance = settings(&[("K_REVISION", "chat-frontend-00007-abc")])
            .unwrap()
            .instance;
        assert!(
            instance.starts_with("chat-frontend-00007-abc-"),
            "{instance}"
        );
        assert!(settings(&[]).unwrap().instance.starts_with("local-"));
    }
}
