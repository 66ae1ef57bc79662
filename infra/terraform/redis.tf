# Memorystore for Redis, Standard tier: a primary and a replica in another zone with automatic
# failover, AUTH on, and with redis_tls (the default) TLS with server authentication on port
# 6378: the backend connects with rediss:// and verifies the instance's own server CA (secret
# <prefix>-redis-ca, mounted into the backend as the file REDIS_CA_CERT names).
# Persistence: RDB snapshots every hour on top of the replica (the compose twin uses an AOF).

data "google_compute_network" "vpc" {
  name = var.network
}

resource "google_redis_instance" "chat" {
  # Encryption at rest: Google-managed (no CMEK): chat history is not secret from the platform.
  name           = "${var.name_prefix}-redis"
  display_name   = "Chat: history, pub/sub, presence"
  region         = var.region
  tier           = "STANDARD_HA"
  memory_size_gb = var.redis_memory_size_gb
  redis_version  = "REDIS_7_2"
  replica_count  = 1

  authorized_network = data.google_compute_network.vpc.id
  connect_mode       = "DIRECT_PEERING"

  auth_enabled            = true
  transit_encryption_mode = var.redis_tls ? "SERVER_AUTHENTICATION" : "DISABLED"

  persistence_config {
    persistence_mode    = "RDB"
    rdb_snapshot_period = "ONE_HOUR"
  }

  maintenance_policy {
    weekly_maintenance_window {
      day = "SUNDAY"
      start_time {
        hours   = 3
        minutes = 0
        seconds = 0
        nanos   = 0
      }
    }
  }

  depends_on = [google_project_service.apis]
}
