//! Log lines, in the backend's format so both services' logs read and filter alike. Locally:
//! env_logger's human format. On Cloud Run (`LOG_FORMAT=json`, the default when `K_SERVICE` is
//! set): one JSON object per line in Cloud Logging's shape — `severity`, `message`, `time`,
//! `target`, the instance, and every structured field of the record (`port`, `backend`, …).
//!
//! The same approach as the backend's `logging` module, kept as a copy: the frontend does not
//! link the backend crate. A change to the line's shape belongs in both.

use std::{
    io::Write,
    time::{SystemTime, UNIX_EPOCH},
};

use log::kv::{Error, Key, Value, VisitSource};
use serde_json::{Map, Value as Json};

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
        let revision = lookup("K_REVISION").unwrap_or_else(|| "local".to_owned());
        Ok(Self {
            json,
            instance: format!("{revision}-{:08x}", random_u32()),
        })
    }
}

/// Installs the global logger; `RUST_LOG` filters, `info` by default.
pub fn init(settings: &LogSettings) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if settings.json {
        let instance = settings.instance.clone();
        builder.format(move |out, record| writeln!(out, "{}", json_line(record, &instance)));
    }
    builder.init();
}

fn json_line(record: &log::Record<'_>, instance: &str) -> Json {
    let mut line = Map::new();
    let severity = match record.level() {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARNING",
        log::Level::Info => "INFO",
        log::Level::Debug | log::Level::Trace => "DEBUG",
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    line.insert("severity".into(), severity.into());
    line.insert("message".into(), record.args().to_string().into());
    line.insert("time".into(), protocol::time::rfc3339_millis(now_ms).into());
    line.insert("target".into(), record.target().into());
    line.insert("instance".into(), instance.into());
    let _ = record.key_values().visit(&mut Fields(&mut line));
    Json::Object(line)
}

/// Copies a record's structured fields into the JSON line.
struct Fields<'a>(&'a mut Map<String, Json>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), Error> {
        let value = match (value.to_u64(), value.to_bool()) {
            (Some(n), _) => n.into(),
            (None, Some(b)) => b.into(),
            _ => value.to_string().into(),
        };
        self.0.insert(key.to_string(), value);
        Ok(())
    }
}

/// Randomness for an id that only needs to be unique, from std's randomly keyed hasher.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish() as u32
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

    #[test]
    fn a_record_becomes_one_cloud_logging_object() {
        let fields: &[(&str, Value<'_>)] = &[
            ("backend", Value::from("wss://backend.example.test")),
            ("port", Value::from(8080u64)),
        ];
        let record = log::Record::builder()
            .level(log::Level::Warn)
            .target("frontend::startup")
            .args(format_args!("Frontend listening."))
            .key_values(&fields)
            .build();
        let line = json_line(&record, "rev-1-abcd");
        assert_eq!(line["severity"], "WARNING");
        assert_eq!(line["message"], "Frontend listening.");
        assert_eq!(line["instance"], "rev-1-abcd");
        assert_eq!(line["backend"], "wss://backend.example.test");
        assert_eq!(line["port"], 8080);
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(!line.to_string().contains('\n'));
    }
}
