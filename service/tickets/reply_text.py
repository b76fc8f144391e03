"""What the sender wrote, without the quoted conversation below it and without the signature.

Trimming uses ``mail-parser-reply`` (a maintained port of GitHub's email_reply_parser with per-language
patterns). Its release 1.36 has no Russian patterns, so :data:`RUSSIAN` adds them under the language key
"ru": Outlook's header block (От:/Отправлено:/Кому:/Тема:), Gmail's «пн, 30 нояб. 2026 г. в 10:00, Имя
<адрес>:» and Mail.ru's «Понедельник, 30 ноября 2026, 10:00 +03:00 от Имя <адрес>:», Thunderbird's
«30.11.2026 10:00, Имя пишет:», the usual sign-offs (С уважением, Спасибо, ...) and «Отправлено с iPhone». English keeps the library's own patterns. ``benchmarks/reply_trimming.py`` and
tests/service/intake/test_reply_text.py measure it on a table of Russian and English mail.

A trim that would leave nothing (a message that is only a signature or a quote) keeps the whole text: a
request is never emptied by the trimmer.
"""

from __future__ import annotations

from functools import lru_cache

from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

#: The parser's language entry for Russian mail (same keys as the library's own entries).
RUSSIAN = {
    "wrote_header": [
        # Gmail «пн, 30 нояб. 2026 г. в 10:00, Служба поддержки <support@desk.ru>:», Mail.ru «Понедельник,
        # 30 ноября 2026, 10:00 +03:00 от Служба поддержки <support@desk.ru>:»: a dated line ending in «<address>:»
        r"^((?:> ?)*[^\n]*\d{4}[^\n]{0,200}<[^>\n]+@[^>\n]+>:)$",
        # Thunderbird, Yandex, Mail.ru: «30.11.2026 10:00, Иван Петров пишет:» / «...написал(а):»
        r"^((?:> ?)*[^\n]{0,200}\s(?:пишет|написал|написала|написал\(а\)):)$",
    ],
    "from_header": r"((?:(?:^|\n|\n(?:> ?)*)[* ]*(?:От|Отправлено|Кому|Копия|Тема|Дата):[ *]*(?:\s{,2}).*){2,}"
                   r"(?:\n.*){,1})",
    "disclaimers": ["Конфиденциально:", "Внимание:", "Это сообщение и любые приложения"],
    "signatures": ["С уважением", "С наилучшими пожеланиями", "Спасибо,", "Заранее спасибо", "Всего доброго",
                   "Хорошего дня"],
    "sent_from": "Отправлено с|Отправлено из|Sent from my|Get Outlook for",
}
MAIL_LANGUAGES.setdefault("ru", RUSSIAN)


@lru_cache(maxsize=1)
def _parser() -> EmailReplyParser:
    return EmailReplyParser(languages=["ru", "en"])


def latest_reply(text: str) -> str:
    """The newest part of a message body: quoted replies and the signature removed (never empty if the text
    was not)."""
    if not text or not text.strip():
        return text or ""
    replies = _parser().read(text).replies
    trimmed = replies[0].body.strip() if replies else ""
    return trimmed or text.strip()
