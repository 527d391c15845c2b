"""relatedPosts ranking (SPEC "relatedPosts"), straight against the resolver on both databases."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleStatus, Author, Category, Tag, utcnow
from resolvers.articles.related_posts import related_posts
from tests.support.factories import make_article, make_author, make_category, make_tag, pin_related
from tests.support.statements import StatementCounter

Sessions = async_sessionmaker[AsyncSession]


async def _related(
    sessionmaker: Sessions,
    sources: Sequence[Article],
    *,
    first: int = 5,
    now: datetime | None = None,
) -> dict[int, list[int]]:
    async with sessionmaker() as session:
        found = await related_posts(
            session, article_ids=[a.id for a in sources], first=first, now=now or utcnow()
        )
    return {source_id: [a.id for a in articles] for source_id, articles in found.items()}


async def _related_ids(
    sessionmaker: Sessions, source: Article, *, first: int = 5, now: datetime | None = None
) -> list[int]:
    return (await _related(sessionmaker, [source], first=first, now=now))[source.id]


def _ids(*articles: Article) -> list[int]:
    return [a.id for a in articles]


@pytest.fixture
async def author(sessionmaker: Sessions) -> Author:
    return await make_author(sessionmaker)


@pytest.fixture
async def category(sessionmaker: Sessions) -> Category:
    return await make_category(sessionmaker)


@pytest.fixture
async def other_category(sessionmaker: Sessions) -> Category:
    return await make_category(sessionmaker)


@pytest.fixture
async def tags(sessionmaker: Sessions) -> list[Tag]:
    return [await make_tag(sessionmaker) for _ in range(3)]


async def test_pins_come_first_in_pinned_order(
    sessionmaker: Sessions,
    author: Author,
    category: Category,
    other_category: Category,
    tags: list[Tag],
) -> None:
    source = await make_article(sessionmaker, author=author, category=category, tags=tags)
    scored = await make_article(
        sessionmaker, author=author, category=category, tags=tags, days_ago=1
    )
    pins = [
        await make_article(sessionmaker, author=author, category=other_category, days_ago=d)
        for d in (30, 10, 20)
    ]
    await pin_related(sessionmaker, source, [pins[2], pins[0], pins[1]])

    assert await _related_ids(sessionmaker, source) == _ids(pins[2], pins[0], pins[1], scored)


async def test_pins_that_are_not_public_are_skipped(
    sessionmaker: Sessions, author: Author, category: Category, other_category: Category
) -> None:
    source = await make_article(sessionmaker, author=author, category=other_category)
    draft = await make_article(
        sessionmaker, author=author, category=category, status=ArticleStatus.DRAFT
    )
    scheduled = await make_article(
        sessionmaker, author=author, category=category, published_at=utcnow() + timedelta(days=1)
    )
    old, older = [
        await make_article(sessionmaker, author=author, category=category, days_ago=d)
        for d in (50, 60)
    ]
    await pin_related(sessionmaker, source, [draft, older, scheduled, old])

    assert await _related_ids(sessionmaker, source) == _ids(older, old)


async def test_score_beats_recency(
    sessionmaker: Sessions,
    author: Author,
    category: Category,
    other_category: Category,
    tags: list[Tag],
) -> None:
    source = await make_article(sessionmaker, author=author, category=category, tags=tags[:2])
    # Oldest first, so that only the score can put them in this order.
    two_tags = await make_article(  # 2 x 2 = 4
        sessionmaker, author=author, category=other_category, tags=tags[:2], days_ago=50
    )
    tag_and_category = await make_article(  # 2 + 1 = 3
        sessionmaker, author=author, category=category, tags=tags[1:], days_ago=40
    )
    one_tag = await make_article(  # 2
        sessionmaker, author=author, category=other_category, tags=tags[:1], days_ago=30
    )
    category_only = await make_article(  # 1
        sessionmaker, author=author, category=category, tags=tags[2:], days_ago=20
    )
    unrelated = await make_article(  # 0: a filler
        sessionmaker, author=author, category=other_category, tags=tags[2:], days_ago=10
    )

    assert await _related_ids(sessionmaker, source, first=10) == _ids(
        two_tags, tag_and_category, one_tag, category_only, unrelated
    )


async def test_equal_scores_go_newest_first_then_highest_id(
    sessionmaker: Sessions,
    author: Author,
    category: Category,
    other_category: Category,
    tags: list[Tag],
) -> None:
    source = await make_article(sessionmaker, author=author, category=category, tags=tags[:1])
    same_time = utcnow() - timedelta(days=5)
    older = await make_article(
        sessionmaker, author=author, category=other_category, tags=tags[:1], days_ago=9
    )
    tied_low = await make_article(
        sessionmaker, author=author, category=other_category, tags=tags[:1], published_at=same_time
    )
    tied_high = await make_article(
        sessionmaker, author=author, category=other_category, tags=tags[:1], published_at=same_time
    )
    newer = await make_article(
        sessionmaker, author=author, category=other_category, tags=tags[:1], days_ago=2
    )

    assert await _related_ids(sessionmaker, source) == _ids(newer, tied_high, tied_low, older)


async def test_fills_with_the_newest_public_articles(
    sessionmaker: Sessions,
    author: Author,
    category: Category,
    other_category: Category,
    tags: list[Tag],
) -> None:
    source = await make_article(sessionmaker, author=author, category=category, tags=tags[:1])
    related = await make_article(
        sessionmaker, author=author, category=other_category, tags=tags[:1], days_ago=100
    )
    fillers = [
        await make_article(sessionmaker, author=author, category=other_category, days_ago=d)
        for d in (40, 10, 30, 20)
    ]
    await make_article(
        sessionmaker, author=author, category=other_category, status=ArticleStatus.DRAFT
    )

    assert await _related_ids(sessionmaker, source, first=4) == _ids(
        related, fillers[1], fillers[3], fillers[2]
    )


async def test_never_the_article_itself(
    sessionmaker: Sessions, author: Author, category: Category, tags: list[Tag]
) -> None:
    # The newest article, sharing every tag and its category with itself, and pinned to itself.
    source = await make_article(
        sessionmaker, author=author, category=category, tags=tags, days_ago=0
    )
    others = [
        await make_article(sessionmaker, author=author, category=category, days_ago=d)
        for d in (1, 2)
    ]
    await pin_related(sessionmaker, source, [source])

    assert await _related_ids(sessionmaker, source) == _ids(*others)


async def test_the_source_takes_no_place_among_the_newest(
    sessionmaker: Sessions, author: Author, category: Category, other_category: Category
) -> None:
    # The source is the newest of its category and overall, so each tier must look one
    # article further than `first` to fill the list.
    fillers = [
        await make_article(sessionmaker, author=author, category=other_category, days_ago=d)
        for d in (1, 2)
    ]
    same_category = [
        await make_article(sessionmaker, author=author, category=category, days_ago=d)
        for d in (5, 6, 7)
    ]
    source = await make_article(sessionmaker, author=author, category=category, days_ago=0)
    lonely = await make_article(
        sessionmaker, author=author, category=await make_category(sessionmaker), days_ago=0
    )

    assert await _related_ids(sessionmaker, source, first=2) == _ids(*same_category[:2])
    assert await _related_ids(sessionmaker, lonely, first=2) == _ids(source, *fillers[:1])


async def test_a_pinned_article_that_also_scores_appears_once_at_its_pin(
    sessionmaker: Sessions,
    author: Author,
    category: Category,
    other_category: Category,
    tags: list[Tag],
) -> None:
    source = await make_article(sessionmaker, author=author, category=category, tags=tags)
    pinned_first = await make_article(
        sessionmaker, author=author, category=other_category, days_ago=90
    )
    # Best score, newest: it would lead the ranking if it were not pinned.
    pinned_and_related = await make_article(
        sessionmaker, author=author, category=category, tags=tags, days_ago=1
    )
    related = await make_article(
        sessionmaker, author=author, category=category, tags=tags[:1], days_ago=2
    )
    # Pinned twice, as nothing in the table forbids: it keeps its first place.
    await pin_related(sessionmaker, source, [pinned_first, pinned_and_related, pinned_first])

    assert await _related_ids(sessionmaker, source, first=10) == _ids(
        pinned_first, pinned_and_related, related
    )


async def test_drafts_and_scheduled_articles_never_appear(
    sessionmaker: Sessions, author: Author, category: Category, tags: list[Tag]
) -> None:
    source = await make_article(sessionmaker, author=author, category=category, tags=tags)
    # The best candidates of every tier (score 7, newest) but not public.
    hidden = [
        await make_article(
            sessionmaker, author=author, category=category, tags=tags, status=ArticleStatus.DRAFT
        ),
        await make_article(
            sessionmaker,
            author=author,
            category=category,
            tags=tags,
            published_at=utcnow() + timedelta(minutes=5),
        ),
    ]
    public = await make_article(sessionmaker, author=author, category=category, days_ago=3)

    assert await _related_ids(sessionmaker, source, first=20) == _ids(public)
    # A scheduled article shows once its time has come.
    later = utcnow() + timedelta(minutes=10)
    assert await _related_ids(sessionmaker, source, first=20, now=later) == _ids(hidden[1], public)


async def test_first_limits_the_count(
    sessionmaker: Sessions, author: Author, category: Category, tags: list[Tag]
) -> None:
    source = await make_article(sessionmaker, author=author, category=category, tags=tags)
    for days in range(1, 8):
        await make_article(
            sessionmaker, author=author, category=category, tags=tags[: days % 3], days_ago=days
        )

    everything = await _related_ids(sessionmaker, source, first=20)
    assert len(everything) == 7
    for first in (1, 2, 5, 7):
        assert await _related_ids(sessionmaker, source, first=first) == everything[:first]


async def test_first_zero_is_empty_without_sql(
    sessionmaker: Sessions, statements: StatementCounter, author: Author, category: Category
) -> None:
    source = await make_article(sessionmaker, author=author, category=category)
    await make_article(sessionmaker, author=author, category=category)
    statements.reset()

    assert await _related(sessionmaker, [source], first=0) == {source.id: []}
    assert statements.count == 0


async def test_unknown_ids_are_empty_and_draft_sources_still_rank(
    sessionmaker: Sessions,
    author: Author,
    category: Category,
    other_category: Category,
    tags: list[Tag],
) -> None:
    draft = await make_article(
        sessionmaker, author=author, category=category, tags=tags[:1], status=ArticleStatus.DRAFT
    )
    filler = await make_article(sessionmaker, author=author, category=other_category, days_ago=1)
    related = await make_article(
        sessionmaker, author=author, category=other_category, tags=tags[:1], days_ago=9
    )
    same_category = await make_article(sessionmaker, author=author, category=category, days_ago=5)

    async with sessionmaker() as session:
        found = await related_posts(session, article_ids=[draft.id, 987654], first=5, now=utcnow())
    assert {k: [a.id for a in v] for k, v in found.items()} == {
        draft.id: _ids(related, same_category, filler),
        987654: [],
    }
    assert found[draft.id][0].title == related.title


async def test_one_statement_whatever_the_number_of_sources(
    sessionmaker: Sessions,
    statements: StatementCounter,
    author: Author,
    category: Category,
    other_category: Category,
    tags: list[Tag],
) -> None:
    sources = [
        await make_article(
            sessionmaker,
            author=author,
            category=(category, other_category)[i % 2],
            tags=tags[: i % 4],
            days_ago=i,
        )
        for i in range(30)
    ]
    await pin_related(sessionmaker, sources[3], sources[10:12])

    statements.reset()
    one = await _related(sessionmaker, sources[:1])
    single_count = statements.count
    statements.reset()
    batch = await _related(sessionmaker, sources)

    assert statements.count == single_count == 1
    assert batch[sources[0].id] == one[sources[0].id]
    for source in sources[1:6]:
        assert batch[source.id] == await _related_ids(sessionmaker, source)


def _reference_ranking(
    source: Article,
    articles: Sequence[Article],
    tags_of: dict[int, set[int]],
    pins_of: dict[int, list[int]],
    first: int,
    now: datetime,
) -> list[int]:
    """The SPEC's three steps, written as plainly as possible."""
    public = {
        a.id: a
        for a in articles
        if a.status == ArticleStatus.PUBLISHED and a.published_at and a.published_at <= now
    }
    chosen: list[int] = []
    for pinned in pins_of.get(source.id, []):
        if pinned in public and pinned != source.id and pinned not in chosen:
            chosen.append(pinned)
    rest = [a for a in public.values() if a.id != source.id and a.id not in chosen]

    def score(a: Article) -> int:
        shared = len(tags_of[source.id] & tags_of[a.id])
        return 2 * shared + (1 if a.category_id == source.category_id else 0)

    def newest(a: Article) -> tuple[datetime, int]:
        assert a.published_at is not None
        return a.published_at, a.id

    scored = sorted(
        (a for a in rest if score(a) > 0), key=lambda a: (score(a), *newest(a)), reverse=True
    )
    fillers = sorted((a for a in rest if score(a) == 0), key=newest, reverse=True)
    return (chosen + [a.id for a in scored + fillers])[:first]


