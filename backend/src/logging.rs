//! Log lines. Locally: env_logger's human format. On Cloud Run (`LOG_FORMAT=json`, the
//! default when `K_SERVICE` is set): one JSON object per line in Cloud Logging's shape —
//! `severity`, `message`, `time`, the instance, and every structured field of the record
//! (`channel`, `client_id`, `error`, …) — so logs can be filtered by field.

use std::{
    io::Write,
    time::{SystemTime, UNIX_EPOCH},
};

use log::kv::{Error, Key, Value, VisitSource};
use serde_json::{Map, Value as Json};

pub fn init(json: bool, instance: &str) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if json {
        let instance = instance.to_owned();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_one_cloud_logging_object() {
        let fields: &[(&str, Value<'_>)] = &[
            ("channel", Value::from("lobby")),
            ("connections", Value::from(3u64)),
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
        assert_eq!(line["instance"], "rev-1-abcd");
        assert_eq!(line["channel"], "lobby");
        assert_eq!(line["connections"], 3);
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(!line.to_string().contains('\n'));
    }
}
