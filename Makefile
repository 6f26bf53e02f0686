# smtpsh — see README.md. `make run` and `make test` work on a fresh machine with Go;
# `make check` also installs and starts the real peers (needs root for apt and Postfix).

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X main.version=$(VERSION)
BIN       := bin/smtpsh
FUZZTIME  ?= 60s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# `make run` starts the shell on the built-in lab; ARGS='...' passes arguments,
# e.g. ARGS='lab --profile enum' or ARGS='explain 550'.
ARGS      ?=

.PHONY: all build run test check peers bench fuzz lint clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/smtpsh

run: build
	./$(BIN) $(ARGS)

# Everything that needs no outside program; tests named TestPeer* need a real
# peer and are left out (and counted).
test:
	$(GO) test -skip '^TestPeer' ./...
	@n=$$($(GO) test -list '^TestPeer' ./... | grep -c '^TestPeer' || true); \
	  echo "make test left out $$n test(s) that need real peers (TestPeer*: Postfix, swaks, smtplib, ...); make check runs them"

# The whole suite with real peers: a missing peer fails (SMTPSH_PEERS=1), never skips.
check: lint peers
	SMTPSH_PEERS=1 $(GO) test -race -count=1 ./...
	GO=$(GO) bash .ci/postfix-modes.sh

peers:
	bash .ci/peers.sh

# Go benchmarks, then the lab next to Postfix and smtp-sink under smtp-source,
# then a scripted shell session next to swaks against Postfix, then connection
# set-up on each path next to openssl s_client and swaks.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash .ci/bench-lab.sh
	bash .ci/bench-shell.sh
	bash .ci/bench-dial.sh
	bash .ci/bench-send.sh
	bash .ci/bench-capture.sh

fuzz:
	FUZZTIME=$(FUZZTIME) bash .ci/fuzz.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
