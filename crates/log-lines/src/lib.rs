//! The log lines both services write, so their logs read and filter alike.
//!
//! Locally: env_logger's human format. On Cloud Run (`LOG_FORMAT=json`, the default when
//! `K_SERVICE` is set; each service reads that setting with its own configuration): one JSON
//! object per line in Cloud Logging's shape — `severity`, `message`, `time`, `target`, the
//! instance, and every structured field of the record (`channel`, `client_id`, `error`, …) —
//! so logs can be filtered by field.

use std::io::Write;

use log::kv::{Error, Key, Value, VisitSource};
use serde_json::{Map, Value as Json};

/// Installs the global logger; `RUST_LOG` filters, `info` by default. `instance` names this
/// process in every JSON line.
pub fn init(json: bool, instance: &str) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if json {
        let instance = instance.to_owned();
        builder.format(move |out, record| writeln!(out, "{}", json_line(record, &instance)));
    }
    builder.init();
}

/// A name for this process: the revision it runs (`K_REVISION` on Cloud Run; `local`
/// without one) and a random suffix, so two instances of one revision differ.
pub fn instance_id(revision: Option<&str>) -> String {
    use std::hash::{BuildHasher, Hasher};
    // std's randomly keyed hasher: random enough for an id that only needs to be unique.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!(
        "{}-{:08x}",
        revision.unwrap_or("local"),
        hasher.finish() as u32
    )
}

fn json_line(record: &log::Record<'_>, instance: &str) -> Json {
    let mut line = Map::new();
    let severity = match record.level() {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARNING",
        log::Level::Info => "INFO",
        log::Level::Debug | log::Level::Trace => "DEBUG",
    };
    let now = protocol::time::rfc3339_millis(protocol::time::now_millis());
    line.insert("severity".into(), severity.into());
    line.insert("message".into(), record.args().to_string().into());
    line.insert("time".into(), now.into());
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_record_becomes_one_cloud_logging_object() {
        let fields: &[(&str, Value<'_>)] = &[
            ("channel", Value::from("lobby")),
            ("connections", Value::from(3u64)),
            ("draining", Value::from(true)),
        ];
        let record = log::Record::builder()
            .level(log::Level::Warn)
            .target("backend::session")
            .args(format_args!("A message was not accepted."))
            .key_values(&fields)
            .build();
        let line = json_line(&record, "rev-1-abcd");
        assert_eq!(line["severity"], "WARNING");
        assert_eq!(line["message"], "A message was not accepted.");
        assert_eq!(line["target"], "backend::session");
        assert_eq!(line["instance"], "rev-1-abcd");
        assert_eq!(line["channel"], "lobby");
        assert_eq!(line["connections"], 3);
        assert_eq!(line["draining"], true);
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(!line.to_string().contains('\n'));
    }

    #[test]
    fn the_instance_is_the_revision_and_a_suffix() {
        let instance = instance_id(Some("chat-frontend-00007-abc"));
        assert!(
            instance.starts_with("chat-frontend-00007-abc-"),
            "{instance}"
        );
        assert_eq!(instance.len(), "chat-frontend-00007-abc-".len() + 8);
        assert!(instance_id(None).starts_with("local-"));
    }
}
