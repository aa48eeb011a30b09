"""CompreFace's REST shape (``/api/v1/...``): translation between its requests (``x-api-key``
header, multipart ``file`` or JSON base64 ``{"file": ...}``, query options ``limit``,
``det_prob_threshold``, ``prediction_count``, ``face_plugins``, ``status``) and the
service layer, nothing else. A CompreFace key is one "service": its first group
(``default`` for a key of every group). Similarity is the service's score / 100
(0.8 at the embedder's calibrated threshold). Errors: ``{"message", "code"}`` with
401 (no, bad or revoked key), 403 (scope or group), 400/404/409/413/429.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ...errors import (
    DuplicateError,
    FaceNotFoundError,
    FaceprintError,
    GalleryError,
    ImageError,
    NoFaceError,
    PersonNotFoundError,
)
from ...gallery.model import DEFAULT_GROUP
from ..keys import ALL_GROUPS, ApiKey, KeyError_, PermissionDenied
from ..limits import (
    BadRequest,
    BodyTooLarge,
    RateLimited,
    RequestTimeout,
    parse_json,
    run_limited,
)
from ..service import Found, Service

router = APIRouter(tags=["CompreFace"])
V1 = "/api/v1"
PLUGINS = ("landmarks", "calculator", "age", "gender", "mask", "pose")


class CfError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def translate(exc: BaseException) -> CfError:
    if isinstance(exc, CfError):
        return exc
    if isinstance(exc, KeyError_):
        what = {"missing": "Missing header: x-api-key", "revoked": "API key revoked",
                "expired": "API key expired"}.get(exc.reason, "Invalid API key")
        return CfError(401, 401, what)
    if isinstance(exc, PermissionDenied):
        return CfError(403, 403, f"Forbidden: {exc}")
    if isinstance(exc, RateLimited):
        return CfError(429, 429, str(exc))
    if isinstance(exc, BodyTooLarge):
        return CfError(413, 413, str(exc))
    if isinstance(exc, RequestTimeout):
        return CfError(503, 503, str(exc))
    if isinstance(exc, BadRequest):
        return CfError(400, exc.code or 400, str(exc))
    if isinstance(exc, NoFaceError):
        return CfError(400, 28, "No face is found in the given image")
    if isinstance(exc, ImageError):
        return CfError(400, 400, f"Bad image: {exc}")
    if isinstance(exc, PersonNotFoundError):
        return CfError(404, 404, "Subject not found")
    if isinstance(exc, FaceNotFoundError):
        return CfError(404, 404, "Face example not found")
    if isinstance(exc, DuplicateError):
        return CfError(409, 409, f"Subject already exists: {exc}")
    if isinstance(exc, GalleryError):
        return CfError(400, 400, str(exc))
    if isinstance(exc, FaceprintError):
        return CfError(exc.http_status, exc.http_status, str(exc))
    if isinstance(exc, UnicodeError):
        return CfError(400, 400, "invalid Unicode")
    return CfError(500, 500, "internal error")


def key_group(key: ApiKey) -> str:
    """The CompreFace "service" of a key: its first group."""
    g = key.groups[0]
    return DEFAULT_GROUP if g == ALL_GROUPS else g


class Call:
    """What an operation gets: the service, the key, its group, the query options and
    the request's images (by field name)."""

    def __init__(self, svc: Service, key: ApiKey, query: dict[str, str],
                 images: dict[str, bytes], body: Any) -> None:
        self.svc, self.key, self.query, self.images, self.body = svc, key, query, images, body
        self.group = key_group(key)

    def image(self, name: str = "file") -> bytes:
        if name not in self.images:
            raise BadRequest(f"Required request part '{name}' is not present", code=400)
        return self.images[name]

    def number(self, name: str, default: float, lo: float, hi: float,
               integer: bool = False) -> float:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a number", code=400) from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise BadRequest(f"{name} must be in {lo:g}..{hi:g}", code=400)
        return value

    def text(self, name: str, required: bool = True) -> str:
        value = self.query.get(name, "")
        if required and not value.strip():
            raise BadRequest(f"Required parameter '{name}' is not present", code=400)
        return value

    def plugins(self) -> list[str]:
        raw = self.query.get("face_plugins", "")
        names = [x.strip() for x in raw.split(",") if x.strip()]
        bad = [n for n in names if n not in PLUGINS]
        if bad:
            raise BadRequest(f"unknown face plugin {', '.join(bad)}", code=400)
        return names

    def status(self) -> bool:
        return self.query.get("status", "false").lower() == "true"


