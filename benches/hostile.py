#!/usr/bin/env python3
"""The hostile phase of benches/load.sh (issue 18): for DURATION seconds, against URL,

- SLOW slowloris connections (a request head sent one header line every few seconds),
- IDLE connections that connect and say nothing (reopened when the server closes them),
- a burst of expensive requests from clients that hang up before the answer
  (siting over a région, a 10,000-feature page gzipped, the communes map layer),

while /health is asked every 50 ms on a fresh connection. Prints one line
`HOSTILE health_p50_ms=… health_p99_ms=… health_max_ms=… health_failed=… slow=… idle=…
hangups=…` (load.sh reads it). Standard library only.

    benches/hostile.py URL DURATION [SLOW [IDLE [HANGUP_CLIENTS]]]
"""

import socket
import sys
import threading
import time
import urllib.parse

URL = sys.argv[1]
DURATION = float(sys.argv[2])
SLOW = int(sys.argv[3]) if len(sys.argv) > 3 else 200
IDLE = int(sys.argv[4]) if len(sys.argv) > 4 else 200
HANGUP_CLIENTS = int(sys.argv[5]) if len(sys.argv) > 5 else 8
u = urllib.parse.urlparse(URL)
HOST, PORT = u.hostname, u.port or 80
END = time.monotonic() + DURATION
EXPENSIVE = [
    ("/siting?territory=reg:75&kind=msp&k=20&within_km=30", ""),
    ("/collections/communes/items?limit=10000", "Accept-Encoding: gzip\r\n"),
    ("/map/communes", "Accept-Encoding: br\r\n"),
    ("/territories/reg/84/coverage?kind=ehpad&within_km=20", ""),
]
counts = {"slow": 0, "idle": 0, "hangups": 0}
lock = threading.Lock()


def bump(key):
    with lock:
        counts[key] += 1


def connect(timeout=5.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def slowloris():
    while time.monotonic() < END:
        try:
            s = connect()
            bump("slow")
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            s.settimeout(2)
            while time.monotonic() < END:
                try:
                    if s.recv(1) == b"":
                        break  # closed by the server (header timeout): open another
                except socket.timeout:
                    s.sendall(b"X-Slow: 1\r\n")
            s.close()
        except OSError:
            time.sleep(0.2)  # closed by the server (header timeout): open another


def idle():
    while time.monotonic() < END:
        try:
            s = connect()
            bump("idle")
            s.settimeout(max(0.1, END - time.monotonic()))
            s.recv(1)  # returns when the server closes it (idle timeout)
        except OSError:
            time.sleep(0.2)


def hangups(i):
    n = i
    while time.monotonic() < END:
        path, extra = EXPENSIVE[n % len(EXPENSIVE)]
        n += 1
        try:
            s = connect()
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
            time.sleep(0.1 + 0.05 * (n % 8))
            s.close()
            bump("hangups")
        except OSError:
            time.sleep(0.2)


def health():
    times, failed = [], 0
    while time.monotonic() < END:
        t = time.monotonic()
        try:
            s = connect(timeout=10)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                answer += b
            s.close()
            if answer.startswith(b"HTTP/1.1 200"):
                times.append((time.monotonic() - t) * 1000)
            else:
                failed += 1
        except OSError:
            failed += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - t)))
    return times, failed


threads = [threading.Thread(target=slowloris, daemon=True) for _ in range(SLOW)]
threads += [threading.Thread(target=idle, daemon=True) for _ in range(IDLE)]
threads += [threading.Thread(target=hangups, args=(i,), daemon=True) for i in range(HANGUP_CLIENTS)]
for t in threads:
    t.start()
times, failed = health()
times.sort()


def pct(p):
    return times[min(len(times) - 1, int(p * len(times)))] if times else float("nan")


print(
    f"HOSTILE health_p50_ms={pct(0.5):.1f} health_p99_ms={pct(0.99):.1f} "
    f"health_max_ms={times[-1] if times else float('nan'):.1f} health_answers={len(times)} "
    f"health_failed={failed} slow={counts['slow']} idle={counts['idle']} hangups={counts['hangups']}"
)
