"""The scale-out shape end to end (issue #5): two ``dingstore serve --no-workers`` and three
``dingstore worker`` processes on one PostgreSQL database and one S3 bucket (moto's).

A 20k-node tree is seeded into the tables and its bytes put into the bucket (the files of a
subtree share a few blobs, as copies do); a file per region is uploaded through the SDK, its
bytes going to the bucket's pre-signed URLs. Then four SDK clients, each in its own thread and
talking to one of the two API processes, issue 20 CopyDentries / MoveDentries (within and
across spaces) / DeleteDentries (to the recycle bin and for good) at once, over disjoint
regions of the tree, while two of the three workers are SIGKILLed in the middle of tasks and
one of them is started again.

Every task must end SUCCESS with successCount == totalCount; every space must hold exactly the
tree computed from the seeded one and the operations (read from the tables, and through
ListAllDentries) and keep every invariant (``trees.problems``); and once housekeeping (blob
grace 0, every second in each API process) has run, the objects in the bucket must be exactly
the blobs that live files, their versions and the recycle bin reference.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alibabacloud_dingtalk.storage_1_0 import models as m

from dingstore.blobs.keys import blob_key
from dingstore.clock import now_ms
from dingstore.service.container import Services
from dingstore.settings import Settings
from dingstore.store import schema
from tests.backends import PostgresDatabases
from tests.e2e.cluster import Process, owner_pid
from tests.engine import trees
from tests.engine.trees import Entry, Store, b, d, v
from tests.live import Sdk
from tests.s3 import MotoS3
from tests.storage import Storage

REGIONS = 20  # one per batch call: /rNN in the main space
SUBTREES = {"a": 450, "b": 350, "c": 199}  # seeded in each region: 20 x 1000 nodes in all
FANOUT = 8
POOL = (4, 2)  # distinct blobs per seeded subtree: for current versions, for older ones
CLIENTS = 4  # SDK clients, each in its own thread, client n on API process n % 2
CONCURRENCY = 2  # tasks each worker process runs at once
CHUNK = 50  # nodes a step settles: 7-9 steps a task, ~180 in all, long enough to be killed
LEASE = 2.0  # seconds: a killed worker's tasks are free again this long after its last step
SPACES = ("main", "copies", "moves")


@dataclass(frozen=True)
class Op:
    """A batch call on region ``region`` of the main space. Its ``items``, in the call's order,
    are the region's subtrees (``a``, ``b``) and its uploaded file (``u``); copies and moves go
    to ``folder`` (a path, ``""`` for the root) of space ``space``."""

    region: int
    kind: str  # copy, move, recycle, delete
    items: tuple[str, ...]
    space: str = "main"
    folder: str = ""

    def path(self, item: str) -> str:
        """The item's path in the main space."""
        r = f"r{self.region:02}"
        return f"/{r}/u{self.region:02}.txt" if item == "u" else f"/{r}/s{self.region:02}{item}"


def operations() -> list[Op]:
    """One per region. With a folder (not a root) as the target, the folder with children comes
    last: while its task runs, the target is an ancestor of what the task holds, and nothing
    more may go into it (docs/tasks.md, overlapping operations)."""
    ops = [Op(i, "copy", ("a", "b", "u"), "copies") for i in (0, 1, 2)]
    ops += [Op(i, "copy", ("u", "a"), "copies", f"/into{i:02}") for i in (3, 4)]
    ops += [Op(5, "copy", ("u", "a"), "main", "/r05/s05b")]
    ops += [Op(i, "move", ("a", "b", "u"), "main", f"/r{i:02}/s{i:02}c") for i in (6, 7)]
    ops += [Op(8, "move", ("a", "b", "u"), "main")]
    ops += [Op(i, "move", ("a", "b", "u"), "moves") for i in (9, 10, 11)]
    ops += [Op(i, "move", ("u", "a"), "moves", f"/into{i:02}") for i in (12, 13)]
    ops += [Op(i, "recycle", ("a", "b", "u")) for i in (14, 15, 16)]
    ops += [Op(i, "delete", ("a", "b", "u")) for i in (17, 18, 19)]
    assert sorted(op.region for op in ops) == list(range(REGIONS))
    return ops


