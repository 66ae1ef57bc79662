//! Drives the whole read side — socket reads, frame decoding, reassembly, the message
//! deadline — over input that arrives in arbitrary chunks, and checks what must hold for any
//! input: every poll makes progress (consumes a chunk, yields something, or waits with a
//! wake-up arranged), nothing is yielded after a close or a refusal, and how the input was
//! cut into chunks changes nothing that is yielded. Used by the bounded fuzz test that CI
//! runs and by the coverage-guided fuzz target in `fuzz/`.

use std::{
    collections::VecDeque,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use bytes::Bytes;
use tokio::{
    io::{AsyncRead, ReadBuf},
    sync::oneshot,
};

use super::incoming::{Incoming, IncomingFrames, ReadError};

/// What the read side yielded, comparable across runs.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Message(String),
    Binary,
    Ping(Vec<u8>),
    Pong,
    Close(Option<u16>),
    /// The close code the connection would end with.
    Refused(u16),
    /// The stream ended.
    End,
    /// Waiting for more input.
    Waiting,
}

/// Polls allowed per chunk delivered, beyond one per two input bytes (the smallest frame
/// has six) and a few to start and end.
const POLLS_PER_CHUNK: usize = 3;

/// Feeds `input` cut at `cuts` (offsets, any order, out-of-range ones ignored) to the read
/// side; the stream ends after the input when `eof`. Returns what was yielded, or what
/// went wrong. Must run inside a Tokio runtime context (the message deadline is a timer).
pub fn drive(
    input: &[u8],
    cuts: &[usize],
    eof: bool,
    max_message: usize,
) -> Result<Vec<Outcome>, String> {
    let chunks = chunks(input, cuts);
    let delivered = chunks.len();
    let source = ChunkSource {
        chunks,
        eof,
        gap: false,
        reads_left: 4 + POLLS_PER_CHUNK * delivered + input.len(),
        overrun: false,
    };
    let (_writer, writer_gone) = oneshot::channel::<()>();
    // Far longer than the run: the deadline must be armed and disarmed, never fire.
    let timeout = Duration::from_secs(3600);
    let mut frames = IncomingFrames::new(source, Bytes::new(), writer_gone, max_message, timeout);
    let wakes = Arc::new(WakeCount::default());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut outcomes = Vec::new();
    let mut polls = 0;
    loop {
        polls += 1;
        let budget = 4 + POLLS_PER_CHUNK * delivered + input.len() / 2;
        if polls > budget {
            return Err(format!(
                "{polls} polls for {delivered} chunks of {} bytes: a busy loop",
                input.len()
            ));
        }
        let woken_before = wakes.count();
        let polled = frames.poll_recv(&mut cx);
        if frames.source().overrun {
            return Err(format!(
                "read the socket more than {} times for {delivered} chunks of {} bytes: a busy loop",
                4 + POLLS_PER_CHUNK * delivered + input.len(),
                input.len()
            ));
        }
        match polled {
            Poll::Ready(Some(Ok(incoming))) => outcomes.push(outcome(incoming)),
            Poll::Ready(Some(Err(e))) => outcomes.push(Outcome::Refused(code(&e))),
            Poll::Ready(None) => {
                outcomes.push(Outcome::End);
                break;
            }
            Poll::Pending if wakes.count() > woken_before => continue,
            Poll::Pending => {
                if frames_has_input(&frames) {
                    return Err("waiting with input left and no wake-up arranged".into());
                }
                outcomes.push(Outcome::Waiting);
                break;
            }
        }
        if let [.., last, next] = outcomes.as_slice()
            && matches!(last, Outcome::Close(_) | Outcome::Refused(_))
            && *next != Outcome::End
        {
            return Err(format!("{next:?} yielded after {last:?}"));
        }
    }
    if matches!(outcomes.last(), Some(Outcome::End)) {
        // Ended is ended: polling again yields nothing and does not spin.
        if !matches!(frames.poll_recv(&mut cx), Poll::Ready(None)) {
            return Err("yielded something after the end".into());
        }
    }
    Ok(outcomes)
}

fn frames_has_input(frames: &IncomingFrames<ChunkSource>) -> bool {
    !frames.source().chunks.is_empty()
}

fn chunks(input: &[u8], cuts: &[usize]) -> VecDeque<Vec<u8>> {
    let mut at: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < input.len())
        .collect();
    at.sort_unstable();
    at.dedup();
    let mut chunks = VecDeque::new();
    let mut start = 0;
    for end in at.into_iter().chain([input.len()]) {
        if end > start {
            chunks.push_back(input[start..end].to_vec());
        }
        start = end;
    }
    chunks
}

fn outcome(incoming: Incoming) -> Outcome {
    match incoming {
        Incoming::Text(text) => Outcome::Message(text.to_string()),
        Incoming::Binary => Outcome::Binary,
        Incoming::Ping(payload) => Outcome::Ping(payload.to_vec()),
        Incoming::Pong => Outcome::Pong,
        Incoming::Close(code) => Outcome::Close(code),
    }
}

fn code(e: &ReadError) -> u16 {
    match e {
        ReadError::Frames(bad) => bad.close_code().into(),
        ReadError::TooSlow(_) => 1008,
        ReadError::Io(_) => 1006,
    }
}

#[derive(Default)]
struct WakeCount(AtomicUsize);

impl WakeCount {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A socket on which each chunk arrives after a wait (the reader is woken when it does);
/// after the last it either ends or stays open with nothing more to say.
pub struct ChunkSource {
    chunks: VecDeque<Vec<u8>>,
    eof: bool,
    /// Whether the wait before the next chunk has been observed.
    gap: bool,
    /// Reads a reader that makes progress needs at most; past them the source stops
    /// answering (so a loop inside one poll ends) and reports the overrun.
    reads_left: usize,
    overrun: bool,
}

impl AsyncRead for ChunkSource {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.reads_left == 0 {
            this.overrun = true;
            return Poll::Pending;
        }
        this.reads_left -= 1;
        let Some(chunk) = this.chunks.front_mut() else {
            return if this.eof {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            };
        };
        if !this.gap {
            // Not yet arrived: the chunk comes in, and the reader is woken for it.
            this.gap = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = chunk.len().min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            this.chunks.pop_front();
            this.gap = false;
        }
        Poll::Ready(Ok(()))
    }
}
