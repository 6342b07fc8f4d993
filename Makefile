# Veilwatch: the two commands a newcomer needs are `make demo` and `make test` (see README).
# Everything else here is what those two are made of.

SHELL := /bin/bash
CARGO_TARGET_DIR ?= $(HOME)/.cache/veilwatch/target
export CARGO_TARGET_DIR
VEILWATCH_DATA ?= $(abspath ../shared/data)
export VEILWATCH_DATA
PORT ?= 8080
BIN := $(CARGO_TARGET_DIR)/release/veilwatch

.PHONY: demo test setup models native wasm unit e2e fuzz bench clean

## Build everything and serve the kiosk demo on http://127.0.0.1:$(PORT)/
## DEPLOYMENT=DIR serves DIR/profile.vwp and DIR/issuer.pub for the public notice;
## AUTHORITY=http://127.0.0.1:8787 lets the page reach an authority (authority custody); start that
## authority with --allow-origin http://127.0.0.1:$(PORT) so that it grants the page CORS.
DEPLOYMENT ?=
AUTHORITY ?=
demo: setup native wasm
	@echo "Open http://127.0.0.1:$(PORT)/ in a browser (Ctrl-C to stop)."
	$(BIN) serve --listen 127.0.0.1:$(PORT) --mount /=www --mount /pkg=pkg --mount /models=models \
	  $(if $(DEPLOYMENT),--mount /deployment=$(DEPLOYMENT)) $(if $(AUTHORITY),--authority $(AUTHORITY))

## Everything: Rust unit and integration tests (incl. onnxruntime reference and LFW accuracy), wasm tests.
test: setup native wasm unit e2e fuzz

## Installs what a fresh machine lacks; skips what is present.
setup:
	tools/setup

models:
	models/fetch

native:
	cargo build --release --features cli --locked

wasm:
	tools/build-wasm

## Native tests, then the wasm kernels' tests in node (wasm-bindgen-test-runner comes with wasm-bindgen-cli).
unit:
	cargo test --release --features cli --locked
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test --release --locked --target wasm32-unknown-unknown --lib

## Browser and wasm tests, inside a network namespace with loopback only (unshare -n), so that
## nothing the kiosk does could reach a network even if it tried. The wasm-versus-native test runs
## once per engine build (SIMD128, then relaxed SIMD).
E2E_TESTS := node --test tests/e2e/ && VEILWATCH_WASM_VARIANT=relaxed-simd node --experimental-wasm-relaxed-simd --test tests/e2e/wasm_matches_native.test.mjs
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

## Fuzz the watchlist and profile parsers for a bounded time (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 30
fuzz:
	set -o pipefail; cd fuzz && for target in watchlist_parser profile_parser; do \
	  mkdir -p corpus/$$target && \
	  RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(HOME)/.cache/veilwatch/fuzz-target \
	    cargo fuzz run -O $$target corpus/$$target seeds/$$target -- -max_total_time=$(FUZZ_SECONDS) 2>&1 | tail -n 4 || exit 1; \
	done

## Speed: native medians and watchlist sizes, wasm (node) vs onnxruntime-web on the same inputs,
## then the engine and the whole kiosk in headless Chromium → bench.json
bench: setup native wasm
	$(BIN) bench --frames-out $(CARGO_TARGET_DIR)/bench-frames
	node tests/bench/wasm_vs_ort_web.mjs $(CARGO_TARGET_DIR)/bench-frames
	VEILWATCH_WASM_VARIANT=relaxed-simd node --experimental-wasm-relaxed-simd tests/bench/wasm_vs_ort_web.mjs $(CARGO_TARGET_DIR)/bench-frames
	node tests/bench/browser.mjs $(CARGO_TARGET_DIR)/bench-frames

clean:
	rm -rf pkg bench.json
