"""`python -m services.publisher`: run the admin HTTP API, and its operations endpoints
(`/healthz`, `/readyz`, `/metrics`) on `HERALD_PUBLISHER_OPS_PORT`."""

from services.publisher.app import SERVICE, create_app
from services.publisher.config import PublisherSettings
from shared.logs import configure_logging
from shared.runtime import OpsListener, serve_http


def main() -> None:
    settings = PublisherSettings()
    configure_logging(settings, SERVICE)
    app = create_app(settings)
    ops = OpsListener.beside(SERVICE, app, settings.ops_host, settings.ops_port)
    serve_http(app, settings.host, settings.port, ops=ops)


if __name__ == "__main__":
    main()
