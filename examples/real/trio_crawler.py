"""A trio crawler over an in-memory site map built at start-up: a nursery of workers, memory
channels and a semaphore, visiting every page once. Needs: trio."""
import math

import trio

SITE = {
    "/": ["/docs", "/blog", "/about"],
    "/docs": ["/docs/install", "/docs/api", "/"],
    "/docs/install": ["/docs"],
    "/docs/api": ["/docs", "/docs/api/v2"],
    "/docs/api/v2": [],
    "/blog": ["/blog/2024", "/about"],
    "/blog/2024": ["/blog"],
    "/about": ["/"],
}
LATENCY = {page: (len(page) % 3) * 0.001 for page in SITE}


async def fetch(page, limit):
    async with limit:
        await trio.sleep(LATENCY[page])
        return SITE[page]


async def crawl(start, workers=3):
    seen, fetched = {start}, []
    send, receive = trio.open_memory_channel(math.inf)
    limit = trio.Semaphore(2)
    outstanding = 1

    async def worker(receive):
        nonlocal outstanding
        async with receive:
            async for page in receive:
                links = await fetch(page, limit)
                fetched.append((page, len(links)))
                for link in links:
                    if link not in seen:
                        seen.add(link)
                        outstanding += 1
                        send.send_nowait(link)
                outstanding -= 1
                if outstanding == 0:
                    await send.aclose()

    async with trio.open_nursery() as nursery:
        for _ in range(workers):
            nursery.start_soon(worker, receive.clone())
        receive.close()
        send.send_nowait(start)
    return sorted(fetched)


async def with_deadline():
    with trio.move_on_after(0.01) as scope:
        await trio.sleep(1)
    return scope.cancelled_caught


if __name__ == "__main__":
    fetched = trio.run(crawl, "/")
    print(len(fetched), fetched)
    print("links followed:", sum(n for _, n in fetched))
    print("deadline hit:", trio.run(with_deadline))
