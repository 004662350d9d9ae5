"""``CachingSQLTrackerStore``: Rasa's SQL tracker store, without reloading a conversation for
every message. ``python -m bot serve`` configures it (``bot/serve.py``); the tables, rows and
settings are exactly ``SQLTrackerStore``'s, so an existing database works unchanged.

Rasa 3.6's SQL tracker store, for every message of a conversation, reads all of the
conversation's events, decodes them from JSON, rebuilds each event object and replays them into a
new tracker; when it saves, it first counts the stored events to find the new ones. Both grow with
the conversation, and both run on the Rasa server's one event loop. Measured with
``bench/conversations.py``: about a quarter of the server's time per message in a 16-message
escalation conversation. (With SQLAlchemy 1.4's default for a SQLite file, each of those reads and
writes also opened a new connection.)

Here the tracker a message was handled with is kept in memory (for the ``cache_size`` most
recently used conversations, 100 unless the endpoints say otherwise), with the number of its
events stored and the id of the last one. The next message of that conversation gets the kept
tracker back when both still hold: its events are exactly the stored ones (it was saved after its
last change), and the database's last event id for the conversation is the kept one (no other
Rasa server, sharing the database, has added to it since). Checking that is one indexed query.
Otherwise, and after a new conversation session begins (Rasa then loads only the latest session),
the tracker is read from the database as Rasa does. Saving appends the events after the stored
ones without counting them first, in one multi-row INSERT.

Rasa handles one conversation's messages one at a time (its lock store; ``bot/lock_store.py``
across replicas), between reading the tracker and saving it, so a kept tracker is never used by
two messages at once.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

# Conversations kept: enough for every practitioner mid-conversation on a busy server (a kept
# 16-message escalation is about 0.1 MB). With 1,000, the server grew by 14% over 10,000 messages
# in `bench/conversations.py`; a conversation not kept is read from the database as Rasa does.
CACHE_SIZE = 100
# Rows in one INSERT: 6 values each, within SQLite's oldest limit of 999 values in a statement.
ROWS_PER_INSERT = 100
ROW_COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")  # an event's row


@dataclass
class _Kept:
    tracker: DialogueStateTracker
    stored: int  # how many of the tracker's events are in the database
    last_id: int  # the id of the last of them


class CachingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` keeping recently used conversations' trackers between messages."""

    def __init__(self, *args: Any, cache_size: int = CACHE_SIZE, **kwargs: Any) -> None:
        try:
            self._connect(*args, **kwargs)
        except (AttributeError, ImportError) as error:
            # Rasa would take these for "no such class" and fall back to keeping conversations
            # in memory only, losing them on a restart: stop instead.
            raise RuntimeError(f"the tracker store could not start: {error!r}") from error
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._cache_size = int(cache_size)

    def _connect(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 opens a new SQLite connection for every session of a file database
            # (NullPool), and this process sets its pragmas on each one (bot/rasa_server.py):
            # keep one open instead. The server uses it from its event loop's thread only.
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(
                url, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=4, connect_args={"check_same_thread": False}
            )
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        kept = self._kept.pop(sender_id, None)
        if kept is not None and len(kept.tracker.events) == kept.stored and self._last_id(sender_id) == kept.last_id:
            self._keep(sender_id, kept)
            return kept.tracker
        return self._load(sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        kept = self._kept.pop(sender_id, None)
        with self.session_scope() as session:
            if kept is not None and kept.tracker is tracker:
                stored = kept.stored
            else:  # a tracker this store did not hand out: find what is new as Rasa does
                stored = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()
            new = list(itertools.islice(tracker.events, stored, None))
            rows = [self._row(sender_id, event) for event in new]
            for start in range(0, len(rows), ROWS_PER_INSERT):
                # One INSERT of many rows, not one statement run for each row: the ORM would insert
                # row by row to learn each id, and the driver's executemany steps row by row, each
                # step letting go of the GIL and waiting to get it back from the NLU thread.
                chunk = rows[start : start + ROWS_PER_INSERT]
                sql, names = self._insert(len(chunk))
                values = {f"{column}_{i}": row[column] for i, row in enumerate(chunk) for column in ROW_COLUMNS}
                session.connection().exec_driver_sql(sql, tuple(values[name] for name in names) if names else values)
            # Rasa's lock store lets one server at a time handle the conversation: its last row is ours.
            last_id = self._last_id(sender_id, session)
            session.commit()
        if last_id is not None and not any(isinstance(event, SessionStarted) for event in new):
            # (after a new session begins, Rasa reads back only that session: load it next time)
            self._keep(sender_id, _Kept(tracker, len(tracker.events), last_id))

    @staticmethod
    def _row(sender_id: str, event: Any) -> dict[str, Any]:
        """The events table's row for ``event``, as ``SQLTrackerStore.save`` writes it."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    def _load(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The conversation's latest session from the database (``SQLTrackerStore._retrieve``),
        kept for the next message."""
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
            if not rows or not self.domain:
                return None
            tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows], self.domain.slots)
            self._keep(sender_id, _Kept(tracker, len(tracker.events), rows[-1].id))
            return tracker

    def _insert(self, rows: int) -> tuple[str, tuple[str, ...] | None]:
        """The SQL of an INSERT of ``rows`` events, each value a parameter ``<column>_<row>``, and
        the parameters' order when the driver takes them by position (SQLite) rather than by
        name (psycopg2). Compiled once for each number of rows: SQLAlchemy 1.4 compiles an INSERT
        of several rows again every time it runs one."""
        inserts = self.__dict__.setdefault("_inserts", {})
        if rows not in inserts:
            table = self.SQLEvent.__table__
            statement = table.insert().values([{column: sa.bindparam(f"{column}_{i}") for column in ROW_COLUMNS} for i in range(rows)])
            compiled = statement.compile(dialect=self.engine.dialect)
            inserts[rows] = (str(compiled), tuple(compiled.positiontup) if compiled.positional else None)
        return inserts[rows]

    @functools.cached_property
    def _last_id_query(self) -> Any:  # built once: building it was a tenth of a save
        return sa.select(sa.func.max(self.SQLEvent.id)).where(self.SQLEvent.sender_id == sa.bindparam("sender"))

    def _last_id(self, sender_id: str, session: Any = None) -> Optional[int]:
        if session is not None:
            return session.execute(self._last_id_query, {"sender": sender_id}).scalar()
        with self.engine.connect() as connection:
            return connection.execute(self._last_id_query, {"sender": sender_id}).scalar()

    def _keep(self, sender_id: str, kept: _Kept) -> None:
        self._kept[sender_id] = kept
        while len(self._kept) > self._cache_size:
            self._kept.popitem(last=False)
