"""Reads every message of a JetStream stream for `cargo xtask reliability --events`.

Prints one JSON object: {"messages": N, "ids": [Nats-Msg-Id of each message, in order]},
then deletes the stream when asked.

Usage: nats_stream.py URL STREAM [--delete]
"""

import asyncio
import json
import sys

import nats


async def main(url, stream, delete):
    connection = await nats.connect(url)
    jetstream = connection.jetstream()
    info = await jetstream.stream_info(stream)
    ids = []
    first, last = info.state.first_seq, info.state.last_seq
    for sequence in range(first, last + 1) if info.state.messages else []:
        message = await jetstream.get_msg(stream, sequence)
        ids.append((message.headers or {}).get("Nats-Msg-Id"))
    print(json.dumps({"messages": info.state.messages, "ids": ids}))
    if delete:
        await jetstream.delete_stream(stream)
    await connection.close()


asyncio.run(main(sys.argv[1], sys.argv[2], "--delete" in sys.argv[3:]))
