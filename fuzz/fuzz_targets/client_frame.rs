//! Everything a client controls before and after the upgrade goes through these parsers:
//! the path ids, `since`, `epoch`, and every text frame. None of them may panic, and whatever
//! parses must survive a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{ChannelId, ClientFrame, Epoch, MessageId, MessageLimits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ClientFrame::Send { message, nonce }) =
        ClientFrame::parse(text, &MessageLimits::default())
    {
        let again = serde_json::json!({"type": "send", "message": message, "nonce": nonce});
        let reparsed = ClientFrame::parse(&again.to_string(), &MessageLimits::default());
        assert_eq!(reparsed, Ok(ClientFrame::Send { message, nonce }));
    }
    if let Ok(id) = ChannelId::parse(text) {
        assert_eq!(id.as_str(), text);
    }
    if let Ok(epoch) = Epoch::parse(text) {
        assert_eq!(epoch.as_str(), text);
    }
    if let Ok(id) = text.parse::<MessageId>() {
        assert_eq!(id.to_string().parse::<MessageId>(), Ok(id));
    }
});
