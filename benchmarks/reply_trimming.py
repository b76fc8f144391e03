"""How well reply trimming keeps only the sender's newest text, on the table of real-looking Russian and English
mail in tests/service/intake/test_reply_text.py; prints JSON.

    python benchmarks/reply_trimming.py

Two configurations: mail-parser-reply with its own English patterns only (release 1.36 ships no Russian), and
with the Russian patterns of service/tickets/reply_text.py added. A case is a hit when the trimmed text equals
the expected text exactly.
"""

from __future__ import annotations

import json
import time

from mailparser_reply import EmailReplyParser

from service.tickets.reply_text import latest_reply
from tests.service.intake.test_reply_text import REPLY_CASES


def _english_only(text: str) -> str:
    replies = EmailReplyParser(languages=["en"]).read(text).replies
    return (replies[0].body.strip() if replies else "") or text.strip()


def main() -> None:
    report = {}
    for name, trim in (("library_en_only", _english_only), ("with_russian_patterns", latest_reply)):
        rows = {"ru": [0, 0], "en": [0, 0]}
        misses = []
        began = time.perf_counter()
        for case, body, expected in REPLY_CASES:
            language = case.split()[0]
            hit = trim(body) == expected
            rows[language][0] += hit
            rows[language][1] += 1
            if not hit:
                misses.append(case)
        elapsed = time.perf_counter() - began
        report[name] = {lang: f"{hit}/{total}" for lang, (hit, total) in rows.items()} | {
            "misses": misses, "ms_per_message": round(elapsed / len(REPLY_CASES) * 1000, 3)}
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
