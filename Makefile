# Entry points; the real work is in infra/*.sh.
# Every target works from a fresh clone: the scripts install what they need
# into .local/ and infra/node_modules (both git-ignored).

SHELL := /bin/bash
ROOT  := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV  := $(ROOT)/.local/venv/bin

# SAM CLI: no telemetry; a fixed region so no AWS profile is needed.
export SAM_CLI_TELEMETRY := 0
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

.PHONY: dev test contract lint validate build bench install tools emulators-start emulators-stop emulators-status clean-local

## dev: emulators + local API gateway on http://127.0.0.1:3000 (Ctrl-C stops all)
dev:
	bash "$(ROOT)/infra/dev.sh"

## test: cargo test --workspace against DynamoDB Local + moto (started and stopped here),
##   then the contract fuzz and the least-privilege check
test:
	bash "$(ROOT)/infra/test.sh"

## contract: the contract fuzz alone (schemathesis over docs/openapi.yaml against a local
##   stack, as admin and as agent); CONTRACT_FUZZ_EXAMPLES / CONTRACT_FUZZ_SEED tune it
contract:
	bash "$(ROOT)/infra/contract-fuzz.sh"

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

.PHONY: deploy lint-deploy

## deploy: sam deploy of the last `make build` to ENV=dev|prod (docs/deploy.md). Needs AWS
##   credentials and AWS_REGION, CFN_EXECUTION_ROLE_ARN, SAM_ARTIFACTS_BUCKET, optional ALARM_EMAIL.
# samconfig's parameter_overrides are repeated on the command line because a
# command-line list replaces it, and AlarmEmail is always passed (empty = no
# subscription) because sam keeps the previous value of any parameter left out.
deploy:
	@case "$(ENV)" in dev | prod) ;; *) echo "usage: make deploy ENV=dev|prod" >&2; exit 2 ;; esac
	@for v in AWS_REGION CFN_EXECUTION_ROLE_ARN SAM_ARTIFACTS_BUCKET; do \
	  [ -n "$${!v:-}" ] || { echo "make deploy: $$v is not set (docs/deploy.md)" >&2; exit 2; }; done
	@test -f "$(ROOT)/.aws-sam/build/template.yaml" || { echo "make deploy: run make build first" >&2; exit 2; }
	bash "$(ROOT)/infra/install.sh" --tools
	cd "$(ROOT)" && overrides="$$("$(VENV)/python" -c 'import sys, tomllib; \
	  print(tomllib.load(open("samconfig.toml", "rb"))[sys.argv[1]]["deploy"]["parameters"]["parameter_overrides"])' "$(ENV)")" && \
	"$(VENV)/sam" deploy --config-env "$(ENV)" --region "$$AWS_REGION" \
	  --role-arn "$$CFN_EXECUTION_ROLE_ARN" --s3-bucket "$$SAM_ARTIFACTS_BUCKET" \
	  --no-confirm-changeset --no-fail-on-empty-changeset --no-progressbar \
	  --parameter-overrides "$$overrides" "AlarmEmail=\"$${ALARM_EMAIL:-}\""

## lint-deploy: actionlint + zizmor on .github/workflows, cfn-lint on infra/github-deploy-role.yaml (offline)
lint-deploy:
	bash "$(ROOT)/infra/install.sh" --tools
	bash "$(ROOT)/infra/lint-deploy.sh"

.PHONY: fuzz

## fuzz: cargo-fuzz targets one after the other, FUZZ_SECONDS each (default 60) or FUZZ_RUNS=N
##   executions each; prints executions, exec/s and findings per target (docs/fuzzing.md)
fuzz:
	bash "$(ROOT)/infra/fuzz.sh"

## bench: criterion benches (pure paths), then the pipeline, query-latency and export benches
##   against the emulators (the export bench seeds 1,000,000 events: about 10 minutes here)
bench:
	bash "$(ROOT)/infra/with-emulators.sh" bash -c "cargo bench --workspace && cargo run --release -p devtools --bin bench-pipeline && cargo run --release -p devtools --bin bench-query && cargo run --release -p devtools --bin bench-export"

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
