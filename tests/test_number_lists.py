"""Long one-line number lists read before YAML (spec/number_lists.py): the same document, the same
lines and the same errors as the ordinary event path, wherever the list sits."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsolve.core.errors import SpecError
from hwsolve.spec import loader, number_lists
from hwsolve.spec.loader import load_yaml_text


def _ordinary(text: str):
    """The document as the loader reads it without the cut (and without its list fast path)."""
    original = loader._Builder.list_numbers
    loader._Builder.list_numbers = lambda self, parser, event, top: event
    try:
        return loader._load(text, "<string>", loader.MAX_NODES)
    finally:
        loader._Builder.list_numbers = original


@pytest.fixture
def short_lists(monkeypatch):
    """Every list of two or more numbers is cut, so that small texts exercise the cut; returns
    the list of placeholder maps the loader was handed (empty when it fell back)."""
    taken: list[dict] = []
    real_load = loader._load

    def spy(text, file, max_nodes, lists=None):
        doc = real_load(text, file, max_nodes, lists)
        if lists:
            taken.append(lists)
        return doc

    monkeypatch.setattr(loader.number_lists, "shorten", functools.partial(number_lists.shorten, min_numbers=2))
    monkeypatch.setattr(loader, "_load", spy)
    return taken


def _paths(v, path=()):
    yield path
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        yield from _paths(x, path + (k,))


def _same_as_ordinary(text: str) -> None:
    try:
        want = _ordinary(text)
    except SpecError as e:
        with pytest.raises(SpecError) as got:
            load_yaml_text(text)
        assert str(got.value) == str(e)
        return
    got = load_yaml_text(text)
    assert repr(got.data) == repr(want.data)  # the same values and types (Fraction, int, str)
    for p in _paths(want.data):
        assert loader.Field(got, p).line == loader.Field(want, p).line, p


CASES = {
    "matrix": "W: [[0.25, -3, 1], [2.5, 0, -0.125]]\nb: [1, 2]\nloss: mse\n",
    "block list of rows": "W:\n  - [0.5, 1.5]\n  - [2, -1]\nx: 3\n",
    "flow mapping": "layer: {W: [1, 2, 3], b: [0.5, 0.5]}\n",
    "anchor and alias": "a: &w [1, 2, 3]\nb: *w\nc: [*w, *w]\n",
    "in a double-quoted string": 'title: "see [1, 2, 3]"\nW: [4, 5]\n',
    "in a single-quoted string": "title: '[1, 2, 3]'\nW: [4, 5]\n",
    "in a comment": "W: [4, 5]  # was [1, 2, 3]\n",
    "in a block scalar": "note: |\n  [1, 2, 3]\nW: [4, 5]\n",
    "in a plain scalar": "title: weights[1, 2] here\nW: [4, 5]\n",
    "as a key": "? [1, 2]\n: x\n",
    "as a flow key": "{[1, 2]: x}\n",
    "under a tag": "W: !!seq [1, 2]\n",
    "under a str tag": "W: !!str [1, 2]\n",
    "not all plain numbers": "W: [1, 2., 0x1f, 012, .5, 1e3, 1_000, +3, -0]\n",
    "too big for the int path": "W: [1, 99999999999999999999999]\n",
    "trailing comma": "W: [1, 2,]\n",
    "empty entry": "W: [1, , 2]\n",
    "broken YAML after": "W: [1, 2]\nb: [3, 4\n",
    "wrapped over lines": "W: [1, 2,\n    3, 4]\nb: 2\n",
    "duplicate key": "W: [1, 2]\nW: [3, 4]\n",
    "two documents": "W: [1, 2]\n---\nW: [3, 4]\n",
    "top level": "[1, 2, 3]\n",
    "the placeholder spelled": 'W: [1, 2]\nt: "hwsolve-numbers-0-0"\n',
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_cut_lists_read_as_the_ordinary_path_reads_them(short_lists, text):
    _same_as_ordinary(text)


def test_plain_lists_take_the_cut(short_lists):
    doc = load_yaml_text("W: [[0.25, -3], [2.5, 0]]\nb: &b [1, 2]\nc: *b\n")
    assert len(short_lists) == 1 and len(short_lists[0]) == 3
    assert doc.data["c"] is doc.data["b"]  # an alias shares its anchor's value, as yaml.safe_load does


def test_a_list_inside_a_string_falls_back(short_lists):
    doc = load_yaml_text('title: "[1, 2]"\n')
    assert doc.data == {"title": "[1, 2]"} and short_lists == []


def test_the_node_budget_counts_cut_lists():
    text = "a: [" + ", ".join(["0.5"] * 100) + "]\nb: *x\n"
    with pytest.raises(SpecError, match="too many values"):
        loader.load_yaml_text("a: [" + ", ".join(["0.5"] * 100) + "]\n", max_nodes=90)
    with pytest.raises(SpecError, match=r"<string>:2: b: alias"):
        loader.load_yaml_text(text)  # the alias error of the original text, on its line


def test_an_alias_bomb_of_cut_lists_stops_at_the_budget():
    row = "[" + ", ".join(["1"] * 100) + "]"
    text = f"a: &a {row}\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    with pytest.raises(SpecError, match="too many values"):
        loader.load_yaml_text(text, max_nodes=5_000)


_NUMBER = st.one_of(st.integers(-10**6, 10**6).map(str),
                    st.tuples(st.integers(-99, 99), st.integers(0, 999)).map(lambda t: f"{t[0]}.{t[1]}"),
                    st.sampled_from(["-0", "0.0", "1e3", ".5", "012", "x", "'3'", "~"]))
_LIST = st.lists(_NUMBER, min_size=0, max_size=5).map(lambda xs: "[" + ", ".join(xs) + "]")
_VALUE = st.one_of(_LIST, _LIST.map(lambda s: f"&a{len(s)} {s}"), _LIST.map(lambda s: f'"{s}"'),
                   _LIST.map(lambda s: f"!!seq {s}"), st.lists(_LIST, min_size=1, max_size=3).map(
                       lambda rows: "[" + ", ".join(rows) + "]"), st.just("*a7"), _LIST.map(lambda s: f"x {s}"))
_LINE = st.tuples(st.sampled_from(["a", "b", "W", "a"]), _VALUE, st.sampled_from(["", "  # [1, 2]", " #"]))


@given(st.lists(_LINE, min_size=1, max_size=5))
def test_random_documents_read_as_the_ordinary_path_reads_them(lines):
    text = "".join(f"{key}: {value}{comment}\n" for key, value, comment in lines)
    real = number_lists.shorten
    number_lists.shorten = functools.partial(real, min_numbers=2)
    try:
        _same_as_ordinary(text)
    finally:
        number_lists.shorten = real
