"""Batches, training steps and optimizers (issue 11), checked against independent methods:
central finite differences over the batch loss, the one-example solver summed by hand, and a
plain-numpy implementation of each optimizer written from its paper's equations."""

import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsolve import topics
from hwsolve.cli import main
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics.backprop.solve import compile_problem

from conftest import PROBLEMS

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def solve_text(text: str):
    doc = load_yaml_text(text)
    kind = topics.kind_of(doc)
    return topics.solve(topics.parse(doc, kind), kind)


def values(sol) -> dict:
    return {s.name: s.value for s in sol.steps}


def run(args):
    return CliRunner().invoke(main, [str(a) for a in args])


# --- batches ---------------------------------------------------------------------------------


def test_seed000_p1_batch_of_two_pins_the_mean_of_the_two_examples():
    out = run(["backprop", PROBLEMS / "cs4782_p1_batch.yaml", "--format", "json"])
    assert out.exit_code == 0, out.output
    steps = {s["name"]: s["value"] for s in json.loads(out.output)["steps"]}
    # example 1 is the sheet's (yhat = 8, dL/dW[3] = [[-152, -88]]); example 2 gives yhat = 20,
    # dL/dW[3] = 8 [17, 12]; the mean of the two:
    assert steps["yhat"] == [[8, 20]]
    assert steps["L"] == 10
    assert steps["dL/dW[3]"] == [[-8, 4]] and steps["dL/db[3]"] == 2
    # the per-example view: example 1 alone is the sheet's one-example key
    assert steps["yhat (example 1)"] == 8 and steps["dL/dW[3] (example 1)"] == [[-152, -88]]
    assert steps["dL/dW[3] (example 2)"] == [[136, 96]]
    text = run(["backprop", PROBLEMS / "cs4782_p1_batch.yaml"]).output
    assert "1/2 * sum_j" in text and "MEAN over the 2 examples" in text


def _net_text(X, Y, W1, b1, W2, b2, batch, reduction, act="tanh"):
    rows = X if batch == "rows" else [list(c) for c in zip(*X, strict=True)]
    ys = Y if batch == "rows" else [list(c) for c in zip(*Y, strict=True)]
    return (f"kind: network\nbatch: {batch}\nreduction: {reduction}\ninput: {rows}\ntarget: {ys}\n"
            f"layers:\n  - linear: {{W: {W1}, b: {b1}}}\n  - {act}\n  - linear: {{W: {W2}, b: {b2}}}\n"
            "loss: squared_error\n")


small = st.integers(-3, 3)


@st.composite
def batch_cases(draw):
    n, d, h, k = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    mat = lambda r, c: [[draw(small) for _ in range(c)] for _ in range(r)]  # noqa: E731
    X, Y = mat(n, d), mat(n, k)     # one example per row
    return X, Y, mat(h, d), [draw(small) for _ in range(h)], mat(k, h), [draw(small) for _ in range(k)], \
        draw(st.sampled_from(["rows", "columns"])), draw(st.sampled_from(["mean", "sum"]))


def _loss_at(c, node, base, idx, delta) -> float:
    v = base.copy()
    v[idx] += delta
    node.value = v
    c.graph.forward()
    return float(c.loss.value[0, 0])


@SETTINGS
@given(batch_cases())
def test_batch_gradients_match_central_differences_of_the_batch_loss(case):
    X, Y, W1, b1, W2, b2, batch, reduction = case
    doc = load_yaml_text(_net_text(X, Y, W1, b1, W2, b2, batch, reduction))
    c = compile_problem(topics.parse(doc, "network"))
    c.graph.forward()
    grads = c.graph.gradients(c.loss)
    h = 1e-6
    for node in (n for n in c.graph.nodes if n.kind == "param"):
        base = node.value.astype(float)
        for idx in np.ndindex(base.shape):
            fd = (_loss_at(c, node, base, idx, h) - _loss_at(c, node, base, idx, -h)) / (2 * h)
            assert float(grads[node][idx]) == pytest.approx(fd, rel=1e-5, abs=1e-6)
        node.value = base


