"""Screenshots of the partners list and a partner's monthly report over a small demo, in headless Chromium.

``python docs/screenshots/take_partners.py`` from the repository root (needs Debian's chromium; Playwright drives
it); writes partners-ru.png, partner-report-ru.png and partner-report-en.png next to this file.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402
from take import launch, login, serve  # noqa: E402 - the shared screenshot helpers

from data.demo import build_demo  # noqa: E402
from kb import migrate  # noqa: E402
from kb.db import make_engine, make_session_factory  # noqa: E402
from kb.models import Assignment, Partner, Specialist  # noqa: E402
from service import create_app  # noqa: E402
from service.platform.auth import create_user  # noqa: E402
from service.sla.calendar import check_timezone, month_of  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSWORD = "screenshots only"


def busiest_month(session) -> tuple[int, str]:
    """The demo partner and the month in which it got the most tickets (in its own time zone)."""
    partner = session.scalars(select(Partner).order_by(Partner.id)).first()
    zone = check_timezone(partner.timezone)
    first: dict[int, object] = {}
    for a in session.scalars(select(Assignment).join(Specialist, Specialist.id == Assignment.specialist_id)
                             .where(Specialist.partner_id == partner.id).order_by(Assignment.assigned_at)):
        first.setdefault(a.ticket_id, a.assigned_at)
    months = Counter(month_of(at, zone) for at in first.values())
    return partner.id, months.most_common(1)[0][0]


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    migrate.upgrade(url)
    with make_session_factory(make_engine(url))() as session:
        build_demo(session, tickets=800, users=False, contracts=False)
        create_user(session, username="shot-manager", password=PASSWORD, role="manager")
        session.commit()
        partner_id, month = busiest_month(session)
    app = create_app({"DATABASE_URL": url, "VAR_DIR": str(folder / "var")})
    server, base = serve(app)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 600})
            login(page, base, "shot-manager", PASSWORD)
            page.goto(f"{base}/partners?lang=ru")
            page.screenshot(path=str(HERE / "partners-ru.png"), full_page=True)
            for language in ("ru", "en"):
                page.goto(f"{base}/partners/{partner_id}/report/{month}?lang={language}")
                page.screenshot(path=str(HERE / f"partner-report-{language}.png"), full_page=True)
        finally:
            chromium.close()
            server.shutdown()
    print(f"partner {partner_id}, {month}")



if __name__ == "__main__":
    main()
