"""LoCoMo recall through the capture path (issue 24): each dev conversation is written as a Claude
Code transcript folder, imported with `memento import --format claude-code`, and scored with
bench/locomo.py's protocol (k = 10, the same gold), next to the direct path (bench/locomo.py's
memento_items stored with remember_many) in the same tier, in the same run.

    python bench/locomo_capture.py --data locomo-dev.json --tier minimal
    python bench/locomo_capture.py --tier minimal --name-prefix --explain   # data from $MEMENTO_LOCOMO_DATA

The transcripts: one session file per LoCoMo session (~/.claude/projects/<project>/<sessionId>.jsonl
layout), each turn a `user` line (speaker_a) or an `assistant` line (speaker_b) as Claude Code writes
them, uuid = the turn's dia_id, timestamp = the session's date plus one second per turn (so the order
is kept), the turn's text (with its photo caption, "[shares photo: ...]", as bench/locomo.py keeps it),
and per session the noise Claude Code writes around a conversation, which must not become memories:
a summary line first, a system line, and an assistant tool_use line with its user tool_result line.
Memories map back to dia_ids through their metadata uuid.

What differs from the direct path by construction: the speaker is the role ("user"/"assistant"), not
the person's name, and the text has no "Name: " prefix. --name-prefix writes "Name: text" into the
transcript (which a real transcript would not hold) to show how much of a gap comes from the name.

The data: --data PATH or $MEMENTO_LOCOMO_DATA; CC BY-NC 4.0, for evaluation only. The transcripts
are written to a temporary folder and deleted: never copy them into the repository.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import locomo  # noqa: E402

CWD = "/home/user/locomo"
NAMESPACE = uuid.UUID("6f9a2c1e-3b4d-4e5f-8a7b-9c0d1e2f3a4b")


def session_id(conv_id: str, session: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{conv_id}/session_{session}"))


def _stamp(iso: str, seconds: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _text(turn: locomo.Turn, name_prefix: bool) -> str:
    """bench/locomo.py's turn text is "Name: text [shares photo: ...]"; a transcript holds what was said."""
    prefix = f"{turn.speaker}: "
    assert turn.text.startswith(prefix), turn
    return turn.text if name_prefix else turn.text[len(prefix):]


def session_lines(conv: locomo.Conversation, session: int, turns: Sequence[locomo.Turn],
                  name_prefix: bool) -> List[Dict[str, Any]]:
    """The lines of one session's transcript, Claude Code's shapes, noise included."""
    sid = session_id(conv.conv_id, session)
    speaker_a = conv.turns[0].speaker
    base = {"isSidechain": False, "userType": "external", "cwd": CWD, "sessionId": sid,
            "version": "2.0.14", "gitBranch": "main"}
    lines: List[Dict[str, Any]] = [{"type": "summary", "summary": f"Chat, session {session}",
                                    "leafUuid": turns[-1].dia_id}]
    parent: Optional[str] = None
    second = 0

    def add(kind: str, content: Any, line_uuid: str, **extra: Any) -> None:
        nonlocal parent, second
        message: Dict[str, Any] = {"role": kind, "content": content}
        if kind == "assistant":
            message = {"id": f"msg_{line_uuid}", "type": "message", "role": "assistant",
                       "model": "claude-sonnet-4-5", "content": content, "stop_reason": None}
        lines.append({"parentUuid": parent, **base, "type": kind, "message": message, "uuid": line_uuid,
                      "timestamp": _stamp(turns[0].iso, second), **extra})
        parent, second = line_uuid, second + 1

    noise = f"{conv.conv_id}-s{session}-noise"
    middle = len(turns) // 2
    for i, turn in enumerate(turns):
        if i == middle:   # a tool call and its result, then a system note: none is a memory
            add("assistant", [{"type": "tool_use", "id": f"toolu_{session}", "name": "Read",
                               "input": {"file_path": f"{CWD}/notes.md"}}], f"{noise}-tool")
            add("user", [{"type": "tool_result", "tool_use_id": f"toolu_{session}",
                          "content": f"notes for session {session}"}], f"{noise}-result",
                toolUseResult={"type": "text"})
            lines.append({"parentUuid": parent, **base, "type": "system", "subtype": "informational",
                          "content": "Conversation compacted", "level": "info", "uuid": f"{noise}-system",
                          "timestamp": _stamp(turns[0].iso, second)})
        role = "user" if turn.speaker == speaker_a else "assistant"
        text = _text(turn, name_prefix)
        add(role, text if role == "user" else [{"type": "text", "text": text}], turn.dia_id)
    return lines


