"""schemathesis against the OpenAPI of both HTTP services, as real processes: generated
requests (valid and invalid, with a valid dev token) never get a 5xx, and every answer
conforms to its declared schema and content type.

Bounded for `make test` (a few examples per operation, a time budget per service);
`make fuzz` runs the same with `HERALD_FUZZ_MAX_EXAMPLES` / `HERALD_FUZZ_MAX_TIME_S`
raised. The services run with a high rate limit so the fuzzer is not throttled, and
`/v1/stream` is left out (an SSE stream never ends; tests/security covers it).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.processes import ServiceProcess
from tests.support.tokens import token_for

MAX_EXAMPLES = int(os.environ.get("HERALD_FUZZ_MAX_EXAMPLES", "8"))
MAX_TIME_S = int(os.environ.get("HERALD_FUZZ_MAX_TIME_S", "25"))
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


async def run_schemathesis(service: ServiceProcess, report_dir: Path) -> tuple[int, str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{service.base_url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_TIME_S),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--exclude-path",
        "/v1/stream",
        "--header",
        f"Authorization: Bearer {token_for('fuzzer-account', ttl_s=3 * 3600)}",
        "--suppress-health-check",
        "all",
        "--seed",
        "1",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=report_dir,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


async def test_openapi_fuzz_no_5xx_and_schema_conformance(
    spawn_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    services = [
        spawn_service(name, HERALD_RATE_PER_SECOND="10000", HERALD_RATE_BURST="100000")
        for name in ("publisher", "feed")
    ]
    await asyncio.gather(*(service.start() for service in services))
    # Both fuzzed at once: the time budget is per service, the wall time is shared.
    results = await asyncio.gather(*(run_schemathesis(service, tmp_path) for service in services))
    for service, (code, output) in zip(services, results, strict=True):
        assert code == 0, f"{service.name}:\n{output[-6000:]}"
        assert "unhandled error" not in service.log_text()
