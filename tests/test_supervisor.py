"""The supervisor, the one back-off policy and the side-effect dispatch: a part that fails is
started again and shown in health, one that cannot be kept running stops the process, and a
side effect that fails is retried in order without the engine ever waiting for it."""

from __future__ import annotations

import asyncio
import time

import pytest

from playout.hooks import Hook, HookDispatch
from station.backoff import Attempts, Backoff
from station.supervisor import GaveUp, Health, Supervisor
from tests.support import run

QUICK = Backoff(base_s=0.05, max_s=0.2, stable_s=0.5)


def test_the_back_off_waits_at_once_then_double_up_to_the_ceiling() -> None:
    policy = Backoff(base_s=0.5, max_s=8.0)
    assert [policy.delay(n) for n in range(1, 9)] == [0.0, 0.5, 1, 2, 4, 8, 8, 8]
    now = [100.0]
    a = Attempts(policy, now=lambda: now[0])
    a.started()
    assert [a.failed(), a.failed(), a.failed()] == [0.0, 0.5, 1.0]
    now[0] += 20  # a run longer than stable_s: a new trouble, at once again
    a.started()
    now[0] += 11
    assert a.failed() == 0.0
    assert a.total == 4


def test_a_part_that_fails_is_started_again_and_health_says_why_until_it_runs_well() -> None:
    health = Health()
    sup = Supervisor(health, QUICK, give_up_s=30)
    starts: list[float] = []
    seen: list[str] = []

    async def flaky(stop: asyncio.Event) -> None:
        starts.append(time.monotonic())
        if len(starts) <= 3:
            raise OSError("the disk said no")
        await stop.wait()

    async def main() -> None:
        stop = asyncio.Event()
        sup.spawn("fm/engine", flaky, channel="fm")
        task = asyncio.create_task(sup.run(stop))
        while len(starts) < 4:
            await asyncio.sleep(0.01)
        seen.append(health.status)
        seen.append(health.channel_status("fm")["degraded"]["fm/engine"])
        await asyncio.sleep(QUICK.stable_s + 0.2)
        seen.append(health.status)
        stop.set()
        await task

    run(main())
    assert len(starts) == 4
    assert seen == ["degraded", "OSError: the disk said no", "ok"]
    assert health.parts["fm/engine"].failures == 3


def test_an_essential_part_that_keeps_failing_stops_the_process_with_gave_up() -> None:
    health = Health()
    sup = Supervisor(health, QUICK, give_up_s=1.0)
    other_stopped = asyncio.Event()

    async def broken(stop: asyncio.Event) -> None:
        raise RuntimeError("state unreadable")

    async def fine(stop: asyncio.Event) -> None:
        await stop.wait()
        other_stopped.set()

    async def main() -> None:
        sup.spawn("tv/sequencer", broken, channel="tv")
        sup.spawn("fm/engine", fine, channel="fm")
        await sup.run(asyncio.Event())

    started = time.monotonic()
    with pytest.raises(GaveUp, match="tv/sequencer"):
        run(asyncio.wait_for(main(), 10))
    assert 1.0 <= time.monotonic() - started < 5
    assert other_stopped.is_set()  # the other parts were stopped in order, not abandoned
    assert health.status == "failed"


def test_a_part_that_ends_by_itself_while_on_air_is_started_again() -> None:
    sup = Supervisor(Health(), QUICK, give_up_s=30)
    runs = []

    async def quits(stop: asyncio.Event) -> None:
        runs.append(1)
        if len(runs) > 2:
            await stop.wait()

    async def main() -> None:
        stop = asyncio.Event()
        sup.spawn("worker", quits, essential=False)
        task = asyncio.create_task(sup.run(stop))
        while len(runs) < 3:
            await asyncio.sleep(0.01)
        stop.set()
        await task

    run(asyncio.wait_for(main(), 10))
    assert sup.health.parts["worker"].failures == 2


def test_a_failing_side_effect_is_retried_in_order_and_the_engine_never_waits() -> None:
    health = Health()
    written: list[int] = []
    titles: list[int] = []
    broken = [True]

    async def asrun(n: int) -> None:
        if broken[0]:
            raise ConnectionError("database away")
        written.append(n)

    def title(n: int) -> None:
        titles.append(n)

    dispatch: HookDispatch[int] = HookDispatch(
        "fm",
        [Hook("as-run", asrun), Hook("titles", title, latest_only=True)],
        health,
        policy=Backoff(base_s=0.05, max_s=0.1),
    )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(dispatch.run(stop))
        for n in range(5):
            started = time.monotonic()
            dispatch(n)  # the engine's side: returns at once, whatever the hook does
            assert time.monotonic() - started < 0.01
            await asyncio.sleep(0.05)
        assert written == [] and health.status == "degraded"
        assert dispatch.pending("as-run") == 5
        broken[0] = False
        while len(written) < 5:
            await asyncio.sleep(0.02)
        stop.set()
        await task

    run(asyncio.wait_for(main(), 10))
    assert written == [0, 1, 2, 3, 4]  # every boundary, in order, once it could be
    assert titles[-1] == 4
    assert dispatch.failures("as-run") >= 2
    assert health.status == "ok"


def test_a_trouble_dealt_with_at_once_is_shown_for_a_while_then_forgotten() -> None:
    health = Health()
    health.degraded(
        "fm/encoder", "encoder stopped (killed by signal 9); restarted", "fm", hold_s=0.2
    )
    assert health.channel_status("fm")["status"] == "degraded"
    time.sleep(0.25)
    assert health.channel_status("fm") == {"status": "ok", "degraded": {}}
