terraform {
  required_version = ">= 1.5"

  required_providers {
    # >= 6.50: google_redis_cluster.managed_server_ca (the cluster's CA with redis_tls) is in the
    # 6.50 schema; the first release that has it was not confirmed, so this bound is safe rather
    # than tight.
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 8.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5, < 4.0"
    }
  }

  # Keep state in a bucket, not on a laptop: it holds the Redis AUTH string (and the JWT secret
  # with require_tokens).
  # terraform init -backend-config="bucket=<your-state-bucket>" -backend-config="prefix=chat"
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
