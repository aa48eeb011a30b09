"""The cloud face API v3 shape (``/rest/2.0/face/v3/...``, ``/oauth/2.0/token``):
translation between that API's JSON and the service layer, nothing else.

Every answer is that API's envelope: ``error_code`` (0 on success), ``error_msg``,
``log_id``, ``timestamp``, ``cached``, ``result``, with its error codes (110 token
invalid, 111 expired, 6 no permission, 18 QPS limit, 222202 no face, 223103 user
not exist, ...). Unlike that API, errors also carry an HTTP 4xx/5xx status.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ...errors import (
    DuplicateError,
    FaceLimitError,
    FaceNotFoundError,
    FaceprintError,
    GalleryError,
    GroupNotFoundError,
    ImageError,
    NoFaceError,
    UsageError,
    UserNotFoundError,
)
from ...gallery.model import check_group_id
from ...types import Attributes
from ..keys import ApiKey, KeyError_, PermissionDenied
from ..limits import (
    BadRequest,
    BodyTooLarge,
    RateLimited,
    RequestTimeout,
    parse_json,
    run_limited,
)
from ..service import Found, Service
from . import schema

router = APIRouter(tags=["cloud API v3"])
PREFIX = "/rest/2.0/face/v3"
MAX_FACE_NUM = 120
FIELDS = ("age", "gender", "landmark", "landmark72", "landmark150", "quality", "angle",
          "expression", "face_shape", "glasses", "emotion", "face_type", "beauty", "eye_status",
          "race", "mask", "spoofing")


class CloudError(Exception):
    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def envelope(code: int, message: str, log_id: int, result: Any = None) -> dict[str, Any]:
    return {"error_code": code, "error_msg": message, "log_id": log_id,
            "timestamp": int(time.time()), "cached": 0, "result": result}


def envelope_bytes(code: int, message: str, log_id: int) -> bytes:
    return json.dumps(envelope(code, message, log_id)).encode()


def translate(exc: BaseException) -> CloudError:
    """A library or service error as that API's error code and an HTTP status."""
    if isinstance(exc, CloudError):
        return exc
    if isinstance(exc, KeyError_):
        if exc.reason == "missing":
            return CloudError(100, "Invalid parameter: no access_token", 401)
        if exc.reason == "expired":
            return CloudError(111, "Access token expired", 401)
        return CloudError(110, "Access token invalid or no longer valid", 401)
    if isinstance(exc, PermissionDenied):
        return CloudError(6, f"no permission to access data: {exc}", 403)
    if isinstance(exc, RateLimited):
        return CloudError(18, "Open api qps request limit reached", 429)
    if isinstance(exc, BodyTooLarge):
        return CloudError(216100, f"invalid param: {exc}", 413)
    if isinstance(exc, RequestTimeout):
        return CloudError(222302, f"system error: {exc}", 503)
    if isinstance(exc, BadRequest):
        return CloudError(exc.code or 216100, str(exc), 400)
    if isinstance(exc, ImageError):
        return CloudError(222203, f"image check fail: {exc}", 400)
    if isinstance(exc, NoFaceError):
        return CloudError(222202, "pic not has face", 400)
    if isinstance(exc, UserNotFoundError):
        return CloudError(223103, "user is not exist", 404)
    if isinstance(exc, GroupNotFoundError):
        return CloudError(223100, "group is not exist", 404)
    if isinstance(exc, FaceNotFoundError):
        return CloudError(222209, "face token not exist", 404)
    if isinstance(exc, FaceLimitError):
        return CloudError(222210, "the number of user's faces is beyond the limit", 400)
    if isinstance(exc, DuplicateError):
        if "group" in str(exc).split("already")[0] and "person" not in str(exc):
            return CloudError(223101, "group is already exist", 409)
        if str(exc).startswith("face"):
            return CloudError(223105, "face is already exist", 409)
        return CloudError(223102, "user is already exist", 409)
    if isinstance(exc, GalleryError):
        return CloudError(216100, f"invalid param: {exc}", 400)
    if isinstance(exc, FaceprintError):
        return CloudError(222302, f"system error: {exc}", exc.http_status)
    if isinstance(exc, UnicodeError):
        return CloudError(216100, "invalid param: invalid Unicode", 400)
    return CloudError(222302, "system error", 500)


