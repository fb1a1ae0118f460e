"""`python -m services.fanout`: run the fan-out faust worker."""

import faust

from services.fanout.app import SERVICE, create_app
from services.fanout.config import FanoutSettings
from shared.logs import configure_logging


def main() -> None:
    settings = FanoutSettings()
    configure_logging(settings, SERVICE)
    app = create_app(settings)
    # quiet and no spinner: faust's banner and terminal spinner are not log lines, and
    # every line the service writes is structured (JSON when HERALD_LOG_JSON is on).
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False, quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
