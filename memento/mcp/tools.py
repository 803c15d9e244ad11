"""The tools `memento mcp` offers: their schemas, descriptions, and how each calls the Memento API.

Each tool is one frozen `Tool`: its JSON Schemas (what a client shows a model), its annotations, a
function that takes a store and checked arguments and returns a JSON object, and a function that
renders that object as text for clients that show text only. Arguments are checked against the
inputSchema (memento/mcp/arguments.py) and then by the library itself, so every refusal is a
MementoError with a message a model can act on.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ..validate import MAX_ID
from ..values import Hit, Memory

LIST_DEFAULT, LIST_MAX = 20, 1_000
TEXT_PREVIEW = 400     # characters of a memory shown per line in the text rendering of a list


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    annotations: Mapping[str, Any]
    run: Callable[[Any, Dict[str, Any]], Dict[str, Any]]
    render: Callable[[Dict[str, Any]], str]
    needs_model: bool = False   # the first call may load the embedding model (vector tiers)


# -- schemas -------------------------------------------------------------------------------------

def _object(properties: Mapping[str, Any], required: Tuple[str, ...] = ()) -> Dict[str, Any]:
    schema: Dict[str, Any] = {"type": "object", "properties": dict(properties), "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "the memory's id"}
_TAGS_IN = {"type": "array", "items": {"type": "string"}, "maxItems": 64,
            "description": "short labels (letters, digits, - . : /), e.g. [\"prefs\", \"project:atlas\"]"}
_THREAD = {"type": "string", "description": "the conversation, session or log this belongs to (any name); "
           "memories of one thread are ordered by created_at, and a memory's neighbours there help recall find it"}
_TIME = {"type": "string",
         "description": "ISO-8601 date or time, e.g. 2026-11-25 or 2026-11-25T14:30:00Z (UTC when no zone)"}
_SPEAKER = {"type": "string", "description": "who said or wrote it (a person's name, \"user\", \"assistant\"); "
            "recall favours memories whose speaker the question names"}
_TAGS_OUT = {"type": "array", "items": {"type": "string"}}
_OPTIONAL_TEXT = {"anyOf": [{"type": "string"}, {"type": "null"}]}   # single-type branches: portable to more clients
_MEMORY_FIELDS = {
    "id": {"type": "integer"}, "text": {"type": "string"}, "tags": _TAGS_OUT, "metadata": {"type": "object"},
    "created_at": {"type": "string"}, "updated_at": {"type": "string"}, "pinned": {"type": "boolean"},
    "thread": _OPTIONAL_TEXT, "expires_at": _OPTIONAL_TEXT,
    "superseded_by": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "speaker": _OPTIONAL_TEXT,
    "duplicate_of": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
}
_MEMORY = _object(_MEMORY_FIELDS, tuple(_MEMORY_FIELDS))
_HIT_FIELDS = {
    "id": {"type": "integer"}, "text": {"type": "string"}, "tags": _TAGS_OUT, "metadata": {"type": "object"},
    "created_at": {"type": "string"}, "score": {"type": "number"}, "thread": _OPTIONAL_TEXT,
    "speaker": _OPTIONAL_TEXT,
    "relevance": {"type": "number", "minimum": 0, "maximum": 1,
                  "description": "the estimated probability (0..1) that this memory is what the query needs"},
}
_HIT = _object(_HIT_FIELDS, tuple(_HIT_FIELDS))
_STATS_FIELDS = {
    "path": {"type": "string"}, "tier": {"type": "string"}, "memories": {"type": "integer"},
    "superseded": {"type": "integer"}, "expired": {"type": "integer"}, "tags": {"type": "integer"},
    "pending_embeddings": {"type": "integer"}, "oldest": _OPTIONAL_TEXT,
    "newest": _OPTIONAL_TEXT, "file_bytes": {"type": "integer"}, "schema_version": {"type": "integer"},
    "model": _OPTIONAL_TEXT, "sqlite_version": {"type": "string"},
}


# -- results -------------------------------------------------------------------------------------

def _fields_json(value: Any, names: Iterable[str]) -> Dict[str, Any]:
    """The named fields of a Memory or Hit as JSON values (tuples become arrays)."""
    out = {}
    for name in names:
        field_value = getattr(value, name)
        out[name] = list(field_value) if isinstance(field_value, tuple) else field_value
    return out


def memory_json(memory: Memory) -> Dict[str, Any]:
    """A memory as its outputSchema declares it: the schema's fields are what leaves."""
    return _fields_json(memory, _MEMORY_FIELDS)


