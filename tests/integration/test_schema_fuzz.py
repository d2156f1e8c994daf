"""The API document is the truth: a seeded schema fuzz run finds nothing against it.

Schemathesis reads the served OpenAPI document and sends what it allows (and what it
does not) to a real ``gosd serve`` on 127.0.0.1, authenticated with a token from the
real password grant. Every answer must be a documented status, with a documented
content type and a body matching its schema, and never a server error (bar the
documented 503 of asking a node that does not answer: ``schemathesis.toml``).

``GOSD_FUZZ_EXAMPLES`` sets the examples per operation (default: a run of well under a
minute on two cores), ``GOSD_FUZZ_PHASES`` the phases and ``GOSD_FUZZ_ARGS`` adds
schemathesis options. ``./dev fuzz`` runs it at length, stateful phase included, on
SQLite and PostgreSQL, before a release.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import CLIENT_ID, CLIENT_SECRET, DEMO_PASSWORD, DEMO_USER
from tests.e2e.processes import gosd_env, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = int(os.environ.get("GOSD_FUZZ_EXAMPLES", "8"))
PHASES = os.environ.get("GOSD_FUZZ_PHASES", "examples,coverage,fuzzing")
CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def test_every_answer_matches_the_api_document(database_url: str, tmp_path: Path) -> None:
    # No agent runs: a question to a node fails after GOSD_RPC_TIMEOUT_S, so keep it short.
    env = gosd_env(tmp_path / "data", GOSD_DATABASE_URL=database_url, GOSD_RPC_TIMEOUT_S="1")
    with running("serve", "--port", "0", env=env) as (base, _):
        r = httpx.post(
            f"{base}/oauth/token",
            data={
                "grant_type": "password",
                "username": DEMO_USER,
                "password": DEMO_PASSWORD,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        assert r.status_code == 200, r.text
        origin = base.removesuffix("/gosd")
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{base}/schema/openapi.json",
            "--url",
            origin,
            "--header",
            f"Authorization: Bearer {r.json()['access_token']}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            PHASES,
            "--max-examples",
            str(EXAMPLES),
            # Derandomized: the same cases every run (and no example database on disk).
            "--generation-deterministic",
            "--workers",
            "1",
            "--no-color",
            *os.environ.get("GOSD_FUZZ_ARGS", "").split(),
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
        )
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
