"""A requests Session set up once (retries, default headers, auth, a response hook) that talks
to a small JSON server the program starts on 127.0.0.1. Needs: requests."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

CALLS = []


def log_response(response, *args, **kwargs):
    CALLS.append((response.request.method, response.status_code))


def make_session():
    session = requests.Session()
    retry = Retry(total=2, backoff_factor=0, status_forcelist=[503], allowed_methods=["GET"])
    adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=4)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": "inventory-client/1.0", "Accept": "application/json"})
    session.auth = ("svc", "example")
    session.hooks["response"].append(log_response)
    return session


SESSION = make_session()


class Handler(BaseHTTPRequestHandler):
    inventory = {"bolts": 120, "nuts": 75}
    flaky = {"count": 0}

    def log_message(self, *args):
        pass

    def send_json(self, status, payload):
        body = json.dumps(payload, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/flaky":
            self.flaky["count"] += 1
            if self.flaky["count"] < 2:
                return self.send_json(503, {"error": "try again"})
            return self.send_json(200, {"attempts": self.flaky["count"]})
        if self.path == "/whoami":
            return self.send_json(200, {"agent": self.headers["User-Agent"],
                                        "auth": self.headers["Authorization"]})
        name = self.path.strip("/")
        if name in self.inventory:
            return self.send_json(200, {"item": name, "count": self.inventory[name]})
        self.send_json(404, {"error": f"unknown item {name}"})

    def do_POST(self):
        data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.inventory[data["item"]] = self.inventory.get(data["item"], 0) + data["count"]
        self.send_json(201, {"item": data["item"], "count": self.inventory[data["item"]]})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for path in ["/bolts", "/washers", "/whoami", "/flaky"]:
            r = SESSION.get(base + path, timeout=5)
            print(r.status_code, r.json())
        r = SESSION.post(base + "/washers", json={"item": "washers", "count": 10}, timeout=5)
        print(r.status_code, r.json(), r.headers["Content-Type"])
        print(SESSION.get(base + "/washers", timeout=5).json())
        print(CALLS)
    finally:
        server.shutdown()
        server.server_close()
