"""How figures look to people: one module, one precision per kind of figure, binary sizes."""

import pytest

from edgewise.runtime import formatting as fmt

pytestmark = pytest.mark.runtime_only


def test_percentages_ratios_and_milliseconds():
    assert fmt.pct(0.9294) == "92.94%"
    assert fmt.pct(0.9294, digits=1) == "92.9%"
    assert fmt.ratio(1.234) == "1.23x"
    assert fmt.ms(0.008123) == "0.008123"
    assert fmt.ms(123.456) == "123.5"


@pytest.mark.parametrize("helper", [fmt.pct, fmt.ratio, fmt.ms, fmt.sig, fmt.kib, fmt.size])
def test_a_figure_not_measured_stays_an_empty_cell(helper):
    assert helper(None) == ""
    assert helper(None, missing="n/a") == "n/a"


@pytest.mark.parametrize(
    "size_bytes, text",
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (12_595, "12.3 KiB"), (4 * 2**20, "4.0 MiB"),
     (-2048, "-2.0 KiB"), (-5, "-5 B")],
)  # fmt: skip
def test_sizes_are_binary_and_say_so(size_bytes, text):
    assert fmt.size(size_bytes) == text


def test_kib_is_a_bare_number_for_a_column_that_names_the_unit():
    assert fmt.kib(1536) == "1.5"


def test_threads_in_words():
    assert [fmt.threads(n) for n in (None, 1, 4)] == ["default threads", "1 thread", "4 threads"]


def test_markdown_table_pads_columns_and_reads_as_plain_text():
    table = fmt.markdown_table(["model", "ms"], [["int8", "0.12"], ["fp32", "1.5"]])
    assert table.splitlines() == [
        "| model | ms   |",
        "|-------|------|",
        "| int8  | 0.12 |",
        "| fp32  | 1.5  |",
    ]
