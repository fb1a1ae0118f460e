"""`python -m services.feed`: run the client HTTP API.

With `HERALD_FEED_WORKERS` = 1 this process serves the port itself. With more, it is the
supervisor (`services.feed.workers`) of that many worker processes, each started as
`python -m services.feed --worker` and bound to the same port with SO_REUSEPORT.
"""

import sys

from services.feed.app import SERVICE, create_app
from services.feed.config import FeedSettings
from services.feed.live.transport import StreamingHttpProtocol
from services.feed.workers import WORKER_FLAG, Supervisor
from shared.logs import configure_logging
from shared.runtime import serve_http


def main() -> None:
    settings = FeedSettings()
    configure_logging(settings, SERVICE)
    worker = WORKER_FLAG in sys.argv[1:]
    if settings.workers > 1 and not worker:
        sys.exit(Supervisor(settings.workers).run())
    serve_http(
        create_app(settings),
        settings.host,
        settings.port,
        http=StreamingHttpProtocol,
        reuse_port=worker,
    )


if __name__ == "__main__":
    main()
