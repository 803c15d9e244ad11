"""Time cues: does a text say when something happened, and does a question ask when?

A question that asks when ("When did...", "What year...", "How long...") is answered by a memory
that names a time: a date, a weekday, a month, a year, "yesterday", "last summer", "3 weeks ago".
Recall lifts such memories for such questions (a weight in memento/ranking.py). English only; the
patterns are general forms of dates and time words, not phrasings of any data set.
"""
from __future__ import annotations

import re

import apsw

from . import sqlfiles

FILL_BATCH = 1_000

_MONTHS = "january|february|march|april|june|july|august|september|october|november|december"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_SPANS = "days?|weeks?|months?|years?|decades?"
_SEASONS = "spring|summer|fall|autumn|winter"
# Each alternative is a whole time expression; "may" counts only beside a day number or "in".
_TIME = re.compile(rf"""\b(?:
    (?:{_MONTHS}) | (?:{_DAYS})s? | (?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?\s+\d{{1,2}}
  | yesterday | today | tonight | tomorrow | weekend | anniversary | birthday
  | (?:last|next|this|past|coming)\s+(?:night|morning|evening|week|month|year|time|{_SEASONS}|{_DAYS})
  | (?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|couple\s+of)\s+(?:{_SPANS})\s+ago
  | (?:in|since|until|during)\s+(?:\d{{4}}|may|{_SEASONS})
  | may\s+\d{{1,2}} | \d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?may
  | (?:1[89]|20)\d\d
  | \d{{1,2}}[/.]\d{{1,2}}(?:[/.]\d{{2,4}})?
)\b""", re.IGNORECASE | re.VERBOSE)

_ASKS_WHEN = re.compile(r"""\b(?:
    when | how\s+long | what\s+(?:year|month|day|date|time|season|week)
  | which\s+(?:year|month|day|date|season|week) | in\s+what\s+(?:year|month)
  | how\s+many\s+(?:days|weeks|months|years) | how\s+old | since\s+when
)\b""", re.IGNORECASE | re.VERBOSE)


# One word that names a date: a month, a weekday, a year. A memory's date is kept in created_at, so
# such a word missing from every text says nothing about whether a store knows what a query asks
# (memento/relevance.py leaves it out of the gate's word weights).
_CALENDAR_WORD = re.compile(rf"(?:{_MONTHS}|may|(?:{_DAYS})s?|(?:1[89]|20)\d\d)")


def names_a_date(word: str) -> bool:
    """Is this one lower-cased word a month, a weekday or a year ("march", "mondays", "2023")?"""
    return _CALENDAR_WORD.fullmatch(word) is not None


def mentions_time(text: str) -> bool:
    """Does the text name a time (memories.time_cue)?"""
    return _TIME.search(text) is not None


def asks_when(question: str) -> bool:
    """Does the question ask when, or for how long?"""
    return _ASKS_WHEN.search(question) is not None


def fill(conn: apsw.Connection) -> int:
    """Compute every unknown time cue (memories.time_cue NULL: after migration 007, or an edited
    text), inside the caller's write transaction; returns how many. Cheap when there are none: the
    unknown rows are read through their own partial index."""
    done = 0
    while True:
        rows = conn.execute(sqlfiles.query("time_cues_unknown"), {"limit": FILL_BATCH}).fetchall()
        for memory_id, text in rows:
            conn.execute(sqlfiles.query("set_time_cue"), {"id": memory_id, "cue": int(mentions_time(str(text)))})
        done += len(rows)
        if len(rows) < FILL_BATCH:
            return done
