# The launch template rented agents start from (a pool's aws.launchTemplate). The master adds the
# rest per launch: instance type, subnet, tags, spot options and the user-data that installs and
# joins the agent (agents/cloud-init) — so the template carries no user-data and no instance type.

resource "aws_launch_template" "agent" {
  name        = "${local.name}-agent"
  description = "Spillway rented agents of cluster ${var.cluster_name}"
  image_id    = local.agent_ami_id
  key_name    = var.key_name

  # Follow edits without re-pasting the pool: the provider launches "$Default" unless told a version.
  update_default_version = true

  vpc_security_group_ids = [aws_security_group.agent.id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.agent.arn
  }

  # The provider sets this per launch for rented pools too; here as well so a VM launched by hand
  # from the template that powers itself off stops billing.
  instance_initiated_shutdown_behavior = "terminate"

  # IMDSv2 only: agents fetch their identity document and spot notices with a session token.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = data.aws_ami.agent.root_device_name
    ebs {
      volume_size           = var.agent_root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tags = local.tags
}
