# chunkup — build, run and test.
#
#   make run     local stack (dynalite + versitygw + a local EventBridge) and the API on 127.0.0.1:3000,
#                the functions' binaries under the Lambda Runtime Interface Emulator
#                (flags in ARGS: make run ARGS=-events-to=http://127.0.0.1:8080/hook, ARGS=-in-process)
#   make stores  dynalite + versitygw alone, and env.json, for `sam local start-api --env-vars env.json`
#   make test    vet and every test, against the local stack, a short fuzz run, then the browser tests
#   make fuzz    every fuzz target for FUZZTIME each (default 60s)
#   make test-browser  the real client libraries in headless Chromium (Debian's chromium)
#   make lint    gofmt, go vet, staticcheck, cfn-lint template.yaml (when installed)
#   make bench   the benchmark table (docs/bench.md) and the cost model (docs/cost.md)
#   make soak    the fault-injection soak; make soak-hard: harder, several seeds in a row
#   make build   the four Lambda binaries, as `sam build` would make them
#
# `sam build` calls the build-<LogicalId> targets itself (BuildMethod:
# makefile), with ARTIFACTS_DIR set, from a copy of the source tree.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

GO ?= go
NPM ?= npm

# The lead's go.mod is updated by the lead only; -mod=mod lets the root module
# build even while its requirements are being edited. Any GOFLAGS the caller
# set (e.g. -buildvcs=false) are kept.
ROOT_GOFLAGS := $(strip $(filter-out -mod=%,$(GOFLAGS)) -mod=mod)

# Pinned tools. versitygw is pinned by tools/go.mod + tools/go.sum, dynalite by
# package-lock.json; both are installed into the work tree (git-ignored).
LOCAL_BIN      := $(CURDIR)/.local/bin
VERSITYGW      := $(LOCAL_BIN)/versitygw
DYNALITE       := $(CURDIR)/node_modules/.bin/dynalite
NPM_STAMP      := node_modules/.chunkup-npm-ci.stamp
STATICCHECK    := honnef.co/go/tools/cmd/staticcheck@v0.8.2

TEST_TIMEOUT ?= 30m

# Lambda build settings (design.md "Running it").
LAMBDA_ENV    := GOOS=linux GOARCH=arm64 CGO_ENABLED=0 GOFLAGS="$(ROOT_GOFLAGS)"
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -buildvcs=false -ldflags='-s -w'
FUNCTIONS     := ReceiveFunction CheckFunction CompleteFunction CleanupFunction

.PHONY: help tools browser-tools run test test-browser fuzz fuzz-short lint bench build clean $(addprefix build-,$(FUNCTIONS))

help:
	@echo 'targets: run test test-browser fuzz fuzz-short lint bench soak soak-hard build tools browser-tools clean'
	@echo '         build-ReceiveFunction build-CheckFunction build-CompleteFunction build-CleanupFunction (sam build)'

## tools: install the pinned dynalite and versitygw (idempotent)
tools: $(VERSITYGW) $(NPM_STAMP)

$(VERSITYGW): tools/go.mod tools/go.sum
	@mkdir -p $(LOCAL_BIN)
	@echo 'building versitygw (pinned in tools/go.mod; about two minutes the first time)'
	cd tools && GOFLAGS=-mod=readonly $(GO) build -trimpath -o $(VERSITYGW) github.com/versity/versitygw/cmd/versitygw
	@touch $@

$(NPM_STAMP): package.json package-lock.json .npmrc
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	@touch $@

# The demo page's Uppy (served as /vendor/uppy/uppy.js): @uppy/core and
# @uppy/aws-s3 from node_modules, bundled by the pinned esbuild into one
# module, as an app's build would.
UPPY_BUNDLE := $(CURDIR)/.local/vendor/uppy/uppy.js
tools: $(UPPY_BUNDLE)

$(UPPY_BUNDLE): web/uppy.entry.mjs $(NPM_STAMP)
	@mkdir -p $(dir $@)
	node_modules/.bin/esbuild web/uppy.entry.mjs --bundle --format=esm --platform=browser --minify --log-level=warning --outfile=$@

# The AWS Lambda Runtime Interface Emulator, pinned by tools/go.mod like
# versitygw: `make run` and the tests run the functions' bootstrap binaries
# under it (cmd/chunkup-local, internal/local/emulator), which find it by
# CHUNKUP_RIE.
RIE ?= $(LOCAL_BIN)/aws-lambda-rie
export CHUNKUP_RIE := $(RIE)
tools: $(RIE)

