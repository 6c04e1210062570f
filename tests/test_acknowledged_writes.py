"""Nothing acknowledged is lost: writes answered 200 by a ``dingstore serve`` process that is
then SIGKILLed in the middle of others are all in the store it leaves. On SQLite a small write's
statements run on the event loop and only its ``COMMIT`` on the writer's thread: the answer must
wait for that commit, whatever else the loop does meanwhile."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa

from dingstore.settings import Settings
from tests.engine import trees
from tests.engine.crashes import Server
from tests.engine.trees import Store, d
from tests.live import Sdk
from tests.storage import Storage

CLIENTS = 8
ACKNOWLEDGED_BEFORE_KILL = 200


def test_acknowledged_writes_survive_a_sigkill(tmp_path: Path, database_url: str) -> None:
    store = Store(Settings(data_dir=tmp_path, database_url=database_url))
    server = Server(tmp_path, database_url, workers=0)
    try:
        acct = store.run(trees.new_account(store.services))
        space = store.run(trees.new_space(store.services, acct, "writes"))
        server.start()
        acknowledged: list[str] = []
        killed = threading.Event()

        def client(n: int) -> None:
            st = Storage(None, Sdk(server.endpoint), acct.token, acct.union_id)  # type: ignore[arg-type]
            for i in range(100_000):
                name = f"c{n}-{i}"
                try:
                    st.add_folder(str(space), name)
                except Exception:
                    assert killed.is_set(), server.log()
                    return
                acknowledged.append(name)

        clients = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)
        killed.set()
        server.kill()
        for thread in clients:
            thread.join(30)
        assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL

        async def stored() -> set[str]:
            async with store.db.read() as conn:
                query = sa.select(d.c.name).where(d.c.space_id == space, d.c.parent_id == 0)
                return set((await conn.execute(query)).scalars().all())

        missing = set(acknowledged) - store.run(stored())
        assert not missing, f"{len(missing)} acknowledged folders lost: {sorted(missing)[:5]}"
    finally:
        server.stop()
        store.close()
