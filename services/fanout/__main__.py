"""`python -m services.fanout`: run the fan-out faust worker."""

import faust

from services.fanout.app import SERVICE, create_app
from services.fanout.config import FanoutSettings
from shared.logs import configure_logging


def main() -> None:
    settings = FanoutSettings()
    configure_logging(settings, SERVICE)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