$(RIE): tools/go.mod tools/go.sum
	@mkdir -p $(dir $(RIE))
	cd tools && GOFLAGS=-mod=readonly CGO_ENABLED=0 $(GO) build -trimpath -o $(RIE) github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
	@touch $@

## run: start the local stack and serve the API (Ctrl-C stops everything); the functions'
## built binaries run under the Lambda Runtime Interface Emulator
## (ARGS=-in-process calls the handlers in-process instead; -concurrency N: the unreserved concurrency the functions share, -auth)
run: tools
	CHUNKUP_DYNALITE=$(DYNALITE) CHUNKUP_VERSITYGW=$(VERSITYGW) \
		GOFLAGS="$(ROOT_GOFLAGS)" $(GO) run ./cmd/chunkup-local $(ARGS)

## stores: dynalite and versitygw alone, with the table and bucket, where a container
## reaches them, and env.json pointing every function at them, for
## `sam local start-api --env-vars env.json` (README, "sam local"). Ctrl-C stops them.
## STORES_FLAGS="-listen 0.0.0.0 -dynamodb-port 4567 -s3-port 7070 ..." (go run ./cmd/chunkup-stores -h)
.PHONY: stores
STORES_FLAGS ?=
stores: tools
	CHUNKUP_DYNALITE=$(DYNALITE) CHUNKUP_VERSITYGW=$(VERSITYGW) \
		GOFLAGS="$(ROOT_GOFLAGS)" $(GO) run ./cmd/chunkup-stores $(STORES_FLAGS)

## test: go vet, then every test (race detector on) against the local stack
test: tools
	GOFLAGS="$(ROOT_GOFLAGS)" $(GO) vet ./...
	CHUNKUP_DYNALITE=$(DYNALITE) CHUNKUP_VERSITYGW=$(VERSITYGW) \
		GOFLAGS="$(ROOT_GOFLAGS)" $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory fuzz-short
	$(MAKE) --no-print-directory test-browser

# Fuzzing: every Fuzz* target of every package that has one (found with
# go test -list), one after another, for FUZZTIME each. Plain `go test`
# already runs each target's committed corpus (testdata/fuzz/<Target>/);
# a failure found here is written there too, to be committed with its fix.
FUZZTIME ?= 60s
FUZZ_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^func Fuzz' internal cmd 2>/dev/null)))

## fuzz: every fuzz target for FUZZTIME each (default 60s; make fuzz FUZZTIME=10m)
fuzz:
	@failed=; for pkg in $(FUZZ_PKGS); do \
		list=$$(GOFLAGS="$(ROOT_GOFLAGS)" $(GO) test -list '^Fuzz' ./$$pkg) || { failed="$$failed ./$$pkg"; continue; }; \
		for target in $$(grep '^Fuzz' <<<"$$list"); do \
			echo "fuzz ./$$pkg $$target for $(FUZZTIME)"; \
			for try in 1 2; do \
				out=$$(GOFLAGS="$(ROOT_GOFLAGS)" $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) ./$$pkg 2>&1) && rc=0 || rc=$$?; \
				echo "$$out"; \
				if [ $$rc -eq 0 ]; then break; fi; \
				if [ $$try -eq 1 ] && grep -q 'context deadline exceeded' <<<"$$out" && ! grep -q 'Failing input written' <<<"$$out"; then \
					echo "(go's fuzzer hit its own deadline without a failing input: run again)"; continue; \
				fi; \
				failed="$$failed ./$$pkg:$$target"; break; \
			done; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz failures:$$failed"; exit 1; fi

## fuzz-short: every fuzz target for 3s, as part of make test
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(or $(FUZZTIME_SHORT),3s)

# Browser tests: Debian's Chromium (playwright-core drives it; it never
# downloads a browser of its own) and the client libraries from npm.
CHROMIUM      ?= /usr/bin/chromium
CHUNKUP_LOCAL := $(LOCAL_BIN)/chunkup-local
SUDO          := $(if $(filter 0,$(shell id -u)),,sudo)

## browser-tools: Debian's chromium (only when missing) and the npm packages
browser-tools: $(NPM_STAMP)
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo 'installing Debian chromium for the browser tests'; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

