"""`python -m services.feed`: run the client HTTP API.

With `HERALD_FEED_WORKERS` = 1 this process serves the port itself, and its operations
endpoints (`/healthz`, `/readyz`, `/metrics`) on `HERALD_FEED_OPS_PORT`. With more, it is
the supervisor (`services.feed.workers`) of that many worker processes, each started as
`python -m services.feed --worker` and bound to the same port with SO_REUSEPORT; worker 0
(also given `--ops`) serves the operations port, with every worker's metrics.
"""

import sys

from services.feed.app import SERVICE, create_app
from services.feed.config import FeedSettings
from services.feed.live.transport import StreamingHttpProtocol
from services.feed.workers import OPS_FLAG, WORKER_FLAG, Supervisor
from shared.logs import configure_logging
from shared.runtime import OpsListener, serve_http


def main() -> None:
    settings = FeedSettings()
    configure_logging(settings, SERVICE)
    args = sys.argv[1:]
    worker = WORKER_FLAG in args
    if settings.workers > 1 and not worker:
        sys.exit(Supervisor(settings.workers).run())
    app = create_app(settings)
    ops = None
    if not worker or OPS_FLAG in args:
        ops = OpsListener.beside(SERVICE, app, settings.ops_host, settings.ops_port)
    serve_http(
        app,
        settings.host,
        settings.port,
        ops=ops,
        http=StreamingHttpProtocol,
        reuse_port=worker,
    )


if __name__ == "__main__":
    main()
