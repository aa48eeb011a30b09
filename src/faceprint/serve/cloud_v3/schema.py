"""The cloud shape's request and response documents, for the OpenAPI document only:
the endpoints parse bodies themselves, so that a malformed one is answered with
that API's error codes rather than FastAPI's 422."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ImageType = Literal["BASE64", "FACE_TOKEN", "URL"]
Control = Literal["NONE", "LOW", "NORMAL", "HIGH"]


class Envelope(BaseModel):
    error_code: int = Field(description="0 on success, else that API's error code")
    error_msg: str
    log_id: int
    timestamp: int
    cached: int
    result: Any = None


class ImageRequest(BaseModel):
    image: str = Field(description="BASE64 image, or a face token (image_type FACE_TOKEN)")
    image_type: ImageType = Field(description="URL is refused: the server never fetches URLs")
    quality_control: Control = "NONE"
    liveness_control: Control = "NONE"


class DetectRequest(ImageRequest):
    face_field: str = Field("", description="comma-separated: angle, landmark, landmark72 "
                                            "(68 iBUG points), and attributes where available")
    max_face_num: int = Field(1, ge=1, le=120)
    face_type: str = "LIVE"


class SearchRequest(ImageRequest):
    group_id_list: str = Field(description="1-10 groups, comma-separated")
    user_id: str | None = None
    max_user_num: int = Field(1, ge=1, le=50)
    match_threshold: int = Field(80, ge=0, le=100)


class MultiSearchRequest(SearchRequest):
    max_face_num: int = Field(1, ge=1, le=10)


class MatchImage(ImageRequest):
    face_type: str = "LIVE"


class UserAddRequest(ImageRequest):
    group_id: str
    user_id: str
    user_info: str | None = Field(None, max_length=256)
    action_type: Literal["APPEND", "REPLACE", "UPDATE"] | None = None


class UserRequest(BaseModel):
    user_id: str
    group_id: str


class UserCopyRequest(BaseModel):
    user_id: str
    src_group_id: str
    dst_group_id: str


class FaceDeleteRequest(UserRequest):
    face_token: str


class GroupRequest(BaseModel):
    group_id: str


class PageRequest(BaseModel):
    start: int = Field(0, ge=0)
    length: int = Field(100, ge=1, le=1000)


class GroupPageRequest(PageRequest):
    group_id: str


class UserRenameRequest(UserRequest):
    new_user_id: str | None = Field(None, description="the new user id (faces kept)")
    user_info: str | None = Field(None, max_length=256)


class KeyListRequest(BaseModel):
    pass


class KeyAddRequest(BaseModel):
    groups: str = Field(description="comma-separated; each one of the signed-in key's")
    scopes: str = Field(description="comma-separated detect, search, manage; each one of "
                                    "the signed-in key's")
    name: str = Field("", max_length=200)


class KeyDeleteRequest(BaseModel):
    key_id: str


class TokenResponse(BaseModel):
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str = ""
    session_key: str = ""
    session_secret: str = ""


class TokenError(BaseModel):
    error: str
    error_description: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Envelope, "description": text} for code, text in (
        (400, "bad request (error_code says which)"),
        (401, "missing, invalid or expired access token (100, 110, 111)"),
        (403, "the key lacks the scope or group (6)"),
        (404, "no such group, user or face"), (409, "exists already"),
        (413, "body too large"), (429, "rate limit (18); Retry-After"),
        (503, "starting, or the request timed out"))}


def request_body(model: type[BaseModel], *, array: bool = False) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    content = ({"type": "array", "items": schema, "minItems": 2, "maxItems": 2} if array
               else schema)
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": content}}},
            "parameters": [{"name": "access_token", "in": "query", "required": True,
                            "schema": {"type": "string"},
                            "description": "from /oauth/2.0/token"}]}
