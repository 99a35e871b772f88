# wsmem — every check CI runs is `make test`.
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
FUZZTIME    ?= 10m
# The smoke is a count of executions, not a duration: with a duration, Go
# 1.26's fuzz coordinator can fail at the deadline with 'context deadline
# exceeded' and no failing input (golang/go#75804, fixed in Go 1.27).
SMOKETIME   ?= 2000x
# Minimising a large new input may otherwise take a minute each, most of a
# long run for the deflate and mask targets.
MINIMIZETIME ?= 10s
# Modules beside the main one: each has its own go.mod (one or two levels
# down). interop/ runs its own tests (with Node, Python and Chromium)
# through its run.sh.
SUBMODULES  := $(dir $(wildcard */go.mod */*/go.mod))
UNITMODULES := $(filter-out interop/ _asm/,$(SUBMODULES))

.PHONY: test fmt-check vet lint unit purego race fuzz-smoke fuzz asm asm-check bench profile e2e interop load

## test: everything CI runs (see the README for how long it takes)
test: fmt-check vet asm-check lint unit purego race fuzz-smoke e2e interop

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## vet: go vet (with copylocks and asmdecl) for amd64, purego and arm64, every module
vet:
	$(GO) vet ./...
	$(GO) vet -tags purego ./...
	GOARCH=arm64 $(GO) vet ./...
	@for m in $(SUBMODULES); do echo "go vet in $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

## lint: staticcheck, pinned, on the default and the purego build
lint:
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags purego ./...
	@for m in examples/eventloop/ interop/; do echo "staticcheck in $$m"; (cd $$m && $(GO) run $(STATICCHECK) ./...) || exit 1; done

unit:
	$(GO) test -count=1 ./...
	@for m in $(UNITMODULES); do echo "go test in $$m"; (cd $$m && $(GO) test -count=1 ./...) || exit 1; done

purego:
	$(GO) test -count=1 -tags purego ./...

race:
	$(GO) test -count=1 -race ./...

## fuzz-smoke: every fuzz target for $(SMOKETIME) executions
fuzz-smoke:
	@set -e; for pkg in . ./fuzz; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(SMOKETIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(SMOKETIME) $$pkg; \
	  done; done

## fuzz: every fuzz target for $(FUZZTIME) each (make fuzz FUZZTIME=10m). A
## bare "context deadline exceeded" with no failing input written is
## golang/go#75804, not a finding.
fuzz:
	@set -e; for pkg in . ./fuzz; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(MINIMIZETIME) $$pkg; \
	  done; done

## e2e: the chat example in headless Chromium (installs chromium and npm packages if missing)
e2e:
	bash e2e/run.sh

## bench: wsmem against gorilla, gobwas, coder and gws, side by side (see bench/README.md)
bench:
	cd bench && ./run.sh

## asm: regenerate mask_amd64.s, accept_amd64.s and ctlmask_amd64.s from the avo generator in _asm/ (its own module)
asm:
	cd _asm && for f in mask accept ctlmask; do $(GO) run . -file $$f -out ../$${f}_amd64.s || exit 1; done

## asm-check: fail if mask_amd64.s, accept_amd64.s or ctlmask_amd64.s differs from a fresh generation
asm-check:
	@tmp=$$(mktemp) && trap 'rm -f "$$tmp"' EXIT && \
	for f in mask accept ctlmask; do \
		(cd _asm && $(GO) run . -file $$f -out "$$tmp") && \
		if ! diff -u $${f}_amd64.s "$$tmp"; then \
			echo "$${f}_amd64.s is stale or hand-edited: run 'make asm'" >&2; exit 1; \
		fi; \
	done

## profile: CPU and allocation profiles of the read and write paths, in artifacts/profile/
profile:
	@mkdir -p artifacts/profile
	$(GO) test -run '^$$' -bench 'BenchmarkRecv/api=Recv/size=(16B|1KiB|64KiB)$$' -benchtime 2s \
		-cpuprofile artifacts/profile/read.cpu.prof -memprofile artifacts/profile/read.mem.prof -o artifacts/profile/wsmem.test .
	$(GO) test -run '^$$' -bench 'BenchmarkSend/side=(server|client)/size=(16B|1KiB|64KiB)$$' -benchtime 2s \
		-cpuprofile artifacts/profile/write.cpu.prof -memprofile artifacts/profile/write.mem.prof -o artifacts/profile/wsmem.test .
	@for p in read write; do \
	  echo "== $$p path: CPU"; $(GO) tool pprof -top -nodecount 15 artifacts/profile/wsmem.test artifacts/profile/$$p.cpu.prof 2>/dev/null | tail -n 16; \
	  echo "== $$p path: allocations"; $(GO) tool pprof -sample_index=alloc_space -top -nodecount 5 artifacts/profile/wsmem.test artifacts/profile/$$p.mem.prof 2>/dev/null | tail -n 6; \
	done
	@echo "profiles in artifacts/profile/ (go tool pprof -http=: artifacts/profile/wsmem.test artifacts/profile/read.cpu.prof)"

## interop: wsmem against gorilla, coder, gobwas, gws, Node ws, Python websockets and Chromium
interop:
	bash interop/run.sh

## load: the load and fault test at full size, with its summary (see
## loadtest/doc.go): make load CONNS=5000 DURATION=60s
CONNS    ?= 5000
DURATION ?= 60s
load:
	WSMEM_LOAD=full $(GO) test -count=1 -v -run '^TestLoad$$' -timeout 30m ./loadtest -load.conns $(CONNS) -load.duration $(DURATION)
