//! RFC 6455 frames from a client, decoded without I/O, with fragmented messages put back
//! together.
//!
//! Everything a frame can get wrong is refused as soon as the bytes that show it have
//! arrived: a frame header announcing more than the limit is refused on its header, before
//! any of its payload is buffered, and invalid UTF-8 in a fragmented text message is refused
//! at the fragment that carries it. Once it has refused something, the decoder yields
//! nothing more, so no caller can see the same error twice and spin on it.

use actix_http::ws::CloseCode;
use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;

/// A complete message or control frame from the client.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    Text(ByteString),
    Binary,
    Ping(Bytes),
    Pong,
    /// The client's close frame, with its status code if it gave one.
    Close(Option<u16>),
}

/// Why the client's frames cannot be read on; each closes the connection with its own code.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BadFrames {
    #[error("message too big: the limit is {} KiB", .0 / 1024)]
    TooBig(usize),
    #[error("text must be UTF-8")]
    NotUtf8,
    #[error("{0}")]
    Protocol(&'static str),
}

impl BadFrames {
    /// The close code RFC 6455 gives for it.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::TooBig(_) => CloseCode::Size,
            Self::NotUtf8 => CloseCode::Invalid,
            Self::Protocol(_) => CloseCode::Protocol,
        }
    }
}

/// RFC 6455 §5.5: control frames carry at most 125 bytes.
const MAX_CONTROL_PAYLOAD: usize = 125;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// A fragmented message being put back together.
struct Fragments {
    text: bool,
    bytes: BytesMut,
    /// How much of `bytes` is known to be valid UTF-8, so each fragment is checked once.
    valid_up_to: usize,
}

/// What a complete frame header says.
struct Header {
    fin: bool,
    opcode: u8,
    /// Header bytes, mask key included.
    len: usize,
    payload: usize,
    mask: [u8; 4],
}

pub struct FrameDecoder {
    fragments: Option<Fragments>,
    max_message: usize,
    /// Set once the client sent its close frame or something was refused.
    done: bool,
}

impl FrameDecoder {
    /// `max_message` bounds a frame and a reassembled message alike.
    pub fn new(max_message: usize) -> Self {
        Self {
            fragments: None,
            max_message,
            done: false,
        }
    }

    /// Whether a message has begun and not ended: a partial frame is in `buf`, or
    /// fragments wait for the rest of their message.
    pub fn in_message(&self, buf: &BytesMut) -> bool {
        !self.done && (!buf.is_empty() || self.fragments.is_some())
    }