def service_of(request: Request) -> Service:
    svc = request.app.state.fp.service
    if svc is None or not svc.ready:
        raise CloudError(222901, "system busy: the service is starting", 503)
    assert isinstance(svc, Service)
    return svc


def parse_body(raw: bytes, want: type = dict) -> Any:
    if not raw.strip():
        raise BadRequest("param[] is null: the request has no JSON body", code=222001)
    body = parse_json(raw, 216100, prefix="invalid param: ")
    if not isinstance(body, want):
        raise BadRequest(f"invalid param: the body must be a JSON "
                         f"{'object' if want is dict else 'array'}", code=216100)
    return body


async def call(request: Request, op: Callable[[Service, ApiKey, Any], Any], *,
               body: type | None = dict, metric_faces: bool = False) -> JSONResponse:
    """Authenticate (``?access_token=``), rate-limit, parse the JSON body, run ``op``
    in a worker thread under the request timeout, wrap the answer in the envelope."""
    state = request.app.state.fp
    log_id: int = request.state.log_id
    try:
        svc = service_of(request)
        key = svc.keys.check_token(request.query_params.get("access_token"))
        request.state.key_id = key.key_id
        state.limiter.check(key.key_id)
        raw = await request.body()
        data = parse_body(raw, body) if body is not None else None
        result = await run_limited(state.config.request_timeout_s, op, svc, key, data)
        if metric_faces and isinstance(result, dict) and "face_num" in result:
            state.metrics.add_faces(request.url.path, int(result["face_num"]))
        return JSONResponse(envelope(0, "SUCCESS", log_id, result))
    except Exception as exc:  # every failure answers in the envelope
        err = translate(exc)
        state.metrics.error("cloud_v3", str(err.code))
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        return JSONResponse(envelope(err.code, err.message, log_id), status_code=err.status,
                            headers=headers)


# -- parameters ---------------------------------------------------------------------------
def req_str(data: dict[str, Any], name: str, code: int, *, limit: int = 10_000_000) -> str:
    value = data.get(name)
    if value is None or value == "":
        raise BadRequest(f"param[{name}] is null", code=222001)
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"param[{name}] format error", code=code)
    return value


def opt_int(data: dict[str, Any], name: str, default: int, lo: int, hi: int, code: int) -> int:
    value = data.get(name, default)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, (bool, float)):
            raise ValueError
        out = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"param[{name}] format error", code=code) from None
    if not lo <= out <= hi:
        raise BadRequest(f"param[{name}] format error: {lo}-{hi}", code=code)
    return out


def group_id(data: dict[str, Any], name: str = "group_id") -> str:
    value = req_str(data, name, 222006, limit=200)
    try:
        return check_group_id(value)
    except GalleryError as exc:
        raise BadRequest(f"group_id format error: {exc}", code=222006) from None


def user_id(data: dict[str, Any]) -> str:
    value = req_str(data, "user_id", 222018, limit=200)
    if any(ord(c) < 32 for c in value) or not value.strip():
        raise BadRequest("param[user_id] format error", code=222018)
    return value


def group_list(data: dict[str, Any]) -> list[str]:
    value = req_str(data, "group_id_list", 222005, limit=10_000)
    groups = [g.strip() for g in value.split(",") if g.strip()]
    if not groups or len(groups) > 10:
        raise BadRequest("param[group_id_list] format error: 1-10 groups", code=222005)
    try:
        return [check_group_id(g) for g in groups]
    except GalleryError as exc:
        raise BadRequest(f"param[group_id_list] format error: {exc}", code=222005) from None


def controls(data: dict[str, Any]) -> bool:
    """quality_control / liveness_control. Whether the request asks for the quality
    gate: LOW, NORMAL and HIGH all apply faceprint's one quality verdict (blur, light,
    size, pose, completeness; docs/attributes.md), since it has no calibrated levels.
    liveness_control: only NONE (the opt-in liveness model's accuracy is unmeasured,
    so the service offers no liveness gate)."""
    for name, code, what in (("quality_control", 223118, "quality control error"),
                             ("liveness_control", 223119, "liveness control item error")):
        value = data.get(name, "NONE")
        if value in (None, "", "NONE"):
            continue
        if value not in ("LOW", "NORMAL", "HIGH"):
            raise BadRequest(f"param[{name}] format error", code=222019 if name[0] == "q"
                             else 222020)
        if name == "liveness_control":
            raise BadRequest(f"{what}: {name}={value} is not available in faceprint serve "
                             "(only NONE)", code=code)
    return data.get("quality_control", "NONE") not in (None, "", "NONE")


