//! Entry point: read settings, start logging, then build and run the server.

use anyhow::Context;
use frontend::{Application, Settings, logging};

fn main() -> anyhow::Result<()> {
    // Validate configuration before starting the runtime: a bad value should stop the
    // process with a clear message, not a half-started server.
    let logs = logging::LogSettings::from_env().context("invalid configuration")?;
    logging::init(&logs);
    let settings = Settings::from_env().context("invalid configuration")?;
    let backend = settings.backend_url.as_str().to_owned();
    let tokens = settings.tokens.for_page().map_or("off", |(_, mode)| mode);
    let address = format!("{}:{}", settings.host, settings.port);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)
            .with_context(|| format!("failed to listen on {address}"))?;
        log::info!(port = app.port(), backend = backend.as_str(), tokens = tokens, instance = logs.instance.as_str(); "Frontend listening.");
        app.run_until_stopped().await.context("server failed")
    })
}
