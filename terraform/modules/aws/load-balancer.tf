# One stable URL for all masters (--advertise-url): an internal Network Load Balancer passing TCP
# through, so TLS (when on) ends at the masters and standbys can answer with their 307 to the leader.

resource "aws_lb" "masters" {
  count              = var.load_balancer ? 1 : 0
  name               = local.name
  internal           = true
  load_balancer_type = "network"
  subnets            = var.master_subnet_ids
  security_groups    = [aws_security_group.load_balancer[0].id]
  # Masters sit one per zone: a client in a zone whose master is down still reaches another.
  enable_cross_zone_load_balancing = true
  tags                             = local.tags
}

resource "aws_lb_target_group" "masters" {
  count       = var.load_balancer ? 1 : 0
  name        = "${local.name}-api"
  port        = var.master_port
  protocol    = "TCP"
  target_type = "instance"
  vpc_id      = var.vpc_id
  # With the client's IP preserved, a master connecting through the load balancer to itself gets
  # its packets dropped (NLB hairpinning); the masters do not need the agents' source address.
  preserve_client_ip = false
  # Agents and frameworks hold long-lived streams and reconnect by themselves: no point waiting
  # the default 300 s for them to end when a master is replaced.
  deregistration_delay = 10

  # /health is answered by every replica for itself (leader or standby), with a 200.
  health_check {
    protocol = local.tls_enabled ? "HTTPS" : "HTTP"
    path     = "/health"
    port     = "traffic-port"
    interval = 10
    # The default timeout follows the target group's protocol (TCP: 10 s), which is not below
    # the 10 s interval; ELB wants the timeout shorter than the interval.
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = local.tags
}

resource "aws_lb_target_group_attachment" "masters" {
  count            = var.load_balancer ? var.master_count : 0
  target_group_arn = aws_lb_target_group.masters[0].arn
  target_id        = aws_instance.master[count.index].id
  port             = var.master_port
}

resource "aws_lb_listener" "masters" {
  count             = var.load_balancer ? 1 : 0
  load_balancer_arn = aws_lb.masters[0].arn
  port              = var.master_port
  protocol          = "TCP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.masters[0].arn
  }
  tags = local.tags
}
