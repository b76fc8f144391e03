"""Seeded generator of the Russian-language demo knowledge base (see docs/demo.md).

``build_demo(session, seed=..., tickets=...)`` writes clients, nodes, specialists, tickets with their
history, knowledge articles, known problems and demo logins. Run it as ``precedent demo build`` or, from
the repository root, ``python -m data.demo``.
"""

from .generator import (
    DEFAULT_SEED,
    DEFAULT_TICKETS,
    DEMO_PASSWORD,
    HISTORY_END,
    DemoError,
    build_demo,
    database_has_content,
    demo_usernames,
)

__all__ = ["DEFAULT_SEED", "DEFAULT_TICKETS", "DEMO_PASSWORD", "HISTORY_END", "DemoError", "build_demo",
           "database_has_content", "demo_usernames"]