#: the cloud API's error codes for a face refused by the quality gate, by the first
#: limit faceprint's quality verdict names (faceprint.attributes.quality)
QUALITY_CODES = (("blurred", 223114, "face is fuzzy"),
                 ("too dark", 223115, "face light is not good"),
                 ("too bright", 223115, "face light is not good"),
                 ("low contrast", 223115, "face light is not good"),
                 ("cut by the border", 223116, "incomplete face"),
                 ("head turned", 223117, "face angle is wrong"),
                 ("head tilted", 223117, "face angle is wrong"))


def quality_gate(found: Found) -> None:
    """Refuse (the cloud API's 2231xx errors) a face whose quality verdict is poor."""
    attrs = found.face.attributes
    quality = attrs.quality if attrs is not None else None
    if quality is None or quality.good:
        return
    reasons = "; ".join(quality.reasons)
    for word, code, message in QUALITY_CODES:
        if word in reasons:
            raise CloudError(code, f"{message}: {reasons}", 400)
    raise CloudError(223118, f"quality control error: {reasons}", 400)


def image_bytes(data: dict[str, Any]) -> bytes:
    kind = data.get("image_type")
    if kind != "BASE64":
        raise BadRequest("param[image_type] format error", code=222015)
    text = req_str(data, "image", 222013)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("param[image] format error: not BASE64", code=222013) from None


def image_type(data: dict[str, Any]) -> str:
    kind = data.get("image_type")
    if kind == "URL":
        raise BadRequest("param[image_type] format error: URL images are not supported "
                         "(this server never fetches URLs); send BASE64 or FACE_TOKEN",
                         code=222015)
    if kind not in ("BASE64", "FACE_TOKEN"):
        raise BadRequest("param[image_type] format error: BASE64 or FACE_TOKEN", code=222015)
    return str(kind)


def query_vector(svc: Service, key: ApiKey, data: dict[str, Any], scope: str
                 ) -> tuple[Any, Found | None, str]:
    """The embedding of a request's image (largest face) or face token."""
    kind = image_type(data)
    gate = controls(data)
    if kind == "FACE_TOKEN":
        token = req_str(data, "image", 222025, limit=200)
        key.require(scope)
        return svc.token_vector(key, token), None, token
    found = svc.largest_face(key, image_bytes(data), scope, quality=gate)
    if gate:
        quality_gate(found)
    return found.embedding, found, found.token


def location(found: Found) -> dict[str, Any]:
    b = found.face.box
    roll = found.face.pose.roll if found.face.pose is not None else 0.0
    return {"left": round(b.left, 2), "top": round(b.top, 2), "width": round(b.width, 2),
            "height": round(b.height, 2), "rotation": round(roll)}


def _points(pts: Any) -> list[dict[str, float]]:
    return [{"x": round(float(x), 2), "y": round(float(y), 2)} for x, y in pts]


def face_json(found: Found, fields: list[str]) -> dict[str, Any]:
    f = found.face
    out: dict[str, Any] = {"face_token": found.token, "location": location(found),
                           "face_probability": round(min(1.0, max(0.0, float(f.score))), 4)}
    pose = f.pose
    out["angle"] = ({"yaw": round(pose.yaw, 2), "pitch": round(pose.pitch, 2),
                     "roll": round(pose.roll, 2)} if pose is not None else None)
    attributes = f.attributes
    for name in fields:
        if name == "angle":
            continue
        if name == "landmark":
            if f.landmarks is None:
                out["landmark"] = out["landmark5"] = None
            else:
                p = f.landmarks.as_array()  # five: eyes, nose, mouth corners
                mouth = (p[3] + p[4]) / 2.0
                out["landmark"] = _points([p[0], p[1], p[2], mouth])
                # faceprint's extra field: its own five points (the mouth's corners
                # where that API's four have the mouth's centre)
                out["landmark5"] = _points(p[:5])
        elif name == "landmark72":
            # dlib's 68-point iBUG layout (not that API's 72-point one): landmark72_layout says
            out["landmark72"] = (_points(found.landmarks68) if found.landmarks68 is not None
                                 else None)
            out["landmark72_layout"] = "ibug68"
        elif name in ATTRIBUTE_FIELDS and attributes is not None:
            out[name] = _attribute_json(name, attributes)
        else:
            raise BadRequest(f"param[face_field] format error: {name} is not available in "
                             f"this faceprint (available: angle, landmark, landmark72, "
                             f"{', '.join(ATTRIBUTE_FIELDS)})", code=222017)
    return out


