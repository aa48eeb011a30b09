"""``faceprint serve`` (the REST service, docs/service.md) and ``faceprint keys
create|list|revoke`` (its API keys)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from ..errors import UsageError
from ._common import add_db_arg, add_subcommands, print_json

if TYPE_CHECKING:
    from ._common import Subparsers


def _keys_path(args: argparse.Namespace) -> str:
    from ..serve.config import default_keys_path

    return str(args.keys_db) if getattr(args, "keys_db", None) else default_keys_path(args.db)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..serve.config import ServeConfig

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.port < 0 or args.port > 65535:
        raise UsageError("--port must be 0-65535")
    from ..registry import preset

    chosen = preset(args.preset)  # --detector / --embedder, when given, win
    config = ServeConfig(db=str(args.db), keys_db=args.keys_db,
                         detector=args.detector or chosen.detector,
                         embedder=args.embedder or chosen.embedder, flip=chosen.flip,
                         max_body_bytes=args.max_body,
                         max_faces=args.max_faces, max_pixels=args.max_pixels,
                         max_user_faces=args.max_user_faces,
                         rate_per_second=args.rate,
                         rate_burst=args.burst, request_timeout_s=args.timeout,
                         token_ttl_s=args.token_ttl)
    import os

    os.environ["FACEPRINT_SERVE_CONFIG"] = config_json(config)
    # each worker process gets its share of the cores for its models' threads (as batch
    # workers do), not every core each: W workers x all cores oversubscribed the CPU
    if not os.environ.get("FACEPRINT_THREADS"):
        from ..runtime import default_threads

        os.environ["FACEPRINT_THREADS"] = str(max(1, default_threads() // args.workers))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = "faceprint.serve.app:app_from_env"
    if args.workers == 1:
        uvicorn.run(app, factory=True, host=args.host, port=args.port, log_level="warning",
                    timeout_graceful_shutdown=10, access_log=False)
        return 0
    from uvicorn.supervisors import Multiprocess

    from ..serve.nodelay import NoDelayConfig  # see there: uvicorn.run's socket, Nagle on

    server = NoDelayConfig(app, factory=True, host=args.host, port=args.port,
                           workers=args.workers, log_level="warning",
                           timeout_graceful_shutdown=10, access_log=False)
    Multiprocess(server, sockets=[server.bind_socket()]).run()
    return 0


def config_json(config: object) -> str:
    import dataclasses
    import json

    return json.dumps(dataclasses.asdict(config))  # type: ignore[call-overload]


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ..serve.keys import KeyStore

    return KeyStore(_keys_path(args))


def cmd_keys_create(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        new = store.create(args.groups, args.scopes, name=args.name)
    finally:
        store.close()
    if args.json:
        print_json(new.to_dict())
    else:
        print(f"api_key:    {new.api_key}\nsecret_key: {new.secret_key}\n"
              f"key id:     {new.key.key_id}\ngroups:     {','.join(new.key.groups)}\n"
              f"scopes:     {','.join(new.key.scopes)}\n"
              "(the secret is shown only now; it is stored as a salted hash)")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        keys = store.list_keys()
    finally:
        store.close()
    if args.json:
        print_json({"keys": [k.to_dict() for k in keys]})
    else:
        for k in keys:
            state = f"revoked {k.revoked}" if k.revoked else "active"
            print(f"{k.key_id}  groups={','.join(k.groups)}  scopes={','.join(k.scopes)}  "
                  f"{state}  {k.name}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        key = store.revoke(args.key)
    finally:
        store.close()
    print(f"revoked key {key.key_id}")
    return 0


def _add_keys_db(p: argparse.ArgumentParser) -> None:
    add_db_arg(p)
    p.add_argument("--keys-db", default=None, metavar="PATH",
                   help="the API keys' file (default: the gallery's path + .keys)")


def register(sub: Subparsers) -> None:
    from ..registry import DEFAULT_DETECTOR, DEFAULT_EMBEDDER, PRESETS, SERVE_PRESET

    p = sub.add_parser("serve", help="run the REST face API (cloud v3 and CompreFace shapes)",
                       description="Serve the gallery over HTTP: the cloud face API v3 shape "
                                   "and CompreFace's REST shape (docs/service.md).")
    _add_keys_db(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (each loads "
                                                           "the models once)")
    p.add_argument("--preset", choices=tuple(PRESETS), default=SERVE_PRESET,
                   help="the pipeline: " + "; ".join(f"{k}: {v.detector} + {v.embedder}"
                                                    for k, v in PRESETS.items())
                   + f" (default {SERVE_PRESET}; docs/service.md)")
    p.add_argument("--detector", default=None,
                   help="overrides the preset's detector (library default "
                        f"{DEFAULT_DETECTOR})")
    p.add_argument("--embedder", default=None,
                   help="overrides the preset's embedder (library default "
                        f"{DEFAULT_EMBEDDER})")
    p.add_argument("--max-body", type=int, default=10 * 1024 * 1024, metavar="BYTES",
                   help="largest request body (413 above)")
    p.add_argument("--max-faces", type=int, default=20, help="most faces per image")
    p.add_argument("--max-user-faces", type=int, default=20,
                   help="most faces one user may hold")
    p.add_argument("--max-pixels", type=int, default=40_000_000,
                   help="largest image, width x height (the loader's limit)")
    p.add_argument("--rate", type=float, default=50.0, help="requests/s per key and worker "
                                                             "(0: no limit)")
    p.add_argument("--burst", type=int, default=100, help="rate limiter's burst")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
    p.add_argument("--token-ttl", type=int, default=30 * 24 * 3600,
                   help="access tokens' lifetime, s")
    p.set_defaults(func=cmd_serve)

    k = sub.add_parser("keys", help="API keys of faceprint serve",
                       description="Create, list and revoke API keys of faceprint serve.")
    ks = add_subcommands(k, "keys_command", "ACTION")
    c = ks.add_parser("create", help="create a key (its secret is printed once)")
    _add_keys_db(c)
    c.add_argument("--groups", required=True, metavar="G1,G2",
                   help="groups the key may use ('*': every group)")
    c.add_argument("--scopes", default="detect,search", metavar="S1,S2",
                   help="detect, search, manage (default detect,search)")
    c.add_argument("--name", default="", help="a note shown by keys list")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_keys_create)
    lst = ks.add_parser("list", help="the keys (never their secrets)")
    _add_keys_db(lst)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_keys_list)
    r = ks.add_parser("revoke", help="revoke a key (by key id or api_key)")
    _add_keys_db(r)
    r.add_argument("key")
    r.set_defaults(func=cmd_keys_revoke)
