"""The demo infrastructure's redundancy, monitoring gaps and runbooks, so that its audit is worth reading.

What real offices look like when the service desk takes them over: the two virtualization hosts of a client
form a cluster (each one the other's backup) while the shared storage under both stays a single point of
failure; a VPN gateway replaced last year was never put back under monitoring; a few critical nodes have a
runbook ("что мы будем делать, когда этот элемент выйдет из строя?") and most do not. Deterministic: no
random draws, so the rest of the demo is the same for a seed with or without this step.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from kb.models import Article, Node

#: Critical nodes left out of monitoring (by name; a name the seed did not draw is skipped).
UNMONITORED = ("VKL-ASA01", "UTS-ASA03", "ABK-NAS01", "PSS-ASA02")
#: Shared storage everything stands on: critical, whatever its drawn criticality.
STORAGE_CRITICAL = ("VKL-NAS01", "UTS-NAS01", "SMC-NAS01", "ABK-NAS01", "PSS-NAS01", "LEX-NAS01")
#: Two-node virtualization clusters: each host is the other's backup.
CLUSTERS = (("UTS-HV01", "UTS-HV02"), ("SMC-HV01", "SMC-HV02"), ("PSS-HV01", "PSS-HV02"))

RUNBOOKS = {
    "hv": ("Отказ хоста виртуализации: перезапуск ВМ на втором узле кластера", "servers", [
        "Убедиться по мониторингу, что хост недоступен (ping, iLO/iDRAC), а не только его сеть.",
        "Проверить в консоли кластера, что роли ВМ перешли на второй узел; если нет — запустить их вручную "
        "в порядке: контроллер домена, сервер 1С и СУБД, файловый сервер, терминальный сервер.",
        "Проверить свободную память второго узла: при нехватке остановить тестовые и второстепенные ВМ.",
        "Сообщить клиенту о работе на одном узле; заявку на ремонт хоста — поставщику оборудования.",
        "После ремонта вернуть хост в кластер и распределить ВМ, проверить резервное копирование.",
    ]),
    "1c": ("Отказ сервера 1С: восстановление службы и баз из резервной копии", "1c", [
        "Проверить службу «Агент сервера 1С:Предприятия» и MS SQL Server, журналы событий и место на дисках.",
        "Перезапустить агент сервера 1С, очистить кэш сеансов (srvinfo\\reg_1541\\snccntx*).",
        "Если база повреждена — восстановить последнюю полную копию SQL и журнал транзакций на момент отказа.",
        "Проверить вход пользователей и обмен с кассами; сообщить бухгалтерии, с какого момента данные введены заново.",
    ]),
    "gw": ("Отказ интернет-шлюза: переключение на резервный канал", "network", [
        "Проверить доступность шлюза из сети офиса и с внешнего мониторинга; позвонить провайдеру основного канала.",
        "Переключить маршрут по умолчанию на резервный канал (LTE-роутер или второй провайдер) и проверить DNS.",
        "Поднять VPN до филиалов через резервный канал, проверить кассы и обмен с 1С.",
        "После восстановления основного канала вернуть маршрут и закрыть заявку провайдеру.",
    ]),
    "dc": ("Отказ контроллера домена: работа без AD и восстановление", "servers", [
        "Проверить службы AD DS, DNS и DHCP; при отказе сервера — пользователи работают под кэшированными учётными данными.",
        "Выдать адреса со шлюза (временный DHCP), указать внешний DNS для доступа в интернет.",
        "Восстановить контроллер из резервной копии состояния системы (authoritative restore не нужен при одном DC).",
        "Проверить репликацию SYSVOL и групповые политики; завести заявку на второй контроллер домена.",
    ]),
}
#: Which critical nodes have a runbook; every other critical node shows as a gap in its client's audit.
RUNBOOK_NODES = {
    "hv": ("UTS-HV01", "UTS-HV02", "SMC-HV01", "SMC-HV02", "PSS-HV01", "PSS-HV02"),
    "1c": ("VKL-APP1C", "UTS-APP1C", "SMC-APP1C"),
    "gw": ("UTS-GW01", "PSS-GW01"),
    "dc": ("SMC-DC01", "LEX-DC01"),
}


def build_resilience(session: Session, ctx, *, history_end) -> None:
    """Plant the backup nodes, monitoring gaps and runbook articles above into the drawn infrastructure."""
    ids = {node["name"]: node["id"] for nodes in ctx.nodes_by_client.values() for node in nodes}
    session.execute(update(Node).where(Node.name.in_(STORAGE_CRITICAL)).values(criticality="critical"))
    session.execute(update(Node).where(Node.name.in_(UNMONITORED)).values(monitored=False))
    backups = 0
    for first, second in CLUSTERS:
        if first in ids and second in ids:
            session.execute(update(Node).where(Node.id == ids[first]).values(backup_node_id=ids[second]))
            session.execute(update(Node).where(Node.id == ids[second]).values(backup_node_id=ids[first]))
            backups += 2
    linked = 0
    for key, (title, group, steps) in RUNBOOKS.items():
        article_id = ctx.next_id("articles")
        created = history_end - timedelta(days=90)
        session.execute(Article.__table__.insert().values(
            id=article_id, external_id=f"DEMO-KB-runbook-{key}", title=title, group=group,
            body="\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1)),
            tags={"keywords": ["регламент", "план на случай отказа"]}, created_at=created, updated_at=created))
        names = [name for name in RUNBOOK_NODES[key] if name in ids]
        if names:
            session.execute(update(Node).where(Node.id.in_([ids[n] for n in names]))
                            .values(runbook_article_id=article_id))
            linked += len(names)
    ctx.counts["articles"] = ctx.counts.get("articles", 0) + len(RUNBOOKS)
    ctx.counts.update(backup_nodes=backups, runbooks_linked=linked)
