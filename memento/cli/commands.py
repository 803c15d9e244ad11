"""The `memento` commands: each one's arguments and its handler over the Memento API, nothing more.
How results are shown (tables, --json, terminal escaping) is memento/cli/output.py."""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, List, Optional, Sequence

import apsw

from .. import __version__, store, tiers, validate
from ..errors import InvalidInputError, MementoError, MemoryNotFoundError
from ..formats import jsonl
from . import output
from .progress import Progress

IMPORT_BATCH = store.STREAM_BATCH

def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except MementoError as e:
        print(f"memento: error: {e}", file=sys.stderr)
        return 1
    except apsw.Error as e:   # a damaged page met by a read the library did not translate
        print(f"memento: error: SQLite {type(e).__name__}: {e}. Run `memento doctor` on the store",
              file=sys.stderr)
        return 1
    except BrokenPipeError:  # `memento export | head`
        return 0
    except OSError as e:     # writing the output failed: a full disk, a file size limit
        if not _output_failed(e):
            raise
        print(f"memento: error: cannot write the output: {e.strerror or e}", file=sys.stderr)
        return 1


def _output_failed(e: OSError) -> bool:
    """An error writing to stdout (every command's output goes there); others are not ours to word."""
    import errno
    return e.errno in (errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EDQUOT, errno.EROFS)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]   # declares the command's own arguments
    run: Callable[[argparse.Namespace], Optional[int]]


# Every command in the order `memento --help` lists them, each registered by @command next to its
# arguments and its handler.
COMMANDS: List[Command] = []


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda c: None):
    """Register the decorated handler as `memento NAME`, with the function that declares its arguments."""
    def register(run: Callable[[argparse.Namespace], Optional[int]]):
        COMMANDS.append(Command(name, help, arguments, run))
        return run
    return register


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="memento", description="Long-term memory for AI agents, in one SQLite file.")
    p.add_argument("--version", action="version", version=f"memento {__version__}")
    _common_options(p, None)
    # The same options after the command; there they only count when given (SUPPRESS), so
    # `memento --db X recall ...` (as git and docker allow) and `memento recall ... --db X` both work.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS:
        c = sub.add_parser(cmd.name, parents=[common], help=cmd.help, description=cmd.help)
        cmd.arguments(c)
        c.set_defaults(run=cmd.run)
    c = sub.add_parser("mcp", help="serve the store to an AI agent over MCP (stdin/stdout)",
                       description="Model Context Protocol server on stdin/stdout for one client (Claude Code, "
                                   "Claude Desktop, Cursor, OpenClaw...). Logs go to stderr.")
    c.add_argument("--db", metavar="PATH", help="store file (default: $MEMENTO_DB, else "
                   "~/.local/share/memento/memento.db)")
    c.add_argument("--tier", choices=tiers.TIERS, help="override the tier (default: $MEMENTO_TIER, else auto)")
    c.set_defaults(run=_mcp)
    return p


def _common_options(parser: argparse.ArgumentParser, default) -> None:
    """--db, --tier and --json; default None/False before the command, SUPPRESS after it."""
    parser.add_argument("--db", metavar="PATH", default=default, help="store file (default: $MEMENTO_DB, else "
                        "~/.local/share/memento/memento.db)")
    parser.add_argument("--tier", choices=tiers.TIERS + tuple(tiers.ALIASES), default=default,
                        help="override the tier (default: auto; fast = full)")
    parser.add_argument("--json", action="store_true", default=False if default is None else default,
                        help="machine-readable JSON output")


def _int_between(low: int, high: Optional[int] = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high], refused with a message naming the range."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value
    return parse


_memory_id = _int_between(1, validate.MAX_ID)


# -- commands ------------------------------------------------------------------------------------

def _store_path(args) -> Path:
    """The store every command works on: --db, else $MEMENTO_DB, else the default path."""
    return store.store_path(args.db)


def _open(args) -> store.Memento:
    return store.open(_store_path(args), tier=args.tier)


