//! Entry point: read settings, then build and run the server.

use anyhow::Context;
use frontend::{Application, Settings};

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // Validate configuration before starting the runtime: a bad value should stop the
    // process with a clear message, not a half-started server.
    let settings = Settings::from_env().context("invalid configuration")?;
    let backend = settings.backend_url.clone();
    let address = format!("{}:{}", settings.host, settings.port);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)
            .with_context(|| format!("failed to listen on {address}"))?;
        log::info!(
            "frontend listening on port {}, backend at {backend}",
            app.port()
        );
        app.run_until_stopped().await.context("server failed")
    })
}