async def _images(request: Request, names: tuple[str, ...]) -> tuple[dict[str, bytes], Any]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=4, max_fields=16)
        except Exception as exc:
            raise BadRequest(f"bad multipart body: {type(exc).__name__}", code=400) from None
        out = {}
        for n in names:
            item = form.get(n)
            if item is not None and not isinstance(item, str):
                out[n] = await item.read()
        return out, None
    raw = await request.body()
    if not raw.strip():
        return {}, None
    body = parse_json(raw, 400, not_json="the body is neither multipart nor JSON")
    out = {}
    if isinstance(body, dict):
        for n in names:
            value = body.get(n)
            if value is None:
                continue
            if not isinstance(value, str):
                raise BadRequest(f"{n} must be a base64 string", code=400)
            try:
                out[n] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"{n} is not base64", code=400) from None
    return out, body


async def call(request: Request, op: Callable[[Call], Any], *,
               images: tuple[str, ...] = (), status: int = 200) -> JSONResponse:
    state = request.app.state.fp
    try:
        svc = state.service
        if svc is None or not svc.ready:
            raise CfError(503, 503, "the service is starting")
        key = svc.keys.by_api_key(request.headers.get("x-api-key"))
        request.state.key_id = key.key_id
        state.limiter.check(key.key_id)
        files, body = await _images(request, images) if request.method in ("POST", "PUT") \
            else ({}, None)
        query = {k: v for k, v in request.query_params.items()}
        ctx = Call(svc, key, query, files, body)
        result = await run_limited(state.config.request_timeout_s, op, ctx)
        return JSONResponse(result, status_code=status)
    except Exception as exc:
        err = translate(exc)
        state.metrics.error("compreface", str(err.code))
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        return JSONResponse({"message": err.message, "code": err.code},
                            status_code=err.status, headers=headers)


# -- shapes ---------------------------------------------------------------------------------
def box(found: Found) -> dict[str, Any]:
    b = found.face.box
    return {"probability": round(min(1.0, max(0.0, float(found.face.score))), 5),
            "x_min": round(b.left), "y_min": round(b.top), "x_max": round(b.right),
            "y_max": round(b.bottom)}


def face_json(c: Call, found: Found, plugins: list[str], t0: float) -> dict[str, Any]:
    out: dict[str, Any] = {"box": box(found)}
    attributes = getattr(found.face, "attributes", None)  # the attributes issue's hook
    for p in plugins:
        if p == "landmarks":
            lm = found.face.landmarks
            out["landmarks"] = ([[round(float(x)), round(float(y))] for x, y in lm.as_array()]
                                if lm is not None else [])
        elif p == "calculator":
            out["embedding"] = ([round(float(v), 6) for v in found.embedding]
                                if found.embedding is not None else [])
        elif p == "pose" and found.face.pose is not None:
            out["pose"] = found.face.pose.as_dict()
        elif isinstance(attributes, dict) and p in attributes:
            out[p] = attributes[p]
        else:
            raise BadRequest(f"face plugin {p} is not available in this faceprint "
                             "(available: landmarks, calculator, pose)", code=400)
    if c.status():
        out["execution_time"] = {"detector": round((time.perf_counter() - t0) * 1000, 1)}
    return out


def _found(c: Call, image: bytes, limit: int, embed: bool, scope: str) -> list[Found]:
    threshold = c.number("det_prob_threshold", 0.0, 0.0, 1.0)
    found = c.svc.find_faces(c.key, image, max_faces=limit or c.svc.config.max_faces,
                             embed=embed, scope=scope)
    found = [f for f in found if f.face.score >= threshold]
    if not found:
        raise NoFaceError("no face")
    return found


