//! The HTML pages, as askama templates (in `templates/`), escaped by default.
//!
//! Each struct holds exactly what its page shows, already validated; rendering is the last
//! step of a handler and its only failure is a formatting error.

use askama::Template;

use crate::assets::assets;

/// URLs of the hashed assets every page links to.
#[derive(Debug, Clone, Copy)]
pub struct AssetUrls {
    pub js: &'static str,
    pub css: &'static str,
}

impl AssetUrls {
    pub fn current() -> Self {
        let a = assets();
        Self {
            js: &a.js.url,
            css: &a.css.url,
        }
    }
}

/// The chat page: the join form and, once joined, the room. `/` renders it without a
/// channel; `/c/{channel}` with one, so the script can enter that room straight away.
#[derive(Template)]
#[template(path = "chat.html")]
pub struct ChatPage<'a> {
    pub assets: AssetUrls,
    pub backend_url: &'a str,
    /// Where the page gets tokens and how (`guest`: this service's `/token`; `operator`: the
    /// operator's endpoint, asked with credentials); `None` when the backend needs none.
    pub tokens: Option<(&'a str, &'static str)>,
    /// Already validated as a [`protocol::ChannelId`].
    pub channel: Option<&'a str>,
    pub max_id_len: usize,
    pub max_message_chars: usize,
}

/// A readable error page, for people who followed a bad link.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub assets: AssetUrls,
    pub title: &'a str,
    pub detail: &'a str,
}