    /// Whether the decoder will yield nothing more (after a close frame or a refusal).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes frames from the front of `buf` until one completes a message or control
    /// frame. `Ok(None)`: more bytes are needed, or the decoder is done.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, BadFrames> {
        if self.done {
            buf.clear();
            return Ok(None);
        }
        let decoded = self.decode_frames(buf);
        if matches!(decoded, Err(_) | Ok(Some(Incoming::Close(_)))) {
            self.done = true;
            self.fragments = None;
            buf.clear();
        }
        decoded
    }

    fn decode_frames(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, BadFrames> {
        loop {
            let Some(header) = self.header(buf)? else {
                return Ok(None);
            };
            let Some(frame_len) = header.len.checked_add(header.payload) else {
                return Err(BadFrames::TooBig(self.max_message));
            };
            if buf.len() < frame_len {
                // The whole frame is within the limit: room for it now saves regrowing.
                buf.reserve(frame_len - buf.len());
                return Ok(None);
            }
            buf.advance(header.len);
            let mut payload = buf.split_to(header.payload);
            unmask(&mut payload, header.mask);
            if let Some(incoming) = self.frame(header.fin, header.opcode, payload)? {
                return Ok(Some(incoming));
            }
        }
    }

    /// Reads and checks the header at the front of `buf`; `None` until it has all arrived.
    fn header(&self, buf: &[u8]) -> Result<Option<Header>, BadFrames> {
        let [first, second, ..] = *buf else {
            return Ok(None);
        };
        let fin = first & 0x80 != 0;
        if first & 0x70 != 0 {
            return Err(BadFrames::Protocol(
                "reserved bits set without an extension",
            ));
        }
        let opcode = first & 0x0F;
        let control = opcode & 0x08 != 0;
        match opcode {
            OP_CONTINUATION if self.fragments.is_none() => {
                return Err(BadFrames::Protocol("continuation frame without a message"));
            }
            OP_TEXT | OP_BINARY if self.fragments.is_some() => {
                return Err(BadFrames::Protocol(
                    "new message before the fragmented one ended",
                ));
            }
            OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG => {}
            _ => return Err(BadFrames::Protocol("reserved opcode")),
        }
        if control && !fin {
            return Err(BadFrames::Protocol("fragmented control frame"));
        }
        if second & 0x80 == 0 {
            return Err(BadFrames::Protocol("client frames must be masked"));
        }
        let (payload, at) = match second & 0x7F {
            126 => match buf.get(2..4) {
                Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
                _ => return Ok(None),
            },
            127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(bytes) => (u64::from_be_bytes(bytes), 10),
                None => return Ok(None),
            },
            len => (u64::from(len), 2),
        };
        if control && payload > MAX_CONTROL_PAYLOAD as u64 {
            return Err(BadFrames::Protocol("control frame over 125 bytes"));
        }
        if payload >> 63 != 0 {
            return Err(BadFrames::Protocol("payload length with its top bit set"));
        }
        // Refused on the header: an oversized payload is never buffered.
        let held = self.fragments.as_ref().map_or(0, |f| f.bytes.len()) as u64;
        if !control && held.saturating_add(payload) > self.max_message as u64 {
            return Err(BadFrames::TooBig(self.max_message));
        }
        let Some(mask) = buf
            .get(at..at + 4)
            .and_then(|m| <[u8; 4]>::try_from(m).ok())
        else {
            return Ok(None);
        };
        // Fits: at most `max_message` (a usize) or 125.
        let payload = usize::try_from(payload).map_err(|_| BadFrames::TooBig(self.max_message))?;
        Ok(Some(Header {
            fin,
            opcode,
            len: at + 4,
            payload,
            mask,
        }))
    }

    /// Handles one complete frame; `None` when it only added to a fragmented message.
    fn frame(
        &mut self,
        fin: bool,
        opcode: u8,
        payload: BytesMut,
    ) -> Result<Option<Incoming>, BadFrames> {
        match opcode {
            OP_PING => Ok(Some(Incoming::Ping(payload.freeze()))),
            OP_PONG => Ok(Some(Incoming::Pong)),
            OP_CLOSE => close(&payload).map(|code| Some(Incoming::Close(code))),
            OP_TEXT | OP_BINARY if fin => Ok(Some(message(opcode == OP_TEXT, payload)?)),
            OP_TEXT | OP_BINARY => {
                let mut fragments = Fragments {
                    text: opcode == OP_TEXT,
                    bytes: BytesMut::new(),
                    valid_up_to: 0,
                };
                fragments.add(&payload)?;
                self.fragments = Some(fragments);
                Ok(None)
            }
            _ => {
                let Some(fragments) = self.fragments.as_mut() else {
                    return Err(BadFrames::Protocol("continuation frame without a message"));
                };
                fragments.add(&payload)?;
                if !fin {
                    return Ok(None);
                }
                let Some(Fragments { text, bytes, .. }) = self.fragments.take() else {
                    return Ok(None);
                };
                Ok(Some(message(text, bytes)?))
            }
        }
    }
}

impl Fragments {
    /// Adds a fragment, refusing invalid UTF-8 in a text message as soon as it is seen (an
    /// incomplete character at the end may still be completed by the next fragment).
    fn add(&mut self, fragment: &[u8]) -> Result<(), BadFrames> {
        self.bytes.extend_from_slice(fragment);
        if self.text {
            match std::str::from_utf8(&self.bytes[self.valid_up_to..]) {
                Ok(valid) => self.valid_up_to += valid.len(),
                Err(e) if e.error_len().is_some() => return Err(BadFrames::NotUtf8),
                Err(e) => self.valid_up_to += e.valid_up_to(),
            }
        }
        Ok(())
    }
}