def _remember_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("text", help="the memory; - reads it from standard input")
    c.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    c.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata (repeatable)")
    c.add_argument("--created-at", help="ISO-8601 time the memory is about (default: now)")
    c.add_argument("--pin", action="store_true", help="mark the memory as pinned")
    c.add_argument("--later", action="store_true", help="defer embedding to `memento backfill`")
    c.add_argument("--thread", help="the sequence it belongs to (a conversation, a session, a log)")
    c.add_argument("--speaker", help="who said or wrote it (a name, user, assistant)")
    c.add_argument("--expires-at", help="ISO-8601 time after which it is neither recalled nor listed")
    c.add_argument("--supersedes", type=int, metavar="ID", help="the memory this one replaces")
    c.add_argument("--no-dedup", action="store_true", help="store it even if the same text is stored")


@command("remember", "store a memory", _remember_arguments)
def _remember(args) -> None:
    metadata = dict(_key_value(kv) for kv in args.meta)
    text = sys.stdin.read().rstrip("\n") if args.text == "-" else args.text   # as `import -` reads stdin
    with _open(args) as mem:
        memory = mem.remember(text, tags=args.tag, metadata=metadata, created_at=args.created_at,
                              pinned=args.pin, embed="later" if args.later else "now", thread=args.thread,
                              expires_at=args.expires_at, supersedes=args.supersedes, dedup=not args.no_dedup,
                              speaker=args.speaker)
    if memory.duplicate_of is not None and not args.json:
        print(f"already remembered as {memory.duplicate_of}")
    output.emit(args, [memory], columns=("id", "created_at", "tags", "text"))


def _recall_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("query")
    c.add_argument("-k", type=_int_between(1, validate.MAX_K), default=10, help="how many (default 10)")
    c.add_argument("--tag", action="append", default=None, help="only memories with this tag (repeatable: all)")
    c.add_argument("--since", help="created at or after (ISO-8601)")
    c.add_argument("--until", help="created before (ISO-8601)")
    c.add_argument("--mode", choices=store.MODES, help="default: hybrid in vector tiers and pocket, keyword in minimal")
    c.add_argument("--thread", help="only memories of this thread")
    c.add_argument("--source", help="only memories whose thread starts with SOURCE/: claude-code, openclaw "
                   "(captured sessions), openclaw/AGENT")
    c.add_argument("--context", type=int, default=0, metavar="N",
                   help="show N memories before and after each hit in its thread")
    c.add_argument("--include-superseded", action="store_true", help="also memories another one replaced")
    c.add_argument("--half-life-days", type=float, metavar="DAYS",
                   help="recency decay: a memory's score halves every DAYS days (default: store setting)")
    c.add_argument("--as-of", help="ISO-8601 time ages are counted to (default: now)")
    c.add_argument("--min-score", type=float, metavar="R",
                   help="only hits whose relevance (0..1) is at least R; default: every hit, or none when "
                        "even the best is below the store's floor (nothing relevant is stored); 0: every hit")


@command("recall", "find the memories that best match a query", _recall_arguments)
def _recall(args) -> None:
    with _open(args) as mem:
        hits = mem.recall(args.query, k=args.k, tags=args.tag, since=args.since, until=args.until,
                          mode=args.mode, thread=args.thread, source=args.source, context=args.context,
                          include_superseded=args.include_superseded, half_life_days=args.half_life_days,
                          as_of=args.as_of, min_score=args.min_score)
        best = None if hits or args.min_score is not None or args.json else mem.best_relevance(
            args.query, tags=args.tag, since=args.since, until=args.until, mode=args.mode, thread=args.thread,
            source=args.source, include_superseded=args.include_superseded,
            half_life_days=args.half_life_days, as_of=args.as_of)
        floor = mem.relevance_floor(args.mode)
    if best is not None:
        print(f"(nothing relevant: the best match's relevance {best:.3f} is below this store's floor {floor:.3f}; "
              "--min-score 0 shows every match)")
        return
    # who said it and in which session, when the hits know (captured sessions, conversations)
    said = tuple(c for c in ("speaker", "thread") if any(getattr(h, c) is not None for h in hits))
    output.emit(args, hits, columns=("id", "score", "relevance", "created_at", *said, "tags", "text"))
    if args.context and not args.json:
        for hit in hits:
            if hit.context:
                print(f"\n#{hit.id} in thread {hit.thread}:")
                for n in hit.context:
                    print(f"  {n.offset:+d} #{n.id}  {output.cell(n.text)}")


