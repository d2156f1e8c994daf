# gosd tasks. Run through ./dev (it prepares .venv first), e.g. `./dev test`.

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
    python -m pytest {{ARGS}}
    GOSD_TEST_DATABASE=postgres python -m pytest -m "not flight" {{ARGS}}

# the fast run: SQLite only
[group('test')]
test-fast *ARGS:
    python -m pytest {{ARGS}}

# everything, including slow tests, on both databases
[group('test')]
test-all *ARGS:
    python -m pytest -m "" {{ARGS}}
    GOSD_TEST_DATABASE=postgres python -m pytest -m "" {{ARGS}}

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
