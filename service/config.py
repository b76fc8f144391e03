"""All configuration of Precedent, read from environment variables with the ``PRECEDENT_`` prefix.

Every setting has a documented default so that a fresh clone runs with no environment at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

PREFIX = "PRECEDENT_"


@dataclass(frozen=True)
class Settings:
    """Process-wide settings; build with :func:`load_settings`."""

    # --- storage ---
    #: Where runtime state lives (database file, index, models, caches).
    var_dir: Path = Path("var")
    #: SQLAlchemy URL; empty means the embedded SQLite file ``<var_dir>/precedent.sqlite3``.
    database_url: str = ""

    # --- service ---
    #: "development" or "production". Production mode (this, a non-loopback ``host``, or running under
    #: gunicorn) refuses to start with the default ``secret_key`` and turns secure session cookies on.
    env: str = "development"
    #: Flask secret key for session cookies. When left at this default, ``<var_dir>/secret_key`` is used if
    #: it exists (``precedent db upgrade`` creates it); production mode refuses to start with the default.
    secret_key: str = "dev-only-change-me"
    #: Bind address of ``precedent serve``; anything but a loopback address means production mode.
    host: str = "127.0.0.1"
    port: int = 8000
    #: Largest request body accepted, in bytes (Flask's MAX_CONTENT_LENGTH): a bigger one is answered 413
    #: before it is read. 16 MiB holds any ticket, article or import batch sent over the API.
    max_request_bytes: int = 16 * 1024 * 1024
    #: Send the session cookie over HTTPS only: "auto" (on in production mode), "on" or "off".
    session_cookie_secure: str = "auto"
    #: Bearer token that may read /metrics (besides loopback clients and staff API tokens); empty: none.
    metrics_token: str = ""
    #: Login rate limit: failures counted within this many seconds...
    login_failure_window_seconds: int = 900
    #: ...per account name (then even the right password is refused until the window moves on)...
    login_max_account_failures: int = 10
    #: ...and per client address.
    login_max_address_failures: int = 30

    # --- search (H-search: ml/embedders.py, ml/index.py, ml/retrieval.py, service/search.py, docs/search.md) ---
    #: Embedder: "use-multilingual-v3" (Russian + 15 languages), "all-MiniLM-L6-v2" (English) or a local
    #: sentence-transformers model directory. Changing it requires `precedent index build`.
    search_embedder: str = "use-multilingual-v3"
    #: Device of sentence-transformers models ("cpu", "cuda", "cuda:1"); never required to be a GPU.
    search_device: str = "cpu"
    #: BLAS threads of the numpy multilingual encoder. 1 by default: on a shared 2-core host two threads
    #: made single queries ~10x slower (spin-waiting for a busy core), see docs/search.md.
    search_threads: int = 1
    #: Parallel threads (one BLAS thread each) that encode batches of 64+ texts (index builds); 0 = every core.
    search_bulk_threads: int = 0
    #: Characters of a document (and query) embedded densely; the lexical signal sees all of the text.
    #: 200 was the best cut on the real Endava dev split (docs/search.md) and 3x cheaper to embed than 600.
    search_dense_max_chars: int = 200
    #: Strip greetings, signatures, quoted replies, links and invisible characters before indexing and
    #: searching (ml/cleaning.py); chosen by benchmarks/search_defaults.py (docs/search.md).
    search_clean_text: bool = True
    #: Collections of at least this many documents use an HNSW index instead of exact search.
    search_hnsw_threshold: int = 20000
    #: HNSW search breadth (higher: better recall, slower).
    search_ef_search: int = 64
    #: Fusion: "weighted" (weighted normalised scores) or "rrf" (weighted reciprocal rank).
    search_fusion: str = "weighted"
    #: Signal weights of the incidents (and of any collection without weights of its own): the whole-document
    #: embedding and BM25 words. Over the Endava and demo incident sets the field-aware fusion below ties with
    #: it (docs/search.md) but doubled suggest latency at 20k incidents (p95 64.5 against 32.9 ms, over the
    #: 50 ms budget); 0 switches a signal off and it is not built.
    search_weight_title: float = 0.0
    search_weight_document: float = 2.0
    search_weight_lexical: float = 1.0
    search_weight_char: float = 0.0
    #: Per collection, weights that replace the four above: "signal:weight" pairs, comma-separated (empty:
    #: the four above). Articles and known problems are field-aware — title and whole-document embeddings,
    #: BM25 words and character n-grams — the best mean dev MRR over all three labelled sets with cleaning
    #: (benchmarks/search_defaults.py); `precedent search tune` stores per-collection choices of its own.
    search_weights_incident: tuple[str, ...] = ()
    search_weights_article: tuple[str, ...] = ("title:1", "document:2", "lexical:1", "char:1")
    search_weights_known_problem: tuple[str, ...] = ("title:1", "document:2", "lexical:1", "char:1")
    search_rrf_k: float = 60.0
    #: Candidates each signal proposes before fusion.
    search_pool: int = 100
    #: Boosts of the fused score (multiplicative: score * (1 + boost)).
    search_same_client_boost: float = 0.1
    search_same_node_kind_boost: float = 0.1
    search_recency_boost: float = 0.05
    search_recency_half_life_days: float = 365.0
    #: Suggestions below this share of the best hit's fused score are not shown (0 shows all k).
    search_min_relative_score: float = 0.0
    #: Relevance floor per collection (``PRECEDENT_SEARCH_MIN_SCORE_<KIND>``): a hit whose best dense cosine
    #: with the query is below it is not shown, so gibberish gets an empty answer (0 disables). Chosen on the
    #: Endava and demo sets with benchmarks/relevance_floor.py (docs/search.md, docs/benchmarks.md).
    search_min_score_incident: float = 0.7
    search_min_score_article: float = 0.25
    #: No labelled set of known problems exists yet: the article floors (curated text of the same kind).
    search_min_score_known_problem: float = 0.25
    #: The floor for hits sharing a word stem with the query (``PRECEDENT_SEARCH_MIN_SCORE_WORDS_<KIND>``).
    search_min_score_words_incident: float = 0.3
    search_min_score_words_article: float = 0.2
    search_min_score_words_known_problem: float = 0.2
    #: Engineers' verdicts as a ranking signal: score * (1 + boosts + this per net useful verdict on the item,
    #: within ± search_feedback_max_boost); 0 disables it.
    search_feedback_boost: float = 0.05
    search_feedback_max_boost: float = 0.2

    # --- triage (H-triage: ml/classify.py, service/triage.py, docs/triage.md) ---
    #: Precision that auto-routed tickets must keep; picks the confidence threshold of the published
    #: model from the precision/coverage curve stored in its manifest (0.8, 0.85, 0.9 or 0.95).
    triage_target_precision: float = 0.9
    #: Fixed confidence threshold for the group model instead (0 = take it from the manifest).
    triage_group_threshold: float = 0.0
    #: Fixed confidence threshold for the priority model instead (0 = take it from the manifest).
    triage_priority_threshold: float = 0.0
    #: How many specialists triage proposes.
    triage_specialists: int = 5
    #: Ask service.search.suggest (hybrid search, +~30 ms) for the nearest past incidents of the
    #: specialist ranking when its index exists; otherwise a TF-IDF neighbour index over resolved
    #: incidents inside triage does it (keeps POST /api/v1/triage within its 20 ms p95 budget).
    triage_use_search: bool = False
    #: How often (seconds) triage checks whether resolved incidents changed and re-fits its neighbours.
    triage_neighbours_refresh_seconds: int = 300
    #: Base learners of the stacked classifier (ml.classify.STACK_BASES), comma-separated; used by
    #: `precedent train` and `precedent evaluate classify` alike.  "wordchar_svm" instead of "word_svm"
    #: adds character n-grams (Russian inflections) at about 1.6x the fit time (docs/benchmarks.md).
    triage_stack_bases: tuple = ("word_svm", "word_nb", "word_sgd_log", "word_ridge")
    #: Pipeline of `precedent train` and `precedent evaluate classify`: "selected" (chosen per desk by
    #: cross-validation among a plain word+char TF-IDF LinearSVC and the stacks, calibrated on out-of-fold
    #: scores; docs/triage.md) or "stack" (the blend above alone, without selection).
    triage_pipeline: str = "selected"

    # --- SLA (H-sla: service/sla/, service/sla_service.py, service/mail.py, docs/sla.md) ---
    #: Share of a target's working time after which a running target is "at risk" (0 < f <= 1).
    sla_at_risk_fraction: float = 0.75
    #: Run the SLA check in a background thread of the web service (off by default and in tests).
    sla_scheduler_enabled: bool = False
    #: Seconds between two background SLA checks.
    sla_check_interval_seconds: int = 300
    #: Send each Gold-and-up client its monthly SLA report when a check runs in a new month.
    sla_send_monthly_reports: bool = True

    # --- mail (shared: SLA notifications, workflow notifications) ---
    #: SMTP server; empty host disables sending (messages are then only logged).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    #: Use STARTTLS after connecting.
    smtp_starttls: bool = False
    #: Sender address of every message.
    mail_from: str = "precedent@localhost"
    #: Seconds to wait for the SMTP server.
    smtp_timeout_seconds: float = 10.0
    #: Outbox (service/platform/outbox.py): attempts of a message before it is marked failed (staff may resend).
    outbox_max_attempts: int = 6
    #: Wait before the second attempt; it doubles after each failure (60 s, 2, 4, 8, 16 min)...
    outbox_backoff_seconds: float = 60.0
    #: ...up to this.
    outbox_backoff_max_seconds: float = 3600.0
    #: Seconds between two rounds of the outbox worker (`precedent outbox run`, and the web service's thread).
    outbox_interval_seconds: float = 10.0
    #: Run the outbox worker in a background thread of the web service (off by default and in tests; it also
    #: runs whenever ``sla_scheduler_enabled`` is on). Otherwise run `precedent outbox run`.
    outbox_worker_enabled: bool = False
    #: Language of mail to staff (assignees, managers): "ru" or "en".
    mail_staff_language: str = "ru"

    # --- e-mail intake (service/tickets/smtp_intake.py, docs/intake.md) ---
    #: Largest message the SMTP intake accepts (bigger: 552 before it is read whole).
    intake_max_message_bytes: int = 10 * 1024 * 1024
    #: Largest attachment stored; a bigger one is left out and named in the ticket's description.
    intake_max_attachment_bytes: int = 5 * 1024 * 1024
    #: Most attachments stored per message.
    intake_max_attachments: int = 20

    # --- workflow (H-flow: service/workflow.py, service/notifications.py, service/alerting.py,
    #     service/intake.py, docs/workflow.md) ---
    #: First line's time box in working minutes of the client's calendar (SLA pauses excluded), counted from
    #: "take"; when it runs out the ticket is flagged for escalation.
    workflow_first_line_minutes: int = 120
    #: A resolved ticket is closed automatically after this many working days without confirmation.
    workflow_autoclose_working_days: int = 3
    #: E-mail the requester on creation, status changes and public comments.
    workflow_notify_requester: bool = True
    #: Folder whose Jinja templates override service/web/templates/mail/ (empty: built-in templates only).
    mail_templates_dir: str = ""
    #: Shared secret of POST /api/v1/webhooks/alertmanager ("Authorization: Bearer <secret>" or ?token=);
    #: empty disables the webhook (503).
    alertmanager_token: str = ""
    #: Alert labels tried in order to find the node (matched to Node.name, attributes.hostname/fqdn/ip).
    alertmanager_node_labels: tuple = ("node", "host", "hostname", "instance")
    #: A resolved alert moves its open incident to "resolved" (awaiting the client's confirmation) instead
    #: of only commenting on it.
    alertmanager_resolve_incidents: bool = False

    # --- demo (H-gen: data/demo/, service/cli/demo.py, docs/demo.md) ---
    #: Folder of the demo generator package; empty means ``data/demo`` of the checkout this code runs from
    #: (the generator lives in the repository, not in the installed distribution).
    demo_dir: str = ""

    @property
    def resolved_database_url(self) -> str:
        """The database URL to use, defaulting to the SQLite file under ``var_dir``."""
        return self.database_url or f"sqlite:///{self.var_dir / 'precedent.sqlite3'}"

    @property
    def index_dir(self) -> Path:
        return self.var_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.var_dir / "models"


def _coerce(raw: str, default: object) -> object:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings from ``environ`` (default: ``os.environ``); keyword overrides win.

    A malformed value raises ``ValueError`` naming the variable.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field in fields(Settings):
        name = PREFIX + field.name.upper()
        if name in environ:
            try:
                values[field.name] = _coerce(environ[name], field.default)
            except ValueError as exc:
                raise ValueError(f"{name}: cannot parse {environ[name]!r}: {exc}") from None
    return replace(Settings(**values), **overrides)


def current_settings(settings: Settings | None = None) -> Settings:
    """``settings`` if given, else the running app's (``create_app`` reconciles it with its overrides), else
    the environment's."""
    if settings is not None:
        return settings
    from flask import current_app, has_app_context

    if has_app_context() and "SETTINGS" in current_app.config:
        return current_app.config["SETTINGS"]
    return load_settings()
