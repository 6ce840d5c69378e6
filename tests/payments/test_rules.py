"""The notification rules, without a database: replays and out-of-order notifications never
count money twice, and a status only moves forward."""

from merx.payments.rules import Figures, apply


def start(status: str = "action_required") -> Figures:
    return Figures(status, 10_000, 0, 0, 0)


def test_authorized_then_captured_in_order():
    f, stale = apply(start(), "authorized", 10_000)
    assert stale is None and f.status == "authorized" and f.authorized == 10_000
    f, stale = apply(f, "captured", 10_000)
    assert stale is None and (f.status, f.captured) == ("captured", 10_000)


def test_capture_before_its_authorisation_then_the_late_authorisation_is_stale():
    f, _ = apply(start(), "captured", 10_000)
    assert (f.status, f.authorized, f.captured) == ("captured", 10_000, 10_000)
    g, stale = apply(f, "authorized", 10_000)
    assert g == f and stale


def test_the_same_capture_total_twice_counts_once():
    f, _ = apply(start("authorized"), "captured", 4_000)
    g, stale = apply(f, "captured", 4_000)
    assert g == f and stale == "capture already counted"


def test_a_decline_after_an_authorisation_is_stale():
    f, _ = apply(start(), "authorized", 10_000)
    g, stale = apply(f, "declined", None)
    assert g == f and stale


def test_partial_then_full_refund():
    f = Figures("captured", 10_000, 10_000, 10_000, 0)
    f, _ = apply(f, "refunded", 2_500)
    assert (f.status, f.refunded) == ("partially_refunded", 2_500)
    g, stale = apply(f, "refunded", 2_500)
    assert g == f and stale
    f, _ = apply(f, "refunded", 10_000)
    assert f.status == "refunded"


def test_nothing_moves_a_voided_payment():
    f, _ = apply(start("authorized"), "voided", None)
    for kind in ("authorized", "captured", "declined"):
        g, stale = apply(f, kind, 10_000)
        assert g == f and stale
