//! The whole read side of a connection (socket reads, frame decoding, reassembly, the
//! message deadline) over any bytes, cut into chunks anywhere: every poll must make
//! progress, nothing may be yielded after a close or a refusal, and the cuts must change
//! nothing that is yielded. CI runs the same check for a bounded time with generated
//! frames (`backend/tests/api/read_side_fuzz.rs`); this target lets libFuzzer search for
//! more.
#![no_main]

use backend::session::read_check::drive;
use libfuzzer_sys::fuzz_target;

/// Small, so the size limit is reached by inputs that stay cheap.
const MAX_MESSAGE: usize = 300;

fuzz_target!(|data: &[u8]| {
    // The first byte says whether the stream ends after the input, the next eight where it
    // is cut; the rest is what the client sends.
    let (head, input) = data.split_at(data.len().min(9));
    let eof = head.first().is_some_and(|flags| flags & 1 == 1);
    let cuts: Vec<usize> = head.iter().skip(1).map(|&at| usize::from(at)).collect();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    let _context = runtime.enter();
    let whole = drive(input, &[], eof, MAX_MESSAGE).unwrap_or_else(|e| panic!("{e}"));
    let cut = drive(input, &cuts, eof, MAX_MESSAGE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(whole, cut, "cut differently, read differently");
});
