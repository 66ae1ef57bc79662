//! Building and running the backend, zero-to-production style: tests build it on port 0 and
//! read back the real port; `main` builds it from the environment.

use std::{convert::Infallible, future::Future, net::TcpListener, sync::Arc, time::Duration};

use actix_http::HttpService;
use actix_server::Server;
use actix_service::{fn_factory, fn_service, map_config};
use actix_web::{App, dev::AppConfig, rt::net::TcpStream, web};
use anyhow::Context;

use crate::{
    bus::{Bus, ChannelPolicy, control_channel, embedded::EmbeddedBus, redis::RedisBus},
    config::{BusSettings, Settings},
    hub::Hub,
    listener,
    metrics::Metrics,
    presence, routes,
    state::AppState,
};

pub struct Application {
    port: u16,
    metrics_port: u16,
    server: Server,
    state: Arc<AppState>,
}

impl Application {
    /// Binds `0.0.0.0:PORT` and `0.0.0.0:METRICS_PORT` and builds the app. Must run inside a
    /// Tokio runtime.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("0.0.0.0", settings.port))
            .with_context(|| format!("cannot listen on port {}", settings.port))?;
        let metrics_listener = TcpListener::bind(("0.0.0.0", settings.metrics_port))
            .with_context(|| format!("cannot listen on METRICS_PORT {}", settings.metrics_port))?;
        Self::build_on(settings, listener, metrics_listener)
    }

    /// Builds the app on listeners the caller already bound: the public one and the one
    /// `/metrics` is served on.
    pub fn build_on(
        settings: Settings,
        listener: TcpListener,
        metrics_listener: TcpListener,
    ) -> anyhow::Result<Self> {
        listener::widen_backlog(&listener).context("cannot widen the accept queue")?;
        let port = listener.local_addr()?.port();
        let metrics_port = metrics_listener.local_addr()?.port();
        let metrics = Arc::new(Metrics::default());
        let hub = Arc::new(Hub::new(metrics.clone(), settings.presence.detail_max));
        let bus = start_bus(&settings.bus, settings.channels, &hub, &metrics)?;
        let grace = settings.shutdown.grace;
        let workers = settings.workers;
        let handshake_timeout = settings.timeouts.handshake;
        let stalled_socket_timeout = settings.timeouts.stalled_socket;
        // Every instance hears what concerns all channels (a client disconnected everywhere)
        // from the start, whether it has members or not; the subscription lasts as long as
        // the bus.
        let _ = bus.subscribe(&control_channel());
        let state = Arc::new(AppState::new(settings, hub, bus, metrics));
        tokio::spawn(presence::keep_fresh(state.clone()));
        tokio::spawn(presence::announce_online_counts(state.clone()));
        tokio::spawn(presence::announce_presence_batches(state.clone()));

        let data = web::Data::from(state.clone());
        let metrics_data = data.clone();
        let upgrades = state.clone();
        let mut server = Server::build();
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        let server = server
            .listen("chat", listener, move || {
                let app = App::new()
                    .app_data(data.clone())
                    .configure(routes::configure);
                let upgrades = upgrades.clone();
                HttpService::build()
                    // Chat frames are small and latency-bound: never let Nagle hold them
                    // back. And a client that stops reading altogether is dropped by the
                    // kernel after a while, since nothing the server writes (its close frame
                    // included) can reach it.
                    .on_connect_ext(move |socket: &TcpStream, _| {
                        let _ = socket.set_nodelay(true);
                        let _ = socket2::SockRef::from(socket)
                            .set_tcp_user_timeout(Some(stalled_socket_timeout));
                    })
                    .client_request_timeout(handshake_timeout)
                    // Once a response is out, close the TCP connection at once rather than
                    // linger for the client to hang up first.
                    .client_disconnect_timeout(Duration::ZERO)
                    .upgrade(fn_factory(move || {
                        let upgrades = upgrades.clone();
                        async move {
                            Ok::<_, Infallible>(fn_service(move |(req, framed)| {
                                routes::ws::upgrade(upgrades.clone(), req, framed)
                            }))
                        }
                    }))
                    .finish(map_config(app, |()| AppConfig::default()))
                    .tcp()
            })?
            .listen("metrics", metrics_listener, move || {
                let app = App::new()
                    .app_data(metrics_data.clone())
                    .configure(routes::configure_metrics);
                HttpService::build()
                    .finish(map_config(app, |()| AppConfig::default()))
                    .tcp()
            })?
            .disable_signals()
            .shutdown_timeout(grace.as_secs())
            .run();
        Ok(Self {
            port,
            metrics_port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// The id this instance gives itself in presence and logs.
    pub fn instance_id(&self) -> &str {
        &self.state.instance_id
    }

    /// Serves until `stop` resolves, then shuts down: refuse new connections, report not
    /// ready, close every WebSocket with 1012 so clients reconnect elsewhere, wait (bounded by
    /// the grace period) for sessions to clean up, and return.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = self.server;
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => return result,
            _ = stop => {}
        }
        let state = self.state;
        log::info!(connections = state.connections.active(); "Shutting down.");
        state.shutdown.begin();
        let closing = state.clone();
        tokio::spawn(async move {
            closing
                .hub
                .close_all_in_batches(
                    actix_http::ws::CloseCode::Restart,
                    "server restarting; reconnect with since",
                    closing.settings.shutdown.spread,
                )
                .await;
        });
        // The stop command is sent at once; the server future below carries it out.
        let _stopped = handle.stop(true);
        if tokio::time::timeout(
            state.settings.shutdown.grace,
            state.connections.all_closed(),
        )
        .await
        .is_err()
        {
            log::warn!(connections = state.connections.active(); "Grace period over; exiting with connections open.");
        }
        server.await
    }
}

/// Starts the bus the settings chose, delivering its events to `hub`.
fn start_bus(
    settings: &BusSettings,
    policy: ChannelPolicy,
    hub: &Arc<Hub>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Arc<dyn Bus>> {
    let (sink, metrics) = (hub.clone(), metrics.clone());
    Ok(match settings {
        BusSettings::Embedded => EmbeddedBus::start(sink, policy),
        BusSettings::Redis(redis) => RedisBus::start(redis.clone(), policy, sink, metrics)?,
    })
}
