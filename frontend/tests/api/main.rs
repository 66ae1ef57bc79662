//! HTTP-level tests: the real application, bound to a random port, driven over the network.
#![allow(clippy::unwrap_used)]

mod health;
mod helpers;
mod logging;
mod pages;
mod security_headers;
mod static_assets;
mod token;