def _get_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("id", type=_memory_id)


@command("get", "show one memory", _get_arguments)
def _get(args) -> None:
    with _open(args) as mem:
        memory = mem.get(args.id)
    if args.json:
        output.print_json(memory)
        return
    for field, value in dataclasses.asdict(memory).items():
        print(f"{field:>13}: {output.cell(value, wide=True)}")


def _forget_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("id", type=_memory_id, nargs="+")


@command("forget", "delete memories for good (each id is tried; missing ones are reported)", _forget_arguments)
def _forget(args) -> int:
    forgotten, missing = [], []
    with _open(args) as mem:
        for memory_id in args.id:
            try:
                mem.forget(memory_id)
                forgotten.append(memory_id)
            except MemoryNotFoundError:
                missing.append(memory_id)
    if args.json:
        output.print_json({"forgotten": forgotten, "not_found": missing})
    else:
        print(f"forgot {output.counted(len(forgotten), 'memory', 'memories')}")
    if missing:
        print(f"memento: error: no memory with id {', '.join(map(str, missing))}", file=sys.stderr)
    return 1 if missing else 0


def _list_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--tag", action="append", default=None)
    c.add_argument("--thread", help="only this thread's memories, in thread order")
    c.add_argument("--limit", type=_int_between(0), default=None, help="only the newest N (still listed newest last)")
    c.add_argument("--pinned", action="store_true", help="only pinned memories")


@command("list", "list memories, newest last", _list_arguments)
def _list(args) -> None:
    with _open(args) as mem:
        memories = mem.iter(tags=args.tag, thread=args.thread, pinned=True if args.pinned else None)
        if args.limit is not None:   # the last N in list order: the newest (a thread's latest turns)
            memories = collections.deque(memories, maxlen=args.limit)
        output.emit(args, memories, columns=("id", "created_at", "tags", "text"))


def _prune_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--expired", action="store_true", required=True, help="delete expired memories")


@command("prune", "delete memories for good: --expired deletes those past expires_at", _prune_arguments)
def _prune(args) -> None:
    with _open(args) as mem:
        ids = mem.prune_expired()
    if args.json:
        output.print_json({"pruned": ids})
    else:
        print(f"deleted {output.counted(len(ids), 'expired memory', 'expired memories')}")


def _dedup_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--apply", action="store_true", help="merge each group into its oldest memory")
    c.add_argument("--near", type=float, metavar="COSINE",
                   help="vector tiers: list near-duplicates with cosine >= COSINE instead (listing only)")


@command("dedup", "list memories stored more than once (same text, same thread)", _dedup_arguments)
def _dedup(args) -> None:
    if args.apply and args.near is not None:
        raise InvalidInputError("--near only lists near-duplicates; merge them by hand (forget, update)")
    with _open(args) as mem:
        groups = mem.merge_duplicates() if args.apply else mem.duplicates(near=args.near)
    if args.json:
        for group in groups:
            output.print_json_line(group)
        return
    for group in groups:
        similar = f" (cosine >= {group.similarity})" if group.similarity is not None else ""
        print(f"#{group.keep} <- {', '.join(f'#{i}' for i in group.others)}{similar}  {output.cell(group.text)}")
    extra = sum(len(g.others) for g in groups)
    verb = "merged" if args.apply else "found"
    print(f"{verb} {output.counted(len(groups), 'group')}, {output.counted(extra, 'extra memory', 'extra memories')}"
          + ("" if args.apply or args.near is not None or not groups else "; merge them with --apply"))


def _config_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("action", choices=("get", "set", "unset"))
    c.add_argument("key")
    c.add_argument("value", nargs="?")


