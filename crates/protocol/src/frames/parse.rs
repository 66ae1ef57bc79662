//! Parsing a client's text frame: lenient enough to answer precisely (a frame that is JSON
//! but wrong still yields its usable `nonce`), strict about every field it takes.

use serde_json::{Map, Value};

use super::{
    ClientFrame, DEFAULT_HISTORY_PAGE, ErrorCode, FrameError, MAX_ECHO_CHARS, MAX_HISTORY_PAGE,
    MAX_NONCE_CHARS, MAX_TOKEN_BYTES, MessageLimits,
};
use crate::MessageId;

impl ClientFrame {
    /// Parses and validates one client text frame.
    pub fn parse(text: &str, limits: &MessageLimits) -> Result<ClientFrame, FrameError> {
        let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(text) else {
            return Err(FrameError::bad(
                "a frame must be a JSON object with a \"type\" field",
                None,
            ));
        };
        let nonce = take_nonce(&mut fields)?;
        match fields.get("type") {
            Some(Value::String(kind)) if kind == "send" => {}
            Some(Value::String(kind)) if kind == "ping" => return Ok(ClientFrame::Ping { nonce }),
            Some(Value::String(kind)) if kind == "typing" => return Ok(ClientFrame::Typing),
            Some(Value::String(kind)) if kind == "history" => {
                return history_request(&fields, nonce);
            }
            Some(Value::String(kind)) if kind == "refresh" => {
                return match fields.remove("token") {
                    Some(Value::String(token)) if token.len() <= MAX_TOKEN_BYTES => {
                        Ok(ClientFrame::Refresh { token, nonce })
                    }
                    _ => Err(FrameError::bad(
                        format!(
                            "refresh needs a string field \"token\" of at most {MAX_TOKEN_BYTES} bytes"
                        ),
                        nonce,
                    )),
                };
            }
            Some(Value::String(kind)) => {
                return Err(FrameError::bad(
                    format!("unknown frame type {}", quote(kind)),
                    nonce,
                ));
            }
            _ => return Err(FrameError::bad("missing string field \"type\"", nonce)),
        }
        let message = match fields.remove("message") {
            Some(Value::String(message)) => message,
            _ => return Err(FrameError::bad("missing string field \"message\"", nonce)),
        };
        if message.is_empty() {
            return Err(FrameError::bad("message must not be empty", nonce));
        }
        let chars = message.chars().count();
        if chars > limits.max_chars {
            return Err(FrameError {
                code: ErrorCode::TooLarge,
                message: format!(
                    "message has {chars} characters, the limit is {}",
                    limits.max_chars
                ),
                nonce,
            });
        }
        Ok(ClientFrame::Send { message, nonce })
    }
}

/// A `history` frame's fields: `before` an id, `limit` (optional) 1 to [`MAX_HISTORY_PAGE`].
fn history_request(
    fields: &Map<String, Value>,
    nonce: Option<String>,
) -> Result<ClientFrame, FrameError> {
    let before = match fields.get("before") {
        Some(Value::String(raw)) => raw.parse::<MessageId>().ok(),
        _ => None,
    };
    let Some(before) = before else {
        return Err(FrameError::bad(
            "history needs a string field \"before\" holding a message id",
            nonce,
        ));
    };
    let limit = match fields.get("limit") {
        None | Some(Value::Null) => Some(DEFAULT_HISTORY_PAGE),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=MAX_HISTORY_PAGE).contains(n)),
        Some(_) => None,
    };
    match limit {
        Some(limit) => Ok(ClientFrame::History {
            before,
            limit,
            nonce,
        }),
        None => Err(FrameError::bad(
            format!("history \"limit\" must be a number from 1 to {MAX_HISTORY_PAGE}"),
            nonce,
        )),
    }
}

/// `text` quoted for an error message, cut to [`MAX_ECHO_CHARS`] characters (marked `…`).
fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        None => format!("{text:?}"),
        Some((end, _)) => format!("{:?}…", &text[..end]),
    }
}

