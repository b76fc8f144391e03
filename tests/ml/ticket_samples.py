"""Small labelled ticket sets for the classifier tests (seconds to fit, still a real learning problem)."""

from __future__ import annotations

import random

VOCABULARY = {
    "network": ["нет интернета", "vpn не подключается", "коммутатор", "wifi", "роутер", "сеть пропала",
                "network down", "switch port", "dns", "маршрутизатор"],
    "printers": ["принтер", "картридж", "мфу не сканирует", "замятие бумаги", "печать", "printer offline",
                 "toner", "сканер", "очередь печати", "драйвер принтера"],
    "1c": ["1с", "бухгалтерия", "конфигурация", "обновление базы", "проводки", "1c base", "отчёт 1с",
           "лицензия 1с", "зарплата и кадры", "выгрузка в банк"],
    "mail": ["почта", "outlook", "письма не уходят", "ящик переполнен", "exchange", "спам", "mailbox",
             "календарь outlook", "рассылка", "smtp"],
}
FILLER = ["добрый день", "срочно", "помогите", "спасибо", "please help", "коллеги", "с утра", "у меня",
          "опять", "не работает", "ошибка", "hello"]


def make_tickets(per_class: int = 40, seed: int = 0) -> tuple[list[str], list[str]]:
    """(texts, labels): each text mixes 2 words of its class, 1 of another class, and filler."""
    rng = random.Random(seed)
    groups = sorted(VOCABULARY)
    texts, labels = [], []
    for group in groups:
        for _ in range(per_class):
            other = rng.choice([g for g in groups if g != group])
            words = rng.sample(VOCABULARY[group], 2) + [rng.choice(VOCABULARY[other])] + rng.sample(FILLER, 3)
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(group)
    return texts, labels