async def test_matches_a_plain_python_ranking_on_random_data(
    sessionmaker: Sessions,
) -> None:
    rng = random.Random(20260)
    now = utcnow()
    author = await make_author(sessionmaker)
    categories = [await make_category(sessionmaker) for _ in range(4)]
    tag_pool = [await make_tag(sessionmaker) for _ in range(8)]
    # Few distinct times, so that ties on published_at (broken by id) are common.
    times = [now - timedelta(hours=rng.randint(1, 500)) for _ in range(15)]
    articles: list[Article] = []
    tags_of: dict[int, set[int]] = {}
    for _ in range(60):
        kind = rng.random()
        chosen_tags = rng.sample(tag_pool, rng.randint(0, 4))
        article = await make_article(
            sessionmaker,
            author=author,
            category=rng.choice(categories),
            tags=chosen_tags,
            status=ArticleStatus.DRAFT if kind < 0.15 else ArticleStatus.PUBLISHED,
            published_at=(
                None
                if kind < 0.15
                else now + timedelta(hours=rng.randint(1, 48))
                if kind < 0.25
                else rng.choice(times)
            ),
        )
        articles.append(article)
        tags_of[article.id] = {t.id for t in chosen_tags}
    pins_of: dict[int, list[int]] = {}
    for source in rng.sample(articles, 12):
        pinned = rng.sample(articles, rng.randint(1, 4))
        await pin_related(sessionmaker, source, pinned)
        pins_of[source.id] = [a.id for a in pinned]

    sources = rng.sample(articles, 20)
    for first in (1, 2, 3, 5, 8, 20):
        found = await _related(sessionmaker, sources, first=first, now=now)
        for i, source in enumerate(sources):
            expected = _reference_ranking(source, articles, tags_of, pins_of, first, now)
            assert found[source.id] == expected, (source.id, first)
            # A single source takes the statement's other shape (top-n, no window).
            if i < 4:
                alone = await _related_ids(sessionmaker, source, first=first, now=now)
                assert alone == expected, (source.id, first)