/// Extracts a usable nonce. One that is present but unusable is itself a `bad_frame`, and is
/// not echoed back (it may be huge or not a string).
fn take_nonce(fields: &mut Map<String, Value>) -> Result<Option<String>, FrameError> {
    match fields.remove("nonce") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(n)) if n.chars().count() <= MAX_NONCE_CHARS => Ok(Some(n)),
        Some(_) => Err(FrameError::bad(
            format!("nonce must be a string of at most {MAX_NONCE_CHARS} characters"),
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> MessageLimits {
        MessageLimits { max_chars: 10 }
    }

    #[test]
    fn parses_a_send_with_and_without_nonce() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"send","message":"hi","nonce":"n-1"}"#, &limits()),
            Ok(ClientFrame::Send {
                message: "hi".into(),
                nonce: Some("n-1".into())
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"send","message":"hi","extra":1}"#, &limits()),
            Ok(ClientFrame::Send {
                message: "hi".into(),
                nonce: None
            })
        );
    }

    #[test]
    fn client_frames_round_trip() {
        let frame = ClientFrame::Send {
            message: "héllo 👋".into(),
            nonce: Some("n".into()),
        };
        let text = serde_json::to_string(&frame).unwrap();
        assert_eq!(ClientFrame::parse(&text, &limits()), Ok(frame));
    }

    #[test]
    fn parses_history_and_typing() {
        assert_eq!(
            ClientFrame::parse(
                r#"{"type":"history","before":"1700000000000-2","nonce":"h"}"#,
                &limits()
            ),
            Ok(ClientFrame::History {
                before: MessageId::new(1_700_000_000_000, 2),
                limit: DEFAULT_HISTORY_PAGE,
                nonce: Some("h".into())
            })
        );
        assert_eq!(
            ClientFrame::parse(
                r#"{"type":"history","before":"5-0","limit":100}"#,
                &limits()
            ),
            Ok(ClientFrame::History {
                before: MessageId::new(5, 0),
                limit: 100,
                nonce: None
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"typing"}"#, &limits()),
            Ok(ClientFrame::Typing)
        );
        for bad in [
            r#"{"type":"history","nonce":"x"}"#,
            r#"{"type":"history","before":"nope","nonce":"x"}"#,
            r#"{"type":"history","before":"1-0","limit":0,"nonce":"x"}"#,
            r#"{"type":"history","before":"1-0","limit":101,"nonce":"x"}"#,
            r#"{"type":"history","before":"1-0","limit":"5","nonce":"x"}"#,
            r#"{"type":"history","before":"1-0","limit":2.5,"nonce":"x"}"#,
        ] {
            let err = ClientFrame::parse(bad, &limits()).unwrap_err();
            assert_eq!(
                (err.code, err.nonce.as_deref()),
                (ErrorCode::BadFrame, Some("x")),
                "{bad}"
            );
        }
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(
            ClientFrame::parse(
                r#"{"type":"send","message":"👋👋👋👋👋👋👋👋👋👋"}"#,
                &limits()
            )
            .is_ok()
        );
        let err = ClientFrame::parse(
            r#"{"type":"send","message":"12345678901","nonce":"big"}"#,
            &limits(),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);
        assert_eq!(err.nonce.as_deref(), Some("big"));
    }

    #[test]
    fn rejects_bad_frames_echoing_a_usable_nonce() {
        let cases = [
            ("not json", None),
            ("[1,2]", None),
            (r#"{"message":"x","nonce":"a"}"#, Some("a")),
            (r#"{"type":"shout","message":"x","nonce":"b"}"#, Some("b")),
            (r#"{"type":"send","nonce":"c"}"#, Some("c")),
            (r#"{"type":"send","message":7,"nonce":"d"}"#, Some("d")),
            (r#"{"type":"send","message":"","nonce":"e"}"#, Some("e")),
            (r#"{"type":"send","message":"x","nonce":5}"#, None),
        ];
        for (text, nonce) in cases {
            let err = ClientFrame::parse(text, &limits()).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadFrame, "{text}");
            assert_eq!(err.nonce.as_deref(), nonce, "{text}");
        }
        let long_nonce = format!(
            r#"{{"type":"send","message":"x","nonce":"{}"}}"#,
            "n".repeat(MAX_NONCE_CHARS + 1)
        );
        let err = ClientFrame::parse(&long_nonce, &limits()).unwrap_err();
        assert_eq!((err.code, err.nonce), (ErrorCode::BadFrame, None));
    }

    #[test]
    fn an_unknown_type_is_quoted_back_cut_short() {
        let err = ClientFrame::parse(r#"{"type":"shout"}"#, &limits()).unwrap_err();
        assert_eq!(err.message, r#"unknown frame type "shout""#);
        let long = format!(r#"{{"type":"{}"}}"#, "\\u0001".repeat(10_000));
        let err = ClientFrame::parse(&long, &limits()).unwrap_err();
        let quoted = r#"\u{1}"#.repeat(MAX_ECHO_CHARS);
        assert_eq!(err.message, format!(r#"unknown frame type "{quoted}"…"#));
    }
}