fn message(text: bool, payload: BytesMut) -> Result<Incoming, BadFrames> {
    if !text {
        return Ok(Incoming::Binary);
    }
    ByteString::try_from(payload.freeze())
        .map(Incoming::Text)
        .map_err(|_| BadFrames::NotUtf8)
}

/// The status code of a close frame's payload: none, or a code a peer may send, then a
/// UTF-8 reason (RFC 6455 §5.5.1, §7.4).
fn close(payload: &[u8]) -> Result<Option<u16>, BadFrames> {
    let (code, reason) = match payload {
        [] => return Ok(None),
        [_] => return Err(BadFrames::Protocol("close frame with a one-byte payload")),
        [a, b, reason @ ..] => (u16::from_be_bytes([*a, *b]), reason),
    };
    let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
    if !sendable {
        return Err(BadFrames::Protocol("close code a peer may not send"));
    }
    std::str::from_utf8(reason).map_err(|_| BadFrames::NotUtf8)?;
    Ok(Some(code))
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: `first` is FIN/RSV/opcode, the payload is masked with a fixed key.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![first];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn decode_all(decoder: &mut FrameDecoder, bytes: &[u8]) -> Vec<Result<Incoming, BadFrames>> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(incoming)) => out.push(Ok(incoming)),
                Ok(None) => return out,
                Err(e) => out.push(Err(e)),
            }
        }
    }

    #[test]
    fn a_header_announcing_more_than_the_limit_is_refused_before_its_payload_arrives() {
        let mut decoder = FrameDecoder::new(1024);
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&(1u64 << 30).to_be_bytes());
        let mut buf = BytesMut::from(&header[..]);
        assert_eq!(decoder.decode(&mut buf), Err(BadFrames::TooBig(1024)));
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(None),
            "nothing after a refusal"
        );
        assert!(decoder.is_done());
    }

    #[test]
    fn fragments_over_the_limit_together_are_refused_on_the_header_that_crosses_it() {
        let mut decoder = FrameDecoder::new(10);
        let mut bytes = frame(0x01, b"123456");
        bytes.extend_from_slice(&frame(0x80, b"7890X")[..2]);
        assert_eq!(
            decode_all(&mut decoder, &bytes),
            [Err(BadFrames::TooBig(10))]
        );
    }

    #[test]
    fn invalid_utf8_in_a_fragment_is_refused_before_the_message_ends() {
        let mut decoder = FrameDecoder::new(1024);
        let mut bytes = frame(0x01, "κόσμε".as_bytes());
        bytes.extend_from_slice(&frame(0x00, b"\xed\xa0\x80edited"));
        assert_eq!(decode_all(&mut decoder, &bytes), [Err(BadFrames::NotUtf8)]);
    }

    #[test]
    fn a_character_split_across_fragments_is_put_back_together() {
        let mut decoder = FrameDecoder::new(1024);
        let euro = "€".as_bytes();
        let mut bytes = frame(0x01, &euro[..1]);
        bytes.extend_from_slice(&frame(0x89, b"hi"));
        bytes.extend_from_slice(&frame(0x00, &euro[1..2]));
        bytes.extend_from_slice(&frame(0x80, &euro[2..]));
        assert_eq!(
            decode_all(&mut decoder, &bytes),
            [
                Ok(Incoming::Ping(Bytes::from_static(b"hi"))),
                Ok(Incoming::Text("€".into()))
            ]
        );
    }

    #[test]
    fn close_codes_a_peer_may_not_send_are_protocol_errors() {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            let mut decoder = FrameDecoder::new(1024);
            let bytes = frame(0x88, &code.to_be_bytes());
            assert_eq!(
                decode_all(&mut decoder, &bytes),
                [Err(BadFrames::Protocol("close code a peer may not send"))],
                "{code}"
            );
        }
        let mut decoder = FrameDecoder::new(1024);
        let mut bytes = frame(0x88, &4000u16.to_be_bytes());
        bytes.extend_from_slice(&frame(0x81, b"after the close"));
        assert_eq!(
            decode_all(&mut decoder, &bytes),
            [Ok(Incoming::Close(Some(4000)))]
        );
    }
}
