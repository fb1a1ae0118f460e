"""`python -m services.retention`: run the retention service until SIGTERM/SIGINT.

`python -m services.retention --once`: one run, its report as JSON on stdout, then exit
(0 when the run completed or was skipped because another instance was running).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import asdict

import orjson
import uvloop

from services.retention.config import RetentionSettings
from services.retention.service import SERVICE, run_one, run_service
from shared.logs import configure_logging


async def _main(settings: RetentionSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_service(settings, stop)


def main() -> None:
    settings = RetentionSettings()
    configure_logging(settings, SERVICE)
    if "--once" in sys.argv[1:]:
        report = uvloop.run(run_one(settings))
        sys.stdout.write(orjson.dumps(asdict(report)).decode() + "\n")
        return
    uvloop.run(_main(settings))


if __name__ == "__main__":
    main()
