"""Themes of a round's arguments, in French and English: recurring terms and quoted arguments.

Extractive by construction: a theme is a handful of terms that recur across arguments and
tend to appear together, and the arguments that best carry them, quoted verbatim (a quote is
always an exact substring of an argument). Nothing is paraphrased or generated.

The method, kept simple enough to explain to a moderator:

1. Tokenise each argument into words (letters only), lowercase them, and drop French and
   English stop words. Accents are stripped and a final plural ``s``/``x`` is folded *for
   matching only* ("Données" and "donnees" are one term); a term is displayed in its most
   common written form. Two-letter words are kept only as acronyms ("IA", "UE").
   Adjacent content words inside a clause also form two-word terms ("vie privée").
   Identical texts count once: a copied argument is one voice, not a recurring term.
2. Recurring terms are those found in at least two arguments, weighted by TF-IDF
   (scikit-learn) so that words used everywhere weigh less than distinctive ones.
3. Themes are grown greedily around seed terms (any recurring term not present in most
   arguments, which would make a theme of everything): terms that co-occur with the seed in
   at least two arguments, mostly inside its arguments and strongly associated with it
   (normalised pointwise mutual information of at least 0.5), and appearing with every
   term already in the theme, join it. Each round keeps the best such theme — several terms
   before a lone word, then the most arguments covered — and its terms are used up.
4. Each theme quotes the one or two arguments with the highest TF-IDF weight on its terms,
   preferring arguments not already quoted by an earlier theme.

Every step breaks ties by term or argument number, so the result depends only on the texts.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from bot.summary.model import Theme, ThemeQuote, Themes

THEMES_VERSION = "1"

# Compact stop-word lists: function words plus the verbs and adverbs every argument uses
# ("il faut", "should"), which would otherwise crowd out the subject matter. Matched after
# accent stripping, so each word needs to appear once, accents or not.
_STOP_FR = """
a ai aie aient aies ait alors as au aucun aucune aupres auquel aura aurai auraient aurais
aurait auras aurez auriez aurions aurons auront aussi autant autre autres aux auxquelles
auxquels avaient avais avait avant avec avez aviez avions avoir avons ayant ayez ayons bah
beaucoup bien bon car ce ceci cela celle celles celui cependant certain certaine certaines
certains ces cet cette ceux chacun chaque chez ci comme comment contre dans de debut deja
des desormais deux devant devrait devraient doit doivent donc dont du duquel durant elle
elles en encore entre est et etaient etais etait etant ete etes etiez etions etre eu eue
eues eumes eurent eus eusse eussent eusses eussiez eussions eut eutes eux faire fais fait
faites faut fois font fut furent grand grande grandes grands hors ici il ils je jusqu
jusque la laquelle le lequel les lesquelles lesquels leur leurs lors lorsque lui ma mais
malgre me meme memes mes mien mienne moi moins mon ne ni non nos notre nous on ont ou par
parce parmi pas pendant peu peut peuvent peux plupart plus plusieurs plutot pour pourquoi
pourra pourrait pourraient puis puisque quand quant que quel quelle quelles quels qui quoi
sa sans se selon sera serai seraient serais serait seras serez seriez serions serons seront
ses si sien sienne soi soient sois soit sommes son sont sous soyez soyons suis sur ta tant
te tel telle telles tels tes toi ton tous tout toute toutes tres trop tu un une unes uns
va vers via voici voila vont vos votre vous vraiment chose choses cas faudrait faut-il
falloir permet permettre permettent etc oui rien tellement toujours jamais souvent deja
surtout ainsi afin celui-ci celle-ci
"""

_STOP_EN = """
about above after again against all also am an and any are aren as at be because been
before being below between both but by can cannot could couldn did didn do does doesn
doing don down during each either else even ever every few for from further get gets got
had hadn has hasn have haven having he her here hers herself him himself his how however
i if in into is isn it its itself just least less let like made make makes many may me
might more most much must mustn my myself need needs neither never no nor not now of off
often on once one only or other others ought our ours ourselves out over own per rather
really same shall shan she should shouldn since so some such than that the their theirs
them themselves then there these they thing things this those though through thus to too
under until up upon us use used very via was wasn way we well were weren what when where
whether which while who whom whose why will with within without won would wouldn yes yet
you your yours yourself yourselves already always another anyone anything around better
come else enough etc everyone everything instead keep lot lots people put really say see
seem seems still take think want
"""

_MIN_LENGTH = 3
_QUOTE_CHARS = 280
_WORD = re.compile(r"[^\W\d_]+")
# Clause boundaries: a two-word term never spans punctuation.
_CLAUSE = re.compile(r"[.,;:!?()\[\]{}«»\"“”…\n/|]+")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")


def fold(word: str) -> str:
    """The matching key of a word: lowercase, accents stripped, a plural ``s``/``x`` folded."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    key = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    key = key.replace("œ", "oe").replace("æ", "ae")
    if len(key) >= 4 and key[-1] in "sx" and not key.endswith("ss"):
        key = key[:-1]
    return key


