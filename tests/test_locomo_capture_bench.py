"""bench/locomo_capture.py writes conversations as Claude Code transcripts that the claude-code
importer reads back turn for turn: every turn one memory (its dia_id as uuid, in order, the role
alternating by speaker), none of the noise lines. A made-up conversation, not LoCoMo's data."""
from __future__ import annotations

import memento
from bench import locomo
from bench.locomo_capture import write_transcripts
from memento.formats import claude_code


def _conversation() -> locomo.Conversation:
    said = [("Ana", "I planted tomatoes on the balcony"), ("Ben", "Nice, which kind?"),
            ("Ana", "Cherry ones, and basil next to them"), ("Ben", "Thanks!"), ("Ben", "Thanks!")]
    turns = [locomo.Turn(f"D{s}:{i}", f"{who}: {text}", s, who, "1:56 pm on 8 May, 2023", "2023-05-08T13:56:00")
             for s in (1, 2) for i, (who, text) in enumerate(said, 1)]
    return locomo.Conversation("conv-test", tuple(turns), ())


def test_transcripts_import_as_one_memory_per_turn_and_no_noise(store_path, tmp_path):
    conv = _conversation()
    lines = write_transcripts(conv, tmp_path / "projects", name_prefix=False)
    assert lines == 2 * (5 + 4)       # per session: 5 turns, a summary, a tool call and result, a system line
    with memento.open(store_path, tier="minimal") as mem:
        claude_code.capture(mem, str(tmp_path / "projects"))
        got = sorted(mem.iter(), key=lambda m: (m.thread, m.created_at))
    assert [m.metadata["uuid"] for m in got] == [t.dia_id for t in conv.turns]
    assert [m.text for m in got] == [t.text.split(": ", 1)[1] for t in conv.turns]
    assert [m.speaker for m in got][:5] == ["user", "assistant", "user", "assistant", "assistant"]
    assert len({m.thread for m in got}) == 2 and len({m.created_at for m in got}) == 5


def test_name_prefix_keeps_the_name_in_the_text(store_path, tmp_path):
    conv = _conversation()
    write_transcripts(conv, tmp_path / "projects", name_prefix=True)
    with memento.open(store_path, tier="minimal") as mem:
        claude_code.capture(mem, str(tmp_path / "projects"))
        assert sorted(m.text for m in mem.iter()) == sorted(t.text for t in conv.turns)
