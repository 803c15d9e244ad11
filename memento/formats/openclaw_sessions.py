"""OpenClaw's session transcripts in: ~/.openclaw/agents/<agentId>/sessions/<sessionId>.jsonl.

The first line is the session header ({"type": "session", "version", "id", "timestamp", "cwd"});
then events with `type`, `id`, `parentId`, `timestamp`: `message` ({role: user, assistant or
toolResult, content: a string or blocks of type text, thinking, toolCall, image}), `compaction`
(a summary of what was compacted), `model_change`, `thinking_level_change`, `custom`. What becomes
a memory: the text of each user and assistant message, one memory per event, in the thread
`openclaw/<agentId>/<sessionId>` (both from the file's path, so an appended line needs no header),
dated by its timestamp, its role as the speaker, with metadata {source, session, uuid (the event
id), agent}. Tool calls and results, thinking, compaction summaries and the other events are not.
The reading, state and storing are memento/formats/transcripts.py's.
"""
from __future__ import annotations

import os
from typing import Callable, Optional

from . import transcripts
from .transcripts import CaptureSummary, Message

SOURCE = "openclaw-sessions"
ROLES = ("user", "assistant")


def default_root() -> str:
    state = os.environ.get("OPENCLAW_STATE_DIR") or os.path.join(os.path.expanduser("~"), ".openclaw")
    return os.path.join(state, "agents")


def agent_of(path: str) -> str:
    """agents/<agentId>/sessions/<file>: the agent; a file elsewhere: its folder's name."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(folder) == "sessions":
        folder = os.path.dirname(folder)
    return os.path.basename(folder) or "unknown"


def parse(event: dict, path: str) -> Optional[Message]:
    """The message of one session event, or None when it is not a user or assistant text."""
    if event.get("type") != "message":
        return None
    message, uuid = event.get("message"), event.get("id")
    if not isinstance(message, dict) or message.get("role") not in ROLES or not isinstance(uuid, str) or not uuid:
        return None
    text = transcripts.text_of(message.get("content")).strip()
    if not text:
        return None
    session, agent = os.path.basename(path)[:-len(".jsonl")], agent_of(path)
    created = transcripts.timestamp(event.get("timestamp")) or transcripts.timestamp(message.get("timestamp"))
    return Message(uuid=uuid, thread=f"openclaw/{agent}/{session}", speaker=message["role"], text=text,
                   created_at=created, metadata={"source": SOURCE, "session": session, "agent": agent})


FORMAT = transcripts.Format(SOURCE, parse, default_root)


def capture(mem, root: Optional[str] = None, *, embed: str = "now", batch_size: int = transcripts.BATCH,
            progress: Optional[Callable[[int], None]] = None, prune: bool = False) -> CaptureSummary:
    """Bring what is new in OpenClaw's session transcripts under root (default ~/.openclaw/agents; a
    file or a folder) into `mem`. See memento/formats/transcripts.py for what a rerun reads. prune=True:
    first forget the memories of transcripts under root that were captured and are gone."""
    return transcripts.capture(mem, FORMAT, root, embed=embed, batch_size=batch_size, progress=progress,
                               prune=prune)
