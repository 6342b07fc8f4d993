# Veilwatch: the two commands a newcomer needs are `make demo` and `make test` (see README).
# Everything else here is what those two are made of.

SHELL := /bin/bash
CARGO_TARGET_DIR ?= $(HOME)/.cache/veilwatch/target
export CARGO_TARGET_DIR
VEILWATCH_DATA ?= $(abspath ../shared/data)
export VEILWATCH_DATA
PORT ?= 8080
BIN := $(CARGO_TARGET_DIR)/release/veilwatch

.PHONY: demo check-deployment test setup models native wasm lint package dist docs unit e2e fuzz bench bench-authority clean

## Build everything and serve the kiosk demo on http://127.0.0.1:$(PORT)/
## DEPLOYMENT=DIR serves DIR/profile.vwp and DIR/issuer.pub for the public notice: a public folder
## such as KEYS/public (keygen's public half); a folder holding anything else (a secret/ folder,
## *.key files) is refused, so a secret is never published;
## AUTHORITY=http://127.0.0.1:8787 lets the page reach an authority (authority custody); start that
## authority with --allow-origin http://127.0.0.1:$(PORT) so that it grants the page CORS.
DEPLOYMENT ?=
AUTHORITY ?=
demo: check-deployment setup native wasm
	@echo "Open http://127.0.0.1:$(PORT)/ in a browser (Ctrl-C to stop)."
	$(BIN) serve --listen 127.0.0.1:$(PORT) --mount /=www --mount /pkg=pkg --mount /models=models \
	  $(if $(DEPLOYMENT),--mount /deployment=$(DEPLOYMENT)) $(if $(AUTHORITY),--authority $(AUTHORITY))

check-deployment:
	@if [ -n "$(DEPLOYMENT)" ] && find "$(DEPLOYMENT)" -mindepth 1 ! \( -type f \( -name '*.pub' -o -name '*.vwp' \) \) | grep -q .; then \
	  echo "DEPLOYMENT=$(DEPLOYMENT) holds more than public keys and profiles (*.pub, *.vwp); serve a public folder such as KEYS/public" >&2; \
	  exit 1; \
	fi

## Everything: formatting and clippy (lint, first: it fails fastest), Rust unit and integration tests
## (incl. onnxruntime reference and LFW accuracy), wasm tests.
test: setup lint native wasm unit e2e fuzz

## Installs what a fresh machine lacks; skips what is present.
setup:
	tools/setup

models:
	models/fetch

native:
	cargo build --release --features cli --locked --bins --example sealed_answer

## pkg/ (production: what the kiosk page loads) and pkg-bench/ (plus the `bench-api` test and
## benchmark calls, for tests/e2e and make bench), each in a SIMD128 and a relaxed-SIMD build; and
## pkg-unwiped/, the heap test's negative control (production without the wiping, SIMD128 only).
wasm:
	tools/build-wasm pkg pkg-bench pkg-unwiped

## rustfmt's check, and clippy with warnings as errors on every target, without and with the CLI;
## then the library for wasm32 with pkg-bench's features (pkg's and bench-api), since src/wasm/ is
## compiled for wasm32 only (the target comes from tools/setup).
lint:
	cargo fmt --check
	cargo clippy --release --locked --all-targets -- -D warnings
	cargo clippy --release --features cli --locked --all-targets -- -D warnings
	cargo clippy --release --locked --target wasm32-unknown-unknown --lib --features sealed-kiosk,bench-api -- -D warnings

## The npm package `veilwatch` (typed async API, <veilwatch-kiosk>, the Worker, both engine builds)
## in dist/npm/veilwatch/ and its tarball dist/npm/veilwatch-VERSION.tgz (tools/build-package);
## tests/e2e/npm_package.test.mjs packs, installs, bundles and runs it.
package: wasm
	tools/build-package

## The API reference: TypeDoc over the package's types (api/*.d.ts and the generated pkg/veilwatch.d.ts)
## → dist/docs/index.html. Any warning (an undocumented type that a documented one uses) fails it.
docs: package
	node_modules/.bin/typedoc --tsconfig tools/docs-tsconfig.json --name veilwatch --out dist/docs --treatWarningsAsErrors \
	  dist/npm/veilwatch/api/create-kiosk.d.ts dist/npm/veilwatch/api/veilwatch-kiosk-element.d.ts dist/npm/veilwatch/pkg/veilwatch.d.ts

