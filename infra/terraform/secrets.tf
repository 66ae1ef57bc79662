# Secrets the backend reads, from Secret Manager (never plain environment values):
#   <prefix>-redis-url        REDIS_URL with the AUTH string: rediss://:<auth>@<host>:6378 when
#                             redis_tls (the default), redis://:<auth>@<host>:6379 otherwise; only
#                             with redis_mode = "standalone". With "cluster" the backend gets
#                             REDIS_CLUSTER_URLS as a plain env value instead: it holds no secret
#                             (the cluster has no password AUTH, see redis.tf), and the backend
#                             refuses to start with both set.
#   <prefix>-redis-ca         the Memorystore server CA (PEM; the instance's or the cluster's),
#                             mounted into the backend as the file /secrets/redis-ca/ca.pem that
#                             REDIS_CA_CERT names; only when redis_tls
#   <prefix>-auth-jwt-secret  AUTH_JWT_SECRET (64 characters): the backend then requires an HS256
#                             token on every connection (issue with chat-token), and the frontend
#                             (which reads it too) mints guest tokens for its page; only when
#                             require_tokens. During a rotation the backend also reads the version
#                             being replaced (jwt_previous_secret_version) as
#                             AUTH_JWT_PREVIOUS_SECRET
#   <prefix>-api-keys         API_KEYS (one generated 48-character key): the server API
#                             (docs/API.md), for the apps that embed the chat; only when
#                             enable_api. Callers read the key from this secret too
#   <prefix>-metrics-config   the collector sidecar's RunMonitoring config (monitoring.tf); always
#
# The backend reads each secret at a pinned version number, never "latest" (local.secret_versions
# below): the version Terraform wrote, or the number in <secret>_secret_version when a version was
# added outside Terraform (gcloud secrets versions add). Rotating is then a deliberate change that
# rolls a new revision.
#
# Their values pass through Terraform state: keep state in the GCS backend (versions.tf) with
# access limited to deployers. To keep the JWT secret out of state, delete its version resource
# and add one with: gcloud secrets versions add <prefix>-auth-jwt-secret --data-file=-

resource "google_secret_manager_secret" "redis_url" {
  count     = local.redis_cluster ? 0 : 1
  secret_id = "${var.name_prefix}-redis-url"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "redis_url" {
  # rediss://:<auth>@<host>:6378 with in-transit encryption, redis://:<auth>@<host>:6379 without
  # (Memorystore reports the port that matches its transit_encryption_mode).
  count       = local.redis_cluster ? 0 : 1
  secret      = google_secret_manager_secret.redis_url[0].id
  secret_data = "${local.redis_scheme}://:${google_redis_instance.chat[0].auth_string}@${google_redis_instance.chat[0].host}:${google_redis_instance.chat[0].port}"
}

# Existing deployments (created before redis_mode) keep their secret.
moved {
  from = google_secret_manager_secret.redis_url
  to   = google_secret_manager_secret.redis_url[0]
}

moved {
  from = google_secret_manager_secret_version.redis_url
  to   = google_secret_manager_secret_version.redis_url[0]
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
  # Every server CA the instance (or cluster) lists, see local.redis_ca_pem in redis.tf: the
  # backend trusts all certificates in the PEM file.
  count       = var.redis_tls ? 1 : 0
  secret      = google_secret_manager_secret.redis_ca[0].id
  secret_data = local.redis_ca_pem
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

resource "random_password" "api_key" {
  count   = var.enable_api ? 1 : 0
  length  = 48
  special = false
}

resource "google_secret_manager_secret" "api_keys" {
  count     = var.enable_api ? 1 : 0
  secret_id = "${var.name_prefix}-api-keys"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "api_keys" {
  count       = var.enable_api ? 1 : 0
  secret      = google_secret_manager_secret.api_keys[0].id
  secret_data = random_password.api_key[0].result
}

locals {
  # Version numbers as Cloud Run wants them (strings), for the secrets that exist; try() because
  # a secret that is not created (count = 0) has no version and is not referenced either.
  secret_versions = {
    redis_url = var.redis_url_secret_version != null ? tostring(var.redis_url_secret_version) : try(google_secret_manager_secret_version.redis_url[0].version, null)
    redis_ca  = var.redis_ca_secret_version != null ? tostring(var.redis_ca_secret_version) : try(google_secret_manager_secret_version.redis_ca[0].version, null)
    jwt       = var.jwt_secret_version != null ? tostring(var.jwt_secret_version) : try(google_secret_manager_secret_version.jwt[0].version, null)
    api_keys  = var.api_keys_secret_version != null ? tostring(var.api_keys_secret_version) : try(google_secret_manager_secret_version.api_keys[0].version, null)
  }
}
