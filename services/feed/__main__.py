"""`python -m services.feed`: run the client HTTP API."""

from services.feed.app import SERVICE, create_app
from services.feed.config import FeedSettings
from services.feed.live.transport import StreamingHttpProtocol
from shared.logs import configure_logging
from shared.runtime import serve_http


def main() -> None:
    settings = FeedSettings()
    configure_logging(settings, SERVICE)
    serve_http(create_app(settings), settings.host, settings.port, http=StreamingHttpProtocol)


if __name__ == "__main__":
    main()
