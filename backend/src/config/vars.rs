//! Reading one variable: trimmed, empty as unset, numbers checked against a minimum, with
//! an error that names the variable.

use std::{collections::HashMap, time::Duration};

use super::ConfigError;

/// The variables settings are read from (the environment, or a test's map).
pub struct Vars(HashMap<String, String>);

impl Vars {
    pub fn new(vars: HashMap<String, String>) -> Self {
        Self(vars)
    }

    /// The trimmed value; an empty one counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value as given, untrimmed, for readers that apply their own rules.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether the variable is present at all, even empty.
    pub fn is_present(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The number in `name`, or `default` when unset; refused below `min`.
    pub fn number<T>(&self, name: &'static str, default: T, min: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        Ok(self.optional_number(name, min)?.unwrap_or(default))
    }

    /// The number in `name` if set; refused below `min`.
    pub fn optional_number<T>(&self, name: &'static str, min: T) -> Result<Option<T>, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        // `NaN` compares as neither below nor above any minimum, and `inf` passes every
        // minimum: either would switch a limit off. No setting means them.
        if raw.parse::<f64>().is_ok_and(|v| !v.is_finite()) {
            return Err(invalid(name, format!("{raw:?} is not a finite number")));
        }
        let value: T = raw
            .parse()
            .map_err(|_| invalid(name, format!("{raw:?} is not a number")))?;
        if value < min {
            return Err(invalid(name, format!("must be at least {min}")));
        }
        Ok(Some(value))
    }

    /// Whole seconds, at least one.
    pub fn secs(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.number(name, default, 1).map(Duration::from_secs)
    }

    /// Milliseconds, at least `min`.
    pub fn millis(
        &self,
        name: &'static str,
        default: u64,
        min: u64,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, min).map(Duration::from_millis)
    }
}

/// The error for a bad value of `name`.
pub fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}
