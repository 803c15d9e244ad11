"""Time cues: does a text say when something happened, and does a question ask when?

A question that asks when ("When did...", "What year...", "How long...") is answered by a memory
that names a time: a date, a weekday, a month, a year, "yesterday", "last summer", "3 weeks ago".
Recall lifts such memories for such questions (a weight in memento/ranking.py). English only; the
patterns are general forms of dates and time words, not phrasings of any data set.
"""
from __future__ import annotations

import json
import re
from typing import List, Optional, Tuple

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


_MONTH_NUMBER = {name: i + 1 for i, name in enumerate(
    "january february march april may june july august september october november december".split())}
_MONTH_NUMBER.update({name[:3]: n for name, n in list(_MONTH_NUMBER.items())})
_MONTH_NUMBER["sept"] = 9
_MONTH_WORD = r"(?:january|february|march|april|may|june|july|august|september|october|november|december" \
              r"|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?)"
_YEAR = r"(?:1[89]|20)\d\d"
# A calendar date a question names: a month with its day or year or both ("May 23, 2023", "1 February,
# 2023", "October 2023", "in June"), or a year alone ("in 2022"). "May" and "march" (verbs too) and
# the abbreviations count only beside a day or a year, or after "in".
_NAMED_DATE = re.compile(rf"""\b(?:
    (?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?)?(?P<m1>{_MONTH_WORD})(?:\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?)?,?(?:\s+(?P<y1>{_YEAR}))?
  | (?P<y2>{_YEAR})
)\b""", re.IGNORECASE | re.VERBOSE)


def dates_named(question: str) -> List[Tuple[Optional[int], Optional[int]]]:
    """The calendar months and years the question names, each as (year, month): (2023, 5) for "May
    23, 2023" or "May 2023", (None, 6) for "in June", (2022, None) for a year alone."""
    named = []
    for m in _NAMED_DATE.finditer(question):
        if m.group("y2"):
            named.append((int(m.group("y2")), None))
            continue
        word = m.group("m1").lower().rstrip(".")
        day, year = m.group("d1") or m.group("d2"), m.group("y1")
        whole = word in ("june", "july") or (len(word) > 4 and word != "march")
        before = question[max(0, m.start() - 16):m.start()].lower().split()[-1:]  # the word before it
        if whole or day or year or before == ["in"]:
            named.append((int(year) if year else None, _MONTH_NUMBER[word]))
    return sorted(set(named), key=lambda d: (d[0] or 0, d[1] or 0))


def date_ranges(named: List[Tuple[Optional[int], Optional[int]]], first_year: int, last_year: int) -> Optional[str]:
    """The created_at ranges [from, to) of the dates named (dates_named), as JSON for :query_dates, or
    None when none: a month without its year is that month in every year from first_year to
    last_year (the store's first and last memory's). ISO-8601 strings compare in time order, so
    "2023-05" <= created_at < "2023-06" holds exactly the memories stored in May 2023."""
    ranges = []
    for year, month in named:
        for y in ([year] if year is not None else range(first_year, last_year + 1)):
            if month is None:
                ranges.append([f"{y:04d}", f"{y + 1:04d}"])
            else:
                ranges.append([f"{y:04d}-{month:02d}", f"{y + month // 12:04d}-{month % 12 + 1:02d}"])
    return json.dumps(ranges) if ranges else None


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
