"""`python -m services.web`: serve the web app (default port 8080), and its operations
endpoints (`/healthz`, `/readyz`, `/metrics`) on `HERALD_WEB_OPS_PORT` (8090)."""

from services.web.app import SERVICE, create_app
from services.web.config import WebSettings
from shared.logs import configure_logging
from shared.runtime import OpsListener, serve_http


def main() -> None:
    settings = WebSettings()
    configure_logging(settings, SERVICE)
    app = create_app(settings)
    ops = OpsListener.beside(SERVICE, app, settings.ops_host, settings.ops_port)
    serve_http(app, settings.host, settings.port, ops=ops)


if __name__ == "__main__":
    main()
