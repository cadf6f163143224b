"""hwsolve arch's value column groups thousands (3,152,384 parameters) in text, Markdown and LaTeX,
as the notes beside it and torchinfo's totals do; JSON keeps plain integers. The grouping is
checked against digits grouped by hand (reversed, three at a time), not Python's `,` format."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from hwsolve.core.numfmt import COUNT_UNITS, grouped_count
from hwsolve.render import json_out, latex, markdown
from hwsolve.render.text import value_text
from hwsolve.topics.arch.solve import solve_arch
from hwsolve.topics.arch.spec import load_arch

from conftest import PROBLEMS


def by_hand(n: int) -> str:
    digits = str(abs(n))[::-1]
    groups = [digits[k:k + 3][::-1] for k in range(0, len(digits), 3)]
    return ("-" if n < 0 else "") + ",".join(reversed(groups))


@settings(max_examples=40, deadline=None)
@given(st.integers(-10**12, 10**12), st.sampled_from(sorted(COUNT_UNITS)))
def test_grouped_count_groups_by_three(n, unit):
    assert grouped_count(n, unit) == by_hand(n)


def test_only_whole_counts_are_grouped():
    assert grouped_count(12345, "epochs") is None      # hparam's units keep their own format
    assert grouped_count(1.5, "parameters") is None
    assert grouped_count(True, "parameters") is None


def test_every_count_in_the_arch_tables_is_grouped_in_every_format():
    sol = solve_arch(load_arch(PROBLEMS / "arch_sequence.yaml"))
    counts = [s for s in sol.steps if s.unit in COUNT_UNITS and isinstance(s.value, int)]
    assert any(s.value >= 1_000_000 for s in counts)
    md, tex = markdown.render(sol, 4), latex.render(sol, 4)
    for s in counts:
        assert value_text(s, 4) == f"{by_hand(s.value)} {s.unit}", s.name
        assert latex.value_latex(s, 4).startswith(by_hand(s.value).replace(",", "{,}") + r"\ \text{"), s.name
        if s.value >= 1000:
            assert by_hand(s.value).replace(",", "{,}") in tex and by_hand(s.value).replace(",", "{,}") in md
    steps = {d["name"]: d["value"] for d in json.loads(json_out.render(sol, 4))["steps"]}
    assert all(steps[s.name] == s.value and isinstance(steps[s.name], int) for s in counts)
    assert "3,152,384" in value_text(sol.step("params[1]"), 4)
