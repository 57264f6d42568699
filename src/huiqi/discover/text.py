"""Chinese text for search: normalisation, jieba tokens and the curated synonym table.

jieba runs in its own :class:`jieba.Tokenizer` (the module-level one is shared process
state) with HMM off: HMM guesses new words from character statistics, so the same string
could be cut differently in a query and in a document. Words of the synonym table are
added to the dictionary, so that 六税两费 or 专精特新 stay one token.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jieba
import yaml

jieba.setLogLevel(logging.WARNING)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPACE = re.compile(r"\s+")
_lock = threading.Lock()


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits to half-width) and case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


def is_cjk(char: str) -> bool:
    return bool(_CJK.match(char))


@dataclass(frozen=True)
class SynonymGroup:
    """Words people use for one thing. ``expand`` words are found by every word of the group;
    ``narrower`` words are found by the group's words but do not find the group (专精特新
    finds 小巨人 policies, 小巨人 does not find every 专精特新 policy)."""

    words: tuple[str, ...]
    narrower: tuple[str, ...] = ()
    note: str = ""


@cache
def synonym_groups() -> tuple[SynonymGroup, ...]:
    text = resources.files("huiqi.discover").joinpath("data/synonyms.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    return tuple(
        SynonymGroup(
            words=tuple(normalize(w) for w in g["words"]),
            narrower=tuple(normalize(w) for w in g.get("narrower", [])),
            note=g.get("note", ""),
        )
        for g in doc["groups"]
    )


@cache
def synonym_words() -> frozenset[str]:
    """Every word of the synonym table (normalised)."""
    return frozenset(w for g in synonym_groups() for w in (*g.words, *g.narrower))


@cache
def _synonym_map() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for g in synonym_groups():
        for w in g.words:
            alts = out.setdefault(w, [w])
            alts.extend(x for x in (*g.words, *g.narrower) if x not in alts)
    return {k: tuple(v) for k, v in out.items()}


def alternatives(word: str) -> tuple[str, ...]:
    """The word and what the synonym table says it also means, the word itself first."""
    w = normalize(word)
    return _synonym_map().get(w, (w,))


@cache
def tokenizer() -> jieba.Tokenizer:
    """jieba with the synonym table's words in its dictionary (built once, ~1 s)."""
    with _lock:
        tk = jieba.Tokenizer()
        tk.initialize()
        for g in synonym_groups():
            for w in (*g.words, *g.narrower):
                if len(w) > 1 and _CJK.search(w):
                    tk.add_word(w, freq=max(tk.suggest_freq(w), 10))
        return tk


def tokens(text: str) -> list[str]:
    """Search-engine tokens (``cut_for_search``, HMM off) of normalised text, spaces and
    punctuation dropped.

    ``cut_for_search`` emits a long word together with the dictionary words inside it
    (中国农业发展银行 → 中国, 农业, 发展, 银行, 农业发展银行 …), so a query for a part
    finds the whole.
    """
    out = []
    for t in tokenizer().cut_for_search(normalize(text), HMM=False):
        t = t.strip()
        if t and (t.isalnum() or _CJK.search(t)):
            out.append(t)
    return out


def query_terms(query: str) -> list[str]:
    """The words a user typed: split on spaces; a term is kept whole (it is matched as a
    substring), empty and punctuation-only pieces dropped."""
    out = []
    for piece in _SPACE.split(normalize(query)):
        piece = piece.strip("，。、；：,.;:!?！？\"'“”‘’()（）[]【】")
        if piece and piece not in out:
            out.append(piece)
    return out


def is_word(term: str) -> bool:
    """True when jieba's dictionary knows the term (so documents carry it as a token)."""
    return bool(tokenizer().FREQ.get(term))


def joined(parts: Iterable[str]) -> str:
    return " ".join(p for p in parts if p)
