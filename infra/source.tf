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

# The bucket the archive is uploaded to, and the repository the builds write the functions'
# images to, are made by infra/bootstrap (an owner): the deployer may write objects in that
# bucket and read that repository, and holds no storage or Artifact Registry role on the
# project, so it can change no bucket's or repository's IAM (the state bucket's included). Named
# here exactly as the bootstrap names them (tests/infra/test_pipeline.py compares the two).
locals {
  source_bucket    = "${var.project_id}-${var.name}-source"
  image_repository = "projects/${var.project_id}/locations/${var.region}/repositories/${var.name}-functions"
}

# The object's name carries the archive's hash: a code change is a new object, which changes
# every function's build source and so redeploys them; an unchanged tree deploys nothing.
resource "google_storage_bucket_object" "source" {
  name         = "functions-${data.archive_file.source.output_sha256}.zip"
  bucket       = local.source_bucket
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}

# The build account's roles (its logs, its image repository, the function-source buckets) are
# granted by infra/bootstrap, which makes that account: the deployer grants no storage role.

# A deployment made before the bootstrap owned these: forget them here without destroying them
# (the bootstrap imports them: docs/deploy.md, "Upgrading a deployment"). No-ops otherwise.
removed {
  from = google_storage_bucket.source
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_artifact_registry_repository.functions
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_artifact_registry_repository_iam_member.build_images
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_project_iam_member.build_logs
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_project_iam_member.build_sources
  lifecycle {
    destroy = false
  }
}
