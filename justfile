# Everyday work on newswire. `just --list` shows the recipes. On a fresh machine run them
# through `scripts/dev RECIPE`, which installs nats-server and just first.

set positional-arguments

# Where events are stored by the recipes.
store := env_var_or_default("NEWSWIRE_STORE", "sqlite://newswire.db")

# List the recipes.
default:
    @just --list

# Run the whole pipeline on the bundled sample article and print the stored events.
demo:
    cargo run --quiet -p newswire -- demo --store {{store}}

# Run classifier and sink in one process (starts a private nats-server if none answers).
up:
    cargo run --quiet -p newswire -- up --store {{store}}

# Publish articles (files, folders, globs; text, Markdown, HTML or JSON) to the raw stream.
publish +files:
    cargo run --quiet -p newswire -- publish "$@"

# Run the producer service, e.g. `just producer --listen 127.0.0.1:8080 --inbox inbox/`.
producer *args:
    cargo run --quiet -p newswire -- producer serve "$@"

# Watch tagged events live, e.g. `just tail --category threaten --actor PRK`.
tail *args:
    cargo run --quiet -p newswire -- tail "$@"

# List stored events, e.g. `just query --actor PRK --category 15`.
query *args:
    cargo run --quiet -p newswire -- query --store {{store}} "$@"

# Start a local nats-server with JetStream using deploy/nats-server.conf.
nats:
    mkdir -p .newswire/nats
    ${NATS_SERVER_BIN:-nats-server} -c deploy/nats-server.conf

# The whole test suite: unit tests and end-to-end tests against private nats-servers.
test:
    cargo test --workspace

# The end-to-end pipeline tests against Debian's nats-server 2.9 too, where installed.
test-compat:
    if [ -x /usr/sbin/nats-server ]; then NATS_SERVER_BIN=/usr/sbin/nats-server cargo test -p newswire-tests; else echo "no /usr/sbin/nats-server, skipped"; fi

# Benchmark the pipeline against a zero-work relay (release build); writes docs/benchmarks.md.
# `just bench --quick` for a smoke run under a minute.
bench *args:
    cargo run --release --quiet -p newswire -- bench --markdown docs/benchmarks.md "$@"

# Trace export to an OpenTelemetry collector, built with the `otel` feature.
test-otel:
    cargo test -p newswire --features otel --test it otel

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    cargo clippy -p newswire --features otel --all-targets -- -D warnings

# Regenerate docs/schema/*.json from the event types (review the diff).
schema:
    NEWSWIRE_BLESS=1 cargo test -p newswire-tests schema

# Score the classifier on the gold set and write docs/quality.md (`--errors` lists the misses).
eval *args:
    cargo run --quiet -p newswire -- eval --markdown docs/quality.md "$@"

# Validate the dictionaries (the built-in ones, or a directory of overrides).
dict-check *dir:
    cargo run --quiet -p newswire -- dict check "$@"

# Validate deploy/docker-compose.yml (needs docker-compose: `apt-get install docker-compose`).
compose-check:
    docker-compose -f deploy/docker-compose.yml config --quiet
