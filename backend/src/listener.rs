//! The public listener's accept queue.
//!
//! A listener bound with the standard library queues 128 connections that the server has not
//! accepted yet; past that the kernel drops new SYNs, and each dropped client waits a whole
//! second for its SYN to be sent again (then 3 s, 7 s…). One instance's clients all
//! reconnecting to another at once (every deploy, every maximum-age retirement wave) overflow
//! 128 easily: 5,000 resuming clients saw gaps of 1–3 s that way. The queue is widened to
//! [`BACKLOG`]; the kernel caps it at `net.core.somaxconn` (4096 on current Linux).

use std::{io, net::TcpListener};

/// Connections the kernel may hold for the server before it accepts them.
pub const BACKLOG: i32 = 4096;

/// Widens the accept queue of a listener that is already listening (Linux applies a second
/// `listen` to the open socket), so listeners bound by the caller get it too.
pub fn widen_backlog(listener: &TcpListener) -> io::Result<()> {
    socket2::SockRef::from(listener).listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use std::{net::TcpStream, time::Duration};

    use super::*;

    /// Nobody accepts here: every connection stays in the accept queue, which must hold far
    /// more than the standard library's 128.
    #[test]
    fn the_accept_queue_holds_a_reconnect_storm() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        widen_backlog(&listener).expect("listen");
        let addr = listener.local_addr().expect("address");
        let mut held = Vec::new();
        for n in 0..600 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(stream) => held.push(stream),
                Err(e) => panic!("connection {n} not queued: {e}"),
            }
        }
        assert_eq!(held.len(), 600);
    }
}
