//! The chat service's web frontend: serves the browser chat page and its assets.
//!
//! The browser talks to the backend's WebSocket directly; this service only tells it where
//! the backend is (rendered into the page) and serves the page, script and stylesheet.
//!
//! Module map:
//! - [`config`]: [`Settings`] from the environment (`PORT`, `BACKEND_URL`), validated up front.
//! - [`token_settings`]: where the page gets tokens: minted here for guests, or the operator's.
//! - [`guest_token`]: signing guest tokens the backend accepts; [`rate_limit`]: their budget.
//! - [`startup`]: [`Application`], which binds the listener and runs the server.
//! - [`routes`]: the chat page, static assets, health check and `POST /token`.
//! - [`assets`]: the script and stylesheet embedded in the binary, with content hashes.
//! - [`security`]: the Content-Security-Policy and other security headers.
//! - [`logging`]: human or Cloud Logging JSON lines (`LOG_FORMAT`), as the backend writes them.
//! - `templates`: the askama page templates (`templates/` in the crate).
//!
//! The page itself (`static/js/`, served as one `app.js`) speaks protocol v1 of the [`protocol`] crate.

pub mod assets;
pub mod config;
pub mod guest_token;
pub mod logging;
pub mod rate_limit;
pub mod routes;
pub mod security;
pub mod startup;
mod templates;
pub mod token_settings;

pub use config::{BackendUrl, ConfigError, Settings};
pub use startup::Application;
