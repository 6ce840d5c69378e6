"""The store associate app and the kiosk: server time per page on the demo shop.

    python benchmarks/associate_pages.py --data-dir DIR   # an existing `merx demo` data dir
    python benchmarks/associate_pages.py                  # builds `merx demo --no-serve` (2400 products) first
    python benchmarks/associate_pages.py --repeat 30

The app runs under Uvicorn in a background thread on 127.0.0.1; the demo associate (Marta,
Warsaw store) signs in through /associate/login and requests every page `--repeat` times
after one warm-up, recording the time to the last byte (server time plus well under a
millisecond on localhost). The kiosk pages are requested anonymously. Baseline in the same
run: /healthz (the floor) and the storefront's product page (the page a shopper would use).
Nothing here is asserted."""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def machine() -> str:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="merx-assoc-bench-"))
        env = dict(os.environ, MERX_DATA_DIR=str(data_dir), MERX_LOG_LEVEL="WARNING")
        subprocess.run([sys.executable, "-m", "merx.cli", "demo", "--no-serve"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    os.environ["MERX_DATA_DIR"] = str(data_dir)
    import httpx
    import uvicorn

    from merx.app import create_app
    from merx.core.settings import Settings
    from merx.instore.demo import DEMO_ASSOCIATE_EMAIL, DEMO_ASSOCIATE_PASSWORD

    settings = Settings(data_dir=data_dir, log_level="WARNING", log_json=True, payment_providers="manual,test")
    app = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=60)
    login = client.get("/associate/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    done = client.post("/associate/login", data={"email": DEMO_ASSOCIATE_EMAIL, "password": DEMO_ASSOCIATE_PASSWORD,
                                                  "csrf_token": token, "next": "/associate"})
    assert done.status_code == 303, done.text
    product = re.search(r'href="/associate/product/([^"]+)"', client.get("/associate/find?q=lamp").text)
    sku = product.group(1) if product else "PHO-00000"
    order_id = re.search(r'/associate/orders/(\d+)', client.get("/associate/pickups").text)
    pages = [("associate home", "/associate"), ("search 'lamp'", "/associate/find?q=lamp"),
             ("scan: code lookup", f"/associate/code?code={sku}"), ("product card", f"/associate/product/{sku}"),
             ("customer lookup", "/associate/customers?q=nowak"), ("cart", "/associate/cart"),
             ("pickup queue", "/associate/pickups"), ("returns", "/associate/returns"),
             ("store figures", "/associate/reports"),
             ("kiosk home", "/kiosk/ST-WAW"), ("kiosk search", "/kiosk/ST-WAW/search?q=lamp"),
             ("kiosk product", f"/kiosk/ST-WAW/product/{sku}"),
             ("baseline: /healthz", "/healthz")]
    del order_id
    anonymous = httpx.Client(base_url=base, timeout=60)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (shared machine: figures are noisy)")
    print(f"command: python benchmarks/associate_pages.py --data-dir {data_dir} --repeat {args.repeat}")
    print(f"{'page':24} {'status':>6} {'median ms':>10} {'p95 ms':>8}")
    for label, path in pages:
        who = anonymous if path.startswith("/kiosk") or path == "/healthz" else client
        status = who.get(path).status_code  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            r = who.get(path)
            r.read()
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != status:
                status = r.status_code  # shown: a page that changed its answer mid-run is not timed honestly
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
        print(f"{label:24} {status:>6} {statistics.median(times):>10.1f} {p95:>8.1f}")
    server.should_exit = True


if __name__ == "__main__":
    main()
