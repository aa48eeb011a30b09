"""API keys and access tokens.

A key is a pair: ``api_key`` (the cloud shape's ``client_id``, CompreFace's
``x-api-key``; 128 random bits) and ``secret_key`` (the cloud shape's
``client_secret``). Both are shown once, at creation. The file keeps only
SHA-256 of the api_key (a random 128-bit value needs no salt: it is looked up
by its hash) and a salted scrypt hash of the secret. Each key carries the
groups it may see and change and its scopes (``detect``, ``search``,
``manage``).

Access tokens (cloud shape) are stateless: ``fp1.<key id>.<expiry>.<nonce>.<mac>``
signed with HMAC-SHA256 by a random server secret kept in the same file, so
every worker process accepts the tokens any of them issued; a revoked key's
tokens stop working at once (the key is looked up on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FaceprintError, UsageError

SCOPES = ("detect", "search", "manage")
ALL_GROUPS = "*"
_SCRYPT: dict[str, int] = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,          -- first 12 hex digits of sha256(api_key)
    key_hash TEXT NOT NULL UNIQUE,    -- sha256(api_key), hex
    secret_salt BLOB NOT NULL,
    secret_hash BLOB NOT NULL,        -- scrypt(secret_key, salt)
    groups TEXT NOT NULL,             -- JSON list ("*": every group)
    scopes TEXT NOT NULL,             -- JSON list
    name TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    revoked TEXT                      -- when revoked; NULL while valid
);
CREATE TABLE IF NOT EXISTS server_secret (id INTEGER PRIMARY KEY CHECK (id = 1),
                                          secret BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS detected_faces (
    face_token TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    embedder TEXT NOT NULL,
    vector BLOB NOT NULL,
    expires REAL NOT NULL
);
"""


class KeyError_(FaceprintError):  # "KeyError" is a builtin
    """A key or token is missing, unknown, revoked or expired."""

    http_status = 401

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason  # missing | invalid | expired | revoked


class PermissionDenied(FaceprintError):
    """A valid key asked for a scope or group it does not hold."""

    http_status = 403


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    groups: tuple[str, ...]
    scopes: tuple[str, ...]
    name: str = ""
    created: str = ""
    revoked: str | None = None

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    def sees(self, group: str) -> bool:
        return ALL_GROUPS in self.groups or group in self.groups

    def require(self, scope: str, groups: tuple[str, ...] | list[str] = ()) -> None:
        if not self.can(scope):
            raise PermissionDenied(f"this key has no {scope!r} scope")
        for g in groups:
            if not self.sees(g):
                raise PermissionDenied(f"this key may not use group {g!r}")

    def to_dict(self) -> dict[str, object]:
        return {"key_id": self.key_id, "groups": list(self.groups), "scopes": list(self.scopes),
                "name": self.name, "created": self.created, "revoked": self.revoked}


