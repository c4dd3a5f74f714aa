# IAM: the masters may do exactly what the aws-ec2 provider (providers/aws-ec2/*.ts) calls, only
# for this cluster's instances; the agents get a role that grants nothing by default.
#
#   launch     ec2:RunInstances (+ ec2:CreateTags for its TagSpecifications, iam:PassRole for the
#              agents' instance profile)
#   terminate  ec2:TerminateInstances
#   list       ec2:DescribeInstances
#   prices     ec2:DescribeSpotPriceHistory

data "aws_iam_policy_document" "ec2_assume_role" {
  statement {
    sid     = "Ec2AssumesTheRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# ---- masters ---------------------------------------------------------------------------------------

data "aws_iam_policy_document" "master" {
  # The instance and its volumes must be created with this cluster's tags, which the provider
  # always sends (launch.ts: spillwayTags on instance and volume).
  statement {
    sid       = "RunTaggedInstances"
    actions   = ["ec2:RunInstances"]
    resources = ["${local.arn_prefix}:instance/*", "${local.arn_prefix}:volume/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/spillway-cluster"
      values   = [var.cluster_name]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/managed-by"
      values   = ["spillway"]
    }
  }

  # Only into the agents' subnets, with the agents' security group and launch template.
  statement {
    sid       = "RunInstancesInTheAgentNetwork"
    actions   = ["ec2:RunInstances"]
    resources = concat(
      [for s in var.agent_subnet_ids : "${local.arn_prefix}:subnet/${s}"],
      [
        "${local.arn_prefix}:security-group/${aws_security_group.agent.id}",
        aws_launch_template.agent.arn,
      ],
    )
  }

  statement {
    sid       = "RunInstancesNetworkInterfaces"
    actions   = ["ec2:RunInstances"]
    resources = ["${local.arn_prefix}:network-interface/*"]
    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = ["${local.arn_prefix}:vpc/${var.vpc_id}"]
    }
  }

  # Public and shared AMIs, and the EBS snapshots an EBS-backed AMI's volumes are created from,
  # have no account in their ARN; key pairs are optional (aws.keyName); spot launches create a
  # one-time spot request. None of these take the request's tags, so no tag condition here.
  statement {
    sid       = "RunInstancesImagesKeysSpot"
    actions   = ["ec2:RunInstances"]
    resources = [
      "arn:${local.partition}:ec2:${local.region}::image/*",
      "arn:${local.partition}:ec2:${local.region}::snapshot/*",
      "${local.arn_prefix}:key-pair/*",
      "${local.arn_prefix}:spot-instances-request/*",
    ]
  }

  # Tags only as part of RunInstances: the masters cannot retag (and so adopt) other instances.
  statement {
    sid       = "TagOnLaunchOnly"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.arn_prefix}:instance/*", "${local.arn_prefix}:volume/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["RunInstances"]
    }
  }

  # Only instances the provider launched for this cluster; never the masters (managed-by=terraform).
  statement {
    sid       = "TerminateThisClustersAgents"
    actions   = ["ec2:TerminateInstances"]
    resources = ["${local.arn_prefix}:instance/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/spillway-cluster"
      values   = [var.cluster_name]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/managed-by"
      values   = ["spillway"]
    }
  }

  # Describe calls support no resource-level permissions: "*" is the narrowest EC2 accepts.
  statement {
    sid       = "DescribeInstancesAndSpotPrices"
    actions   = ["ec2:DescribeInstances", "ec2:DescribeSpotPriceHistory"]
    resources = ["*"]
  }

  statement {
    sid       = "PassTheAgentRoleToEc2"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.agent.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "master" {
  name               = "${local.name}-master"
  description        = "Spillway masters of cluster ${var.cluster_name}: launch, list and terminate its rented agents"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume_role.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "master" {
  name   = "spillway-aws-ec2-provider"
  role   = aws_iam_role.master.id
  policy = data.aws_iam_policy_document.master.json
}

resource "aws_iam_role_policy_attachment" "master_extra" {
  for_each   = toset(var.master_managed_policy_arns)
  role       = aws_iam_role.master.name
  policy_arn = each.value
}

resource "aws_iam_instance_profile" "master" {
  name = "${local.name}-master"
  role = aws_iam_role.master.name
  tags = local.tags
}

# ---- agents ----------------------------------------------------------------------------------------

# Exists so agents have an identity (and the masters something narrow to pass); it grants nothing
# unless agent_managed_policy_arns says so, because every task on an agent can read its credentials.
resource "aws_iam_role" "agent" {
  name               = "${local.name}-agent"
  description        = "Spillway rented agents of cluster ${var.cluster_name}"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume_role.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "agent_extra" {
  for_each   = toset(var.agent_managed_policy_arns)
  role       = aws_iam_role.agent.name
  policy_arn = each.value
}

resource "aws_iam_instance_profile" "agent" {
  name = "${local.name}-agent"
  role = aws_iam_role.agent.name
  tags = local.tags
}

# Spot launches need this account-wide role; EC2 creates it on first use only for callers allowed
# iam:CreateServiceLinkedRole, which the masters are not.
resource "aws_iam_service_linked_role" "spot" {
  count            = var.create_spot_service_linked_role ? 1 : 0
  aws_service_name = "spot.amazonaws.com"
  description      = "Lets EC2 launch and reclaim spot instances (Spillway spot pools)"
}
