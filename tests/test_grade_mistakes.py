"""One test per entry of the mistakes table (hwsolve/grade/mistakes.py): the wrong value a
student writes, and the name the grader gives it. A new entry without a case here fails."""

from fractions import Fraction
from pathlib import Path

import pytest

from hwsolve.grade.answers import Submission, parse_value
from hwsolve.grade.grader import grade, load_key, make_key
from hwsolve.grade.mistakes import mistakes

ROOT = Path(__file__).resolve().parents[1]
P1 = ROOT / "problems" / "cs4782_p1.yaml"
DATA = ROOT / "tests" / "data"


def _p1():
    """P1 under the default rubric: its own (layout: either) would accept the transpose."""
    return load_key(str(P1), str(DATA / "rubric_defaults.yaml"))


def _conv_key():
    from hwsolve.topics.conv.solve import solve_conv
    from hwsolve.topics.conv.spec import parse_conv
    from hwsolve.spec.loader import load_yaml

    sheet = parse_conv(load_yaml(ROOT / "problems" / "cs4782_p4.yaml"))
    return make_key("cs4782_p4.yaml", "conv", sheet, solve_conv(sheet))


def _data(name: str):
    return lambda: load_key(str(DATA / name))


def _edited(name: str, old: str, new: str, extra: str = ""):
    """A tests/data key with `old` replaced by `new` and `extra` appended (same network, another
    loss, activation or convention)."""
    def load():
        import tempfile

        text = (DATA / name).read_text()
        assert old in text
        with tempfile.TemporaryDirectory() as d:
            spec = Path(d) / name
            spec.write_text(text.replace(old, new) + extra)
            return load_key(str(spec))
    return load


def _with_loss(name: str, loss: str):
    """A tests/data key with another loss (the 1/K conventions of the same network)."""
    return _edited(name, "loss: mse", f"loss: {loss}")


def _kink(activation: str, relu_prime_at_zero: str | None = None):
    """grade_relu_zero.yaml with another activation at the kink (a[1] = (2, 0)), and a convention."""
    conv = f"conventions: {{relu_prime_at_zero: {relu_prime_at_zero}}}\n" if relu_prime_at_zero else ""
    return _edited("grade_relu_zero.yaml", "  - relu\n", f"  - {activation}\n", conv)


