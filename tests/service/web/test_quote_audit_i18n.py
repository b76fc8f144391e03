"""Every text of the calculator and audit pages has its English, and the compiled catalogue is current."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo

from service.web.translations_quote_audit.english import ENGLISH

WEB = Path(__file__).resolve().parents[3] / "service" / "web"
METHODS = [("quote_audit.py", "python"), ("templates/quote_audit/**.html", "jinja2")]


def _sources() -> set[str]:
    found = extract_from_dir(str(WEB), METHODS, keywords={"t": None, "lt": None}, comment_tags=())
    return {message for _, _, message, _, _ in found}


def test_every_text_of_the_pages_has_its_english():
    sources = _sources()
    assert len(sources) > 100
    assert sources - set(ENGLISH) == set()
    assert set(ENGLISH) - sources == set()  # nothing stale either


def test_the_compiled_catalogue_matches_the_english_table():
    with open(WEB / "translations_quote_audit" / "en" / "LC_MESSAGES" / "quote_audit.mo", "rb") as mo:
        catalogue = read_mo(mo)
    assert {m.id: m.string for m in catalogue if m.id} == ENGLISH
