//! The cases, section by section, after the Autobahn testsuite's sections 1–7: what each
//! sends and which frames RFC 6455 requires back.

use super::utf8_sequences::utf8_sequences;

pub const MAX_MESSAGE: usize = 64 * 1024;

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONT: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// What a case expects from the server, frame by frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// An answer to a message: a JSON text frame (`ack` or `error`).
    Answer,
    Pong(Vec<u8>),
    /// A close frame with one of these codes (none: a close frame without a code).
    Close(Vec<u16>),
}

pub enum Step {
    Send(Vec<u8>),
    /// The bytes in writes of this size, each after a short pause.
    Chop(Vec<u8>, usize),
}

pub struct Case {
    pub id: String,
    pub what: String,
    pub steps: Vec<Step>,
    /// Whether the client ends with a normal close of its own after its steps.
    pub client_closes: bool,
    pub want: Vec<Want>,
}

fn case(id: &str, what: &str, steps: Vec<Step>, want: Vec<Want>) -> Case {
    let client_closes = !want.iter().any(|w| matches!(w, Want::Close(_)));
    let mut want = want;
    if client_closes {
        want.push(Want::Close(vec![1000]));
    }
    Case {
        id: id.into(),
        what: what.into(),
        steps,
        client_closes,
        want,
    }
}

/// A masked client frame with the given first byte's parts.
pub fn frame_with(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x5a, 0x13, 0xc4, 0x7e];
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
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

fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(true, 0, opcode, payload)
}

fn fragment(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(fin, 0, opcode, payload)
}

pub fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    frame(CLOSE, &payload)
}

fn concat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

fn send(frames: &[Vec<u8>]) -> Vec<Step> {
    vec![Step::Send(concat(frames))]
}

fn chop(frames: &[Vec<u8>], size: usize) -> Vec<Step> {
    vec![Step::Chop(concat(frames), size)]
}

fn fail(code: u16) -> Vec<Want> {
    vec![Want::Close(vec![code])]
}

type Frames = Vec<Vec<u8>>;

/// Sections 1 and 2: text and binary messages of every length class, pings and pongs.
fn framing_and_pings() -> Vec<Case> {
    let mut cases = Vec::new();
    let lengths = [0, 125, 126, 127, 128, 65535, 65536];
    for (op, section, kind) in [(TEXT, 1, "text"), (BINARY, 2, "binary")] {
        for (i, len) in lengths.iter().enumerate() {
            let payload = vec![b'*'; *len];
            cases.push(case(
                &format!("1.{section}.{}", i + 1),
                &format!("{kind} message, payload {len}"),
                send(&[frame(op, &payload)]),
                vec![Want::Answer],
            ));
        }
        cases.push(case(
            &format!("1.{section}.8"),
            &format!("{kind} message, payload 65536, in writes of 997 bytes"),
            chop(&[frame(op, &[b'*'; 65536])], 997),
            vec![Want::Answer],
        ));
    }
    cases.push(case(
        "1.x.over",
        "text message one byte over the limit (65537)",
        send(&[frame(TEXT, &vec![b'*'; MAX_MESSAGE + 1])]),
        fail(1009),
    ));
    cases.push(case(
        "1.x.header",
        "header announcing a 1 GiB text frame, no payload sent",
        send(&[{
            let mut h = vec![0x81, 0x80 | 127];
            h.extend_from_slice(&(1u64 << 30).to_be_bytes());
            h.extend_from_slice(&[1, 2, 3, 4]);
            h
        }]),
        fail(1009),
    ));
    let binary: Vec<u8> = vec![0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff];
    let pings: Vec<(&str, &str, Vec<Step>, Vec<Want>)> = vec![
        (
            "2.1",
            "ping, no payload",
            send(&[frame(PING, b"")]),
            vec![Want::Pong(vec![])],
        ),
        (
            "2.2",
            "ping, small text payload",
            send(&[frame(PING, b"Hello, world!")]),
            vec![Want::Pong(b"Hello, world!".to_vec())],
        ),
        (
            "2.3",
            "ping, small binary payload",
            send(&[frame(PING, &binary)]),
            vec![Want::Pong(binary.clone())],
        ),
        (
            "2.4",
            "ping, 125 byte payload",
            send(&[frame(PING, &[0xfe; 125])]),
            vec![Want::Pong(vec![0xfe; 125])],
        ),
        (
            "2.5",
            "ping, 126 byte payload (over the control frame limit)",
            send(&[frame(PING, &[0xfe; 126])]),
            fail(1002),
        ),
        (
            "2.6",
            "ping, 125 byte payload, in 1-byte writes",
            chop(&[frame(PING, &[b'6'; 125])], 1),
            vec![Want::Pong(vec![b'6'; 125])],
        ),
        (
            "2.7",
            "unsolicited pong, no payload",
            send(&[frame(PONG, b"")]),
            vec![],
        ),
        (
            "2.8",
            "unsolicited pong with payload",
            send(&[frame(PONG, b"unsolicited pong payload")]),
            vec![],
        ),
        (
            "2.9",
            "unsolicited pong, then ping",
            send(&[frame(PONG, b"unsolicited"), frame(PING, b"ping payload")]),
            vec![Want::Pong(b"ping payload".to_vec())],
        ),
    ];
    for (id, what, steps, want) in pings {
        cases.push(case(id, what, steps, want));
    }
    let ten: Vec<Vec<u8>> = (0..10)
        .map(|i| frame(PING, format!("payload-{i}").as_bytes()))
        .collect();
    let pongs: Vec<Want> = (0..10)
        .map(|i| Want::Pong(format!("payload-{i}").into_bytes()))
        .collect();
    cases.push(case("2.10", "10 pings", send(&ten), pongs.clone()));
    cases.push(case(
        "2.11",
        "10 pings, in 1-byte writes",
        chop(&ten, 1),
        pongs,
    ));
    cases
}

