"""Chat history timings: open, list, active path, trace saves while streaming.

Run: .venv/bin/python tests/benchmarks/bench_store.py [trace]
Prints medians of repeated runs in one process, and ratios measured side by side: packing
real steps of the starter model in the TWT2 form against its JSON form, a streaming
save that appends a chunk against one that rewrites the whole trace, FTS5 search against a
LIKE scan. With `trace`, only the packing comparison runs.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from tokenwise.core.chat.store import ChatStore
from tokenwise.core.trace.json import step_from_dict, step_to_dict
from tokenwise.core.trace.packed import pack_steps, unpack_steps
from tokenwise.core.trace.records import Candidate, Stage, Step

N_CONVERSATIONS = 500
PATH_LENGTH = 2000
TRACE_STEPS = 500
STEPS_PER_SAVE = 30  # about one second of streaming


def median_ms(fn: Callable[[], object], repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def make_steps(n: int, rng: random.Random, k: int = 32) -> list[Step]:
    """Steps shaped like the engine's: top-32 candidates and five stages."""
    words = ["the", " token", " 你好", " model", "\n", " probability", " 工", " is"]
    steps = []
    for i in range(n):
        probs = sorted((rng.random() for _ in range(k)), reverse=True)
        cands = tuple(
            Candidate(rng.randrange(49152), rng.choice(words).encode(), rng.uniform(-5, 20), p / k)
            for p in probs
        )
        stages = tuple(
            Stage(name, name, rng.randrange(1, 40), tuple(c.token_id for c in cands[:8]),
                  tuple(c.prob for c in cands[:8]))
            for name in ("penalties", "top_k", "top_p", "min_p", "temperature")
        )
        word = rng.choice(words)
        steps.append(Step(i, cands[0].token_id, word.encode(), word, cands[0].prob, 1,
                          cands[0].logit, 12.5, 2.25, cands, stages, 0.9, elapsed_ms=10.5))
    return steps


def real_steps() -> list[list[Step]]:
    """Replies of the starter model: one up to 500 tokens, one in Chinese with penalties."""
    from tokenwise.core.engine.local import Engine
    from tokenwise.core.interface import ChatMessage, GenerationRequest
    from tokenwise.core.models.starter import starter_model_path
    from tokenwise.core.sampling.settings import PRESETS

    balanced = PRESETS["Balanced"]
    asks = [("Write a short story about a robot who learns to paint.",
             balanced.with_(seed=1, max_tokens=500)),
            ("用中文写一首关于秋天的诗。",
             balanced.with_(seed=2, max_tokens=300, repeat_penalty=1.2))]
    with Engine(starter_model_path(), n_ctx=2048) as engine:
        return [
            list(engine.generate(GenerationRequest(
                engine.render_chat([ChatMessage("user", ask)]).token_ids, settings)))
            for ask, settings in asks
        ]


def side_by_side_ms(fns: list[Callable[[], object]], repeat: int = 25) -> list[float]:
    """Medians of the functions run in turn, so that load on the machine hits all alike.

    Each result is kept until its time is taken: freeing it is the caller's cost, not theirs.
    """
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            result = fn()
            spent.append((time.perf_counter() - start) * 1000)
            del result
    return [statistics.median(spent) for spent in times]


def trace_packing() -> None:
    start = time.perf_counter()
    replies = real_steps()
    print(f"real steps: {[len(r) for r in replies]} from the starter model "
          f"in {time.perf_counter() - start:.1f} s")
    for steps in replies:
        n = len(steps)
        old = json.dumps([step_to_dict(s) for s in steps]).encode()
        new = pack_steps(steps)
        pack_old, pack_new = side_by_side_ms(
            [lambda s=steps: json.dumps([step_to_dict(x) for x in s]).encode(),
             lambda s=steps: pack_steps(s)])
        unpack_old, unpack_new = side_by_side_ms(
            [lambda b=old: [step_from_dict(d) for d in json.loads(b)],
             lambda b=new: unpack_steps(b)])
        print(f"{n} steps, per step: JSON {pack_old / n:.4f} ms, TWT2 {pack_new / n:.4f} ms "
              f"({pack_old / pack_new:.1f}x); read JSON {unpack_old / n:.4f} ms, "
              f"TWT2 {unpack_new / n:.4f} ms ({unpack_old / unpack_new:.1f}x); "
              f"{len(old) / n:.0f} -> {len(new) / n:.0f} bytes "
              f"({len(new) / len(old):.2f}x)")
        print(f"  open a chat of ten such {n}-step replies: unpack {10 * unpack_old:.0f} ms "
              f"-> {10 * unpack_new:.0f} ms (budget for a switch: 100 ms)")


def vocabulary(rng: random.Random, n: int = 4000) -> list[str]:
    syllables = ["to", "ken", "sam", "pl", "ing", "be", "am", "en", "tro", "py", "词", "元",
                 "mo", "del", "ra", "ti", "on", "co", "de", "lo", "git", "s"]
    return ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(n)]


