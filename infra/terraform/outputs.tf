output "frontend_url" {
  description = "The chat page (what to open). Deterministic run.app URL, also the backend's ALLOWED_ORIGINS."
  value       = local.frontend_url
}

output "backend_url" {
  description = "The backend as browsers reach it (the frontend's BACKEND_URL)."
  value       = "wss://${local.backend_host}"
}

output "frontend_uri" {
  description = "The frontend's URI as Cloud Run reports it (may be the older hashed *.a.run.app form; both work)."
  value       = google_cloud_run_v2_service.frontend.uri
}

output "backend_uri" {
  description = "The backend's URI as Cloud Run reports it."
  value       = google_cloud_run_v2_service.backend.uri
}

output "registry" {
  description = "Artifact Registry path images are pushed to: <registry>/backend, <registry>/frontend."
  value       = local.registry
}

output "deployer_service_account" {
  description = "Service account for the Cloud Build triggers (cloudbuild.yaml)."
  value       = google_service_account.deployer.email
}

output "redis_host" {
  description = "Memorystore primary endpoint (private)."
  value       = "${google_redis_instance.chat.host}:${google_redis_instance.chat.port}"
}
