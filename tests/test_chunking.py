import itertools
import re

import pytest

from scraper.chunk.chunker import chunk_markdown
from scraper.chunk.tokens import count_tokens

SECTION = "This sentence talks about the widget and its many parts. " * 20


def _doc() -> str:
    return (
        "# Guide\n\nIntro text for the guide.\n\n"
        f"## Install\n\n{SECTION}\n\n- step one\n- step two\n\n"
        f"## Configure\n\n{SECTION}\n\n| key | value |\n|---|---|\n| a | 1 |\n\n"
        f"## Run\n\n{SECTION * 3}"
    )


def test_chunks_are_exact_slices_within_size():
    md = _doc()
    chunks = chunk_markdown(md, size=150, overlap=20)
    assert len(chunks) > 3
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert chunk.text == md[chunk.start : chunk.end]
        assert chunk.tokens == count_tokens(chunk.text) <= 150
    assert chunks[0].start == 0
    assert chunks[-1].end == len(md)


def test_chunks_cover_everything_in_order():
    md = _doc()
    chunks = chunk_markdown(md, size=120, overlap=15)
    for before, after in itertools.pairwise(chunks):
        assert after.start <= before.end  # no gap
        assert after.start > before.start  # progress
        assert after.end > before.end


def test_overlap_repeats_the_previous_tail_within_budget():
    md = SECTION * 10
    chunks = chunk_markdown(md, size=100, overlap=25)
    overlaps = [b.end - a.start for b, a in itertools.pairwise(chunks)]
    assert all(o > 0 for o in overlaps)
    for before, after in itertools.pairwise(chunks):
        assert count_tokens(md[after.start : before.end]) <= 25


def test_never_cuts_inside_a_word():
    md = " ".join(f"word{i}" for i in range(3000))
    for chunk in chunk_markdown(md, size=64, overlap=8):
        assert chunk.start == 0 or md[chunk.start - 1].isspace()
        assert chunk.end == len(md) or md[chunk.end].isspace() or md[chunk.end - 1].isspace()


def test_sections_start_new_chunks_at_headings():
    md = _doc()
    chunks = chunk_markdown(md, size=300, overlap=30)
    heading_starts = [c for c in chunks if re.match(r"#{1,6} ", c.text)]
    # Every section large enough to half-fill a chunk starts one, without overlap.
    assert {c.text.split("\n", 1)[0] for c in heading_starts} >= {"## Configure", "## Run"}


def test_unbreakable_run_is_cut_at_token_boundaries():
    md = "intro words here\n\n" + "x" * 6000
    chunks = chunk_markdown(md, size=100, overlap=10)
    assert max(c.tokens for c in chunks) <= 100
    assert "".join(c.text for c in chunks).count("x") >= 6000


def test_empty_and_small_inputs():
    assert chunk_markdown("") == []
    assert chunk_markdown(" \n\n ") == []
    [only] = chunk_markdown("Just one line.")
    assert (only.text, only.start, only.end) == ("Just one line.", 0, 14)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_bad_sizes_raise(size, overlap):
    with pytest.raises(ValueError):
        chunk_markdown("text", size=size, overlap=overlap)


def test_counts_cl100k_too():
    md = SECTION * 5
    chunks = chunk_markdown(md, size=50, overlap=5, encoding="cl100k_base")
    assert all(c.tokens == count_tokens(c.text, "cl100k_base") <= 50 for c in chunks)
