"""`python -m services.publisher`: run the admin HTTP API."""

from services.publisher.app import SERVICE, create_app
from services.publisher.config import PublisherSettings
from shared.logs import configure_logging
from shared.runtime import serve_http


def main() -> None:
    settings = PublisherSettings()
    configure_logging(settings, SERVICE)
    serve_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
