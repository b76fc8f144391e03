"""Query functions per concept; all arguments after the session are keyword-only."""
