"""What went wrong with a file or a row, and what an import did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ImportFileError(ValueError):
    """A problem with the file or the mapping as a whole (one line, no row)."""


@dataclass
class RowError:
    """One bad row: file, row number, source column (None for the whole row) and the reason."""

    file: str
    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"column {self.column}: " if self.column else ""
        return f"{self.file}:{self.row}: {where}{self.message}"


@dataclass
class ImportReport:
    """What an import did (or, for a dry run or a failed file, would have done)."""

    entity: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    skip_invalid: bool = False
    dry_run: bool = False

    @property
    def rejected(self) -> int:
        """How many rows have at least one error."""
        return len({e.row for e in self.errors})

    @property
    def imported(self) -> bool:
        """True when rows were (or, for a dry run, would be) written."""
        return not self.errors or self.skip_invalid

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (errors as their one-line messages)."""
        return {"entity": self.entity, "file": self.file, "rows": self.rows, "created": self.created,
                "updated": self.updated, "rejected": self.rejected, "imported": self.imported,
                "dry_run": self.dry_run, "errors": [str(e) for e in self.errors]}
