# The two Cloud Run services. Images: Terraform creates each service with
# <registry>/<name>:<image_tag>; from then on Cloud Build deploys new images
# (infra/cloudbuild/*.yaml, gcloud run deploy --image) and Terraform ignores the image, so
# the two do not fight. Everything else (scaling, probes, env, secrets) is owned here.
#
# Secret Manager versions are pinned numbers, never "latest" (infra/tf_check.py refuses it): a
# revision then always reads the value it was deployed with, and a new value rolls a new revision
# instead of reaching only the instances that happen to start after it (locals in secrets.tf).

resource "google_cloud_run_v2_service" "backend" {
  name                = local.backend_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  template {
    service_account = google_service_account.backend.email
    # A WebSocket is one request: Cloud Run ends it after `timeout`. The backend retires
    # sockets with 1012 before that (CONNECTION_MAX_AGE_SECS, 3300 s) and clients reconnect
    # with ?since= (gap-free resume). 3600 s is Cloud Run's maximum.
    timeout                          = "3600s"
    max_instance_request_concurrency = 1000 # each open WebSocket is one concurrent request
    # Best effort only: reduces reconnect churn, but any instance can serve any client.
    session_affinity      = true
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

    scaling {
      min_instance_count = 1 # no cold start for the first chatter
      max_instance_count = var.backend_max_instances
    }

    # Direct VPC egress: Memorystore has only private addresses (the instance's peering range, or
    # the cluster's Private Service Connect endpoints in var.subnetwork).
    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = var.network
        subnetwork = var.subnetwork
      }
    }

    containers {
      name  = "backend" # the collector below depends on it by name; Cloud Build deploys to it
      image = "${local.registry}/backend:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle          = false # CPU always allocated: instances push messages between requests
        startup_cpu_boost = true
      }

      env {
        name  = "ALLOWED_ORIGINS"
        value = local.allowed_origins
      }
      env {
        name  = "RUST_LOG"
        value = "info"
      }
      env {
        name  = "SHUTDOWN_GRACE_SECS"
        value = "8" # Cloud Run sends SIGKILL 10 s after SIGTERM
      }
      env {
        name  = "TRUSTED_PROXY_HOPS" # the front end appends the client's address to X-Forwarded-For
        value = "1"
      }
      env {
        name  = "LOG_FORMAT" # JSON lines for Cloud Logging (also the default when K_SERVICE is set)
        value = "json"
      }
      env {
        # /metrics on its own port, reachable only inside the instance: the collector sidecar
        # scrapes it (monitoring.tf); the public port 8080 no longer serves it.
        name  = "METRICS_PORT"
        value = tostring(local.metrics_port)
      }
      # Exactly one of REDIS_URL (standalone) and REDIS_CLUSTER_URLS (cluster): the backend
      # refuses to start with both.
      dynamic "env" {
        for_each = google_secret_manager_secret.redis_url[*].secret_id
        content {
          name = "REDIS_URL"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = local.secret_versions.redis_url
            }
          }
        }
      }
      dynamic "env" {
        # The cluster's discovery endpoint (redis.tf): no password in it, so a plain value.
        for_each = local.redis_cluster_urls
        content {
          name  = "REDIS_CLUSTER_URLS"
          value = env.value
        }
      }
      dynamic "env" {
        # The cluster authenticates with IAM (redis.tf): every node connection AUTHs with the
        # service account's access token, fetched from the metadata server and kept fresh.
        for_each = local.redis_cluster ? ["true"] : []
        content {
          name  = "REDIS_IAM_AUTH"
          value = env.value
        }
      }
      dynamic "env" {
        # Only with enable_api: the server API's keys (docs/API.md); without them it is off.
        for_each = var.enable_api ? [google_secret_manager_secret.api_keys[0].secret_id] : []
        content {
          name = "API_KEYS"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = local.secret_versions.api_keys
            }
          }
        }
      }
      dynamic "env" {
        # Only with require_tokens: tokens required on every connection (HS256, issued with
        # chat-token, 401 without). The stock browser page sends none (docs/DEPLOY.md section 2).
        for_each = var.require_tokens ? [google_secret_manager_secret.jwt[0].secret_id] : []
        content {
          name = "AUTH_JWT_SECRET"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = local.secret_versions.jwt
            }
          }
        }
      }
      dynamic "env" {
        # During a rotation (jwt_previous_secret_version): the version being replaced, which
        # still verifies tokens while the one above issues and verifies.
        for_each = var.require_tokens && var.jwt_previous_secret_version != null ? [google_secret_manager_secret.jwt[0].secret_id] : []
        content {
          name = "AUTH_JWT_PREVIOUS_SECRET"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = tostring(var.jwt_previous_secret_version)
            }
          }
        }
      }
      dynamic "env" {
        # With redis_tls: the Memorystore server CA (PEM file from the redis-ca volume below)
        # that the backend trusts for the rediss:// REDIS_URL or REDIS_CLUSTER_URLS.
        for_each = var.redis_tls ? ["/secrets/redis-ca/ca.pem"] : []
        content {
          name  = "REDIS_CA_CERT"
          value = env.value
        }
      }
      dynamic "volume_mounts" {
        for_each = var.redis_tls ? ["/secrets/redis-ca"] : []
        content {
          name       = "redis-ca"
          mount_path = volume_mounts.value
        }
      }

      # Startup: ready means Redis answers and the pub/sub connection is up (the collector
      # starts only after it). Liveness: the process serves HTTP. The backend is ready ~3 ms
      # after it starts (tools/loadgen/coldstart, docs/BENCHMARKS.md), so the probe asks every
      # second, the shortest Cloud Run allows: a new instance takes traffic up to a second
      # sooner in a scale-out or a mass reconnect. 60 failures give a Redis that is still
      # coming up a minute before the instance is restarted.
      startup_probe {
        http_get {
          path = "/readyz"
          port = 8080
        }
        period_seconds    = 1
        timeout_seconds   = 1
        failure_threshold = 60
      }
      liveness_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 10
        timeout_seconds   = 2
        failure_threshold = 3
      }
    }

    # Managed Service for Prometheus collector (monitoring.tf): scrapes the backend's
    # METRICS_PORT per the RunMonitoring config mounted from Secret Manager, writes to Cloud
    # Monitoring as the backend's service account (roles/monitoring.metricWriter, iam.tf).
    containers {
      name       = "collector"
      image      = local.metrics_collector_image
      depends_on = ["backend"] # start after the backend's startup probe passes

      resources {
        limits = {
          cpu    = "1"
          memory = "256Mi"
        }
        cpu_idle = false # scrapes every 30 s between requests, like the backend pushes messages
      }

      volume_mounts {
        name       = "metrics-config"
        mount_path = "/etc/rungmp" # the only place the sidecar reads its config.yaml from
      }
    }

    volumes {
      name = "metrics-config"
      secret {
        secret = google_secret_manager_secret.metrics_config.secret_id
        items {
          version = google_secret_manager_secret_version.metrics_config.version
          path    = "config.yaml"
        }
      }
    }

    dynamic "volumes" {
      for_each = var.redis_tls ? [google_secret_manager_secret.redis_ca[0].secret_id] : []
      content {
        name = "redis-ca"
        secret {
          secret = volumes.value
          items {
            version = local.secret_versions.redis_ca
            path    = "ca.pem"
          }
        }
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    ignore_changes = [client, client_version, template[0].containers[0].image]
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.backend,
    google_secret_manager_secret_version.redis_url,
    google_secret_manager_secret_version.redis_ca,
    google_secret_manager_secret_version.jwt,
    google_secret_manager_secret_version.api_keys,
    google_secret_manager_secret_version.metrics_config,
    google_project_iam_member.backend_metrics,
  ]
}

