"""Problems found in a template, with the file and line they point at.

Every stage appends to one `Problems` collection so that a run reports everything at once.
A problem names its logical id (resource, parameter, output, `Globals`...) and the path below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    logical_id: str
    path: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        name = ".".join(p for p in (self.logical_id, self.path) if p)
        return f"{where}: {name}: {self.message}" if name else f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "logical_id": self.logical_id,
                "path": self.path, "message": self.message, "severity": self.severity}


def format_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


# logical-id namespaces -> the template section their path starts in
SECTIONS = ("Resources", "Parameters", "Outputs", "Conditions", "Mappings")


class Problems:
    """An ordered, de-duplicated collection of problems for one template."""

    def __init__(self, file: str, doc: Any, locate: Callable[[Any, tuple[Any, ...]], int | None]) -> None:
        self.file = file
        self.doc = doc
        self.locate = locate  # (document, path) -> line: the loader's line_of
        self.items: list[Problem] = []
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, severity: str, section: str | None, logical_id: str, path: Iterable[Any],
            message: str, line: int | None = None) -> None:
        path = tuple(path)
        text = format_path(path)
        key = (logical_id, text, message)
        if key in self._seen:
            return
        self._seen.add(key)
        if line is None:
            doc_path: tuple[Any, ...] = ((section, logical_id) if section else
                                         ((logical_id,) if logical_id else ())) + path
            line = self.locate(self.doc, doc_path)
        self.items.append(Problem(self.file, line, logical_id, text, message, severity))

    def error(self, section: str | None, logical_id: str, path: Iterable[Any], message: str) -> None:
        self.add("error", section, logical_id, path, message)

    def warning(self, section: str | None, logical_id: str, path: Iterable[Any], message: str) -> None:
        self.add("warning", section, logical_id, path, message)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]