def expected_trees(before: dict[str, list[Entry]], ops: list[Op]) -> dict[str, list[Entry]]:
    """What every space must hold after the operations, from what it held before."""
    after = {space: set(entries) for space, entries in before.items()}
    for op in ops:
        for item in op.items:
            path = op.path(item)
            taken = {e for e in after["main"] if e[0] == path or e[0].startswith(path + "/")}
            assert taken, path
            if op.kind != "copy":
                after["main"] -= taken
            if op.kind in ("copy", "move"):
                name = path.rsplit("/", 1)[1]
                after[op.space] |= {
                    (f"{op.folder}/{name}{p[len(path) :]}", t, s) for p, t, s in taken
                }
    return {space: sorted(entries) for space, entries in after.items()}


# --- the store, seeded from the test process -----------------------------------------------------


@dataclass
class Scene:
    """What the test made and knows by name."""

    store: Store
    account: trees.Account
    space_ids: dict[str, int]
    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (space, path) -> dentry id
    nodes: dict[str, tuple[int, int]] = field(default_factory=dict)  # main's path -> id range
    sizes: dict[str, int] = field(default_factory=dict)  # a subtree's path -> its nodes
    contents: dict[str, bytes] = field(default_factory=dict)  # an uploaded file's bytes

    @property
    def spaces(self) -> dict[str, str]:
        return {name: str(i) for name, i in self.space_ids.items()}

    def add_folder(self, space: str, parent: str, name: str) -> int:
        parent_id = self.ids[space, parent] if parent else "0"
        services, actor = self.store.services, self.account.actor
        made = self.store.run(
            services.dentries.add_folder(actor, self.spaces[space], parent_id, name, None)
        )
        self.ids[space, f"{parent}/{name}"] = str(made.id)
        return int(made.id)


def seed(store: Store, ops: list[Op], moto_s3: MotoS3, bucket: str) -> Scene:
    """The regions /rNN of the main space, each with its seeded subtrees /rNN/sNN{a,b,c}; the
    target folders of the other spaces; the bytes of every seeded blob in the bucket."""
    services = store.services
    account = store.run(trees.new_account(services))
    scene = Scene(
        store,
        account,
        {name: store.run(trees.new_space(services, account, name)) for name in SPACES},
    )
    seeded: list[trees.Seeded] = []
    for region in range(REGIONS):
        top = scene.add_folder("main", "", f"r{region:02}")
        for item, total in SUBTREES.items():
            name = f"s{region:02}{item}"
            tree = store.run(
                trees.seed_tree(
                    services,
                    account,
                    scene.space_ids["main"],
                    name,
                    total,
                    fanout=FANOUT,
                    parent_id=top,
                    analyze=False,
                )
            )
            seeded.append(tree)
            path = f"/r{region:02}/{name}"
            scene.ids["main", path] = str(tree.root_id)
            scene.nodes[path] = (tree.node_ids[0], tree.node_ids[-1])
            scene.sizes[path] = total
    for op in ops:
        if op.folder and op.space != "main":
            scene.add_folder(op.space, "", op.folder.lstrip("/"))
    blob_sizes = store.run(share_blobs(services, seeded))
    store.run(trees.analyze_tables(services))
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda blob: moto_s3.client.put_object(
                    Bucket=bucket, Key=blob_key(blob[0]), Body=os.urandom(blob[1])
                ),
                blob_sizes.items(),
            )
        )
    return scene


async def share_blobs(services: Services, seeded: list[trees.Seeded]) -> dict[int, int]:
    """Let the files of each seeded subtree share ``POOL`` blobs of their own (each version
    keeping its size) in place of a blob per version; returns every blob's size. Run before
    anything else stores a blob."""
    current, older = POOL
    first = await services.ids.reserve(len(seeded) * (current + older))
    async with services.db.write() as conn:
        for n, tree in enumerate(seeded):
            base = first + n * (current + older)
            lo, hi = tree.node_ids[0], tree.node_ids[-1]
            shared = sa.case(
                (v.c.size == trees.FILE_SIZE, base + v.c.blob_id % current),
                else_=base + current + v.c.blob_id % older,
            )
            await conn.execute(
                sa.update(v).where(v.c.dentry_id.between(lo, hi)).values(blob_id=shared)
            )
            await conn.execute(
                sa.update(d)  # a file's current version is a FILE_SIZE one
                .where(d.c.id.between(lo, hi), d.c.type == "FILE")
                .values(blob_id=base + d.c.blob_id % current)
            )
        refs = (
            await conn.execute(
                sa.select(v.c.blob_id, v.c.size, sa.func.count()).group_by(v.c.blob_id, v.c.size)
            )
        ).all()
        await conn.execute(sa.delete(b))
        now = now_ms()
        rows = [
            {"id": int(i), "size": int(s), "md5": None, "refcount": int(n), "created_at": now}
            for i, s, n in refs
        ]
        await conn.execute(sa.insert(b), rows)
    return {int(i): int(s) for i, s, _ in refs}