@dataclass
class NewKey:
    api_key: str
    secret_key: str
    key: ApiKey = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"api_key": self.api_key, "secret_key": self.secret_key,
                "groups": list(self.key.groups), "scopes": list(self.key.scopes),
                "key_id": self.key.key_id}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def parse_list(text: str | list[str] | tuple[str, ...], what: str,
               allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    items = text.split(",") if isinstance(text, str) else list(text)
    out = tuple(dict.fromkeys(x.strip() for x in items if x.strip()))
    if not out:
        raise UsageError(f"give at least one {what}")
    if allowed is not None:
        bad = [x for x in out if x not in allowed]
        if bad:
            raise UsageError(f"unknown {what} {', '.join(bad)} (choose from "
                             f"{', '.join(allowed)})")
    return out


class KeyStore:
    """The keys' SQLite file (WAL; safe to share between worker processes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                     check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.executescript(_SCHEMA)
            self._conn.execute("INSERT OR IGNORE INTO server_secret (id, secret) VALUES (1, ?)",
                               (secrets.token_bytes(32),))
            self._secret: bytes = self._conn.execute(
                "SELECT secret FROM server_secret WHERE id = 1").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- keys ---------------------------------------------------------------------------
    def create(self, groups: str | list[str] | tuple[str, ...],
               scopes: str | list[str] | tuple[str, ...], name: str = "") -> NewKey:
        group_t = parse_list(groups, "group")
        scope_t = parse_list(scopes, "scope", SCOPES)
        api_key = secrets.token_hex(16)
        secret = secrets.token_urlsafe(24)
        salt = secrets.token_bytes(16)
        digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
        key_hash = _sha(api_key)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys (key_id, key_hash, secret_salt, secret_hash, groups, "
                "scopes, name, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key_hash[:12], key_hash, salt, digest, json.dumps(group_t), json.dumps(scope_t),
                 name, created))
        return NewKey(api_key, secret, ApiKey(key_hash[:12], group_t, scope_t, name, created))

    @staticmethod
    def _row(row: tuple[object, ...]) -> ApiKey:
        return ApiKey(str(row[0]), tuple(json.loads(str(row[1]))), tuple(json.loads(str(row[2]))),
                      str(row[3]), str(row[4]), None if row[5] is None else str(row[5]))

    _COLS = "key_id, groups, scopes, name, created, revoked"

    def list_keys(self) -> list[ApiKey]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {self._COLS} FROM api_keys ORDER BY created, "
                                      "key_id").fetchall()
        return [self._row(r) for r in rows]

    def revoke(self, key: str) -> ApiKey:
        """Revoke by key id (as ``keys list`` shows it) or by the api_key itself."""
        kid = _sha(key)[:12] if len(key) == 32 else key
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._lock:
            cur = self._conn.execute("UPDATE api_keys SET revoked = ? WHERE key_id = ? AND "
                                     "revoked IS NULL", (now, kid))
            if cur.rowcount == 0:
                row = self._conn.execute("SELECT 1 FROM api_keys WHERE key_id = ?",
                                         (kid,)).fetchone()
                raise UsageError(f"no key {key!r}" if row is None
                                 else f"key {key!r} is revoked already")
            row = self._conn.execute(f"SELECT {self._COLS} FROM api_keys WHERE key_id = ?",
                                     (kid,)).fetchone()
        return self._row(row)

    def by_key_id(self, key_id: str) -> ApiKey:
        with self._lock:
            row = self._conn.execute(f"SELECT {self._COLS} FROM api_keys WHERE key_id = ?",
                                     (key_id,)).fetchone()
        if row is None:
            raise KeyError_("unknown key", "invalid")
        key = self._row(row)
        if key.revoked is not None:
            raise KeyError_("this key was revoked", "revoked")
        return key

    def by_api_key(self, api_key: str | None) -> ApiKey:
        """The key of an ``x-api-key`` / ``client_id``; KeyError_ when missing, unknown
        or revoked."""
        if not api_key:
            raise KeyError_("no API key given", "missing")
        if len(api_key) > 200:
            raise KeyError_("unknown API key", "invalid")
        with self._lock:
            row = self._conn.execute(f"SELECT {self._COLS} FROM api_keys WHERE key_hash = ?",
                                     (_sha(api_key),)).fetchone()
        if row is None:
            raise KeyError_("unknown API key", "invalid")
        key = self._row(row)
        if key.revoked is not None:
            raise KeyError_("this API key was revoked", "revoked")
        return key

    def check_secret(self, api_key: str | None, secret: str | None) -> ApiKey:
        key = self.by_api_key(api_key)
        if not secret or len(secret) > 200:
            raise KeyError_("wrong client secret", "invalid")
        with self._lock:
            salt, digest = self._conn.execute(
                "SELECT secret_salt, secret_hash FROM api_keys WHERE key_id = ?",
                (key.key_id,)).fetchone()
        got = hashlib.scrypt(secret.encode("utf-8", "surrogatepass"), salt=salt,
                             **_SCRYPT)
        if not hmac.compare_digest(got, digest):
            raise KeyError_("wrong client secret", "invalid")
        return key

    # -- access tokens -------------------------------------------------------------------
    def _mac(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:32]

    def issue_token(self, key: ApiKey, ttl_s: int, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + ttl_s)
        body = f"fp1.{key.key_id}.{expiry}.{secrets.token_hex(4)}"
        return f"{body}.{self._mac(body)}"

    def check_token(self, token: str | None, now: float | None = None) -> ApiKey:
        if not token:
            raise KeyError_("no access_token given", "missing")
        parts = token.split(".")
        if len(parts) != 5 or parts[0] != "fp1" or len(token) > 200:
            raise KeyError_("access token invalid", "invalid")
        body, mac = ".".join(parts[:4]), parts[4]
        if not hmac.compare_digest(self._mac(body), mac):
            raise KeyError_("access token invalid", "invalid")
        if not parts[2].isdigit() or int(parts[2]) < (time.time() if now is None else now):
            raise KeyError_("access token expired", "expired")
        return self.by_key_id(parts[1])

    # -- transient face tokens of detect ------------------------------------------------
    def remember_faces(self, key: ApiKey, embedder: str, tokens: list[str],
                       vectors: list[bytes], ttl_s: float = 24 * 3600) -> None:
        expires = time.time() + ttl_s
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM detected_faces WHERE expires < ?",
                                   (time.time(),))
                self._conn.executemany(
                    "INSERT OR REPLACE INTO detected_faces VALUES (?, ?, ?, ?, ?)",
                    [(t, key.key_id, embedder, v, expires) for t, v in zip(tokens, vectors)])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def detected_face(self, key: ApiKey, token: str, embedder: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT vector FROM detected_faces WHERE face_token = ? AND key_id = ? AND "
                "embedder = ? AND expires >= ?", (token, key.key_id, embedder,
                                                  time.time())).fetchone()
        return None if row is None else bytes(row[0])
