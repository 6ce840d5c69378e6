"""The demo's marketplace reads the Olist sellers from MERX_SHARED_DATA when it is set (as the
tests and benchmarks do): from a git worktree there is no `../shared` beside the checkout, and
the demo then had no marketplace sellers at all."""

from __future__ import annotations

from merx.sellers import demo


def test_the_shared_data_setting_locates_the_olist_sellers(tmp_path, monkeypatch) -> None:
    (tmp_path / "olist_sellers.csv").write_text("seller_id,seller_zip_code_prefix,seller_city,seller_state\n"
                                                "abc123,01001,sao paulo,SP\n", encoding="utf-8")
    monkeypatch.setenv("MERX_SHARED_DATA", str(tmp_path))
    assert demo.olist_path() == tmp_path / "olist_sellers.csv"
    assert demo._olist_rows(5) == [{"seller_id": "abc123", "seller_zip_code_prefix": "01001",
                                    "seller_city": "sao paulo", "seller_state": "SP"}]