async def blob_ids(services: Services) -> tuple[set[int], set[int]]:
    """The blobs the versions reference (every version of every file, live or in the recycle
    bin), and the blobs with a row; checks that each file's row names one of those."""
    async with services.db.read() as conn:
        referenced = set((await conn.execute(sa.select(v.c.blob_id))).scalars())
        files = set(
            (await conn.execute(sa.select(d.c.blob_id).where(d.c.type == "FILE"))).scalars()
        )
        rows = set((await conn.execute(sa.select(b.c.id))).scalars())
    assert files <= referenced
    return {int(i) for i in referenced}, {int(i) for i in rows}


async def blobs_of(services: Services, ranges: list[tuple[int, int]]) -> set[int]:
    """The blobs the versions of the dentries in these ranges of ids reference."""
    async with services.db.read() as conn:
        stmt = sa.select(v.c.blob_id).where(sa.or_(*(v.c.dentry_id.between(*r) for r in ranges)))
        return {int(i) for i in (await conn.execute(stmt)).scalars()}


async def recycled_paths(services: Services) -> list[str]:
    async with services.db.read() as conn:
        stmt = sa.select(schema.recycle_items.c.original_path)
        return sorted((await conn.execute(stmt)).scalars())


# --- the SDK calls --------------------------------------------------------------------------------


def upload(scene: Scene, st: Storage, region: int) -> None:
    """The region's file, through GetFileUploadInfo, a PUT to the bucket and CommitFile; in
    every other region, a second version of it."""
    name, parent = f"u{region:02}.txt", scene.ids["main", f"/r{region:02}"]
    for version in (1, 2)[: 2 - region % 2]:
        data = os.urandom(100 + 10 * region + version)
        made = st.upload(scene.spaces["main"], data, name, parent, conflict_strategy="OVERWRITE")
        assert int(made.version) == version
    scene.ids["main", f"/r{region:02}/{name}"] = made.id
    scene.nodes[f"/r{region:02}/{name}"] = (int(made.id), int(made.id))
    scene.contents[name] = data


def batch(scene: Scene, st: Storage, op: Op) -> Any:
    """The op's CopyDentries / MoveDentries / DeleteDentries; its result items."""
    main, h, rt = scene.spaces["main"], st._h, st._rt
    dentry_ids = [scene.ids["main", op.path(item)] for item in op.items]
    if op.kind in ("recycle", "delete"):
        option = m.DeleteDentriesRequestOption(to_recycle_bin=op.kind == "recycle")
        request = m.DeleteDentriesRequest(
            union_id=st.union_id, dentry_ids=dentry_ids, option=option
        )
        return st._api.delete_dentries_with_options(
            main, request, h(m.DeleteDentriesHeaders), rt
        ).body.result_items
    target = {
        "union_id": st.union_id,
        "target_space_id": scene.spaces[op.space],
        "target_folder_id": scene.ids[op.space, op.folder] if op.folder else "0",
        "dentry_ids": dentry_ids,
    }
    if op.kind == "copy":
        return st._api.copy_dentries_with_options(
            main, m.CopyDentriesRequest(**target), h(m.CopyDentriesHeaders), rt
        ).body.result_items
    return st._api.move_dentries_with_options(
        main, m.MoveDentriesRequest(**target), h(m.MoveDentriesHeaders), rt
    ).body.result_items


# --- the test -------------------------------------------------------------------------------------


@pytest.fixture
def database_url(pg_databases: PostgresDatabases) -> Iterator[str]:
    url = pg_databases.new()
    yield url
    pg_databases.drop(url)


