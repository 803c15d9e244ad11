"""all-MiniLM-L6-v2's tokenizer in pure Python: BERT's uncased normalizer, pre-tokenizer and WordPiece,
giving the ids `tokenizers` gives (tests/test_pocket_tokenizer.py compares them on real texts), with
no [CLS]/[SEP] and no truncation (the caller takes what it needs).

The rules are those of HuggingFace tokenizers' BertNormalizer (clean_text, handle_chinese_chars,
strip_accents, lowercase, in that order), BertPreTokenizer (split on whitespace, each punctuation
character a word of its own) and WordPiece (greedy longest match, "##" continuations, a word longer
than max_input_chars_per_word or with an unmatched piece is one [UNK]).

The vocabulary is not held in memory: `lookup(candidates)` answers which of a word's candidate pieces
exist; a text's new words are looked up together (one read of the pocket table for their first pieces,
one more for the continuations, ...), and words seen recently are cached.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable, Dict, Iterable, List

Lookup = Callable[[List[str]], Dict[str, int]]   # candidate pieces -> {piece: id} of those that exist

# The model's special tokens: written in a text exactly so (case and all), each is that token, as
# tokenizers matches its added tokens on the raw text before normalizing ("normalized": false).
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_SPECIAL = re.compile("(" + "|".join(re.escape(s) for s in SPECIAL) + ")")

WORD_CACHE = 4096   # words -> ids kept (~0.5 MB): a store's words repeat; the table is read once per word
LOOKUP_BATCH = 64   # words whose pieces one read of the table looks up

# Rust's char::is_whitespace (Unicode White_Space) beyond what clean_text has already turned into ' '.
_WHITESPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                        "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


_OTHER = frozenset(("Cc", "Cf", "Co", "Cs"))


def _is_control(ch: str) -> bool:
    """tokenizers' is_control: Unicode "Other" but unassigned (Cc, Cf, Co, Cs), except tab, newline, return."""
    return ch not in "\t\n\r" and unicodedata.category(ch) in _OTHER


def _is_punctuation(ch: str) -> bool:
    """BertPreTokenizer's punctuation: ASCII punctuation ($, +, <, =, >, ^, `, |, ~ included) or Unicode P*."""
    o = ord(ch)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(ch)[0] == "P"


def _is_chinese(o: int) -> bool:
    """The CJK ideograph blocks BERT puts spaces around (tokenizers' is_chinese_char)."""
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF or 0x2A700 <= o <= 0x2B73F
            or 0x2B740 <= o <= 0x2B81F or 0x2B820 <= o <= 0x2CEAF or 0xF900 <= o <= 0xFAFF
            or 0x2F800 <= o <= 0x2FA1F)


# ASCII control characters are dropped, except tab, newline and return, which become spaces.
_ASCII_CLEAN = {o: (" " if chr(o) in "\t\n\r" else None) for o in [*range(32), 127]}
# In normalized ASCII text (no control characters left), the words of pre_tokenize: each ASCII
# punctuation character alone, and every run of other characters between spaces.
_ASCII_PUNCTUATION = "!-/:-@\\[-`{-~"
_ASCII_WORDS = re.compile(f"[{_ASCII_PUNCTUATION}]|[^ {_ASCII_PUNCTUATION}]+")


def normalize(text: str) -> str:
    """BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase)."""
    if text.isascii():   # the common case: no accents, no ideographs, no Unicode spaces
        return text.translate(_ASCII_CLEAN).lower()
    out = []
    for ch in text:
        o = ord(ch)
        if o == 0 or o == 0xFFFD or _is_control(ch):
            continue
        if ch in _WHITESPACE:
            out.append(" ")
        elif _is_chinese(o):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    # Each character lowercased alone, as tokenizers does: "Σ" is always "σ" (str.lower() of a whole
    # word would write a final sigma "ς").
    return "".join(c.lower() for c in unicodedata.normalize("NFD", "".join(out)) if unicodedata.category(c) != "Mn")


