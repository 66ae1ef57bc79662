resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Google-managed encryption is enough for images built from a public repository; CMEK would add a KMS key to run and pay for without protecting anything secret.
  location      = var.region
  repository_id = var.name_prefix
  format        = "DOCKER"
  description   = "Container images of the chat service (backend, frontend)."

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "2592000s" # 30 days, unless among the 20 most recent
    }
  }

  depends_on = [google_project_service.apis]
}
