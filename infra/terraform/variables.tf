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

variable "redis_memory_size_gb" {
  description = "Memorystore capacity. History is HISTORY_MAX messages per channel; 1 GB holds a lot of chat."
  type        = number
  default     = 1
}

variable "redis_tls" {
  description = "In-transit encryption on Memorystore (recommended): TLS with server authentication, REDIS_URL rediss://:<auth>@<host>:6378 and the instance's server CA mounted as the file REDIS_CA_CERT names. false: plain redis://:<auth>@<host>:6379. Changing it replaces the Redis instance (history is lost)."
  type        = bool
  default     = true
}

variable "require_tokens" {
  description = "Give the backend AUTH_JWT_SECRET (a generated secret in Secret Manager), so every WebSocket needs an HS256 token (?token=, issued with chat-token) and is refused with 401 otherwise. Default false because the stock browser page served by the frontend sends no token: with true it cannot connect. Set true for API/bot clients or a custom page that obtains tokens."
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
  description = "Refuse to destroy the Cloud Run services (set false, apply, then terraform destroy)."
  type        = bool
  default     = true
}