# mistake key -> (key loader, step, the student's wrong value, expected verdict)
CASES = {
    # W[2] is 2x3; a 3x2 gradient is its transpose
    "transposed": (_p1, "dL/dW[2]",
                   [[16, -24], [64, -96], [72, -108]], "wrong_shape"),
    # dL/dW[1] is 3x2; the seed-001 student writes a 2x2
    "wrong_shape": (_p1, "dL/dW[1]", [[32, 16], [-24, -12]], "wrong_shape"),
    "sign_flip": (_p1, "dL/db[2]", [-8, 12], "wrong"),
    # dL/dyhat = 2 (yhat - y) = -4; without the 2 everything below halves
    "factor2_dropped": (_p1, "dL/dW[2]", [[8, 32, 36], [-12, -48, -54]], "wrong"),
    "factor2_doubled": (_p1, "dL/db[1]", [32, 24, -8], "wrong"),
    # the reverse, in the forward pass: z[1] = ReLU'(a[1]) = (1, 1, 1), so a[2] = W[2] (1, 1, 1) + b[2] =
    # (9 - 23, 4 - 11), named on a[2] even when z[1] is not written
    "derivative_for_activation": (_p1, "a[2]", [-14, -7], "wrong"),
    # ReLU(a[3]) = 8 used for ReLU'(a[3]) = 1: dL/da[3] = -32, dL/db[2] = W[3]^T (-32)
    "activation_for_derivative": (_p1, "dL/db[2]", [64, -96], "wrong"),
    # a[1] = [1, -2]: the second unit is dead, its gradient must be 0
    "dead_relu_ignored": (lambda: load_key(str(DATA / "grade_dead_relu.yaml")), "dL/db[1]", [-4, -4], "wrong"),
    # dL/da = p - y; without the - y it is p = softmax([1, 2])
    "softmax_without_y": (lambda: load_key(str(DATA / "grade_softmax.yaml")), "dL/db[1]",
                          [0.2689, 0.7311], "wrong"),
    # seed 004 Q3b: H3 = min(X1, H1) takes H1 = 1.5 < X1 = 2; sending dL/dH3 to X1 instead gives
    # dL/dX1 = -0.9337 + dL/dH3 (1 - W1) = -0.9337 - 0.6225 (1 - 1.5) = -0.6225
    "other_branch": (lambda: load_key(str(ROOT / "problems" / "csci5922_q3b.yaml")), "dL/dX1", -0.6225, "wrong"),
    # a[1] = [2, 0]: ReLU'(0) = 0 gives dL/db[1] = dL/dz[1] * (1, 0) = (-6, 0); taken as 1, (-6, -6)
    "relu_prime_zero_one": (_data("grade_relu_zero.yaml"), "dL/db[1]", [-6, -6], "wrong"),
    # the same key taking ReLU'(0) = 1 (conventions.relu_prime_at_zero: 1): dL/db[1] = (-6, -6); with 0, (-6, 0)
    "relu_prime_one_zero": (_kink("relu", "1"), "dL/db[1]", [-6, 0], "wrong"),
    # LeakyReLU'(0) = slope = 1/100 by convention: dL/db[1] = (-6, -6/100); from the right side (x > 0), 1
    "kink_other_side": (_kink("leaky_relu"), "dL/db[1]", [-6, -6], "wrong"),
    # dL/dx = W[1]^T dL/da[1] = [[1, 1], [0, -2]] (-6, 0) = (-6, 0); W[1] (-6, 0) = (-6, -6)
    "weight_not_transposed": (_data("grade_relu_zero.yaml"), "dL/dx", [-6, -6], "wrong"),
    # the batch of 2 with the mean: summed over the examples, dL/dW[2] doubles
    "mean_vs_sum": (lambda: load_key(str(ROOT / "problems" / "cs4782_p1_batch.yaml")), "dL/dW[2]",
                    [[0, -16, -56], [0, 24, 84]], "wrong"),
    # K = 3 outputs, yhat - y = (0, 2, 1): MSE's dL/dyhat = 2/3 (0, 2, 1); without the 1/3: 2 (0, 2, 1)
    "output_mean_dropped": (_data("grade_mse3.yaml"), "dL/db[1]", [0, 4, 2], "wrong"),
    # ... with 1/2 (the half-squared-error convention) for 1/3: (0, 2, 1)
    "half_for_mean": (_data("grade_mse3.yaml"), "dL/db[1]", [0, 2, 1], "wrong"),
    # the same network summed (squared error): dL/dyhat = 2 (0, 2, 1); divided by 3 it is 2/3 (0, 2, 1)
    "output_mean_added": (_with_loss("grade_mse3.yaml", "squared_error"), "dL/db[1]", ["0", "4/3", "2/3"],
                          "wrong"),
    # D = X1 - X2, Yhat = W D^3 + X2: dL/dX2 = -768 + 32; with d(X1 - X2)/dX2 = +1, 768 + 32
    "subtraction_sign_lost": (_data("grade_graph_slips.yaml"), "dL/dX2", 800, "wrong"),
    # dP/dD = 3 D^2 = 12 written D^2 = 4: dL/dX1 = 64 * 4
    "power_rule_factor_dropped": (_data("grade_graph_slips.yaml"), "dL/dX1", 256, "wrong"),
    # part 2: floor((36 + 6 - 3)/2) + 1 = 20; ceil gives 21
    "ceil_for_floor": (_conv_key, "p2.n_out", 21, "wrong"),
    # part 2: (36 + 3 - 3)/2 + 1 = 19 when the padding is added once
    "padding_once": (_conv_key, "p2.n_out", 19, "wrong"),
}


def test_every_mistake_has_a_case():
    assert set(CASES) == {m.key for m in mistakes()}


@pytest.mark.parametrize("mistake", sorted(CASES))
def test_mistake_is_named(mistake):
    loader, step, wrong, verdict = CASES[mistake]
    key = loader()
    sub = Submission("x.yaml", "x", {step: parse_value(wrong)})
    r = next(s for s in grade(key, sub).steps if s.name == step)
    assert r.verdict == verdict
    assert r.mistake == mistake, r.reason
    title = next(m.title for m in mistakes() if m.key == mistake)
    assert r.reason.startswith(title)


