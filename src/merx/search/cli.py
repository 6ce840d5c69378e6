"""`merx search ...`: rebuild the index, train the learned layer, evaluate judgments, and run
the simulated-shopper quality study."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="Product search: index, learned ranking, quality.", no_args_is_help=True)
console = Console(stderr=True)


def _database():  # type: ignore[no-untyped-def]
    from merx.core.cli_support import upgraded_database
    from merx.core.settings import get_settings
    from merx.search import service

    db = upgraded_database()
    s = get_settings()
    service.register_data_dir(db, s.data_dir, s.default_currency)
    return db, s


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}"),
                    TimeElapsedColumn(), console=console)


@app.command()
def reindex(batch_size: int = typer.Option(1000, help="Products read from the catalog per batch.")) -> None:
    """Rebuild the index from the whole catalog into a new directory and swap to it; searches
    keep answering from the old index meanwhile."""
    from merx.search import replica

    db, s = _database()
    with _progress() as progress:
        task = progress.add_task("indexing products", total=None)
        result = replica.rebuild_index(db, s.data_dir, batch_size=batch_size,
                                       on_progress=lambda i, _total: progress.update(task, completed=i))
    console.print(f"[green]index rebuilt[/green]: {result['products']:,} products in {result['seconds']} s "
                  f"({result['index']})")


@app.command()
def train(days: int = typer.Option(90, help="Use searches of the last DAYS days.")) -> None:
    """Train a new version of the stage 3 model from logged impressions and feedback."""
    from merx.search.training import NotEnoughData, train_from_logs

    db, s = _database()
    try:
        with _progress() as progress:
            task = progress.add_task("reading the search log", total=None)
            result = train_from_logs(db, s.data_dir, days=days,
                                     on_progress=lambda n: progress.update(task, completed=n))
    except NotEnoughData as e:
        console.print(f"[red]not trained[/red]: {e}")
        raise typer.Exit(1)
    table = Table(title=f"model {result['version']}: importance per feature group (share of gain)")
    table.add_column("group")
    table.add_column("this model", justify="right")
    table.add_column("published weights", justify="right")
    for group, share in result["group_importance"].items():
        table.add_row(group, f"{share:.1%}", f"{result['published_weights'][group]:.0%}")
    console.print(table)
    console.print(f"{result['rows']:,} impressions, {result['positives']:,} positive ({result['label']})")


@app.command()
def evaluate(judgments: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: query,product,grade[,lang]"),
             lang: Optional[str] = typer.Option(None, help="Language of queries without a lang column."),
             retrieval: Optional[str] = typer.Option(
                 None, help="lexical, semantic or hybrid; default: every mode this install can run.")) -> None:
    """Print NDCG@10, MRR, recall@100 and recall@1000 of stage 2 alone and of the full
    pipeline, per retrieval mode, and hybrid minus lexical with a paired bootstrap interval."""
    from merx.core.uow import UnitOfWork
    from merx.search import service
    from merx.search.evaluate import evaluate_judgments, paired_bootstrap, read_judgments
    from merx.search.ranking import SearchRequest
    from merx.search.semantic import retrieval_mode

    db, s = _database()
    try:
        rows = read_judgments(judgments)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2)
    running, why = retrieval_mode()
    if retrieval is not None and retrieval not in ("lexical", "semantic", "hybrid"):
        console.print("[red]--retrieval must be lexical, semantic or hybrid[/red]")
        raise typer.Exit(2)
    if retrieval in ("semantic", "hybrid") and running != "hybrid":
        console.print(f"[red]{retrieval} retrieval is not available: {why}[/red]")
        raise typer.Exit(2)
    modes = [retrieval] if retrieval else (["lexical", "semantic", "hybrid"] if running == "hybrid" else ["lexical"])
    console.print(f"search runs {running} here ({why})")
    stack = service.stack_for(s.data_dir)
    stack.engine.ranker.model = stack.models.current()
    skus = {r.product for r in rows if not r.product.isdigit()}
    sku_ids: dict[str, int] = {}
    with UnitOfWork(db, readonly=True) as uow:
        if skus:
            from merx.catalog.public import lookup_skus

            sku_ids = {k: v.product_id for k, v in lookup_skus(uow, skus).items()}
        synonyms, rules = service.load_synonyms(uow), service.load_rules(uow)

        def ranker(mode: str):  # type: ignore[no-untyped-def]
            def rank(query: str, q_lang: Optional[str]) -> tuple[list[int], list[int]]:
                out = stack.engine.search(SearchRequest(q=query, lang=q_lang or lang, limit=10, facets=False,
                                                        retrieval=mode), synonyms=synonyms, rules=rules)
                full = [c.product_id for c in out.ranked]
                return [c.product_id for c in sorted(out.ranked, key=lambda c: (-c.stage2, c.product_id))], full
            return rank

        results = {mode: evaluate_judgments(rows, lambda v: int(v) if v.isdigit() else sku_ids.get(v), ranker(mode))
                   for mode in modes}
    table_rows = {}
    for mode in modes:
        table_rows[f"{mode}: stage 2"] = results[mode]["stage2"]
        table_rows[f"{mode}: pipeline ({stack.engine.ranker.name})"] = results[mode]["pipeline"]
    _print_metrics(table_rows)
    if "lexical" in results and "hybrid" in results:
        for part in ("stage2", "pipeline"):
            d = paired_bootstrap(results["lexical"][part].per_query_ndcg10 or {},
                                 results["hybrid"][part].per_query_ndcg10 or {})
            console.print(f"hybrid minus lexical NDCG@10 ({part}): {d.mean:+.4f}, 95% paired bootstrap interval "
                          f"[{d.low:+.4f}, {d.high:+.4f}] over {d.queries} queries"
                          + (" (larger than its interval)" if d.significant else " (within noise)"))


def _print_metrics(rows: dict) -> None:  # type: ignore[type-arg]
    table = Table()
    for col in ("ranking", "NDCG@10", "MRR", "recall@100", "recall@1000", "queries"):
        table.add_column(col, justify="right" if col != "ranking" else "left")
    for name, metrics in rows.items():
        d = metrics.as_dict()
        table.add_row(name, f"{d['ndcg@10']:.4f}", f"{d['mrr']:.4f}", f"{d['recall@100']:.4f}",
                      f"{d['recall@1000']:.4f}", str(d["queries"]))
    Console().print(table)


@app.command()
def simulate(products: int = typer.Option(3000, help="Generated catalog size."),
             queries: int = typer.Option(240, help="Distinct queries (60% train, 40% held out)."),
             seed: int = 11, json_out: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Generated catalog + simulated shoppers with a known ground truth: NDCG@10 of stage 2
    alone vs the fallback formula vs a model trained on the simulated behaviour."""
    from merx.search.simulate import run_simulation

    with tempfile.TemporaryDirectory() as tmp, _progress() as progress:
        task = progress.add_task("indexing the generated catalog", total=products)
        report, _ = run_simulation(Path(tmp) / "index", n_products=products, n_queries=queries, seed=seed,
                                   on_progress=lambda i: progress.update(task, completed=i))
    if json_out:
        typer.echo(json.dumps({k: (v.as_dict() if hasattr(v, "as_dict") else v) for k, v in report.__dict__.items()},
                              indent=2))
        return
    _print_metrics({"stage 2 (BM25 only)": report.stage2, "stage 3 fallback formula": report.fallback,
                    "stage 3 LightGBM (trained on simulated shoppers)": report.learned})
    console.print(f"{report.products:,} products, {report.train_queries} training / {report.test_queries} held-out "
                  f"queries, {report.training_rows:,} impressions ({report.positives:,} purchases)")
    console.print("group importance: " + ", ".join(
        f"{g} {v:.0%} (published {report.published_weights[g]:.0%})" for g, v in report.group_importance.items()))


