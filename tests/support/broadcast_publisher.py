"""A publisher process: ``--count`` events on each ``--channel``, interleaved
at random with short pauses; prints the ids per channel as JSON at the end.

Run with ``DJANGO_SETTINGS_MODULE=tests.support.broadcast_settings``.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channel", action="append", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--pause", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    django.setup()
    from django_streamkit.broadcast import publish

    rng = random.Random(args.seed)
    todo = [c for c in args.channel for _ in range(args.count)]
    rng.shuffle(todo)
    sent = dict.fromkeys(args.channel, 0)
    ids: dict[str, list[str]] = {c: [] for c in args.channel}
    for channel in todo:
        event_id = publish(channel, {"channel": channel, "n": sent[channel]})
        assert event_id is not None
        ids[channel].append(event_id)
        sent[channel] += 1
        time.sleep(rng.uniform(0, args.pause))
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