def test_right_values_name_no_mistake():
    key = load_key(str(P1))
    sub = Submission("x.yaml", "x", {"dL/db[2]": parse_value([8, -12]), "a[3]": parse_value(7)})
    res = {s.name: s for s in grade(key, sub).steps}
    assert res["dL/db[2]"].verdict == "correct" and res["dL/db[2]"].mistake == ""
    assert res["a[3]"].verdict == "wrong" and res["a[3]"].mistake == ""


def test_mistake_credit_from_rubric():
    from hwsolve.grade.rubric import Rubric

    key = load_key(str(P1))
    key.rubric = Rubric(mistake_credit={"transposed": 1.0})
    sub = Submission("x.yaml", "x", {"dL/dW[3]": parse_value([-152, -88])})
    r = next(s for s in grade(key, sub).steps if s.name == "dL/dW[3]")
    assert r.mistake == "transposed" and r.points == r.max_points


def test_mistake_relative_to_own_values():
    """A sign flip of the student's own carried-forward value is named as such."""
    key = load_key(str(P1))
    # a[3] = 9 (slip); z[3] = ReLU(9) = 9 would be ECF; -9 is the sign flip of that
    sub = Submission("x.yaml", "x", {"a[3]": parse_value(9), "z[3]": parse_value(-9)})
    r = next(s for s in grade(key, sub).steps if s.name == "z[3]")
    assert r.mistake == "sign_flip"
    assert "your own earlier values" in r.reason


def test_a_slip_made_in_every_layer_is_named_in_every_layer():
    """ReLU(a) written for ReLU'(a) at all three layers of seed 000 P1: the lower layers'
    gradients compound the slip, and the one-layer variants cannot reproduce them."""
    import numpy as np

    x, y = np.array([2, 1]), 10
    W = [np.array([[1, 0], [3, 4], [1, 2]]), np.array([[2, 6, 1], [0, 3, 1]]), np.array([[-2, 3]])]
    b = [np.array([0, -2, 5]), np.array([-23, -11]), np.array([18])]
    zs = [x]
    for Wl, bl in zip(W, b, strict=True):
        zs.append(np.maximum(Wl @ zs[-1] + bl, 0))
    g = 2 * (zs[-1] - y)
    for layer in (2, 1, 0):
        g = g * zs[layer + 1]                 # the slip: ReLU(a) where ReLU'(a) is due
        if layer == 0:
            break
        g = W[layer].T @ g
    answer = np.outer(g, x).tolist()           # dL/dW[1] with the slip in every layer
    key = load_key(str(ROOT / "problems" / "cs4782_p1.yaml"))
    step = next(s for s in grade(key, Submission("s", "s", {"dL/dW[1]": parse_value(answer)})).steps
                if s.name == "dL/dW[1]")
    assert step.mistake == "activation_for_derivative" and "in every layer" in step.reason


def _step(key, answers: dict, name: str):
    sub = Submission("s.yaml", "s", {k: parse_value(v) for k, v in answers.items()})
    return next(s for s in grade(key, sub).steps if s.name == name)


def test_ecf_then_a_mistake_is_named_on_the_students_own_values():
    """a[3] = 9 (a slip, carried: yhat = 9, dL/dyhat = 2 (9 - 10) = -2), then ReLU(a[3]) = 9 used
    for ReLU'(a[3]): dL/da[3] = -18, dL/db[2] = W[3]^T (-18) = (36, -54). At the key's values the
    same slip gives (64, -96): only the re-run on the student's own values names it."""
    key = load_key(str(P1))
    forward = {"a[3]": 9, "z[3]": 9, "yhat": 9}
    step = _step(key, {**forward, "dL/db[2]": [36, -54]}, "dL/db[2]")
    assert step.verdict == "wrong" and step.mistake == "activation_for_derivative", step.reason
    assert "at z[3]" in step.reason and "your own earlier values" in step.reason
    # in every layer on the student's values: dL/da[2] = W[3]^T (-18) * ReLU(a[2]) = (36 * 38, -54 * 22),
    # dL/db[1] = W[2]^T dL/da[2] * ReLU(a[1]), a[1] = (2, 8, 9)
    g = [36 * 38, -54 * 22]
    step = _step(key, {**forward, "dL/db[1]": [2 * g[0] * 2, (6 * g[0] + 3 * g[1]) * 8, (g[0] + g[1]) * 9]},
                 "dL/db[1]")
    assert step.mistake == "activation_for_derivative" and "in every layer" in step.reason, step.reason
    assert "your own earlier values" in step.reason


