# Secrets the backend reads, from Secret Manager (never plain environment values):
#   <prefix>-redis-url        REDIS_URL with the AUTH string: rediss://:<auth>@<host>:6378 when
#                             redis_tls (the default), redis://:<auth>@<host>:6379 otherwise
#   <prefix>-redis-ca         the Memorystore server CA (PEM), mounted into the backend as the file
#                             /secrets/redis-ca/ca.pem that REDIS_CA_CERT names; only when redis_tls
#   <prefix>-auth-jwt-secret  AUTH_JWT_SECRET (64 characters): the backend then requires an HS256
#                             token on every connection (issue with chat-token); only when
#                             require_tokens (the stock browser page sends no token)
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
  # Every server CA the instance lists (one, or two while Memorystore rotates its CA): the
  # backend trusts all certificates in the PEM file.
  count       = var.redis_tls ? 1 : 0
  secret      = google_secret_manager_secret.redis_ca[0].id
  secret_data = join("\n", google_redis_instance.chat.server_ca_certs[*].cert)
}

resource "random_password" "jwt" {
  count   = var.require_tokens ? 1 : 0
  length  = 64
  special = false
}

resource "google_secret_manager_secret" "jwt" {
  count     = var.require_tokens ? 1 : 0
  secret_id = "${var.name_prefix}-auth-jwt-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "jwt" {
  count       = var.require_tokens ? 1 : 0
  secret      = google_secret_manager_secret.jwt[0].id
  secret_data = random_password.jwt[0].result
}
