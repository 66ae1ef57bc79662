variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region for Cloud Run, Memorystore and Artifact Registry (one region: Memorystore is regional)."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Prefix of every resource name. The Cloud Run services are <prefix>-backend and <prefix>-frontend."
  type        = string
  default     = "chat"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix: 1-20 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "image_tag" {
  description = "Image tag the services are created with. Afterwards Cloud Build rolls out new images (gcloud run deploy) and Terraform ignores the image."
  type        = string
  default     = "latest"
}

variable "network" {
  description = "VPC network that Memorystore peers with and Cloud Run egresses into (Direct VPC egress)."
  type        = string
  default     = "default"
}

variable "subnetwork" {
  description = "Subnet of var.network in var.region used for Direct VPC egress (needs a free /26 or larger)."
  type        = string
  default     = "default"
}

variable "redis_mode" {
  description = "standalone (default): one Memorystore for Redis instance (Standard tier), the backend gets REDIS_URL. cluster: a Memorystore for Redis Cluster (redis_shard_count shards, one replica each, Private Service Connect), the backend gets REDIS_CLUSTER_URLS instead (docs/SCALING.md). Changing it replaces Redis (history is lost)."
  type        = string
  default     = "standalone"

  validation {
    condition     = contains(["standalone", "cluster"], var.redis_mode)
    error_message = "redis_mode: \"standalone\" or \"cluster\"."
  }
}

variable "redis_memory_size_gb" {
  description = "Memorystore capacity with redis_mode = \"standalone\". History is HISTORY_MAX messages per channel; 1 GB holds a lot of chat."
  type        = number
  default     = 1
}

variable "redis_shard_count" {
  description = "Shards (primaries, each with one replica) of the cluster with redis_mode = \"cluster\". Every chat channel lives on one shard; more shards spread channels, not one busy channel."
  type        = number
  default     = 3

  validation {
    condition     = var.redis_shard_count >= 1 && floor(var.redis_shard_count) == var.redis_shard_count
    error_message = "redis_shard_count: a whole number, at least 1."
  }
}

variable "redis_node_type" {
  description = "Node type of the cluster with redis_mode = \"cluster\" (memory and vCPUs per node; REDIS_SHARED_CORE_NANO is for trials only)."
  type        = string
  default     = "REDIS_HIGHMEM_MEDIUM"

  validation {
    condition     = contains(["REDIS_SHARED_CORE_NANO", "REDIS_STANDARD_SMALL", "REDIS_HIGHMEM_MEDIUM", "REDIS_HIGHMEM_XLARGE"], var.redis_node_type)
    error_message = "redis_node_type: REDIS_SHARED_CORE_NANO, REDIS_STANDARD_SMALL, REDIS_HIGHMEM_MEDIUM or REDIS_HIGHMEM_XLARGE."
  }
}

variable "redis_tls" {
  description = "In-transit encryption on Memorystore (recommended): TLS with server authentication and the instance's (or cluster's) server CA mounted as the file REDIS_CA_CERT names; standalone: REDIS_URL rediss://:<auth>@<host>:6378, cluster: rediss:// seed URL. false: plain redis:// (standalone: redis://:<auth>@<host>:6379). Changing it replaces Redis (history is lost)."
  type        = bool
  default     = true
}

variable "require_tokens" {
  description = "Give the backend AUTH_JWT_SECRET (a generated secret in Secret Manager), so every WebSocket needs an HS256 token (?token=, or issued with chat-token) and is refused with 401 otherwise. The frontend gets the same secret and mints short-lived guest tokens for its page (POST /token: one client id, one channel, a display name); anyone who can load the page can still get one, so this binds names and channels to tokens rather than keeping strangers out."
  type        = bool
  default     = false
}

variable "backend_max_instances" {
  description = "Upper bound of backend instances (each holds up to 1000 WebSockets)."
  type        = number
  default     = 10
}

variable "frontend_max_instances" {
  description = "Upper bound of frontend instances."
  type        = number
  default     = 5
}