def test_ecf_then_a_loss_slip_on_the_students_own_values():
    """yhat = 9 carried (dL/dyhat = -2), the squared error's 2 dropped: dL/db[3] = 9 - 10 = -1 (at
    the key's values it would be -2, itself the ECF value: the slip is only visible on theirs)."""
    key = load_key(str(P1))
    step = _step(key, {"a[3]": 9, "z[3]": 9, "yhat": 9, "dL/db[3]": -1}, "dL/db[3]")
    assert step.mistake == "factor2_dropped" and "your own earlier values" in step.reason, step.reason


def test_a_mistake_then_ecf():
    """ReLU(a[3]) = 8 used for ReLU'(a[3]) = 1 at the top layer only: dL/db[3] = -4 * 8 = -32 is
    the named mistake; everything the student computes from it is error carried forward (their
    dL/db[3] is their dL/da[3]), not the same mistake named again with no credit."""
    key = load_key(str(P1))
    answers = {"dL/db[3]": -32, "dL/dW[3]": [[-32 * 38, -32 * 22]], "dL/db[2]": [64, -96],
               "dL/dW[2]": [[64 * 2, 64 * 8, 64 * 9], [-96 * 2, -96 * 8, -96 * 9]]}
    sub = Submission("s.yaml", "s", {k: parse_value(v) for k, v in answers.items()})
    v = {s.name: s for s in grade(key, sub).steps}
    assert v["dL/db[3]"].mistake == "activation_for_derivative"
    for name in ("dL/dW[3]", "dL/db[2]", "dL/dW[2]"):
        assert v[name].verdict == "ecf" and "dL/db[3]" in v[name].ecf_from, (name, v[name].reason)
    # and on into layer 1 (ReLU'(a[1]) = 1: a[1] = (2, 8, 9))
    w = _step(key, {"dL/db[3]": -32, "dL/db[2]": [64, -96], "dL/db[1]": [2 * 64, 6 * 64 - 3 * 96, 64 - 96]},
              "dL/db[1]")
    assert w.verdict == "ecf" and "dL/db[3]" in w.ecf_from, w.reason


def test_derivative_for_the_activation_on_the_students_own_values():
    """a[1] = (2, -8, 9) written (the key's is (2, 8, 9)), then ReLU'(a[1]) = (1, 0, 1) for z[1]: named on
    their own values, and so is a[2] = W[2] (1, 0, 1) + b[2] = (2 + 1 - 23, 1 - 11) computed from it; a
    z[1] that is ReLU of their a[1], (2, 0, 9), is error carried forward."""
    key = _p1()
    for name, value in (("z[1]", [1, 0, 1]), ("a[2]", [-20, -10])):
        step = _step(key, {"a[1]": [2, -8, 9], name: value}, name)
        assert step.mistake == "derivative_for_activation", step.reason
        assert "at z[1]" in step.reason and "your own earlier values" in step.reason
    assert _step(key, {"a[1]": [2, -8, 9], "z[1]": [2, 0, 9]}, "z[1]").verdict == "ecf"


def test_softmax_without_y_is_a_rule_of_both_softmaxes_and_only_below_a_cross_entropy():
    """The network softmax and the graph's tensor softmax both admit p for p - y, also on the
    student's own values; an attention softmax (no cross-entropy above it) admits nothing."""
    key = load_key(str(DATA / "grade_softmax.yaml"))
    # a[1] = (1, 1) written: p = (1/2, 1/2), so dL/db[1] = p - y = (1/2, -1/2) is ECF and p itself the slip
    assert _step(key, {"a[1]": [1, 1], "dL/db[1]": ["0.5", "-0.5"]}, "dL/db[1]").verdict == "ecf"
    step = _step(key, {"a[1]": [1, 1], "dL/db[1]": ["0.5", "0.5"]}, "dL/db[1]")
    assert step.mistake == "softmax_without_y" and "your own earlier values" in step.reason, step.reason
    graph = load_key(str(ROOT / "problems" / "csc6022_softmax_graph.yaml"))    # seed 003's network as a graph
    p = [f"{float(r[0]):.4g}" for r in graph.values["p"].rows]          # dL/dc = dL/dz2 = p - y; the slip: p
    assert _step(graph, {"dL/dc": p}, "dL/dc").mistake == "softmax_without_y"
    attention = load_key(str(ROOT / "problems" / "graph_norm_attention.yaml"))
    assert "softmax_without_y" not in attention.prepared["rules"]