def _stop_set(words: str) -> frozenset[str]:
    out = set()
    for word in words.split():
        lowered = unicodedata.normalize("NFKD", word.lower())
        plain = "".join(ch for ch in lowered if not unicodedata.combining(ch))
        out.add(plain)
        out.add(fold(plain))
    return frozenset(out)


STOP_WORDS_FR = _stop_set(_STOP_FR)
STOP_WORDS_EN = _stop_set(_STOP_EN)
STOP_WORDS = STOP_WORDS_FR | STOP_WORDS_EN


@dataclass(frozen=True)
class Token:
    """One content word: its matching ``key`` and the form it was written in."""

    key: str
    surface: str


def _is_content(word: str) -> bool:
    if len(word) >= _MIN_LENGTH:
        plain = "".join(
            ch
            for ch in unicodedata.normalize("NFKD", word.lower())
            if not unicodedata.combining(ch)
        )
        return plain not in STOP_WORDS and fold(word) not in STOP_WORDS
    # Two-letter words only as acronyms: "IA", "UE" carry meaning, "le", "of" do not.
    return len(word) == 2 and word.isupper()


def _surface(word: str) -> str:
    return word if word.isupper() and len(word) <= 6 else word.lower()


def tokenize(text: str) -> list[list[Token]]:
    """Content words of ``text``, clause by clause (stop words and short words dropped).

    A stop word splits its clause too, so adjacent tokens in one returned list were adjacent
    in the text.
    """
    runs: list[list[Token]] = []
    for clause in _CLAUSE.split(unicodedata.normalize("NFC", text)):
        run: list[Token] = []
        for word in _WORD.findall(clause):
            if _is_content(word):
                run.append(Token(fold(word), _surface(word)))
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
    return runs


def _terms(text: str) -> list[tuple[str, str]]:
    """(key, surface) of every unigram and adjacent bigram of ``text``."""
    out: list[tuple[str, str]] = []
    for run in tokenize(text):
        out.extend((t.key, t.surface) for t in run)
        out.extend(
            (f"{a.key} {b.key}", f"{a.surface} {b.surface}")
            for a, b in pairwise(run)
            if a.key != b.key
        )
    return out


def _excerpt(text: str, surfaces: Iterable[str]) -> tuple[str, bool]:
    """A verbatim substring of ``text`` short enough to quote, and whether it was cut."""
    if len(text) <= _QUOTE_CHARS:
        return text, False
    keys = {fold(w) for s in surfaces for w in s.split()}
    best, best_hits = text, -1
    start = 0
    for part in _SENTENCE.split(text):
        if not part.strip():
            continue
        found = text.find(part, start)
        start = found + len(part)
        hits = sum(1 for w in _WORD.findall(part) if fold(w) in keys)
        if hits > best_hits:
            best, best_hits = part.strip(), hits
    if len(best) > _QUOTE_CHARS:
        cut = best.rfind(" ", 0, _QUOTE_CHARS)
        best = best[: cut if cut > 0 else _QUOTE_CHARS].rstrip()
    return best, True