## test-browser: Resumable.js, Flow.js, jQuery-File-Upload, Uppy's Tus and AwsS3 plugins (bundled by the esbuild package.json pins) and the demo page in headless Chromium; tus-js-client in Node
test-browser: tools browser-tools
	@mkdir -p $(LOCAL_BIN)
	GOFLAGS="$(ROOT_GOFLAGS)" $(GO) build -o $(CHUNKUP_LOCAL) ./cmd/chunkup-local
	CHUNKUP_LOCAL=$(CHUNKUP_LOCAL) CHROMIUM=$(CHROMIUM) node --test test/browser/*.test.mjs

## lint: formatting, vet and staticcheck (pinned), and cfn-lint on template.yaml
## (the check `sam validate --lint` runs) when cfn-lint is installed
CFN_LINT ?= cfn-lint
lint:
	@unformatted="$$(git ls-files --cached --others --exclude-standard -- '*.go' | xargs -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo 'gofmt -l reports:'; echo "$$unformatted"; exit 1; fi
	GOFLAGS="$(ROOT_GOFLAGS)" $(GO) vet ./...
	GOFLAGS="$(ROOT_GOFLAGS)" $(GO) run $(STATICCHECK) ./...
	@if command -v $(CFN_LINT) >/dev/null 2>&1; then \
		echo '$(CFN_LINT) template.yaml'; $(CFN_LINT) template.yaml; \
	else \
		echo 'cfn-lint is not installed: template.yaml NOT linted (pip install cfn-lint; sam validate --lint runs it too)'; \
	fi

## bench: the side-by-side benchmark of design.md (issue #5): prints one table and
## writes docs/bench.md, docs/bench.json and the cost model docs/cost.md.
## BENCH_FLAGS=-quick for a smoke run, -full for the 1 GiB file on every row.
BENCH_FLAGS ?=
bench: tools
	CHUNKUP_DYNALITE=$(DYNALITE) CHUNKUP_VERSITYGW=$(VERSITYGW) GO="$(GO)" \
		GOFLAGS="$(ROOT_GOFLAGS)" $(GO) run ./cmd/bench $(BENCH_FLAGS)

## soak: the fault-injection soak (cmd/soak; SOAK_FLAGS="-duration 10m -fault-rate 0.1" and so on):
## uploads in every dialect with S3/DynamoDB faults, then every file verified and nothing left behind
.PHONY: soak
SOAK_FLAGS ?=
soak: tools
	CHUNKUP_DYNALITE=$(DYNALITE) CHUNKUP_VERSITYGW=$(VERSITYGW) \
		GOFLAGS="$(ROOT_GOFLAGS)" $(GO) run ./cmd/soak $(SOAK_FLAGS)

## soak-hard: the harder soak, one run per seed of SOAK_SEEDS, one after another (about
## 4-5 minutes each): 15% faults, 16 uploads at once, files up to 20 MB. Not part of make
## test; run it on every change to the engine, the stores or a dialect. SOAK_FLAGS are
## added to every run. It runs every seed and fails if any run did.
.PHONY: soak-hard
SOAK_SEEDS      ?= 4242 1717 90210
SOAK_HARD_FLAGS ?= -duration 3m -fault-rate 0.15 -concurrency 16 -max-size 20000000
soak-hard: tools
	@failed=; for seed in $(SOAK_SEEDS); do \
		echo "soak-hard: seed $$seed: $(SOAK_HARD_FLAGS) $(SOAK_FLAGS)"; \
		CHUNKUP_DYNALITE=$(DYNALITE) CHUNKUP_VERSITYGW=$(VERSITYGW) GOFLAGS="$(ROOT_GOFLAGS)" \
			$(GO) run ./cmd/soak $(SOAK_HARD_FLAGS) -seed $$seed $(SOAK_FLAGS) || failed="$$failed $$seed"; \
	done; \
	if [ -n "$$failed" ]; then echo "soak-hard: failed with seeds$$failed"; exit 1; fi; \
	echo "soak-hard: every seed passed ($(SOAK_SEEDS))"

## build: every Lambda function, into .aws-sam/build/<LogicalId>/bootstrap
build: $(addprefix build-,$(FUNCTIONS))

# SAM sets ARTIFACTS_DIR (absolute); by hand the binary goes where `sam build`
# would put it. $(call lambda,LogicalId,./functions/<dir>)
lambda_out = $(or $(ARTIFACTS_DIR),.aws-sam/build/$(1))
define lambda
	@mkdir -p "$(call lambda_out,$(1))"
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "$(call lambda_out,$(1))/bootstrap" $(2)
endef

build-ReceiveFunction:
	$(call lambda,ReceiveFunction,./functions/receive)

build-CheckFunction:
	$(call lambda,CheckFunction,./functions/check)

build-CompleteFunction:
	$(call lambda,CompleteFunction,./functions/complete)

build-CleanupFunction:
	$(call lambda,CleanupFunction,./functions/cleanup)

## clean: remove build output and installed tools (not the Go caches)
clean:
	rm -rf .aws-sam .local node_modules