def test_local_derivatives_are_named_by_their_rules_slips():
    """A local derivative is a step of its own (seed 004's two errors are local derivatives): the
    slip of the rule at its node names it, as it names the gradients below."""
    slips = load_key(str(DATA / "grade_graph_slips.yaml"))
    slips.graded = [("dP/dD", 1.0)]
    # P = D^3, D = 2: dP/dD = 3 D^2 = 12, written D^2 = 4
    assert _step(slips, {"dP/dD": 4}, "dP/dD").mistake == "power_rule_factor_dropped"
    q3b = load_key(str(ROOT / "problems" / "csci5922_q3b.yaml"))     # H3 = min(X1, H1) takes H1 = 1.5 < 2
    for name, wrong in (("dH3/dX1", 1), ("dH3/dH1", 0)):
        step = _step(q3b, {name: wrong}, name)
        assert step.mistake == "other_branch" and "at H3: min's gradient sent to X1" in step.reason, step.reason
    q3a = load_key(str(ROOT / "problems" / "csci5922_q3a_graph.yaml"))
    sigma = f"{float(q3a.values['Yhat'].rows[0][0]):.3g}"            # sigmoid(z3) = Yhat for sigmoid'(z3)
    assert _step(q3a, {"sigmoid'(z3)": sigma}, "sigmoid'(z3)").mistake == "activation_for_derivative"
    relu = load_key(str(DATA / "grade_relu_zero.yaml"))               # a[1] = (2, 0): ReLU'(a[1]) = (1, 0)
    relu.graded = [("ReLU'(a[1])", 1.0)]
    assert _step(relu, {"ReLU'(a[1])": [1, 1]}, "ReLU'(a[1])").mistake == "relu_prime_zero_one"


def test_a_bias_slip_alone_is_not_its_own_ecf():
    """Carrying a student's dL/db as their dL/da never makes dL/db consistent with itself."""
    key = load_key(str(P1))
    assert _step(key, {"dL/db[3]": -3}, "dL/db[3]").verdict == "wrong"


def test_new_mistakes_reach_the_gradescope_tags():
    import json

    from hwsolve.grade.report import to_gradescope

    key = load_key(str(DATA / "grade_relu_zero.yaml"))
    sub = Submission("s.yaml", "s", {"dL/db[1]": parse_value([-6, -6]), "dL/dx": parse_value([-6, -6])})
    tests = {t["name"]: t for t in json.loads(to_gradescope(key, grade(key, sub)))["tests"]}
    assert tests["dL/db[1]"]["tags"] == ["relu_prime_zero_one"]
    assert tests["dL/dx"]["tags"] == ["weight_not_transposed"]
    assert "ReLU'(0) taken as 1" in tests["dL/db[1]"]["output"]


def test_mean_where_the_batch_sums(tmp_path):
    """The reverse of mean_vs_sum: a key that sums the batch, answered with the mean (half of it
    for 2 examples), is named the same, with the direction in the detail."""
    spec = tmp_path / "sum.yaml"
    spec.write_text((ROOT / "problems" / "cs4782_p1_batch.yaml").read_text()
                    .replace("reduction: mean", "reduction: sum"))
    key = load_key(str(spec))
    half = [[x / 2 for x in row] for row in key.values["dL/dW[2]"].rows]
    step = _step(key, {"dL/dW[2]": [[str(x) for x in row] for row in half]}, "dL/dW[2]")
    assert step.mistake == "mean_vs_sum" and "averaged over the 2 examples where the sum is due" in step.reason


