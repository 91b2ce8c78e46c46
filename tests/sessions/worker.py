"""Another process taking turns on a session: ``python worker.py SESSION_ID TURNS LABEL``.

It opens the store the environment selects (``create_session_store()``), appends ``TURNS`` user messages
``LABEL-0``, ``LABEL-1``... each in a load/modify/save turn retried on ``SessionBusyError``, and prints the
number of retries.
"""

from __future__ import annotations

import asyncio
import random
import sys

from azurefunctions.agents.errors import SessionBusyError
from azurefunctions.agents.messages import Message
from azurefunctions.agents.sessions import Session, SessionStore, create_session_store

MAX_ATTEMPTS = 2000


async def take_turn(store: SessionStore, session_id: str, text: str) -> int:
    """Append one message, retrying on a lost race; returns how many attempts lost."""
    for attempt in range(MAX_ATTEMPTS):
        session = await store.load(session_id) or Session(id=session_id, user_id="owner")
        session.messages.append(Message(role="user", content=text))
        await asyncio.sleep(
            0
        )  # a turn does work between load and save (the model call): others run meanwhile
        try:
            await store.save(session)
            return attempt
        except SessionBusyError:
            await asyncio.sleep(random.uniform(0, 0.01))
    raise RuntimeError(f"turn {text} lost {MAX_ATTEMPTS} races in a row")


async def main(session_id: str, turns: int, label: str) -> None:
    store = create_session_store()
    try:
        retries = 0
        for index in range(turns):
            retries += await take_turn(store, session_id, f"{label}-{index}")
        print(retries)
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
