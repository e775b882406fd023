"""Synthetic collections: deterministic, realistic, written one file per entry as the project does.

Every record is made from a seeded random generator, so the same size always
gives the same files.  Field lengths follow the seed collection (titles of
8-20 words, abstracts of 150-250, two or three sentences of key finding, one
to eight authors with LaTeX accents), themes come from the project's own
`references/themes.toml` with Zipf-like frequencies, and the words are those
of the field: "trauma" is in most records, as it is in the real literature.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from library.bibtex import Entry, format_entry
from library.taxonomy import VOCABULARY_FILE, Vocabulary, load_vocabulary

REPO = Path(__file__).resolve().parent.parent
THEMES_TOML = REPO / "references" / VOCABULARY_FILE
SEED = 20_260_101

# The field's words, commonest first: a Zipf-like weight follows from the rank.
DOMAIN_WORDS = """
trauma informed care services staff health mental support practice training people
organisational service approach experiences study participants findings women children
young workers clinical recovery safety change implementation nurses community wellbeing
stress violence abuse adverse childhood outcomes evidence model leadership burnout
secondary traumatic compassion fatigue vicarious resilience peer relationships trust
collaboration empowerment choice voice culture gender historical policy framework
assessment screening treatment therapy intervention programme workforce managers
barriers facilitators retraumatisation restraint seclusion inpatient psychiatric
hospital prison justice homelessness substance use psychosis schizophrenia depression
anxiety ptsd symptoms disorder risk prevalence exposure survivors families parents
school education social work housing primary emergency department crisis team teams
organisation organisations system systems principles values environment physical
emotional psychological wellbeing supervision reflective coaching consultation
qualitative interviews survey questionnaire randomised controlled trial cohort review
systematic meta analysis mixed methods thematic grounded theory narrative ethnography
""".split()

# Phrases the field repeats, dropped into some sentences whole.
PHRASES = ("mental health services", "secondary traumatic stress", "staff wellbeing", "adverse childhood experiences",
           "trauma-informed approach", "peer support", "restraint and seclusion", "organisational change",
           "mental health", "staff training", "compassion fatigue", "vicarious trauma")

FILLER_WORDS = """
the of and to in a for with on as by from at that this were was which their these between
across within among over after before during more most less than how what whether about
into through both each other such also however while although because when where who
reported described identified examined explored found showed suggested indicated
associated related increased reduced improved higher lower greater significant important
key main several many some few new current future further overall general specific
local national international regional urban rural adult older younger long short term
""".split()

NAMES = [
    ("M{\\\"u}ller", "Hans"), ("{\\v{S}}imi{\\'c}", "Ana"), ("O'Brien", "Siobh{\\'a}n"),
    ("Garc{\\'\\i}a", "Jos{\\'e}"), ("Nguyen", "Thi"), ("Smith", "John"), ("Jones", "Sarah"),
    ("Williams", "David"), ("Brown", "Emma"), ("Taylor", "James"), ("Davies", "Rhiannon"),
    ("Evans", "Owen"), ("Wilson", "Grace"), ("Thomas", "Mark"), ("Johnson", "Laura"),
    ("Roberts", "Helen"), ("Walker", "Peter"), ("Wright", "Claire"), ("Robinson", "Paul"),
    ("Thompson", "Ruth"), ("White", "Simon"), ("Hughes", "Anna"), ("Edwards", "Tom"),
    ("Green", "Kate"), ("Hall", "Chris"), ("Wood", "Lucy"), ("Harris", "Ben"),
    ("Lewis", "Megan"), ("Martin", "Rachel"), ("Jackson", "Dan"), ("Clarke", "Sophie"),
    ("Kowalski", "Piotr"), ("Nov{\\'a}k", "Jan"), ("Dvo{\\v{r}}{\\'a}k", "Eva"),
    ("Sch{\\\"o}n", "Lena"), ("Andr{\\'e}", "Fran{\\c{c}}ois"), ("{\\O}stergaard", "S{\\o}ren"),
    ("Bj{\\\"o}rk", "Ingrid"), ("Fern{\\'a}ndez", "Luc{\\'\\i}a"), ("Ch{\\'a}vez", "Mar{\\'\\i}a"),
    ("{\\'O} S{\\'u}illeabh{\\'a}in", "Aoife"), ("van der Berg", "Pieter"), ("de la Cruz", "Rosa"),
    ("Kim", "Min-jun"), ("Patel", "Priya"), ("Khan", "Ayesha"), ("Okafor", "Chidi"),
    ("Mensah", "Kwame"), ("Tanaka", "Yuki"), ("Chen", "Wei"), ("Singh", "Arjun"),
    ("Bellis", "Mark A."), ("Felitti", "Vincent J."), ("Sweeney", "Angela"), ("Bloom", "Sandra L."),
]

JOURNALS = [
    "Journal of Traumatic Stress", "Psychological Trauma: Theory, Research, Practice, and Policy",
    "Child Abuse {\\&} Neglect", "Journal of Psychiatric and Mental Health Nursing",
    "BMC Health Services Research", "Trauma, Violence, {\\&} Abuse", "Community Mental Health Journal",
    "International Journal of Mental Health Nursing", "Administration and Policy in Mental Health",
    "BJPsych Bulletin", "Social Science {\\&} Medicine", "Implementation Science",
]
COUNTRIES = ["United Kingdom", "United States", "Australia", "Canada", "Ireland", "New Zealand",
             "Sweden", "Germany", "Netherlands", "South Africa"]


def _tail_words(count: int, seed: int) -> list[str]:
    """Rarer words for the long tail of the vocabulary (made of syllables, so no word list is needed)."""
    rng = random.Random(seed)
    onsets = "b c d f g h l m n p r s t v w br cl cr dr fl gr pl pr sc sp st tr".split()
    vowels = "a e i o u ai ea io ou".split()
    codas = ["", "", "n", "r", "s", "l", "m", "t", "nd", "st", "ct"]
    endings = ["", "", "ity", "ation", "ive", "al", "ism", "ment", "ing", "ed", "ous"]
    words: dict[str, None] = {}
    while len(words) < count:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                       for _ in range(rng.randint(1, 3))) + rng.choice(endings)
        if len(word) > 3 and word not in DOMAIN_WORDS:
            words[word] = None
    return list(words)


TAIL_WORDS = _tail_words(6_000, 7)


@dataclass(frozen=True)
class Synthetic:
    """A generated collection on disk."""

    root: Path
    size: int
    keys: tuple[str, ...]
    vocabulary: Vocabulary


def _zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    return [1.0 / (rank ** exponent) for rank in range(1, count + 1)]


class _Writer:
    """Makes one record after another from a single seeded generator."""

    def __init__(self, vocabulary: Vocabulary, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vocabulary = vocabulary
        self.themes = [t.slug for t in vocabulary.themes]
        self.rng.shuffle(self.themes)  # which themes are common should not follow file order
        self.theme_weights = _zipf_weights(len(self.themes), 1.1)
        self.types = [t.slug for t in vocabulary.evidence_types]
        self.type_weights = _zipf_weights(len(self.types), 0.8)
        self.settings = [s.slug for s in vocabulary.settings]
        self.setting_weights = _zipf_weights(len(self.settings), 0.9)
        self.domain_weights = _zipf_weights(len(DOMAIN_WORDS), 0.9)
        self.tail_weights = _zipf_weights(len(TAIL_WORDS), 1.0)
        self.years = list(range(1990, 2027))
        self.year_weights = [1.09 ** (y - 1990) for y in self.years]  # skewed towards recent years

    def words(self, count: int, domain_share: float = 0.35, tail_share: float = 0.25) -> list[str]:
        """Function words, the field's common words, and a long tail of rarer ones (Zipf-like)."""
        rng = self.rng
        domain = rng.choices(DOMAIN_WORDS, self.domain_weights, k=count)
        tail = rng.choices(TAIL_WORDS, self.tail_weights, k=count)
        filler = rng.choices(FILLER_WORDS, k=count)
        out = []
        for d, t, f in zip(domain, tail, filler):
            roll = rng.random()
            out.append(d if roll < domain_share else t if roll < domain_share + tail_share else f)
        return out

    def sentence(self, low: int, high: int, *, trauma: bool = False) -> str:
        words = self.words(self.rng.randint(low, high))
        if trauma:
            at = self.rng.randrange(len(words))
            words[at:at + 1] = ["trauma-informed", "care"] if self.rng.random() < 0.5 else ["trauma"]
        if self.rng.random() < 0.3:
            at = self.rng.randrange(len(words))
            words[at:at + 1] = self.rng.choice(PHRASES).split()
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."

    def title(self, trauma: bool) -> str:
        words = self.words(self.rng.randint(8, 20), domain_share=0.5)
        if trauma:
            at = self.rng.randrange(len(words))
            words[at] = "trauma-informed" if self.rng.random() < 0.6 else "trauma"
        words = [w.capitalize() if w not in FILLER_WORDS[:12] else w for w in words]
        words[0] = words[0].capitalize()
        if "ptsd" in (w.lower() for w in words):
            words = ["{PTSD}" if w.lower() == "ptsd" else w for w in words]
        return " ".join(words)

    def abstract(self, trauma: bool) -> str:
        rng = self.rng
        target = rng.randint(150, 250)
        sentences: list[str] = []
        count = 0
        while count < target:
            sentence = self.sentence(12, 28, trauma=trauma and (not sentences or rng.random() < 0.3))
            sentences.append(sentence)
            count += sentence.count(" ") + 1
        return " ".join(sentences)

    def authors(self) -> tuple[str, ...]:
        count = min(8, max(1, int(self.rng.expovariate(1 / 3.0)) + 1))
        people = self.rng.sample(NAMES, count)
        return tuple(f"{family}, {given}" for family, given in people)

    def entry(self, number: int) -> Entry:
        rng = self.rng
        trauma = rng.random() < 0.85  # most of this field's literature names trauma
        authors = self.authors()
        year = rng.choices(self.years, self.year_weights)[0]
        first_family = authors[0].split(",")[0]
        family_ascii = "".join(c for c in first_family.lower() if c.isalpha() and c.isascii())
        key = f"{family_ascii or 'anon'}{year}r{number:06d}"
        themes = list(dict.fromkeys(rng.choices(self.themes, self.theme_weights, k=rng.randint(1, 3))))
        settings = list(dict.fromkeys(rng.choices(self.settings, self.setting_weights, k=rng.randint(0, 2))))
        finding = " ".join(self.sentence(14, 26, trauma=trauma and i == 0) for i in range(rng.randint(2, 3)))
        fields = {
            "title": self.title(trauma),
            "journal": rng.choice(JOURNALS),
            "year": str(year),
            "volume": str(rng.randint(1, 60)),
            "number": str(rng.randint(1, 12)),
            "pages": f"{(start := rng.randint(1, 900))}--{start + rng.randint(5, 25)}",
            "doi": f"10.{rng.randint(1000, 9999)}/bench.{year}.{number:06d}",
            "abstract": self.abstract(trauma),
            "keywords": ", ".join(dict.fromkeys(self.words(rng.randint(3, 6), domain_share=0.8, tail_share=0.2))),
            "themes": ", ".join(themes),
            "evidence-type": rng.choices(self.types, self.type_weights)[0],
            "country": rng.choice(COUNTRIES),
            "key-finding": finding,
            "finding-checked": rng.choice(["yes", "no"]),
            "provenance": "Synthetic reference generated for the benchmark.",
            "added": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "added-by": "benchmark",
        }
        if settings:
            fields["setting"] = ", ".join(settings)
        return Entry(key, "article", fields, {"author": authors})


def generate(root: Path, size: int, *, seed: int = SEED) -> Synthetic:
    """Write `size` references (and the project's vocabulary) into `root`, replacing what is there."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copyfile(THEMES_TOML, root / VOCABULARY_FILE)
    vocabulary = load_vocabulary(root / VOCABULARY_FILE)
    writer = _Writer(vocabulary, seed)
    keys = []
    for number in range(size):
        entry = writer.entry(number)
        (root / f"{entry.key}.bib").write_text(format_entry(entry), encoding="utf-8")
        keys.append(entry.key)
    return Synthetic(root, size, tuple(keys), vocabulary)

