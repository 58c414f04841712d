# The two commands a fresh clone needs: `make run` and `make test`. Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := run

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: install build run test lint typecheck proto proto-check unit bench clean chromium promtool python-grpc

install: node_modules/.installed

build: install
	npm run build

## Runs the service with embedded defaults on 127.0.0.1:50051 (CONFIG=file.yaml for a config file).
run: build
	node dist/src/cli/main.js serve $(if $(CONFIG),--config $(CONFIG))

## Lint, type-check, proto freshness, then every test.
test: install chromium promtool python-grpc lint typecheck proto-check
	npm test

lint: install
	npx eslint .
	npx buf lint

## Headless Chromium for the viewer's browser test (Debian's package; apt-get runs only when it is missing).
chromium:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

## promtool, for the test that runs `promtool check metrics` on /metrics (Debian's prometheus package; apt-get runs only when it is missing).
promtool:
	@command -v promtool >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus)

## Debian's python3-grpcio (with python3-protobuf) for /usr/bin/python3, which runs the Python subscriber
## example in its test (apt-get runs only when it is missing).
python-grpc:
	@/usr/bin/python3 -c 'import grpc' 2>/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-grpcio)

typecheck: install
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p tsconfig.test.json

## Regenerates generated/ from proto/: ts-proto's code, and buf's descriptors that server reflection serves
## (proto/'s, and grpc-health-check's health.proto).
proto: install
	npx buf generate
	npx buf build --as-file-descriptor-set -o generated/audit/v1/descriptor.binpb
	mkdir -p generated/grpc/health/v1
	npx buf build node_modules/grpc-health-check/proto --as-file-descriptor-set -o generated/grpc/health/v1/descriptor.binpb

## Fails when generated/ is not what proto/ produces.
proto-check: install
	@rm -rf .proto-check && npx buf generate -o .proto-check
	@npx buf build --as-file-descriptor-set -o .proto-check/generated/audit/v1/descriptor.binpb
	@mkdir -p .proto-check/generated/grpc/health/v1
	@npx buf build node_modules/grpc-health-check/proto --as-file-descriptor-set -o .proto-check/generated/grpc/health/v1/descriptor.binpb
	@diff -r generated .proto-check/generated || { echo 'generated/ is stale: run make proto and commit'; exit 1; }
	@rm -rf .proto-check

bench: install
	npm run bench

clean:
	rm -rf dist .proto-check
