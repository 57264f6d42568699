"""Publishing goes live without restart: a second source (another worker) serves the new
version within 1 s, never a half-loaded library, and past dates still answer as before."""

import datetime as dt
import os
import subprocess
import sys
import threading
import time

from huiqi.library import DbLibrarySource
from huiqi.profile import parse_profile
from huiqi.rules.source import LibrarySource

PID = "cn.cit.small-low-profit"
OLD_TITLE, NEW_TITLE = "小型微利企业所得税优惠", "小型微利企业所得税优惠（修订）"
PROFILE = parse_profile({"employees": 50, "total_assets": 1000000, "taxable_income": 100000})


def _change(text_of):
    return text_of().replace(f"title: {OLD_TITLE}", f"title: {NEW_TITLE}")


def test_second_worker_serves_a_publication_within_one_second(lc, text_of, propose):
    worker = DbLibrarySource(lc.engine.url.render_as_string(hide_password=False), clock=lc.clock)
    source: LibrarySource = worker  # the protocol the web app uses
    assert source.current().by_id[PID].definition.title == OLD_TITLE
    past = worker.library_for(dt.date(2024, 6, 30))
    seen: list[tuple[float, str]] = []
    stop = threading.Event()

    def serve():  # a request loop in the other worker
        while not stop.is_set():
            library = source.current()
            policy = library.by_id[PID]
            seen.append((time.monotonic(), policy.definition.title))
            # never half-loaded: every library served evaluates the policy
            _, evaluations = library.evaluate(PROFILE, lc.clock.today(), [PID])
            assert [e.policy.id for e in evaluations] == [PID]
            time.sleep(0.005)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        v = propose(lc, _change(text_of))
        lc.publish(v.id, actor="bob")
        published = time.monotonic()
        deadline = published + 3
        while time.monotonic() < deadline and not any(t == NEW_TITLE for _, t in seen[-1:]):
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    first_new = next(ts for ts, title in seen if title == NEW_TITLE)
    latency = first_new - published
    assert latency < 1.0, f"visible after {latency:.3f} s"
    titles = [t for _, t in seen]
    assert set(titles) == {OLD_TITLE, NEW_TITLE}
    assert titles[titles.index(NEW_TITLE) :] == [NEW_TITLE] * (len(titles) - titles.index(NEW_TITLE))
    # a past date still answers with what was in force then (the new version starts today)
    assert worker.library_for(dt.date(2024, 6, 30)) is past
    assert past.by_id[PID].definition.title == OLD_TITLE
    assert worker.library_for(lc.clock.today()).by_id[PID].definition.title == NEW_TITLE
    worker.engine.dispose()


def test_current_polls_the_counter_at_most_every_interval(lc, text_of, propose):
    worker = DbLibrarySource(lc.engine, poll_interval=60, clock=lc.clock)
    first = worker.current()
    v = propose(lc, _change(text_of))
    lc.publish(v.id, actor="bob")
    assert worker.current() is first  # not re-checked within the interval
    worker.poll_interval = 0
    assert worker.current().by_id[PID].definition.title == NEW_TITLE


def test_a_future_version_goes_live_when_its_date_comes(lc, text_of, propose):
    worker = DbLibrarySource(lc.engine, poll_interval=0, clock=lc.clock)
    v = propose(lc, _change(text_of))
    lc.publish(v.id, actor="bob", effective=lc.clock.today() + dt.timedelta(days=1))
    assert worker.current().by_id[PID].definition.title == OLD_TITLE
    lc.clock.advance(days=1)
    assert worker.current().by_id[PID].definition.title == NEW_TITLE


WORKER = """
import sys, time
from huiqi.library import DbLibrarySource
from huiqi.profile import parse_profile
src = DbLibrarySource(sys.argv[1])
src.current()
print("ready", flush=True)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    if src.current().by_id["cn.cit.small-low-profit"].definition.title.endswith("（修订）"):
        print(f"seen {time.monotonic()!r}", flush=True)
        break
    time.sleep(0.01)
"""


def test_another_process_sees_the_publication_within_one_second(lc, text_of, propose):
    url = lc.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "HUIQI_NOW": lc.clock.now().isoformat()}  # the worker's clock is the test's
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, url], stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        v = propose(lc, _change(text_of))
        lc.publish(v.id, actor="bob")
        published = time.monotonic()
        line = proc.stdout.readline().strip()
        assert line.startswith("seen "), line
        latency = float(line.split()[1]) - published
        assert latency < 1.0, f"visible in the other process after {latency:.3f} s"
    finally:
        proc.kill()
        proc.wait()
