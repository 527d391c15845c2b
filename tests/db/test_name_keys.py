"""The sort keys of names (``db.name_keys``): what is ignored, and the order the bytes give."""

from __future__ import annotations

import pytest

from db.name_keys import MAX_FOLDED_LENGTH, folded_name, name_key


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Élodie", "elodie"),
        ("ÉLODIE", "elodie"),
        ("Zoë", "zoe"),
        ("Straße", "strasse"),
        ("ﬁnance", "finance"),  # a compatibility ligature
        ("İstanbul", "istanbul"),  # folding leaves a mark, taken off after
        ("Łódź", "lodz"),
        ("Ørsted", "orsted"),
        ("Æsop", "aesop"),
        ("Œuvre", "oeuvre"),
        ("Đakovo", "dakovo"),
        ("\uff26\uff35\uff2c\uff2c", "full"),  # full-width letters
        ("がっこう", "かっこう"),  # kana voicing marks go like accents
        ("Tab\there", "tabhere"),
        ("European Union", "european union"),
    ],
)
def test_case_accents_and_control_characters_are_ignored(name: str, folded: str) -> None:
    assert folded_name(name) == folded


def test_the_folded_part_is_bounded() -> None:
    # U+FDFA decomposes into 18 letters: 200 of it would be a 3,600-letter key.
    name = "\ufdfa" * 200
    assert len(folded_name(name)) == MAX_FOLDED_LENGTH
    assert len(name_key(name)) <= MAX_FOLDED_LENGTH * 4 + 1 + len(name.encode())


def test_keys_sort_by_folded_name_then_exact_name() -> None:
    names = [
        "Tour de France", "zebra", "Élodie", "analysis", "ab c", "Ab", "European Union",
        "elodie", "Zoë", "Elodie", "Émile", "ab",
    ]  # fmt: skip
    assert sorted(names, key=name_key) == [
        # "ab" is a prefix of "ab c": the zero byte after a folded name sorts below any letter.
        "Ab", "ab", "ab c", "analysis", "Elodie", "elodie", "Élodie", "Émile",
        "European Union", "Tour de France", "zebra", "Zoë",
    ]  # fmt: skip


def test_the_folded_part_never_holds_the_separator() -> None:
    assert folded_name("a\x00b") == "ab"
    assert name_key("a\x00b").count(b"\x00") == 2  # the separator, and the name's own
