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
  description = "Memorystore endpoint (private): the instance's primary (standalone) or the cluster's discovery endpoint(s) (cluster)."
  value = join(",", concat(
    [for i in google_redis_instance.chat : "${i.host}:${i.port}"],
    flatten([for c in google_redis_cluster.chat : [for e in c.discovery_endpoints : "${e.address}:${e.port}"]]),
  ))
}

output "redis_mode" {
  description = "standalone (backend env REDIS_URL, a secret) or cluster (backend env REDIS_CLUSTER_URLS)."
  value       = var.redis_mode
}
