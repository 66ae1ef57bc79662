//! Building and running the HTTP server.
//!
//! Binding happens in [`Application::build`], separately from running, so callers learn the
//! real port before serving starts: tests bind port 0 and talk to whatever the OS picked,
//! and `main` can log the address it actually listens on.

use std::net::{SocketAddr, TcpListener};

use actix_web::{
    App, HttpServer,
    dev::Server,
    middleware::{Compress, Logger, from_fn},
    web,
};

use crate::{
    config::Settings, rate_limit::AddressBudgets, routes, routes::token::TokenRoute, security,
};

/// Cloud Run allows 10 s between SIGTERM and SIGKILL; finish in-flight requests within it.
const SHUTDOWN_TIMEOUT_SECS: u64 = 8;

/// A bound, not yet running, frontend server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `settings.host:settings.port` and prepares the server. Must be called inside an
    /// actix (or tokio) runtime. Fails only if the address cannot be bound.
    pub fn build(settings: Settings) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::new(settings.host, settings.port))?;
        let port = listener.local_addr()?.port();
        let server = run(listener, settings)?;
        Ok(Self { port, server })
    }

    /// The port actually bound (differs from the configured one when that was 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM), then drains gracefully.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Wires middleware and routes onto an already bound listener.
fn run(listener: TcpListener, settings: Settings) -> std::io::Result<Server> {
    let backend = web::Data::new(settings.backend_url);
    let token_origin = settings.tokens.foreign_origin().map(str::to_owned);
    let tokens = web::Data::new(settings.tokens);
    // One budget per address for every worker, so a client cannot multiply it by workers.
    let token_route = web::Data::new(TokenRoute {
        budgets: AddressBudgets::default(),
        trusted_proxy_hops: settings.trusted_proxy_hops,
    });
    let server = HttpServer::new(move || {
        App::new()
            .wrap(Compress::default())
            .wrap(security::headers(&backend, token_origin.as_deref()))
            .wrap(from_fn(security::strict_transport_security))
            .wrap(Logger::new("%r %s %b %Dms"))
            .app_data(backend.clone())
            .app_data(tokens.clone())
            .app_data(token_route.clone())
            .configure(|cfg| routes::configure(cfg, &tokens))
    })
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    .listen(listener)?
    .run();
    Ok(server)
}