@SETTINGS
@given(batch_cases())
def test_batch_gradient_is_the_reduced_sum_of_one_example_gradients(case):
    """Independent of the batch rules: the one-example solver on each row, summed (and / n)."""
    X, Y, W1, b1, W2, b2, batch, reduction = case
    sol = values(solve_text(_net_text(X, Y, W1, b1, W2, b2, batch, reduction, act="relu")))
    total: dict = {}
    for x, y in zip(X, Y, strict=True):
        one = values(solve_text(_net_text([x], [y], W1, b1, W2, b2, "rows", "sum", act="relu")))
        for name in ("dL/dW[1]", "dL/db[1]", "dL/dW[2]", "dL/db[2]", "L"):
            total[name] = total.get(name, 0) + np.array(one[name], dtype=object)
    factor = Fraction(1, len(X)) if reduction == "mean" else 1
    for name, v in total.items():
        assert (np.array(sol[name], dtype=object) == v * factor).all(), name


def test_batch_reduction_sum_is_n_times_mean():
    X, Y = [[2, 1], [1, 1]], [[10], [16]]
    args = (X, Y, [[1, 0], [3, 4]], [0, 1], [[1, -1]], [2], "rows")
    mean = values(solve_text(_net_text(*args, "mean", act="relu")))
    total = values(solve_text(_net_text(*args, "sum", act="relu")))
    assert total["L"] == 2 * mean["L"] and isinstance(mean["L"], (int, Fraction))


# --- optimizers against the papers' equations ---------------------------------------------------


def reference(kind, w0, grad, steps, lr, mu=0.9, b1=0.9, b2=0.999, rho=0.99, eps=1e-8, wd=0.0,
              decoupled=False, convention="sheet"):
    """Plain numpy, written from the equations (Adam: Kingma and Ba 2015, Algorithm 1;
    AdamW: Loshchilov and Hutter 2019, Algorithm 2 with schedule multiplier 1)."""
    w = np.array(w0, dtype=float)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    out = []
    for t in range(1, steps + 1):
        g = grad(w + mu * m) if kind == "nesterov" and convention == "sheet" else grad(w)
        if wd and not decoupled:
            g = g + wd * w
        if kind == "sgd":
            new = w - lr * g
        elif kind == "momentum" or (kind == "nesterov" and convention == "sheet"):
            if convention == "sheet":
                m = mu * m - lr * g
                new = w + m
            else:
                v = mu * v + g
                new = w - lr * v
        elif kind == "nesterov":
            v = mu * v + g
            new = w - lr * (g + mu * v)
        elif kind == "adagrad":
            v = v + g ** 2
            new = w - lr * g / (np.sqrt(v) + eps)
        elif kind == "rmsprop":
            v = rho * v + (1 - rho) * g ** 2
            new = w - lr * g / (np.sqrt(v) + eps)
        else:
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g ** 2
            mhat = m / (1 - b1 ** t)
            vhat = v / (1 - b2 ** t)
            new = w - lr * mhat / (np.sqrt(vhat) + eps)
        if wd and decoupled:
            new = new - lr * wd * w
        w = new
        out.append(w.copy())
    return out


KINDS = [("sgd", "sheet"), ("momentum", "sheet"), ("momentum", "pytorch"), ("nesterov", "sheet"),
         ("nesterov", "pytorch"), ("adagrad", "sheet"), ("rmsprop", "sheet"), ("adam", "sheet")]


@SETTINGS
@given(st.sampled_from(KINDS), st.lists(st.integers(-5, 5), min_size=2, max_size=2),
       st.lists(st.integers(1, 4), min_size=2, max_size=2), st.integers(1, 4),
       st.sampled_from(["1/10", "1/100", "1/2"]), st.sampled_from([0, "1/10"]), st.booleans())
