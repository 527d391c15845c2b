"""Demo content for a fresh install: a small, made-up news site to explore the API with.

About 300 articles in six sections of three subsections each, by twelve authors, with forty
tags, a few drafts, a few articles scheduled for the coming weeks and some editor-pinned
related posts. A fixed seed makes it the same every time; dates are laid out relative to the
day it is loaded, so the newest articles are recent and the scheduled ones still ahead. The
records are corpus records, loaded through :func:`resolvers.corpus_import.import_corpus`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, utcnow
from masthead.corpus.format import ARTICLE, AUTHOR, CATEGORY, TAG, format_time
from masthead.corpus.importer import import_corpus
from resolvers.articles.text_metrics import excerpt_from_body
from resolvers.slugs import slugify

__all__ = ["DEMO_ARTICLES", "demo_records", "load_demo"]

DEMO_ARTICLES = 300
_SEED = 20_240_517
_DRAFTS = 8
_SCHEDULED = 6
_PINNING = 24
# Time between consecutive articles: the 300 of them cover the year before the load.
_SPACING = timedelta(hours=29)


@dataclass(frozen=True)
class _Section:
    name: str
    description: str
    children: tuple[str, str, str]
    subjects: tuple[str, ...]
    tags: tuple[str, ...]


_SECTIONS = (
    _Section(
        "World",
        "Politics, diplomacy and daily life beyond our borders.",
        ("Europe", "Asia", "Americas"),
        ("ceasefire talks", "border checks", "election reform", "aid deliveries",
         "regional trade pacts", "coalition talks"),
        ("diplomacy", "elections", "migration", "humanitarian aid", "European Union"),
    ),
    _Section(
        "Business",
        "Companies, markets and the economy that connects them.",
        ("Markets", "Companies", "Economy"),
        ("interest rates", "quarterly earnings", "merger plans", "supply chains",
         "small business lending", "wage growth"),
        ("inflation", "central banks", "startups", "earnings", "labour market"),
    ),
    _Section(
        "Technology",
        "Software, devices and the people who build them.",
        ("Artificial Intelligence", "Security", "Gadgets"),
        ("AI assistants", "password-free logins", "chip shortages", "satellite internet",
         "open-source funding", "repairable phones"),
        ("machine learning", "cybersecurity", "semiconductors", "privacy", "open source"),
    ),
    _Section(
        "Science",
        "Discoveries, research and what they mean for us.",
        ("Space", "Climate", "Health"),
        ("lunar missions", "heatwave forecasts", "vaccine trials", "ocean warming",
         "gene editing", "sleep research"),
        ("space exploration", "climate change", "public health", "genetics", "oceans"),
    ),
    _Section(
        "Sport",
        "Results, transfers and the stories behind the scores.",
        ("Football", "Tennis", "Cycling"),
        ("the transfer window", "grand slam draws", "mountain stages", "youth academies",
         "stadium plans", "anti-doping rules"),
        ("Premier League", "grand slams", "Tour de France", "Olympics", "transfers"),
    ),
    _Section(
        "Culture",
        "Film, music, books and the places that show them.",
        ("Film", "Music", "Books"),
        ("festival line-ups", "streaming releases", "vinyl sales", "literary prizes",
         "museum reopenings", "film restorations"),
        ("cinema", "streaming", "literature", "museums", "live music"),
    ),
)  # fmt: skip
# How often each section publishes, in _SECTIONS order.
_SECTION_WEIGHTS = (5, 5, 4, 3, 4, 3)
_GENERAL_TAGS = (
    "analysis", "interview", "explainer", "opinion", "data", "profile", "review", "long read",
    "live coverage", "photo essay",
)  # fmt: skip
# Two authors per section desk, in _SECTIONS order.
_AUTHORS = (
    ("Inès Moreau", "European politics"), ("Kwame Asante", "aid and migration"),
    ("Rafael Duarte", "markets"), ("Hannah Okoye", "the workplace"),
    ("Mei Lin", "consumer technology"), ("Tomasz Wójcik", "security and privacy"),
    ("Leila Haddad", "climate research"), ("Jonas Berg", "medicine"),
    ("Chiara Bellini", "football"), ("Oscar Lindqvist", "cycling and tennis"),
    ("Priya Raman", "books and film"), ("Samuel Achterberg", "music"),
)  # fmt: skip
_PLACES = (
    "Lisbon", "Vienna", "Warsaw", "Seoul", "Manila", "Osaka", "Bogotá", "Montreal", "Lima",
    "Nairobi", "Accra", "Auckland",
)  # fmt: skip
_ORGANISATIONS = (
    "Northgate Bank", "Halden Labs", "Corvid Motors", "Bluefin Energy", "Marlow Press",
    "Tidewater Group", "Kestrel University", "the city council",
)  # fmt: skip
_PEOPLE = (
    "Ana Ferreira", "David Mensah", "Yuki Tanaka", "Lars Holm", "Fatima Rahman", "Paul Girard",
    "Nadia Petrova", "Joseph Mwangi",
)  # fmt: skip
_ROLES = (
    "a senior official", "an economist", "a spokesperson", "a local organiser",
    "a researcher", "a union leader", "an industry analyst",
)  # fmt: skip
_TRENDS = ("risen", "fallen", "doubled", "slowed", "recovered")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_HEADLINES = (
    "{Place} and the politics of {subject}",
    "What {subject} could mean for {place}",
    "{Place} braces for a year of {subject}",
    "Five questions about {subject}",
    "Inside the push for {subject} in {place}",
    "{Subject}: what happens next",
    "{Organisation} bets on {subject}",
    "The quiet fight over {subject}",
    "How {place} is rethinking {subject}",
    "{Organisation} and the future of {subject}",
    "A closer look at {subject}",
)
_SENTENCES = (
    "{Place} has become the focus of the debate over {subject}.",
    "Officials said on Tuesday that {subject} would be reviewed before the end of {month}.",
    '"We expect {subject} to dominate the next few months," said {person}, {role}.',
    "Figures published this week suggest interest in {subject} has {trend} since last year.",
    "Around {percent} percent of those surveyed in {place} said {subject} affected them directly.",
    "Critics say the plan does little to address {other}.",
    "A decision on {subject} is expected in {month}.",
    "Residents of {place} told us that {subject} had changed how they plan their week.",
    "{Organisation} described {subject} as the biggest test it has faced in a decade.",
    '"Nobody should pretend this is simple," {person} said.',
    "The debate over {subject} is unlikely to end soon.",
)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Writer:
    """Fills headline and sentence templates for one article about one subject."""

    def __init__(self, rng: random.Random, section: _Section) -> None:
        self.rng = rng
        self.section = section
        self.subject = rng.choice(section.subjects)
        self.place = rng.choice(_PLACES)
        self.organisation = rng.choice(_ORGANISATIONS)
        self._unsaid: list[str] = []

    def _words(self) -> dict[str, str]:
        rng = self.rng
        return {
            "subject": self.subject,
            "Subject": _capitalised(self.subject),
            "other": rng.choice([s for s in self.section.subjects if s != self.subject]),
            "place": self.place,
            "Place": self.place,
            "organisation": self.organisation,
            "Organisation": _capitalised(self.organisation),
            "person": rng.choice(_PEOPLE),
            "role": rng.choice(_ROLES),
            "trend": rng.choice(_TRENDS),
            "percent": str(rng.randint(3, 40)),
            "month": rng.choice(_MONTHS),
        }

    def headline(self) -> str:
        return self.rng.choice(_HEADLINES).format(**self._words())

    def _sentence(self) -> str:
        # Dealt like cards, so a sentence repeats only once all the others have been used.
        if not self._unsaid:
            self._unsaid = self.rng.sample(_SENTENCES, len(_SENTENCES))
        return self._unsaid.pop()

    def body(self) -> str:
        paragraphs = []
        for _ in range(self.rng.randint(3, 5)):
            words = self._words()
            sentences: list[str] = []
            for _ in range(self.rng.randint(2, 4)):
                sentence = self._sentence()
                while sentence in sentences:
                    sentence = self._sentence()
                sentences.append(sentence)
            paragraphs.append(" ".join(sentence.format(**words) for sentence in sentences))
        return "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)


def demo_records(today: datetime) -> Iterator[dict[str, Any]]:
    """The demo site as corpus records, dated so the last article is just before ``today``."""
    rng = random.Random(_SEED)
    for number, (name, beat) in enumerate(_AUTHORS, start=1):
        desk = _SECTIONS[(number - 1) // 2].name.lower()
        yield AUTHOR.record(
            number,
            slug=slugify(name),
            name=name,
            bio=f"{name} writes about {beat} for the {desk} desk.",
            avatar_url=f"https://example.com/demo/avatars/{slugify(name)}.png",
        )

    for number, section in enumerate(_SECTIONS, start=1):
        yield CATEGORY.record(
            number,
            slug=slugify(section.name),
            name=section.name,
            description=section.description,
            parent=None,
        )
    subsections: list[list[int]] = []
    number = len(_SECTIONS)
    for parent, section in enumerate(_SECTIONS, start=1):
        subsections.append([])
        for child in section.children:
            number += 1
            subsections[-1].append(number)
            yield CATEGORY.record(
                number,
                slug=slugify(child),
                name=child,
                description=f"{child} coverage from our {section.name.lower()} desk.",
                parent=CATEGORY.key(parent),
            )

    section_tags: list[list[int]] = []
    number = 0
    for section in _SECTIONS:
        section_tags.append([])
        for tag in section.tags:
            number += 1
            section_tags[-1].append(number)
            yield TAG.record(number, slug=slugify(tag), name=tag)
    general_tags = list(range(number + 1, number + 1 + len(_GENERAL_TAGS)))
    for number, tag in zip(general_tags, _GENERAL_TAGS, strict=True):
        yield TAG.record(number, slug=slugify(tag), name=tag)

    articles = range(1, DEMO_ARTICLES + 1)
    drafts = set(rng.sample(articles, _DRAFTS))
    # Scheduled articles are among the newest: what an editor lines up next.
    scheduled = set(rng.sample([n for n in articles[-40:] if n not in drafts], _SCHEDULED))
    pinning = set(rng.sample(articles[20:], _PINNING))
    by_section: list[list[int]] = [[] for _ in _SECTIONS]
    slugs: set[str] = set()
    for number in articles:
        index = rng.choices(range(len(_SECTIONS)), weights=_SECTION_WEIGHTS)[0]
        section = _SECTIONS[index]
        writer = _Writer(rng, section)
        title = writer.headline()
        body = writer.body()
        slug = slugify(title)
        suffix = 1
        while slug in slugs:
            suffix += 1
            slug = f"{slugify(title)}-{suffix}"
        slugs.add(slug)

        desk_authors = (index * 2 + 1, index * 2 + 2)
        author = rng.choice(desk_authors) if rng.random() < 0.8 else rng.randint(1, len(_AUTHORS))
        # Most articles sit in a subsection; some directly on the section's front.
        category = rng.choice(subsections[index]) if rng.random() < 0.75 else index + 1
        tags = rng.sample(section_tags[index], rng.randint(1, 2))
        tags += rng.sample(general_tags, rng.choice((0, 0, 1, 2)))

        published_at = today - _SPACING * (DEMO_ARTICLES - number)
        published_at -= timedelta(seconds=rng.randint(3_600, 20 * 3_600))
        updated_at = published_at
        if rng.random() < 0.3:
            updated_at = min(published_at + timedelta(minutes=rng.randint(10, 4_000)), today)
        status = "published"
        published: datetime | None = published_at
        if number in drafts:
            status, published = "draft", None
        elif number in scheduled:
            published = today + timedelta(days=rng.randint(1, 30), hours=rng.randint(6, 18))
            updated_at = today - timedelta(minutes=rng.randint(30, 2_000))

        related: list[int] = []
        if number in pinning and by_section[index]:
            candidates = by_section[index][-30:]
            related = rng.sample(candidates, min(len(candidates), rng.randint(1, 3)))
        by_section[index].append(number)

        yield ARTICLE.record(
            number,
            slug=slug,
            title=title,
            excerpt=excerpt_from_body(body),
            body=body,
            status=status,
            published_at=format_time(published),
            updated_at=format_time(updated_at),
            author=AUTHOR.key(author),
            category=CATEGORY.key(category),
            tags=[TAG.key(tag) for tag in sorted(tags)],
            related=[ARTICLE.key(pin) for pin in related],
        )


async def load_demo(
    sessionmaker: async_sessionmaker[AsyncSession], *, if_empty: bool = False
) -> bool:
    """Load (or refresh) the demo content; False, loading nothing, if ``if_empty`` and the
    database already has articles.

    The demo records use keys ``a1``, ``c1``, ``t1``, ``p1``...: loaded into a database with
    content of its own, they overwrite the rows with those ids.
    """
    if if_empty:
        async with sessionmaker() as session:
            if await session.scalar(select(Article.id).limit(1)) is not None:
                return False
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    await import_corpus(sessionmaker, (encode(record) for record in demo_records(today)))
    return True
