"""The HTTP service: ``POST /predict``, ``GET /health``, ``/info`` and ``/metrics`` over one model.

Built on the standard library's ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive):
nothing to install on a Raspberry Pi, a few MB of memory. The model is loaded once; the routes are
fixed, so no path a client sends is ever opened on disk. Every error a client can cause is answered
with a JSON body ``{"error": kind, "message": ...}`` and a 4xx status.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from edgewise import __version__
from edgewise.runtime.terminal import printable
from edgewise.serve import metrics as metrics_format
from edgewise.serve.batcher import BatchTimeout, MicroBatcher
from edgewise.serve.config import ServeConfig
from edgewise.serve.inputs import RequestError, pixels_from_body
from edgewise.serve.metrics import Metrics

log = logging.getLogger(__name__)

ROUTES = {"/predict": "POST", "/health": "GET", "/info": "GET", "/metrics": "GET"}
_PUBLIC_CARD_KEYS = ("schema", "schema_version", "model", "labels", "input", "preprocessing", "metrics")
_DISCARD_LIMIT = 64 * 1024 * 1024  # an oversized body up to this size is read and dropped (keeps keep-alive)


class ServeApp:
    """The service without HTTP: one :class:`~edgewise.runtime.Classifier`, its batcher and metrics."""

    def __init__(self, clf, config: ServeConfig | None = None):
        self.clf = clf
        self.config = config or ServeConfig()
        self.metrics = Metrics()
        self.started = time.time()
        self.draining = False
        self._idle = threading.Condition()
        graph_batch = clf.backend.max_batch  # None: any batch; 1: a fixed single-image graph
        self.max_batch = (
            self.config.max_batch if graph_batch is None else min(self.config.max_batch, graph_batch)
        )
        # which artifact runs and why: a bundle directory resolves as `edgewise predict` and `bench --pick`
        self.choice = clf.choice.reason if clf.choice else f"{clf.path.name}, named on the command line"
        self.note = ""
        if self.config.max_batch > 1 and self.max_batch == 1:
            self.note = f"{clf.path.name} takes one image per call (fixed batch 1): micro-batching is off"
        self.batcher = (
            MicroBatcher(
                clf.predict_proba,
                max_batch=self.max_batch,
                max_wait_s=self.config.max_wait_ms / 1000,
                on_batch=self.metrics.batch_done,
            )
            if self.max_batch > 1
            else None
        )

    # -- routes ----------------------------------------------------------------------------------------
    def predict(self, content_type: str | None, body: bytes, top: int) -> dict:
        clf = self.clf
        if self.batcher is None:
            pixels = pixels_from_body(clf, content_type, body, self.config.max_pixels)
            probs = clf.predict_proba(pixels[None])[0]
            self.metrics.batch_done(1)
        else:
            with self.batcher.arriving() as arrival:
                pixels = pixels_from_body(clf, content_type, body, self.config.max_pixels)
                try:
                    probs = arrival.submit(pixels, self.config.timeout_s)
                except BatchTimeout as e:
                    raise RequestError(503, "timeout", str(e)) from None
        k = max(1, min(top, len(probs)))
        best = np.argsort(-probs, kind="stable")[:k].tolist()
        return {
            "predictions": [
                {"label": clf.labels[i], "index": i, "score": round(float(probs[i]), 6)} for i in best
            ]
        }

    def health(self) -> dict:
        return {
            "status": "draining" if self.draining else "ok",
            "uptime_s": round(time.time() - self.started, 3),
        }

    def info(self) -> dict:
        clf, backend = self.clf, self.clf.backend
        card = clf.card.to_dict() if clf.card else {}
        return {
            "edgewise": __version__,
            "artifact": clf.path.name,  # the name only: the server's file layout is not the client's business
            "choice": self.choice,
            "engine": backend.name,
            "device": backend.device,
            "threads": backend.threads,
            "input_shape": list(clf.input_shape),
            "labels": clf.labels,
            # the card without provenance and data, which name paths on the server
            "card": {key: card[key] for key in _PUBLIC_CARD_KEYS if key in card} or None,
            "export": card.get("artifacts", {}).get(clf.path.name),
            "batching": {"max_batch": self.max_batch, "max_wait_ms": self.config.max_wait_ms},
            "limits": {
                "max_body": self.config.max_body,
                "max_pixels": self.config.max_pixels,
                "timeout_s": self.config.timeout_s,
            },
        }

    # -- draining --------------------------------------------------------------------------------------
    def enter(self) -> None:
        with self._idle:
            self.metrics.in_flight += 1

    def leave(self) -> None:
        with self._idle:
            self.metrics.in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no request is in flight (True) or ``timeout`` passes (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self.metrics.in_flight == 0, timeout)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"edgewise/{__version__}"
    sys_version = ""
    # headers and body go out in two writes; with Nagle's algorithm on, the body then waits for the
    # client's delayed ACK (~40 ms on Linux) on every keep-alive request
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.app.config.timeout_s  # a client that stalls mid-request is dropped
        super().setup()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        log.debug("%s %s", self.address_string(), format % args)

    # -- dispatch --------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        app = self.server.app
        app.enter()
        started = time.perf_counter()
        url = urlsplit(self.path)
        route = url.path if url.path in ROUTES else "other"
        error = None
        try:
            status, ctype, payload = 200, "application/json", b""
            try:
                status, ctype, payload = self._answer(app, method, route, url.query)
            except RequestError as e:
                status, error = e.status, e.kind
                payload = json.dumps({"error": e.kind, "message": str(e)}).encode()
            except (BrokenPipeError, ConnectionResetError):
                status, error = 499, "client_closed"
                self.close_connection = True
            except Exception as e:  # a bug of ours: JSON, no traceback to the client, the details in the log
                log.error("%s %s failed: %s", method, url.path, e, exc_info=log.isEnabledFor(logging.DEBUG))
                status, error = 500, "internal"
                payload = json.dumps({"error": "internal", "message": f"{type(e).__name__} while answering"})
                payload = payload.encode()
            # counted before the answer leaves, so a client that reads /metrics next sees its request
            seconds = time.perf_counter() - started if route == "/predict" else None
            app.metrics.request_done(route, status, seconds, error)
            if status != 499:
                self._send(status, ctype, payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            app.leave()

    def _answer(self, app: ServeApp, method: str, route: str, query: str) -> tuple[int, str, bytes]:
        if route == "other":
            raise RequestError(404, "not_found", f"no such route; use {', '.join(ROUTES)}")
        if method != ROUTES[route]:
            raise RequestError(405, "method_not_allowed", f"{route} takes {ROUTES[route]}, not {method}")
        if app.draining:
            self.close_connection = True
        if route == "/predict":
            top = _top(parse_qs(query).get("top"), app.config.top)
            body = self._read_body(app.config.max_body)
            doc = app.predict(self.headers.get("Content-Type"), body, top)
            return 200, "application/json", json.dumps(doc).encode()
        if route == "/metrics":
            return 200, metrics_format.CONTENT_TYPE, app.metrics.render().encode()
        if route == "/health":
            return 503 if app.draining else 200, "application/json", json.dumps(app.health()).encode()
        return 200, "application/json", json.dumps(app.info()).encode()

    # -- body ------------------------------------------------------------------------------------------
    def _read_body(self, max_body: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError(411, "length_required", "send the body with a Content-Length, not chunked")
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise RequestError(400, "bad_length", "Content-Length is not a whole number") from None
        if length > max_body:
            if length <= _DISCARD_LIMIT:
                self._discard(length)
            else:
                self.close_connection = True
            raise RequestError(413, "body_too_large", f"body of {length:,} bytes; the limit is {max_body:,}")
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise RequestError(408, "request_timeout", "the body did not arrive in time") from None
        if len(body) != length:
            self.close_connection = True
            raise RequestError(400, "short_body", f"body ended after {len(body)} of {length} bytes")
        return body

    def _discard(self, length: int) -> None:
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:
                    break
                length -= len(chunk)
        except TimeoutError:
            pass
        if length:
            self.close_connection = True

    # -- responses -------------------------------------------------------------------------------------
    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's errors (malformed request line, headers too long...) as JSON too."""
        self.close_connection = True
        self.server.app.metrics.request_done("other", code, None, "bad_request")
        doc = {"error": "bad_request", "message": message or self.responses[code][0]}
        try:
            self._send(code, "application/json", json.dumps(doc).encode())
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not keep the process alive after draining
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app: ServeApp):
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        """A connection that broke outside a request (a client resetting an idle keep-alive connection,
        as load tools do when they stop): one debug line, not socketserver's traceback on stderr."""
        error = sys.exc_info()[1]
        level = logging.DEBUG if isinstance(error, (ConnectionError, TimeoutError)) else logging.WARNING
        log.log(level, "connection from %s: %s: %s", client_address[0], type(error).__name__, error)


