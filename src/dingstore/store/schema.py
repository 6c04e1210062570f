"""The SQL schema, as SQLAlchemy Core tables. Alembic migrations create exactly this.

Times are integer milliseconds since the epoch (UTC); ids of spaces, dentries and tasks are 64-bit
integers handed out by ``id_blocks`` so that any process can make them without colliding.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

id_blocks = sa.Table(
    "id_blocks",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("next_value", sa.BigInteger, nullable=False),
)

orgs = sa.Table(
    "orgs",
    metadata,
    sa.Column("corp_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("union_id", sa.String(64), primary_key=True),
    sa.Column("corp_id", sa.String(64), sa.ForeignKey("orgs.corp_id"), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("corp_id", "user_id"),
)

suites = sa.Table(
    "suites",
    metadata,
    sa.Column("suite_key", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# An app acts for one org: an internal app (kind INTERNAL, with appKey/appSecret) or a
# third-party suite authorized by the org (kind SUITE, with the suite ticket of that grant).
apps = sa.Table(
    "apps",
    metadata,
    sa.Column("app_id", sa.String(64), primary_key=True),
    sa.Column("corp_id", sa.String(64), sa.ForeignKey("orgs.corp_id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("agent_id", sa.BigInteger, nullable=False),
    sa.Column("app_key", sa.String(64), unique=True),
    sa.Column("secret_hash", sa.String(128)),
    sa.Column("suite_key", sa.String(64), sa.ForeignKey("suites.suite_key")),
    sa.Column("suite_ticket", sa.String(128)),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("suite_key", "corp_id"),
)

# Access tokens are stored as their SHA-256 only; see service/tokens.py for how a still-valid
# token can be handed out again without keeping it.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("app_id", sa.String(64), sa.ForeignKey("apps.app_id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("reusable", sa.Boolean, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("corp_id", sa.String(64), sa.ForeignKey("orgs.corp_id"), nullable=False),
    sa.Column("creator_id", sa.String(64), nullable=False),
    sa.Column("app_id", sa.String(64), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("total_count", sa.BigInteger),
    sa.Column("success_count", sa.BigInteger, nullable=False, default=0),
    sa.Column("fail_count", sa.BigInteger, nullable=False, default=0),
    sa.Column("fail_message", sa.String(256)),
    sa.Column("begin_time", sa.BigInteger),
    sa.Column("end_time", sa.BigInteger),
    # Engine state: what to do, how far it got, and who holds it (the task engine).
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("cursor", sa.JSON),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.BigInteger),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
    # The extensions (docs/tasks.md "Extensions"): the space the task's request named (the task
    # list's filter; NULL for tasks written before), who asked to cancel it (its worker stops at
    # the next step), and the task this one retries (unique: a task is retried once).
    sa.Column("space_id", sa.BigInteger),
    sa.Column("canceled_by", sa.String(64)),
    sa.Column("retry_of", sa.BigInteger),
    sa.Index("ix_tasks_end_time", "end_time"),
    sa.Index("ix_tasks_status_lease", "status", "lease_expires_at"),
    sa.Index("ix_tasks_corp_id_created_at", "corp_id", "created_at"),
    sa.Index("ix_tasks_retry_of", "retry_of", unique=True),
)

# Idempotency keys (docs/tasks.md "Idempotency"): the first answer of a request made with an
# ``Idempotency-Key`` header, per org and app, for 24 hours. ``status_code`` NULL: the first
# request is still running.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("corp_id", sa.String(64), primary_key=True),
    sa.Column("app_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response", sa.Text),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Index("ix_idempotency_keys_expires_at", "expires_at"),
)

# --- spaces and the dentry tree -----------------------------------------------------------

spaces = sa.Table(
    "spaces",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("corp_id", sa.String(64), sa.ForeignKey("orgs.corp_id"), nullable=False),
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(256)),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column("creator_id", sa.String(64), nullable=False),
    sa.Column("modifier_id", sa.String(64), nullable=False),
    sa.Column("quota", sa.BigInteger),
    sa.Column("used_quota", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("scene", sa.String(128), nullable=False),
    sa.Column("scene_id", sa.String(128), nullable=False),
    sa.Column("can_search", sa.Boolean, nullable=False),
    sa.Column("can_rename", sa.Boolean, nullable=False),
    sa.Column("can_record_recent_file", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("corp_id", "app_id", "scene", "scene_id"),
)

# Blobs are immutable file contents, shared by every version that references them; a blob whose
# count falls to zero is collected (its bytes deleted) after a grace period.
blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("md5", sa.String(32)),
    sa.Column("refcount", sa.BigInteger, nullable=False),
    sa.Column("released_at", sa.BigInteger),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_blobs_released_at", "released_at"),
)

_LIVE = sa.text("status = 'NORMAL'")

dentries = sa.Table(
    "dentries",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("space_id", sa.BigInteger, sa.ForeignKey("spaces.id"), nullable=False),
    sa.Column("parent_id", sa.BigInteger, nullable=False),  # 0 = the space's root
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("size", sa.BigInteger),  # files only
    sa.Column("blob_id", sa.BigInteger),  # files only: the current version's blob
    sa.Column("version", sa.BigInteger),  # files only
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("uuid", sa.String(64), nullable=False, unique=True),
    sa.Column("creator_id", sa.String(64), nullable=False),
    sa.Column("modifier_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
    sa.Column("deleted_at", sa.BigInteger),
    # The node's subtree in two numbers, kept exact by every change (``dentries.grow``): its
    # live descendants (those under no recycled folder), and the bytes of every stored version
    # of it and of them. Counting, moving or recycling a folder reads them: O(1), whatever its
    # size.
    sa.Column("descendants", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("stored", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    # No two live siblings share a name.
    sa.Index(
        "uq_dentries_live_name",
        "space_id",
        "parent_id",
        "name",
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    ),
    # Keyset pagination of one folder, for each order ListDentries offers, and of a space.
    sa.Index("ix_dentries_by_modified", "space_id", "parent_id", "modified_at", "id"),
    sa.Index("ix_dentries_by_created", "space_id", "parent_id", "created_at", "id"),
    sa.Index("ix_dentries_by_size", "space_id", "parent_id", "size", "id"),
    sa.Index("ix_dentries_space_modified", "space_id", "modified_at", "id"),
)

# Every stored version of a file, the current one included (it mirrors the dentry's row).
dentry_versions = sa.Table(
    "dentry_versions",
    metadata,
    sa.Column("dentry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("space_id", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("blob_id", sa.BigInteger, nullable=False),
    sa.Column("modifier_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

app_properties = sa.Table(
    "app_properties",
    metadata,
    sa.Column("dentry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("owner_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("visibility", sa.String(8), nullable=False),
)

# An upload in progress: its bytes go to ``blobs/<blob_id>`` (or its parts), and CommitFile
# turns it into a version. Expired uploads are collected with their bytes.
uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("upload_key", sa.String(64), primary_key=True),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Column("space_id", sa.BigInteger, nullable=False),
    sa.Column("creator_id", sa.String(64), nullable=False),
    sa.Column("blob_id", sa.BigInteger, nullable=False),
    sa.Column("multipart_id", sa.String(256)),
    sa.Column("size", sa.BigInteger),
    sa.Column("md5", sa.String(32)),
    sa.Column("name", sa.String(1024)),
    sa.Column("parent_id", sa.BigInteger),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
)

recycle_items = sa.Table(
    "recycle_items",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Column("space_id", sa.BigInteger, nullable=False),
    sa.Column("dentry_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("original_parent_id", sa.BigInteger, nullable=False),
    sa.Column("original_name", sa.String(1024), nullable=False),
    sa.Column("original_path", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("operator_id", sa.String(64), nullable=False),
    sa.Column("operator_time", sa.BigInteger, nullable=False),
    sa.Index("ix_recycle_items_corp_time", "corp_id", "operator_time", "id"),
)

# --- the task engine's working sets -----------------------------------------------------------

# The subtree a bulk task covers, snapshotted when it starts and numbered 1… in walk order
# (``seq``: by depth, then id): a step is a range of ``seq``, so every node is settled exactly
# once and a step's statements name it by two numbers.
task_nodes = sa.Table(
    "task_nodes",
    metadata,
    sa.Column("task_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("node_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("parent_id", sa.BigInteger, nullable=False),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("new_id", sa.BigInteger),
    sa.Column("failed", sa.Boolean, nullable=False),
    # OVERWRITE merges: the node met a same-name entry in the target and went into it (a folder
    # merged into a folder, a file made a new version of a file or replacing it); ``new_id``
    # is then that entry's id.
    sa.Column("merged", sa.Boolean, nullable=False, server_default=sa.false()),
    # Files: the size and blob of the current version when snapshotted (the subtree is held,
    # so they stay so while the task runs).
    sa.Column("size", sa.BigInteger),
    sa.Column("blob_id", sa.BigInteger),
    sa.Column("seq", sa.BigInteger),
    sa.Index("ix_task_nodes_seq", "task_id", "seq"),
)

# Subtrees a running task holds: other operations on them (or on their ancestors) are refused
# with operationConcurrentControl until the task ends. A tree change reads the holds of its org
# (``corp_id``), not of its space only: the nodes a move across spaces has yet to carry are still
# in the space it left, under the folder held in the space it went to.
task_holds = sa.Table(
    "task_holds",
    metadata,
    sa.Column("task_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("dentry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("space_id", sa.BigInteger, nullable=False),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Index("ix_task_holds_corp", "corp_id"),
)

# --- permissions ------------------------------------------------------------------------------

# Users' departments, tags and conversations, as the admin CLI records them: what a grant to a
# DEPT, TAG or CONVERSATION member reaches.
group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("corp_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # DEPT, TAG or CONVERSATION
    sa.Column("group_id", sa.String(128), primary_key=True),
    sa.Column("union_id", sa.String(64), primary_key=True),
    sa.Index("ix_group_members_user", "union_id"),
)

# A role granted on a node (``dentry_id`` 0: the whole space) to a member. ``member`` is the one
# key a user's memberships are matched on (service/access.py: ``USER:<unionId>``,
# ``ORG:<corpId>``, ``DEPT:<corpId>:<deptId>``, ...); ``rank`` orders the roles, so a node's
# effective role is the highest rank granted on it or on an ancestor. An APP space's grants
# expire (``expires_at``); NULL is permanent.
permissions = sa.Table(
    "permissions",
    metadata,
    sa.Column("space_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("dentry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("member", sa.String(256), primary_key=True),
    sa.Column("role_id", sa.String(16), primary_key=True),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("member_type", sa.String(16), nullable=False),
    sa.Column("member_id", sa.String(128), nullable=False),
    sa.Column("member_corp_id", sa.String(64)),
    sa.Column("expires_at", sa.BigInteger),
    sa.Column("operator_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
    sa.Index("ix_permissions_member", "space_id", "member"),
    sa.Index("ix_permissions_expires_at", "expires_at"),
)

# --- change events ----------------------------------------------------------------------------

# What an app asked to hear (SubscribeEvent): its org (scope ORG, ``scope_id`` the corpId) or one
# space (scope SPACE, ``scope_id`` the space id as text).
event_subscriptions = sa.Table(
    "event_subscriptions",
    metadata,
    sa.Column("corp_id", sa.String(64), primary_key=True),
    sa.Column("scope", sa.String(8), primary_key=True),
    sa.Column("scope_id", sa.String(64), primary_key=True),
    sa.Column("app_id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# Where an internal app wants its events pushed (HTTP push, DingTalk's callback encryption). An
# app with a row here is in push mode; without one, its events wait for a Stream connection.
app_callbacks = sa.Table(
    "app_callbacks",
    metadata,
    sa.Column("app_id", sa.String(64), primary_key=True),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("token", sa.String(128), nullable=False),
    sa.Column("aes_key", sa.String(43), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
)

# The outbox and the delivery log in one: a row per change and subscribed app, written in the
# change's own transaction (store/events.py). ``id`` grows with every change of a space in commit
# order (a space's changes take its tree lock) and is never reused (SQLite AUTOINCREMENT): it is
# the event's id and its per-space sequence. ``tx`` is the writing transaction's id on PostgreSQL
# (0 on SQLite), which orders the pull feed by commit (store/events.py ``feed``).
events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("space_id", sa.BigInteger, nullable=False),
    sa.Column("dentry_id", sa.BigInteger, nullable=False),
    sa.Column("dentry_type", sa.String(8), nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("union_id", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(8), nullable=False),
    sa.Column("scope_id", sa.String(64), nullable=False),
    sa.Column("born_at", sa.BigInteger, nullable=False),
    sa.Column("tx", sa.BigInteger, nullable=False),
    # delivery: PENDING until acknowledged (DELIVERED) or given up (FAILED)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("due_at", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", sa.BigInteger),
    sa.Column("last_error", sa.String(256)),
    sa.Column("delivered_at", sa.BigInteger),
    sa.Index("ix_events_due", "corp_id", "app_id", "status", "due_at", "id"),
    sa.Index("ix_events_dentry", "corp_id", "app_id", "dentry_id", "id"),
    sa.Index("ix_events_feed", "corp_id", "app_id", "tx", "id"),
    sa.Index("ix_events_born_at", "born_at"),
    sqlite_autoincrement=True,
)

# What apps registered to open a file with (RegisterOpenInfo): one URL per app, file and open
# type (PREVIEW / EDIT), under the app's provider name. GetDentryOpenInfo answers the calling
# app's own first, then another app's (the latest), then dingstore's own preview page.
open_infos = sa.Table(
    "open_infos",
    metadata,
    sa.Column("corp_id", sa.String(64), primary_key=True),
    sa.Column("dentry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("app_id", sa.String(64), primary_key=True),
    sa.Column("open_type", sa.String(16), primary_key=True),
    sa.Column("space_id", sa.BigInteger, nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("union_id", sa.String(64), nullable=False),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
)

# The browser session each preview link was first opened in (docs/previews.md, "Open info"): a
# link works only with the cookie whose hash is here, until ``expires_at``.
preview_sessions = sa.Table(
    "preview_sessions",
    metadata,
    sa.Column("link_id", sa.String(32), primary_key=True),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Column("session_hash", sa.String(64), nullable=False),
    sa.Column("claimed_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Index("ix_preview_sessions_expires_at", "expires_at"),
)

# --- thumbnails -------------------------------------------------------------------------------

# The thumbnail of a file version's content, keyed by its blob: versions and copies that share a
# blob share its thumbnail, and it goes when the blob's bytes are collected (service/thumbnails/).
# PENDING from the commit that stored the blob until a worker made it (READY: its bytes under
# ``thumbnails/<source_blob_id>`` in the blob store) or found it cannot (FAILED, ``reason``).
thumbnails = sa.Table(
    "thumbnails",
    metadata,
    sa.Column("corp_id", sa.String(64), primary_key=True),
    sa.Column("source_blob_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("media_type", sa.String(32)),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("size", sa.BigInteger),
    sa.Column("reason", sa.String(32)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
    sa.Index("ix_thumbnails_source_blob_id", "source_blob_id"),
)

# Online editing (WOPI): the lock an office server holds on a file while it edits it (one per
# file, ``lock_id`` the office server's own string, up to WOPI's 1024 characters), which expires
# unless refreshed; and the refresh tokens GetWebOfficeUrl handed out, kept as their SHA-256
# (never the token), each usable once (store/wopi.py).
wopi_locks = sa.Table(
    "wopi_locks",
    metadata,
    sa.Column("dentry_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Column("space_id", sa.BigInteger, nullable=False),
    sa.Column("lock_id", sa.String(1024), nullable=False),
    sa.Column("union_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
)

wopi_refresh_tokens = sa.Table(
    "wopi_refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("union_id", sa.String(64), nullable=False),
    sa.Column("space_id", sa.BigInteger, nullable=False),
    sa.Column("dentry_id", sa.BigInteger, nullable=False),
    # the access token issued with it (its ``jti``): the pair is exchanged together
    sa.Column("access_id", sa.String(32), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
)

# The web console's sign-in (service/console.py): one-time sign-in links (``kind`` LINK) and the
# sessions they open (SESSION), each kept as the SHA-256 of its token, never the token.
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("corp_id", sa.String(64), nullable=False),
    sa.Column("union_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
)
