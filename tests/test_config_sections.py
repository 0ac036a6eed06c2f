"""The section-module contract of endpoint.config: one module per section, one Config field each."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from endpoint.config import Config, ConfigError, parse_config
from endpoint.config.loader import sections
from endpoint.config.reader import Document, Section, int_in


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value.problems


def test_every_config_field_is_filled_by_its_own_section() -> None:
    known = sections()
    assert len(known) == len(fields(Config))
    assert list(known) == [
        "sip",
        "tls",
        "account",
        "backup_account",
        "calls",
        "media",
        "nat",
        "audio",
        "control",
        "log",
        "hardware",
        "door",
        "history",
        "http",
        "mqtt",
    ]


def test_an_empty_file_gives_every_sections_default() -> None:
    assert parse_config("") == Config()
    for f in fields(Config):
        assert getattr(Config(), f.name) == sections()[f.metadata["section"].name].default


@pytest.mark.parametrize("name", list(sections()))
def test_each_section_names_its_own_keys_for_an_unknown_one(name: str) -> None:
    keys = sections()[name].keys
    bad = [p for p in problems_of(f"[{name}]\nzzz_unknown = 1\n") if "zzz_unknown" in p]
    assert bad == [f"[{name}] zzz_unknown: unknown key; known keys: {', '.join(keys)}"]


@pytest.mark.parametrize("name", list(sections()))
def test_each_known_key_is_accepted_by_its_section(name: str) -> None:
    """A key listed in ``keys`` never comes back as unknown, whatever its value."""
    for key in sections()[name].keys:
        try:
            parse_config(f"[{name}]\n{key} = 1\n")
        except ConfigError as exc:
            assert not any("unknown key" in p for p in exc.problems), exc.problems


def test_a_section_asked_for_twice_reports_its_problems_once() -> None:
    # [media] and [account] both ask for [sip]'s transport; its mistake is one line.
    text = (
        '[sip]\ntransport = "sctp"\n[media]\nencryption = "optional"\n'
        '[account]\nregistrar = "sip:pbx.example.com"\nuser = "door"\npassword = "pw"\n'
    )
    assert [p for p in problems_of(text) if p.startswith("[sip]")] == [
        '[sip] transport = "sctp": one of "udp", "tcp", "tls"'
    ]


def test_document_reads_a_new_section_and_its_dependency() -> None:
    """What a new section module does: read its table, ask for another, report into problems."""

    def read_size(doc: Document) -> int:
        return doc.reader("size").get("n", 1, int_in(1, 9), "a number 1-9")

    size = Section("size", ("n",), 1, read_size)

    def read_double(doc: Document) -> int:
        return 2 * doc.get(size)

    double = Section("double", (), 2, read_double)
    doc = Document({"size": {"n": 4}}, Path("."))
    assert doc.get(double) == 8 and doc.problems == []
    doc = Document({"size": {"n": 40}}, Path("."))
    assert doc.get(double) == 2
    assert doc.get(size) == 1
    assert doc.problems == ["[size] n = 40: a number 1-9"]


def test_sections_that_depend_on_each_other_are_a_clear_error() -> None:
    def read_a(doc: Document) -> int:
        return doc.get(b)

    def read_b(doc: Document) -> int:
        return doc.get(a)

    a = Section("a", (), 0, read_a)
    b = Section("b", (), 0, read_b)
    with pytest.raises(RuntimeError, match=r"depend on each other at \[a\]"):
        Document({}, Path(".")).get(a)
