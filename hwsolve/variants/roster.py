"""The class roster (CSV) and the course secret, read with the house rules for bad input.

Roster: one student per line. A header line naming a column `student` (or `id`, `student_id`,
`netid`, `login`, `email`) picks that column and keeps a `name` column for the sheets; without
one, the first column is the id. Blank lines and lines starting with # are skipped. An id is
1-64 characters of letters, digits and `._@+-` (it names a folder), not starting with `.`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from hwsolve.core.errors import SpecError

MAX_ROSTER_BYTES = 2_000_000
MAX_STUDENTS = 20_000
MIN_SECRET_BYTES = 16
ID_COLUMNS = ("student", "id", "student_id", "netid", "login", "email")
_ID = re.compile(r"[A-Za-z0-9_@+\-][A-Za-z0-9._@+\-]{0,63}")


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    line: int = 0


def _read(path: str, limit: int, what: str) -> bytes:
    p = Path(path)
    try:
        if p.is_dir():
            raise SpecError("is a folder", file=path, field=what)
        data = p.read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read file: {e.strerror or e}", file=path, field=what) from None
    if len(data) > limit:
        raise SpecError(f"file is {len(data)} bytes; the limit is {limit}", file=path, field=what)
    return data


def _csv_rows(text: str, path: str) -> list[tuple[int, list[str]]]:
    """(line, fields) of each CSV record; malformed CSV (a field over the csv module's 128 KB limit,
    a stray carriage return) is one error naming the line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            rows.append((reader.line_num, fields))
    except csv.Error as e:
        raise SpecError(f"not valid CSV: {e}", file=path, line=reader.line_num, field="--roster") from None
    return rows


def load_roster(path: str) -> list[Student]:
    raw = _read(path, MAX_ROSTER_BYTES, "--roster")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text (byte {e.start})", file=path, field="--roster") from None
    rows = [(i, r) for i, r in _csv_rows(text, path)
            if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    col, name_col = 0, None
    if rows:
        head = [c.strip().lower() for c in rows[0][1]]
        found = [h for h in ID_COLUMNS if h in head]
        if found:
            col = head.index(found[0])
            name_col = head.index("name") if "name" in head else None
            rows = rows[1:]
    students: list[Student] = []
    seen: dict[str, int] = {}
    for line, r in rows:
        sid = r[col].strip() if col < len(r) else ""
        if not _ID.fullmatch(sid):
            raise SpecError(f"student id '{sid[:40]}' is not 1-64 letters, digits or ._@+- (it names a folder)",
                            file=path, line=line, field="--roster")
        if sid in seen:
            raise SpecError(f"student id '{sid}' appears twice (first on line {seen[sid]})", file=path,
                            line=line, field="--roster")
        seen[sid] = line
        name = r[name_col].strip() if name_col is not None and name_col < len(r) else ""
        students.append(Student(sid, name[:100], line))
        if len(students) > MAX_STUDENTS:
            raise SpecError(f"more than {MAX_STUDENTS} students", file=path, field="--roster")
    if not students:
        raise SpecError("no students in the roster", file=path, field="--roster")
    return students


def load_secret(path: str) -> bytes:
    """The course secret: the file's bytes without surrounding whitespace, at least 16 of them."""
    secret = _read(path, 65_536, "--secret-file").strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise SpecError(f"the secret is {len(secret)} bytes; use at least {MIN_SECRET_BYTES} random ones, "
                        "e.g. python3 -c 'import secrets; print(secrets.token_hex(32))' > course.secret",
                        file=path, field="--secret-file")
    return secret