@command("config", "read or change a store-wide setting (half_life_days)", _config_arguments)
def _config(args) -> None:
    with _open(args) as mem:
        if args.action == "set" and args.value is None:
            raise InvalidInputError("config set needs a value: memento config set KEY VALUE")
        value = mem.config(args.key, args.value if args.action == "set" else None, unset=args.action == "unset")
    if args.json:
        output.print_json({args.key: value})
    elif args.action == "get":
        print("(not set)" if value is None else value)
    else:
        print(f"{args.key} = {value}" if args.action == "set" else f"{args.key} unset")


def _import_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("file", nargs="?", help="JSON Lines file, - for stdin, or an OpenClaw workspace folder "
                   "(--format openclaw default: ~/.openclaw/workspace)")
    c.add_argument("--format", choices=("jsonl", "openclaw", "claude-code", "openclaw-sessions"),
                   help="default: openclaw for a folder holding MEMORY.md, memory.md or memory/, else jsonl; "
                   "claude-code / openclaw-sessions: session transcripts (a file or a folder of *.jsonl; default "
                   "~/.claude/projects / ~/.openclaw/agents), read incrementally")
    c.add_argument("--prune", action="store_true", help="openclaw: forget chunks of files that were deleted; "
                   "claude-code / openclaw-sessions: forget the memories of captured transcripts that were deleted")
    c.add_argument("--strict", action="store_true", help="openclaw: an unreadable file aborts the import")
    c.add_argument("--batch", type=_int_between(1), default=IMPORT_BATCH,
                   help=f"memories per transaction, and held in memory ({IMPORT_BATCH})")
    c.add_argument("--later", action="store_true", help="defer embedding to `memento backfill`")
    c.add_argument("--no-dedup", action="store_true", help="jsonl: store every line, even a text already stored")


@command("import", "import memories from a JSON Lines file (- for stdin) or an OpenClaw workspace", _import_arguments)
def _import(args) -> None:
    if _import_format(args) == "openclaw":
        return _import_openclaw(args)
    if args.format in ("claude-code", "openclaw-sessions"):
        from .capture import import_transcripts
        return import_transcripts(args, _open)
    if args.file is None:
        raise InvalidInputError("import needs a file (JSON Lines, - for stdin) or an OpenClaw workspace folder")
    return _import_jsonl(args)


def _import_jsonl(args) -> None:
    """A file is checked whole first (streamed, not held), so a bad line imports nothing; standard
    input cannot be read twice, so its batches before a bad line stay stored, and the error says so.
    Each line is added, merged into a memory with the same text, or skipped as a memory of this
    store already (formats/provenance.py)."""
    from ..formats import provenance
    counts = {"added": 0, "merged": 0, "skipped": 0}

    def stored(batch) -> None:
        for memory in batch:
            counts["added" if memory.duplicate_of is None else "merged"] += 1

    with _open(args) as mem, _input(args.file) as stream:
        total = None
        if stream.seekable():
            start = stream.tell()
            total = sum(1 for _ in jsonl.read(stream, mem.dim))
            stream.seek(start)
        with Progress(total, "import") as bar:
            def skipped(item) -> None:
                counts["skipped"] += 1
                bar.advance(1)

            items = provenance.not_from_this_store(mem, jsonl.read(stream, mem.dim), skipped)
            try:
                mem.remember_stream(items, batch_size=args.batch, progress=bar.advance, dedup=not args.no_dedup,
                                    embed="later" if args.later else "now", each_batch=stored)
            except MementoError as e:
                done = counts["added"] + counts["merged"]
                raise type(e)(f"{e} ({done:,} memor{'y was' if done == 1 else 'ies were'} stored before it)") from None
    if args.json:
        output.print_json(counts)
    else:
        print(f"{output.counted(sum(counts.values()), 'line')}: {counts['added']} added, "
              f"{counts['merged']} merged, {counts['skipped']} skipped")


@contextlib.contextmanager
def _input(name: str) -> Iterator[BinaryIO]:
    if name == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise InvalidInputError(f"cannot read {name}: {e.strerror or e}") from None
    with stream:
        yield stream


def _import_format(args) -> str:
    from ..formats import openclaw
    if args.format is not None:
        return args.format
    return "openclaw" if args.file not in (None, "-") and openclaw.is_workspace(args.file) else "jsonl"