def _top(values: list[str] | None, default: int) -> int:
    if not values:
        return default
    try:
        top = int(values[0])
        if top < 1:
            raise ValueError
        return top
    except ValueError:
        raise RequestError(400, "bad_query", f"top must be a whole number >= 1, got {values[0]!r}") from None


def make_server(app: ServeApp, host: str | None = None, port: int | None = None) -> _Server:
    """A bound (not yet serving) HTTP server for ``app``; port 0 picks a free one."""
    config = app.config
    return _Server((config.host if host is None else host, config.port if port is None else port), app)


def serve(clf, config: ServeConfig, *, out=sys.stderr) -> int:
    """Serve until SIGTERM or SIGINT, then finish the in-flight requests and return 0."""
    app = ServeApp(clf, config)
    try:
        httpd = make_server(app)
    except OSError as e:
        app.close()
        from edgewise.runtime.errors import InputError

        raise InputError(f"cannot listen on {config.host}:{config.port} ({e.strerror or e})") from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="edgewise-http")
    thread.start()
    host, port = httpd.server_address[:2]
    batching = (
        f"batches of up to {app.max_batch}, {config.max_wait_ms:g} ms wait" if app.batcher else "no batching"
    )
    print(f"edgewise serve: using {printable(app.choice)}", file=out, flush=True)
    print(
        f"edgewise serve: {Path(clf.path).name} ({clf.backend.name}, {batching}) on http://{host}:{port}",
        file=out,
        flush=True,
    )
    if app.note:
        print(f"edgewise serve: note: {app.note}", file=out, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        app.draining = True
        httpd.shutdown()  # no new connections from here on
        httpd.server_close()
        thread.join()
        in_flight = app.metrics.in_flight
        drained = app.wait_idle(config.drain_s)
        app.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not drained:
        print(f"edgewise serve: stopped with requests still running after {config.drain_s:g} s", file=out)
        return 1
    print(f"edgewise serve: stopped ({in_flight} in-flight requests finished)", file=out, flush=True)
    return 0
