"""Operations of ``faceprint serve`` (a real subprocess): /healthz, /readyz, /metrics,
/ and the OpenAPI document; the per-key rate limit (429 with Retry-After in both
shapes), the body limit (413), and one log line per request that never holds a
secret, token or image."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from serve_process import create_key, serving

pytest.importorskip("fastapi")
pytestmark = pytest.mark.data


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_operations_limits_and_logs(tmp_path: Path, lfw_dir: Path) -> None:
    db = tmp_path / "gallery.sqlite"
    key = create_key(db, "g", "detect,search,manage")
    photo = (lfw_dir / "images" / "Tony_Blair" / "Tony_Blair_0001.jpg").read_bytes()
    with serving(db, "--rate", "0.2", "--burst", "4", "--max-body", "200000") as s:
        assert fetch(s.base + "/healthz")[0] == 200
        assert json.loads(fetch(s.base + "/readyz")[2]) == {"status": "ready"}
        assert fetch(s.base + "/")[0] == 200
        doc = json.loads(fetch(s.base + "/openapi.json")[2])
        assert "/rest/2.0/face/v3/detect" in doc["paths"]
        _, _, raw = fetch(f"{s.base}/oauth/2.0/token?grant_type=client_credentials&client_id="
                          f"{key['api_key']}&client_secret={key['secret_key']}")
        token = json.loads(raw)["access_token"]
        url = f"{s.base}/rest/2.0/face/v3/detect?access_token={token}"
        jh = {"Content-Type": "application/json"}
        body_ok = json.dumps({"image": base64.b64encode(photo).decode(),
                              "image_type": "BASE64"}).encode()
        status, _, raw = fetch(url, body_ok, jh)
        assert status == 200 and json.loads(raw)["result"]["face_num"] == 1
        big = json.dumps({"image": "A" * 300_000, "image_type": "BASE64"}).encode()
        status, _, raw = fetch(url, big, jh)
        assert status == 413 and json.loads(raw)["error_code"] != 0
        answers: list[tuple[int, dict[str, str], Any]] = []
        for _ in range(6):
            st, hd, raw = fetch(url, body_ok, jh)
            answers.append((st, hd, json.loads(raw)))
        limited = [a for a in answers if a[0] == 429]
        assert limited, [a[0] for a in answers]
        assert limited[0][2]["error_code"] == 18 and int(limited[0][1]["retry-after"]) >= 1
        cf = {"x-api-key": key["api_key"]}
        st, hd, raw = fetch(s.base + "/api/v1/recognition/subjects", None, cf)
        assert st == 429 and set(json.loads(raw)) == {"message", "code"}
        assert int(hd["retry-after"]) >= 1
        metrics = fetch(s.base + "/metrics")[2].decode()
        assert 'faceprint_requests_total{route="/rest/2.0/face/v3/detect",method="POST",' \
               'status="200"}' in metrics
        assert 'faceprint_errors_total{api="cloud_v3",code="18"}' in metrics
        assert "faceprint_request_seconds_bucket" in metrics
        assert 'faceprint_faces_total{route="/rest/2.0/face/v3/detect"} ' in metrics
    log = s.log.read_text()
    lines = [x for x in log.splitlines() if "log_id=" in x]
    assert len(lines) >= 12
    assert any("/rest/2.0/face/v3/detect 200" in x and "key=" in x and "ms" in x
               for x in lines)
    for secret in (key["secret_key"], key["api_key"], token, body_ok.decode()[:60]):
        assert secret not in log