def _import_openclaw(args) -> int:
    from ..formats import openclaw
    root = openclaw.default_workspace() if args.file is None else Path(args.file).expanduser()
    with _open(args) as mem:
        files = sum(1 for found in openclaw.find_files(root) if found.skip is None) if root.is_dir() else 0
        with Progress(files, "openclaw import") as bar:
            summary = openclaw.import_workspace(mem, root, prune=args.prune, strict=args.strict,
                                                embed="later" if args.later else "now", progress=bar.advance)
    if args.json:
        output.print_json(summary)
    else:
        print(f"{output.counted(summary.files, 'file')}: {output.counted(summary.added, 'chunk')} added, "
              f"{summary.unchanged} unchanged, {summary.replaced} replaced, {summary.removed} removed")
    for skipped in summary.skipped:
        print(f"memento: skipped {output.cell(skipped.path, wide=True)}: {output.cell(skipped.reason, wide=True)}",
              file=sys.stderr)
    return 0


def _export_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--format", choices=("jsonl", "markdown"), default="jsonl")
    c.add_argument("--out", metavar="DIR", help="markdown: the folder that gets memory/YYYY-MM-DD.md files")
    c.add_argument("--tag", action="append", default=None, help="markdown: only memories with this tag (all)")
    c.add_argument("--since", help="markdown: created at or after (ISO-8601)")
    c.add_argument("--until", help="markdown: created before (ISO-8601)")


@command("export", "write all memories as JSON Lines to stdout, or as Markdown day files", _export_arguments)
def _export(args) -> None:
    if args.format == "markdown":
        return _export_markdown(args)
    with _open(args) as mem:  # every memory, expired ones not pruned yet included: a backup
        jsonl.write(mem.iter(include_expired=True), sys.stdout)


def _export_markdown(args) -> None:
    from ..formats import markdown
    if not args.out:
        raise InvalidInputError("export --format markdown needs --out DIR")
    since, until = validate.time_window(args.since, args.until)
    with _open(args) as mem:
        # Markdown is what OpenClaw reads as its memory: current memories only (a replaced fact
        # would come back as a fact); JSON Lines keeps the history.
        summary = markdown.export((m for m in mem.iter(tags=args.tag)
                                   if m.superseded_by is None and markdown.in_window(m, since, until)), Path(args.out))
    if args.json:
        output.print_json(summary)
    else:
        print(f"wrote {output.counted(summary.memories, 'memory', 'memories')} in "
              f"{output.counted(summary.files, 'file')} under {output.cell(summary.out, wide=True)}")


@command("backfill", "embed memories stored without a vector (vector tiers)")
def _backfill(args) -> None:
    with _open(args) as mem:
        with Progress(mem.stats().pending_embeddings, "backfill") as bar:
            done = mem.backfill(progress=bar.advance)
    if args.json:
        output.print_json({"embedded": done})


@command("optimize", "partition a big store's vectors into cells when it has grown enough (vector tiers)")
def _optimize(args) -> None:
    with _open(args) as mem:
        cells = mem.optimize()
    if args.json:
        output.print_json({"cells": cells})
    elif cells is None:
        print("nothing to do: the vector cells are up to date (or this tier has none)")
    else:
        print(f"vectors partitioned into {output.counted(cells, 'cell')}" if cells
              else "vectors kept in one cell (too few to partition)")


@command("reembed", "rebuild every vector with this tier's model (e.g. after a model change)")
def _reembed(args) -> None:
    with store.open(_store_path(args), tier=args.tier, reembed=True) as mem:
        with Progress(mem.count(include_superseded=True, include_expired=True), f"reembed ({mem.tier})") as bar:
            done = mem.reembed(progress=bar.advance)
    if args.json:
        output.print_json({"embedded": done})


@command("stats", "counts, sizes, tier, model")
def _stats(args) -> None:
    with _open(args) as mem:
        stats = mem.stats()
    if args.json:
        output.print_json(stats)
        return
    for field, value in dataclasses.asdict(stats).items():
        print(f"{field:>18}: {value}")