def hit_json(hit: Hit) -> Dict[str, Any]:
    return _fields_json(hit, _HIT_FIELDS)


def _line(item: Mapping[str, Any], limit: Optional[int] = None) -> str:
    """One memory as `[id] date speaker in thread #tags: text` (+ metadata), for clients that show
    text only: who said it and in which session, so an agent can say where it was said."""
    text = item["text"]
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    head = f"[{item['id']}] {item['created_at'][:10]}"
    if "relevance" in item:
        head += f" relevance {item['relevance']:.3f}"
    if item.get("pinned"):
        head += " pinned"
    if item.get("speaker"):
        head += f" {item['speaker']}"
    if item.get("thread"):
        head += f" in {item['thread']}"
    if item["tags"]:
        head += " " + " ".join("#" + t for t in item["tags"])
    extra = f"\n    metadata: {json.dumps(item['metadata'], ensure_ascii=False)}" if item["metadata"] else ""
    return f"{head}: {text}{extra}"


# -- the tools -----------------------------------------------------------------------------------

def _remember(mem, a):
    return memory_json(mem.remember(a["text"], tags=a.get("tags", ()), metadata=a.get("metadata"),
                                    created_at=a.get("created_at"), pinned=a.get("pinned", False),
                                    thread=a.get("thread"), expires_at=a.get("expires_at"),
                                    supersedes=a.get("supersedes"), speaker=a.get("speaker")))


def _render_remember(m):
    if m.get("duplicate_of") is not None:
        return f"Already remembered as {m['duplicate_of']} (new tags and metadata merged): " + _line(m)
    return "Remembered " + _line(m)


def _recall(mem, a):
    filters = {"tags": a.get("tags"), "since": a.get("since"), "until": a.get("until"), "mode": a.get("mode"),
               "thread": a.get("thread"), "source": a.get("source"),
               "include_superseded": a.get("include_superseded", False), "half_life_days": a.get("half_life_days")}
    hits = mem.recall(a["query"], k=a.get("k", 10), min_score=a.get("min_score"), **filters)
    # When nothing passed, how close the best match came, so that "nothing relevant" is plain.
    best = hits[0].relevance if hits else mem.best_relevance(a["query"], **filters)
    return {"results": [hit_json(h) for h in hits], "best_relevance": best,
            "min_relevance": mem.relevance_floor(a.get("mode")) if a.get("min_score") is None else a["min_score"]}


def _render_recall(result):
    hits = result["results"]
    if not hits and result.get("best_relevance") is not None:
        return (f"Nothing relevant: the best match's relevance is {result['best_relevance']:.3f}, below "
                f"{result['min_relevance']:.3f}. Nothing stored seems to be about this; remember it once you learn it.")
    if not hits:
        return "No memory matches. (Nothing stored on this yet; remember it once you learn it.)"
    return f"{len(hits)} memor{'y' if len(hits) == 1 else 'ies'}, best first:\n" + "\n".join(_line(h) for h in hits)


def _update(mem, a):
    return memory_json(mem.update(a["id"], text=a.get("text"), tags=a.get("tags"),
                                  metadata=a.get("metadata"), pinned=a.get("pinned"),
                                  expires_at=a.get("expires_at"), speaker=a.get("speaker")))


def _forget(mem, a):
    mem.forget(a["id"])
    return {"forgotten": a["id"]}


def _list(mem, a):
    # Newest first by created_at (then id): memories can be dated in the past (imports), so id order
    # is not time order. Read from the created_at index: `limit` rows, however large the store.
    newest = mem.newest(a.get("limit", LIST_DEFAULT), tags=a.get("tags"))
    return {"memories": [memory_json(m) for m in newest]}


def _render_list(result):
    items = result["memories"]
    if not items:
        return "No memories."
    return f"{len(items)} memor{'y' if len(items) == 1 else 'ies'}, newest first:\n" + \
        "\n".join(_line(m, TEXT_PREVIEW) for m in items)


def _stats(mem, a):
    return dataclasses.asdict(mem.stats())


def _render_stats(result):
    return "\n".join(f"{key}: {value}" for key, value in result.items())


