# The README's two commands are `make run` and `make test`; both set up from scratch.
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := functions:packages/billing-usage:.
# Where `make run` keeps stack.json; the targets that talk to a running stack read it there.
STATE_DIR ?= .devstack

.PHONY: help run test test-stripe setup setup-services setup-tests lint typecheck unit docs openapi token lock bench reconcile infra-manifest infra-source infra-schema infra-schema-stripe catalog bench-cold-start bench-settings mail-preview mail-templates reliability infra-readme

help:  ## List the make targets and what each does.
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))

run: setup-services  ## Start the whole local stack (emulators, Stripe stand-in, SMTP sink, functions).
	$(PY) -m devstack up

test: setup-tests lint typecheck  ## Lint, type-check and run every test (starts its own stack).
	$(PY) -m pytest

test-stripe: setup-services  ## The integration tests against Stripe test mode (STRIPE_SECRET_KEY=sk_test_...).
	BILLING_TESTS_STRIPE=test-mode $(PY) -m pytest tests/integration -rs

setup:  ## Create .venv (Python 3.12) with the pinned requirements; re-runs are cheap.
	@scripts/setup

setup-services:  ## setup, and check what the local stack needs (gcloud emulators, Java).
	@scripts/setup --services

setup-tests:  ## setup-services, and Terraform and the checkov venv that only the tests use.
	@scripts/setup --tests

lint:  ## ruff (lint and format) and import-linter's layer contracts.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck:  ## mypy --strict over the functions, the stack, the tools and the tests.
	$(VENV)/bin/mypy

reliability: setup-services  ## Only the reliability suites (also part of `make test`).
	$(PY) -m pytest -m reliability $(ARGS)

unit: setup  ## Only the tests that need no emulator.
	$(PY) -m pytest tests/unit

docs: setup  ## Regenerate docs/reference/ (errors, operations, settings) and openapi.yaml from the code.
	$(PY) -m tools.reference

openapi: setup  ## Regenerate openapi.yaml from the request/response models.
	$(PY) -m tools.openapi > openapi.yaml

token: setup  ## A local ID token (the running stack's project): make token UID=alice EMAIL=alice@example.com
	@$(PY) -m devstack run --if-running --state-dir $(STATE_DIR) -- $(PY) -m devstack.tokens --uid $(or $(UID),alice) --email $(or $(EMAIL),alice@example.com)

reconcile: setup  ## Re-sync entitlements through the running stack's job: make reconcile ARGS="--dry-run|--apply [--uid UID]"
	$(PY) -m devstack reconcile --state-dir $(STATE_DIR) $(ARGS)

lock:  ## Re-resolve requirements*.in into the pinned requirements*.txt.
	scripts/lock

bench: setup-services  ## Every performance figure in one table (+ benchmarks/results.json, usage-results.json); ~10 min.
	$(PY) -m benchmarks $(ARGS)
	$(PY) -m benchmarks.body_limits
	$(PY) -m benchmarks.usage

infra-manifest: setup  ## Regenerate infra/functions.json (what Terraform deploys) from the function registry.
	$(PY) -m app.registry > infra/functions.json

infra-source: setup  ## Stage functions/ compiled for Python 3.12 in infra/.build/source: what terraform plan zips and deploys.
	$(PY) -m tools.build_source

infra-readme: setup  ## Rewrite infra/README.md's tables of inputs and outputs from variables.tf and outputs.tf.
	$(PY) -m tools.infra_readme

infra-schema: setup  ## Regenerate infra/schema/provider-schema.json from the cdktf provider packages (needs npm).
	scripts/provider-schema

bench-settings: setup  ## Settings import + load: plain pydantic (what the functions use) against pydantic-settings.
	$(PY) -m benchmarks.settings_load $(ARGS)

infra-schema-stripe: setup  ## Regenerate infra/schema/stripe-provider-schema.json from the pinned stripe provider's source (needs git and github.com).
	scripts/stripe-provider-schema

catalog: setup  ## Check functions/billing/catalog/catalog.json and say what it declares.
	$(PY) -m billing.catalog

bench-cold-start: setup  ## What a cold email-function instance imports, next to functions-framework alone.
	$(PY) -m benchmarks.cold_start

mail-templates: setup  ## Recompile the mail templates into functions/mailer/templates_compiled/ (a test fails when stale).
	$(PY) -m tools.mail_templates

mail-preview: setup  ## Render every mail from sample data into .devstack/mail-preview/ (open index.html).
	$(PY) -m tools.mail_preview --out .devstack/mail-preview
