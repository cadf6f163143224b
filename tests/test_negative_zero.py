"""Negative zero never prints: a float ReLU's gradient (-1.5 * 0.0 is -0.0) is 0 in every format.

Fixed at the number formatters (numfmt.fmt_float, numfmt.json_number and json_out's fast path for
float arrays), so every renderer that goes through them is covered.
"""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np

from hwsolve.core.numfmt import fmt_float, fmt_number, json_number
from hwsolve.render import json_out, latex, markdown
from hwsolve.spec.loader import load_yaml_text
from hwsolve.topics import parse
from hwsolve.topics.backprop.solve import solve

# tanh makes the values floats; the second ReLU's units are both dead (a = -0.299, -5.094), so their
# gradients are negative numbers times 0.0: -0.0 in IEEE arithmetic
DEAD_RELU = textwrap.dedent("""\
    hwsolve: 1
    kind: network
    input: [0.5, -1.5]
    layers:
      - {type: linear, W: [[1.5, 0.5], [-1, 2]], b: [0.1, 0.2]}
      - tanh
      - {type: linear, W: [[1, 0.5], [-1, 2]], b: [0.1, -3]}
      - relu
      - {type: linear, W: [[-2.5, 1.5]], b: [0.3]}
    target: 2.5
    loss: half_squared_error
    """)


def _numbers(v):
    if isinstance(v, list):
        for x in v:
            yield from _numbers(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from _numbers(x)
    elif isinstance(v, float):
        yield v


def test_the_formatters_print_negative_zero_as_zero():
    for x in (-0.0, np.float64(-0.0), -1e-30 * 0):
        assert fmt_float(float(x)) == fmt_number(x) == "0"
        assert math.copysign(1, json_number(x)) == 1 and json_number(x) == 0
    assert json.dumps(json_number(-0.0)) == "0.0"
    assert json_number(-2.5) == -2.5 and fmt_float(-1e-9) == "-1e-9"   # only zero changes


def test_a_dead_float_relu_prints_zero_not_minus_zero_in_every_format():
    sol = solve(parse(load_yaml_text(DEAD_RELU, "dead.yaml")))
    raw = [x for s in sol.steps for x in np.ravel(np.array(s.value, dtype=object))
           if isinstance(x, float) and x == 0]
    assert any(math.copysign(1, x) < 0 for x in raw)   # the engine does make -0.0 ...
    data = json.loads(json_out.render(sol, 4))
    zeros = [x for x in _numbers(data) if x == 0]
    assert zeros and all(math.copysign(1, x) == 1 for x in zeros)   # ... and no format shows it
    assert "-0.0" not in json_out.render(sol, 4)
    for text in (markdown.render(sol, 4), latex.render(sol, 4)):
        assert "-0 " not in text and "-0," not in text and "-0]" not in text and "{-0}" not in text
