# gosd tasks. Run through ./dev (it prepares .venv first), e.g. `./dev test`.

# pytest-xdist workers; a module's tests stay together (they may share a fixture)
WORKERS := "-n 4 --dist loadscope"

# list the recipes
default:
    @just --list --unsorted

# the demo: control plane with demo accounts on free ports
[group('run')]
demo *ARGS:
    gosd demo {{ARGS}}

# the control plane (configured by GOSD_* variables, see README)
[group('run')]
serve *ARGS:
    gosd serve {{ARGS}}

# the test suite on SQLite, then on PostgreSQL (skipped where none answers, except in CI);
# flights run once, on SQLite: they test the vehicles, not the database
[group('test')]
test *ARGS:
    python -m pytest {{WORKERS}} {{ARGS}}
    GOSD_TEST_DATABASE=postgres python -m pytest {{WORKERS}} -m "not flight" {{ARGS}}

# the fast run: SQLite only
[group('test')]
test-fast *ARGS:
    python -m pytest {{WORKERS}} {{ARGS}}

# everything on both databases, flights included
[group('test')]
test-all *ARGS:
    python -m pytest {{WORKERS}} {{ARGS}}
    GOSD_TEST_DATABASE=postgres python -m pytest {{WORKERS}} {{ARGS}}

# the schema fuzz test at length before a release: EXAMPLES cases per operation, stateful too, both databases
[group('test')]
fuzz EXAMPLES="100":
    GOSD_FUZZ_EXAMPLES={{EXAMPLES}} GOSD_FUZZ_PHASES=examples,coverage,fuzzing,stateful python -m pytest -p no:xdist tests/integration/test_schema_fuzz.py
    GOSD_TEST_DATABASE=postgres GOSD_FUZZ_EXAMPLES={{EXAMPLES}} GOSD_FUZZ_PHASES=examples,coverage,fuzzing,stateful python -m pytest -p no:xdist tests/integration/test_schema_fuzz.py

# move every pin of uv.lock to the newest release pyproject.toml's ranges allow, install
# it, then run the whole suite on it (commit uv.lock with what it changed only when green)
[group('build')]
lock:
    uv lock --upgrade
    uv sync --locked --all-extras
    just test

# lint, format check, types and the import rule of DESIGN §3
[group('check')]
check:
    ruff check .
    ruff format --check .
    mypy
    lint-imports

# benchmarks that print figures (not tests)
[group('bench')]
bench *ARGS:
    python -m bench {{ARGS}}

# rebuild the player page's vendored mpegts.js from the npm registry (npm ci, then copy; needs npm)
[group('build')]
vendor-player:
    python web/vendor.py

# check the vendored player files against the registry's locked tarballs (needs npm and the network)
[group('check')]
vendor-player-check:
    python web/vendor.py --check