# -- kink conventions through `hwsolve grade` -------------------------------------------------------
# grade_relu_zero.yaml: a[1] = W[1] x = (2, 0), z[1] = f(a[1]) = (2, 0) for ReLU, LeakyReLU and abs,
# yhat = 2, dL/dyhat = 2 (2 - 5) = -6, dL/dz[1] = W[2]^T (-6) = (-6, -6), dL/db[1] = (-6 f'(2), -6 f'(0)).
KINKS = [
    # (activation, relu_prime_at_zero, f'(0) of the key, the student's f'(0), mistake)
    ("relu", "1", 1, 0, "relu_prime_one_zero"),
    ("relu", None, 0, 1, "relu_prime_zero_one"),
    ("leaky_relu", None, Fraction(1, 100), 1, "kink_other_side"),        # the slope, taken as the right side's 1
    ("leaky_relu:0.2", "1", 1, Fraction(1, 5), "kink_other_side"),       # the key takes 1: the left side's slope
    ("elu:0.5", None, Fraction(1, 2), 1, "kink_other_side"),              # ELU'(0) = alpha by convention
    ("abs", None, 0, 1, "kink_other_side"),                               # abs'(0) = sign(0) = 0; x > 0 gives 1
    ("abs", None, 0, -1, "kink_other_side"),                              # ... x < 0 gives -1
]


@pytest.mark.parametrize("activation, convention, key_d0, student_d0, mistake", KINKS)
def test_kink_slips_through_hwsolve_grade(tmp_path, activation, convention, key_d0, student_d0, mistake):
    import json

    import yaml
    from click.testing import CliRunner

    from hwsolve.cli import main

    text = (DATA / "grade_relu_zero.yaml").read_text().replace("  - relu\n", f"  - {activation}\n")
    if convention:
        text += f"conventions: {{relu_prime_at_zero: {convention}}}\n"
    spec = tmp_path / "key.yaml"
    spec.write_text(text)
    assert load_key(str(spec)).values["dL/db[1]"].rows == ((-6,), (-6 * key_d0,))
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "right.yaml").write_text(yaml.safe_dump({"dL/db[1]": [-6, str(-6 * key_d0)]}))
    (subs / "slip.yaml").write_text(yaml.safe_dump({"dL/db[1]": [-6, str(-6 * student_d0)]}))
    out = tmp_path / "grades.json"
    res = CliRunner().invoke(main, ["grade", str(spec), str(subs), "--json", str(out), "--brief"])
    assert res.exit_code == 0, res.output
    steps = {s["student"]: {t["name"]: t for t in s["steps"]}["dL/db[1]"]
             for s in json.loads(out.read_text())["submissions"]}
    assert steps["right"]["verdict"] == "correct" and not steps["right"]["mistake"]
    assert steps["slip"]["verdict"] == "wrong" and steps["slip"]["mistake"] == mistake, steps["slip"]["reason"]
    assert f"'(0) taken as {float(student_d0):g}" in steps["slip"]["reason"]


def test_a_kink_slip_on_the_students_own_values():
    """LeakyReLU network, a[1] = (0, 3) written (the key's is (2, 0)): z[1] = (0, 3), yhat = 3, dL/dz[1] =
    2 (3 - 5) (1, 1) = (-4, -4), so dL/db[1] = (-4/100, -4) is ECF and (-4, -4) the kink taken from the
    right on their own values (at the key's values the slip gives (-6, -6))."""
    key = _kink("leaky_relu")()
    assert _step(key, {"a[1]": [0, 3], "dL/db[1]": ["-0.04", -4]}, "dL/db[1]").verdict == "ecf"
    step = _step(key, {"a[1]": [0, 3], "dL/db[1]": [-4, -4]}, "dL/db[1]")
    assert step.mistake == "kink_other_side" and "your own earlier values" in step.reason, step.reason


def test_the_docs_list_every_mistake_the_table_holds():
    """docs/grading.md's table of mistakes is the grader's table: the same keys in the same order
    (the first that reproduces a value names it), with the titles students see and the default credits."""
    text = (ROOT / "docs" / "grading.md").read_text()
    section = text[text.index("\n## Mistakes"):]
    section = section[:section.index("\n## ", 1)]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| `")]
    documented = [(cells[0].strip("`"), cells[1], float(cells[-1])) for cells in rows]
    assert documented == [(m.key, m.title, m.credit) for m in mistakes()]


# -- min/max's other branch at the student's own values, and in combination (seed 004 Q3b) -------------


