"""Sales forecasting: a seasonal-naive baseline and an exponential-smoothing (ETS) model,
with a rolling-origin backtest.

Series: net revenue (major units) or net units per day or ISO week (Monday start), for the
whole shop or one product, category or location. Periods with no sales are zeros; periods
the data only partly covers (the first and last, usually) are dropped so a half week does not
look like a collapse.

Seasonal naive: the value one season earlier (season = 7 days, or 52 weeks); with less than
one season of history it is the naive forecast (the last value).

ETS: additive-error exponential smoothing in state-space form, implemented here with numpy
(statsforecast pulls in numba, too heavy for this service). Candidates: level only (ANN),
damped additive trend (AAdN) and, with at least two seasons of history, their additive-
seasonal versions (ANA, AAdA). Each is fitted by minimising the one-step squared error over
a grid of smoothing parameters (all grid points are evaluated at once, vectorised), and the
candidate with the lowest AICc is used.

Backtest: for each of `folds` origins (the last one `horizon` periods before the end, the
others `step` periods apart), both models are fitted on the history before the origin and
forecast `horizon` periods. MAPE and sMAPE (in %) average over every forecast point (MAPE
skips actual zeros); MASE is each fold's MAE divided by the in-sample MAE of the seasonal-
naive (or naive, with less than one season) one-step forecast on that fold's training data,
averaged over folds.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from merx.analytics.scope import SalesScope
from merx.core.errors import ValidationProblem
from merx.core.money import exponent

SEASON = {"day": 7, "week": 52}
LEVELS = {"total": None, "product": "sku", "category": "category", "location": "location"}


def series(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, freq: str = "week", level: str = "total",
           key: str | None = None, measure: str = "revenue", include_partial: bool = False,
           partial_out: list[dt.date] | None = None) -> tuple[list[dt.date], np.ndarray]:
    if freq not in SEASON:
        raise ValidationProblem.for_field("freq", "must be day or week")
    if level not in LEVELS:
        raise ValidationProblem.for_field("level", f"must be one of {', '.join(LEVELS)}")
    if level != "total" and not key:
        raise ValidationProblem.for_field("key", f"is required for level={level}")
    if measure not in ("revenue", "units"):
        raise ValidationProblem.for_field("measure", "must be revenue or units")
    scope = scope.resolved(con)
    where, params = scope.where()
    bounds = con.execute(f"SELECT min(occurred_at), max(occurred_at) FROM sales WHERE {where}", params).fetchall()[0]
    if bounds[0] is None:
        return [], np.zeros(0)
    first, last = bounds
    key_filter = ""
    if level != "total":
        key_filter = f" AND {LEVELS[level]} = ?"
        params = params + [key]
    value = "CAST(sum(quantity) AS DOUBLE)"
    if measure == "revenue":
        value = f"sum(line_total_minor) / {10 ** exponent(scope.currency or 'EUR')}.0"
    rows = dict(con.execute(f"""
        SELECT CAST(date_trunc('{freq}', occurred_at) AS DATE) AS p, {value}
        FROM sales WHERE {where}{key_filter} GROUP BY p
    """, params).fetchall())
    step = dt.timedelta(days=1 if freq == "day" else 7)
    # A period is complete only when the data covers it entirely: it starts at or after the
    # first line and ends at or before the last one. The first and last periods of a history
    # (a file that ends at 20:01, a shop whose today is not over) are partial and left out of
    # fitting and backtests unless asked (include_partial).
    start = _period_start(first.date(), freq)
    end = _period_start(last.date(), freq)
    partial = []
    if dt.datetime.combine(start, dt.time()) < first:
        partial.append(start)
        if not include_partial:
            start += step
    if dt.datetime.combine(end + step, dt.time()) > last:
        partial.append(end)
        if not include_partial:
            end = end - step
    if partial_out is not None:
        partial_out.extend(partial)
    dates, values = [], []
    p = start
    while p <= end:
        dates.append(p)
        values.append(float(rows.get(p, 0.0)))
        p += step
    return dates, np.array(values, dtype=float)


def _period_start(d: dt.date, freq: str) -> dt.date:
    return d if freq == "day" else d - dt.timedelta(days=d.weekday())


# -- models ---------------------------------------------------------------------------------------


def seasonal_naive(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    n = len(y)
    if n == 0:
        return np.zeros(horizon)
    if n < m:
        return np.full(horizon, y[-1])
    return np.array([y[n - m + (h % m)] for h in range(horizon)])


def naive_scale(y: np.ndarray, m: int) -> float:
    lag = m if len(y) > m else 1
    if len(y) <= lag:
        return float("nan")
    return float(np.mean(np.abs(y[lag:] - y[:-lag])))


@dataclass
class EtsFit:
    name: str
    alpha: float
    beta: float
    gamma: float
    phi: float
    m: int
    level: float
    trend: float
    season: np.ndarray
    sse: float
    aicc: float

    def forecast(self, horizon: int, n: int) -> np.ndarray:
        out = np.empty(horizon)
        damp = 0.0
        for h in range(1, horizon + 1):
            damp += self.phi ** h
            s = self.season[(n + h - 1) % self.m] if self.m > 1 else 0.0
            out[h - 1] = self.level + damp * self.trend + s
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"model": f"ETS({self.name})", "alpha": self.alpha, "beta": self.beta, "gamma": self.gamma,
                "phi": self.phi, "season_length": self.m, "aicc": round(self.aicc, 3)}


_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9)
_BETAS = (0.01, 0.03, 0.1, 0.2)
_PHIS = (0.8, 0.9, 0.98, 1.0)
_GAMMAS = (0.01, 0.05, 0.1, 0.2, 0.3)


def _fit_family(y: np.ndarray, *, trend: bool, m: int) -> EtsFit | None:
    n = len(y)
    seasonal = m > 1
    grid = [(a, b if trend else 0.0, g if seasonal else 0.0, p if trend else 1.0)
            for a in _ALPHAS
            for b in (_BETAS if trend else (0.0,))
            for g in (_GAMMAS if seasonal else (0.0,))
            for p in (_PHIS if trend else (1.0,))
            if (not trend or b <= a) and (not seasonal or g <= 1 - a)]
    if not grid:
        return None
    alpha, beta, gamma, phi = (np.array(col) for col in zip(*grid))
    P = len(grid)
    # Initial states from the first season (or the first values): classical decomposition-lite.
    if seasonal:
        first = y[:m]
        level0 = first.mean()
        season0 = first - level0
        trend0 = (y[m:2 * m].mean() - first.mean()) / m if trend else 0.0
    else:
        k = min(n, 4)
        level0 = y[:k].mean()
        season0 = np.zeros(1)
        trend0 = (y[k - 1] - y[0]) / max(k - 1, 1) if trend and k > 1 else 0.0
    level = np.full(P, level0)
    tr = np.full(P, trend0)
    season = np.tile(season0, (P, 1)) if seasonal else np.zeros((P, 1))
    sse = np.zeros(P)
    for t in range(n):
        idx = t % m if seasonal else 0
        s = season[:, idx]
        fitted = level + phi * tr + s
        err = y[t] - fitted
        sse += err * err
        new_level = level + phi * tr + alpha * err
        tr = phi * tr + beta * err
        level = new_level
        if seasonal:
            season[:, idx] = s + gamma * err
    best = int(np.argmin(sse))
    k = 1 + (2 if trend else 0) + (1 if seasonal else 0) + 1 + (1 if trend else 0) + (m - 1 if seasonal else 0)
    sigma = max(sse[best] / n, 1e-12)
    aic = n * math.log(sigma) + 2 * k
    aicc = aic + (2 * k * (k + 1)) / (n - k - 1) if n - k - 1 > 0 else float("inf")
    name = f"A,{'Ad' if trend else 'N'},{'A' if seasonal else 'N'}"
    return EtsFit(name=name, alpha=float(alpha[best]), beta=float(beta[best]), gamma=float(gamma[best]),
                  phi=float(phi[best]), m=m if seasonal else 1, level=float(level[best]), trend=float(tr[best]),
                  season=season[best].copy(), sse=float(sse[best]), aicc=aicc)


def fit_ets(y: np.ndarray, m: int) -> EtsFit | None:
    if len(y) < 4:
        return None
    candidates = [_fit_family(y, trend=False, m=1), _fit_family(y, trend=True, m=1) if len(y) >= 8 else None]
    if m > 1 and len(y) >= 2 * m:
        candidates += [_fit_family(y, trend=False, m=m), _fit_family(y, trend=True, m=m)]
    fits = [c for c in candidates if c is not None and math.isfinite(c.aicc)]
    return min(fits, key=lambda f: f.aicc) if fits else None


def ets_forecast(y: np.ndarray, horizon: int, m: int) -> tuple[np.ndarray, EtsFit | None]:
    fit = fit_ets(y, m)
    if fit is None:
        return seasonal_naive(y, horizon, m), None
    return fit.forecast(horizon, len(y)), fit


# -- backtest ---------------------------------------------------------------------------------------


def _metrics(actual: list[np.ndarray], predicted: list[np.ndarray], scales: list[float]) -> dict[str, float | None]:
    a = np.concatenate(actual)
    p = np.concatenate(predicted)
    err = np.abs(a - p)
    nonzero = a != 0
    mape = float(np.mean(err[nonzero] / np.abs(a[nonzero])) * 100) if nonzero.any() else None
    denom = np.abs(a) + np.abs(p)
    smape_terms = np.where(denom > 0, 2 * err / np.where(denom > 0, denom, 1), 0.0)
    mases = [float(np.mean(np.abs(x - y))) / s for x, y, s in zip(actual, predicted, scales) if s and math.isfinite(s)]
    return {"mape": _round(mape), "smape": _round(float(np.mean(smape_terms) * 100)),
            "mase": _round(float(np.mean(mases)) if mases else None)}


def _round(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else round(v, 6)


def backtest(y: np.ndarray, *, horizon: int, m: int, folds: int = 8, step: int = 1) -> dict[str, Any]:
    n = len(y)
    origins = [n - horizon - i * step for i in range(folds)][::-1]
    origins = [o for o in origins if o >= max(4, min(m, 8))]
    if not origins:
        raise ValidationProblem.for_field("horizon", f"the series has {n} periods: too short for this backtest")
    actual, snaive, ets, scales, chosen = [], [], [], [], []
    for o in origins:
        train, test = y[:o], y[o:o + horizon]
        actual.append(test)
        snaive.append(seasonal_naive(train, len(test), m))
        f, fit = ets_forecast(train, len(test), m)
        f = np.maximum(f, 0.0)  # as reported: no negative forecasts
        ets.append(f)
        chosen.append(fit.name if fit else "seasonal naive")
        scales.append(naive_scale(train, m))
    return {
        "horizon": horizon, "folds": len(origins), "origins": origins, "season_length": m,
        "seasonal_naive": _metrics(actual, snaive, scales),
        "ets": _metrics(actual, ets, scales) | {"models_chosen": sorted(set(chosen))},
    }


def forecast_report(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, freq: str = "week", level: str = "total",
                    key: str | None = None, measure: str = "revenue", horizon: int = 4, folds: int = 8,
                    with_backtest: bool = True, history_points: int = 104,
                    include_partial: bool = False) -> dict[str, Any]:
    if not 1 <= horizon <= 366:
        raise ValidationProblem.for_field("horizon", "must be between 1 and 366")
    if not 1 <= folds <= 100:
        raise ValidationProblem.for_field("folds", "must be between 1 and 100")
    partial: list[dt.date] = []
    dates, y = series(con, scope, freq=freq, level=level, key=key, measure=measure, include_partial=include_partial,
                      partial_out=partial)
    m = SEASON[freq]
    step = dt.timedelta(days=1 if freq == "day" else 7)
    future = [dates[-1] + step * (h + 1) for h in range(horizon)] if dates else []
    baseline = seasonal_naive(y, horizon, m)
    model, fit = ets_forecast(y, horizon, m) if len(y) else (np.zeros(horizon), None)
    # revenue and units cannot be negative: a forecast below zero is shown as zero
    clipped = int(np.sum(model < 0) + np.sum(baseline < 0))
    model, baseline = np.maximum(model, 0.0), np.maximum(baseline, 0.0)
    out: dict[str, Any] = {
        "freq": freq, "level": level, "key": key, "measure": measure,
        "currency": scope.resolved(con).currency if measure == "revenue" else None,
        "history": [{"period": d.isoformat(), "value": round(float(v), 4)} for d, v in
                    list(zip(dates, y))[-history_points:]],
        "forecast": [{"period": d.isoformat(), "seasonal_naive": round(float(b), 4), "ets": round(float(e), 4)}
                     for d, b, e in zip(future, baseline, model)],
        "model": fit.as_dict() if fit else {"model": "seasonal naive (series too short for ETS)"},
        "partial_periods": [d.isoformat() for d in partial],
        "partial_periods_included": include_partial,
        "forecasts_clipped_at_zero": clipped,
    }
    if with_backtest and len(y):
        bt = backtest(y, horizon=horizon, m=m, folds=folds)
        better = (bt["ets"]["mase"] is not None and bt["seasonal_naive"]["mase"] is not None
                  and bt["ets"]["mase"] < bt["seasonal_naive"]["mase"])
        bt["winner_on_mase"] = "ets" if better else "seasonal_naive"
        if len(y) < 2 * m:
            bt["note"] = (f"{len(y)} periods is less than two seasons of {m}: ETS is fitted without seasonality "
                          f"and the seasonal naive baseline falls back to the last value where it lacks a season")
        out["backtest"] = bt
    return out

