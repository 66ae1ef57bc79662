terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
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
