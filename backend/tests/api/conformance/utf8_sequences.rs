//! The UTF-8 sequences of section 6.5–6.23: Markus Kuhn's decoder stress test, as the
//! Autobahn testsuite uses it, each with whether it is valid UTF-8.

/// A byte sequence and whether it is valid UTF-8.
pub type Sequence = (bool, Vec<u8>);

/// Byte sequences from Markus Kuhn's UTF-8 decoder stress test, as Autobahn's 6.5–6.23
/// use them, with whether they are valid UTF-8.
pub fn utf8_sequences() -> Vec<(&'static str, Vec<Sequence>)> {
    let v = |bytes: &[u8]| (true, bytes.to_vec());
    let x = |bytes: &[u8]| (false, bytes.to_vec());
    let kosme = "κόσμε".as_bytes();
    let mut prefixes = Vec::new();
    for end in 1..=kosme.len() {
        prefixes.push((
            std::str::from_utf8(&kosme[..end]).is_ok(),
            kosme[..end].to_vec(),
        ));
    }
    let continuation_run: Vec<u8> = (0x80..0xbf).collect();
    let lonely = |from: u8, to: u8| -> Vec<u8> { (from..to).flat_map(|b| [b, 0x20]).collect() };
    let missing_last: [&[u8]; 10] = [
        b"\xc0",
        b"\xe0\x80",
        b"\xf0\x80\x80",
        b"\xf8\x80\x80\x80",
        b"\xfc\x80\x80\x80\x80",
        b"\xdf",
        b"\xef\xbf",
        b"\xf7\xbf\xbf",
        b"\xfb\xbf\xbf\xbf",
        b"\xfd\xbf\xbf\xbf\xbf",
    ];
    vec![
        (
            "some valid UTF-8",
            vec![
                v(b"hello\x24world"),
                v(b"hello\xc2\xa2world"),
                v(b"hello\xe2\x82\xacworld"),
                v(b"hello\xf0\xa4\xad\xa2world"),
                v(kosme),
            ],
        ),
        ("prefixes of valid UTF-8", prefixes),
        (
            "first sequence of each length",
            vec![
                v(b"\x00"),
                v(b"\xc2\x80"),
                v(b"\xe0\xa0\x80"),
                v(b"\xf0\x90\x80\x80"),
            ],
        ),
        (
            "first sequence of length 5/6",
            vec![x(b"\xf8\x88\x80\x80\x80"), x(b"\xfc\x84\x80\x80\x80\x80")],
        ),
        (
            "last sequence of each length",
            vec![
                v(b"\x7f"),
                v(b"\xdf\xbf"),
                v(b"\xef\xbf\xbf"),
                v(b"\xf4\x8f\xbf\xbf"),
            ],
        ),
        (
            "last sequence of length 4/5/6",
            vec![
                x(b"\xf7\xbf\xbf\xbf"),
                x(b"\xfb\xbf\xbf\xbf\xbf"),
                x(b"\xfd\xbf\xbf\xbf\xbf\xbf"),
            ],
        ),
        (
            "other boundaries",
            vec![
                v(b"\xed\x9f\xbf"),
                v(b"\xee\x80\x80"),
                v(b"\xef\xbf\xbd"),
                v(b"\xf4\x8f\xbf\xbf"),
                x(b"\xf4\x90\x80\x80"),
            ],
        ),
        (
            "unexpected continuation bytes",
            vec![
                x(b"\x80"),
                x(b"\xbf"),
                x(b"\x80\xbf"),
                x(b"\x80\xbf\x80"),
                x(b"\x80\xbf\x80\xbf"),
                x(b"\x80\xbf\x80\xbf\x80"),
                x(b"\x80\xbf\x80\xbf\x80\xbf"),
                x(&continuation_run),
            ],
        ),
        (
            "lonely start bytes",
            vec![
                x(&lonely(0xc0, 0xdf)),
                x(&lonely(0xe0, 0xef)),
                x(&lonely(0xf0, 0xf7)),
                x(&lonely(0xf8, 0xfb)),
                x(&lonely(0xfc, 0xfd)),
            ],
        ),
        (
            "last continuation byte missing",
            missing_last.iter().map(|b| x(b)).collect(),
        ),
        (
            "incomplete sequences, concatenated",
            vec![x(&missing_last.concat())],
        ),
        (
            "impossible bytes",
            vec![x(b"\xfe"), x(b"\xff"), x(b"\xfe\xfe\xff\xff")],
        ),
        (
            "overlong ASCII",
            vec![
                x(b"\xc0\xaf"),
                x(b"\xe0\x80\xaf"),
                x(b"\xf0\x80\x80\xaf"),
                x(b"\xf8\x80\x80\x80\xaf"),
                x(b"\xfc\x80\x80\x80\x80\xaf"),
            ],
        ),
        (
            "maximum overlong",
            vec![
                x(b"\xc1\xbf"),
                x(b"\xe0\x9f\xbf"),
                x(b"\xf0\x8f\xbf\xbf"),
                x(b"\xf8\x87\xbf\xbf\xbf"),
                x(b"\xfc\x83\xbf\xbf\xbf\xbf"),
            ],
        ),
        (
            "overlong NUL",
            vec![
                x(b"\xc0\x80"),
                x(b"\xe0\x80\x80"),
                x(b"\xf0\x80\x80\x80"),
                x(b"\xf8\x80\x80\x80\x80"),
                x(b"\xfc\x80\x80\x80\x80\x80"),
            ],
        ),
        (
            "single UTF-16 surrogates",
            vec![
                x(b"\xed\xa0\x80"),
                x(b"\xed\xad\xbf"),
                x(b"\xed\xae\x80"),
                x(b"\xed\xaf\xbf"),
                x(b"\xed\xb0\x80"),
                x(b"\xed\xbe\x80"),
                x(b"\xed\xbf\xbf"),
            ],
        ),
        (
            "paired UTF-16 surrogates",
            vec![
                x(b"\xed\xa0\x80\xed\xb0\x80"),
                x(b"\xed\xa0\x80\xed\xbf\xbf"),
                x(b"\xed\xad\xbf\xed\xb0\x80"),
                x(b"\xed\xad\xbf\xed\xbf\xbf"),
                x(b"\xed\xae\x80\xed\xb0\x80"),
                x(b"\xed\xae\x80\xed\xbf\xbf"),
                x(b"\xed\xaf\xbf\xed\xb0\x80"),
                x(b"\xed\xaf\xbf\xed\xbf\xbf"),
            ],
        ),
        (
            "non-characters (valid UTF-8)",
            vec![
                v(b"\xef\xbf\xbe"),
                v(b"\xef\xbf\xbf"),
                v(b"\xf0\x9f\xbf\xbe"),
                v(b"\xf0\x9f\xbf\xbf"),
                v(b"\xf3\xbf\xbf\xbe"),
                v(b"\xf4\x8f\xbf\xbf"),
            ],
        ),
        (
            "specials (valid UTF-8)",
            vec![
                v(b"\xef\xbf\xb9"),
                v(b"\xef\xbf\xba"),
                v(b"\xef\xbf\xbb"),
                v(b"\xef\xbf\xbc"),
                v(b"\xef\xbf\xbd"),
            ],
        ),
    ]
}
