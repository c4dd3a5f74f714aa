# `master_count` replicas of `spillway master` on one Redis: one leads, the others answer 307 to it
# and take over within --leader-lease when it goes (docs/OPERATIONS.md, "Several masters").

# The masters' setup script, rendered by ../master-host from the template the gcp module renders
# too, for cloud = "aws".
module "master_host" {
  source = "../master-host"

  cloud                   = "aws"
  cluster_name            = var.cluster_name
  master_port             = var.master_port
  leader_lease_seconds    = var.leader_lease_seconds
  agent_auth              = var.agent_auth
  advertise_url           = local.advertise_url
  scheme                  = local.scheme
  redis_url               = local.redis_url
  node_version            = var.node_version
  node_dist_url           = var.node_dist_url
  spillway_package        = var.spillway_package
  spillway_package_sha256 = var.spillway_package_sha256
  tls                     = var.tls
  aws_identity_certs_pem  = var.aws_identity_certs_pem
  master_flags            = var.master_flags
}

resource "aws_instance" "master" {
  count = var.master_count

  ami                    = local.master_ami_id
  instance_type          = var.master_instance_type
  key_name               = var.key_name
  iam_instance_profile   = aws_iam_instance_profile.master.name
  vpc_security_group_ids = [aws_security_group.master.id]
  # Round-robin over the subnets: with subnets in two zones, a zone outage leaves a master.
  subnet_id  = var.master_subnet_ids[count.index % length(var.master_subnet_ids)]
  private_ip = length(var.master_private_ips) > 0 ? var.master_private_ips[count.index] : null

  # EC2 takes at most 16 KB of user-data; the script with a certificate chain, key, CA and the AWS
  # identity certificates comes close. cloud-init unpacks gzip-compressed user-data by itself.
  user_data_base64 = base64gzip(module.master_host.script)
  # cloud-init runs user-data once per instance: a changed script only takes effect on a new
  # instance. Roll masters one at a time (terraform apply -target='…aws_instance.master[0]', then
  # [1]) so a leader is always up; a plain apply replaces them all at once.
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size           = var.master_root_volume_gb
    volume_type           = "gp3"
    encrypted             = true
    delete_on_termination = true
    tags                  = merge(local.tags, { Name = "${local.name}-master-${count.index}" })
  }

  tags = merge(local.tags, {
    Name            = "${local.name}-master-${count.index}"
    "spillway-role" = "master"
  })

  lifecycle {
    # A newer Amazon Linux release must not replace running masters on the next apply.
    ignore_changes = [ami]

    precondition {
      condition     = var.create_redis != (var.redis_url != null)
      error_message = "Give exactly one of redis_url (your own Redis) and create_redis = true (ElastiCache)."
    }
    precondition {
      condition     = length(var.master_private_ips) == 0 || length(var.master_private_ips) == var.master_count
      error_message = "master_private_ips: give one address per master (master_count) or none."
    }
    precondition {
      condition     = var.spillway_package_sha256 == null || startswith(var.spillway_package, "https://")
      error_message = "spillway_package_sha256 checks a downloaded tarball: spillway_package must then be its https:// URL."
    }
  }
}
