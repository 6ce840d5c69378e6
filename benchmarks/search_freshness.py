"""Search freshness under `merx serve`: from a product's write commit (its POST answered) to
the product being found by a search (GET /api/v1/search?q=<a word only it has>), p50 and p99.

`merx serve` handles events in the background (MERX_EVENT_HANDLERS=background, as in
production): the catalog's event reaches search's handler after the bus's batch window;
the handler notes the product, and the next search (or a background flush shortly after)
indexes it. Products are created one after another; after each answer the search is
repeated every 5 ms until the product shows, so figures are accurate to about 5 ms.

Run:   python benchmarks/search_freshness.py                      # SQLite, 60 products
       python benchmarks/search_freshness.py --products 200 --backend postgresql
Needs PostgreSQL at MERX_TEST_PG_URL for --backend postgresql.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkout_throughput import Backend, free_port, machine, percentile, seed  # noqa: E402
from projection_freshness import admin_key, wait_healthy  # noqa: E402


def unique_word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(12))


def measure(url: str, products: int, data_dir: Path) -> tuple[list[float], str]:
    merx = shutil.which("merx") or str(Path(sys.executable).parent / "merx")
    port = free_port()
    env = {**os.environ, "MERX_DATABASE_URL": url, "MERX_DATA_DIR": str(data_dir), "MERX_LOG_LEVEL": "WARNING",
           "MERX_EVENT_HANDLERS": "background",
           "MERX_SECRET_KEY": os.environ.get("MERX_SECRET_KEY") or secrets.token_urlsafe(32)}
    proc = subprocess.Popen([merx, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    key = admin_key(url)
    rng = random.Random(7)
    retrieval = "?"
    try:
        wait_healthy(base, proc)
        headers = {"Authorization": f"Bearer {key}"}
        out: list[float] = []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for n in range(products + 5):
                word = unique_word(rng)
                r = client.post("/api/v1/products", json={
                    "sku": f"FRESH-{n:05d}", "name": f"Lamp {word}", "price": {"amount": "10.00", "currency": "EUR"}})
                r.raise_for_status()
                committed = time.perf_counter()
                product_id = r.json()["id"]
                while True:
                    found = client.get("/api/v1/search", params={"q": word, "lang": "en", "facets": "false"})
                    found.raise_for_status()
                    body = found.json()
                    retrieval = body.get("retrieval", "lexical")
                    if any(i["product_id"] == product_id for i in body["items"]):
                        break
                    if time.perf_counter() - committed > 30:
                        raise SystemExit(f"product {product_id} never became searchable")
                    time.sleep(0.005)
                if n >= 5:  # the first few warm the server up
                    out.append(time.perf_counter() - committed)
        return out, retrieval
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=60)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for name in backends:
        with tempfile.TemporaryDirectory() as tmp:
            backend = Backend(name, Path(tmp))
            try:
                seed(backend.url, 5)
                lat, retrieval = measure(backend.url, args.products, Path(tmp) / "data")
            finally:
                backend.drop()
        print(f"{name:10s} commit -> searchable ({retrieval}): p50 {percentile(lat, 50) * 1000:7.1f} ms   "
              f"p99 {percentile(lat, 99) * 1000:7.1f} ms   max {max(lat) * 1000:7.1f} ms   ({len(lat)} products)")


if __name__ == "__main__":
    main()
