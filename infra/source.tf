# One archive for every function: the staged, compiled copy of functions/ that
# `make infra-source` writes (local.source_build_dir in plan.tf). The plan stops, naming each
# file, when that copy is missing or differs from the repository, so it never ships old code.
data "archive_file" "source" {
  type             = "zip"
  source_dir       = local.source_build_dir
  output_path      = "${path.module}/.build/functions.zip"
  output_file_mode = "0644" # the same bytes on every machine, so the hash only moves with the code

  lifecycle {
    precondition {
      condition     = length(local.source_build_problems) == 0
      error_message = "infra/.build/source is not the current functions/ compiled: run `make infra-source` (python -m tools.build_source) before terraform plan or apply. Differences: ${join("; ", slice(local.source_build_problems, 0, min(10, length(local.source_build_problems))))}"
    }
  }
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Access logs of a bucket that only holds build inputs add cost and no insight; Cloud Audit Logs record who changed it.
  name                        = "${var.project_id}-${var.name}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # holds nothing but rebuildable archives

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# The object's name carries the archive's hash: a code change is a new object, which changes
# every function's build source and so redeploys them; an unchanged tree deploys nothing.
resource "google_storage_bucket_object" "source" {
  name         = "functions-${data.archive_file.source.output_sha256}.zip"
  bucket       = google_storage_bucket.source.name
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}

# Where the builds put the functions' images, with old images cleaned up (the default
# gcf-artifacts repository keeps every build forever).
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images built from this repository's public source need no customer-managed key; Google-managed encryption applies.
  location      = var.region
  repository_id = "${var.name}-functions"
  format        = "DOCKER"
  description   = "Images Cloud Build makes of the billing functions."

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.apis]
}

# Builds run as their own account (infra/bootstrap's) instead of the project's default compute
# account (which new projects no longer give build rights, and which would otherwise be shared
# with everything).
resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = local.build_account.member
}

resource "google_artifact_registry_repository_iam_member" "build_images" {
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = local.build_account.member
}

# Cloud Functions copies the archive into its own gcf-v2-sources-*/gcf-v2-uploads-* buckets,
# which exist only after the first deploy, so the build's storage access is limited by name.
resource "google_project_iam_member" "build_sources" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = local.build_account.member

  condition {
    title       = "function-sources-only"
    description = "Only the buckets holding function sources."
    expression = join(" || ", [
      "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\")",
      "resource.name.startsWith(\"projects/_/buckets/gcf-v2-uploads-\")",
      "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.source.name}\")",
    ])
  }
}