def plugins_versions(plugins: list[str], svc: Service) -> dict[str, str]:
    out = {"detector": svc.pipeline.detector_name}
    if "calculator" in plugins:
        out["calculator"] = svc.embedder
    return out


def op_recognize(c: Call) -> dict[str, Any]:
    t0 = time.perf_counter()
    plugins = c.plugins()
    limit = int(c.number("limit", 0, 0, 1000, integer=True))
    count = int(c.number("prediction_count", 1, 1, 100, integer=True))
    c.key.require("search", [c.group])
    found = _found(c, c.image(), limit, True, "search")
    result = []
    exists = _has_group(c)  # a service with no subjects yet has no group yet
    for f in found:
        assert f.embedding is not None
        matches = c.svc.search(c.key, f.embedding, [c.group], count) if exists else []
        item = face_json(c, f, plugins, t0)
        item["subjects"] = [{"subject": m.name, "similarity": round(c.svc.score(m.distance)
                                                                      / 100.0, 5)}
                            for m in matches]
        result.append(item)
    return {"result": result, "plugins_versions": plugins_versions(plugins, c.svc)}


def op_detect(c: Call) -> dict[str, Any]:
    t0 = time.perf_counter()
    plugins = c.plugins()
    limit = int(c.number("limit", 0, 0, 1000, integer=True))
    found = _found(c, c.image(), limit, "calculator" in plugins, "detect")
    return {"result": [face_json(c, f, plugins, t0) for f in found],
            "plugins_versions": plugins_versions(plugins, c.svc)}


def op_verify_images(c: Call) -> dict[str, Any]:
    t0 = time.perf_counter()
    plugins = c.plugins()
    limit = int(c.number("limit", 0, 0, 1000, integer=True))
    source = _found(c, c.image("source_image"), 1, True, "search")[0]
    targets = _found(c, c.image("target_image"), limit, True, "search")
    assert source.embedding is not None
    matches = []
    for t in targets:
        assert t.embedding is not None
        item = face_json(c, t, plugins, t0)
        item["similarity"] = round(c.svc.score(c.svc.distance(source.embedding, t.embedding))
                                   / 100.0, 5)
        matches.append(item)
    matches.sort(key=lambda m: -m["similarity"])
    return {"result": [{"source_image_face": face_json(c, source, plugins, t0),
                        "face_matches": matches}],
            "plugins_versions": plugins_versions(plugins, c.svc)}


def op_add_example(c: Call) -> dict[str, Any]:
    subject = c.text("subject")
    c.key.require("manage", [c.group])
    found = _found(c, c.image(), 1, True, "manage")[0]
    assert found.embedding is not None
    c.svc.ensure_group(c.key, c.group)
    record = c.svc.add_faces(c.key, c.group, subject, found.embedding[None], boxes=[found.face],
                             source="compreface", thumbnails=[found.thumbnail])[0]
    return {"image_id": record.face_token, "subject": record.user_id}


def op_list_examples(c: Call) -> dict[str, Any]:
    subject = c.text("subject", required=False)
    page = int(c.number("page", 0, 0, 1e9, integer=True))
    size = int(c.number("size", 20, 1, 1000, integer=True))
    c.key.require("search", [c.group])
    faces = []
    users = ([c.svc.get_user(c.key, c.group, subject)] if subject
             else c.svc.users_of(c.key, c.group) if _has_group(c) else [])
    for u in users:
        faces += [{"image_id": f.face_token, "subject": f.user_id}
                  for f in c.svc.list_faces(c.key, c.group, u.user_id)]
    total = len(faces)
    return {"faces": faces[page * size:(page + 1) * size], "page_number": page,
            "page_size": size, "total_pages": (total + size - 1) // size,
            "total_elements": total}


def _has_group(c: Call) -> bool:
    return any(g.group_id == c.group for g in c.svc.visible_groups(c.key))


