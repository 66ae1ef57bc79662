# Chat on Cloud Run: Artifact Registry for the images, Memorystore for Redis (Standard tier,
# AUTH, in-transit encryption; or, with redis_mode = "cluster", Memorystore for Redis Cluster),
# two Cloud Run v2 services with their own service accounts, secrets in Secret Manager, Direct VPC
# egress from the backend to Redis.
#
# The frontend needs the backend's URL (BACKEND_URL) and the backend needs the frontend's
# (ALLOWED_ORIGINS): referencing each other's `uri` would be a dependency cycle. Cloud Run's
# deterministic URLs break it: https://<service>-<project number>.<region>.run.app is known
# before either service exists, so both are computed in locals from the project number and
# neither resource refers to the other. The check block at the end compares them with the real
# URIs after apply. (Custom domains: add them with var.extra_allowed_origins.)

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  backend_name  = "${var.name_prefix}-backend"
  frontend_name = "${var.name_prefix}-frontend"
  run_domain    = "${data.google_project.this.number}.${var.region}.run.app"
  backend_host  = "${local.backend_name}-${local.run_domain}"
  frontend_url  = "https://${local.frontend_name}-${local.run_domain}"
  registry      = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"

  allowed_origins = join(",", concat([local.frontend_url], var.extra_allowed_origins))

  # Redis locals (redis_cluster, redis_scheme, redis_cluster_urls, redis_ca_pem) are in redis.tf.
  services = toset(concat([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "compute.googleapis.com",
    "monitoring.googleapis.com", # Managed Service for Prometheus (monitoring.tf)
    "redis.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    ], local.redis_cluster ? [
    "networkconnectivity.googleapis.com", # service connection policy (Private Service Connect)
  ] : []))
}

resource "google_project_service" "apis" {
  for_each           = local.services
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
