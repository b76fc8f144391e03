"""Text cleaning for search: what a ticket says, without what every e-mail says.

Requests arrive as e-mails, chats and portal forms. Besides the problem they carry invisible characters,
links, greetings ("Здравствуйте", "Добрый день"), thanks, signatures ("С уважением, …", "Отправлено с
iPhone"), legal disclaimers and quoted earlier messages. None of it tells one problem from another, and all
of it makes two unrelated tickets look alike to an embedding. :func:`clean_text` removes it; whether the
search applies it is a setting (``PRECEDENT_SEARCH_CLEAN_TEXT``) chosen by measurement (docs/search.md).
The rules are deliberately conservative: a line is dropped only when it is boilerplate as a whole, and text
after a signature or quote marker is dropped only when something remains before it.
"""

from __future__ import annotations

import re

_ZERO_WIDTH = re.compile("[\u00ad\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")
_URL = re.compile(r"\b(?:https?://|www\.)([\w.-]+)[^\s<>\"')\]]*", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
#: Lines from which on the rest is a signature, a quoted earlier message or a mail client's footer.
_TAIL_MARKERS = re.compile(
    r"^\s*(?:--\s*$|_{5,}|-{5,}\s*(?:original message|исходное сообщение|пересылаемое сообщение)"
    r"|(?:с уважением|с наилучшими пожеланиями|best regards|kind regards|regards|cheers)\b"
    r"|(?:спасибо|благодарю|thanks|thank you),?\s*$"
    r"|(?:отправлено|sent) (?:с|из|from)\b"
    r"|(?:from|от|sent|отправлено|кому|to):\s.*@"
    r"|.{0,80}\b(?:wrote|написал|написала|написал\(а\)|пишет):\s*$"
    r"|>)",
    re.IGNORECASE)
_DISCLAIMER = re.compile(r"(?:данное сообщение|this (?:e-?mail|message)).{0,80}"
                         r"(?:конфиденциальн|confidential).*", re.IGNORECASE | re.DOTALL)
_ADDRESS = r"(?:коллеги|уважаемая техподдержка|уважаемые коллеги|техподдержка|all|team)"
_GREETING = re.compile(
    rf"^\s*(?:(?:{_ADDRESS}[,!.]?\s*)?"
    r"(?:здравствуйте|здраствуйте|здрасте|добрый (?:день|вечер)|доброе утро|доброго времени суток"
    r"|приветствую|привет|hello|hi|dear \w+|good (?:morning|afternoon))\b"
    rf"(?:[,!.]?\s*{_ADDRESS}\b)?|{_ADDRESS}\s*[,!:]\s*$)\s*[,!.:]*\s*",
    re.IGNORECASE)
_THANKS = re.compile(
    r"(?:^|(?<=[.!?\n]))\s*(?:заранее спасибо|спасибо заранее|спасибо|благодарю|thanks(?: in advance)?"
    r"|thank you(?: in advance)?|спс)\s*[.!]*\s*(?=$|\n)",
    re.IGNORECASE)
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _cut_tail(text: str) -> str:
    """Drop everything from the first signature / quote / footer line on, if something stays before it."""
    lines = text.split("\n")
    for position, line in enumerate(lines):
        if position > 0 and _TAIL_MARKERS.match(line) and "\n".join(lines[:position]).strip():
            return "\n".join(lines[:position])
    return text


def clean_text(text: str) -> str:
    """``text`` without invisible characters, links (their host names stay), e-mail addresses, greetings,
    thanks, signatures, disclaimers and quoted replies; never empty when ``text`` had words (then the
    original is returned)."""
    if not text:
        return ""
    original = text
    text = _ZERO_WIDTH.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _URL.sub(lambda m: m.group(1), text)
    text = _EMAIL.sub(" ", text)
    text = _cut_tail(text)
    text = _DISCLAIMER.sub("", text)
    text = "\n".join(_GREETING.sub("", line, count=1) for line in text.split("\n"))
    text = _THANKS.sub("", text)
    text = _BLANK_LINES.sub("\n", _SPACES.sub(" ", text)).strip()
    if not re.search(r"\w", text):
        return _SPACES.sub(" ", _ZERO_WIDTH.sub("", original)).strip()
    return text