def op_delete_examples(c: Call) -> dict[str, Any]:
    subject = c.text("subject")
    c.key.require("manage", [c.group])
    n = 0
    for f in c.svc.list_faces(c.key, c.group, subject):
        c.svc.delete_face(c.key, f.face_token, c.group)
        n += 1
    return {"deleted": n}


def op_delete_example(c: Call, image_id: str) -> dict[str, Any]:
    record = c.svc.face(c.key, image_id)
    if record.group_id != c.group:
        raise FaceNotFoundError(image_id)
    c.svc.delete_face(c.key, image_id, c.group)
    return {"image_id": record.face_token, "subject": record.user_id}


def op_verify_example(c: Call, image_id: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    plugins = c.plugins()
    limit = int(c.number("limit", 0, 0, 1000, integer=True))
    record = c.svc.face(c.key, image_id)
    if record.group_id != c.group:
        raise FaceNotFoundError(image_id)
    c.key.require("search", [c.group])
    vector = c.svc.token_vector(c.key, image_id)
    result = []
    for f in _found(c, c.image(), limit, True, "search"):
        assert f.embedding is not None
        item = face_json(c, f, plugins, t0)
        item["subject"] = record.user_id
        item["similarity"] = round(c.svc.score(c.svc.distance(vector, f.embedding)) / 100.0, 5)
        result.append(item)
    return {"result": result, "plugins_versions": plugins_versions(plugins, c.svc)}


def _subject_body(c: Call) -> str:
    body = c.body
    if not isinstance(body, dict) or not isinstance(body.get("subject"), str) \
            or not body["subject"].strip():
        raise BadRequest("the body must be JSON {\"subject\": \"name\"}", code=400)
    return str(body["subject"])


def op_add_subject(c: Call) -> dict[str, Any]:
    subject = _subject_body(c)
    c.svc.ensure_group(c.key, c.group)
    user = c.svc.add_user(c.key, c.group, subject)
    return {"subject": user.user_id}


def op_list_subjects(c: Call) -> dict[str, Any]:
    c.key.require("search", [c.group])
    users = c.svc.users_of(c.key, c.group) if _has_group(c) else []
    return {"subjects": [u.user_id for u in users]}


def op_rename_subject(c: Call, subject: str) -> dict[str, Any]:
    new = _subject_body(c)
    c.svc.update_user(c.key, c.group, subject, new_user_id=new)
    return {"updated": True}


def op_delete_subject(c: Call, subject: str) -> dict[str, Any]:
    c.svc.delete_user(c.key, c.group, subject)
    return {"subject": subject}


def op_delete_subjects(c: Call) -> dict[str, Any]:
    c.key.require("manage", [c.group])
    users = c.svc.users_of(c.key, c.group) if _has_group(c) else []
    for u in users:
        c.svc.delete_user(c.key, c.group, u.user_id)
    return {"deleted": len(users)}


# -- routes -----------------------------------------------------------------------------------
class CfErrorModel(BaseModel):
    message: str
    code: int


class Base64File(BaseModel):
    file: str = Field(description="the image, base64")


class Base64Pair(BaseModel):
    source_image: str
    target_image: str


class SubjectBody(BaseModel):
    subject: str


_ERRS: dict[int | str, dict[str, Any]] = {
    s: {"model": CfErrorModel} for s in (400, 401, 403, 404, 409, 413, 429, 503)}


def _image_body(pair: bool = False) -> dict[str, Any]:
    props = ({"source_image": {"type": "string", "format": "binary"},
              "target_image": {"type": "string", "format": "binary"}} if pair
             else {"file": {"type": "string", "format": "binary"}})
    model = Base64Pair if pair else Base64File
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": props,
                                           "required": list(props)}},
        "application/json": {"schema": model.model_json_schema()}}}}


_QUERY = {"limit", "det_prob_threshold", "prediction_count", "face_plugins", "status",
          "subject", "page", "size"}


