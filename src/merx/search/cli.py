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
    from merx.search import service

    db, s = _database()
    with _progress() as progress:
        task = progress.add_task("indexing products", total=None)
        result = service.rebuild_index(db, s.data_dir, batch_size=batch_size,
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
             lang: Optional[str] = typer.Option(None, help="Language of queries without a lang column.")) -> None:
    """Print NDCG@10, MRR and recall@1000 of stage 2 alone and of the full pipeline."""
    from merx.core.uow import UnitOfWork
    from merx.search import service
    from merx.search.evaluate import evaluate_judgments, read_judgments
    from merx.search.ranking import SearchRequest

    db, s = _database()
    try:
        rows = read_judgments(judgments)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2)
    stack = service.stack_for(s.data_dir)
    stack.engine.ranker.model = stack.models.current()
    skus = {r.product for r in rows if not r.product.isdigit()}
    sku_ids: dict[str, int] = {}
    with UnitOfWork(db, readonly=True) as uow:
        if skus:
            from merx.catalog.public import lookup_skus

            sku_ids = {k: v.product_id for k, v in lookup_skus(uow, skus).items()}
        synonyms, rules = service.load_synonyms(uow), service.load_rules(uow)

        def rank(query: str, q_lang: Optional[str]) -> tuple[list[int], list[int]]:
            out = stack.engine.search(SearchRequest(q=query, lang=q_lang or lang, limit=10, facets=False),
                                      synonyms=synonyms, rules=rules)
            full = [c.product_id for c in out.ranked]
            return [c.product_id for c in sorted(out.ranked, key=lambda c: (-c.stage2, c.product_id))], full

        results = evaluate_judgments(rows, lambda v: int(v) if v.isdigit() else sku_ids.get(v), rank)
    _print_metrics({"stage 2 (BM25)": results["stage2"], f"pipeline ({stack.engine.ranker.name})": results["pipeline"]})


def _print_metrics(rows: dict) -> None:  # type: ignore[type-arg]
    table = Table()
    for col in ("ranking", "NDCG@10", "MRR", "recall@1000", "queries"):
        table.add_column(col, justify="right" if col != "ranking" else "left")
    for name, metrics in rows.items():
        d = metrics.as_dict()
        table.add_row(name, f"{d['ndcg@10']:.4f}", f"{d['mrr']:.4f}", f"{d['recall@1000']:.4f}", str(d["queries"]))
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


def register(root: typer.Typer, import_app: typer.Typer) -> None:
    root.add_typer(app, name="search")
