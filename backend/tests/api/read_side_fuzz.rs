//! Bounded fuzzing of the whole read side (socket reads, frame decoding, reassembly, the
//! message deadline), as CI runs it: random frame sequences — valid, malformed and
//! corrupted — delivered in random chunks. For every input, `read_check::drive` must see
//! every poll make progress and nothing yielded after a close or a refusal, and the input
//! cut into chunks must yield exactly what it yields in one piece.
//!
//! `READ_SIDE_FUZZ_SECS` (default 10) bounds the run; `READ_SIDE_FUZZ_SEED` replays one.
//! The coverage-guided twin is `fuzz/fuzz_targets/read_side.rs`.

use std::time::{Duration, Instant};

use backend::session::read_check::drive;

/// Small, so the size limit is reached by inputs that stay cheap.
const MAX_MESSAGE: usize = 300;

/// xorshift64*: reproducible from its seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn payload(rng: &mut Rng, opcode: u8) -> Vec<u8> {
    let len = if rng.chance(80) {
        rng.pick(&[0, 1, 2, 3, 5, 20, 60, 125])
    } else {
        rng.pick(&[126, 127, 200, 299, 300, 301, 700])
    };
    match rng.below(5) {
        0 if opcode == 0x8 => {
            let code: u16 = rng.pick(&[
                0, 999, 1000, 1001, 1005, 1006, 1012, 1015, 2999, 3000, 4999, 5000,
            ]);
            let mut p = code.to_be_bytes().to_vec();
            p.extend(std::iter::repeat_n(b'r', len.min(130)));
            p
        }
        1 => "κόσμε€😀a".bytes().cycle().take(len).collect(),
        2 => (0..len).map(|_| rng.next() as u8).collect(),
        _ => std::iter::repeat_n(b'x', len).collect(),
    }
}

/// Appends a frame: mostly one that fits where the message stands (`open`: a fragmented
/// message is under way), sometimes anything at all.
fn frame(rng: &mut Rng, open: &mut bool, out: &mut Vec<u8>) {
    let (opcode, fin) = if rng.chance(85) {
        let opcode = if *open {
            rng.pick(&[0x0, 0x0, 0x0, 0x9, 0xA])
        } else {
            rng.pick(&[0x1, 0x1, 0x2, 0x9, 0xA, 0x8])
        };
        let fin = opcode >= 0x8 || rng.chance(75);
        if opcode < 0x8 {
            *open = !fin;
        }
        (opcode, fin)
    } else {
        (rng.below(16) as u8, rng.chance(70))
    };
    let rsv = if rng.chance(5) { rng.below(8) as u8 } else { 0 };
    let masked = rng.chance(97);
    let payload = payload(rng, opcode);
    // Sometimes the header tells a different length than the payload that follows.
    let told = if rng.chance(4) {
        rng.pick(&[0, 3, 126, 65535, 70_000, usize::MAX >> 1])
    } else {
        payload.len()
    };
    out.push((u8::from(fin) << 7) | (rsv << 4) | opcode);
    let mask_bit = if masked { 0x80 } else { 0 };
    let form = if rng.chance(10) {
        rng.below(3)
    } else {
        usize::from(told >= 126) + usize::from(told > 0xFFFF)
    };
    match form {
        0 => out.push(mask_bit | told.min(125) as u8),
        1 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(told.min(0xFFFF) as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(told as u64).to_be_bytes());
        }
    }
    let mask = (rng.next() as u32).to_be_bytes();
    if masked {
        out.extend_from_slice(&mask);
    }
    out.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| if masked { b ^ mask[i % 4] } else { *b }),
    );
}

fn input(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let mut open = false;
    for _ in 0..rng.below(10) {
        frame(rng, &mut open, &mut out);
    }
    if !out.is_empty() && rng.chance(10) {
        for _ in 0..=rng.below(4) {
            let at = rng.below(out.len());
            out[at] = rng.next() as u8;
        }
    }
    if !out.is_empty() && rng.chance(10) {
        out.truncate(rng.below(out.len()));
    }
    out
}

fn cuts(rng: &mut Rng, len: usize) -> Vec<usize> {
    if rng.chance(10) {
        return (1..len).collect();
    }
    (0..rng.below(12)).map(|_| rng.below(len + 1)).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_read_side_never_spins_and_yields_the_same_however_the_input_is_cut() {
    let secs = std::env::var("READ_SIDE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let seed = std::env::var("READ_SIDE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    let mut rng = Rng(seed);
    let until = Instant::now() + Duration::from_secs(secs);
    let mut runs = 0u64;
    let mut refused = 0u64;
    while Instant::now() < until {
        let input = input(&mut rng);
        let cuts = cuts(&mut rng, input.len());
        let eof = rng.chance(50);
        let context = || {
            format!(
                "seed {seed}, run {runs}, eof {eof}, cuts {cuts:?}, input {}",
                hex(&input)
            )
        };
        let whole =
            drive(&input, &[], eof, MAX_MESSAGE).unwrap_or_else(|e| panic!("{e}: {}", context()));
        let cut =
            drive(&input, &cuts, eof, MAX_MESSAGE).unwrap_or_else(|e| panic!("{e}: {}", context()));
        assert_eq!(
            cut,
            whole,
            "cut differently, read differently: {}",
            context()
        );
        refused += u64::from(
            whole
                .iter()
                .any(|o| matches!(o, backend::session::read_check::Outcome::Refused(_))),
        );
        runs += 1;
    }
    println!("read side: {runs} inputs in {secs} s ({refused} refused), seed {seed}");
    assert!(runs > 1000, "only {runs} inputs in {secs} s");
}
