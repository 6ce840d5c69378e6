"""Which replica this process is: a name for what it keeps on its own disk (the search index).

Replicas share nothing but the database (and NATS); whatever a replica keeps in MERX_DATA_DIR
must follow the outbox through a cursor of its own. The replica id names those cursors
(`search.index@<id>`). It is MERX_REPLICA_ID when set, else generated once into
`<data_dir>/replica_id`: a wiped data dir is a new replica (it rebuilds its index and starts a
new cursor), a restarted one keeps its id and catches up from where it stopped. `merx serve
--workers N` processes share one data dir and therefore one replica id and one cursor."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from merx.core.ids import new_ulid

REPLICA_ID_FILE = "replica_id"


def replica_id(data_dir: Path, configured: str | None = None) -> str:
    """MERX_REPLICA_ID (`configured`) when set, else the id stored in (or generated into) the data dir."""
    if configured:
        return str(configured)
    data_dir = Path(data_dir)
    path = data_dir / REPLICA_ID_FILE
    try:
        existing = path.read_text().strip()
        if existing:
            return existing
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    host = "".join(c for c in socket.gethostname().split(".")[0] if c.isalnum() or c in "-_")[:24] or "host"
    new = f"{host}-{new_ulid().lower()[-10:]}"
    tmp = data_dir / f"{REPLICA_ID_FILE}.{os.getpid()}.tmp"
    try:  # two worker processes starting at once: the first file written wins
        with open(tmp, "x") as f:
            f.write(new)
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()