@pytest.mark.heavy(45)
def test_scale_out_survives_killed_workers(
    tmp_path: Path, database_url: str, moto_s3: MotoS3, s3_bucket: str
) -> None:
    secret = secrets.token_urlsafe(32)
    env = {
        "DINGSTORE_DATA_DIR": str(tmp_path),
        "DINGSTORE_DATABASE_URL": database_url,
        "DINGSTORE_BLOB_URL": moto_s3.url(s3_bucket),
        "DINGSTORE_SECRET_KEY": secret,  # the test's tokens are good in every process
        "DINGSTORE_TASK_CHUNK": str(CHUNK),
        "DINGSTORE_TASK_LEASE": str(LEASE),
        "DINGSTORE_TASK_POLL_INTERVAL": "0.1",
        "DINGSTORE_BLOB_GRACE": "0",  # housekeeping deletes unreferenced bytes at once...
        "DINGSTORE_HOUSEKEEPING_INTERVAL": "1",  # ...every second, in each API process
        "DINGSTORE_LOG_LEVEL": "WARNING",
    }
    apis = [Process.api(f"api{n}", env, tmp_path) for n in range(2)]
    workers = [Process.worker(f"worker{n}", env, tmp_path, CONCURRENCY) for n in range(3)]
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        blob_url=moto_s3.url(s3_bucket),
        secret_key=secret,
    )
    store = Store(settings)
    try:
        run(store, apis, workers, moto_s3, s3_bucket)
    finally:
        for process in [*apis, *workers]:
            process.stop()
        store.close()


