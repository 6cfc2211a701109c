# gomodx: 'make test' runs everything CI runs; 'make bench' compares gomodx
# with the plain go command on a real project's module graph behind a slow
# fake mirror.

GO ?= go
BIN ?= bin/gomodx
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build install test lint bench bench-quick clean

all: build

# The version 'gomodx --version' prints: git's name for this commit, when
# this is a clone (a release tag, else the commit; "-dirty" with changes).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS = $(if $(VERSION),-ldflags=-X=main.version=$(VERSION))

build:
	$(GO) build $(LDFLAGS) -o $(BIN) .

install:
	$(GO) install $(LDFLAGS) .

# Unit tests and the end-to-end scripts (testdata/script), with the race
# detector; everything runs against fake mirrors on 127.0.0.1. The scripts
# spend most of their time waiting for the programs they run, so eight run
# at once, whatever the number of cores.
test: lint
	$(GO) test -race -count=1 -parallel 8 ./...

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Side by side, cold cache: go vs gomodx vs GOMAXPROCS=16 go, at 0 and 150 ms,
# on the real module graph of kubectl (87 zips, 50 MB) behind a loopback
# mirror, 5 rounds, plus a download right after go clean -modcache (~30
# minutes). The first run fetches the graph once from the module proxy
# (proxy.golang.org) into $$XDG_CACHE_HOME/gomodx-bench, and says so.
bench:
	$(GO) run ./bench

# One round on grpc's smaller graph (20 zips, 24 MB) (~3 minutes).
bench-quick:
	$(GO) run ./bench -projects grpc -rounds 1 -warm-rounds 1 -settle 10s

# go vs gomodx on loopback mirrors that fail: 502s, 429s, resets, hangs,
# stalls, a slow, a dead and a lying mirror; 20% size, RTT 50 ms (~10 minutes;
# add GOMAXPROCS=16 go with: go run ./bench -faults -tools go,gomodx,go16).
.PHONY: bench-faults bench-real
bench-faults:
	$(GO) run ./bench -faults

# Opt-in, needs the internet: the same comparison once on a small real
# project against proxy.golang.org (a few minutes). Never part of make test.
bench-real:
	$(GO) run ./bench -real

# The go command's own script tests (cmd/go/testdata/script) about module
# downloads, run with plain go and through gomodx, and compared; no internet
# needed (~3 minutes; the first run for a go version ~2 more). Only some:
# make conformance RUN='mod_tidy_.*'. More flags (go run ./conformance -h):
# CONFORMANCE_FLAGS='-setups plain,gomodx -quiet=false'. Never part of make test.
.PHONY: conformance
conformance:
	$(GO) run ./conformance -go $(GO) $(if $(RUN),-run '$(RUN)') $(CONFORMANCE_FLAGS)

clean:
	rm -rf bin