def test_each_optimizer_matches_the_papers_equations(kc, w0, a, steps, lr, wd, decoupled):
    kind, convention = kc
    settings_ = {"sgd": "", "momentum": f", momentum: 1/2, convention: {convention}",
                 "nesterov": f", momentum: 1/2, convention: {convention}", "adagrad": "",
                 "rmsprop": ", rho: 9/10", "adam": ", beta1: 9/10, beta2: 99/100"}[kind]
    text = (f"kind: train\nobjective: {{params: {{w1: {w0[0]}, w2: {w0[1]}}}, "
            f"f: '{a[0]}*w1^2 + {a[1]}*w2^2 + w1*w2'}}\n"
            f"optimizer: {{type: {kind}, lr: {lr}, weight_decay: {wd}, decoupled: {str(decoupled).lower()}"
            f"{settings_}}}\nsteps: {steps}\n")
    sol = values(solve_text(text))
    A = np.array([[2 * a[0], 1], [1, 2 * a[1]]], dtype=float)
    ref = reference(kind, w0, lambda w: A @ w, steps, float(Fraction(lr)), mu=0.5, b1=0.9, b2=0.99, rho=0.9,
                    wd=float(Fraction(wd)), decoupled=decoupled, convention=convention)
    for t, w in enumerate(ref, start=1):
        got = [float(sol[f"w1[t={t}]"]), float(sol[f"w2[t={t}]"])]
        assert got == pytest.approx(list(w), rel=1e-9, abs=1e-9)


def test_sgd_and_momentum_stay_exact_on_rational_inputs():
    for kind in ("sgd", "momentum"):
        sol = solve_text("kind: train\nobjective: {params: {w: 3}, f: 'w^2 / 3'}\n"
                         f"optimizer: {{type: {kind}, lr: 1/4}}\nsteps: 3\n")
        assert all(s.exact for s in sol.steps if s.value is not None), kind
    sol = values(solve_text("kind: train\nobjective: {params: {w: 3}, f: 'w^2'}\n"
                            "optimizer: {type: sgd, lr: 1/4}\nsteps: 2\n"))
    assert sol["w[t=1]"] == Fraction(3, 2) and sol["w[t=2]"] == Fraction(3, 4) and sol["f[t=2]"] == Fraction(9, 16)


def test_adam_states_are_exact_and_only_the_weights_pass_through_a_float_root():
    sol = solve_text((PROBLEMS / "adam_quadratic.yaml").read_text())
    v = values(sol)
    assert v["m(w1)[t=1]"] == Fraction(1, 5) and v["v(w1)[t=1]"] == Fraction(1, 250)
    assert v["mhat(w1)[t=1]"] == 2 and v["vhat(w1)[t=1]"] == 4            # bias correction: g and g^2
    assert v["w1[t=1]"] == pytest.approx(1 - 0.1 * 2 / (2 + 1e-8), rel=1e-12)
    assert any("down" in n for n in sol.notes)


def test_momentum_on_seed000_p1_says_the_conventions_agree_and_the_loss_trend():
    sol = topics.load_and_solve(str(PROBLEMS / "cs4782_p1_momentum.yaml"))[1]
    v = values(sol)
    # step 1 from rest: m = -alpha g, so W[3][t=1] = W[3] - dL/dW[3] / 10000 (the one-example key)
    assert v["g(W[3])[t=1]"] == ((-152, -88),)
    assert v["m(W[3])[t=1]"] == ((Fraction(152, 10000), Fraction(88, 10000)),)
    assert v["L[t=0]"] == 4
    assert any("agree at every step" in n for n in sol.notes)