def _npmi(together: int, first: int, second: int, n: int) -> float:
    """Normalised pointwise mutual information of two terms over ``n`` arguments (-1..1).

    1 when the terms always appear together, 0 when independent; terms present in every
    argument carry no information and score 0.
    """
    joint = together / n
    if joint >= 1.0:
        return 0.0
    pmi = math.log(joint / ((first / n) * (second / n)))
    return pmi / -math.log(joint)


def extract_themes(
    arguments: Sequence[tuple[int, str]],
    *,
    max_themes: int = 4,
    max_terms: int = 5,
    quotes: int = 2,
    top_terms: int = 12,
) -> Themes:
    """Recurring terms and themes of ``arguments`` (``(number, text)`` pairs).

    Returns ``{"version", "terms": [{"term", "arguments"}], "themes": [{"terms": [...],
    "arguments": count, "quotes": [{"number", "text", "excerpt"}]}]}``; ``arguments`` counts
    the arguments using at least one of the theme's terms, ``text`` is a verbatim substring of
    the quoted argument and ``excerpt`` says whether it is only part of it.
    """
    empty: Themes = {"version": THEMES_VERSION, "terms": [], "themes": []}
    docs = _distinct_texts(arguments)
    if len(docs) < 2:
        return empty
    corpus = _Corpus.of(docs)
    if corpus is None:
        return empty
    quoted: set[int] = set()
    themes: list[Theme] = []
    while len(themes) < max_themes:
        chosen_terms = corpus.next_theme(max_terms)
        if chosen_terms is None:
            break
        themes.append(corpus.theme(chosen_terms, quoted, quotes))
    return {
        "version": THEMES_VERSION,
        "terms": [
            {"term": corpus.display(k), "arguments": corpus.df[k]}
            for k in corpus.ranked[:top_terms]
        ],
        "themes": themes,
    }


