"""Screenshots of the calculator, the rate card and the audit over a small demo, in headless Chromium.

``python docs/screenshots/take_quote_audit.py`` from the repository root (needs chromium and chromedriver);
writes quote-*.png, rates-admin.png and audit-*.png next to this file.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

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
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        query = "workstations=25&servers=3&tier=gold&plan=subscription&on_site_visits=biweekly&prepayment_months=13"
        for language in ("ru", "en"):
            driver.get(f"{base}/quote?{query}&lang={language}")
            driver.save_screenshot(str(HERE / f"quote-{language}.png"))
        driver.get(f"{base}/quote?workstations=25&servers=3&plan=unlimited&prepayment_months=3&lang=ru")
        driver.save_screenshot(str(HERE / "quote-unlimited-ru.png"))
        _log_in(driver, base, "shot-admin")
        driver.get(f"{base}/admin/rates?lang=ru")
        driver.save_screenshot(str(HERE / "rates-admin.png"))
        driver.delete_all_cookies()
        _log_in(driver, base, "shot-manager")
        driver.get(f"{base}/quote?{query}&lang=ru")
        driver.save_screenshot(str(HERE / "quote-manager-ru.png"))
        driver.set_window_size(1280, 2600)
        for language in ("ru", "en"):
            driver.get(f"{base}/clients/{client_id}/audit?lang={language}")
            driver.save_screenshot(str(HERE / f"audit-{language}.png"))
    finally:
        driver.quit()
        server.shutdown()


def _log_in(driver, base: str, username: str) -> None:
    driver.get(base + "/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button").click()
    WebDriverWait(driver, 10).until(lambda d: "/login" not in d.current_url)


if __name__ == "__main__":
    main()