def test_one_training_step_prints_the_forward_pass_after_and_says_up_when_the_rate_is_too_large():
    text = (f"kind: train\nmodel: {{file: {PROBLEMS / 'cs4782_p1.yaml'}}}\n"
            "optimizer: {type: sgd, lr: 1/100}\nsteps: 1\n")
    doc = load_yaml_text(text, file=str(PROBLEMS / "x.yaml"))
    with pytest.raises(Exception, match="inside this spec's folder"):
        topics.parse(doc, "train")
    doc = load_yaml_text(text.replace(str(PROBLEMS / "cs4782_p1.yaml"), "cs4782_p1.yaml"),
                         file=str(PROBLEMS / "x.yaml"))
    sol = topics.solve(topics.parse(doc, "train"), "train")
    v = values(sol)
    assert v["dL/dW[3]"] == ((-152, -88),)          # the backward pass of step 1
    assert v["W[3][t=1]"] == ((Fraction(-2) + Fraction(152, 100), 3 + Fraction(88, 100)),)
    assert "yhat[t=1]" in v and v["L[t=1]"] != 4
    assert any("UP" in n for n in sol.notes)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("text, field", [
    ("kind: network\nbatch: rows\ninput: [[1, 2], [3]]\ntarget: [1, 2]\n"
     "layers: [{linear: {W: [[1, 1]], b: [0]}}]\nloss: squared_error\n", "input"),
    ("kind: train\nobjective: {params: {w: 1}, f: 'w^2'}\noptimizer: {type: sgd, lr: -1/10}\n", "optimizer.lr"),
    ("kind: train\nobjective: {params: {w: 1}, f: 'w^2'}\noptimizer: {type: adam, lr: 1, beta1: 1}\n",
     "optimizer.beta1"),
    ("kind: train\nobjective: {params: {w: 1}, f: 'w^2'}\noptimizer: {type: rmsprop, lr: 1, rho: -1/2}\n",
     "optimizer.rho"),
    ("kind: train\nobjective: {params: {w: 1}, f: 'w^2'}\noptimizer: {type: sgd, lr: 1, beta1: 1/2}\n",
     "optimizer.beta1"),
])
def test_bad_input_is_one_line_with_the_field_and_exit_2(text, field, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = run(["solve", path])
    assert out.exit_code == 2
    assert out.output.count("\n") == 1 and str(path) in out.output and field in out.output


def test_weights_whose_exact_digits_run_away_go_on_in_float64_with_a_note(tmp_path):
    """1,000 SGD steps with 30-digit decimals (an exponential schedule of gamma 0.9876...): the exact
    weights gain the schedule's digits every step and the run ran into the 60 s budget (a helper
    review). Past about 600 digits they continue in float64; the values match a plain float loop."""
    from fractions import Fraction

    from hwsolve.spec.loader import load_yaml_text
    from hwsolve.topics import parse
    from hwsolve.topics.train.solve import solve as solve_train

    w1, w2 = "0.123456789012345678901234567891", "-2.98765432109876543210987654321"
    gamma = "0.987654321098765432109876543210"
    text = (f"hwsolve: 1\nkind: train\nobjective: {{params: {{w1: {w1}, w2: {w2}}}, f: 'w1^2 + 10*w2^2 + w1*w2'}}\n"
            f"optimizer: {{type: sgd, lr: 0.01, schedule: {{type: exponential, gamma: {gamma}}}}}\nsteps: 300\n")
    sol = solve_train(parse(load_yaml_text(text, "t.yaml")))
    assert any("computed in float64" in n for n in sol.notes)
    a, b, lr = float(Fraction(w1)), float(Fraction(w2)), 0.01
    for _ in range(300):
        a, b = a - lr * (2 * a + b), b - lr * (20 * b + a)
        lr *= float(Fraction(gamma))
    got = sol.by_name()
    assert abs(float(got["w1[t=300]"].value) - a) <= 1e-9 * abs(a)
    assert abs(float(got["w2[t=300]"].value) - b) <= 1e-9 * abs(b) + 1e-300
