# Mana Core Auth. `make run` and `make test` are all a newcomer needs.
GO ?= go
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
export TEST_DATABASE_URL TEST_REDIS_URL

.PHONY: run build test generate check-generated check-files lint bench

## run: start the provider on embedded SQLite in development mode (demo app at /demo)
run:
	$(GO) run ./cmd/manaauth serve --dev

## build: build the binary into bin/
build:
	$(GO) build -o bin/manaauth ./cmd/manaauth

## generate: regenerate the templ components
generate:
	$(GO) tool templ generate -path templates

## check-generated: fail when committed *_templ.go files are stale
check-generated:
	@tmp=$$(mktemp -d) && cp -r templates "$$tmp/" && \
	$(GO) tool templ generate -path "$$tmp/templates" >/dev/null 2>&1 && \
	if ! diff -r -q templates "$$tmp/templates" >/dev/null; then \
		diff -r templates "$$tmp/templates" | head -40; \
		echo "templ output is stale: run 'make generate' and commit the result"; rm -rf "$$tmp"; exit 1; \
	fi; rm -rf "$$tmp"

## check-files: fail when git tracks a file over 1 MiB or a compiled executable
## (build outputs belong in bin/ or nowhere, never in the repository)
check-files:
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "check-files: not a git checkout, skipped"; exit 0; }; \
	bad=0; for f in $$(git ls-files); do \
		[ -f "$$f" ] || continue; \
		if [ "$$(wc -c < "$$f")" -gt 1048576 ]; then echo "tracked file larger than 1 MiB: $$f"; bad=1; fi; \
		case "$$(head -c 4 "$$f" | od -An -tx1 | tr -d ' \n')" in \
		7f454c46|4d5a*|feedface|feedfacf|cefaedfe|cffaedfe|cafebabe) echo "tracked executable binary: $$f"; bad=1;; \
		esac; \
	done; exit $$bad

## lint: gofmt, go vet and staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## test: the whole suite, both storage backends (PostgreSQL at TEST_DATABASE_URL, Redis at TEST_REDIS_URL).
## Without a service the tests that need it are skipped (CI=true fails instead),
## and the end of the output lists each skipped group and why.
test: check-files check-generated lint
	GO="$(GO)" $(GO) run ./internal/testreport -count=1 -timeout 20m ./...

## bench: micro-benchmarks, the import of 100,000 old users (both backends) and the load generator against a local server on PostgreSQL:
## empty database, 1,000,000 grants and 100,000 users, through PgBouncer, and Ory Hydra
## (built outside the module, see bench-hydra) in the same run for comparison
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./provider/...
	$(GO) test -run '^$$' -bench Import -benchtime 1x -timeout 20m ./internal/betterauth
	$(GO) run ./cmd/loadgen -database "$(TEST_DATABASE_URL)"
	$(GO) run ./cmd/loadgen -database "$(TEST_DATABASE_URL)" -data big
	$(GO) run ./cmd/loadgen -database "$(TEST_DATABASE_URL)" -pgbouncer
	@if $(MAKE) --no-print-directory bench-hydra; then \
		$(GO) run ./cmd/loadgen -database "$(TEST_DATABASE_URL)" -hydra "$(HYDRA)"; \
	else echo "bench: Ory Hydra could not be built; its comparison is skipped"; fi

# issue 13 (perf): Ory Hydra, the comparison of `make bench`, is built from the
# Go module proxy in a scratch module outside the repository (never in go.mod).
# Its go.mod replaces pop with Ory's fork; replace directives of a dependency
# do not apply, so the scratch module repeats it.
HYDRA_DIR ?= $(or $(TMPDIR),/tmp)/manaauth-bench-hydra
HYDRA ?= $(HYDRA_DIR)/hydra
.PHONY: bench-hydra
bench-hydra:
	@test -x "$(HYDRA)" || { mkdir -p "$(HYDRA_DIR)" && cd "$(HYDRA_DIR)" && \
		{ test -f go.mod || $(GO) mod init bench-hydra; } && \
		$(GO) mod edit -replace github.com/gobuffalo/pop/v6=github.com/ory/pop/v6@v6.2.1-0.20241121111754-e5dfc0f3344b && \
		$(GO) get -tool github.com/ory/hydra/v2@v2.3.0 && \
		$(GO) build -o "$(HYDRA)" github.com/ory/hydra/v2; }
