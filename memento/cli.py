"""The `memento` command: argument parsing and output formatting over the Memento API, nothing more."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence

from . import __version__, store, tiers
from .errors import InvalidInputError, MementoError
from .progress import Progress

IMPORT_BATCH = 500


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except MementoError as e:
        print(f"memento: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `memento export | head`
        return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", help="store file (default: $MEMENTO_DB, else "
                        "~/.local/share/memento/memento.db)")
    common.add_argument("--tier", choices=tiers.TIERS, help="override the tier (default: auto)")
    common.add_argument("--json", action="store_true", help="machine-readable JSON output")

    p = argparse.ArgumentParser(prog="memento", description="Long-term memory for AI agents, in one SQLite file.")
    p.add_argument("--version", action="version", version=f"memento {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run, help: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, parents=[common], help=help, description=help)
        c.set_defaults(run=run)
        return c

    c = command("remember", _remember, "store a memory")
    c.add_argument("text")
    c.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    c.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata (repeatable)")
    c.add_argument("--created-at", help="ISO-8601 time the memory is about (default: now)")
    c.add_argument("--pin", action="store_true", help="mark the memory as pinned")
    c.add_argument("--later", action="store_true", help="defer embedding to `memento backfill`")

    c = command("recall", _recall, "find the memories that best match a query")
    c.add_argument("query")
    c.add_argument("-k", type=int, default=10, help="how many (default 10)")
    c.add_argument("--tag", action="append", default=None, help="only memories with this tag (repeatable: all)")
    c.add_argument("--since", help="created at or after (ISO-8601)")
    c.add_argument("--until", help="created before (ISO-8601)")
    c.add_argument("--mode", choices=store.MODES, help="default: hybrid in vector tiers, keyword in minimal")

    c = command("get", _get, "show one memory")
    c.add_argument("id", type=int)
    c = command("forget", _forget, "delete a memory for good")
    c.add_argument("id", type=int, nargs="+")
    c = command("list", _list, "list memories, newest last")
    c.add_argument("--tag", action="append", default=None)
    c.add_argument("--limit", type=int, default=None)
    c = command("import", _import, "import memories from a JSON Lines file (- for stdin) or an OpenClaw workspace")
    c.add_argument("file", nargs="?", help="JSON Lines file, - for stdin, or an OpenClaw workspace folder "
                   "(--format openclaw default: ~/.openclaw/workspace)")
    c.add_argument("--format", choices=("jsonl", "openclaw"), help="default: openclaw for a folder holding "
                   "MEMORY.md, memory.md or memory/, else jsonl")
    c.add_argument("--prune", action="store_true", help="openclaw: forget chunks of files that were deleted")
    c.add_argument("--strict", action="store_true", help="openclaw: an unreadable file aborts the import")
    c.add_argument("--batch", type=int, default=IMPORT_BATCH, help=f"memories per transaction ({IMPORT_BATCH})")
    c.add_argument("--later", action="store_true", help="defer embedding to `memento backfill`")
    c = command("export", _export, "write all memories as JSON Lines to stdout, or as Markdown day files")
    c.add_argument("--format", choices=("jsonl", "markdown"), default="jsonl")
    c.add_argument("--out", metavar="DIR", help="markdown: the folder that gets memory/YYYY-MM-DD.md files")
    c.add_argument("--tag", action="append", default=None, help="markdown: only memories with this tag (all)")
    c.add_argument("--since", help="markdown: created at or after (ISO-8601)")
    c.add_argument("--until", help="markdown: created before (ISO-8601)")
    command("backfill", _backfill, "embed memories stored without a vector (vector tiers)")
    command("reembed", _reembed, "rebuild every vector with this tier's model (e.g. after a model change)")
    command("stats", _stats, "counts, sizes, tier, model")
    command("tier", _tier, "the tier memento would use here, and why")
    command("doctor", _doctor, "check that the store really works: write, search, integrity, versions")
    c = sub.add_parser("mcp", help="serve the store to an AI agent over MCP (stdin/stdout)",
                       description="Model Context Protocol server on stdin/stdout for one client (Claude Code, "
                                   "Claude Desktop, Cursor, OpenClaw...). Logs go to stderr.")
    c.add_argument("--db", metavar="PATH", help="store file (default: $MEMENTO_DB, else "
                   "~/.local/share/memento/memento.db)")
    c.add_argument("--tier", choices=tiers.TIERS, help="override the tier (default: $MEMENTO_TIER, else auto)")
    c.set_defaults(run=_mcp)
    return p


# -- commands ------------------------------------------------------------------------------------

def _open(args) -> store.Memento:
    return store.open(args.db, tier=args.tier)


def _remember(args) -> None:
    metadata = dict(_key_value(kv) for kv in args.meta)
    with _open(args) as mem:
        memory = mem.remember(args.text, tags=args.tag, metadata=metadata, created_at=args.created_at,
                              pinned=args.pin, embed="later" if args.later else "now")
    _emit(args, [memory], columns=("id", "created_at", "tags", "text"))


def _recall(args) -> None:
    with _open(args) as mem:
        hits = mem.recall(args.query, k=args.k, tags=args.tag, since=args.since, until=args.until, mode=args.mode)
    _emit(args, hits, columns=("id", "score", "created_at", "tags", "text"))


def _get(args) -> None:
    with _open(args) as mem:
        memory = mem.get(args.id)
    if args.json:
        _print_json(memory)
        return
    for field, value in dataclasses.asdict(memory).items():
        print(f"{field:>13}: {_cell(value, wide=True)}")


def _forget(args) -> None:
    with _open(args) as mem:
        for memory_id in args.id:
            mem.forget(memory_id)
    if args.json:
        _print_json({"forgotten": args.id})
    else:
        print(f"forgot {len(args.id)} memor{'y' if len(args.id) == 1 else 'ies'}")


def _list(args) -> None:
    with _open(args) as mem:
        memories = mem.iter(tags=args.tag)
        if args.limit is not None:
            memories = (m for _, m in zip(range(args.limit), memories))
        _emit(args, memories, columns=("id", "created_at", "tags", "text"))


def _import(args) -> None:
    if _import_format(args) == "openclaw":
        return _import_openclaw(args)
    if args.file is None:
        raise InvalidInputError("import needs a file (JSON Lines, - for stdin) or an OpenClaw workspace folder")
    with _open(args) as mem:
        items = _read_jsonl(sys.stdin if args.file == "-" else open(args.file, encoding="utf-8"), mem.dim)
        with Progress(len(items), "import") as bar:
            for start in range(0, len(items), max(1, args.batch)):
                batch = items[start:start + args.batch]
                mem.remember_many(batch, embed="later" if args.later else "now")
                bar.advance(len(batch))
    if args.json:
        _print_json({"imported": len(items)})


def _read_jsonl(lines: Iterable[str], dim: Optional[int]) -> List[dict]:
    """Parse and validate every line before anything is written: a bad line imports nothing."""
    items = []
    with_lines = lines
    for number, line in enumerate(with_lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"line {number}: not JSON ({e})") from None
        if isinstance(item, dict):
            # An export's own fields are recomputed on import.
            item = {k: v for k, v in item.items() if k not in ("id", "updated_at", "embedded_with")}
        try:
            store.prepare_item(item, dim)
        except InvalidInputError as e:
            raise InvalidInputError(f"line {number}: {e}") from None
        items.append(item)
    return items


def _backfill(args) -> None:
    with _open(args) as mem:
        with Progress(mem.stats().pending_embeddings, "backfill") as bar:
            done = mem.backfill(progress=bar.advance)
    if args.json:
        _print_json({"embedded": done})


def _reembed(args) -> None:
    with store.open(args.db, tier=args.tier, reembed=True) as mem:
        with Progress(mem.count(), f"reembed ({mem.tier})") as bar:
            done = mem.reembed(progress=bar.advance)
    if args.json:
        _print_json({"embedded": done})


def _import_format(args) -> str:
    from .formats import openclaw
    if args.format is not None:
        return args.format
    return "openclaw" if args.file not in (None, "-") and openclaw.is_workspace(args.file) else "jsonl"


def _import_openclaw(args) -> int:
    from .formats import openclaw
    root = openclaw.default_workspace() if args.file is None else Path(args.file).expanduser()
    with _open(args) as mem:
        files = sum(1 for _, skip in openclaw.find_files(root) if skip is None) if root.is_dir() else 0
        with Progress(files, "openclaw import") as bar:
            summary = openclaw.import_workspace(mem, root, prune=args.prune, strict=args.strict,
                                                embed="later" if args.later else "now", progress=bar.advance)
    if args.json:
        _print_json(summary)
    else:
        print(f"{summary.files} files: {summary.added} chunks added, {summary.unchanged} unchanged, "
              f"{summary.replaced} replaced, {summary.removed} removed")
    for skipped in summary.skipped:
        print(f"memento: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    return 0


def _export_markdown(args) -> None:
    from . import validate
    from .formats import markdown
    if not args.out:
        raise InvalidInputError("export --format markdown needs --out DIR")
    since, until = validate.time_window(args.since, args.until)
    with _open(args) as mem:
        summary = markdown.export((m for m in mem.iter(tags=args.tag) if markdown.in_window(m, since, until)),
                                  Path(args.out))
    if args.json:
        _print_json(summary)
    else:
        print(f"wrote {summary.memories} memories in {summary.files} files under {summary.out}")


def _export(args) -> None:
    if args.format == "markdown":
        return _export_markdown(args)
    with _open(args) as mem:
        for memory in mem.iter():
            sys.stdout.write(json.dumps(dataclasses.asdict(memory), ensure_ascii=False) + "\n")


def _stats(args) -> None:
    with _open(args) as mem:
        stats = mem.stats()
    if args.json:
        _print_json(stats)
        return
    for field, value in dataclasses.asdict(stats).items():
        print(f"{field:>18}: {value}")


def _tier(args) -> None:
    hardware = tiers.read_hardware()
    detected = tiers.detect_hardware_tier(hardware)
    choice = tiers.resolve(args.tier)
    installed = [t for t in tiers.TIERS if not tiers.missing_packages(t)]
    if args.json:
        _print_json({"tier": choice.tier, "source": choice.source, "reason": choice.reason,
                     "detected": detected, "installed": installed, "hardware": dataclasses.asdict(hardware)})
        return
    print(f"tier: {choice.tier}  ({choice.source}: {choice.reason})")
    print(f"hardware: {hardware.ram_bytes / tiers.GIB:.1f} GiB RAM ({hardware.ram_source}), "
          f"{hardware.cpu_count} CPUs, {hardware.machine} -> {detected}")
    print(f"installed tiers: {', '.join(installed)}")


def _mcp(args) -> int:
    from . import mcp  # the server module loads only for this command
    return mcp.main(args.db, args.tier)


def _doctor(args) -> int:
    import apsw
    import platform
    with _open(args) as mem:
        checks = mem.doctor()
        info = {"memento": __version__, "python": platform.python_version(), "apsw": apsw.apsw_version(),
                "sqlite": apsw.sqlite_lib_version(), "store": str(mem.path), "tier": mem.tier,
                "tier_reason": f"{mem.tier_choice.source}: {mem.tier_choice.reason}"}
    failed = [c for c in checks if not c.ok]
    if args.json:
        _print_json({"ok": not failed, "info": info, "checks": checks})
    else:
        for key, value in info.items():
            print(f"{key:>12}: {value}")
        for c in checks:
            print(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
    return 1 if failed else 0


# -- output --------------------------------------------------------------------------------------

def _key_value(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidInputError(f"--meta takes KEY=VALUE, not {text!r}")
    return key, value


def _jsonable(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def _print_json(value: Any) -> None:
    if isinstance(value, list):
        value = [_jsonable(v) for v in value]
    print(json.dumps(_jsonable(value), ensure_ascii=False, indent=None if isinstance(value, list) else 2))


def _emit(args, records: Iterable[Any], columns: Sequence[str]) -> None:
    """JSON Lines with --json; otherwise an aligned table, text cut to the terminal's width."""
    if args.json:
        for record in records:
            sys.stdout.write(json.dumps(_jsonable(record), ensure_ascii=False) + "\n")
        return
    rows = [[_cell(getattr(r, c)) for c in columns] for r in records]
    if not rows:
        print("(nothing)")
        return
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns[:-1])]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)) + "  " + columns[-1])
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])


def _cell(value: Any, wide: bool = False) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).replace("\n", " ")
    return text if wide or len(text) <= 100 else text[:99] + "…"


if __name__ == "__main__":
    sys.exit(main())
