"""An anyio pipeline: producer, workers and a collector joined by memory object streams in a
task group, with a capacity limiter and timeouts; the job list is built at start-up. Needs: anyio."""
import anyio

JOBS = [{"id": i, "size": (i * 7) % 5 + 1} for i in range(12)]
LIMITER = anyio.CapacityLimiter(3)


async def producer(send):
    async with send:
        for job in JOBS:
            await send.send(job)


async def worker(name, receive, results):
    async with receive, results:
        async for job in receive:
            async with LIMITER:
                await anyio.sleep(0)
                await results.send((job["id"], job["size"] ** 2, name))


async def main():
    results_send, results_receive = anyio.create_memory_object_stream(100)
    job_send, job_receive = anyio.create_memory_object_stream(4)
    collected = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer, job_send)
        for n in range(3):
            tg.start_soon(worker, f"w{n}", job_receive.clone(), results_send.clone())
        job_receive.close()
        results_send.close()
        async with results_receive:
            async for item in results_receive:
                collected.append(item)
    collected.sort()
    print([(i, sq) for i, sq, _ in collected])
    print(sum(sq for _, sq, _ in collected), len({w for _, _, w in collected}) >= 1)
    with anyio.move_on_after(0.05) as scope:
        await anyio.sleep(5)
    print("timed out:", scope.cancelled_caught)
    event = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: _set_later(event))
        await event.wait()
    print("event set:", event.is_set(), LIMITER.total_tokens)


async def _set_later(event):
    await anyio.sleep(0.01)
    event.set()


if __name__ == "__main__":
    anyio.run(main)
