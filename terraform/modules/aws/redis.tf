# Optional ElastiCache for Redis: one shard (the masters take a redis:// URL, not a Redis Cluster),
# a replica in another zone with automatic failover. ElastiCache does not offer the append-only
# file; durability comes from the replica (asynchronous: see docs/OPERATIONS.md, "Redis durability").

locals {
  redis_major = split(".", var.redis_engine_version)[0]
}

resource "aws_elasticache_subnet_group" "redis" {
  count       = var.create_redis ? 1 : 0
  name        = local.name
  description = "Spillway masters' Redis, cluster ${var.cluster_name}"
  subnet_ids  = var.master_subnet_ids
  tags        = local.tags
}

resource "aws_elasticache_parameter_group" "redis" {
  count       = var.create_redis ? 1 : 0
  name        = "${local.name}-redis${local.redis_major}"
  family      = local.redis_major == "6" ? "redis6.x" : "redis${local.redis_major}"
  description = "Spillway: never evict keys"

  # ElastiCache's default (volatile-lru) would evict keys with a TTL under memory pressure — the
  # leader lease among them. Refused writes are what the masters handle (503, the term ends).
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }

  tags = local.tags
}

resource "aws_elasticache_replication_group" "redis" {
  count                = var.create_redis ? 1 : 0
  replication_group_id = local.name
  description          = "Spillway masters' Redis, cluster ${var.cluster_name}"
  engine               = "redis"
  engine_version       = var.redis_engine_version
  node_type            = var.redis_node_type
  port                 = 6379
  num_cache_clusters   = var.redis_nodes
  parameter_group_name = aws_elasticache_parameter_group.redis[0].name
  subnet_group_name    = aws_elasticache_subnet_group.redis[0].name
  security_group_ids   = [aws_security_group.redis[0].id]

  automatic_failover_enabled = var.redis_nodes > 1
  multi_az_enabled           = var.redis_nodes > 1

  at_rest_encryption_enabled = true
  transit_encryption_enabled = var.redis_transit_encryption

  snapshot_retention_limit = var.redis_snapshot_retention_days
  # Engine and node changes wait for the maintenance window instead of dropping the masters' Redis now.
  apply_immediately = false

  tags = local.tags
}
