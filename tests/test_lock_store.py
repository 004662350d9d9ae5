"""The lock store for several Rasa servers, on a real (throwaway) Redis: tickets taken at the same
moment by different servers are all different, and one conversation's work runs one at a time."""

from __future__ import annotations

import asyncio
import threading

import pytest
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore
from bot.serve import lock_store


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    from tests.redis_server import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def store_for(url: str) -> AtomicRedisLockStore:
    """A lock store as a Rasa server builds it from the generated endpoints (its own connection)."""
    config = lock_store(url)
    return AtomicRedisLockStore(EndpointConfig(**{key: value for key, value in config.items() if key != "type"}))


def test_tickets_taken_at_the_same_moment_by_many_servers_are_all_different(redis_url):
    servers = [store_for(redis_url) for _ in range(12)]
    start, tickets = threading.Barrier(len(servers)), []

    def take(store) -> None:
        start.wait()
        tickets.extend(store.issue_ticket("conversation-1") for _ in range(5))

    threads = [threading.Thread(target=take, args=(store,)) for store in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(tickets) == list(range(60))
    lock = servers[0].get_lock("conversation-1")
    assert [ticket.number for ticket in lock.tickets] == list(range(60))  # none lost to another's write


def test_one_conversation_is_handled_one_message_at_a_time_across_servers(redis_url):
    servers = [store_for(redis_url) for _ in range(3)]
    inside, most_inside, order = [0], [0], []

    async def handle(store, number: int) -> None:
        async with store.lock("conversation-2", wait_time_in_seconds=0.01):
            inside[0] += 1
            most_inside[0] = max(most_inside[0], inside[0])
            await asyncio.sleep(0.01)
            order.append(number)
            inside[0] -= 1

    async def everyone() -> None:
        await asyncio.gather(*(handle(servers[number % 3], number) for number in range(15)))

    asyncio.run(everyone())
    assert most_inside[0] == 1 and sorted(order) == list(range(15))
    assert order == list(range(15))  # in the order the tickets were taken
    assert servers[1].get_lock("conversation-2") is None  # released: nothing left behind
