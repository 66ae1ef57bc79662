# Secrets the backend reads, from Secret Manager (never plain environment values):
#   <prefix>-redis-url        REDIS_URL with the AUTH string: rediss://:<auth>@<host>:6378
#   <prefix>-redis-ca         the Memorystore server CA (PEM), mounted as a file (REDIS_CA_CERT)
#   <prefix>-auth-jwt-secret  AUTH_JWT_SECRET (planned backend feature; injected already,
#                             ignored by backends that do not read it yet)
# Their values pass through Terraform state: keep state in the GCS backend (versions.tf) with
# access limited to deployers. To keep the JWT secret out of state, delete its version resource
# and add one with: gcloud secrets versions add <prefix>-auth-jwt-secret --data-file=-

resource "google_secret_manager_secret" "redis_url" {
  secret_id = "${var.name_prefix}-redis-url"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "redis_url" {
  secret      = google_secret_manager_secret.redis_url.id
  secret_data = local.redis_url
}

resource "google_secret_manager_secret" "redis_ca" {
  count     = var.redis_tls ? 1 : 0
  secret_id = "${var.name_prefix}-redis-ca"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "redis_ca" {
  count       = var.redis_tls ? 1 : 0
  secret      = google_secret_manager_secret.redis_ca[0].id
  secret_data = join("\n", google_redis_instance.chat.server_ca_certs[*].cert)
}

resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret" "jwt" {
  secret_id = "${var.name_prefix}-auth-jwt-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "jwt" {
  secret      = google_secret_manager_secret.jwt.id
  secret_data = random_password.jwt.result
}