def _distinct_texts(arguments: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """The arguments by number, a text posted twice (copied, or submitted again) counted once,
    under its lowest number: it is one voice, not a recurring term."""
    docs: list[tuple[int, str]] = []
    seen: set[str] = set()
    for number, text in sorted(((int(n), t) for n, t in arguments), key=lambda d: d[0]):
        key = " ".join(text.casefold().split())
        if key not in seen:
            seen.add(key)
            docs.append((number, text))
    return docs


@dataclass
class _Corpus:
    """The recurring terms of a round's arguments, their weights, and the themes grown so far."""

    docs: list[tuple[int, str]]
    surfaces: dict[str, Counter[str]]
    df: Counter[str]
    weights: Any  # scipy CSC matrix: argument x recurring term, TF-IDF
    column: dict[str, int]
    docs_of: dict[str, frozenset[int]]
    ranked: list[str]
    assigned: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, docs: list[tuple[int, str]]) -> _Corpus | None:
        """The corpus of ``docs``, or None when no term recurs."""
        analysed = [_terms(text) for _, text in docs]
        surfaces: dict[str, Counter[str]] = defaultdict(Counter)
        for terms in analysed:
            for key, surface in terms:
                surfaces[key][surface] += 1
        df: Counter[str] = Counter()
        tf: Counter[str] = Counter()
        for terms in analysed:
            keys = [k for k, _ in terms]
            tf.update(keys)
            df.update(set(keys))
        recurring = [k for k, d in df.items() if d >= 2]
        if not recurring:
            return None

        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            analyzer=lambda terms: [k for k, _ in terms],
            vocabulary=sorted(recurring),
            sublinear_tf=True,
            norm="l2",
        )
        weights = vectorizer.fit_transform(analysed).tocsc()
        column = {key: i for i, key in enumerate(sorted(recurring))}
        docs_of = {k: frozenset(weights[:, column[k]].nonzero()[0].tolist()) for k in recurring}
        # A word that only ever occurs inside one recurring two-word term is shown as that term.
        bigrams = [k for k in recurring if " " in k]
        subsumed = {
            part for b in bigrams for part in b.split(" ") if part in df and df[part] == df[b]
        }
        ranked = sorted(
            (k for k in recurring if k not in subsumed), key=lambda k: (-df[k], -tf[k], k)
        )[:40]
        return cls(docs, surfaces, df, weights, column, docs_of, ranked)

    def display(self, key: str) -> str:
        """A term in its most common written form."""
        forms = self.surfaces[key]
        # Ties go to the accented spelling ("données" over "donnees"), then alphabetical.
        return min(forms, key=lambda s: (-forms[s], -sum(not c.isascii() for c in s), s))

    def grow(self, seed: str, max_terms: int) -> tuple[list[str], list[str]]:
        """The theme a seed would make: its shown terms and every term it absorbs."""
        home = self.docs_of[seed]
        members: list[tuple[int, str]] = []
        for term in self.ranked:
            if term == seed or term in self.assigned:
                continue
            together = len(self.docs_of[term] & home)
            if (
                together >= 2
                and together / self.df[term] >= 0.5
                and _npmi(together, self.df[seed], self.df[term], len(self.docs)) >= 0.5
            ):
                members.append((together, term))
        members.sort(key=lambda m: (-m[0], -self.df[m[1]], m[1]))
        # Members must also meet each other: a hub word ("platform") does not join two
        # subjects that never appear together into one theme.
        accepted: list[str] = []
        for _, term in members:
            if all(self.docs_of[term] & self.docs_of[other] for other in accepted):
                accepted.append(term)
        return [seed, *accepted[: max_terms - 1]], accepted

    def coverage(self, terms: list[str]) -> frozenset[int]:
        return frozenset().union(*(self.docs_of[t] for t in terms))

    def next_theme(self, max_terms: int) -> list[str] | None:
        """The terms of the best theme still possible (its terms are used up), or None.

        Of every theme still possible, the one made of several terms (a theme, not a word)
        that covers the most arguments; ties go to the more widespread seed, then
        alphabetical order.
        """
        seedable_max = max(3, math.ceil(0.6 * len(self.docs)))
        options = [
            (self.grow(seed, max_terms), seed)
            for seed in self.ranked
            if seed not in self.assigned and self.df[seed] <= seedable_max
        ]
        if not options:
            return None
        (chosen_terms, absorbed), seed = min(
            options,
            key=lambda o: (
                len(o[0][0]) < 2,
                -len(self.coverage(o[0][0])),
                -len(o[0][0]),
                -self.df[o[1]],
                o[1],
            ),
        )
        self.assigned.add(seed)
        self.assigned.update(absorbed)
        return chosen_terms

    def theme(self, chosen_terms: list[str], quoted: set[int], quotes: int) -> Theme:
        """The theme of ``chosen_terms``, quoting the arguments that weigh most on them,
        preferring arguments not ``quoted`` yet (the quoted ones are added to it)."""
        covered = self.coverage(chosen_terms)
        theme_weights = self.weights[:, [self.column[t] for t in chosen_terms]].toarray()
        scored = []
        for row in sorted(covered):
            vector = theme_weights[row]
            present = int((vector > 0).sum())
            scored.append((-present, -round(float(vector.sum()), 9), self.docs[row][0], row))
        scored.sort()
        fresh = [s for s in scored if s[2] not in quoted]
        chosen = (fresh + [s for s in scored if s[2] in quoted])[:quotes]
        shown = [self.display(t) for t in chosen_terms]
        theme_quotes: list[ThemeQuote] = []
        for _, _, number, row in chosen:
            quoted.add(number)
            text, cut = _excerpt(self.docs[row][1], shown)
            theme_quotes.append({"number": number, "text": text, "excerpt": cut})
        return {"terms": shown, "arguments": len(covered), "quotes": theme_quotes}