/// Sections 3 and 4: reserved bits and reserved opcodes fail the connection; what came
/// before them is answered.
fn reserved_bits_and_opcodes() -> Vec<Case> {
    let mut cases = Vec::new();
    let rsv: [(&str, u8, Frames, Vec<Want>); 7] = [
        (
            "3.1",
            1,
            vec![frame_with(true, 1, TEXT, b"Hello, world!")],
            fail(1002),
        ),
        (
            "3.2",
            2,
            vec![
                frame(TEXT, b"small"),
                frame_with(true, 2, TEXT, b"Hello, world!"),
            ],
            vec![Want::Answer, Want::Close(vec![1002])],
        ),
        (
            "3.3",
            3,
            vec![
                frame(TEXT, b"small"),
                frame_with(true, 3, TEXT, b"Hello, world!"),
            ],
            vec![Want::Answer, Want::Close(vec![1002])],
        ),
        (
            "3.4",
            4,
            vec![frame(TEXT, b"small"), frame_with(true, 4, TEXT, b"x")],
            vec![Want::Answer, Want::Close(vec![1002])],
        ),
        (
            "3.5",
            5,
            vec![frame_with(true, 5, BINARY, &[0xff; 8])],
            fail(1002),
        ),
        (
            "3.6",
            6,
            vec![frame_with(true, 6, PING, b"Hello, world!")],
            fail(1002),
        ),
        (
            "3.7",
            7,
            vec![frame_with(true, 7, CLOSE, &1000u16.to_be_bytes())],
            fail(1002),
        ),
    ];
    for (id, bits, frames, want) in rsv {
        cases.push(case(
            id,
            &format!("reserved bits {bits:03b} set"),
            send(&frames),
            want,
        ));
    }
    for (section, opcodes) in [(1, [3u8, 4, 5, 6, 7]), (2, [11, 12, 13, 14, 15])] {
        for (i, op) in opcodes.into_iter().enumerate() {
            let (frames, want) = if i < 2 {
                let payload: &[u8] = if i == 0 { b"" } else { b"reserved opcode" };
                (vec![frame(op, payload)], fail(1002))
            } else {
                (
                    vec![
                        frame(TEXT, b"small"),
                        frame(op, b"reserved opcode"),
                        frame(PING, b""),
                    ],
                    vec![Want::Answer, Want::Close(vec![1002])],
                )
            };
            cases.push(case(
                &format!("4.{section}.{}", i + 1),
                &format!("reserved opcode {op}"),
                send(&frames),
                want,
            ));
        }
    }
    cases
}