@app.command()
def study(products: int = typer.Option(3000, help="Generated catalog size."),
          queries: int = typer.Option(240, help="Simulated queries (60% train, 40% held out)."),
          seed: int = 11, json_out: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Lexical, semantic and hybrid retrieval side by side on the simulated queries and on
    judged paraphrase and negation queries (wording unlike the titles), with hybrid minus
    lexical and its paired bootstrap interval (`study.py` says how the sets are judged)."""
    from merx.search.semantic import retrieval_mode
    from merx.search.study import report_json, run_study

    running, why = retrieval_mode()
    console.print(f"search runs {running} here ({why})")
    with tempfile.TemporaryDirectory() as tmp, _progress() as progress:
        task = progress.add_task("starting", total=None)
        report = run_study(Path(tmp) / "index", n_products=products, n_queries=queries, seed=seed,
                           on_progress=lambda msg: progress.update(task, description=msg))
    if json_out:
        typer.echo(json.dumps(report_json(report), indent=2))
        return
    for set_name, per in report.results.items():
        rows = {f"{ranking}: {mode}": m for ranking, modes in per.items() for mode, m in modes.items()}
        console.print(f"[bold]{set_name} queries[/bold]")
        _print_metrics(rows)
        for ranking, d in report.differences.get(set_name, {}).items():
            console.print(f"  hybrid minus lexical NDCG@10, {ranking}: {d.mean:+.4f} "
                          f"[{d.low:+.4f}, {d.high:+.4f}]" + (" *" if d.significant else ""))
    console.print(f"fusion: {report.fusion} (tuning NDCG@10: {report.fusion_tuning}); "
                  f"embedding {report.embed_ms_per_product} ms per product")


def register(root: typer.Typer, import_app: typer.Typer) -> None:
    root.add_typer(app, name="search")


@app.command()
def replicas() -> None:
    """Every replica's index cursor (`search.index@<replica>`): position and lag. A replica
    that no longer runs blocks nothing; `merx search forget-replica ID` removes its cursor."""
    from merx.search import replica

    db, _ = _database()
    table = Table("replica", "last seq", "lag", "updated", "last error")
    for row in replica.replica_cursors(db):
        table.add_row(row["replica"], str(row["last_seq"]), str(row["lag"]), str(row["updated_at"])[:19],
                      (row["last_error"] or "")[:60])
    Console().print(table)


@app.command("forget-replica")
def forget_replica(replica_id: str = typer.Argument(..., help="The replica id (see `merx search replicas`).")) -> None:
    """Delete the index cursor of a replica that is gone (started again, it rebuilds its index)."""
    from merx.search import replica

    db, _ = _database()
    if not replica.forget_replica(db, replica_id):
        console.print(f"[red]no index cursor for replica {replica_id!r}[/red]")
        raise typer.Exit(1)
    console.print(f"[green]forgot replica[/green] {replica_id}")
