"""One test per entry of the mistakes table (hwsolve/grade/mistakes.py): the wrong value a
student writes, and the name the grader gives it. A new entry without a case here fails."""

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
