"""faceprint serve's parts that need no server: the score map, the key store, the
OpenAPI snapshot."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")

from faceprint.errors import UsageError
from faceprint.serve import score_from_distance
from faceprint.serve.keys import KeyError_, KeyStore, PermissionDenied

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("threshold", [0.6, 0.363, 1.0])
def test_score_is_monotone_with_80_at_the_threshold(threshold: float) -> None:
    assert score_from_distance(threshold, threshold) == pytest.approx(80.0, abs=1e-12)
    assert score_from_distance(0.0, threshold) == 100.0
    assert score_from_distance(2 * threshold, threshold) == 0.0
    assert score_from_distance(float("inf"), threshold) == 0.0
    d = np.linspace(0, 2 * threshold, 2001)
    s = np.array([score_from_distance(float(x), threshold) for x in d])
    assert np.all(np.diff(s) < 0)  # strictly decreasing on [0, 2t]
    assert np.all((s >= 0) & (s <= 100))
    assert score_from_distance(threshold * 0.999, threshold) > 80 > \
        score_from_distance(threshold * 1.001, threshold)


def test_keys_store_only_hashes(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "k.keys")
    new = store.create("g1,g2", "detect,search")
    assert store.check_secret(new.api_key, new.secret_key).groups == ("g1", "g2")
    with pytest.raises(KeyError_):
        store.check_secret(new.api_key, new.secret_key + "x")
    store.close()
    raw = (tmp_path / "k.keys").read_bytes()
    for name in ("k.keys-wal",):
        if (tmp_path / name).exists():
            raw += (tmp_path / name).read_bytes()
    assert new.secret_key.encode() not in raw and new.api_key.encode() not in raw
    with sqlite3.connect(tmp_path / "k.keys") as conn:
        salts = conn.execute("SELECT secret_salt FROM api_keys").fetchall()
    assert len(salts[0][0]) == 16


def test_tokens_expire_and_die_with_their_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "k.keys")
    new = store.create("g1", "detect")
    token = store.issue_token(new.key, 60)
    assert store.check_token(token).key_id == new.key.key_id
    with pytest.raises(KeyError_) as exc:
        store.check_token(store.issue_token(new.key, -1))
    assert exc.value.reason == "expired"
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    with pytest.raises(KeyError_) as exc:
        store.check_token(forged)
    assert exc.value.reason == "invalid"
    store.revoke(new.key.key_id)
    with pytest.raises(KeyError_) as exc:
        store.check_token(token)
    assert exc.value.reason == "revoked"
    with pytest.raises(PermissionDenied):
        new.key.require("manage")
    with pytest.raises(PermissionDenied):
        new.key.require("detect", ["g2"])
    with pytest.raises(UsageError):
        store.create("g1", "detect,admin")


def test_openapi_snapshot_is_current() -> None:
    """docs/openapi.json is the app's document; regenerate it with
    ``PYTHONPATH=src python -m faceprint.serve.openapi > docs/openapi.json``."""
    from faceprint.serve.openapi import document

    current = json.loads(json.dumps(document(), sort_keys=True))
    saved = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert current == saved, ("docs/openapi.json is stale: run PYTHONPATH=src python -m "
                              "faceprint.serve.openapi > docs/openapi.json")