def write_transcripts(conv: locomo.Conversation, folder: Path, name_prefix: bool) -> int:
    """One <sessionId>.jsonl per LoCoMo session under folder/<project>/; returns the lines written."""
    project = folder / f"-home-user-locomo-{conv.conv_id}"
    project.mkdir(parents=True)
    by_session: Dict[int, List[locomo.Turn]] = {}
    for turn in conv.turns:
        by_session.setdefault(turn.session, []).append(turn)
    written = 0
    for session, turns in by_session.items():
        lines = session_lines(conv, session, turns, name_prefix)
        with (project / f"{session_id(conv.conv_id, session)}.jsonl").open("w", encoding="utf-8") as out:
            for line in lines:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        written += len(lines)
    return written


def run_capture(memento: Any, convs: Sequence[locomo.Conversation], tier: str, mode: str,
                name_prefix: bool) -> Tuple[locomo.Run, Dict[str, int]]:
    """A fresh store per conversation, filled by `memento import --format claude-code`."""
    label = f"capture {tier} {mode}" + (" name-prefix" if name_prefix else "")
    run, counts = locomo.Run(label), {"lines": 0, "memories": 0, "turns": 0, "unmapped": 0}
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("MEMENTO_TIER", None)
    for conv in convs:
        with tempfile.TemporaryDirectory(prefix=f"locomo-capture-{tier}-") as tmp:
            db, folder = Path(tmp) / "memento.db", Path(tmp) / "projects"
            counts["lines"] += write_transcripts(conv, folder, name_prefix)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "memento", "--db", str(db), "--tier", tier, "import",
                                   "--format", "claude-code", str(folder)], env=env, capture_output=True,
                                  text=True)
            if done.returncode != 0:
                raise RuntimeError(f"memento import failed ({done.returncode}): {done.stderr}")
            run.ingest_s += time.perf_counter() - started
            with memento.open(db, tier=tier) as mem:
                dia_of = {m.id: m.metadata.get("uuid") for m in mem.iter()}
                valid = {t.dia_id for t in conv.turns}
                counts["memories"] += len(dia_of)
                counts["turns"] += len(conv.turns)
                counts["unmapped"] += sum(d not in valid for d in dia_of.values())
                locomo.ask_all(run, conv, lambda q, mem=mem, dia_of=dia_of:
                               [dia_of[h.id] for h in mem.recall(q, k=locomo.K, mode=mode, min_score=0)])
    return run, counts


def run_direct_variant(memento: Any, convs: Sequence[locomo.Conversation], tier: str, mode: str,
                       name_in_text: bool) -> locomo.Run:
    """The direct path with the capture path's speaker (the role, "user"/"assistant") and, without
    name_in_text, its text (no "Name: " prefix): what is left of the gap is the transcript itself."""
    run = locomo.Run(f"direct {tier} {mode} speaker=role" + ("" if name_in_text else " no-name"))
    for conv in convs:
        speaker_a = conv.turns[0].speaker
        items = locomo.memento_items(conv)
        for item, turn in zip(items, conv.turns):
            item["speaker"] = "user" if turn.speaker == speaker_a else "assistant"
            if not name_in_text:
                item["text"] = _text(turn, False)
        with tempfile.TemporaryDirectory(prefix=f"locomo-variant-{tier}-") as tmp, \
                memento.open(Path(tmp) / "memento.db", tier=tier) as mem:
            made = mem.remember_many(items, dedup=False)
            dia_of = {m.id: t.dia_id for m, t in zip(made, conv.turns)}
            locomo.ask_all(run, conv, lambda q, mem=mem, dia_of=dia_of:
                           [dia_of[h.id] for h in mem.recall(q, k=locomo.K, mode=mode, min_score=0)])
    return run