resource "google_cloud_run_v2_service" "frontend" {
  name                = local.frontend_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  template {
    service_account                  = google_service_account.frontend.email
    max_instance_request_concurrency = 250
    timeout                          = "30s"

    scaling {
      min_instance_count = 0
      max_instance_count = var.frontend_max_instances
    }

    containers {
      image = "${local.registry}/frontend:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "256Mi"
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      env {
        # The backend's deterministic URL (see main.tf): no reference to the backend resource.
        name  = "BACKEND_URL"
        value = "wss://${local.backend_host}"
      }
      env {
        name  = "RUST_LOG"
        value = "info"
      }
      env {
        name  = "LOG_FORMAT" # JSON lines for Cloud Logging, as the backend writes them
        value = "json"
      }
      env {
        # Cloud Run's front end appends the client's address to X-Forwarded-For: the
        # per-address budget of POST /token counts that entry.
        name  = "TRUSTED_PROXY_HOPS"
        value = "1"
      }
      dynamic "env" {
        # Only with require_tokens: the backend's secret, at the version the backend issues
        # with, so the frontend mints guest tokens for its page (POST /token).
        for_each = var.require_tokens ? [google_secret_manager_secret.jwt[0].secret_id] : []
        content {
          name = "AUTH_JWT_SECRET"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = local.secret_versions.jwt
            }
          }
        }
      }

      startup_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 1
        timeout_seconds   = 1
        failure_threshold = 10
      }
      liveness_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 15
        timeout_seconds   = 2
        failure_threshold = 3
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    ignore_changes = [client, client_version, template[0].containers[0].image]
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.frontend_jwt,
    google_secret_manager_secret_version.jwt,
  ]
}