/// Section 5: fragmented messages, control frames between fragments, and continuations
/// that continue nothing.
fn fragmentation() -> Vec<Case> {
    let f = |fin, op, p: &[u8]| fragment(fin, op, p);
    let two = vec![f(false, TEXT, b"fragment1"), f(true, CONT, b"fragment2")];
    let with_ping = vec![
        f(false, TEXT, b"fragment1"),
        frame(PING, b"ping payload"),
        f(true, CONT, b"fragment2"),
    ];
    let with_pong = vec![
        f(false, TEXT, b"fragment1"),
        frame(PONG, b"pong payload"),
        f(true, CONT, b"fragment2"),
    ];
    let answered_ping = vec![Want::Pong(b"ping payload".to_vec()), Want::Answer];
    let five = |control: Vec<u8>| {
        let mut frames = vec![f(false, TEXT, b"fragment1")];
        for i in 2..5 {
            frames.push(control.clone());
            frames.push(f(false, CONT, format!("fragment{i}").as_bytes()));
        }
        frames.push(control);
        frames.push(f(true, CONT, b"fragment5"));
        frames
    };
    let four_pongs = vec![Want::Pong(b"p".to_vec()); 4];
    let answered_five = [four_pongs, vec![Want::Answer]].concat();
    vec![
        case(
            "5.1",
            "ping in 2 fragments",
            send(&[f(false, PING, b"frag1"), f(true, CONT, b"frag2")]),
            fail(1002),
        ),
        case(
            "5.2",
            "pong in 2 fragments",
            send(&[f(false, PONG, b"frag1"), f(true, CONT, b"frag2")]),
            fail(1002),
        ),
        case("5.3", "text in 2 fragments", send(&two), vec![Want::Answer]),
        case(
            "5.4",
            "text in 2 fragments, in 1-byte writes",
            chop(&two, 1),
            vec![Want::Answer],
        ),
        case(
            "5.5",
            "text in 2 fragments, a write per frame",
            vec![Step::Send(two[0].clone()), Step::Send(two[1].clone())],
            vec![Want::Answer],
        ),
        case(
            "5.6",
            "text in 2 fragments, ping between",
            send(&with_ping),
            answered_ping.clone(),
        ),
        case(
            "5.7",
            "text in 2 fragments, ping between, in 1-byte writes",
            chop(&with_ping, 1),
            answered_ping.clone(),
        ),
        case(
            "5.8",
            "text in 2 fragments, pong between",
            send(&with_pong),
            vec![Want::Answer],
        ),
        case(
            "5.9",
            "continuation (fin) without a message, then a text message",
            send(&[
                f(true, CONT, b"non-continuation payload"),
                frame(TEXT, b"Hello, world!"),
            ]),
            fail(1002),
        ),
        case(
            "5.10",
            "continuation (fin) without a message, in 1-byte writes",
            chop(
                &[
                    f(true, CONT, b"non-continuation payload"),
                    frame(TEXT, b"Hello, world!"),
                ],
                1,
            ),
            fail(1002),
        ),
        case(
            "5.12",
            "continuation (not fin) without a message",
            send(&[
                f(false, CONT, b"non-continuation payload"),
                frame(TEXT, b"Hello, world!"),
            ]),
            fail(1002),
        ),
        case(
            "5.13",
            "continuation (not fin) without a message, in 1-byte writes",
            chop(
                &[
                    f(false, CONT, b"non-continuation payload"),
                    frame(TEXT, b"Hello, world!"),
                ],
                1,
            ),
            fail(1002),
        ),
        case(
            "5.15",
            "text in 2 fragments, then a continuation and a text fragment with no message",
            send(&[
                two[0].clone(),
                two[1].clone(),
                f(false, CONT, b"fragment3"),
                f(true, CONT, b"fragment4"),
            ]),
            vec![Want::Answer, Want::Close(vec![1002])],
        ),
        case(
            "5.16",
            "continuation first, then a complete fragmented message, twice",
            send(&[
                f(false, CONT, b"fragment1"),
                f(false, TEXT, b"fragment2"),
                f(true, CONT, b"fragment3"),
            ]),
            fail(1002),
        ),
        case(
            "5.18",
            "text fragment, then another text fragment (not a continuation)",
            send(&[f(false, TEXT, b"fragment1"), f(true, TEXT, b"fragment2")]),
            fail(1002),
        ),
        case(
            "5.19",
            "text in 5 fragments, a ping between each",
            send(&five(frame(PING, b"p"))),
            answered_five.clone(),
        ),
        case(
            "5.20",
            "text in 5 fragments, a ping between each, in 1-byte writes",
            chop(&five(frame(PING, b"p")), 1),
            answered_five,
        ),
    ]
}

