"""`python -m services.push`: run the push service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

import uvloop

from services.push.config import PushSettings
from services.push.consumer import SERVICE
from services.push.service import run_service
from shared.logs import configure_logging


async def _main(settings: PushSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_service(settings, stop)


def main() -> None:
    settings = PushSettings()
    configure_logging(settings, SERVICE)
    uvloop.run(_main(settings))


if __name__ == "__main__":
    main()
