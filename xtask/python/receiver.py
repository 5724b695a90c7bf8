"""A webhook receiver for `cargo xtask reliability --events` that fails on purpose.

Each delivery is checked on arrival with the official Standard Webhooks library (its verifier
also refuses timestamps more than five minutes off, so checking later would not do). Then, at
random, one in ten is answered 500 and one in ten is held past ordo's timeout before a 200
that nobody waits for; the rest get 204. Every request is one JSON line in the log:
{"id", "event", "outcome": "ok" | "failed" | "timed_out", "verified", "error"}.

Usage: receiver.py PORT SECRET LOG HOLD_MILLISECONDS
"""

import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PORT, SECRET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
HOLD = int(sys.argv[4]) / 1000
VERIFIER = Webhook(SECRET)
LOCK = threading.Lock()
OUT = open(LOG, "a", buffering=1, encoding="utf-8")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        verified, error, event = False, None, None
        try:
            payload = VERIFIER.verify(body, headers)
            verified = True
            event = payload.get("data", {}).get("id")
        except WebhookVerificationError as failure:
            error = str(failure)
        except Exception as failure:  # a body that is no JSON, say
            error = repr(failure)
        roll = random.random()
        outcome = "failed" if roll < 0.10 else "timed_out" if roll < 0.20 else "ok"
        # Written before answering: an "ok" line means the answer was about to go.
        with LOCK:
            OUT.write(json.dumps({
                "id": headers.get("webhook-id"),
                "event": event,
                "outcome": outcome,
                "verified": verified,
                "error": error,
            }) + "\n")
        if outcome == "timed_out":
            time.sleep(HOLD)
        status = 500 if outcome == "failed" else 204
        try:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    # Up to three replicas send 64 deliveries each at once: the default backlog of 5 would
    # refuse connections, failures the run did not choose.
    request_queue_size = 1024


server = Server(("127.0.0.1", PORT), Handler)
server.daemon_threads = True
print("listening", flush=True)
server.serve_forever()