/// Section 6: UTF-8. Valid text is answered; invalid text fails the connection with 1007,
/// in one frame, in fragments, and as soon as a fragment shows it (fail fast).
fn utf8() -> Vec<Case> {
    let mut cases = vec![
        case(
            "6.1.1",
            "empty text message",
            send(&[frame(TEXT, b"")]),
            vec![Want::Answer],
        ),
        case(
            "6.1.2",
            "empty text message in 3 empty fragments",
            send(&[
                fragment(false, TEXT, b""),
                fragment(false, CONT, b""),
                fragment(true, CONT, b""),
            ]),
            vec![Want::Answer],
        ),
        case(
            "6.1.3",
            "text in 3 fragments, the first and last empty",
            send(&[
                fragment(false, TEXT, b""),
                fragment(false, CONT, b"middle frame payload"),
                fragment(true, CONT, b""),
            ]),
            vec![Want::Answer],
        ),
    ];
    let hello = "Hello-µ@ßöäüàá-UTF-8!!".as_bytes();
    let kosme = "κόσμε".as_bytes();
    for (i, text) in [hello, kosme].into_iter().enumerate() {
        cases.push(case(
            &format!("6.2.{}", i * 2 + 1),
            "valid UTF-8 in one frame",
            send(&[frame(TEXT, text)]),
            vec![Want::Answer],
        ));
        cases.push(case(
            &format!("6.2.{}", i * 2 + 2),
            "valid UTF-8, a fragment per byte (characters split across fragments)",
            send(&per_byte_fragments(text)),
            vec![Want::Answer],
        ));
    }
    let invalid =
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";
    cases.push(case(
        "6.3.1",
        "invalid UTF-8 in one frame",
        send(&[frame(TEXT, invalid)]),
        fail(1007),
    ));
    cases.push(case(
        "6.3.2",
        "invalid UTF-8, a fragment per byte",
        send(&per_byte_fragments(invalid)),
        fail(1007),
    ));
    // Fail fast: the server must close after the fragment that shows the error, without
    // waiting for the rest of the message (the case never sends it).
    let fail_fast: [(&str, &[u8], &[u8]); 4] = [
        ("6.4.1", kosme, b"\xf4\x90\x80\x80"),
        (
            "6.4.2",
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4",
            b"\x90",
        ),
        ("6.4.3", kosme, b"\xed\xa0\x80"),
        (
            "6.4.4",
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
            b"\xed\xa0",
        ),
    ];
    for (id, first, bad) in fail_fast {
        cases.push(case(
            id,
            "invalid UTF-8 in the second fragment; the rest never sent",
            vec![
                Step::Send(fragment(false, TEXT, first)),
                Step::Send(fragment(false, CONT, bad)),
            ],
            fail(1007),
        ));
    }
    for (n, (category, sequences)) in utf8_sequences().into_iter().enumerate() {
        for (j, (valid, bytes)) in sequences.into_iter().enumerate() {
            let verdict = if valid { "valid" } else { "invalid" };
            cases.push(case(
                &format!("6.{}.{}", n + 5, j + 1),
                &format!("{category}: {verdict} {}", hex(&bytes)),
                send(&[frame(TEXT, &bytes)]),
                if valid {
                    vec![Want::Answer]
                } else {
                    fail(1007)
                },
            ));
        }
    }
    cases
}