def _params(*names: str) -> list[dict[str, Any]]:
    kinds = {"limit": "integer", "prediction_count": "integer", "page": "integer",
             "size": "integer", "det_prob_threshold": "number", "status": "boolean"}
    return [{"name": n, "in": "query", "required": False,
             "schema": {"type": kinds.get(n, "string")}} for n in names if n in _QUERY]


def _add(path: str, method: str, fn: Any, summary: str, *, body: dict[str, Any] | None = None,
         query: tuple[str, ...] = (), status: int = 200) -> None:
    extra: dict[str, Any] = dict(body or {})
    params = _params(*query)
    params.append({"name": "x-api-key", "in": "header", "required": True,
                   "schema": {"type": "string"}})
    extra["parameters"] = params
    fn.__name__ = "cf_" + summary.lower().replace(" ", "_").replace("'", "")
    router.add_api_route(V1 + path, fn, methods=[method], summary=summary,
                         openapi_extra=extra, responses=_ERRS, status_code=status)


_IMG = ("limit", "det_prob_threshold", "face_plugins", "status")


async def recognize(request: Request) -> JSONResponse:
    return await call(request, op_recognize, images=("file",))


async def detect(request: Request) -> JSONResponse:
    return await call(request, op_detect, images=("file",))


async def verify(request: Request) -> JSONResponse:
    return await call(request, op_verify_images, images=("source_image", "target_image"))


async def add_example(request: Request) -> JSONResponse:
    return await call(request, op_add_example, images=("file",), status=201)


async def list_examples(request: Request) -> JSONResponse:
    return await call(request, op_list_examples)


async def delete_examples(request: Request) -> JSONResponse:
    return await call(request, op_delete_examples)


async def delete_example(request: Request, image_id: str) -> JSONResponse:
    return await call(request, lambda c: op_delete_example(c, image_id))


async def verify_example(request: Request, image_id: str) -> JSONResponse:
    return await call(request, lambda c: op_verify_example(c, image_id), images=("file",))


async def add_subject(request: Request) -> JSONResponse:
    return await call(request, op_add_subject, status=201)


async def list_subjects(request: Request) -> JSONResponse:
    return await call(request, op_list_subjects)


async def rename_subject(request: Request, subject: str) -> JSONResponse:
    return await call(request, lambda c: op_rename_subject(c, subject))


async def delete_subject(request: Request, subject: str) -> JSONResponse:
    return await call(request, lambda c: op_delete_subject(c, subject))


async def delete_subjects(request: Request) -> JSONResponse:
    return await call(request, op_delete_subjects)


_SUBJECT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": SubjectBody.model_json_schema()}}}}

_add("/recognition/recognize", "POST", recognize, "Recognize faces", body=_image_body(),
     query=(*_IMG, "prediction_count"))
_add("/detection/detect", "POST", detect, "Detect faces", body=_image_body(), query=_IMG)
_add("/verification/verify", "POST", verify, "Verify two images",
     body=_image_body(pair=True), query=_IMG)
_add("/recognition/faces", "POST", add_example, "Add an example", body=_image_body(),
     query=("subject", "det_prob_threshold"), status=201)
_add("/recognition/faces", "GET", list_examples, "List examples",
     query=("subject", "page", "size"))
_add("/recognition/faces", "DELETE", delete_examples, "Delete a subject's examples",
     query=("subject",))
_add("/recognition/faces/{image_id}", "DELETE", delete_example, "Delete an example")
_add("/recognition/faces/{image_id}/verify", "POST", verify_example,
     "Verify against an example", body=_image_body(), query=_IMG)
_add("/recognition/subjects", "POST", add_subject, "Add a subject", body=_SUBJECT_BODY,
     status=201)
_add("/recognition/subjects", "GET", list_subjects, "List subjects")
_add("/recognition/subjects/{subject}", "PUT", rename_subject, "Rename a subject",
     body=_SUBJECT_BODY)
_add("/recognition/subjects/{subject}", "DELETE", delete_subject, "Delete a subject")
_add("/recognition/subjects", "DELETE", delete_subjects, "Delete every subject")
