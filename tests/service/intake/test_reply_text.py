"""Reply trimming on a table of real-looking Russian and English mail: what the sender wrote stays, quoted
history and signatures go. ``benchmarks/reply_trimming.py`` reports the same table's hit rate."""

from __future__ import annotations

import pytest

from service.tickets.reply_text import latest_reply

#: (case, message body as a mail client writes it, what must remain).
REPLY_CASES = [
    ("ru gmail quote", "Принтер снова не печатает.\n\nпн, 30 нояб. 2026 г. в 10:00, Служба поддержки "
     "<support@desk.ru>:\n> Проверьте картридж.\n> --\n> Служба поддержки", "Принтер снова не печатает."),
    ("ru gmail quote + signature", "Сервер недоступен с 9 утра.\n\nС уважением,\nАнна Смирнова\n"
     "Системный администратор\n\nвт, 1 дек. 2026 г. в 09:15, Служба поддержки <support@desk.ru>:\n"
     "> Уточните имя сервера", "Сервер недоступен с 9 утра."),
    ("ru outlook header", "Добрый день. Ошибка осталась, скриншот во вложении.\n\nОт: Служба поддержки "
     "<support@desk.ru>\nОтправлено: 30 ноября 2026 г. 10:00\nКому: Иван Петров\nТема: RE: [#12] 1С\n\n"
     "Перезапустите клиент 1С.", "Добрый день. Ошибка осталась, скриншот во вложении."),
    ("ru thunderbird wrote", "Спасибо, всё заработало!\n\n30.11.2026 10:00, Служба поддержки пишет:\n"
     "> Мы перезапустили службу печати.", "Спасибо, всё заработало!"),
    ("ru mail.ru wrote", "Модель HP LaserJet 400.\n\nПонедельник, 30 ноября 2026, 10:00 +03:00 от Служба "
     "поддержки <support@desk.ru>:\n> Какая модель принтера?", "Модель HP LaserJet 400."),
    ("ru iphone footer", "Проблема осталась.\n\nОтправлено с iPhone", "Проблема осталась."),
    ("ru signature only dash", "VPN в Твери не подключается.\n\n--\nПётр Петров\nООО Ромашка\n+7 495 000-00-00",
     "VPN в Твери не подключается."),
    ("ru sign-off", "Не открывается общая папка бухгалтерии.\n\nС уважением,\nБухгалтерия",
     "Не открывается общая папка бухгалтерии."),
    ("ru original message", "Повторяется каждый день в 9:00.\n\n-----Original Message-----\nFrom: Support\n"
     "Sent: Monday\nSubject: [#5]\n\nстарый текст", "Повторяется каждый день в 9:00."),
    ("ru thanks first line kept", "Спасибо, помогло. Заявку можно закрывать.",
     "Спасибо, помогло. Заявку можно закрывать."),
    ("ru only a signature", "С уважением,\nИван", "С уважением,\nИван"),
    ("en gmail quote", "Thanks, that fixed it.\n\nOn Mon, Nov 30, 2026 at 10:00 AM Support "
     "<support@desk.example> wrote:\n> Please restart the spooler.", "Thanks, that fixed it."),
    ("en outlook header", "Still broken after the restart.\n\nFrom: Support <support@desk.example>\n"
     "Sent: Monday, November 30, 2026 10:00 AM\nTo: John\nSubject: RE: [#7] VPN\n\nPlease restart.",
     "Still broken after the restart."),
    ("en best regards", "The printer on floor 3 is jammed again.\n\nBest regards,\nJohn Smith\nIT, Acme",
     "The printer on floor 3 is jammed again."),
    ("en sent from", "Server is back, thanks.\n\nSent from my iPhone", "Server is back, thanks."),
    ("en plain", "Cannot log in to the VPN since this morning.", "Cannot log in to the VPN since this morning."),
]


@pytest.mark.parametrize(("case", "body", "expected"), REPLY_CASES, ids=[c[0] for c in REPLY_CASES])
def test_only_the_newest_text_remains(case, body, expected):
    assert latest_reply(body) == expected


def test_an_empty_body_stays_empty():
    assert latest_reply("") == "" and latest_reply("  \n") == "  \n"
