"""`hwsolve variants TEMPLATE --roster R --secret-file F -o DIR`: per student a problem sheet
(LaTeX and Markdown: the question with their numbers, in the course's notation), the key spec
and an answer-file skeleton; one manifest.json for the class.

    DIR/manifest.json
    DIR/<student>/sheet.tex  sheet.md  key.yaml  answers.yaml

Nothing depends on time or order: two runs with the same inputs write the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hwsolve.core.records import Solution
from hwsolve.core.texescape import escape_text
from hwsolve.variants.question import build_question
from hwsolve.variants.roster import Student, load_roster, load_secret
from hwsolve.variants.template import Template, Variant, load_template, make_variant

MANIFEST_SCHEMA = "hwsolve/variants"


def question_for(v: Variant) -> Solution:
    data = {k: val for k, val in v.doc.data.items() if k not in ("rubric", "variants")}
    return build_question(v.solution, v.kind, data, v.graded)


def answers_skeleton(student: str, graded: list[tuple[str, float]]) -> str:
    lines = [f"student: {student}", "answers:"]
    lines += [f"  {name}: ~" for name, _ in graded]
    return "\n".join(lines) + "\n"


def sheet_latex(q: Solution, student: Student, v: Variant, precision: int) -> str:
    from hwsolve.render import latex

    text = latex.render(q, precision, whole=True)  # a student's own numbers, every one of them
    who = escape_text(student.id + (f" ({student.name})" if student.name else ""))
    head = (rf"\noindent Student: \texttt{{{who}}} \hfill variant \texttt{{{v.id}}}" + "\n\n"
            r"\noindent These numbers are yours: answer with them, in an answer file of this form "
            r"(a list is a column, one list per row a matrix; fractions as text, \texttt{\"1/3\"})." + "\n")
    skeleton = "\\subsection*{Your answer file}\n\\begin{verbatim}\n" + answers_skeleton(student.id, v.graded) \
        + "\\end{verbatim}\n"
    text = text.replace("\\begin{document}\n", "\\begin{document}\n" + head, 1)
    return text.replace("\n\\end{document}", "\n" + skeleton + "\\end{document}", 1)


def sheet_markdown(q: Solution, student: Student, v: Variant, precision: int) -> str:
    from hwsolve.render import markdown

    text = markdown.render(q, precision)
    first, _, rest = text.partition("\n")
    who = student.id + (f" ({student.name})" if student.name else "")
    head = (f"\nStudent: `{who}` · variant `{v.id}`\n\nThese numbers are yours: answer with them, in an "
            "answer file of this form (a list is a column, one list per row a matrix).\n")
    skeleton = "\n## Your answer file\n\n```yaml\n" + answers_skeleton(student.id, v.graded) + "```\n"
    return first + "\n" + head + rest.rstrip("\n") + "\n" + skeleton


def key_text(t: Template, v: Variant) -> str:
    return (f"# key of {Path(t.file).name} for student {v.student} (variant {v.id}), written by hwsolve variants;\n"
            "# grade with: hwsolve grade TEMPLATE --roster ... --secret-file ... SUBMISSIONS, or this file as the key\n"
            + v.text)


def write_variants(template: str, roster: str, secret_file: str, out_dir: str, precision: int = 4,
                   progress=None) -> dict:
    """Write every student's files and the manifest; return the manifest."""
    from hwsolve.core.fileio import make_folder, write_atomic

    t = load_template(template)
    students = load_roster(roster)
    secret = load_secret(secret_file)
    out = Path(out_dir)
    make_folder(out, parents=True)
    rows = []
    by_variant: dict[str, list[str]] = {}
    graded: list[tuple[str, float]] = []
    for i, s in enumerate(students, 1):
        v = make_variant(t, s.id, secret)
        graded = graded or v.graded
        q = question_for(v)
        folder = out / s.id
        make_folder(folder)
        write_atomic(folder / "key.yaml", key_text(t, v))
        write_atomic(folder / "sheet.tex", sheet_latex(q, s, v, precision) + "\n")
        write_atomic(folder / "sheet.md", sheet_markdown(q, s, v, precision))
        write_atomic(folder / "answers.yaml", answers_skeleton(s.id, v.graded))
        by_variant.setdefault(v.id, []).append(s.id)
        rows.append({"student": s.id, "name": s.name, "variant": v.id, "tries": v.tries,
                     "files": {k: f"{s.id}/{k}" for k in ("sheet.tex", "sheet.md", "key.yaml", "answers.yaml")}})
        if progress:
            progress(i, len(students))
    manifest = {
        "schema": MANIFEST_SCHEMA, "schema_version": 1,
        "template": Path(t.file).name,
        "template_sha256": hashlib.sha256(t.raw).hexdigest(),
        "kind": make_kind(t),
        "steps": [{"name": n, "points": p} for n, p in graded],
        "students": rows,
        "distinct_variants": len(by_variant),
        "shared_variants": [ids for ids in by_variant.values() if len(ids) > 1],
    }
    write_atomic(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def make_kind(t: Template) -> str:
    kind = t.data.get("kind", "network")
    return kind if isinstance(kind, str) else "network"

