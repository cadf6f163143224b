"""Grading against per-student variants: each submission's key is its student's own variant.

The student id is the answer file's `student:` key (else, as for any submission, the file's
name without its suffix). An id not on the roster is not graded: its row scores 0 and says why.
Keys are made when first needed and kept (a worker process of --jobs makes its own).
"""

from __future__ import annotations

from pathlib import Path

from hwsolve.core.errors import HwsolveError
from hwsolve.grade.answers import Submission
from hwsolve.grade.grader import Key, make_key
from hwsolve.grade.rubric import Rubric, load_rubric_file, parse_rubric
from hwsolve.variants.roster import load_roster, load_secret
from hwsolve.variants.template import Variant, load_template, make_variant, solve_text, spec_text


class VariantKeys:
    """A `grade.run.KeySource`: the key of each submission's variant."""

    def __init__(self, template: str, roster: str, secret_file: str, rubric_path: str | None = None):
        self.template = load_template(template)
        self.roster_file = roster
        self.students = {s.id: s for s in load_roster(roster)}
        self.secret = load_secret(secret_file)
        self.rubric_path = rubric_path
        # the template's own numbers: the key the class report is laid out by
        doc, kind, problem, solution, _ = solve_text(spec_text(self.template.data), self.template.file)
        self.key = make_key(self.template.file, kind, problem, solution, self._rubric(doc), rubric_path)
        self.cache: dict[str, Key] = {}

    def _rubric(self, doc) -> Rubric:
        if self.rubric_path:
            return load_rubric_file(self.rubric_path)
        return parse_rubric(doc.root["rubric"]) if doc.root.has("rubric") else Rubric()

    def variant(self, student: str) -> Variant:
        return make_variant(self.template, student, self.secret)

    def key_for(self, sub: Submission) -> Key:
        sid = sub.student
        if sid not in self.students:
            raise HwsolveError(f"student '{sid[:60]}' is not on the roster ({Path(self.roster_file).name}): "
                               "no variant to grade against")
        if sid not in self.cache:
            v = self.variant(sid)
            name = f"{Path(self.template.file).name} (variant {v.id} of {sid})"
            self.cache[sid] = make_key(name, v.kind, v.problem, v.solution, self._rubric(v.doc), self.rubric_path)
        return self.cache[sid]
