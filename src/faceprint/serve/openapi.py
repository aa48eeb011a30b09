"""Print the service's OpenAPI document (``docs/openapi.json`` is its snapshot):

    PYTHONPATH=src python -m faceprint.serve.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
from typing import Any


def document() -> dict[str, Any]:
    from .app import create_app

    doc: dict[str, Any] = create_app().openapi()
    return doc


def main() -> None:
    print(json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False))


if __name__ == "__main__":
    main()
