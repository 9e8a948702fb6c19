"""An aiohttp web application (routes, middleware, app state) served on 127.0.0.1 and queried
with aiohttp's ClientSession in the same program. Needs: aiohttp."""
import asyncio
import json

from aiohttp import ClientSession, web

routes = web.RouteTableDef()
GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}


@routes.get("/greet/{lang}")
async def greet(request):
    lang = request.match_info["lang"]
    name = request.query.get("name", "world")
    if lang not in GREETINGS:
        raise web.HTTPNotFound(text=f"no greeting for {lang}")
    request.app["hits"][lang] = request.app["hits"].get(lang, 0) + 1
    return web.json_response({"text": f"{GREETINGS[lang]}, {name}!"})


@routes.post("/echo")
async def echo(request):
    body = await request.json()
    return web.json_response({"received": body, "keys": sorted(body)})


@routes.get("/stats")
async def stats(request):
    return web.json_response(dict(sorted(request.app["hits"].items())))


@web.middleware
async def server_header(request, handler):
    response = await handler(request)
    response.headers["X-Service"] = "greeter"
    return response


def make_app():
    app = web.Application(middlewares=[server_header])
    app["hits"] = {}
    app.add_routes(routes)
    return app


app = make_app()


async def main():
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    async with ClientSession() as session:
        for path in ["/greet/en", "/greet/fr?name=Ada", "/greet/xx", "/greet/en?name=Bob"]:
            async with session.get(base + path) as resp:
                print(resp.status, resp.headers.get("X-Service"), await resp.text())
        async with session.post(base + "/echo", json={"b": 2, "a": [1, 2]}) as resp:
            print(resp.status, json.dumps(await resp.json(), sort_keys=True))
        async with session.get(base + "/stats") as resp:
            print(await resp.json())
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
