"""User text -> a safe FTS5 MATCH expression.

Raw user text in MATCH is a syntax error waiting to happen (`?`, `"`, `-`, `AND`, `*`...). We split
the text into words the way FTS5's unicode61 tokenizer does (runs of letters and digits; everything
else, `_` and `'` included, separates), drop English stopwords unless nothing else is left, quote every
word and join them with OR. bm25 then ranks memories by how many, and how rare, the words they share.
"""
from __future__ import annotations

import re
import unicodedata
from typing import List, Optional

MAX_TERMS = 32  # a pasted paragraph must not turn into a thousand-term OR

# The same rule as unicode61's default token characters: letters (L*), numbers (N*), private use (Co);
# combining marks (M*) stay inside a word, since remove_diacritics folds them away.
_WORD = re.compile(r"[^\W_]+(?:[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+[^\W_]*)*")

# NLTK's English stopword list (179 words). Contractions appear split, as the tokenizer splits them:
# "don't" -> "don", "t".
STOPWORDS = frozenset("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves
he him his himself she she's her hers herself it it's its itself they them their theirs themselves
what which who whom this that that'll these those am is are was were be been being have has had
having do does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over
under again further then once here there when where why how all any both each few more most other
some such no nor not only own same so than too very s t can will just don don't should should've
now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn
hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn
shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
""".split())


def words(text: str) -> List[str]:
    """Lower-cased words of `text`, split as the FTS5 tokenizer splits them, duplicates removed."""
    normalized = unicodedata.normalize("NFC", text).lower()
    return list(dict.fromkeys(_WORD.findall(normalized)))


def keywords(text: str) -> List[str]:
    """The words worth searching for: stopwords dropped unless that would leave nothing."""
    all_words = words(text)
    content = [w for w in all_words if w not in STOPWORDS]
    return (content or all_words)[:MAX_TERMS]


def quote(term: str) -> str:
    """An FTS5 string: inside double quotes nothing is syntax ("" is a literal quote)."""
    return '"' + term.replace('"', '""') + '"'


def build(text: str) -> Optional[str]:
    """A MATCH expression for `text`, or None when it has no searchable word (recall returns [])."""
    terms = keywords(text)
    return expression(terms) if terms else None


def expression(terms: List[str]) -> str:
    """Words (as keywords() gives them) -> the MATCH expression that finds any of them."""
    return " OR ".join(quote(t) for t in terms)
