"""Phrase banks and the composer that turns a scenario into a ticket text written by a random person.

Structure varies per ticket (greeting or not, one or several symptom sentences, context, urgency cue,
signature, e-mail quoting, typos, lower case, missing punctuation), so two tickets of one scenario rarely
share more than their core terms. Everything draws from the ``random.Random`` passed in.
"""

from __future__ import annotations

import random

FIRST_NAMES_M = ["Алексей", "Дмитрий", "Сергей", "Андрей", "Игорь", "Павел", "Максим", "Николай", "Роман", "Виктор",
                 "Евгений", "Олег", "Артём", "Константин", "Михаил", "Владимир", "Илья", "Юрий", "Григорий", "Денис"]
FIRST_NAMES_F = ["Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Марина", "Анна", "Юлия", "Екатерина",
                 "Людмила", "Галина", "Анастасия", "Оксана", "Валентина", "Мария", "Дарья", "Вера", "Алина", "Ксения"]
LAST_NAMES = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
              "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
              "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв",
              "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Кириллов", "Белов", "Тарасов"]
PATRONYMICS_M = ["Александрович", "Сергеевич", "Игоревич", "Владимирович", "Петрович", "Николаевич", "Андреевич"]
PATRONYMICS_F = ["Александровна", "Сергеевна", "Игоревна", "Владимировна", "Петровна", "Николаевна", "Андреевна"]
_COMMON_POSITIONS = ["Главный бухгалтер", "Бухгалтер", "Офис-менеджер", "Директор", "Секретарь",
                     "Специалист отдела кадров", "Финансовый директор", "Экономист"]
#: Who writes to the desk, by kind of client company.
POSITIONS = {
    "office": _COMMON_POSITIONS + ["Менеджер по продажам", "Логист", "Юрист", "Помощник юриста",
                                   "Инженер-проектировщик", "Главный архитектор", "Руководитель отдела продаж"],
    "retail": _COMMON_POSITIONS + ["Администратор магазина", "Старший кассир", "Кассир", "Товаровед",
                                   "Управляющий магазином", "Категорийный менеджер", "Кладовщик"],
    "clinic": _COMMON_POSITIONS + ["Врач", "Заведующая отделением", "Администратор регистратуры",
                                   "Медицинская сестра", "Главный врач", "Старшая медсестра"],
    "industry": _COMMON_POSITIONS + ["Начальник склада", "Кладовщик", "Руководитель отдела закупок", "Инженер ПТО",
                                     "Мастер участка", "Менеджер по продажам", "Логист"],
}

_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                      "t", "u", "f", "kh", "ts", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya"], strict=True))


def translit(text: str) -> str:
    """Latin transliteration for e-mail addresses."""
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())


def person(rng: random.Random, profile: str = "office") -> dict:
    """A random person of a client of kind ``profile``: full name, short name, position, gender."""
    female = rng.random() < 0.55
    first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
    last = rng.choice(LAST_NAMES) + ("а" if female else "")
    patronymic = rng.choice(PATRONYMICS_F if female else PATRONYMICS_M)
    return {"first": first, "last": last, "patronymic": patronymic, "full": f"{last} {first} {patronymic}",
            "short": f"{first} {last}", "position": rng.choice(POSITIONS[profile]), "female": female}


GREETINGS = ["Добрый день!", "Добрый день.", "Здравствуйте!", "Здравствуйте.", "Доброе утро!", "Коллеги, добрый день!",
             "Добрый день, коллеги.", "Привет!", "Приветствую.", "Добрый вечер.", "Здравствуйте, техподдержка!",
             "Hello,", "Добрый день, подскажите пожалуйста.", "Коллеги, привет.", "Уважаемая техподдержка,"]
OPENERS = ["У нас проблема:", "Опять проблема.", "Прошу помочь.", "Просьба разобраться.", "Такая ситуация:",
           "Обращаюсь по проблеме.", "Снова не работает.", "Подскажите, пожалуйста.", "Нужна помощь.", "",
           "Пишу по поводу", "Помогите пожалуйста!", "Вопрос к вам.", "FYI:"]
SINCE = ["с утра", "со вчерашнего дня", "после обеда", "уже второй день", "после перезагрузки", "после выходных",
         "с понедельника", "минут 20 назад", "сегодня", "периодически, уже неделю", "после обновления",
         "после отключения света", "после переезда", "только что"]
CONTEXT = ["Компьютер {ws}.", "Мой ПК {ws}.", "Рабочее место {ws}.", "Касается {node}.", "Узел {node} ({ip}).",
           "Перезагружать пробовали — не помогло.", "Перезагрузка не помогла.", "Скрин ошибки во вложении.",
           "Скриншот прикладываю.", "Вчера всё работало.", "Ничего не меняли.", "У коллег то же самое.",
           "У соседнего компьютера всё нормально.", "Проблема повторяется уже не первый раз.",
           "Пробовали выключить и включить, не помогло.", "Антивирус ругался накануне.", "Logs attached.",
           "Кабинет {room}.", "Я на месте до 18:00.", "Тел. для связи: доб. {ext}.", "Мобильный +7 9{mob}.",
           "Можно подключиться удалённо, AnyDesk {anydesk}."]
