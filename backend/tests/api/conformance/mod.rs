//! RFC 6455 conformance of the real backend binary, modelled on the Autobahn testsuite's
//! sections 1–7 (framing, ping/pong, reserved bits, opcodes, fragmentation, UTF-8, close).
//!
//! Each case opens its own connection with a hand-written client over a plain TCP socket,
//! sends its bytes (at once, or chopped into small writes), and compares every frame the
//! server sends back with what RFC 6455 requires: the close code, the echoed pong, or an
//! answer to a text or binary message (the chat answers every message it can read: an
//! `ack` or an `error` frame). A chat is not an echo server, so "the message is echoed"
//! becomes "the message is answered". The server must have closed the TCP connection
//! within 1 s of the case's last byte. After every case the backend must sit idle (its CPU
//! time stays flat) and answer a fresh handshake: one refused frame must never cost more
//! than its own connection. The cases and their results are listed in docs/CONFORMANCE.md.

pub mod cases;
pub mod client;
mod utf8_sequences;

use std::time::{Duration, Instant};

use self::{
    cases::{Case, Step, Want, all_cases, close_frame},
    client::{Got, RawClient},
};
use crate::helpers::*;

/// The server must have hung up within this long after the case's last byte.
const CLOSE_WITHIN: Duration = Duration::from_secs(1);
/// Quiet window after each case over which the backend's CPU time must stay flat.
const QUIET: Duration = Duration::from_millis(150);
/// CPU ticks (1/100 s) the backend may use in that window: a busy loop uses all 15.
const QUIET_TICKS: u64 = 5;

fn matches(want: &Want, got: &Got) -> bool {
    match (want, got) {
        (Want::Answer, Got::Text(text)) => {
            text.contains(r#""type":"error""#) || text.contains(r#""type":"ack""#)
        }
        (Want::Pong(payload), Got::Pong(got)) => payload == got,
        (Want::Close(codes), Got::Close(Some(code))) => codes.contains(code),
        _ => false,
    }
}

/// Runs one case; `Err` says how the server's behaviour differed from the expectation.
async fn run_case(port: u16, n: usize, case: &Case) -> Result<(), String> {
    let mut client = RawClient::connect(port, &format!("conformance-{n}")).await?;
    for step in &case.steps {
        // A server that already failed the connection may reset it under our writes.
        if client.send(step).await.is_err() {
            break;
        }
    }
    if case.client_closes {
        let _ = client.send(&Step::Send(close_frame(1000, b""))).await;
    }
    let sent_at = Instant::now();
    let mut got = Vec::new();
    let deadline = sent_at + PATIENCE;
    while got.len() < case.want.len() + 1 {
        match client.frame(deadline).await {
            // The server's own keepalive and the client's own join are not part of any case.
            Some(Got::Ping) => continue,
            Some(Got::Text(text)) if text.contains(r#""type":"presence""#) => continue,
            Some(Got::Close(code)) => {
                got.push(Got::Close(code));
                break;
            }
            Some(frame) => got.push(frame),
            None => break,
        }
    }
    let same =
        got.len() == case.want.len() && case.want.iter().zip(&got).all(|(w, g)| matches(w, g));
    if !same {
        return Err(format!("expected {:?}, got {got:?}", case.want));
    }
    if !client.closed_by(sent_at + CLOSE_WITHIN).await {
        return Err(format!(
            "the server had not closed the connection {} ms after the last byte",
            CLOSE_WITHIN.as_millis()
        ));
    }
    Ok(())
}

/// User plus system CPU time of a process, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the backend's stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[tokio::test]
async fn the_backend_binary_meets_rfc_6455_sections_1_to_7_and_stays_idle_after_each_case() {
    // One worker thread: a single spinning connection would then also stop every handshake.
    let backend = BackendProcess::start(&[("WORKERS", "1"), ("RUST_LOG", "off")]).await;
    let cases = all_cases();
    let mut failures = Vec::new();
    let mut report = String::new();
    for (n, case) in cases.iter().enumerate() {
        let outcome = run_case(backend.port, n, case).await;
        let before = cpu_ticks(backend.pid());
        tokio::time::sleep(QUIET).await;
        let used = cpu_ticks(backend.pid()) - before;
        let fresh = RawClient::connect(backend.port, "conformance-fresh").await;
        let healthy = fresh.is_ok();
        let outcome = outcome.and_then(|()| {
            if used > QUIET_TICKS {
                return Err(format!(
                    "the backend used {used} CPU ticks in the {} ms after the case",
                    QUIET.as_millis()
                ));
            }
            fresh
                .map(drop)
                .map_err(|e| format!("a fresh handshake failed: {e}"))
        });
        let verdict = match &outcome {
            Ok(()) => "pass".to_string(),
            Err(why) => format!("FAIL: {why}"),
        };
        report.push_str(&format!("| {} | {} | {verdict} |\n", case.id, case.what));
        if let Err(why) = outcome {
            failures.push(format!("{} ({}): {why}", case.id, case.what));
        }
        if used > QUIET_TICKS || !healthy {
            failures.push("the backend is no longer healthy; later cases were not run".into());
            break;
        }
    }
    println!("{} cases\n{report}", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