## The kiosk as a static folder for any static web server: dist/static/ (app, both engine builds,
## models, service worker, SHA256SUMS; tools/build-dist). Host it at the root of an HTTPS origin.
dist: wasm models
	tools/build-dist

## Native tests, then the wasm kernels' tests in node (wasm-bindgen-test-runner comes with wasm-bindgen-cli).
unit:
	cargo test --release --features cli --locked
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test --release --locked --target wasm32-unknown-unknown --lib --features sealed-kiosk

## Browser and wasm tests, inside a network namespace with loopback only (unshare -n), so that
## nothing the kiosk does could reach a network even if it tried. The wasm-versus-native test runs
## once per engine build (SIMD128, then relaxed SIMD).
E2E_TESTS := node --test tests/e2e/ && VEILWATCH_WASM_VARIANT=relaxed-simd node --experimental-wasm-relaxed-simd --test tests/e2e/wasm_matches_native.test.mjs tests/e2e/wasm_heap.test.mjs
e2e:
	@if unshare -n true 2>/dev/null; then \
	  unshare -n sh -c 'ip link set lo up && export VEILWATCH_EXPECT_NO_NETWORK=1 && $(E2E_TESTS)'; \
	elif unshare -rn true 2>/dev/null; then \
	  unshare -rn sh -c 'ip link set lo up && export VEILWATCH_EXPECT_NO_NETWORK=1 && $(E2E_TESTS)'; \
	elif [ "$$CI" = "true" ]; then \
	  echo "e2e: cannot create a network namespace (unshare -n); CI requires it" >&2; exit 1; \
	else \
	  echo "!!! e2e: no network namespace available (unshare -n); running with the network present !!!" >&2; \
	  sh -c '$(E2E_TESTS)'; \
	fi

## Fuzz the watchlist and profile parsers for a bounded time (FUZZ_SECONDS each), under memory
## limits: any single allocation of FUZZ_MALLOC_MB or more, or a process above FUZZ_RSS_MB, is a
## crash (a parser that reserves what a header claims before the bytes are there fails here).
## Seeds: `cargo run --release --example write_fuzz_seeds -- fuzz/seeds` after a format change.
FUZZ_SECONDS ?= 30
FUZZ_MALLOC_MB ?= 64
FUZZ_RSS_MB ?= 1024
FUZZ_TARGET_DIR ?= $(HOME)/.cache/veilwatch/fuzz-target
fuzz:
	set -o pipefail; cd fuzz && for target in watchlist_parser profile_parser; do \
	  mkdir -p corpus/$$target && \
	  RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(FUZZ_TARGET_DIR) \
	    cargo fuzz run -O $$target corpus/$$target seeds/$$target -- -max_total_time=$(FUZZ_SECONDS) \
	      -malloc_limit_mb=$(FUZZ_MALLOC_MB) -rss_limit_mb=$(FUZZ_RSS_MB) 2>&1 | tail -n 4 || exit 1; \
	done

## Speed: native medians and watchlist sizes, wasm (node) vs onnxruntime-web on the same inputs,
## then the engine and the whole kiosk in headless Chromium, sealed custody's device cost per face in
## wasm (node, Chromium) beside VOPRF custody's → bench.json. The per-stage figures use
## pkg-bench/ (both builds), the whole kiosk pkg/.
bench: setup native wasm
	$(BIN) bench --frames-out $(CARGO_TARGET_DIR)/bench-frames
	$(BIN) bench sealed
	node tests/bench/wasm_vs_ort_web.mjs $(CARGO_TARGET_DIR)/bench-frames
	VEILWATCH_WASM_VARIANT=relaxed-simd node --experimental-wasm-relaxed-simd tests/bench/wasm_vs_ort_web.mjs $(CARGO_TARGET_DIR)/bench-frames
	node tests/bench/wipe_cost.mjs $(CARGO_TARGET_DIR)/bench-frames
	node tests/bench/browser.mjs $(CARGO_TARGET_DIR)/bench-frames
	node tests/bench/sealed_device.mjs
	node tests/bench/crowd.mjs

## The authority's capacity at L = 1024 (faces/s, per core, p50/p99) on one replica, then two behind
## haproxy sharing Redis, from a load generator of valid signed requests → bench.json "authority".
bench-authority: setup native
	tools/bench-authority

clean:
	rm -rf pkg pkg-bench pkg-unwiped dist bench.json
