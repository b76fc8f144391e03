"""The service over HTTP under load: gunicorn with several workers over the demo knowledge base; prints JSON.

    python benchmarks/http_load.py [--database sqlite|postgresql|both] [--tickets 2000] [--workers 2]
                                   [--concurrency 8] [--seconds 10] [--postgres-url postgresql+psycopg://...]

For each database: a fresh store gets the demo (``precedent demo build --tickets N``) and its search index
(``precedent index build``); triage runs on its rules and the specialist ranking (no model is trained here:
that alone takes minutes). gunicorn (sync workers, ``PROMETHEUS_MULTIPROC_DIR`` set) serves it on a loopback
port; a small asyncio client keeps ``--concurrency`` requests in flight for ``--seconds`` per scenario (after a
warm-up that loads the index and the embedder in every worker) and reports throughput and p50/p95/p99 latency
per scenario, with ``GET /healthz`` (one SELECT 1) as the baseline measured the same way in the same run.
Bounded: loopback only, fixed seconds per scenario; the load generator shares the machine with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["не печатает принтер в бухгалтерии", "1С не запускается ошибка СУБД", "VPN не подключается из дома",
           "Outlook не получает почту", "сервер не отвечает", "не работает интернет в офисе",
           "ошибка 809 при подключении", "медленно работает компьютер"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cli(env: dict, *args: str) -> dict | None:
    done = subprocess.run([sys.executable, "-c", "from service.cli import main; main()", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"precedent {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None


def _prepare(env: dict, tickets: int) -> tuple[str, int]:
    """Demo data, index, an engineer's token and a client id, in the store ``env`` names."""
    started = time.perf_counter()
    _cli(env, "demo", "build", "--tickets", str(tickets), "--replace")
    demo_s = time.perf_counter() - started
    started = time.perf_counter()
    _cli(env, "index", "build")
    index_s = time.perf_counter() - started
    code = ("import json,sys\nfrom kb.db import make_engine, make_session_factory\nfrom kb.models import Client\n"
            "from service.config import load_settings\nfrom service.directory import users\n"
            "s=load_settings()\nf=make_session_factory(make_engine(s.resolved_database_url))\n"
            "with f() as session:\n"
            "    name='bench-'+sys.argv[1]\n"
            "    users.register_user(session, username=name, password='bench password 123', role='engineer_l2')\n"
            "    token=users.new_api_token(session, username=name, name='http_load')\n"
            "    client=session.query(Client.id).order_by(Client.id).first()[0]\n"
            "print(json.dumps({'token': token, 'client_id': client}))\n")
    done = subprocess.run([sys.executable, "-c", code, uuid.uuid4().hex[:6]], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True, timeout=120)
    made = json.loads(done.stdout)
    print(json.dumps({"prepared": {"demo_s": round(demo_s, 1), "index_s": round(index_s, 1)}}), file=sys.stderr)
    return made["token"], made["client_id"]


async def _request(port: int, method: str, path: str, body: bytes | None, token: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}", "Connection: close"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()  # sync workers close the connection after the response
    writer.close()
    return int(status_line.split()[1]) if status_line else 0


async def _load(port: int, token: str, requests, concurrency: int, seconds: float) -> dict:
    """Keep ``concurrency`` requests in flight for ``seconds``; latency of each, statuses counted."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def one_client():
        while time.perf_counter() < deadline:
            method, path, body = next(requests)
            started = time.perf_counter()
            try:
                status = await _request(port, method, path, body, token)
            except OSError as exc:
                status = exc.__class__.__name__
            latencies.append(time.perf_counter() - started)
            if not (isinstance(status, int) and 200 <= status < 300):
                errors[str(status)] = errors.get(str(status), 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

    return {"requests": len(ordered), "errors": errors, "rps": round(len(ordered) / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def _scenarios(client_id: int) -> dict:
    queries = itertools.cycle(QUERIES)
    counter = itertools.count()

    def search():
        while True:
            yield "GET", f"/api/v1/search?q={quote_plus(next(queries))}", None

    def triage():
        while True:
            yield "POST", "/api/v1/triage", json.dumps({"subject": next(queries), "client_id": client_id}).encode()

    def create():
        while True:
            yield "POST", "/api/v1/tickets", json.dumps({"client_id": client_id, "subject": next(queries),
                                                          "description": f"нагрузка {next(counter)}"}).encode()

    def listing():
        while True:
            yield "GET", "/api/v1/tickets?limit=50", None

    def health():
        while True:
            yield "GET", "/healthz", None

    return {"healthz (baseline)": health, "GET /api/v1/search": search, "POST /api/v1/triage": triage,
            "GET /api/v1/tickets": listing, "POST /api/v1/tickets": create}


def _serve(env: dict, workers: int, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                               "--timeout", "120", "service:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def run_one(database: str, args, workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRECEDENT_")}
    var = workdir / database
    var.mkdir()
    (var / "prometheus").mkdir()
    env.update({"PRECEDENT_VAR_DIR": str(var), "PRECEDENT_SECRET_KEY": uuid.uuid4().hex * 2,
                "PROMETHEUS_MULTIPROC_DIR": str(var / "prometheus"), "PYTHONPATH": str(ROOT)})
    if database == "postgresql":
        from sqlalchemy import create_engine, text

        name = f"http_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        env["PRECEDENT_DATABASE_URL"] = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
    token, client_id = _prepare(env, args.tickets)
    port = _free_port()
    server = _serve(env, args.workers, port)
    results: dict = {}
    try:
        for name, requests in _scenarios(client_id).items():
            asyncio.run(_load(port, token, requests(), args.concurrency, args.warmup))  # index and model per worker
            load_before = os.getloadavg()[0]
            results[name] = asyncio.run(_load(port, token, requests(), args.concurrency, args.seconds))
            results[name]["load_average_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        if database == "postgresql":
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    report = {"workers": args.workers, "worker_class": "sync", "concurrency": args.concurrency,
              "seconds_per_scenario": args.seconds, "demo_tickets": args.tickets, "cpus": os.cpu_count(),
              "triage": "rules and specialist ranking (no trained model published)",
              "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="http_load_") as workdir:
        for database in databases:
            report[database] = run_one(database, args, Path(workdir))
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
