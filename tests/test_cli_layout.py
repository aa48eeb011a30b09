"""The command line is a layer on top: no module of the library imports
``faceprint.cli`` (the old ``cli.py`` <-> ``eval/cli.py`` cycle is gone), and every
command is registered by one module of the ``cli`` package."""

from __future__ import annotations

import ast
from pathlib import Path

import faceprint
from faceprint.cli import build_parser

SRC = Path(faceprint.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the faceprint modules ``path`` imports (relative ones resolved)."""
    package = ".".join(("faceprint", *path.relative_to(SRC).with_suffix("").parts))
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + "._"  # so that level 1 means the package
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def test_no_library_module_imports_the_cli() -> None:
    offenders = {}
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] == "cli":
            continue
        bad = {m for m in imported_modules(path)
               if m == "faceprint.cli" or m.startswith("faceprint.cli.")}
        if bad:
            offenders[str(path.relative_to(SRC))] = sorted(bad)
    assert offenders == {}


def test_the_import_resolver_sees_the_cli_imports() -> None:
    """The check above can fail: it finds the cli package's own imports of itself."""
    names = imported_modules(SRC / "cli" / "__init__.py")
    assert "faceprint.cli._common" in names and "faceprint.cli.detect" in names
    assert "faceprint.eval.fit" in imported_modules(SRC / "cli" / "eval.py")


def test_every_command_comes_from_a_module_of_the_cli_package() -> None:
    parser = build_parser()
    [group] = [a for a in parser._actions if a.dest == "command"]
    commands = group.choices
    assert isinstance(commands, dict)
    assert set(commands) == {"detect", "embed", "info", "compare", "enroll", "people", "faces",
                             "forget", "rename", "identify", "eval", "train", "export",
                             "group", "gallery", "serve", "keys", "cluster", "figure",
                             "video", "index"}
    for name, sub in commands.items():
        func = sub.get_default("func")
        if func is None:  # eval: a group of benchmarks
            continue
        assert func.__module__.startswith("faceprint.cli."), (name, func.__module__)
