# Service accounts and roles: the masters may do what the gcp-compute provider
# (providers/gcp-compute/*.ts) calls, and may run VMs only as the agents' service account.
#
#   instances.insert     compute.instances.create, .setMetadata (user-data), .setLabels,
#                        .setServiceAccount; compute.disks.create (boot disk),
#                        compute.images.useReadOnly (sourceImage), compute.subnetworks.use;
#                        iam.serviceAccounts.actAs on the agents' account (serviceAccountUser below)
#   instances.get/list   compute.instances.get, compute.instances.list
#   instances.delete     compute.instances.delete
#   zoneOperations.wait  compute.zoneOperations.get
#
# Compute Engine IAM has no "only with these labels" condition like EC2's request tags: the role
# holds for the whole project, and the provider itself refuses to delete VMs without this
# cluster's labels. A project of its own for rented agents keeps that blast radius small.

resource "google_service_account" "master" {
  project      = var.project
  account_id   = "${local.name}-master"
  display_name = "Spillway masters (${var.cluster_name})"
  description  = "Runs the Spillway masters of cluster ${var.cluster_name}: creates, lists and deletes its rented agents"
}

# Agents need an identity of their own: their VM identity token (--gcp-identity-jwks) names it,
# and firewall rules target it. It holds no roles unless agent_roles says so.
resource "google_service_account" "agent" {
  project      = var.project
  account_id   = "${local.name}-agent"
  display_name = "Spillway agents (${var.cluster_name})"
  description  = "Identity of the rented Spillway agents of cluster ${var.cluster_name}"
}

# Custom roles are soft-deleted: after a destroy the same role_id cannot be created again for up
# to 37 days (undelete it within the first 7, or choose another cluster_name).
resource "google_project_iam_custom_role" "master" {
  project     = var.project
  role_id     = "spillwayMaster_${replace(var.cluster_name, "-", "_")}"
  title       = "Spillway master (${var.cluster_name})"
  description = "Exactly the Compute Engine calls of Spillway's gcp-compute provider"
  permissions = [
    "compute.instances.create",
    "compute.instances.setMetadata",
    "compute.instances.setLabels",
    "compute.instances.setServiceAccount",
    "compute.disks.create",
    "compute.images.useReadOnly",
    "compute.subnetworks.use",
    "compute.instances.get",
    "compute.instances.list",
    "compute.instances.delete",
    "compute.zoneOperations.get",
  ]
}

resource "google_project_iam_member" "master_compute" {
  project = var.project
  role    = google_project_iam_custom_role.master.name
  member  = "serviceAccount:${google_service_account.master.email}"
}

resource "google_project_iam_member" "master_extra" {
  for_each = toset(var.master_roles)
  project  = var.project
  role     = each.value
  member   = "serviceAccount:${google_service_account.master.email}"
}

# actAs on the agents' service account only: the masters cannot start VMs as anything else.
resource "google_service_account_iam_member" "master_uses_agent_account" {
  service_account_id = google_service_account.agent.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.master.email}"
}

resource "google_project_iam_member" "agent_extra" {
  for_each = toset(var.agent_roles)
  project  = var.project
  role     = each.value
  member   = "serviceAccount:${google_service_account.agent.email}"
}
