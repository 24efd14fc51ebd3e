"""Load on the web dashboard: 50 concurrent clients browsing patients for 30 s on loopback.

The demo store (2 digital patients, ``imagebio.pipeline.demo.run_demo``) is served by ``imagebio serve`` in a
subprocess on 127.0.0.1; 50 threads, each with its own ``httpx`` client and login, browse: cohort page, subject
list, a patient page, its response, the viewer page, series geometry and slice tiles (with fused PET and
contours). Every request must succeed (HTTP 200); the row's ``ours_s`` is the p95 latency in seconds.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

N_CLIENTS = 50
DURATION_S = 30.0
PASSWORD = "bench password 1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _login(base: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=60.0)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
    if r.status_code != 303:
        raise RuntimeError(f"bench login failed: {r.status_code}")
    return client


def _browse(client, subjects, series, stop_at, latencies, errors, seed):
    rng = random.Random(seed)
    while time.perf_counter() < stop_at:
        subject = rng.choice(subjects)
        ct, n_slices = rng.choice(series[subject])
        urls = ["/", "/api/subjects", f"/patients/{subject}", f"/api/subjects/{subject}/response",
                f"/patients/{subject}/viewer", f"/api/series/{ct}/geometry"]
        for _ in range(4):
            z = rng.randrange(n_slices)
            overlay = rng.choice(["none", "pet", "none"])
            urls.append(f"/api/series/{ct}/slice?z={z}&window=soft_tissue&overlay={overlay}")
        for url in urls:
            if time.perf_counter() >= stop_at:
                return
            start = time.perf_counter()
            try:
                r = client.get(url)
                ok = r.status_code == 200
            except Exception as exc:  # noqa: BLE001 - counted as an error of the run
                ok, r = False, exc
            latencies.append(time.perf_counter() - start)
            if not ok:
                errors.append(f"{url}: {getattr(r, 'status_code', r)}")


def run() -> list[dict]:
    import numpy as np

    from imagebio.pipeline.demo import run_demo
    from imagebio.store import open_store
    from imagebio.web.security import add_user

    work = Path(tempfile.mkdtemp(prefix="bench_web_"))
    run_demo(work, n_patients=2)
    store = open_store(work / "imagebio.db")
    with store.session() as session:
        add_user(session, "bench", PASSWORD, "viewer", ["*"])
    store.close()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IMAGEBIO_WEB_SECRET": "bench-" + "k" * 40}
    server = subprocess.Popen(
        [sys.executable, "-m", "imagebio.cli.main", "serve", "--db", str(work / "imagebio.db"), "--host",
         "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        import httpx

        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError("imagebio serve did not start: " + (server.stderr.read() if server.poll() else ""))
            time.sleep(0.2)
        clients = [_login(base) for _ in range(N_CLIENTS)]  # logins are not part of the browsing load
        subjects = [s["id"] for s in clients[0].get("/api/subjects").json()["items"]]
        series = {}
        for subject in subjects:
            cts = clients[0].get("/api/series", params={"subject_id": subject, "modality": "CT"}).json()["items"]
            series[subject] = [(s["id"], clients[0].get(f"/api/series/{s['id']}/geometry").json()["n_slices"])
                               for s in cts]
        latencies: list[float] = []
        errors: list[str] = []
        stop_at = time.perf_counter() + DURATION_S
        threads = [threading.Thread(target=_browse, args=(c, subjects, series, stop_at, latencies, errors, i))
                   for i, c in enumerate(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        for c in clients:
            c.close()
        peak = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    lat = np.array(latencies)
    p50, p95, p99 = (float(np.percentile(lat, q)) for q in (50, 95, 99))
    print(f"web: {N_CLIENTS} clients, {elapsed:.1f} s, {len(lat)} requests ({len(lat) / elapsed:.1f}/s), "
          f"{len(errors)} errors; latency p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests under load, e.g. {errors[:3]}")
    return [{
        "name": f"web p95 latency ({N_CLIENTS} clients x {DURATION_S:.0f} s, {len(lat)} requests, 0 errors)",
        "ours_s": p95, "peer": None, "peer_s": None, "ratio": None, "peak_mem_mb": peak,
    }]


if __name__ == "__main__":
    for row in run():
        print(row)
