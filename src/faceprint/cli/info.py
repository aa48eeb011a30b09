"""``faceprint info``: versions, models, their sources and hashes, engine."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._common import print_json

if TYPE_CHECKING:
    from ._common import Subparsers


def cmd_info(args: argparse.Namespace) -> int:
    from ..info import collect

    info = collect()
    if args.json:
        print_json(info)
        return 0
    print(f"faceprint {info['faceprint']} on Python {info['python']} ({info['platform']})")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    print(f"engine: ONNX Runtime {info['providers']['onnxruntime']}, providers "
          f"{', '.join(info['providers']['chosen'])} "
          f"(available: {', '.join(info['providers']['available'])}); "
          f"{info['threads']} threads; NVIDIA GPU "
          f"{'present' if info['providers']['gpu_present'] else 'not seen'}; BlazeFace on "
          f"{'LiteRT' if info['blazeface_engine'] == 'litert' else 'OpenCV DNN'}")
    print(f"defaults: detector {info['defaults']['detector']}, "
          f"embedder {info['defaults']['embedder']}")
    print(f"detectors: {', '.join(info['detectors'])}")
    print(f"embedders: {', '.join(info['embedders'])}")
    print("models:")
    for key, m in info["models"].items():
        if m["path"]:
            print(f"  {key:16} {m['size_mb']:7.1f} MB  sha256 {m['sha256'][:16]}  {m['path']}")
        else:
            print(f"  {key:16} MISSING: {m.get('error', 'not installed: ' + m['install'])}")
        if m.get("licence"):
            print(f"  {'':16} licence: {m['licence']}")
    print(f"cache: {info['cache']}")
    for name, path in info["onnx_conversions"].items():
        print(f"  converted {name}: {path}")
    return 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser("info", help="versions, models, their sources and hashes, engine")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
