"""``faceprint group add|list|delete`` and ``faceprint gallery export|import|migrate``,
and the ``--group`` option of the gallery commands (enroll, people, faces, forget,
rename, identify: ``gallery.py``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..gallery.model import DEFAULT_GROUP
from ._common import add_db_arg, add_subcommands, gallery, print_json

if TYPE_CHECKING:
    from ._common import Subparsers


def add_group_arg(p: argparse.ArgumentParser, *, several: bool = False) -> None:
    if several:
        p.add_argument("--group", default=DEFAULT_GROUP, metavar="G1,G2",
                       help="search only these groups, comma-separated (default "
                            f"{DEFAULT_GROUP})")
    else:
        p.add_argument("--group", default=DEFAULT_GROUP, metavar="G",
                       help=f"the group (default {DEFAULT_GROUP})")


def cmd_group_add(args: argparse.Namespace) -> int:
    with gallery(args) as g:
        group = g.add_group(args.group_id)
    print(f"added group {group.group_id} to {args.db}")
    return 0


def cmd_group_list(args: argparse.Namespace) -> int:
    with gallery(args) as g:
        groups = g.groups()
    if args.json:
        print_json({"groups": [x.to_dict() for x in groups]})
    else:
        for x in groups:
            print(f"{x.group_id}: {x.user_count} user{'s' if x.user_count != 1 else ''}, "
                  f"{x.face_count} face{'s' if x.face_count != 1 else ''}")
    return 0


def cmd_group_delete(args: argparse.Namespace) -> int:
    with gallery(args) as g:
        users = g.group(args.group_id).user_count
        faces = g.delete_group(args.group_id)
    print(f"deleted group {args.group_id} with {users} user{'s' if users != 1 else ''} and "
          f"{faces} face{'s' if faces != 1 else ''}")
    return 0


def _counts(c: dict[str, int]) -> str:
    return f"{c['group']} groups, {c['user']} users, {c['face']} faces"


def cmd_export(args: argparse.Namespace) -> int:
    from ..gallery.transfer import export_parquet

    with gallery(args) as g:
        counts = export_parquet(g, args.out)
    print(f"exported {_counts(counts)} to {args.out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..gallery.transfer import import_parquet

    with gallery(args) as g:
        counts = import_parquet(g, args.file)
    print(f"imported {_counts(counts)} into {args.db}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from ..gallery.transfer import migrate

    counts = migrate(args.src, args.dst)
    print(f"copied {_counts(counts)} from {args.src} to {args.dst}")
    return 0


def register(subparsers: Subparsers) -> None:
    """Adds ``group`` and ``gallery`` to the ``faceprint`` command."""
    p = subparsers.add_parser("group", help="groups of users: add, list, delete")
    sub = add_subcommands(p, "group_command", "ACTION")
    q = sub.add_parser("add", help="add a group")
    q.add_argument("group_id", metavar="GROUP")
    add_db_arg(q)
    q.set_defaults(func=cmd_group_add)
    q = sub.add_parser("list", help="list the groups with their user and face counts")
    add_db_arg(q)
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_group_list)
    q = sub.add_parser("delete", help="delete a group, its users and their faces")
    q.add_argument("group_id", metavar="GROUP")
    add_db_arg(q)
    q.set_defaults(func=cmd_group_delete)

    p = subparsers.add_parser("gallery", help="export, import or migrate a whole gallery")
    sub = add_subcommands(p, "gallery_command", "ACTION")
    q = sub.add_parser("export", help="every record and vector to a Parquet file")
    q.add_argument("out", metavar="FILE.parquet")
    add_db_arg(q)
    q.set_defaults(func=cmd_export)
    q = sub.add_parser("import", help="add an export's records (one transaction)")
    q.add_argument("file", metavar="FILE.parquet")
    add_db_arg(q)
    q.set_defaults(func=cmd_import)
    q = sub.add_parser("migrate", help="copy every record of gallery SRC into DST")
    q.add_argument("src", metavar="SRC")
    q.add_argument("dst", metavar="DST")
    q.set_defaults(func=cmd_migrate)
