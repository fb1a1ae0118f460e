"""`python -m services.web`: serve the web app (default port 8080)."""

from services.web.app import SERVICE, create_app
from services.web.config import WebSettings
from shared.logs import configure_logging
from shared.runtime import serve_http


def main() -> None:
    settings = WebSettings()
    configure_logging(settings, SERVICE)
    serve_http(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
