from __future__ import annotations

import pytest


@pytest.fixture
def settings(tmp_path, smtp_server):  # type: ignore[no-untyped-def]
    """The app of these tests sends mail to the real local SMTP server."""
    from merx.core.settings import Settings

    return Settings(data_dir=tmp_path / "data", log_json=True, log_level="WARNING", max_body_bytes=256 * 1024,
                    payment_providers="manual,test", smtp_url=smtp_server.url)
