use backend::{config::Settings, logging, shutdown, startup::Application};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    logging::init(settings.json_logs, &settings.instance_id);
    let bus = match (&settings.redis_url, &settings.redis_cluster_urls) {
        (Some(_), _) => "redis",
        (None, Some(_)) => "redis-cluster",
        (None, None) => "embedded",
    };
    let app = Application::build(settings)?;
    log::info!(port = app.port(), bus = bus, instance = app.instance_id(); "Backend listening.");
    app.run_until_stopped(shutdown::signal()).await?;
    log::info!("Backend stopped.");
    Ok(())
}
