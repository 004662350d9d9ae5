"""Rasa's lock store for several Rasa servers: Redis, with every change to a lock atomic.

Rasa 3.6's ``RedisLockStore`` keeps each conversation's ticket lock as one JSON value and changes
it in separate commands (read it, change it, write it back). Two Rasa servers that receive a
message for one conversation at the same moment therefore both read "no lock", both take the
first ticket and both go ahead: the conversation's messages are handled at once, and one
server's events overwrite the other's (RasaHQ/rasa#9213; Rasa's fix, ``ConcurrentRedisLockStore``,
went to Rasa Pro only). Releasing has the same race, so a waiting server can find its lock
deleted under it and fail the message.

``AtomicRedisLockStore`` keeps Rasa's ticket lock and its storage format, and makes each
read-change-write one Redis transaction (``WATCH`` / ``MULTI`` / ``EXEC``, retried when another
server changed the lock in between): tickets are unique, and one conversation's messages are
handled one at a time, in the order they arrived. ``bot.serve.write_endpoints`` names it in
``endpoints.yml`` with the keys of Rasa's own Redis lock store (``url`` is the host, ``port``,
``db``, ``username``, ``password``, ``use_ssl``).
"""

from __future__ import annotations

import json
from typing import Callable, Optional, Text, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

Result = TypeVar("Result")


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store, safe for several Rasa servers sharing one Redis."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def _change(
        self, conversation_id: Text, change: Callable[[Optional[TicketLock]], tuple[Optional[TicketLock], Result]]
    ) -> Result:
        """Apply ``change`` (the stored lock or None -> the lock to store, or None to delete it;
        and a result) as one transaction; its result."""
        key = self.key_prefix + conversation_id

        def attempt(pipe) -> Result:
            stored = pipe.get(key)
            lock, result = change(TicketLock.from_dict(json.loads(stored)) if stored else None)
            pipe.multi()
            if lock is None:
                pipe.delete(key)
            else:
                pipe.set(key, lock.dumps())
            return result

        return self.red.transaction(attempt, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """A new ticket for the conversation's lock (the lock made if there is none)."""

        def issue(lock: Optional[TicketLock]) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as error:  # as Rasa's own: the message fails with a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        """Drop the lock's expired tickets (a server that died holding one)."""

        def prune(lock: Optional[TicketLock]) -> tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, prune)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove the ticket that has been served."""

        def finish(lock: Optional[TicketLock]) -> tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove the served ticket, and the lock with it if no one else holds a ticket (in one
        step: a ticket issued meanwhile keeps the lock)."""

        def finish(lock: Optional[TicketLock]) -> tuple[Optional[TicketLock], None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish)