@command("tier", "the tier memento would use here, and why")
def _tier(args) -> None:
    hardware = tiers.read_hardware()
    detected = tiers.detect_hardware_tier(hardware)
    path = _store_path(args)
    recorded = store.recorded_tier(path)  # what open() would resolve against; nothing is created
    choice = tiers.resolve(args.tier, stored=recorded)
    installed = [t for t in tiers.TIERS if not tiers.missing_packages(t)]
    if args.json:
        output.print_json({"tier": choice.tier, "source": choice.source, "reason": choice.reason, "store": str(path),
                     "recorded": recorded, "detected": detected, "installed": installed,
                     "hardware": dataclasses.asdict(hardware)})
        return
    print(f"tier: {choice.tier}  ({choice.source}: {choice.reason})")
    print(f"store: {path} (recorded tier: {recorded or 'none'})")
    print(f"hardware: {hardware.ram_bytes / tiers.GIB:.1f} GiB RAM ({hardware.ram_source}), "
          f"{hardware.cpu_count} CPUs, {hardware.machine} -> {detected}")
    print(f"installed tiers: {', '.join(installed)}")


def _doctor_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--repair", action="store_true", help="first rebuild what drifted from the memories "
                   "(keyword index, tag rows, orphan vectors, permissions); a damaged file is never written")


@command("doctor", "check that the store really works: write, search, integrity, versions", _doctor_arguments)
def _doctor(args) -> int:
    from .doctor import examine
    report = examine(_store_path(args), tier=args.tier, repair=args.repair)
    if args.json:
        output.print_json({"ok": report.ok, **dataclasses.asdict(report)})
    else:
        for key, value in report.info.items():
            print(f"{key:>12}: {value}")
        for f in report.fixes:
            print(f"  repaired: {f.name}: {f.count} ({f.detail})")
        if args.repair and not report.fixes:
            print("  repaired: nothing (nothing had drifted, or the store could not be opened)")
        for c in report.checks:
            print(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
    return 0 if report.ok else 1


def _hook_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("agent", choices=("claude-code",), help="whose hook input is on stdin")
    c.add_argument("--strict", action="store_true", help="exit 1 on an error (default: report it on stderr and "
                   "exit 0, so the agent is never blocked)")


@command("hook", "capture the session an agent's hook names (Claude Code: Stop, PreCompact, SessionEnd)",
         _hook_arguments)
def _hook(args) -> int:
    from .capture import run_hook
    return run_hook(args, _open)


# -- replication (Litestream; memento/replicate.py) ------------------------------------------------

def _replicate_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--to", required=True, metavar="URL", help="the replica")


@command("replicate", "stream the store to a replica with Litestream, in the foreground "
         "(file:///dir, sftp://user@host/path, s3://bucket/path); stop with Ctrl-C or SIGTERM", _replicate_arguments)
def _replicate(args) -> None:
    from .. import replicate
    replicate.run_foreground(_store_path(args), args.to)


def _restore_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--from", dest="source", required=True, metavar="URL", help="the replica")
    c.add_argument("--timestamp", metavar="T", help="as it was at this ISO-8601 time (default: latest)")
    c.add_argument("--force", action="store_true", help="replace an existing store at --db")


@command("restore", "restore a store from its replica, check it, make it owner-only", _restore_arguments)
def _restore(args) -> None:
    from .. import replicate
    report = replicate.restore(args.source, _store_path(args),
                               timestamp=args.timestamp, force=args.force)
    if args.json:
        output.print_json({"restored": str(report.path), "memories": report.memories,
                     "checks": [dataclasses.asdict(c) for c in report.checks]})
    else:
        print(f"restored {report.memories} memories to {report.path} ({len(report.checks)} checks ok)")


# -- mcp: its own options (no --json), parsed again by the server when started as `memento mcp` --

def _mcp(args) -> int:
    from ..mcp import server  # the server module loads only for this command
    return server.main(args.db, args.tier)


# -- arguments -----------------------------------------------------------------------------------

def _key_value(text: str):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidInputError(f"--meta takes KEY=VALUE, not {text!r}")
    return key, value
