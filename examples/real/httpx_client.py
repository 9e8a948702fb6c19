"""httpx clients configured at start-up (base headers, timeouts, event hooks, a sync and an
async client) against a local http.server the program starts. Needs: httpx."""
import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx

EVENTS = []


def on_request(request):
    EVENTS.append(f"-> {request.method} {request.url.path}")


def on_response(response):
    EVENTS.append(f"<- {response.status_code} {response.request.url.path}")


CLIENT = httpx.Client(headers={"X-Client": "catalog"}, timeout=httpx.Timeout(5.0),
                      event_hooks={"request": [on_request], "response": [on_response]})
LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2)


class Catalog(BaseHTTPRequestHandler):
    books = [{"isbn": "978-0", "title": "Dune"}, {"isbn": "978-1", "title": "Emma"}]

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/books"):
            status, payload = 200, {"books": self.books, "client": self.headers.get("X-Client")}
        else:
            status, payload = 404, {"detail": "nope"}
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def fetch_all(base):
    async with httpx.AsyncClient(base_url=base, limits=LIMITS) as client:
        responses = await asyncio.gather(*(client.get(p) for p in ["/books", "/missing", "/books?page=2"]))
        return [(r.status_code, r.url.path, r.url.query.decode()) for r in responses]


if __name__ == "__main__":
    server = HTTPServer(("127.0.0.1", 0), Catalog)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    r = CLIENT.get(base + "/books", params={"sort": "title"})
    print(r.status_code, r.json())
    r = CLIENT.get(base + "/nothing")
    print(r.status_code, r.is_error, r.json())
    try:
        r.raise_for_status()
    except httpx.HTTPStatusError as e:
        print("error:", type(e).__name__, e.response.status_code)
    print(EVENTS)
    print(asyncio.run(fetch_all(base)))
    CLIENT.close()
    server.shutdown()
