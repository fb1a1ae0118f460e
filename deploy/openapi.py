"""Write the OpenAPI documents of the HTTP services: `python -m deploy.openapi DIR`.

The committed copies under `docs/openapi/` are checked against the code by a test, so
the published contract never drifts from what the services serve.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from services.feed.app import create_app as create_feed_app
from services.publisher.app import create_app as create_publisher_app


def documents() -> dict[str, dict[str, Any]]:
    return {
        "publisher": create_publisher_app().openapi(),
        "feed": create_feed_app().openapi(),
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi")
    out.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (out / f"{name}.json").write_text(render(document))
        print(f"wrote {out / name}.json")


if __name__ == "__main__":
    main()