fn per_byte_fragments(text: &[u8]) -> Vec<Vec<u8>> {
    let last = text.len() - 1;
    text.iter()
        .enumerate()
        .map(|(i, b)| fragment(i == last, if i == 0 { TEXT } else { CONT }, &[*b]))
        .collect()
}

/// Section 7: the closing handshake, close payloads and close codes.
fn closing() -> Vec<Case> {
    let normal = || close_frame(1000, b"");
    let mut cases = vec![
        case(
            "7.1.1",
            "text message, then close",
            send(&[frame(TEXT, b"Hello World!"), normal()]),
            vec![Want::Answer, Want::Close(vec![1000])],
        ),
        case(
            "7.1.2",
            "close twice",
            send(&[normal(), normal()]),
            vec![Want::Close(vec![1000])],
        ),
        case(
            "7.1.3",
            "close, then ping",
            send(&[normal(), frame(PING, b"out of band ping")]),
            vec![Want::Close(vec![1000])],
        ),
        case(
            "7.1.4",
            "close, then text",
            send(&[normal(), frame(TEXT, b"out of band text")]),
            vec![Want::Close(vec![1000])],
        ),
        case(
            "7.1.5",
            "text fragment, close, then the last fragment",
            send(&[
                fragment(false, TEXT, b"fragment1"),
                normal(),
                fragment(true, CONT, b"fragment2"),
            ]),
            vec![Want::Close(vec![1000])],
        ),
        case(
            "7.3.1",
            "close with empty payload",
            send(&[frame(CLOSE, b"")]),
            vec![Want::Close(vec![1000])],
        ),
        case(
            "7.3.2",
            "close with a 1-byte payload",
            send(&[frame(CLOSE, b"a")]),
            fail(1002),
        ),
        case(
            "7.3.3",
            "close 1000, no reason",
            send(&[normal()]),
            vec![Want::Close(vec![1000])],
        ),
        case(
            "7.3.4",
            "close 1000 with a reason",
            send(&[close_frame(1000, b"Hello World!")]),
            vec![Want::Close(vec![1000])],
        ),
        case(
            "7.3.5",
            "close 1000 with a 123-byte reason",
            send(&[close_frame(1000, &[b'*'; 123])]),
            vec![Want::Close(vec![1000])],
        ),
        case(
            "7.3.6",
            "close 1000 with a 124-byte reason (payload over 125)",
            send(&[close_frame(1000, &[b'*'; 124])]),
            fail(1002),
        ),
        case(
            "7.5.1",
            "close 1000 with a reason that is not UTF-8",
            send(&[close_frame(
                1000,
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
            )]),
            vec![Want::Close(vec![1002, 1007])],
        ),
    ];
    let valid = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ];
    for (i, code) in valid.into_iter().enumerate() {
        cases.push(case(
            &format!("7.7.{}", i + 1),
            &format!("close with valid code {code}"),
            send(&[close_frame(code, b"")]),
            vec![Want::Close(vec![1000, code])],
        ));
    }
    let invalid = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];
    for (i, code) in invalid.into_iter().enumerate() {
        cases.push(case(
            &format!("7.9.{}", i + 1),
            &format!("close with invalid code {code}"),
            send(&[close_frame(code, b"")]),
            fail(1002),
        ));
    }
    for (i, code) in [5000u16, 65535].into_iter().enumerate() {
        cases.push(case(
            &format!("7.13.{}", i + 1),
            &format!("close with code {code} (outside any range)"),
            send(&[close_frame(code, b"")]),
            fail(1002),
        ));
    }
    cases
}

pub fn all_cases() -> Vec<Case> {
    [
        framing_and_pings(),
        reserved_bits_and_opcodes(),
        fragmentation(),
        utf8(),
        closing(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn hex(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(12).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 12 {
        format!("0x{shown}…")
    } else {
        format!("0x{shown}")
    }
}
