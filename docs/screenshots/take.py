"""Screenshots of the main pages in a real headless Chromium, over a demo-sized database.

    PRECEDENT_VAR_DIR=var python docs/screenshots/take.py [var dir] [output dir]

Serves the app on a loopback port, logs in as the demo users (password ``demo-password``) and writes
``<page>-<lang>-<desktop|phone>.png`` for every page, in Russian and English.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from sqlalchemy import select
from werkzeug.serving import make_server

from kb.models import Ticket
from service import create_app
from service.platform import db

SIZES = {"desktop": (1400, 1000), "phone": (390, 844)}


def driver(width: int, height: int):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def login(browser, base: str, username: str) -> None:
    browser.get(base + "/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys("demo-password")
    browser.find_element(By.ID, "login-submit").click()


def shoot(browser, base: str, path: str, name: str, out: Path, lang: str, size: str) -> None:
    browser.get(base + path)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(SIZES[size][0], min(max(height, SIZES[size][1]), 1800 if size == "desktop" else 2400))
    browser.save_screenshot(str(out / f"{name}-{lang}-{size}.png"))


def main() -> None:
    var_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "var")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).parent)
    app = create_app({"VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir / 'precedent.sqlite3'}"})
    with app.app_context():
        session = db.session()
        working = session.scalar(select(Ticket.id).where(Ticket.status == "in_progress").order_by(Ticket.id))
        waiting = session.scalar(select(Ticket.id).where(Ticket.status == "waiting_for_client"))
        client_id = session.get(Ticket, waiting).client_id
        node_id = session.get(Ticket, working).nodes[0].id if session.get(Ticket, working).nodes else 1
    client_key = {1: "vektor", 2: "uts", 3: "sibmed", 4: "kontur", 5: "promsnab", 6: "lexis"}[client_id]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    staff_pages = [("queue", "/queue"), ("ticket", f"/tickets/{working}"), ("sla", "/sla"),
                   ("specialists", "/specialists"), ("client", f"/clients/{client_id}"), ("node", f"/nodes/{node_id}"),
                   ("search", "/search?q=не печатает принтер"), ("not-found", "/tickets/999999")]
    portal_pages = [("portal", "/portal"), ("portal-ticket", f"/portal/tickets/{waiting}"),
                    ("portal-new", "/portal/new")]
    for size in SIZES:
        browser = driver(*SIZES[size])
        try:
            for lang in ("ru", "en"):
                browser.get(f"{base}/language/{lang}")
                login(browser, base, "engineer1")
                for name, path in staff_pages:
                    shoot(browser, base, path, name, out, lang, size)
                browser.delete_all_cookies()
                browser.get(f"{base}/language/{lang}")
                login(browser, base, f"client-{client_key}")
                for name, path in portal_pages:
                    shoot(browser, base, path, name, out, lang, size)
                browser.delete_all_cookies()
        finally:
            browser.quit()
    server.shutdown()


if __name__ == "__main__":
    main()
