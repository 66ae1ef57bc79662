use backend::{config::Settings, shutdown, startup::Application};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = Settings::from_env()?;
    let bus = match &settings.redis_url {
        Some(_) => "redis",
        None => "embedded",
    };
    let app = Application::build(settings)?;
    log::info!(port = app.port(), bus = bus, instance = app.instance_id(); "Backend listening.");
    app.run_until_stopped(shutdown::signal()).await?;
    log::info!("Backend stopped.");
    Ok(())
}