def print_side_by_side(results: Dict[str, Dict[str, Dict[str, Any]]]) -> None:
    labels = list(results)
    keys = [k for k in results[labels[0]] if k not in ("overall", "5")] + ["overall", "5"]
    print(f"\nR@10 per category\n  {'category':<16} {'n':>4}  " + "  ".join(f"{i:>6}" for i in range(1, len(labels) + 1)))
    for key in keys:
        if key not in results[labels[0]]:
            continue
        title = "overall 1-4" if key == "overall" else f"{key} {locomo.CATEGORIES.get(int(key), '?')}"
        n = results[labels[0]][key]["n"]
        print(f"  {title:<16} {n:>4}  " + "  ".join(f"{results[lab][key]['R@10']:>6.3f}" for lab in labels))
    for i, lab in enumerate(labels, 1):
        print(f"  ({i}) {lab}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tier", default="minimal", choices=list(locomo.TIER_MODES))
    ap.add_argument("--mode", help="recall mode (default: the tier's default)")
    from_env = os.environ.get(locomo.DATA_ENV) or None
    ap.add_argument("--data", type=Path, default=from_env, required=from_env is None, metavar="PATH",
                    help=f"the LoCoMo dev file; default: ${locomo.DATA_ENV}")
    ap.add_argument("--name-prefix", action="store_true", help="also run the capture path with \"Name: \" "
                    "before each turn's text (a real transcript has no such prefix): where the gap comes from")
    ap.add_argument("--explain", action="store_true", help="also run the direct path with the capture "
                    "path's speaker (the role) and text (no name): splits the gap between the speaker and the rest")
    ap.add_argument("--json-out", type=Path, help="write the per-category results as JSON here")
    args = ap.parse_args(argv)
    if not args.data.is_file():
        ap.error(f"no LoCoMo data file at {args.data}")
    mode = args.mode or locomo.DEFAULT_MODE[args.tier]
    if mode not in locomo.TIER_MODES[args.tier]:
        ap.error(f"tier {args.tier} has modes {', '.join(locomo.TIER_MODES[args.tier])}")
    import memento
    started = time.perf_counter()
    convs, sha256 = locomo.load(args.data)
    print(f"{args.data.name}: {len(convs)} conversations, {sum(len(c.turns) for c in convs)} turns, "
          f"{sum(len(c.questions) for c in convs)} scored questions")

    runs: List[locomo.Run] = locomo.run_tier(memento, convs, args.tier, [mode], {})
    runs[0].label = f"direct {args.tier} {mode}"
    if args.explain:
        runs += [run_direct_variant(memento, convs, args.tier, mode, name) for name in (True, False)]
    counts: Dict[str, Dict[str, int]] = {}
    for prefix in ([False, True] if args.name_prefix else [False]):
        run, counts[f"name_prefix={prefix}"] = run_capture(memento, convs, args.tier, mode, prefix)
        runs.append(run)
    results = {run.label: locomo.aggregate(run) for run in runs}
    for run in runs:
        locomo.print_run(run, results[run.label])
    print_side_by_side(results)
    for key, c in counts.items():
        print(f"\ncapture ({key}): {c['lines']} transcript lines -> {c['memories']} memories for "
              f"{c['turns']} turns; {c['unmapped']} memories not a turn (noise that got in)")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    if args.json_out:
        locomo.write_json(args.json_out, {
            "machine": locomo.machine(memento), "data": {"file": args.data.name, "sha256": sha256},
            "k": locomo.K, "tier": args.tier, "mode": mode, "results": results, "capture": counts,
            "speed": {run.label: locomo.speed(run) for run in runs}})
    bad = any(c["unmapped"] or c["memories"] != c["turns"] for c in counts.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
