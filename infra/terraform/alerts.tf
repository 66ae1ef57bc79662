# Alerting policies on the backend's Prometheus series (collected by the sidecar, monitoring.tf),
# as PromQL conditions. The full example set, with the Cloud Run and Memorystore ones, and
# what to do about each: docs/OPERATIONS.md, "Alerts". Series are filtered by namespace (the
# Cloud Run service) so two deployments in one project do not mix.

locals {
  backend_series = "namespace=\"${local.backend_name}\""

  backend_alerts = {
    pubsub_lag = {
      name     = "Chat: pub/sub lag p99 above 250 ms"
      query    = "histogram_quantile(0.99, sum by (le) (rate(chat_pubsub_lag_seconds_bucket{${local.backend_series}}[5m]))) > 0.25"
      duration = "600s"
      why      = "Live messages reach clients late: Redis latency, CPU starvation or clock skew between Redis and the instances."
    }
    slow_consumer_closes = {
      name     = "Chat: slow-consumer closes"
      query    = "sum(rate(chat_slow_consumer_closes_total{${local.backend_series}}[5m])) > 0.1"
      duration = "600s"
      why      = "Connections are closed with 1013 for falling behind: an overloaded instance or a bad client. See chat_fanout_queue_drops_total."
    }
    subscriber_flapping = {
      name     = "Chat: pub/sub subscriber reconnecting repeatedly"
      query    = "max(increase(chat_redis_reconnects_total{${local.backend_series}}[15m])) > 2"
      duration = "0s"
      why      = "The pub/sub connection keeps dropping (network, Redis restarts, hung sockets); each drop is a backfill."
    }
    instance_full = {
      name     = "Chat: an instance refuses upgrades at its connection limit"
      query    = "sum(rate(chat_upgrades_refused_total{${local.backend_series},reason=\"limit_instance\"}[5m])) > 0"
      duration = "300s"
      why      = "MAX_CONNECTIONS reached: upgrades get 503. Raise backend_max_instances or lower the per-instance load."
    }
    near_socket_limit = {
      name     = "Chat: an instance near 1000 sockets"
      query    = "max(chat_connections{${local.backend_series}}) > 900"
      duration = "600s"
      why      = "Cloud Run allows 1000 concurrent requests (sockets) per instance; new sockets will queue."
    }
    memory_per_connection = {
      name     = "Chat: resident memory per connection above 256 KiB"
      query    = "max(process_resident_memory_bytes{${local.backend_series}} / clamp_min(chat_connections{${local.backend_series}}, 100)) > 262144"
      duration = "1800s"
      why      = "Memory grows faster than sockets: a leak, or outbound queues filling."
    }
    collector_silent = {
      name     = "Chat: no backend metrics arriving"
      query    = "absent(chat_build_info{${local.backend_series}})"
      duration = "600s"
      why      = "The collector sidecar writes nothing: check its logs (container collector) and roles/monitoring.metricWriter."
    }
  }
}

resource "google_monitoring_alert_policy" "backend" {
  for_each     = local.backend_alerts
  display_name = each.value.name
  combiner     = "OR"

  conditions {
    display_name = each.value.name
    condition_prometheus_query_language {
      query               = each.value.query
      duration            = each.value.duration
      evaluation_interval = "60s"
    }
  }

  documentation {
    content   = "${each.value.why} Runbook: docs/OPERATIONS.md, Alerts."
    mime_type = "text/markdown"
  }

  notification_channels = var.alert_notification_channels
  depends_on            = [google_project_service.apis]
}
