# One service account per workload, each with only what it uses:
#   backend:  read its secrets (the Redis URL with redis_mode = "standalone"; the Redis CA with
#             redis_tls; the JWT secret with require_tokens; the metrics collector's config) and
#             write metrics (roles/monitoring.metricWriter: the Managed Service for Prometheus
#             sidecar writes as the service's identity). Nothing else (Cloud Run collects stdout
#             logs and platform metrics without any role on the runtime service account), and
#             with redis_mode = "cluster", connect to the cluster (roles/redis.dbConnectionUser:
#             the cluster authenticates every connection with the account's IAM access token).
#   frontend: read the JWT secret with require_tokens (it mints guest tokens); nothing else.
#   deployer: what cloudbuild.yaml does: push images to this repository and deploy new
#             revisions of these two services running as the two accounts above.

resource "google_service_account" "backend" {
  account_id   = "${var.name_prefix}-backend"
  display_name = "Chat backend (Cloud Run runtime)"
}

resource "google_service_account" "frontend" {
  account_id   = "${var.name_prefix}-frontend"
  display_name = "Chat frontend (Cloud Run runtime)"
}

resource "google_service_account" "deployer" {
  account_id   = "${var.name_prefix}-deployer"
  display_name = "Chat deployer (Cloud Build)"
}

locals {
  backend_secrets = merge(
    { for s in google_secret_manager_secret.redis_url : "redis_url" => s.id },
    var.redis_tls ? { redis_ca = google_secret_manager_secret.redis_ca[0].id } : {},
    var.require_tokens ? { jwt = google_secret_manager_secret.jwt[0].id } : {},
    var.enable_api ? { api_keys = google_secret_manager_secret.api_keys[0].id } : {},
    { metrics_config = google_secret_manager_secret.metrics_config.id },
  )
}

resource "google_secret_manager_secret_iam_member" "backend" {
  for_each  = local.backend_secrets
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.backend.email}"
}

# With require_tokens the frontend signs guest tokens with the backend's secret.
resource "google_secret_manager_secret_iam_member" "frontend_jwt" {
  count     = var.require_tokens ? 1 : 0
  secret_id = google_secret_manager_secret.jwt[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.frontend.email}"
}

# The cluster (redis.tf) runs with IAM authentication: the backend's connections AUTH with
# the service account's access token, which the cluster accepts only from a principal with
# redis.clusters.connect on it.
resource "google_project_iam_member" "backend_redis_connect" {
  count   = local.redis_cluster ? 1 : 0
  project = var.project_id
  role    = "roles/redis.dbConnectionUser"
  member  = "serviceAccount:${google_service_account.backend.email}"
}

# The collector sidecar (monitoring.tf) writes the backend's Prometheus series to Cloud
# Monitoring; a project-level role, as metric writes are not scoped to a resource.
resource "google_project_iam_member" "backend_metrics" {
  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = "serviceAccount:${google_service_account.backend.email}"
}

resource "google_artifact_registry_repository_iam_member" "deployer_push" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_cloud_run_v2_service_iam_member" "deployer" {
  for_each = {
    backend  = google_cloud_run_v2_service.backend.name
    frontend = google_cloud_run_v2_service.frontend.name
  }
  location = var.region
  name     = each.value
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = {
    backend  = google_service_account.backend.name
    frontend = google_service_account.frontend.name
  }
  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

# Cloud Build with a user-managed service account writes build logs to Cloud Logging only
# (cloudbuild.yaml: options.logging = CLOUD_LOGGING_ONLY), which needs this role.
resource "google_project_iam_member" "deployer_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.deployer.email}"
}

# A public chat: browsers call both services without Google credentials (a browser cannot
# attach an IAM token to a WebSocket). Organisations with domain-restricted sharing must
# allow allUsers for these two services.
resource "google_cloud_run_v2_service_iam_member" "public" {
  # Public by design; the backend enforces ALLOWED_ORIGINS and, with require_tokens, JWT tokens.
  for_each = {
    backend  = google_cloud_run_v2_service.backend.name
    frontend = google_cloud_run_v2_service.frontend.name
  }
  location = var.region
  name     = each.value
  role     = "roles/run.invoker"
  member   = "allUsers"
}
