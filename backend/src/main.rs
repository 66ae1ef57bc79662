use backend::{config::Settings, shutdown, startup::Application};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    log_lines::init(settings.json_logs, &settings.instance_id);
    let bus = settings.bus.kind();
    let app = Application::build(settings)?;
    log::info!(port = app.port(), bus = bus, instance = app.instance_id(); "Backend listening.");
    app.run_until_stopped(shutdown::signal()).await?;
    log::info!("Backend stopped.");
    Ok(())
}
