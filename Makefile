# The commands a newcomer types. Each one installs what it needs first
# (tools/install-deps), so on a fresh Debian 12 machine `make run` and
# `make test` do all the set-up.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
DATA       ?= .data
LISTEN     ?= 127.0.0.1:8443
FUZZ_SECONDS ?= 30
MESON_FLAGS ?=

.PHONY: all deps build run test asan bench bench-crypto bench-store bench-msg bench-retention bench-files soak-files fuzz format format-check clean

all: build

deps:
	@tools/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Start the server with the embedded defaults (SQLite, self-signed certificate).
run: build
	$(BUILD)/src/server/parleyd --data-dir $(DATA) --listen $(LISTEN)

# Unit and integration tests, on SQLite and on a private PostgreSQL.
test: build
	tools/test-suite $(BUILD)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		tools/test-suite $(ASAN_BUILD)

bench: bench-crypto bench-store bench-msg bench-retention bench-files

bench-crypto: build
	$(BUILD)/bench/bench_crypto

# Messaging load: 1:1 burst, latency at a steady rate, room fan-out and
# memory per idle connection, against a parleyd on loopback.
bench-msg: build
	PARLEYD=$(BUILD)/src/server/parleyd $(BUILD)/bench/bench_msg

# The compliance bot's retention stage: lines formatted and written with
# one fdatasync per batch; BENCH_DIR picks the disk (default /tmp).
bench-retention: build
	PARLEYD=$(BUILD)/src/server/parleyd $(BUILD)/bench/bench_retention

# Encrypted files: upload then download a 1 GiB file through parleyd on
# loopback (FILES_MIB to change the size).
FILES_MIB ?= 1024
bench-files: build
	PARLEYD=$(BUILD)/src/server/parleyd $(BUILD)/bench/bench_files -s $(FILES_MIB)

# One 5 GiB file end to end, checked byte for byte (needs ~16 GB in /tmp).
soak-files: build
	tools/soak-files $(BUILD)

# Group commit against one transaction per write, on SQLite and a private
# PostgreSQL.
bench-store: build
	sh -c '. tools/pgtest.sh; trap pg_test_stop EXIT; pg_test_start && $(BUILD)/bench/bench_store'

# Each fuzz target for FUZZ_SECONDS seconds (libFuzzer, clang).
fuzz:
	@tools/install-deps --fuzz
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true \
		-Db_lundef=false -Db_sanitize=address,undefined -Dc_args=-fsanitize=fuzzer-no-link
	ninja -C $(FUZZ_BUILD)
	tools/run-fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