def run(
    store: Store, apis: list[Process], workers: list[Process], moto_s3: MotoS3, bucket: str
) -> None:
    began = time.monotonic()
    db = store.db
    ops = operations()
    scene = seed(store, ops, moto_s3, bucket)
    seeded = time.monotonic()
    for process in [*apis, *workers]:  # (started while seeding, they slow it down more)
        process.start()
    for process in [*apis, *workers]:
        process.wait_ready()
    token, union_id = scene.account.token, scene.account.union_id
    clients = [
        Storage(None, Sdk(apis[n % 2].endpoint), token, union_id)  # type: ignore[arg-type]
        for n in range(CLIENTS)
    ]
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda r: upload(scene, clients[r % CLIENTS], r), range(REGIONS)))
    before = {space: store.run(trees.tree(db, scene.space_ids[space])) for space in SPACES}
    assert sum(len(entries) for entries in before.values()) == REGIONS * 1001 + 4
    keys_before = set(moto_s3.keys(bucket))
    # What the permanent deletes free: their subtrees share blobs with nothing else.
    deleted = [scene.nodes[op.path(x)] for op in ops if op.kind == "delete" for x in op.items]
    freed = {blob_key(i) for i in store.run(blobs_of(store.services, deleted))}
    ready = time.monotonic()

    # The 20 batch calls at once, from the clients' threads, in a random order...
    rng_seed = random.randrange(1 << 30)
    rng = random.Random(rng_seed)
    shuffled = rng.sample(ops, len(ops))
    answers: dict[Op, Any] = {}

    def client(n: int) -> None:
        for op in shuffled[n::CLIENTS]:
            answers[op] = batch(scene, clients[n], op)

    # ...while two workers are SIGKILLed, each as soon as it is seen in the middle of a task
    # (holding the lease of one with three steps or more to go), and one of them starts again.
    killed: dict[str, list[int]] = {}
    with ThreadPoolExecutor(CLIENTS) as pool:
        calls = [pool.submit(client, n) for n in range(CLIENTS)]
        for victim in workers[:2]:
            deadline = time.monotonic() + 30
            while True:
                issued = all(c.done() for c in calls)  # (before the rows: every task is in them)
                rows = store.run(trees.task_rows(db)).values()
                if any(
                    row.status == "IN_PROGRESS"
                    and owner_pid(row.lease_owner) == victim.pid
                    and 0 < row.success_count <= (row.total_count or 0) - 3 * CHUNK
                    for row in rows
                ):
                    break
                assert not any(c.exception() for c in calls if c.done())
                assert time.monotonic() < deadline, f"{victim.name} never ran a task"
                assert not issued or any(row.status in ("INIT", "IN_PROGRESS") for row in rows), (
                    f"every task ended before {victim.name} was seen in one: make CHUNK smaller"
                )
                time.sleep(0.005)
            pid = victim.pid
            victim.kill()
            killed[victim.name] = [
                i
                for i, row in store.run(trees.task_rows(db)).items()
                if row.status in ("INIT", "IN_PROGRESS") and owner_pid(row.lease_owner) == pid
            ]
        killed_at = time.monotonic()
        time.sleep(LEASE / 2)
        workers[0].start()  # a fresh process, beside the survivor
        for call in calls:
            call.result()
    answered = time.monotonic()

    # Every item succeeded, at once or through its task; every task ends SUCCESS, exactly.
    totals: dict[str, int] = {}  # task id -> the nodes it covers
    for op in ops:
        items = answers[op]
        assert [i.dentry_id for i in items] == [scene.ids["main", op.path(x)] for x in op.items]
        for item, answer in zip(op.items, items, strict=True):
            assert answer.error_code is None, (op, item, answer.error_code)
            if answer.async_:
                totals[answer.task_id] = scene.sizes[op.path(item)]
            else:
                assert item == "u" and answer.success is True, (op, item)
    assert len(totals) == sum(len(op.items) - 1 for op in ops)
    done = {i: clients[0].wait_task(i, timeout=90) for i in totals}
    finished = time.monotonic()
    for i, task in done.items():
        assert (task.status, task.total_count, task.success_count, task.fail_count) == (
            "SUCCESS", totals[i], totals[i], 0,
        ), (i, task.fail_message)  # fmt: skip
    for name, held in killed.items():
        assert held, f"{name} was killed holding no task"
        assert {str(i) for i in held} <= set(done)

    # The trees: exactly what the operations make of the seeded one, in the tables and through
    # ListAllDentries, with every invariant kept; the uploaded bytes where they went.
    want = expected_trees(before, ops)
    for space in SPACES:
        assert store.run(trees.tree(db, scene.space_ids[space])) == want[space], space

    def listed(space: str) -> list[Entry]:
        found = clients[SPACES.index(space)].list_all(scene.spaces[space], max_results=50)
        return sorted((x.path, x.type, int(x.size or 0)) for x in found)

    with ThreadPoolExecutor(2) as pool:  # (the main space's 13k nodes: from the tables only)
        for space, entries in zip(SPACES[1:], pool.map(listed, SPACES[1:]), strict=True):
            assert entries == want[space], space
    assert store.run(trees.problems(db)) == []
    assert store.run(recycled_paths(store.services)) == sorted(
        op.path(item) for op in ops if op.kind == "recycle" for item in op.items
    )
    for op in ops:
        if op.kind in ("copy", "move"):
            target = answers[op][op.items.index("u")].target_dentry_id
            data = clients[1].download(scene.spaces[op.space], target)
            assert data == scene.contents[op.path("u").rsplit("/", 1)[1]], op
    checked = time.monotonic()

    # The bucket: once housekeeping has run, exactly the blobs that something references.
    deadline = time.monotonic() + 20
    while True:
        referenced, rows = store.run(blob_ids(store.services))
        keys, wanted = set(moto_s3.keys(bucket)), {blob_key(i) for i in referenced}
        if keys == wanted and rows == referenced:
            break
        assert time.monotonic() < deadline, (
            f"unreferenced objects {sorted(keys - wanted)[:5]}, "
            f"missing objects {sorted(wanted - keys)[:5]}, "
            f"unreferenced rows {sorted(rows - referenced)[:5]}"
        )
        time.sleep(0.2)
    collected = keys_before - keys
    assert freed <= collected, sorted(freed - collected)[:5]
    assert moto_s3.uploads(bucket) == []

    # Every process that was not killed stops cleanly, and none logged an error.
    for process in [*apis, workers[0], workers[2]]:
        assert process.stop() in (0, -signal.SIGTERM), process.log()
    for process in [*apis, *workers]:
        for start in range(1, process.starts + 1):
            text = (process.log_dir / f"{process.name}-{start}.log").read_text(errors="replace")
            assert '"level":"error"' not in text and "Traceback" not in text, text[-4000:]
    print(
        f"\nseed {rng_seed}: seeded {sum(scene.sizes.values()) + REGIONS} nodes, their blobs in "
        f"{len(keys_before)} objects, in {seeded - began:.1f} s; processes up and files "
        f"uploaded {ready - seeded:.1f} s later; {len(ops)} calls, {len(totals)} tasks; workers "
        f"killed holding {killed} {killed_at - ready:.1f} s in; calls answered "
        f"{answered - ready:.1f} s in, tasks ended {finished - ready:.1f} s in; trees checked in "
        f"{checked - finished:.1f} s; {len(collected)} objects collected, bucket checked "
        f"{time.monotonic() - checked:.1f} s later"
    )