def fill(path: Path, rng: random.Random) -> tuple[int, int]:
    """500 conversations of 10 messages, and one of 2,000 messages in one path."""
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf, like real text
    with ChatStore(path) as store:
        for c in range(N_CONVERSATIONS):
            conv = store.create_conversation(f"Chat {c}")
            parent = None
            for i in range(10):
                role = "user" if i % 2 == 0 else "assistant"
                text = f"message {i} of chat {c}: " + " ".join(
                    rng.choices(words, weights, k=60)
                )
                if c == 123 and i == 5:
                    text += " the rare phrase: speculative decoding"
                parent = store.add_message(conv.id, parent, role, text).id
        long_conv = store.create_conversation("Long chat")
        parent = None
        for i in range(PATH_LENGTH):
            role = "user" if i % 2 == 0 else "assistant"
            grandparent = parent
            parent = store.add_message(long_conv.id, parent, role, f"turn {i} " + "word " * 80).id
            if i % 10 == 9:  # a few regenerated replies: versions along the path
                store.add_message(long_conv.id, grandparent, role, "another version")
                store.set_active_version(parent)
        return long_conv.id, parent or 0


def main() -> None:
    trace_packing()
    if sys.argv[1:] == ["trace"]:
        return
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        start = time.perf_counter()
        long_id, _ = fill(path, rng)
        print(f"fill: {N_CONVERSATIONS} chats x 10 + one of {PATH_LENGTH} messages "
              f"in {time.perf_counter() - start:.1f} s ({path.stat().st_size / 1e6:.1f} MB)")

        open_ms = median_ms(lambda: ChatStore(path).close())
        print(f"open an existing file          {open_ms:7.2f} ms")
        store = ChatStore(path)
        assert len(store.list_conversations()) == N_CONVERSATIONS + 1
        print(f"list {N_CONVERSATIONS + 1} conversations          "
              f"{median_ms(store.list_conversations):7.2f} ms")
        assert len(store.active_path(long_id)) == PATH_LENGTH
        path_ms = median_ms(lambda: store.active_path(long_id))
        raw = sqlite3.connect(path)
        rows_sql = "SELECT * FROM messages WHERE conversation_id = ?"  # every version, no objects
        rows_ms = median_ms(lambda: raw.execute(rows_sql, (long_id,)).fetchall())
        print(f"active_path of {PATH_LENGTH} messages     {path_ms:7.2f} ms (budget 20 ms); "
              f"bare SELECT of its rows {rows_ms:.2f} ms (ratio {path_ms / rows_ms:.1f}x)")

        like_path = path.with_name("like.db")  # the same data without the FTS5 index
        with sqlite3.connect(like_path) as copy:
            raw.backup(copy)
            copy.execute("DROP TABLE messages_fts")
            for trigger in ("insert", "delete", "update"):
                copy.execute(f"DROP TRIGGER messages_fts_{trigger}")
        like_store = ChatStore(like_path)
        assert store.full_text_search
        assert not like_store.full_text_search
        for query in ("speculative decoding", "message 5 of chat 12", "no such text"):
            hits = len(store.list_conversations(query))
            assert hits == len(like_store.list_conversations(query))
            fts_ms = median_ms(lambda q=query: store.list_conversations(q), 7)
            like_ms = median_ms(lambda q=query: like_store.list_conversations(q), 7)
            print(f"search {query!r} ({hits} chats): FTS5 {fts_ms:.2f} ms, "
                  f"LIKE {like_ms:.2f} ms (LIKE / FTS5 = {like_ms / fts_ms:.1f}x)")
        like_store.close()

        steps = make_steps(TRACE_STEPS, rng)
        conv = store.create_conversation("trace")
        one_shot = store.add_message(conv.id, None, "assistant", "")
        print(f"pack {TRACE_STEPS} steps: {len(pack_steps(steps)) / TRACE_STEPS:.0f} bytes/step")
        print(f"save trace of {TRACE_STEPS} steps (one call)  "
              f"{median_ms(lambda: store.save_trace(one_shot.id, steps), 1):7.2f} ms")
        print(f"load trace of {TRACE_STEPS} steps            "
              f"{median_ms(lambda: store.load_trace(one_shot.id)):7.2f} ms")

        # streaming: one save per second of new steps, plus the content update beside it
        append_costs, rewrite_costs = [], []
        streamed = store.add_message(conv.id, None, "assistant", "", complete=False)
        rewritten = store.add_message(conv.id, None, "assistant", "", complete=False)
        for end in range(STEPS_PER_SAVE, TRACE_STEPS + 1, STEPS_PER_SAVE):
            text = "".join(s.text for s in steps[:end])
            t0 = time.perf_counter()
            store.update_message(streamed.id, content=text)
            store.save_trace(streamed.id, steps[:end])
            t1 = time.perf_counter()
            store.update_message(rewritten.id, content=text)
            with raw:  # the naive way: the whole trace rewritten on every save
                raw.execute(
                    "REPLACE INTO trace_chunks VALUES (?, 0, 0, ?, ?, ?, ?)",
                    (rewritten.id, end, end - 1, steps[end - 1].token_id,
                     pack_steps(steps[:end])),
                )
            t2 = time.perf_counter()
            append_costs.append((t1 - t0) * 1000)
            rewrite_costs.append((t2 - t1) * 1000)
        assert store.load_trace(streamed.id) == store.load_trace(rewritten.id)
        print(f"streaming save, last of {len(append_costs)}: append {append_costs[-1]:.2f} ms, "
              f"rewrite {rewrite_costs[-1]:.2f} ms "
              f"(rewrite / append = {rewrite_costs[-1] / append_costs[-1]:.1f}x); "
              f"median append {statistics.median(append_costs):.2f} ms")
        raw.close()
        store.close()


if __name__ == "__main__":
    main()
