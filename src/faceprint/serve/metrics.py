"""Prometheus metrics in the text exposition format (per worker process): requests by
route and status, a latency histogram, faces found, errors by API error code."""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(**kw: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in kw.items()) + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency_buckets: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.faces: dict[str, int] = defaultdict(int)
        self.errors: dict[tuple[str, str], int] = defaultdict(int)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, status)] += 1
            b = self.latency_buckets.setdefault(route, [0] * len(BUCKETS))
            for i, edge in enumerate(BUCKETS):
                if seconds <= edge:
                    b[i] += 1
            self.latency_sum[route] += seconds
            self.latency_count[route] += 1

    def add_faces(self, route: str, n: int) -> None:
        with self._lock:
            self.faces[route] += n

    def error(self, api: str, code: str) -> None:
        with self._lock:
            self.errors[(api, code)] += 1

    def render(self) -> str:
        out = ["# HELP faceprint_requests_total HTTP requests answered.",
               "# TYPE faceprint_requests_total counter"]
        with self._lock:
            for (route, method, status), n in sorted(self.requests.items()):
                out.append(f"faceprint_requests_total"
                           f"{_labels(route=route, method=method, status=str(status))} {n}")
            out += ["# HELP faceprint_request_seconds Request latency.",
                    "# TYPE faceprint_request_seconds histogram"]
            for route, b in sorted(self.latency_buckets.items()):
                for edge, n in zip(BUCKETS, b):
                    out.append(f"faceprint_request_seconds_bucket"
                               f"{_labels(route=route, le=repr(edge))} {n}")
                out.append(f"faceprint_request_seconds_bucket{_labels(route=route, le='+Inf')} "
                           f"{self.latency_count[route]}")
                out.append(f"faceprint_request_seconds_sum{_labels(route=route)} "
                           f"{self.latency_sum[route]:.6f}")
                out.append(f"faceprint_request_seconds_count{_labels(route=route)} "
                           f"{self.latency_count[route]}")
            out += ["# HELP faceprint_faces_total Faces found in request images.",
                    "# TYPE faceprint_faces_total counter"]
            for route, n in sorted(self.faces.items()):
                out.append(f"faceprint_faces_total{_labels(route=route)} {n}")
            out += ["# HELP faceprint_errors_total Error answers by API shape and error code.",
                    "# TYPE faceprint_errors_total counter"]
            for (api, code), n in sorted(self.errors.items()):
                out.append(f"faceprint_errors_total{_labels(api=api, code=code)} {n}")
        return "\n".join(out) + "\n"
