//! A TCP proxy for breaking things on purpose: it forwards to one or more targets (new
//! connections round-robin over them, no affinity, like a load balancer) and can cut every
//! connection, make the current ones hang, or refuse new ones.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

struct Shared {
    targets: Vec<SocketAddr>,
    next: AtomicUsize,
    refuse: AtomicBool,
    /// Bumped by `cut`: connections from an older generation close.
    generation: watch::Sender<u64>,
    /// One flag per open connection; `hang` sets them all.
    hung: Mutex<Vec<Arc<AtomicBool>>>,
}

impl Proxy {
    pub async fn start(targets: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            targets,
            next: AtomicUsize::new(0),
            refuse: AtomicBool::new(false),
            generation: watch::channel(0).0,
            hung: Mutex::new(Vec::new()),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Self {
            port,
            shared,
            accept,
        }
    }

    /// Closes every open connection.
    pub fn cut(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Refuses (accepts and drops) new connections while `on`.
    pub fn refuse(&self, on: bool) {
        self.shared.refuse.store(on, Ordering::SeqCst);
    }

    /// Makes every open connection stop forwarding without closing: a hung socket.
    pub fn hang(&self) {
        for flag in self.shared.hung.lock().unwrap().iter() {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((inbound, _)) = listener.accept().await {
        if shared.refuse.load(Ordering::SeqCst) {
            continue;
        }
        let n = shared.next.fetch_add(1, Ordering::SeqCst);
        let target = shared.targets[n % shared.targets.len()];
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let hung = Arc::new(AtomicBool::new(false));
            shared.hung.lock().unwrap().push(hung.clone());
            let mut generation = shared.generation.subscribe();
            let born = *generation.borrow();
            let (in_read, in_write) = inbound.into_split();
            let (out_read, out_write) = outbound.into_split();
            tokio::select! {
                _ = pump(in_read, out_write, hung.clone()) => {}
                _ = pump(out_read, in_write, hung.clone()) => {}
                _ = generation.wait_for(|g| *g != born) => {}
            }
        });
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    hung: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if hung.load(Ordering::SeqCst) {
            // Swallow everything from now on, like a peer that vanished without a FIN.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
