"""Screenshots of the main pages in a real headless Chromium, over a demo-sized database.

    PRECEDENT_VAR_DIR=var python docs/screenshots/take.py [var dir] [output dir]

Serves the app on a loopback port, logs in as the demo users (password ``demo-password``) and writes
``<page>-<lang>-<desktop|phone>.png`` for every page, in Russian and English.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from kb.models import Ticket
from service import create_app
from service.platform import db

SIZES = {"desktop": (1400, 1000), "phone": (390, 844)}


def launch(playwright):
    """Debian's Chromium, headless (Playwright drives it; no browser is downloaded)."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                      args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                            "--hide-scrollbars"])


def serve(app):
    """The app on a free loopback port in a background thread: (server, base URL); ``server.shutdown()`` ends it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def login(page, base: str, username: str, password: str = "demo-password") -> None:
    """Log in through the login form and wait for the page it leads to."""
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#login-submit")


def shoot(page, base: str, path: str, name: str, out: Path, lang: str, size: str) -> None:
    page.set_viewport_size({"width": SIZES[size][0], "height": SIZES[size][1]})
    page.goto(base + path)
    height = page.evaluate("() => document.body.scrollHeight")
    page.set_viewport_size({"width": SIZES[size][0],
                            "height": min(max(height, SIZES[size][1]), 1800 if size == "desktop" else 2400)})
    page.screenshot(path=str(out / f"{name}-{lang}-{size}.png"))


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
    server, base = serve(app)
    staff_pages = [("queue", "/queue"), ("ticket", f"/tickets/{working}"), ("sla", "/sla"),
                   ("specialists", "/specialists"), ("client", f"/clients/{client_id}"), ("node", f"/nodes/{node_id}"),
                   ("search", "/search?q=не печатает принтер"), ("not-found", "/tickets/999999")]
    portal_pages = [("portal", "/portal"), ("portal-ticket", f"/portal/tickets/{waiting}"),
                    ("portal-new", "/portal/new")]
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            for size in SIZES:
                page = chromium.new_page(viewport={"width": SIZES[size][0], "height": SIZES[size][1]})
                for lang in ("ru", "en"):
                    page.goto(f"{base}/language/{lang}")
                    login(page, base, "engineer1")
                    for name, path in staff_pages:
                        shoot(page, base, path, name, out, lang, size)
                    page.context.clear_cookies()
                    page.goto(f"{base}/language/{lang}")
                    login(page, base, f"client-{client_key}")
                    for name, path in portal_pages:
                        shoot(page, base, path, name, out, lang, size)
                    page.context.clear_cookies()
                page.context.close()
        finally:
            chromium.close()
    server.shutdown()


if __name__ == "__main__":
    main()
