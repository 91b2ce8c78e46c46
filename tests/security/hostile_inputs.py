"""Generators of hostile HTTP input (hypothesis strategies), shared by the bounded suite in
``test_hostile.py`` and the long on-demand run in ``benchmarks/hostile_run.py``."""

from __future__ import annotations

import os
import random
import uuid

from hypothesis import strategies as st

#: The seed of this run's generation: AGENTS_TEST_HOSTILE_SEED to replay one, else a fresh random one (printed).
SEED = int(os.environ.get("AGENTS_TEST_HOSTILE_SEED") or random.SystemRandom().randrange(2**32))
OWNER = f"owner-{uuid.uuid4().hex}"
OWNED_SESSION = f"owned-{uuid.uuid4().hex[:12]}"

NASTY_SEGMENTS = ["..", "../..", "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e", "\\..\\..\\windows",
                  "Orders/../Admin", "Orders%00", "Orders\x00", "con", "a" * 300, "<script>", "'; DROP TABLE s;--",
                  "${jndi:ldap://x}", "{{7*7}}", "%0d%0aSet-Cookie:x=1", "\r\nX-Injected: 1", "\u202eOrders",
                  "Órders", "🙂", "Orders ", " ", "~", "$(id)", "`id`", "/etc/passwd", "C:\\Windows"]

json_leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=40))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=16)
segments = st.sampled_from(NASTY_SEGMENTS) | st.text(min_size=1, max_size=40)
session_ids = st.sampled_from([OWNED_SESSION, *NASTY_SEGMENTS]) | st.text(max_size=80)
#: Text no provider should see: lone surrogates (JSON carries them as \\udXXX escapes), NUL, escapes.
NASTY_TEXT = ["\ud800", "a\udfffb", "\ud83d", "\x00", "nul\x00byte", "\x1b[31mred", "\x07", "\x7f", "\ufffe",
              "\U0010ffff", "e\u0301", "\u202e", "\u2028", "\r\n\r\n"]
hostile_text = (st.text(max_size=200) | st.sampled_from(NASTY_TEXT)
                | st.lists(st.sampled_from(NASTY_TEXT) | st.text(max_size=8), max_size=6).map("".join))
chat_bodies = st.fixed_dictionaries({}, optional={
    "message": json_values | hostile_text | st.sampled_from(NASTY_SEGMENTS),
    "user_id": json_values | st.text(max_size=300) | hostile_text,
    "session_id": json_values | session_ids,
    "conversation_id": json_values | session_ids,
    "context": json_values,
    "stream": json_values,
    "async": json_values,
})
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=120).map(str.strip)