#: face_field names answered from faceprint's attributes (``faceprint.attributes``)
ATTRIBUTE_FIELDS = {"age": "age", "gender": "gender", "emotion": "emotion",
                    "quality": "quality", "spoofing": "liveness"}


def _attribute_json(name: str, a: Attributes) -> Any:
    """One face_field in the cloud API's shape, from faceprint's attributes."""
    if name == "age":
        return None if a.age is None else round(a.age)
    if name == "gender":
        return None if a.gender is None else {"type": a.gender.value,
                                              "probability": round(a.gender.probability, 4)}
    if name == "emotion":
        if a.emotion is None:
            return None
        return {"type": a.emotion.value,
                "probability": round(dict(a.emotion.probabilities)[a.emotion.value], 4)}
    if name == "quality":
        q = a.quality
        if q is None:
            return None
        # the cloud API's keys, with faceprint's measures (docs/service.md): blur 0-1
        # (1 = blurred; from the Laplacian variance), illumination the mean grey level,
        # completeness 1 when every landmark is inside the image
        return {"blur": round(float(1.0 / (1.0 + q.blur / 100.0)), 4),
                "illumination": round(q.brightness), "completeness": int(q.completeness >= 1.0),
                "verdict": q.verdict, "reasons": list(q.reasons)}
    lv = a.liveness  # spoofing: the probability-like score of a spoof
    return None if lv is None else round(float(lv.score), 4)


def face_fields(data: dict[str, Any]) -> list[str]:
    value = data.get("face_field", "")
    if value in (None, ""):
        return []
    if not isinstance(value, str) or len(value) > 1000:
        raise BadRequest("param[face_field] format error", code=222017)
    names = [x.strip() for x in value.split(",") if x.strip()]
    bad = [n for n in names if n not in FIELDS]
    if bad:
        raise BadRequest(f"param[face_field] format error: unknown {', '.join(bad)}",
                         code=222017)
    return names


def user_info(data: dict[str, Any]) -> dict[str, object] | None:
    value = data.get("user_info")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 256:
        raise BadRequest("user_info format error: text of at most 256 characters",
                         code=222010)
    return {"user_info": value}


def info_text(info: dict[str, object]) -> str:
    value = info.get("user_info", "")
    return value if isinstance(value, str) else json.dumps(info)


