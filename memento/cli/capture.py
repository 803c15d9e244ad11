"""The capture commands' handlers: `memento import --format claude-code|openclaw-sessions` and
`memento hook claude-code`. Their arguments are declared in commands.py, next to the other commands';
the work is memento/formats/transcripts.py's."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .. import files, times
from ..errors import InvalidInputError, MementoError
from ..formats import claude_code, openclaw_sessions, transcripts
from . import output
from .progress import Progress

FORMATS = {"claude-code": claude_code, "openclaw-sessions": openclaw_sessions}


def import_transcripts(args, mem_open) -> int:
    """`memento import --format claude-code|openclaw-sessions [PATH]`."""
    module = FORMATS[args.format]
    with mem_open(args) as mem:
        with Progress(None, f"{args.format} import") as bar:
            summary = module.capture(mem, args.file, embed="later" if args.later else "now",
                                     batch_size=args.batch, progress=bar.advance, prune=args.prune)
    report(summary, args.json, args.prune)
    return 0


def report(summary: transcripts.CaptureSummary, as_json: bool, pruned: bool = False) -> None:
    if as_json:
        output.print_json(summary)
    else:
        redacted = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.redacted.items())) or "none"
        print(f"{summary.files} files read ({summary.unchanged} unchanged, {summary.reread} read again), "
              f"{summary.lines:,} lines: {summary.messages:,} messages stored as {summary.added:,} memories, "
              f"{summary.already:,} already stored, {summary.bad_lines:,} bad lines; secrets redacted: {redacted}")
        if summary.vanished:
            gone = output.counted(summary.vanished, "transcript")
            print(f"{gone} gone: {output.counted(summary.forgotten, 'memory', 'memories')} forgotten" if pruned
                  else f"{gone} gone: their memories are kept (--prune forgets them)")
    for skipped in summary.skipped:
        print(f"memento: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    for bad in summary.bad:
        print(f"memento: bad line in {bad.path}: {bad.reason}", file=sys.stderr)


def hook_input(stream) -> str:
    """The transcript path of Claude Code's hook input (JSON on stdin: session_id, transcript_path,
    cwd, hook_event_name)."""
    try:
        event = json.loads(stream.read() or "null")
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"hook input is not JSON: {e}") from None
    path = event.get("transcript_path") if isinstance(event, dict) else None
    if not isinstance(path, str) or not path:
        raise InvalidInputError("hook input has no transcript_path (expected Claude Code's hook JSON on stdin)")
    return path


HOOK_LOG_BYTES = 1 << 20   # past this the log starts again (its last part kept as hook.log.1)


def hook_log_path() -> Path:
    """$XDG_STATE_HOME/memento/hook.log (~/.local/state/memento/hook.log): where a hook's errors stay
    when nobody reads the agent's stderr."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "memento" / "hook.log"


def hook_says(message: str) -> None:
    """A hook's error or skip, on stderr and in the hook log (owner-only). Writing the log never
    fails the hook: the agent's session matters more than the log."""
    print(f"memento hook: {message}", file=sys.stderr)
    try:
        log = hook_log_path()
        files.private_dir(log.parent)
        if log.exists() and log.stat().st_size > HOOK_LOG_BYTES:
            os.replace(log, log.with_name(log.name + ".1"))
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(f"{times.now_utc()} {output.cell(message, wide=True)}\n")
    except OSError:
        pass


def run_hook(args, mem_open) -> int:
    """`memento hook claude-code`: capture the transcript the hook names. It never blocks the agent:
    an error is reported on stderr and the exit status is 0, unless --strict. Memories are stored
    with embed="later": a hook never loads the model (`memento mcp` or `memento backfill` embeds)."""
    started = time.perf_counter()
    try:
        path = hook_input(sys.stdin)
        with mem_open(args) as mem:
            summary = claude_code.capture(mem, path, embed="later")
    except (MementoError, OSError) as e:
        hook_says(f"error: {e}")
        return 1 if args.strict else 0
    except Exception as e:   # noqa: BLE001 - a hook must never break the agent's session
        hook_says(f"unexpected {type(e).__name__}: {e}")
        return 1 if args.strict else 0
    for skipped in summary.skipped:
        hook_says(f"skipped {skipped.path}: {skipped.reason}")
    if args.json:
        output.print_json({"added": summary.added, "messages": summary.messages, "redacted": summary.redacted,
                           "seconds": round(time.perf_counter() - started, 4)})
    return 1 if args.strict and summary.skipped else 0


