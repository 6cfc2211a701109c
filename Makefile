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

# go vs gomodx on the real zips of kubectl's graph behind one loopback
# mirror at 50 ms that fails: 10% of requests 502/503, 2% of responses cut
# mid-body, 1% never answered, 1% of zips cut short as a well-formed 200;
# and behind two interchangeable mirrors (A|B) failing alike. Three fault
# seeds, 3 rounds, each against its fault-free baseline (~15 minutes).
# The whole catalogue (429s, stalls, a slow, a dead and a lying mirror):
# go run ./bench -faults -scenarios all.
.PHONY: bench-faults bench-link bench-toolchain bench-real
bench-faults:
	$(GO) run ./bench -faults

# The link limit: gh's graph (103 MB of zips, one of 39 MB) and kubectl's
# (46 MB) 150 ms away, each connection capped at 1 MB/s and the whole link
# at 10 MB/s; go, gomodx and GOMAXPROCS=16 go against the link's limit
# (~20 minutes).
bench-link:
	$(GO) run ./bench -projects gh,kubectl -rtt 150 -conn-bandwidth 1 -bandwidth 10 -commands download -clean=false -warm-rounds 0 -rounds 3

# One toolchain-sized zip (76 MB) 150 ms away, each connection capped at
# 1 MB/s, a connection reset once per 20 MB sent: go mod download against
# gomodx download, and the limit, 3 rounds (~10 minutes).
bench-toolchain:
	$(GO) test -tags rangebench -run RangeBench -count 3 -v -timeout 60m ./mirrors

# Opt-in, needs the internet: a small real project against
# proxy.golang.org, cold cache, go against gomodx, then gomodx where the
# built-in mirrors do not resolve (none asked while GOPROXY serves) and
# where GOPROXY's first mirror does not resolve (the rescue, and what go
# does), go.mod and go.sum compared byte for byte with go's (~10 minutes).
# Never part of make test.
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
