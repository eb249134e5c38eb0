"""A bounded HTTP load generator, run as its own process: ``python -m bench.loadgen`` (JSON on stdout).

Threads with one connection each send GETs until either the request budget or the
time budget is spent, whichever comes first; it always stops by itself. Tokens are
used round-robin so the requests are spread over many callers.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import threading
import time


def run(*, host: str, port: int, path: str, tokens: list[str], concurrency: int, max_requests: int,
        max_seconds: float, warmup: int) -> dict:  # fmt: skip
    counter = itertools.count()
    token_cycle = itertools.cycle(tokens)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    deadline = 0.0

    def one(conn_holder: list) -> float | None:
        with lock:
            token = next(token_cycle)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        t0 = time.perf_counter()
        try:
            if conn_holder[0] is None:
                conn_holder[0] = http.client.HTTPConnection(host, port, timeout=30)
            conn = conn_holder[0]
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn_holder[0] = None
        except (OSError, http.client.HTTPException) as error:
            conn_holder[0] = None
            with lock:
                errors.append(type(error).__name__)
            return None
        elapsed = (time.perf_counter() - t0) * 1000
        with lock:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        return elapsed

    def worker() -> None:
        holder: list = [None]
        while time.perf_counter() < deadline:
            if next(counter) >= max_requests:
                break
            ms = one(holder)
            if ms is not None:
                with lock:
                    latencies.append(ms)

    warm_holder: list = [None]
    for _ in range(warmup):
        one(warm_holder)
    statuses.clear()
    started = time.perf_counter()
    deadline = started + max_seconds
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max_seconds + 35)
    elapsed = time.perf_counter() - started
    return {"latencies_ms": latencies, "statuses": statuses, "errors": len(errors), "seconds": elapsed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--tokens-file", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    with open(args.tokens_file) as fh:
        tokens = [line.strip() for line in fh if line.strip()]
    result = run(host=args.host, port=args.port, path=args.path, tokens=tokens, concurrency=args.concurrency,
                 max_requests=args.max_requests, max_seconds=args.max_seconds, warmup=args.warmup)  # fmt: skip
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
