# agentmail — build, run and test.
GO ?= go
BIN := bin/agentmail

.PHONY: build run test check demo bench bench-compare clean

build:
	$(GO) build -o $(BIN) ./cmd/agentmail

# Runs the server on its embedded defaults (data in ./data).
run:
	$(GO) run ./cmd/agentmail serve

# The whole test suite: formatting, vet, then every test with the race
# detector. The crash, backup and upgrade tests on the real binary run
# verbosely last, so that their counts (kills, messages, reservations) show.
test: check
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v /internal/crashtest)
	$(GO) test -race -count=1 -timeout 10m -v ./internal/crashtest

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

demo:
	$(GO) run ./cmd/agentmail demo

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

# agentmail beside Postfix + Dovecot on loopback, same load, one table
# (docs/benchmarks.md). Needs root; installs the Debian packages if missing.
bench-compare:
	scripts/bench-compare.sh

clean:
	rm -rf bin
