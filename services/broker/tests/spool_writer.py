"""A spool writer run as a child process by test_spool (not a test module).

It appends numbered packets as fast as it can and prints each sequence number once the spool
says it is durable, i.e. when a broker would ack it; the parent kills it with SIGKILL.
"""

import asyncio
import sys
from pathlib import Path

from vohub.broker.spool import Spool


async def main(directory: Path) -> None:
    spool = Spool.open(directory, segment_bytes=200_000)
    n = spool.next_seq
    while True:
        batch = [
            (n + i, spool.append(f"ivo://vohub.test/crash#{n + i}", b"x" * (n + i) * 7, 0.0))
            for i in range(8)
        ]
        n += 8
        for seq, durable in batch:
            await durable
            print(seq, flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
