"""render/plaintext's line breaks found a line at a time against rich's word-by-word algorithm
(tests/test_plaintext.py compares both with rich itself)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from hwsolve.render.plaintext import _divide_at_line_ends, _divide_line, _divide_word_by_word


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab  xyz0 ", min_size=1, max_size=120), st.integers(1, 40))
def test_breaks_at_line_ends_are_rich_breaks(text, width):
    fast = _divide_at_line_ends(text, width)
    if fast is not None:
        assert fast == _divide_word_by_word(text, width)
    if len(text) > width:
        assert _divide_line(text, width) == _divide_word_by_word(text, width)


def test_a_long_derivation_breaks_a_line_at_a_time():
    text = "= [" + ", ".join(f"{i / 4:g}" for i in range(-400, 400)) + "]"
    assert _divide_at_line_ends(text, 80) == _divide_word_by_word(text, 80) != []
