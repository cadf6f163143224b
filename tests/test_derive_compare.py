"""hwsolve derive A B: what changes between two derivations, and why (issue 13 item 4)."""

from click.testing import CliRunner

from hwsolve.topics.derive.answers import ANSWER_SUFFIX
from hwsolve.cli import main
from hwsolve.core.sym import to_text
from hwsolve.topics.derive.compare import compare
from hwsolve.topics.derive.spec import parse_derive
from hwsolve.spec.loader import load_yaml

from conftest import PROBLEMS


def _problem(name: str):
    return parse_derive(load_yaml(str(PROBLEMS / f"nyu2572_{name}_sym.yaml")))


def test_1_3a_changes_the_two_activation_jacobians_and_keeps_the_answer_in_given_symbols():
    sol = compare(_problem("1_2"), _problem("1_3a"))
    diffs = {s.name: s.value for s in sol.in_section("differences")}
    assert diffs == {"z_2": "5 * relu → tanh", "yhat": "identity → sigmoid"}
    jac = {s.name: s for s in sol.in_section("jacobians")}
    assert set(jac) == {"dyhat/dz_3", "dz_2/dz_1"}       # dl/dyhat is the same squared error
    assert to_text(jac["dz_2/dz_1"].expression) == "diag(1 - z_2 ⊙ z_2)"
    assert "was diag(5 * 1{z_1 > 0})" in jac["dz_2/dz_1"].note
    # 1.2(c)'s answers in the given Jacobians change only where z_2 is written out; (d)'s elements do
    answers = sol.in_section("answers_backward")
    assert [s.name for s in answers] == ["dl/dW^(2)" + ANSWER_SUFFIX]
    assert to_text(answers[0].formula) == "tanh(W^(1) x + b^(1)) dl/dyhat dyhat/dz_3"
    chain = {s.name: s.note for s in sol.in_section("chain")}
    assert "because dyhat/dz_3, dz_2/dz_1 changed" in chain["dl/dW^(1)"]
    assert "dz_2/dz_1" not in chain["dl/dW^(2)"].split("because")[1]   # W^(2)'s chain skips f


def test_1_3b_changes_only_what_the_loss_reaches():
    sol = compare(_problem("1_3a"), _problem("1_3b"))
    assert [(s.name, s.value) for s in sol.in_section("differences")] == [("loss", "squared_error → bce")]
    assert [s.name for s in sol.in_section("jacobians")] == ["dl/dyhat"]
    assert to_text(sol.in_section("algebra")[-1].formula) == "(yhat - y) / K"
    assert all("dl/dyhat" in s.note for s in sol.in_section("chain"))


def test_cli_two_specs():
    r = CliRunner().invoke(main, ["derive", str(PROBLEMS / "nyu2572_1_3a_sym.yaml"),
                                  str(PROBLEMS / "nyu2572_1_3b_sym.yaml"), "--format", "markdown"])
    assert r.exit_code == 0, r.output
    # the loss key is set as code (issue 13 item 8), no longer as escaped text
    assert "What differs in the specs" in r.output and "`squared_error` → bce" in r.output