# -- operations ---------------------------------------------------------------------------
def op_detect(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    kind = image_type(data)
    if kind == "FACE_TOKEN":
        raise BadRequest("param[image_type] format error: detect takes BASE64", code=222015)
    fields = face_fields(data)
    controls(data)
    max_faces = opt_int(data, "max_face_num", 1, 1, MAX_FACE_NUM, 222016)
    found = svc.find_faces(key, image_bytes(data), max_faces=max_faces, remember=True,
                           landmarks68="landmark72" in fields,
                           attributes=[ATTRIBUTE_FIELDS[n] for n in fields
                                       if n in ATTRIBUTE_FIELDS])
    if not found:
        raise NoFaceError("no face")
    return {"face_num": len(found), "face_list": [face_json(f, fields) for f in found]}


def _user_list(svc: Service, key: ApiKey, data: dict[str, Any], vector: Any, groups: list[str],
               k: int) -> list[dict[str, Any]]:
    threshold = opt_int(data, "match_threshold", 80, 0, 100, 216100)
    matches = svc.search(key, vector, groups, k)
    out = []
    for m in matches:
        sim = svc.similarity(m.distance)
        if sim.score < threshold:
            continue
        user = svc.get_user(key, m.group_id, m.name)
        out.append({"group_id": m.group_id, "user_id": m.name,
                    "user_info": info_text(user.user_info), "score": round(sim.score, 4),
                    **sim.fields()})
    return out


def op_search(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    groups = group_list(data)
    key.require("search", groups)
    k = opt_int(data, "max_user_num", 1, 1, 50, 222021)
    vector, _found, token = query_vector(svc, key, data, "search")
    if "user_id" in data:
        uid = user_id(data)
        matches = [m for m in svc.search(key, vector, groups, 50) if m.name == uid]
        sims = [svc.similarity(m.distance) for m in matches[:1]]
        users = [{"group_id": m.group_id, "user_id": m.name, "score": round(sim.score, 4),
                  "user_info": "", **sim.fields()} for m, sim in zip(matches, sims)]
    else:
        users = _user_list(svc, key, data, vector, groups, k)
        if not users:
            raise CloudError(222207, "match user is not found", 404)
    return {"face_token": token, "user_list": users}


def op_multi_search(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    groups = group_list(data)
    key.require("search", groups)
    if image_type(data) != "BASE64":
        raise BadRequest("param[image_type] format error: multi-search takes BASE64",
                         code=222015)
    controls(data)
    max_faces = opt_int(data, "max_face_num", 1, 1, 10, 222016)
    k = opt_int(data, "max_user_num", 1, 1, 50, 222021)
    found = svc.find_faces(key, image_bytes(data), max_faces=max_faces, embed=True,
                           scope="search")
    if not found:
        raise NoFaceError("no face")
    faces = []
    for f in found:
        faces.append({"face_token": f.token, "location": location(f),
                      "user_list": _user_list(svc, key, data, f.embedding, groups, k)})
    if not any(face["user_list"] for face in faces):
        raise CloudError(222207, "match user is not found", 404)
    return {"face_num": len(faces), "face_list": faces}


def op_match(svc: Service, key: ApiKey, data: list[Any]) -> dict[str, Any]:
    if len(data) != 2 or not all(isinstance(x, dict) for x in data):
        raise CloudError(222208, "the number of image is incorrect", 400)
    vectors, tokens = [], []
    for item in data:
        vector, _found, token = query_vector(svc, key, item, "search")
        vectors.append(vector)
        tokens.append(token)
    sim = svc.similarity(svc.distance(vectors[0], vectors[1]))
    return {"score": round(sim.score, 4), **sim.fields(),
            "face_list": [{"face_token": t} for t in tokens]}


def op_user_add(svc: Service, key: ApiKey, data: dict[str, Any],
                update: bool = False) -> dict[str, Any]:
    gid, uid = group_id(data), user_id(data)
    key.require("manage", [gid])
    info = user_info(data)
    action = data.get("action_type", "UPDATE" if update else "APPEND")
    if action not in (("UPDATE", "REPLACE") if update else ("APPEND", "REPLACE")):
        raise BadRequest("param[action_type] format error", code=216100)
    if image_type(data) == "FACE_TOKEN":
        vector = svc.token_vector(key, req_str(data, "image", 222025, limit=200))
        found = None
    else:
        gate = controls(data)
        found = svc.largest_face(key, image_bytes(data), "manage", quality=gate)
        if gate:
            quality_gate(found)
        assert found.embedding is not None
        vector = found.embedding
    svc.gallery.store.require_group(gid)
    if update and action == "UPDATE":
        svc.get_user(key, gid, uid)  # 223103 when missing
    records = svc.add_faces(key, gid, uid, vector[None], boxes=[found.face] if found else None,
                            user_info=info, replace=update or action == "REPLACE",
                            source="cloud_v3",
                            thumbnails=[found.thumbnail] if found else None)
    out: dict[str, Any] = {"face_token": records[0].face_token}
    if found is not None:
        out["location"] = location(found)
    return out


def op_user_update(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    return op_user_add(svc, key, data, update=True)


def op_user_get(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    uid = user_id(data)
    gid = data.get("group_id", "@ALL")
    groups = ([g.group_id for g in svc.visible_groups(key)] if gid == "@ALL"
              else [group_id(data)])
    users = []
    for g in groups:
        try:
            u = svc.get_user(key, g, uid)
        except UserNotFoundError:
            continue
        users.append({"user_info": info_text(u.user_info), "group_id": u.group_id})
    if not users:
        raise UserNotFoundError(uid)
    return {"user_list": users}


def op_user_copy(svc: Service, key: ApiKey, data: dict[str, Any]) -> None:
    uid = user_id(data)
    src, dst = group_id(data, "src_group_id"), group_id(data, "dst_group_id")
    svc.copy_user(key, uid, src, dst)


def op_user_delete(svc: Service, key: ApiKey, data: dict[str, Any]) -> None:
    svc.delete_user(key, group_id(data), user_id(data))


def op_face_delete(svc: Service, key: ApiKey, data: dict[str, Any]) -> None:
    gid, uid = group_id(data), user_id(data)
    key.require("manage", [gid])
    token = req_str(data, "face_token", 222025, limit=200)
    try:
        svc.delete_face(key, token, gid, uid)
    except FaceNotFoundError:
        raise CloudError(223106, "face is not exist", 404) from None


def op_face_getlist(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    faces = svc.list_faces(key, group_id(data), user_id(data))
    pictures = svc.thumbnails(key, faces)
    out = []
    for f in faces:
        item = {"face_token": f.face_token, "ctime": f.created.replace("T", " ")
                .rstrip("Z")[:19]}
        if f.id in pictures:  # faceprint's extra field: the face's small JPEG, base64
            item["thumbnail"] = base64.b64encode(pictures[f.id]).decode("ascii")
        out.append(item)
    return {"face_list": out}


# -- faceprint's own endpoints in this shape (/rest/2.0/face/v3/faceprint/...) -------------
def op_user_rename(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    """A new user id and/or user_info, faces and face tokens kept, in one transaction."""
    gid, uid = group_id(data), user_id(data)
    new = data.get("new_user_id")
    if new is not None:
        new = user_id({"user_id": new})
    info = user_info(data)
    if new is None and info is None:
        raise BadRequest("param[new_user_id] is null: give new_user_id or user_info",
                         code=222001)
    user = svc.rename_user(key, gid, uid, new, info)
    return {"group_id": user.group_id, "user_id": user.user_id,
            "user_info": info_text(user.user_info)}


def _key_json(k: ApiKey) -> dict[str, Any]:
    return {"key_id": k.key_id, "name": k.name, "groups": list(k.groups),
            "scopes": list(k.scopes), "created": k.created, "revoked": k.revoked}


def _names(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
            or not 0 < len(value) <= 100 or sum(len(v) for v in value) > 10_000:
        raise BadRequest(f"param[{name}] format error: a comma-separated list", code=216100)
    return [v.strip() for v in value if v.strip()]


def op_key_getlist(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    return {"key_list": [_key_json(k) for k in svc.list_keys(key)]}


def op_key_add(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise BadRequest("param[name] format error: text of at most 200 characters",
                         code=216100)
    try:
        new = svc.create_key(key, _names(data, "groups"), _names(data, "scopes"), name)
    except (UsageError, GalleryError) as exc:
        raise BadRequest(f"invalid param: {exc}", code=216100) from None
    return {**_key_json(new.key), "api_key": new.api_key, "secret_key": new.secret_key}


def op_key_delete(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    kid = req_str(data, "key_id", 216100, limit=64)
    try:
        return _key_json(svc.revoke_key(key, kid))
    except UsageError as exc:
        raise BadRequest(f"invalid param: {exc}", code=216100) from None


def _page(data: dict[str, Any], items: list[str]) -> list[str]:
    start = opt_int(data, "start", 0, 0, 10_000_000, 222002)
    length = opt_int(data, "length", 100, 1, 1000, 222003)
    return items[start:start + length]


def op_group_add(svc: Service, key: ApiKey, data: dict[str, Any]) -> None:
    svc.add_group(key, group_id(data))


def op_group_delete(svc: Service, key: ApiKey, data: dict[str, Any]) -> None:
    svc.delete_group(key, group_id(data))


def op_group_getlist(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    return {"group_id_list": _page(data, [g.group_id for g in svc.visible_groups(key)])}


def op_group_getusers(svc: Service, key: ApiKey, data: dict[str, Any]) -> dict[str, Any]:
    users = svc.users_of(key, group_id(data))
    return {"user_id_list": _page(data, [u.user_id for u in users])}


def _route(path: str, op: Callable[[Service, ApiKey, Any], Any], summary: str,
           model: type, *, body: type = dict, faces: bool = False) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return await call(request, op, body=body, metric_faces=faces)

    endpoint.__name__ = "cloud_" + path.strip("/").replace("/", "_").replace("-", "_")
    router.add_api_route(PREFIX + path, endpoint, methods=["POST"], summary=summary,
                         response_model=schema.Envelope,
                         openapi_extra=schema.request_body(model, array=body is list),
                         responses=schema.ERRORS)


_route("/detect", op_detect, "Detect faces", schema.DetectRequest, faces=True)
_route("/search", op_search, "1:N search in groups", schema.SearchRequest)
_route("/multi-search", op_multi_search, "M:N search", schema.MultiSearchRequest)
_route("/match", op_match, "1:1 match of two images", schema.MatchImage, body=list)
_route("/faceset/user/add", op_user_add, "Add a face to a user", schema.UserAddRequest)
_route("/faceset/user/update", op_user_update, "Replace a user's faces",
       schema.UserAddRequest)
_route("/faceset/user/get", op_user_get, "A user's groups and info", schema.UserRequest)
_route("/faceset/user/copy", op_user_copy, "Copy a user to another group",
       schema.UserCopyRequest)
_route("/faceset/user/delete", op_user_delete, "Delete a user", schema.UserRequest)
_route("/faceset/face/delete", op_face_delete, "Delete a face", schema.FaceDeleteRequest)
_route("/faceset/face/getlist", op_face_getlist, "A user's faces", schema.UserRequest)
_route("/faceset/group/add", op_group_add, "Create a group", schema.GroupRequest)
_route("/faceset/group/delete", op_group_delete, "Delete a group", schema.GroupRequest)
_route("/faceset/group/getlist", op_group_getlist, "The key's groups", schema.PageRequest)
_route("/faceset/group/getusers", op_group_getusers, "A group's users",
       schema.GroupPageRequest)
_route("/faceprint/user/rename", op_user_rename,
       "faceprint: rename a user (one transaction)", schema.UserRenameRequest)
_route("/faceprint/key/getlist", op_key_getlist,
       "faceprint: the API keys of the signed-in key's groups", schema.KeyListRequest)
_route("/faceprint/key/add", op_key_add,
       "faceprint: create an API key (its secret is shown once)", schema.KeyAddRequest)
_route("/faceprint/key/delete", op_key_delete, "faceprint: revoke an API key",
       schema.KeyDeleteRequest)


_TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": schema.TokenResponse}, 401: {"model": schema.TokenError},
    400: {"model": schema.TokenError}, 503: {"model": schema.TokenError}}


@router.get("/oauth/2.0/token", response_model=None, responses=_TOKEN_RESPONSES,
            operation_id="oauth_token_get")
@router.post("/oauth/2.0/token", response_model=None, responses=_TOKEN_RESPONSES,
             operation_id="oauth_token_post")
async def oauth_token(request: Request, grant_type: str | None = None,
                      client_id: str | None = None,
                      client_secret: str | None = None) -> JSONResponse:
    """An access token for an API key pair (``client_id`` = api_key, ``client_secret`` =
    secret_key), valid ``expires_in`` seconds; send it as ``?access_token=``."""
    state = request.app.state.fp
    svc = state.service
    if svc is None or not svc.ready:
        return JSONResponse({"error": "temporarily_unavailable",
                             "error_description": "the service is starting"}, status_code=503)
    if grant_type != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type",
                             "error_description": "The authorization grant type is not "
                                                  "supported"}, status_code=400)
    try:
        key = await run_limited(state.config.request_timeout_s, svc.keys.check_secret,
                                client_id, client_secret)
    except KeyError_ as exc:
        request.state.key_id = "-"
        desc = ("unknown client id" if exc.reason in ("missing", "invalid") and
                "secret" not in str(exc) else "Client authentication failed")
        return JSONResponse({"error": "invalid_client", "error_description": desc},
                            status_code=401)
    except FaceprintError as exc:
        return JSONResponse({"error": "invalid_request", "error_description": str(exc)},
                            status_code=503)
    request.state.key_id = key.key_id
    ttl = state.config.token_ttl_s
    token = svc.keys.issue_token(key, ttl)
    scopes = " ".join(["public", "brain_all_scope", *[f"faceprint_{s}" for s in key.scopes]])
    return JSONResponse({"access_token": token, "expires_in": ttl, "scope": scopes,
                         "refresh_token": "", "session_key": "", "session_secret": ""})
