//! Property tests (bounded, so they run in CI): parsing never panics, valid input always
//! round-trips, and the id rules accept exactly what they say.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use protocol::{
    ChannelId, ClientFrame, ClientId, DisplayName, Epoch, ErrorCode, MessageId, MessageLimits,
    display_name::MAX_NAME_CHARS,
    epoch::MAX_EPOCH_CHARS,
    frames::{MAX_HISTORY_PAGE, MAX_NONCE_CHARS},
    ids::MAX_ID_LEN,
};

const LIMITS: MessageLimits = MessageLimits { max_chars: 100 };

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_any_text_never_panics(text in any::<String>()) {
        let _ = ClientFrame::parse(&text, &LIMITS);
        let _ = ChannelId::parse(&text);
        let _ = text.parse::<MessageId>();
        if let Ok(epoch) = Epoch::parse(&text) {
            prop_assert_eq!(epoch.as_str(), text.as_str());
        }
    }

    #[test]
    fn epochs_accept_exactly_their_rule(text in "[A-Za-z0-9_:{} -]{0,70}") {
        let valid = !text.is_empty()
            && text.len() <= MAX_EPOCH_CHARS
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        prop_assert_eq!(Epoch::parse(&text).is_ok(), valid);
    }

    #[test]
    fn parsing_json_shaped_noise_never_panics(
        kind in prop::option::of("[a-z]{0,6}"),
        message in prop::option::of(any::<String>()),
        nonce in prop::option::of(any::<String>()),
        number in any::<i64>(),
    ) {
        let mut object = serde_json::Map::new();
        if let Some(kind) = kind { object.insert("type".into(), kind.into()); }
        if let Some(message) = message { object.insert("message".into(), message.into()); }
        match nonce {
            Some(nonce) => { object.insert("nonce".into(), nonce.into()); }
            None => { object.insert("nonce".into(), number.into()); }
        }
        let text = serde_json::Value::Object(object).to_string();
        if let Err(e) = ClientFrame::parse(&text, &LIMITS) {
            prop_assert!(matches!(e.code, ErrorCode::BadFrame | ErrorCode::TooLarge));
        }
    }

    #[test]
    fn valid_sends_round_trip(
        message in "\\PC{1,100}",
        nonce in prop::option::of("\\PC{0,64}"),
    ) {
        prop_assume!(nonce.as_ref().is_none_or(|n| n.chars().count() <= MAX_NONCE_CHARS));
        let frame = ClientFrame::Send { message, nonce };
        let text = serde_json::to_string(&frame).unwrap();
        prop_assert_eq!(ClientFrame::parse(&text, &LIMITS), Ok(frame));
    }

    #[test]
    fn ids_accept_exactly_the_documented_alphabet(raw in "[ -~]{0,70}") {
        let expected = !raw.is_empty()
            && raw.len() <= MAX_ID_LEN
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        prop_assert_eq!(ClientId::parse(&raw).is_ok(), expected);
        prop_assert_eq!(ChannelId::parse(&raw).is_ok(), expected);
    }

    #[test]
    fn message_ids_round_trip_and_order_like_pairs(
        a in (any::<u64>(), any::<u64>()),
        b in (any::<u64>(), any::<u64>()),
    ) {
        let (x, y) = (MessageId::new(a.0, a.1), MessageId::new(b.0, b.1));
        prop_assert_eq!(x.to_string().parse::<MessageId>(), Ok(x));
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
    }

    #[test]
    fn names_are_normalised_once_and_for_all(raw in any::<String>()) {
        if let Ok(name) = DisplayName::parse(&raw) {
            let chars = name.as_str().chars().count();
            prop_assert!((1..=MAX_NAME_CHARS).contains(&chars));
            prop_assert!(!name.as_str().chars().any(char::is_control));
            // What was accepted reads back as itself: parsing is idempotent.
            prop_assert_eq!(DisplayName::parse(name.as_str()), Ok(name.clone()));
            let json = serde_json::to_string(&name).unwrap();
            prop_assert_eq!(serde_json::from_str::<DisplayName>(&json).unwrap(), name);
        }
    }

    #[test]
    fn visible_text_without_controls_is_a_name(raw in "[\\p{L}\\p{N}\\p{P}][\\p{L}\\p{N}\\p{P} ]{0,40}") {
        // Letters drawn as nothing (Hangul fillers) are letters too; alone they are refused.
        let blank = |c: char| matches!(u32::from(c), 0x115F | 0x1160 | 0x3164 | 0xFFA0);
        prop_assume!(!raw.chars().all(|c| blank(c) || c == ' '));
        prop_assert!(DisplayName::parse(&raw).is_ok(), "{:?}", raw);
    }

    #[test]
    fn history_frames_round_trip(
        before in (any::<u64>(), any::<u64>()),
        limit in 1..=MAX_HISTORY_PAGE,
        nonce in prop::option::of("[a-z0-9-]{0,64}"),
    ) {
        let frame = ClientFrame::History { before: MessageId::new(before.0, before.1), limit, nonce };
        let text = serde_json::to_string(&frame).unwrap();
        prop_assert_eq!(ClientFrame::parse(&text, &LIMITS), Ok(frame));
    }
}
