"""The `memento` command: argument parsing and output formatting over the Memento API, nothing more."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
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
    c.add_argument("--thread", help="the sequence it belongs to (a conversation, a session, a log)")
    c.add_argument("--expires-at", help="ISO-8601 time after which it is neither recalled nor listed")
    c.add_argument("--supersedes", type=int, metavar="ID", help="the memory this one replaces")
    c.add_argument("--no-dedup", action="store_true", help="store it even if the same text is stored")

    c = command("recall", _recall, "find the memories that best match a query")
    c.add_argument("query")
    c.add_argument("-k", type=int, default=10, help="how many (default 10)")
    c.add_argument("--tag", action="append", default=None, help="only memories with this tag (repeatable: all)")
    c.add_argument("--since", help="created at or after (ISO-8601)")
    c.add_argument("--until", help="created before (ISO-8601)")
    c.add_argument("--mode", choices=store.MODES, help="default: hybrid in vector tiers, keyword in minimal")
    c.add_argument("--thread", help="only memories of this thread")
    c.add_argument("--context", type=int, default=0, metavar="N",
                   help="show N memories before and after each hit in its thread")
    c.add_argument("--include-superseded", action="store_true", help="also memories another one replaced")
    c.add_argument("--half-life-days", type=float, metavar="DAYS",
                   help="recency decay: a memory's score halves every DAYS days (default: store setting)")
    c.add_argument("--as-of", help="ISO-8601 time ages are counted to (default: now)")

    c = command("get", _get, "show one memory")
    c.add_argument("id", type=int)
    c = command("forget", _forget, "delete a memory for good")
    c.add_argument("id", type=int, nargs="+")
    c = command("list", _list, "list memories, newest last")
    c.add_argument("--tag", action="append", default=None)
    c.add_argument("--thread", help="only this thread's memories, in thread order")
    c.add_argument("--limit", type=int, default=None)
    c.add_argument("--pinned", action="store_true", help="only pinned memories")
    c = command("prune", _prune, "delete memories for good: --expired deletes those past expires_at")
    c.add_argument("--expired", action="store_true", required=True, help="delete expired memories")
    c = command("dedup", _dedup, "list memories stored more than once (same text, same thread)")
    c.add_argument("--apply", action="store_true", help="merge each group into its oldest memory")
    c.add_argument("--near", type=float, metavar="COSINE",
                   help="vector tiers: list near-duplicates with cosine >= COSINE instead (listing only)")
    c = command("config", _config, "read or change a store-wide setting (half_life_days)")
    c.add_argument("action", choices=("get", "set", "unset"))
    c.add_argument("key")
    c.add_argument("value", nargs="?")
    c = command("import", _import, "import memories from a JSON Lines file (- for stdin)")
    c.add_argument("file")
    c.add_argument("--batch", type=int, default=IMPORT_BATCH, help=f"memories per transaction ({IMPORT_BATCH})")
    c.add_argument("--later", action="store_true", help="defer embedding to `memento backfill`")
    c = command("export", _export, "write all memories as JSON Lines to stdout")
    command("backfill", _backfill, "embed memories stored without a vector (vector tiers)")
    command("reembed", _reembed, "rebuild every vector with this tier's model (e.g. after a model change)")
    command("stats", _stats, "counts, sizes, tier, model")
    command("tier", _tier, "the tier memento would use here, and why")
    command("doctor", _doctor, "check that the store really works: write, search, integrity, versions")
    return p


# -- commands ------------------------------------------------------------------------------------

def _open(args) -> store.Memento:
    return store.open(args.db, tier=args.tier)


def _remember(args) -> None:
    metadata = dict(_key_value(kv) for kv in args.meta)
    with _open(args) as mem:
        memory = mem.remember(args.text, tags=args.tag, metadata=metadata, created_at=args.created_at,
                              pinned=args.pin, embed="later" if args.later else "now", thread=args.thread,
                              expires_at=args.expires_at, supersedes=args.supersedes, dedup=not args.no_dedup)
    if memory.duplicate_of is not None and not args.json:
        print(f"already remembered as {memory.duplicate_of}")
    _emit(args, [memory], columns=("id", "created_at", "tags", "text"))


def _recall(args) -> None:
    with _open(args) as mem:
        hits = mem.recall(args.query, k=args.k, tags=args.tag, since=args.since, until=args.until,
                          mode=args.mode, thread=args.thread, context=args.context,
                          include_superseded=args.include_superseded, half_life_days=args.half_life_days,
                          as_of=args.as_of)
    _emit(args, hits, columns=("id", "score", "created_at", "tags", "text"))
    if args.context and not args.json:
        for hit in hits:
            if hit.context:
                print(f"\n#{hit.id} in thread {hit.thread}:")
                for n in hit.context:
                    print(f"  {n.offset:+d} #{n.id}  {_cell(n.text)}")


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
        memories = mem.iter(tags=args.tag, thread=args.thread, pinned=True if args.pinned else None)
        if args.limit is not None:
            memories = (m for _, m in zip(range(args.limit), memories))
        _emit(args, memories, columns=("id", "created_at", "tags", "text"))


def _prune(args) -> None:
    with _open(args) as mem:
        ids = mem.prune_expired()
    if args.json:
        _print_json({"pruned": ids})
    else:
        print(f"deleted {len(ids)} expired memor{'y' if len(ids) == 1 else 'ies'}")


def _dedup(args) -> None:
    if args.apply and args.near is not None:
        raise InvalidInputError("--near only lists near-duplicates; merge them by hand (forget, update)")
    with _open(args) as mem:
        groups = mem.merge_duplicates() if args.apply else mem.duplicates(near=args.near)
    if args.json:
        for group in groups:
            sys.stdout.write(json.dumps(dataclasses.asdict(group), ensure_ascii=False) + "\n")
        return
    for group in groups:
        similar = f" (cosine >= {group.similarity})" if group.similarity is not None else ""
        print(f"#{group.keep} <- {', '.join(f'#{i}' for i in group.others)}{similar}  {_cell(group.text)}")
    extra = sum(len(g.others) for g in groups)
    verb = "merged" if args.apply else "found"
    print(f"{verb} {len(groups)} group{'s' * (len(groups) != 1)}, {extra} extra memor{'y' if extra == 1 else 'ies'}"
          + ("" if args.apply or args.near is not None or not groups else "; merge them with --apply"))


def _config(args) -> None:
    with _open(args) as mem:
        if args.action == "set" and args.value is None:
            raise InvalidInputError("config set needs a value: memento config set KEY VALUE")
        value = mem.config(args.key, args.value if args.action == "set" else None, unset=args.action == "unset")
    if args.json:
        _print_json({args.key: value})
    elif args.action == "get":
        print("(not set)" if value is None else value)
    else:
        print(f"{args.key} = {value}" if args.action == "set" else f"{args.key} unset")


def _import(args) -> None:
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
            item = {k: v for k, v in item.items()
                    if k not in ("id", "updated_at", "embedded_with", "superseded_by", "duplicate_of")}
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


def _export(args) -> None:
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
