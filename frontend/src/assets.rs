//! The page's JavaScript and CSS, compiled into the binary.
//!
//! Embedding keeps deployment to one file and makes the content known at compile time, so
//! each asset gets a content hash in its name (`app.<hash>.js`). The page links the hashed
//! name, which can then be cached forever (`immutable`): a new build changes the name. The
//! plain name (`app.js`) is served too, revalidated with an `ETag`, for anyone who bookmarks
//! or scripts it.

use std::sync::LazyLock;

use actix_web::http::header::EntityTag;

/// The script, from the files of `static/js/`, each with one concern, concatenated into one
/// strict-mode function so they share a scope without a module loader or extra requests.
/// The order matters only in that `main.js`, which starts the page, comes last.
const APP_JS: &[u8] = concat!(
    "// Chat page (protocol v1). Sources: frontend/static/js/.\n",
    "(() => {\n\"use strict\";\n",
    include_str!("../static/js/dom.js"),
    include_str!("../static/js/ids.js"),
    include_str!("../static/js/tokens.js"),
    include_str!("../static/js/prefs.js"),
    include_str!("../static/js/format.js"),
    include_str!("../static/js/messages.js"),
    include_str!("../static/js/history.js"),
    include_str!("../static/js/outbox.js"),
    include_str!("../static/js/presence.js"),
    include_str!("../static/js/connection.js"),
    include_str!("../static/js/heartbeat.js"),
    include_str!("../static/js/rooms.js"),
    include_str!("../static/js/main.js"),
    "})();\n",
)
.as_bytes();
const APP_CSS: &[u8] = include_bytes!("../static/app.css");

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Unversioned name, e.g. `app.js`.
    pub name: &'static str,
    /// Name with the content hash, e.g. `app.0123456789abcdef.js`.
    pub hashed_name: String,
    /// URL path the page links to, e.g. `/static/app.0123456789abcdef.js`.
    pub url: String,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// Weak, because the `Compress` middleware may re-encode the body; the content is
    /// the same either way, which is what weak validators promise.
    pub etag: EntityTag,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: &'static [u8]) -> Self {
        let hash = format!("{:016x}", fnv1a64(body));
        let hashed_name = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
            None => format!("{name}.{hash}"),
        };
        Self {
            name,
            url: format!("/static/{hashed_name}"),
            hashed_name,
            content_type,
            body,
            etag: EntityTag::new_weak(hash),
        }
    }
}

/// How an asset was asked for, which decides how long it may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// By its hashed name: the content behind it never changes.
    Hashed,
    /// By its plain name: the content changes with each release.
    Plain,
}

/// All embedded assets.
#[derive(Debug)]
pub struct Assets {
    pub js: Asset,
    pub css: Asset,
}

impl Assets {
    /// Finds an asset by the file name under `/static/`, hashed or plain.
    pub fn lookup(&self, file_name: &str) -> Option<(&Asset, Naming)> {
        [&self.js, &self.css].into_iter().find_map(|asset| {
            if file_name == asset.hashed_name {
                Some((asset, Naming::Hashed))
            } else if file_name == asset.name {
                Some((asset, Naming::Plain))
            } else {
                None
            }
        })
    }
}

/// The assets of this build; hashed once, on first use.
pub fn assets() -> &'static Assets {
    static ASSETS: LazyLock<Assets> = LazyLock::new(|| Assets {
        js: Asset::new("app.js", "text/javascript; charset=utf-8", APP_JS),
        css: Asset::new("app.css", "text/css; charset=utf-8", APP_CSS),
    });
    &ASSETS
}

/// 64-bit FNV-1a. Only for cache busting, where collisions are harmless and a cryptographic
/// hash would be one more dependency for nothing.
const fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn lookup_tells_hashed_from_plain_names() {
        let a = assets();
        assert!(a.js.hashed_name.starts_with("app.") && a.js.hashed_name.ends_with(".js"));
        assert_eq!(a.js.url, format!("/static/{}", a.js.hashed_name));
        assert_ne!(a.js.hashed_name, a.css.hashed_name);
        let (asset, naming) = a.lookup(&a.css.hashed_name).unwrap();
        assert_eq!((asset.name, naming), ("app.css", Naming::Hashed));
        let (asset, naming) = a.lookup("app.js").unwrap();
        assert_eq!((asset.name, naming), ("app.js", Naming::Plain));
        assert!(a.lookup("app.0000000000000000.js").is_none());
        assert!(a.lookup("../Cargo.toml").is_none());
    }

    /// The sources are wrapped into one strict-mode function, so they share a scope and
    /// nothing leaks into the page's globals.
    #[test]
    fn script_is_one_strict_function() {
        let js = std::str::from_utf8(APP_JS).unwrap();
        assert!(js.contains("(() => {\n\"use strict\";\n"), "{}", &js[..200]);
        assert!(js.ends_with("\n})();\n"));
        for part in [
            "const ui = {",
            "function queueSend",
            "function connect()",
            "enterRoom(",
        ] {
            assert!(js.contains(part), "app.js lacks {part}");
        }
    }

    /// The page must never turn chat text into markup; a grep is a cheap guard against a
    /// future edit reaching for `innerHTML`.
    #[test]
    fn script_never_parses_html() {
        let js = std::str::from_utf8(APP_JS).unwrap();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!js.contains(sink), "app.js uses {sink}");
        }
    }
}
