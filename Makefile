# Entry points; the real work is in infra/*.sh.
# Every target works from a fresh clone: the scripts install what they need
# into .local/ and infra/node_modules (both git-ignored).

SHELL := /bin/bash
ROOT  := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV  := $(ROOT)/.local/venv/bin

# SAM CLI: no telemetry; a fixed region so no AWS profile is needed.
export SAM_CLI_TELEMETRY := 0
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

.PHONY: dev test lint validate build bench install tools emulators-start emulators-stop emulators-status clean-local

## dev: emulators + local API gateway on http://127.0.0.1:3000 (Ctrl-C stops all)
dev:
	bash "$(ROOT)/infra/dev.sh"

## test: cargo test --workspace against DynamoDB Local + moto (started and stopped here)
test:
	bash "$(ROOT)/infra/test.sh"

## lint: rustfmt check + clippy with warnings as errors
lint:
	cd "$(ROOT)" && cargo fmt --all -- --check
	cd "$(ROOT)" && cargo clippy --workspace --all-targets -- -D warnings

## validate: sam validate --lint (cfn-lint) on template.yaml, offline
validate:
	bash "$(ROOT)/infra/install.sh" --tools
	cd "$(ROOT)" && $(SAM_ENV) "$(VENV)/sam" validate --lint

## build: sam build (rust-cargolambda, arm64) into .aws-sam/
build:
	bash "$(ROOT)/infra/install.sh" --tools
	rustup target add aarch64-unknown-linux-gnu
	cd "$(ROOT)" && PATH="$(VENV):$$PATH" $(SAM_ENV) sam build --beta-features

## bench: criterion benches (pure paths), then the pipeline and query-latency benches against the emulators
bench:
	bash "$(ROOT)/infra/with-emulators.sh" bash -c "cargo bench --workspace && cargo run --release -p devtools --bin bench-pipeline && cargo run --release -p devtools --bin bench-query"

install:
	bash "$(ROOT)/infra/install.sh"

tools:
	bash "$(ROOT)/infra/install.sh" --tools

emulators-start: install
	bash "$(ROOT)/infra/emulators.sh" start

emulators-stop:
	bash "$(ROOT)/infra/emulators.sh" stop

emulators-status:
	bash "$(ROOT)/infra/emulators.sh" status

## clean-local: stop emulators, remove .local/ and infra/node_modules (reinstalled on next use)
clean-local: emulators-stop
	rm -rf "$(ROOT)/.local" "$(ROOT)/infra/node_modules"