TOOLS: Tuple[Tool, ...] = (
    Tool(
        name="remember", title="Remember",
        description=(
            "Store one durable fact in long-term memory so a later conversation can recall it. Remember what "
            "will still matter next week: the user's preferences, decisions and their reasons, names, "
            "commitments, project facts, corrections. Write one self-contained fact per memory, in plain words, "
            "with the who/what/when needed to understand it alone (\"Alice prefers green tea over coffee\", not "
            "\"she likes it\"). Do not store secrets, passing small talk, or what is already stored (recall first). "
            "Tags group memories for filtering (e.g. \"prefs\", \"project:atlas\"); created_at dates a fact "
            "that happened earlier; pinned marks one that must not be dropped."),
        input_schema=_object({
            "text": {"type": "string", "description": "the fact, self-contained (at most 65,536 characters)"},
            "tags": _TAGS_IN,
            "metadata": {"type": "object", "description": "any JSON object kept with the memory (source, url...)"},
            "created_at": dict(_TIME, description="when the fact happened or was said (default: now)"),
            "pinned": {"type": "boolean", "description": "mark as important (default false)"},
            "thread": _THREAD,
            "speaker": _SPEAKER,
            "expires_at": dict(_TIME, description="forget it after this time (a scratch note); default: never"),
            "supersedes": dict(_ID, description="the id of a stored memory this one replaces (a changed fact): "
                                                "recall leaves the old one out from now on"),
        }, ("text",)),
        output_schema=_MEMORY,
        annotations={"title": "Remember", "readOnlyHint": False, "destructiveHint": False,
                     "idempotentHint": False, "openWorldHint": False},
        run=_remember, render=_render_remember, needs_model=True),
    Tool(
        name="recall", title="Recall",
        description=(
            "Search long-term memory; returns the best-matching memories, best first, with their ids. Recall "
            "before answering anything that may depend on the past (the user's preferences, earlier decisions, "
            "people, projects), at the start of a task, and before remembering (to avoid duplicates or to update "
            "instead). Ask in natural words (\"what does Alice drink\"); narrow with tags or a since/until time "
            "window, to one session (thread) or to captured sessions (source: \"claude-code\", \"openclaw\"). "
            "Each result names its thread (the session) and speaker, so you can say where it was said, and has "
            "a relevance: the estimated probability (0..1) that it is what you need; lean on the high ones. "
            "An empty result means nothing stored is relevant (best_relevance then says how close the best "
            "match came): it is not stored yet."),
        input_schema=_object({
            "query": {"type": "string", "description": "what to look for, in natural words"},
            "k": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "how many results (default 10)"},
            "tags": dict(_TAGS_IN, description="only memories carrying all of these tags"),
            "since": dict(_TIME, description="only memories created at or after this time"),
            "until": dict(_TIME, description="only memories created before this time"),
            "mode": {"type": "string", "enum": ["hybrid", "keyword", "vector"],
                     "description": "default: hybrid (keywords + meaning) where vectors exist, else keyword"},
            "thread": {"type": "string", "description": "only memories of this thread (a captured session: "
                       "claude-code/<sessionId>, openclaw/<agentId>/<sessionId>)"},
            "source": {"type": "string", "description": "only memories whose thread starts with source + \"/\": "
                       "\"claude-code\" (Claude Code sessions), \"openclaw\" (OpenClaw sessions), "
                       "\"openclaw/<agentId>\" (one agent's)"},
            "include_superseded": {"type": "boolean",
                                   "description": "also facts a newer memory replaced (default false)"},
            "half_life_days": {"type": "number", "exclusiveMinimum": 0,
                               "description": "favour recent memories: a score halves every this many days"},
            "min_score": {"type": "number", "minimum": 0, "maximum": 1,
                          "description": "only results at least this relevant (0..1); default: every result, or "
                                         "none when nothing stored is relevant; 0: every result"},
        }, ("query",)),
        output_schema=_object({
            "results": {"type": "array", "items": _HIT},
            "best_relevance": {"anyOf": [{"type": "number"}, {"type": "null"}],
                               "description": "the best match's relevance, also when it fell short and results "
                                              "is empty (null: nothing matched at all)"},
            "min_relevance": {"type": "number",
                              "description": "what the best match had to reach for results to hold anything "
                                             "(min_score, else the store's floor)"},
        }, ("results", "best_relevance", "min_relevance")),
        annotations={"title": "Recall", "readOnlyHint": True, "openWorldHint": False},
        run=_recall, render=_render_recall, needs_model=True),
    Tool(
        name="get", title="Get a memory",
        description="Read one memory by its id (as returned by recall or list), with all its fields.",
        input_schema=_object({"id": _ID}, ("id",)),
        output_schema=_MEMORY,
        annotations={"title": "Get a memory", "readOnlyHint": True, "openWorldHint": False},
        run=lambda mem, a: memory_json(mem.get(a["id"])), render=_line),
    Tool(
        name="update", title="Update a memory",
        description=(
            "Correct or refine a stored memory instead of storing a near-duplicate: new text, tags (replacing "
            "the old ones), metadata (replacing the old object), pinned or expires_at. Fields left out keep "
            "their value."),
        input_schema=_object({
            "id": _ID,
            "text": {"type": "string", "description": "the corrected fact"},
            "tags": dict(_TAGS_IN, description="the new tag list (replaces the old one)"),
            "metadata": {"type": "object", "description": "the new metadata (replaces the old object)"},
            "pinned": {"type": "boolean"},
            "speaker": _SPEAKER,
            "expires_at": dict(_TIME, description="forget it after this time (a past time: now); \"never\" "
                                                  "removes the expiry"),
        }, ("id",)),
        output_schema=_MEMORY,
        annotations={"title": "Update a memory", "readOnlyHint": False, "destructiveHint": True,
                     "idempotentHint": True, "openWorldHint": False},
        run=_update, render=lambda m: "Updated " + _line(m), needs_model=True),
    Tool(
        name="forget", title="Forget a memory",
        description=(
            "Delete a memory for good, by id. Use it when the user asks to forget something or a memory is "
            "wrong and cannot be corrected with update. It cannot be undone."),
        input_schema=_object({"id": _ID}, ("id",)),
        output_schema=_object({"forgotten": {"type": "integer"}}, ("forgotten",)),
        annotations={"title": "Forget a memory", "readOnlyHint": False, "destructiveHint": True,
                     "idempotentHint": False, "openWorldHint": False},
        run=_forget, render=lambda r: f"Forgot memory {r['forgotten']}."),
    Tool(
        name="list", title="List memories",
        description=(
            "List the most recent memories, newest first (optionally only those carrying all given tags). "
            "For finding memories about something, use recall instead."),
        input_schema=_object({
            "tags": dict(_TAGS_IN, description="only memories carrying all of these tags"),
            "limit": {"type": "integer", "minimum": 1, "maximum": LIST_MAX,
                      "description": f"how many (default {LIST_DEFAULT})"},
        }),
        output_schema=_object({"memories": {"type": "array", "items": _MEMORY}}, ("memories",)),
        annotations={"title": "List memories", "readOnlyHint": True, "openWorldHint": False},
        run=_list, render=_render_list),
    Tool(
        name="stats", title="Memory store statistics",
        description=("How many memories the store holds (memories: those recall can return; superseded and "
                     "expired ones apart), how many tags, its tier and model, size and time range."),
        input_schema=_object({}),
        output_schema=_object(_STATS_FIELDS, tuple(_STATS_FIELDS)),
        annotations={"title": "Memory store statistics", "readOnlyHint": True, "openWorldHint": False},
        run=_stats, render=_render_stats),
)

BY_NAME: Dict[str, Tool] = {tool.name: tool for tool in TOOLS}


def with_modes(tool: Tool, modes: Optional[List[str]]) -> Tool:
    """The tool as this store offers it: recall's mode lists only the modes the store has."""
    properties = tool.input_schema.get("properties", {})
    if modes is None or "mode" not in properties:
        return tool
    mode = dict(properties["mode"], enum=list(modes))
    if modes == ["keyword"]:
        mode["description"] = "keyword (this store is keyword-only: no vectors)"
    elif "vector" not in modes:
        mode["description"] = ("default: hybrid (keyword matches re-ranked by meaning, the pocket tier's static "
                               "vectors), else keyword")
    schema = dict(tool.input_schema, properties=dict(properties, mode=mode))
    return dataclasses.replace(tool, input_schema=schema)


def names() -> List[str]:
    return [tool.name for tool in TOOLS]
