# Redis, one of two shapes (var.redis_mode; exactly one of the two resources below exists):
#
# standalone (default): Memorystore for Redis, Standard tier: a primary and a replica in another
# zone with automatic failover, AUTH on, and with redis_tls (the default) TLS with server
# authentication on port 6378: the backend connects with rediss:// (REDIS_URL, a secret) and
# verifies the instance's own server CA (secret <prefix>-redis-ca, mounted into the backend as the
# file REDIS_CA_CERT names). Persistence: RDB snapshots every hour on top of the replica (the
# compose twin uses an AOF).
#
# cluster: Memorystore for Redis Cluster: var.redis_shard_count primaries with one replica each
# (WAIT 1 has a replica to wait for), spread over zones, reached through Private Service Connect
# in var.network. The backend gets REDIS_CLUSTER_URLS (plain env: no secret in it, see below) =
# the cluster's discovery endpoint; the cluster client learns the other nodes from it. With
# redis_tls the cluster's CA goes into the same <prefix>-redis-ca secret and REDIS_CA_CERT.
#
# Provider attributes relied on for google_redis_cluster (hashicorp/google docs page
# "google_redis_cluster", website/docs/r/redis_cluster.html.markdown, read for provider 6.x):
#   arguments  name, region, shard_count, replica_count, node_type, psc_configs.network,
#              authorization_mode (AUTH_MODE_DISABLED | AUTH_MODE_IAM_AUTH),
#              transit_encryption_mode (TRANSIT_ENCRYPTION_MODE_DISABLED |
#              TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION), zone_distribution_config.mode,
#              persistence_config (mode, rdb_config.rdb_snapshot_period), maintenance_policy,
#              deletion_protection_enabled
#   exported   discovery_endpoints[*].address / .port, managed_server_ca[*].ca_certs[*].certificates
#              (only populated with TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION; confirmed in the
#              provider 6.50 schema, hence the lower bound in versions.tf)
#   network    google_network_connectivity_service_connection_policy with service_class
#              "gcp-memorystore-redis" and psc_config.subnetworks, as the provider's examples do.
#
# AUTH: Memorystore for Redis Cluster has no password AUTH, only IAM auth (AUTH_MODE_IAM_AUTH):
# the client sends a short-lived IAM access token (1 hour) as the AUTH password on every new
# connection. The backend does so with REDIS_IAM_AUTH=true (run.tf): it fetches the service
# account's token from the metadata server, refreshes it ahead of expiry and authenticates each
# new node connection with the current one (docs/SCALING.md). Access control is then IAM
# (roles/redis.dbConnectionUser, iam.tf) on top of the network (the PSC endpoints have only
# private addresses in var.network, reached through Direct VPC egress) and, with redis_tls, TLS
# (AUTH travels in clear text without it).

locals {
  redis_cluster = var.redis_mode == "cluster"
  redis_scheme  = var.redis_tls ? "rediss" : "redis"

  # REDIS_CLUSTER_URLS: [] with standalone, one comma-separated seed list with cluster.
  redis_cluster_urls = [
    for c in google_redis_cluster.chat :
    join(",", [for e in c.discovery_endpoints : "${local.redis_scheme}://${e.address}:${e.port}"])
  ]

  # PEM file behind REDIS_CA_CERT: every server CA the instance lists (one, or two while
  # Memorystore rotates its CA), or every certificate of every chain the cluster lists.
  redis_ca_pem = join("\n", concat(
    flatten([for i in google_redis_instance.chat : i.server_ca_certs[*].cert]),
    flatten([for c in google_redis_cluster.chat : [for ca in c.managed_server_ca : ca.ca_certs[*].certificates]]),
  ))
}

data "google_compute_network" "vpc" {
  name = var.network
}

resource "google_redis_instance" "chat" {
  # Encryption at rest: Google-managed (no CMEK): chat history is not secret from the platform.
  count          = local.redis_cluster ? 0 : 1
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

# Existing deployments (created before redis_mode) keep their instance: the unnumbered address
# becomes index 0.
moved {
  from = google_redis_instance.chat
  to   = google_redis_instance.chat[0]
}

# Private Service Connect for the cluster: Memorystore creates its endpoints (discovery and node
# addresses) in this subnet, the Direct VPC egress subnet of the backend. Only one policy may
# exist per network, region and service class: if the project already has one for
# gcp-memorystore-redis, import it instead (terraform import) or drop this resource.
data "google_compute_subnetwork" "psc" {
  count  = local.redis_cluster ? 1 : 0
  name   = var.subnetwork
  region = var.region
}

resource "google_network_connectivity_service_connection_policy" "redis" {
  count         = local.redis_cluster ? 1 : 0
  name          = "${var.name_prefix}-redis-psc"
  location      = var.region
  service_class = "gcp-memorystore-redis"
  description   = "Private Service Connect endpoints of the chat's Memorystore for Redis Cluster."
  network       = data.google_compute_network.vpc.id
  psc_config {
    subnetworks = [data.google_compute_subnetwork.psc[0].id]
  }
  depends_on = [google_project_service.apis]
}

resource "google_redis_cluster" "chat" {
  # Encryption at rest: Google-managed (no CMEK), as for the standalone instance.
  # IAM authentication (see the header); reachable only inside the VPC (Private Service Connect).
  count         = local.redis_cluster ? 1 : 0
  name          = "${var.name_prefix}-redis"
  region        = var.region
  shard_count   = var.redis_shard_count
  replica_count = 1 # per shard: failover, and the replica WAIT 1 waits for (docs/SCALING.md)
  node_type     = var.redis_node_type

  psc_configs {
    network = data.google_compute_network.vpc.id
  }

  authorization_mode      = "AUTH_MODE_IAM_AUTH"
  transit_encryption_mode = var.redis_tls ? "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION" : "TRANSIT_ENCRYPTION_MODE_DISABLED"

  zone_distribution_config {
    mode = "MULTI_ZONE"
  }

  persistence_config {
    mode = "RDB"
    rdb_config {
      rdb_snapshot_period = "ONE_HOUR"
    }
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

  deletion_protection_enabled = var.deletion_protection

  depends_on = [
    google_project_service.apis,
    google_network_connectivity_service_connection_policy.redis,
  ]
}