variable "extra_allowed_origins" {
  description = "More browser origins the backend accepts besides the frontend's run.app URL, e.g. a custom domain: [\"https://chat.example.com\"]."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Refuse to destroy the Cloud Run services and, with redis_mode = \"cluster\", the Redis cluster (set false, apply, then terraform destroy)."
  type        = bool
  default     = true
}

# Secret Manager versions the backend reads. null (the default): the version Terraform itself
# wrote (secrets.tf). A number: that version, e.g. after `gcloud secrets versions add` outside
# Terraform. Never "latest": a revision must keep reading the value it was deployed with.
variable "redis_url_secret_version" {
  description = "Version number of <prefix>-redis-url the backend reads (redis_mode = \"standalone\"); null: the version Terraform wrote. Not \"latest\"."
  type        = number
  default     = null

  validation {
    condition     = var.redis_url_secret_version == null || try(var.redis_url_secret_version >= 1 && floor(var.redis_url_secret_version) == var.redis_url_secret_version, false)
    error_message = "redis_url_secret_version: a version number (1, 2, ...) or null, never \"latest\"."
  }
}

variable "redis_ca_secret_version" {
  description = "Version number of <prefix>-redis-ca the backend mounts (redis_tls); null: the version Terraform wrote. Not \"latest\"."
  type        = number
  default     = null

  validation {
    condition     = var.redis_ca_secret_version == null || try(var.redis_ca_secret_version >= 1 && floor(var.redis_ca_secret_version) == var.redis_ca_secret_version, false)
    error_message = "redis_ca_secret_version: a version number (1, 2, ...) or null, never \"latest\"."
  }
}

variable "enable_api" {
  description = "Turn on the backend's server API (docs/API.md: post into channels, read history, presence, disconnect clients) with a generated key in <prefix>-api-keys, given to the backend as API_KEYS. Off by default: nothing but the page talks to the backend."
  type        = bool
  default     = false
}

variable "api_keys_secret_version" {
  description = "Version number of <prefix>-api-keys the backend reads (enable_api); null: the version Terraform wrote. To rotate, add a version holding \"new,old\", point this at it, move the callers, then add one holding \"new\". Not \"latest\"."
  type        = number
  default     = null

  validation {
    condition     = var.api_keys_secret_version == null || try(var.api_keys_secret_version >= 1 && floor(var.api_keys_secret_version) == var.api_keys_secret_version, false)
    error_message = "api_keys_secret_version: a version number (1, 2, ...) or null, never \"latest\"."
  }
}

variable "jwt_secret_version" {
  description = "Version number of <prefix>-auth-jwt-secret the backend reads (require_tokens); null: the version Terraform wrote. Not \"latest\"."
  type        = number
  default     = null

  validation {
    condition     = var.jwt_secret_version == null || try(var.jwt_secret_version >= 1 && floor(var.jwt_secret_version) == var.jwt_secret_version, false)
    error_message = "jwt_secret_version: a version number (1, 2, ...) or null, never \"latest\"."
  }
}

variable "jwt_previous_secret_version" {
  description = "During a rotation of <prefix>-auth-jwt-secret (require_tokens): the version being replaced, given to the backend as AUTH_JWT_PREVIOUS_SECRET so tokens it signed keep verifying while jwt_secret_version names the new one. null (the default) once the longest token lifetime has passed. Not \"latest\"."
  type        = number
  default     = null

  validation {
    condition     = var.jwt_previous_secret_version == null || try(var.jwt_previous_secret_version >= 1 && floor(var.jwt_previous_secret_version) == var.jwt_previous_secret_version, false)
    error_message = "jwt_previous_secret_version: a version number (1, 2, ...) or null, never \"latest\"."
  }
}

variable "metrics_collector_version" {
  description = "Tag of Google's Managed Service for Prometheus sidecar image for Cloud Run (us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar). A release number, not \"latest\"."
  type        = string
  default     = "1.2.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.metrics_collector_version))
    error_message = "metrics_collector_version: a release number such as 1.2.0, not \"latest\"."
  }
}

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/<p>/notificationChannels/<id>) the backend's alert policies (alerts.tf) notify. Empty: the policies open incidents in the console only."
  type        = list(string)
  default     = []
}
