# Prometheus metrics of the backend into Cloud Monitoring: Google Cloud Managed Service for
# Prometheus, collected by Google's sidecar for Cloud Run (the "collector" container in run.tf).
# https://cloud.google.com/run/docs/monitoring-managed-prometheus-sidecar
#
# The sidecar reads a RunMonitoring config from /etc/rungmp/config.yaml; without one it would
# scrape port 8080, which no longer serves /metrics. The config lives in
# infra/cloudrun/backend-run-monitoring.yaml (shared with the gcloud path) and reaches the
# container as a Secret Manager secret, the volume type Cloud Run mounts files from.
# Dashboards and alerts on these series: docs/OPERATIONS.md.

locals {
  metrics_port = 9090 # the backend's METRICS_PORT; the RunMonitoring config scrapes the same
  # Pinned, not :latest: a new collector release is a reviewed change, not a surprise on the
  # next instance start.
  metrics_collector_image = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:${var.metrics_collector_version}"
}

resource "google_secret_manager_secret" "metrics_config" {
  secret_id = "${var.name_prefix}-metrics-config"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "metrics_config" {
  secret      = google_secret_manager_secret.metrics_config.id
  secret_data = file("${path.module}/../cloudrun/backend-run-monitoring.yaml")
}