SCALE_CUES = {
    "low": ["не срочно", "когда будет время", "в течение недели", "можно на следующей неделе", "не горит",
            "в любое удобное время", "низкий приоритет", "при случае посмотрите"],
    "standard": ["посмотрите пожалуйста сегодня", "мешает работать", "желательно сегодня-завтра",
                 "у одного пользователя", "по возможности побыстрее", "работать можно, но неудобно"],
    "high": ["срочно", "у всего отдела", "не можем работать", "у нескольких сотрудников", "горит отчёт",
             "клиенты ждут", "очень нужно сегодня", "стоит работа отдела", "ASAP"],
    "highest": ["СРОЧНО!!!", "весь офис стоит", "не работает вообще ни у кого", "магазин не может работать",
                "очередь на кассах", "все кассы стоят", "критично, простой", "останов производства",
                "у всех филиалов", "горим!!!"],
}
#: Longer narrative some people add (who, when, what they already tried).
STORY = ["Вчера вечером всё работало нормально, а сегодня утром пришли и обнаружили проблему.",
         "Пробовали перезагрузить компьютер и роутер, потом выключали на 10 минут — без изменений.",
         "Это уже третий раз за месяц, каждый раз теряем полдня, просим разобраться с причиной, а не только с последствиями.",
         "У нас сегодня закрытие месяца, бухгалтерия не может сдать отчёты, поэтому очень просим в приоритете.",
         "Сотрудник в отпуске, за его компьютером временно работает коллега.",
         "В прошлый раз ваш инженер что-то настраивал, но, видимо, настройки слетели.",
         "На прошлой неделе меняли мебель и переставляли компьютеры, возможно, что-то задели.",
         "Руководитель просил решить до конца дня, завтра приезжает проверка.",
         "Я не очень разбираюсь в технике, поэтому опишу как могу.",
         "Если нужно, могу прислать фото экрана, скриншот сделать не получается.",
         "Антивирус вчера показывал какое-то уведомление, но я его закрыла.",
         "Коллеги из соседнего отдела говорят, что у них тоже бывает, но реже.",
         "The issue started after the weekend maintenance window, please check the change log.",
         "Провайдер говорит, что у них всё в порядке, проблема на нашей стороне."]
CLOSINGS = ["Спасибо!", "Спасибо.", "Заранее спасибо.", "Жду ответа.", "Помогите пожалуйста.", "Благодарю.",
            "Спасибо заранее!", "Thanks.", "Жду.", "Перезвоните мне пожалуйста.", "", "", ""]
SIGN_INTROS = ["С уважением,", "С уважением,", "--", "Best regards,", "Спасибо,", "С уважением"]
MOBILE_FOOTERS = ["Отправлено с iPhone", "Отправлено из мобильной Почты Mail.ru", "Sent from my Android",
                  "Отправлено с моего Huawei"]
DISCLAIMER = ("Данное сообщение и любые приложения к нему являются конфиденциальными и предназначены исключительно "
              "для адресата. Если вы получили это сообщение по ошибке, удалите его.")
PHONE_LEADS = ["Звонок: ", "Позвонил(а) пользователь, ", "По телефону: ", "Со слов пользователя: ", "Звонок на линию. "]
CHAT_LEADS = ["", "ау", "тут?", "подскажите", "снова я"]
PORTAL_LEADS = ["Описание проблемы: ", "", "Что случилось: ", ""]

#: Common misspellings people really type, applied word by word.
MISSPELLINGS = {
    "пожалуйста": ["пожалуста", "пожайлуста", "плиз", "пжл", "пож-та"],
    "компьютер": ["компьтер", "комп", "компютер", "ПК"],
    "принтер": ["притнер", "принтр"],
    "работает": ["работет", "раотает", "робит"],
    "ошибка": ["ошибкка", "ошыбка", "ошибочка"],
    "сервер": ["сервак", "серер"],
    "интернет": ["инет", "интрнет"],
    "подключиться": ["подключится", "подключитса"],
    "обновления": ["обнавления", "обновы"],
    "здравствуйте": ["здраствуйте", "здрасте"],
    "спасибо": ["спс", "спасибки"],
    "почта": ["почат"],
    "сейчас": ["щас", "сечас"],
    "что": ["што", "чо"],
    "программа": ["прога", "програма"],
}


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: a dropped, doubled or swapped letter."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1:]
    if kind < 0.7:
        return word[:i] + word[i] + word[i:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def roughen(text: str, rng: random.Random, rate: float) -> str:
    """Apply misspellings and keyboard slips to about ``rate`` of the words."""
    if rate <= 0:
        return text
    words = text.split(" ")
    for index, word in enumerate(words):
        if rng.random() >= rate:
            continue
        core = word.strip(".,!?:;()").lower()
        if core in MISSPELLINGS:
            words[index] = word.lower().replace(core, rng.choice(MISSPELLINGS[core]))
        elif word.isalpha() and rng.random() < 0.5:
            words[index] = typo(word, rng)
    return " ".join(words)


def casual(text: str, rng: random.Random) -> str:
    """Chat style: lower case, fewer full stops."""
    text = text.lower() if rng.random() < 0.7 else text
    return text.replace(". ", " ").rstrip(".") if rng.random() < 0.6 else text


def signature(rng: random.Random, who: dict, company: str, domain: str, email: str) -> str:
    """An e-mail signature of varying richness."""
    lines = [rng.choice(SIGN_INTROS)]
    style = rng.random()
    if style < 0.3:
        lines.append(who["first"])
    elif style < 0.7:
        lines += [who["short"], who["position"]]
    else:
        lines += [who["full"], who["position"], company, f"тел. +7 ({rng.randint(343, 499)}) "
                  f"{rng.randint(200, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}, доб. {rng.randint(100, 599)}",
                  email]
        if rng.random() < 0.3:
            lines += ["", DISCLAIMER]
    if rng.random() < 0.08:
        lines = [rng.choice(MOBILE_FOOTERS)]
    return "\n".join(lines)


def fill(template: str, slots: dict) -> str:
    """Fill ``{slot}`` placeholders that are present; unknown ones stay as they are."""
    for key, value in slots.items():
        token = "{" + key + "}"
        if token in template:
            template = template.replace(token, str(value))
    return template