def _q3b_by_hand() -> dict[str, dict[str, float]]:
    """Seed 004 Q3b's graph computed here with plain floats, for the two hand-made answer files."""
    import math

    X1, X2, X3, W1, B1, W2, Y = 2, -1, 1, 1.5, 1, -3, 1
    H1, H2 = W1 * (X1 + X2), X1 * X2 * X3 + B1
    Q = H2 / H1
    H3 = min(X1, H1)                       # takes H1 = 1.5
    # a: H4 = 1 written (the key's W2 Q = 2), so max(H4, H1) takes H1; its gradient sent to H4 anyway
    H5 = max(1, H1)
    Yhat = 1 / (1 + math.exp(-(H3 - H5)))
    dR = Yhat - Y                          # sigmoid + BCE
    dH4 = -dR                              # dL/dH5 = -dL/dR, sent to H4
    a = {"H4": 1, "H5": H5, "Yhat": Yhat, "dL/dH4": dH4, "dL/dW2": dH4 * Q, "dL/dB1": dH4 * W2 / H1,
         "dL/dH1": dR + dH4 * W2 * (-H2 / H1 ** 2)}
    # b: the key's values; min's gradient sent to X1, so dL/dH1 lacks its path through H3
    dR = 1 / (1 + math.exp(-(H3 - W2 * Q))) - Y
    dQ = -dR * W2                          # max takes H4 = W2 Q = 2
    dH1, dH2 = dQ * (-H2 / H1 ** 2), dQ / H1
    b = {"dL/dH1": dH1, "dL/dW1": dH1 * (X1 + X2), "dL/dX2": W1 * dH1 + X1 * X3 * dH2,
         "dL/dX1": dR + W1 * dH1 + X2 * X3 * dH2}
    return {"a": a, "b": b}


def test_other_branch_at_the_students_own_values_and_in_combination(tmp_path):
    """Through `hwsolve grade` on two hand-made answer files: (a) error carried forward, then the
    other branch of max at the student's own values, then error carried forward from that; (b) the
    other branch of min at the key's values, then error carried forward from it."""
    import json

    from click.testing import CliRunner

    from hwsolve.cli import main
    from hwsolve.grade.answers import load_submission

    by_hand = _q3b_by_hand()
    files = {part: DATA / f"seed004_q3b_other_branch_{part}.yaml" for part in ("a", "b")}
    for part, path in files.items():       # the files hold what the comments say, to the figures written
        for name, ans in load_submission(path).answers.items():
            x = float(ans.value.rows[0][0])
            assert abs(x - by_hand[part][name]) <= 5e-4 * max(1, abs(x)), (part, name, x)
    out = tmp_path / "grades.json"
    res = CliRunner().invoke(main, ["grade", str(ROOT / "problems" / "csci5922_q3b.yaml"), *map(str, files.values()),
                                    "--json", str(out), "--brief"])
    assert res.exit_code == 0, res.output
    subs = {s["student"]: {t["name"]: t for t in s["steps"]} for s in json.loads(out.read_text())["submissions"]}
    a, b = subs["ecf_then_other_branch"], subs["other_branch_then_ecf"]
    assert a["H4"]["verdict"] == "wrong" and not a["H4"]["mistake"]
    for name in ("H5", "Yhat"):
        assert a[name]["verdict"] == "ecf", (name, a[name]["reason"])
    for name in ("dL/dH4", "dL/dH1"):
        assert a[name]["mistake"] == "other_branch", (name, a[name]["reason"])
        assert "at H5: max's gradient sent to H4" in a[name]["reason"]
        assert "your own earlier values" in a[name]["reason"]
    for name in ("dL/dW2", "dL/dB1"):
        assert a[name]["verdict"] == "ecf" and "dL/dH4" in a[name]["ecf_from"], (name, a[name]["reason"])
    assert b["dL/dH1"]["mistake"] == "other_branch" and "at H3: min's gradient sent to X1" in b["dL/dH1"]["reason"]
    assert "own earlier values" not in b["dL/dH1"]["reason"]
    for name in ("dL/dW1", "dL/dX2"):
        assert b[name]["verdict"] == "ecf" and b[name]["ecf_from"] == ["dL/dH1"], (name, b[name]["reason"])
    assert b["dL/dX1"]["mistake"] == "other_branch"
