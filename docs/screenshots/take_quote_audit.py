"""Screenshots of the calculator, the rate card and the audit over a small demo, in headless Chromium.

``python docs/screenshots/take_quote_audit.py`` from the repository root (needs Debian's chromium; Playwright drives it);
writes quote-*.png, rates-admin.png and audit-*.png next to this file.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from playwright.sync_api import sync_playwright  # noqa: E402
from take import launch, login, serve  # noqa: E402 - the shared screenshot helpers

from data.demo import build_demo  # noqa: E402
from kb import migrate  # noqa: E402
from kb.db import make_engine, make_session_factory  # noqa: E402
from kb.models import Client  # noqa: E402
from service import create_app  # noqa: E402
from service.platform.auth import create_user  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSWORD = "screenshots only"


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    migrate.upgrade(url)
    with make_session_factory(make_engine(url))() as session:
        build_demo(session, tickets=800, users=False, contracts=False)
        for username, role in (("shot-manager", "manager"), ("shot-admin", "admin")):
            create_user(session, username=username, password=PASSWORD, role=role)
        session.commit()
        client_id = session.query(Client).filter_by(name="АО «УралТоргСервис»").one().id
    app = create_app({"DATABASE_URL": url, "VAR_DIR": str(folder / "var")})
    server, base = serve(app)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            _shoot_all(chromium.new_page(viewport={"width": 1280, "height": 1400}), base, client_id)
        finally:
            chromium.close()
            server.shutdown()


def _shoot_all(page, base: str, client_id: int) -> None:
    query = "workstations=25&servers=3&tier=gold&plan=subscription&on_site_visits=biweekly&prepayment_months=13"
    for language in ("ru", "en"):
        page.goto(f"{base}/quote?{query}&lang={language}")
        page.screenshot(path=str(HERE / f"quote-{language}.png"))
    page.goto(f"{base}/quote?workstations=25&servers=3&plan=unlimited&prepayment_months=3&lang=ru")
    page.screenshot(path=str(HERE / "quote-unlimited-ru.png"))
    login(page, base, "shot-admin", PASSWORD)
    page.goto(f"{base}/admin/rates?lang=ru")
    page.screenshot(path=str(HERE / "rates-admin.png"))
    page.context.clear_cookies()
    login(page, base, "shot-manager", PASSWORD)
    page.goto(f"{base}/quote?{query}&lang=ru")
    page.screenshot(path=str(HERE / "quote-manager-ru.png"))
    page.set_viewport_size({"width": 1280, "height": 2600})
    for language in ("ru", "en"):
        page.goto(f"{base}/clients/{client_id}/audit?lang={language}")
        page.screenshot(path=str(HERE / f"audit-{language}.png"))



if __name__ == "__main__":
    main()