def pre_tokenize(text: str) -> List[str]:
    """Words: split on whitespace, and every punctuation character stands alone."""
    if text.isascii() and " " <= min(text, default=" ") and max(text, default=" ") < "\x7f":
        return _ASCII_WORDS.findall(text)   # normalized ASCII: one regular expression, in C
    return pre_tokenize_any(text)


def pre_tokenize_any(text: str) -> List[str]:
    """pre_tokenize for any text, a character at a time."""
    words: List[str] = []
    for chunk in text.split():
        start = 0
        for i, ch in enumerate(chunk):
            if _is_punctuation(ch):
                if i > start:
                    words.append(chunk[start:i])
                words.append(ch)
                start = i + 1
        if start < len(chunk):
            words.append(chunk[start:])
    return words


class WordPiece:
    """text -> token ids, as tokenizers' BERT tokenizer for all-MiniLM-L6-v2 (without [CLS]/[SEP])."""

    def __init__(self, lookup: Lookup, unk_id: int, max_input_chars_per_word: int = 100,
                 cache_size: int = WORD_CACHE):
        self._lookup = lookup
        self.unk_id = unk_id
        self._max_chars = max_input_chars_per_word
        self._cache_size = cache_size
        self._cache: Dict[str, tuple] = {}   # word -> its ids, oldest first (dropped first when full)

    def ids(self, text: str) -> List[int]:
        pieces = _SPECIAL.split(text) if "[" in text else [text]
        texts = [pre_tokenize(normalize(piece)) for piece in pieces[0::2]]
        specials = pieces[1::2]   # special tokens, matched before normalization
        cache = self._cache
        self._learn([word for words in texts for word in words if word not in cache])
        out: List[int] = []
        for i, words in enumerate(texts):
            for word in words:
                ids = cache.get(word)
                out += ids if ids is not None else self.word_ids(word)
            if i < len(specials):
                out += self._lookup([specials[i]]).values()
        return out

    def word_ids(self, word: str) -> tuple:
        """A word's ids (from the cache, else looked up and cached)."""
        if word not in self._cache:
            self._learn([word])
        return self._cache[word] if word in self._cache else self._match([word])[word]

    def _learn(self, words: List[str]) -> None:
        """Look up and cache these words' ids, a batch of words per read of the table."""
        new = list(dict.fromkeys(words))
        for start in range(0, len(new), LOOKUP_BATCH):
            for word, ids in self._match(new[start:start + LOOKUP_BATCH]).items():
                if len(self._cache) >= self._cache_size:
                    del self._cache[next(iter(self._cache))]
                self._cache[word] = ids

    def _match(self, words: List[str]) -> Dict[str, tuple]:
        """Greedy longest match for each word: the longest known prefix, then the longest known "##"
        continuation of the rest, and so on. One read answers every candidate piece of every word
        still matching (a word's next piece waits for the read that found its previous one)."""
        done: Dict[str, tuple] = {}
        state: Dict[str, tuple] = {}            # word -> (where its next piece starts, ids so far)
        for word in words:
            if len(word) > self._max_chars:
                done[word] = (self.unk_id,)
            else:
                state[word] = (0, ())
        while state:
            tries = {}
            for word, (start, _) in state.items():
                prefix = "##" if start else ""
                tries[word] = [prefix + word[start:end] for end in range(len(word), start, -1)]
            found = self._lookup(list(dict.fromkeys(c for candidates in tries.values() for c in candidates)))
            following: Dict[str, tuple] = {}
            for word, (start, ids) in state.items():
                match = next((c for c in tries[word] if c in found), None)
                if match is None:
                    done[word] = (self.unk_id,)
                    continue
                ids += (found[match],)
                start += len(match) - (2 if start else 0)
                if start < len(word):
                    following[word] = (start, ids)
                else:
                    done[word] = ids
            state = following
        return done


def longest_first(pieces: Iterable[str]) -> List[str]:
    """Candidates in the order WordPiece tries them (longest first); for tests and callers' checks."""
    return sorted(pieces, key=len, reverse=True)
